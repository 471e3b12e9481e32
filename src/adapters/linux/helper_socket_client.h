#pragma once
/// UnitHelper over the root helper's Unix socket (default /run/siax-agent/helper.sock,
/// socket-activated by siax-agent-helper.socket). One connection per call: the request,
/// shutdown of the sending side, the reply until the helper closes. Every call is bounded
/// by a deadline (connect, send, wait for the reply). Thread: any (no shared state).
#include <chrono>
#include <string>

#include "ports/unit_helper.h"

namespace siax::adapters {

class HelperSocketClient final : public ports::UnitHelper {
 public:
  /// `timeout`: the whole call (the helper may stop an app on remove: give it the job timeout
  /// and some).
  HelperSocketClient(std::string socket_path, std::chrono::milliseconds timeout);

  [[nodiscard]] Result<ports::HelperInstalled> install(const core::AppDefinition& def) override;
  [[nodiscard]] Status remove(const std::string& app) override;
  [[nodiscard]] Status enable(const std::string& app) override;
  [[nodiscard]] Status disable(const std::string& app) override;
  [[nodiscard]] Status ping() override;
  [[nodiscard]] std::string where() const override { return path_; }

 private:
  std::string path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace siax::adapters
