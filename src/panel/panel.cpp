#include "panel/panel.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace siax::panel {
namespace {

constexpr std::array<std::string_view, 10> kPages = {
    "/",           "/login",  "/apps/new", "/apps/:name", "/apps/:name/edit", "/apps/:name/logs",
    "/scan",       "/select", "/logs",     "/logs/:app_name"};
constexpr std::string_view kAssets = "/assets/*path";

// Only this agent: no CDN, no inline script, no framing. 'self' covers ws:// to this
// host for the live logs. Inline style attributes are allowed for the charts' sizes.
constexpr std::string_view kCsp =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

bool contains_token(std::string_view list, std::string_view token) {
  // Comma-separated tokens, case-insensitive, optional ";q=..." parameters; q=0 refuses.
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    auto semi = item.find(';');
    auto name = item.substr(0, semi);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (name.size() != token.size() ||
        !std::equal(name.begin(), name.end(), token.begin(),
                    [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; })) {
      continue;
    }
    if (semi != std::string_view::npos) {
      auto params = item.substr(semi);
      if (params.find("q=0") != std::string_view::npos && params.find("q=0.") == std::string_view::npos) return false;
    }
    return true;
  }
  return false;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (if_none_match.find('*') != std::string_view::npos) return true;
  return if_none_match.find(etag) != std::string_view::npos;
}

void add_common_headers(http::Response& r) {
  r.headers.set("Cache-Control", "no-cache");
  r.headers.set("X-Content-Type-Options", "nosniff");
  r.headers.set("Referrer-Policy", "no-referrer");
  r.headers.set("Content-Security-Policy", std::string(kCsp));
}

}  // namespace

const Asset* find_asset(std::string_view path) {
  const auto all = assets();
  auto it = std::find_if(all.begin(), all.end(), [&](const Asset& a) { return path == a.path; });
  return it == all.end() ? nullptr : &*it;
}

http::Response serve_asset(const Asset& asset, const http::Request& request) {
  http::Response r;
  add_common_headers(r);
  r.headers.set("ETag", asset.etag);
  if (asset.gzip != nullptr) r.headers.set("Vary", "Accept-Encoding");
  if (auto inm = request.header("If-None-Match"); inm && etag_matches(*inm, asset.etag)) {
    r.status = http::StatusCode::not_modified;
    r.content_type.clear();
    return r;
  }
  r.content_type = asset.content_type;
  const auto accept = request.header("Accept-Encoding");
  if (asset.gzip != nullptr && accept && contains_token(*accept, "gzip")) {
    r.headers.set("Content-Encoding", "gzip");
    r.body.assign(reinterpret_cast<const char*>(asset.gzip), asset.gzip_size);
  } else {
    r.body.assign(reinterpret_cast<const char*>(asset.data), asset.size);
  }
  return r;
}

bool is_public(const http::Request& request) {
  if (request.header("Upgrade")) return false;  // a WebSocket: the log endpoint's, authenticated
  if (request.method != http::Method::get && request.method != http::Method::head) return false;
  if (request.route == kAssets) return true;
  return std::find(kPages.begin(), kPages.end(), request.route) != kPages.end();
}

Status install(http::Server& server) {
  const Asset* shell = find_asset("/index.html");
  if (shell == nullptr) return fail(ErrorKind::Internal, "panel_missing", "the panel was built without web/index.html");
  auto page = [shell](http::Request req, http::Responder res) { res.send(serve_asset(*shell, req)); };
  for (auto pattern : kPages) {
    if (auto s = server.route(http::Method::get, pattern, page); !s) return s;
  }
  return server.route(http::Method::get, kAssets, [](http::Request req, http::Responder res) {
    const auto* path = req.param("path");
    const Asset* asset = path != nullptr ? find_asset("/" + *path) : nullptr;
    if (asset == nullptr || *path == "index.html") {
      res.send(http::json_failure(http::StatusCode::not_found, "not_found",
                                  "there is no such file in the panel"));
      return;
    }
    res.send(serve_asset(*asset, req));
  });
}

}  // namespace siax::panel
