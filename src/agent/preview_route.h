#pragma once
/// `POST /api/apps/preview` (admin): the unit file a register body would produce, checked
/// like a register (syntax and host checks) but with nothing written, reloaded or recorded.
/// The panel's form shows it before the user registers. See docs/API.md.
///
/// Thread: the handler runs on the io thread and hands the checks (file and user lookups)
/// to the WorkerPool.
#include "agent/http_api.h"

namespace siax::agent {

[[nodiscard]] Status install_preview_route(ApiContext& ctx);

}  // namespace siax::agent
