#include "panel/panel.h"

#include <gtest/gtest.h>

#include <string>

namespace siax::panel {
namespace {

http::Request get(std::string route) {
  http::Request r;
  r.method = http::Method::get;
  r.route = std::move(route);
  return r;
}

TEST(PanelAssets, TheShellAndEveryModuleAreEmbeddedWithTypesAndEtags) {
  const Asset* shell = find_asset("/index.html");
  ASSERT_NE(shell, nullptr);
  EXPECT_STREQ(shell->content_type, "text/html; charset=utf-8");
  EXPECT_NE(std::string(reinterpret_cast<const char*>(shell->data), shell->size).find("/assets/js/main.js"),
            std::string::npos);
  for (const char* path : {"/js/main.js", "/js/dashboard.js", "/js/logview.js", "/js/form.js", "/app.css"}) {
    const Asset* a = find_asset(path);
    ASSERT_NE(a, nullptr) << path;
    EXPECT_EQ(a->etag[0], '"') << path;
  }
  EXPECT_STREQ(find_asset("/js/main.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_asset("/nope.js"), nullptr);
}

TEST(PanelAssets, TheFirstLoadIsSmall) {
  // index.html + the modules the dashboard loads + the stylesheet, compressed: well under 200 KB.
  std::size_t total = 0;
  for (const char* path : {"/index.html", "/app.css", "/js/main.js", "/js/api.js", "/js/ui.js", "/js/store.js",
                           "/js/dashboard.js", "/js/actions.js"}) {
    const Asset* a = find_asset(path);
    ASSERT_NE(a, nullptr) << path;
    total += a->gzip != nullptr ? a->gzip_size : a->size;
  }
  EXPECT_LT(total, 60u * 1024);
}

TEST(PanelServe, GzipOnlyWhenAcceptedAndTheEtagGivesA304) {
  const Asset& a = *find_asset("/js/form.js");
  ASSERT_NE(a.gzip, nullptr);
  auto req = get("/assets/*path");
  auto plain = serve_asset(a, req);
  EXPECT_EQ(plain.status, http::StatusCode::ok);
  EXPECT_EQ(plain.body.size(), a.size);
  EXPECT_FALSE(plain.headers.contains("Content-Encoding"));
  EXPECT_EQ(plain.headers.get("ETag"), std::string_view(a.etag));
  EXPECT_EQ(plain.headers.get("Cache-Control"), "no-cache");
  EXPECT_TRUE(plain.headers.contains("Content-Security-Policy"));

  req.headers.add("Accept-Encoding", "br, GZip;q=0.8");
  auto packed = serve_asset(a, req);
  EXPECT_EQ(packed.headers.get("Content-Encoding"), "gzip");
  EXPECT_EQ(packed.body.size(), a.gzip_size);
  EXPECT_LT(packed.body.size(), a.size);

  auto refused = get("/assets/*path");
  refused.headers.add("Accept-Encoding", "gzip;q=0, identity");
  EXPECT_FALSE(serve_asset(a, refused).headers.contains("Content-Encoding"));

  req.headers.add("If-None-Match", a.etag);
  auto cached = serve_asset(a, req);
  EXPECT_EQ(cached.status, http::StatusCode::not_modified);
  EXPECT_TRUE(cached.body.empty());

  auto stale = get("/assets/*path");
  stale.headers.add("If-None-Match", "\"0000\"");
  EXPECT_EQ(serve_asset(a, stale).status, http::StatusCode::ok);
}

TEST(PanelPublic, PagesAndFilesAreOpenButNeverAWebSocketOrAnApiRoute) {
  for (const char* route : {"/", "/login", "/apps/:name", "/apps/:name/logs", "/scan", "/select", "/logs",
                            "/logs/:app_name", "/assets/*path"}) {
    EXPECT_TRUE(is_public(get(route))) << route;
  }
  auto ws = get("/logs/:app_name");
  ws.headers.add("Upgrade", "websocket");
  EXPECT_FALSE(is_public(ws));
  auto agent_ws = get("/logs");
  agent_ws.headers.add("Upgrade", "websocket");
  EXPECT_FALSE(is_public(agent_ws));
  EXPECT_FALSE(is_public(get("/api/apps")));
  EXPECT_FALSE(is_public(get("/api/apps/:name")));
  auto post = get("/");
  post.method = http::Method::post;
  EXPECT_FALSE(is_public(post));
}

}  // namespace
}  // namespace siax::panel
