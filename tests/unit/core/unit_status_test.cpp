// Tests for core/unit_status.h: the (load, active, sub) → phase mapping and the
// one-line failure summary.
#include "core/unit_status.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

namespace siax::core {
namespace {

struct PhaseCase {
  const char* load;
  const char* active;
  const char* sub;
  UnitPhase expected;
};

// The triples systemd reports for services (and the odd ones the agent may meet):
// see systemd.unit(5) and `systemctl --state=help`.
const PhaseCase kPhaseCases[] = {
    // Running or done.
    {"loaded", "active", "running", UnitPhase::Active},
    {"loaded", "active", "exited", UnitPhase::Active},  // oneshot with RemainAfterExit
    {"loaded", "active", "listening", UnitPhase::Active},
    {"loaded", "active", "waiting", UnitPhase::Active},  // timers
    // Stopped.
    {"loaded", "inactive", "dead", UnitPhase::Inactive},
    {"masked", "inactive", "dead", UnitPhase::Inactive},
    {"bad-setting", "inactive", "dead", UnitPhase::Inactive},
    {"error", "inactive", "dead", UnitPhase::Inactive},
    // Failed, whatever the sub state says.
    {"loaded", "failed", "failed", UnitPhase::Failed},
    {"loaded", "failed", "dead", UnitPhase::Failed},
    {"masked", "failed", "failed", UnitPhase::Failed},
    // Starting: every activating sub state except auto-restart.
    {"loaded", "activating", "start", UnitPhase::Activating},
    {"loaded", "activating", "start-pre", UnitPhase::Activating},
    {"loaded", "activating", "start-post", UnitPhase::Activating},
    {"loaded", "activating", "condition", UnitPhase::Activating},
    {"loaded", "activating", "", UnitPhase::Activating},
    // Waiting RestartSec before the next try.
    {"loaded", "activating", "auto-restart", UnitPhase::AutoRestart},
    // Stopping.
    {"loaded", "deactivating", "stop", UnitPhase::Deactivating},
    {"loaded", "deactivating", "stop-sigterm", UnitPhase::Deactivating},
    {"loaded", "deactivating", "stop-sigkill", UnitPhase::Deactivating},
    {"loaded", "deactivating", "stop-post", UnitPhase::Deactivating},
    {"loaded", "deactivating", "final-sigterm", UnitPhase::Deactivating},
    // Reloading.
    {"loaded", "reloading", "reload", UnitPhase::Reloading},
    // No such unit; or one deleted after it failed, which is still loaded as failed.
    {"not-found", "inactive", "dead", UnitPhase::NotFound},
    {"not-found", "failed", "failed", UnitPhase::Failed},
    // What a newer systemd may add, or nothing at all.
    {"loaded", "maintenance", "cleaning", UnitPhase::Unknown},
    {"loaded", "refreshing", "", UnitPhase::Unknown},
    {"loaded", "", "", UnitPhase::Unknown},
    {"", "", "", UnitPhase::Unknown},
    {"loaded", "ACTIVE", "running", UnitPhase::Unknown},
};

TEST(MapPhase, EveryCombinationThatMatters) {
  for (const auto& c : kPhaseCases) {
    EXPECT_EQ(map_phase(c.load, c.active, c.sub), c.expected)
        << "(" << c.load << ", " << c.active << ", " << c.sub << ") gave " << to_string(map_phase(c.load, c.active, c.sub))
        << ", expected " << to_string(c.expected);
  }
}

TEST(MapPhase, PhaseOfAStatusUsesItsTriple) {
  UnitStatus st;
  st.load_state = "loaded";
  st.active_state = "activating";
  st.sub_state = "auto-restart";
  EXPECT_EQ(st.phase(), UnitPhase::AutoRestart);
  st.sub_state = "start";
  EXPECT_EQ(st.phase(), UnitPhase::Activating);
  EXPECT_EQ(UnitStatus{}.phase(), UnitPhase::Unknown);
}

TEST(ToString, PhasesAndExitCodes) {
  EXPECT_STREQ(to_string(UnitPhase::Active), "active");
  EXPECT_STREQ(to_string(UnitPhase::Inactive), "inactive");
  EXPECT_STREQ(to_string(UnitPhase::Failed), "failed");
  EXPECT_STREQ(to_string(UnitPhase::Activating), "activating");
  EXPECT_STREQ(to_string(UnitPhase::AutoRestart), "auto-restart");
  EXPECT_STREQ(to_string(UnitPhase::Deactivating), "deactivating");
  EXPECT_STREQ(to_string(UnitPhase::Reloading), "reloading");
  EXPECT_STREQ(to_string(UnitPhase::NotFound), "not-found");
  EXPECT_STREQ(to_string(UnitPhase::Unknown), "unknown");
  EXPECT_STREQ(to_string(ExitCode::None), "none");
  EXPECT_STREQ(to_string(ExitCode::Exited), "exited");
  EXPECT_STREQ(to_string(ExitCode::Killed), "killed");
  EXPECT_STREQ(to_string(ExitCode::Dumped), "dumped");
}

UnitStatus ended(ExitCode code, int status, std::string result) {
  UnitStatus st;
  st.load_state = "loaded";
  st.active_state = "failed";
  st.sub_state = "failed";
  st.exec_main_code = code;
  st.exec_main_status = status;
  st.result = std::move(result);
  return st;
}

TEST(FailureSummary, HowTheMainProcessEnded) {
  EXPECT_EQ(ended(ExitCode::Exited, 1, "exit-code").failure_summary(), "exited with status 1 (exit-code)");
  EXPECT_EQ(ended(ExitCode::Exited, 203, "exit-code").failure_summary(), "exited with status 203 (exit-code)");
  EXPECT_EQ(ended(ExitCode::Killed, 9, "signal").failure_summary(), "killed by signal 9 (signal)");
  EXPECT_EQ(ended(ExitCode::Dumped, 11, "core-dump").failure_summary(), "dumped core on signal 11 (core-dump)");
  EXPECT_EQ(ended(ExitCode::None, 0, "").failure_summary(), "never ran");
}

TEST(FailureSummary, SuccessOrNoResultAddsNothing) {
  EXPECT_EQ(ended(ExitCode::Exited, 0, "success").failure_summary(), "exited with status 0");
  EXPECT_EQ(ended(ExitCode::Exited, 0, "").failure_summary(), "exited with status 0");
  EXPECT_EQ(ended(ExitCode::Killed, 15, "success").failure_summary(), "killed by signal 15");
}

TEST(FailureSummary, ResultsWithTheirOwnWording) {
  EXPECT_EQ(ended(ExitCode::Killed, 9, "oom-kill").failure_summary(),
            "killed by the out-of-memory killer (killed by signal 9)");
  EXPECT_EQ(ended(ExitCode::Killed, 9, "timeout").failure_summary(), "timed out (killed by signal 9)");
  EXPECT_EQ(ended(ExitCode::None, 0, "timeout").failure_summary(), "timed out (never ran)");
  EXPECT_EQ(ended(ExitCode::Exited, 1, "start-limit-hit").failure_summary(),
            "restarted too often: systemd's start limit was hit");
  EXPECT_EQ(ended(ExitCode::None, 0, "start-limit-hit").failure_summary(),
            "restarted too often: systemd's start limit was hit");
}

TEST(FailureSummary, OtherResultsAreNamed) {
  EXPECT_EQ(ended(ExitCode::Exited, 1, "watchdog").failure_summary(), "exited with status 1 (watchdog)");
  EXPECT_EQ(ended(ExitCode::None, 0, "resources").failure_summary(), "never ran (resources)");
}

}  // namespace
}  // namespace siax::core
