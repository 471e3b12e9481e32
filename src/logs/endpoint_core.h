#pragma once
/// The live-logs endpoint's shared state and its parts, for the endpoint's own files
/// only (not a public header): `LogEndpoint::Core` is held by the endpoint and by every
/// live session and download; the WebSocket viewer is in endpoint_session.cpp, the
/// download in endpoint_download.cpp, the routes and their checks in endpoint.cpp.
/// Threading: as LogEndpoint (endpoint.h): the io thread, except `active_downloads`,
/// which a download's worker decrements when it ends.
#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/io_context.hpp>

#include "http/server.h"
#include "logs/endpoint.h"

namespace siax::logs {

struct LogEndpoint::Core {
  Core(boost::asio::io_context& io, JournalSource& journal, Selector agent, LogEndpointDeps endpoint_deps,
       LogEndpointOptions o)
      : ioc(io),
        source(journal),
        agent_selector(std::move(agent)),
        deps(std::move(endpoint_deps)),
        options(o),
        hub(io.get_executor(), journal, o.hub) {}

  boost::asio::io_context& ioc;
  JournalSource& source;
  Selector agent_selector;
  LogEndpointDeps deps;
  LogEndpointOptions options;
  LogHub hub;
  bool stopped = false;
  LogEndpointStats counters;
  /// Downloads streaming now; decremented by the worker thread when one ends.
  std::atomic<std::size_t> active_downloads{0};

  bool run_blocking(std::function<void()> task) {
    if (!deps.run_blocking) {
      task();
      return true;
    }
    return deps.run_blocking(std::move(task));
  }

  Selector selector_for(const http::Request& req) const {
    if (const auto* name = req.param("app_name")) return app_selector(*name);
    if (const auto* name = req.param("name")) return app_selector(*name);
    return agent_selector;
  }
};

/// Takes over an upgraded connection as a live viewer (WS /logs, /logs/:app_name).
void start_session(const std::shared_ptr<LogEndpoint::Core>& core, http::WebSocketUpgrade up);

/// Answers GET /api/apps/:name/logs and /api/agent/logs: checks the query and the
/// concurrency bound on the io thread, then streams the download on a worker.
void serve_download(const std::shared_ptr<LogEndpoint::Core>& core, const http::Request& req,
                    const http::Responder& res);

}  // namespace siax::logs
