#pragma once
/// The siax-agent command line: parses it and the configuration, runs one subcommand.
///   serve                      run the agent (serve.cpp -> app::Agent)
///   apps ..., audit            a client of the running agent's API (apps_commands.h)
///   token ..., user ...        credentials, directly in the registry (credentials_commands.h)
///   unit ..., permissions      the systemd layer directly, without a server (unit_commands.h)
///   unit-helper                the root unit helper for user mode (unit_helper.h)
///   version, config            the version; the configuration's defaults as TOML
namespace siax::cli {

/// The process's exit code (README, "Exit codes").
[[nodiscard]] int run(int argc, char** argv);

}  // namespace siax::cli
