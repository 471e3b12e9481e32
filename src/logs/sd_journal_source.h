#pragma once
/// The journal port over libsystemd's sd-journal (local, system journal only).
/// Thread: `SdJournalSource::open` from any thread; each reader on one thread at a time.
#include "logs/journal.h"

namespace siax::logs {

class SdJournalSource final : public JournalSource {
 public:
  [[nodiscard]] Result<std::unique_ptr<JournalReader>> open(const Selector& selector) override;
};

/// The agent's own records: its unit's (`_SYSTEMD_UNIT=<unit of this process>`) when it
/// runs as a service, else those of its PID (`_PID=`).
[[nodiscard]] Selector agent_selector();

}  // namespace siax::logs
