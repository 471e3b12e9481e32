// spdlog's compiled part, built once into our static siax_spdlog from libspdlog-dev's
// -inl.h files (SPDLOG_COMPILED_LIB, fmt external = our siax_fmt). Only what the agent
// uses: the registry, logger, pattern formatter and the default logger's colour console
// sink (stdout). No file, rotating, async or syslog sinks.
#ifndef SPDLOG_COMPILED_LIB
#error siax_spdlog is built with SPDLOG_COMPILED_LIB (see third_party/CMakeLists.txt)
#endif

#include <mutex>

#include <spdlog/common-inl.h>
#include <spdlog/details/backtracer-inl.h>
#include <spdlog/details/log_msg-inl.h>
#include <spdlog/details/log_msg_buffer-inl.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/details/os-inl.h>
#include <spdlog/details/periodic_worker-inl.h>
#include <spdlog/details/registry-inl.h>
#include <spdlog/logger-inl.h>
#include <spdlog/pattern_formatter-inl.h>
#include <spdlog/sinks/ansicolor_sink-inl.h>
#include <spdlog/sinks/base_sink-inl.h>
#include <spdlog/sinks/sink-inl.h>
#include <spdlog/spdlog-inl.h>

template class SPDLOG_API spdlog::sinks::base_sink<std::mutex>;
template class SPDLOG_API spdlog::sinks::base_sink<spdlog::details::null_mutex>;

// The default logger (registry's constructor) writes through ansicolor_stdout_sink_mt.
template class SPDLOG_API spdlog::sinks::ansicolor_sink<spdlog::details::console_mutex>;
template class SPDLOG_API spdlog::sinks::ansicolor_stdout_sink<spdlog::details::console_mutex>;
