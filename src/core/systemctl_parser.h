#pragma once
/// Parsers for the text systemctl prints, turning it into the agent's UnitStatus.
///
/// The real adapter reads systemd's D-Bus properties; these parsers are the seed's
/// fallback and the reference for what the text looks like (fixtures captured from
/// systemd 252 live in tests/fixtures/systemctl). Pure functions: no I/O, no locale,
/// no time zone database. They never throw on bad input and never read out of
/// bounds; anything they cannot make sense of is an InvalidInput error.
///
/// Timestamps: systemctl prints them in the caller's time zone. Only UTC/GMT, numeric
/// offsets (+0100, -05:00) and the `@seconds` form of `--timestamp=unix` can be turned
/// into an instant without a zone database; any other zone name (CET, EST, ...) leaves
/// `state_change_usec` at 0. Run systemctl with `--timestamp=us+utc` (or TZ=UTC) to get
/// exact values with microseconds.
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "core/unit_status.h"

namespace siax::core {

/// Parses `systemctl show <unit>` (key=value lines).
///
/// Reads Id, Description, LoadState, ActiveState, SubState, Result, UnitFileState,
/// ControlGroup, MainPID, ExecMainCode (1 exited, 2 killed, 3 dumped; 0 none),
/// ExecMainStatus, NRestarts, MemoryCurrent and CPUUsageNSec (`[not set]`, `infinity`
/// or 2^64-1 mean absent), and the timestamp of the current active state the way
/// `systemctl status` picks it for its "since": ActiveEnterTimestamp when active or
/// reloading, InactiveEnterTimestamp when inactive or failed, InactiveExitTimestamp
/// when activating, ActiveExitTimestamp when deactivating; StateChangeTimestamp when
/// that one is missing. Unknown keys and lines without '=' are ignored. Output for
/// several units (blocks separated by a blank line): only the first block is read.
///
/// Errors (ErrorKind::InvalidInput): no LoadState or ActiveState
/// ("systemctl_show_missing_property"), a state that is not a lowercase word or a
/// malformed number for a known key ("systemctl_show_bad_value").
[[nodiscard]] Result<UnitStatus> parse_systemctl_show(std::string_view text);

/// Parses `systemctl status <unit>` (the human form; the journal lines after the first
/// blank line are ignored, so any --lines=N works).
///
/// Reads the header line (`● name.service - Description`, any bullet or none), Loaded
/// (load state, unit file state), Active (active state, sub state, Result, "since"
/// timestamp), Main PID (a running PID, or how the last main process ended:
/// `(code=exited, status=1/FAILURE)`, `(code=killed, signal=KILL)`; then main_pid stays
/// 0 since nothing runs), CGroup, Memory and CPU. `Unit x.service could not be found.`
/// yields load_state "not-found", active_state "inactive", sub_state "dead".
///
/// Not carried by this text, so left at their defaults: restart_count, result when
/// systemd omits it (it prints "(Result: ...)" only when not "success"), the unit file
/// state of masked or not-found units, and main PID exit details while a main process
/// runs.
///
/// Errors (ErrorKind::InvalidInput): empty text or no header line
/// ("systemctl_status_unrecognized"), no Loaded or Active line
/// ("systemctl_status_missing_field"), malformed values ("systemctl_status_bad_value").
[[nodiscard]] Result<UnitStatus> parse_systemctl_status(std::string_view text);

/// Parses one systemd timestamp as printed by systemctl into µs since the epoch:
/// `Thu 2026-11-26 16:38:37 UTC`, `Thu 2026-11-26 16:38:37.978840 UTC`, `... +0100`,
/// `@1795711117`. The weekday is optional and not checked. nullopt for "", "n/a",
/// zone names other than UTC/GMT/Z, dates before 1970 and anything malformed.
[[nodiscard]] std::optional<std::uint64_t> parse_systemd_timestamp(std::string_view text) noexcept;

/// Linux signal number for a name as systemd prints it: "KILL", "SIGTERM", "SEGV",
/// "RTMIN+3", or a plain number. nullopt when unknown.
[[nodiscard]] std::optional<int> signal_number(std::string_view name) noexcept;

}  // namespace siax::core
