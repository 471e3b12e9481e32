#include "api/api.h"

#include <thread>

#include "api/middleware.h"
#include "api/routes.h"

namespace siax::api {

Status install_api(ApiContext& ctx) {
  ctx.audit_log.set_io_thread(std::this_thread::get_id());
  for (auto install : {install_authentication, install_system_routes, install_session_routes, install_app_routes,
                       install_lifecycle_routes, install_preview_routes, install_stream_routes, install_monitor_routes,
                       install_token_routes, install_webhook_routes}) {
    if (auto s = install(ctx); !s) return s;
  }
  return ok();
}

}  // namespace siax::api
