#include "cloud/curl_transport.h"

#include <curl/curl.h>
#include <dlfcn.h>

#include <mutex>
#include <utility>

#include <fmt/format.h>

namespace siax::cloud {
namespace {

/// libcurl, loaded with dlopen the first time a transport is created (only `serve` with
/// the cloud link on does that). Linking it would make every run of the binary, every
/// `siax-agent apps list` included, load libcurl and the ~27 libraries it needs (gnutls,
/// krb5, ldap, ssh2, ...): about 3 ms of CPU per CLI call (docs/PERFORMANCE.md).
/// The names are called through these pointers instead of the curl_* functions (whose
/// symbols this binary no longer links).
struct CurlApi {
  CURLcode (*global_init)(long) = nullptr;
  CURL* (*easy_init)() = nullptr;
  void (*easy_cleanup)(CURL*) = nullptr;
  void (*easy_reset)(CURL*) = nullptr;
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...) = nullptr;
  CURLcode (*easy_perform)(CURL*) = nullptr;
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...) = nullptr;
  const char* (*easy_strerror)(CURLcode) = nullptr;
  curl_slist* (*slist_append)(curl_slist*, const char*) = nullptr;
  void (*slist_free_all)(curl_slist*) = nullptr;
};

CurlApi g_curl;
std::string g_curl_load_error;

template <class F>
bool resolve(void* lib, const char* name, F& out) {
  out = reinterpret_cast<F>(::dlsym(lib, name));
  if (out == nullptr) g_curl_load_error = fmt::format("libcurl has no symbol {}", name);
  return out != nullptr;
}

/// Loads libcurl once (never unloaded); false with g_curl_load_error set when it cannot.
bool load_curl() {
  void* lib = ::dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* err = ::dlerror();
    g_curl_load_error = fmt::format("cannot load libcurl.so.4 ({}): install libcurl4", err != nullptr ? err : "?");
    return false;
  }
  auto& a = g_curl;
  return resolve(lib, "curl_global_init", a.global_init) && resolve(lib, "curl_easy_init", a.easy_init) &&
         resolve(lib, "curl_easy_cleanup", a.easy_cleanup) && resolve(lib, "curl_easy_reset", a.easy_reset) &&
         resolve(lib, "curl_easy_setopt", a.easy_setopt) && resolve(lib, "curl_easy_perform", a.easy_perform) &&
         resolve(lib, "curl_easy_getinfo", a.easy_getinfo) && resolve(lib, "curl_easy_strerror", a.easy_strerror) &&
         resolve(lib, "curl_slist_append", a.slist_append) && resolve(lib, "curl_slist_free_all", a.slist_free_all);
}

struct EasyCleanup {
  void operator()(CURL* c) const noexcept { g_curl.easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const noexcept { g_curl.slist_free_all(l); }
};

struct Transfer {
  std::string body;
  std::size_t max_bytes = 0;
  bool too_large = false;
  std::optional<std::chrono::seconds> retry_after;
  const std::atomic<bool>* cancelled = nullptr;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (t->body.size() + n > t->max_bytes) {
    t->too_large = true;
    return 0;  // makes libcurl fail with CURLE_WRITE_ERROR
  }
  t->body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kName.size(); ++i) {
      const char c = line[i];
      if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) != kName[i]) match = false;
    }
    if (match) {
      long long secs = 0;
      bool digits = false;
      for (char c : line.substr(kName.size())) {
        if (c >= '0' && c <= '9') {
          digits = true;
          if (secs < 1'000'000) secs = secs * 10 + (c - '0');
        } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
          digits = false;  // an HTTP date: ignored (the backoff applies)
          break;
        }
      }
      if (digits) t->retry_after = std::chrono::seconds(secs);
    }
  }
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* t = static_cast<Transfer*>(user);
  return t->cancelled->load() ? 1 : 0;  // non-zero aborts the transfer
}

bool header_safe(std::string_view value) {
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::once_flag g_curl_init;
bool g_curl_loaded = false;
CURLcode g_curl_init_rc = CURLE_OK;

}  // namespace

struct CurlTransport::Handle {
  std::unique_ptr<CURL, EasyCleanup> easy;
  std::unique_ptr<curl_slist, SlistFree> headers;
};

CurlTransport::CurlTransport(Options options, std::unique_ptr<Handle> handle)
    : options_(std::move(options)), handle_(std::move(handle)) {}

CurlTransport::~CurlTransport() = default;

Result<std::unique_ptr<CurlTransport>> CurlTransport::create(Options options) {
  const std::string& url = options.base_url;
  if (!(url.starts_with("https://") || url.starts_with("http://")) || url.size() <= 8 || !header_safe(url) ||
      url.find(' ') != std::string::npos) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_url",
                fmt::format("cloud.base_url must be an http:// or https:// URL without spaces, e.g. "
                            "https://api.siax-system.net; got \"{}\"",
                            url));
  }
  while (options.base_url.ends_with('/')) options.base_url.pop_back();
  if (options.api_key.empty() || !header_safe(options.api_key)) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_api_key",
                "cloud.api_key is empty or contains control characters; set it to the key the cloud gave you");
  }
  if (options.max_body_bytes == 0 || options.connect_timeout.count() <= 0 || options.total_timeout.count() <= 0) {
    return fail(ErrorKind::InvalidInput, "invalid_cloud_transport", "the cloud timeouts and body limit must be positive");
  }

  std::call_once(g_curl_init, [] {
    g_curl_loaded = load_curl();
    if (g_curl_loaded) g_curl_init_rc = g_curl.global_init(CURL_GLOBAL_DEFAULT);
  });
  if (!g_curl_loaded) return fail(ErrorKind::Internal, "cloud_transport_init", g_curl_load_error);
  if (g_curl_init_rc != CURLE_OK) {
    return fail(ErrorKind::Internal, "cloud_transport_init",
                fmt::format("libcurl failed to start: {}", g_curl.easy_strerror(g_curl_init_rc)));
  }
  auto handle = std::make_unique<Handle>();
  handle->easy.reset(g_curl.easy_init());
  if (!handle->easy) return fail(ErrorKind::Internal, "cloud_transport_init", "libcurl could not create a handle");

  curl_slist* list = nullptr;
  for (const std::string& h : {fmt::format("x-api-key: {}", options.api_key), std::string("Content-Type: application/json"),
                               std::string("Accept: application/json"), std::string("Expect:")}) {
    curl_slist* next = g_curl.slist_append(list, h.c_str());
    if (next == nullptr) {
      g_curl.slist_free_all(list);
      return fail(ErrorKind::Internal, "cloud_transport_init", "out of memory building the request headers");
    }
    list = next;
  }
  handle->headers.reset(list);
  return std::unique_ptr<CurlTransport>(new CurlTransport(std::move(options), std::move(handle)));
}

Result<CloudReply> CurlTransport::send(Method method, std::string_view path_and_query, std::string_view json_body) {
  const std::string url = options_.base_url + std::string(path_and_query);
  const std::string what = fmt::format("{} {}", to_string(method), url);
  if (cancelled_) {
    return fail(ErrorKind::Unavailable, "cloud_cancelled", fmt::format("{}: cancelled (the agent is stopping)", what));
  }
  CURL* c = handle_->easy.get();
  g_curl.easy_reset(c);  // keeps the connection cache, clears the options

  Transfer t;
  t.max_bytes = options_.max_body_bytes;
  t.cancelled = &cancelled_;
  const std::string body(json_body);

  g_curl.easy_setopt(c, CURLOPT_URL, url.c_str());
  g_curl.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  g_curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  g_curl.easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  g_curl.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  g_curl.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  g_curl.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
  g_curl.easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.total_timeout.count()));
  g_curl.easy_setopt(c, CURLOPT_HTTPHEADER, handle_->headers.get());
  g_curl.easy_setopt(c, CURLOPT_USERAGENT, "siax-agent/" SIAX_VERSION);
  g_curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_body);
  g_curl.easy_setopt(c, CURLOPT_WRITEDATA, &t);
  g_curl.easy_setopt(c, CURLOPT_HEADERFUNCTION, &on_header);
  g_curl.easy_setopt(c, CURLOPT_HEADERDATA, &t);
  g_curl.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  g_curl.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &on_progress);
  g_curl.easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  switch (method) {
    case Method::Get:
      g_curl.easy_setopt(c, CURLOPT_HTTPGET, 1L);
      break;
    case Method::Post:
    case Method::Put:
      g_curl.easy_setopt(c, CURLOPT_POST, 1L);
      g_curl.easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      g_curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
      if (method == Method::Put) g_curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
      break;
  }

  const CURLcode rc = g_curl.easy_perform(c);
  if (rc != CURLE_OK) {
    if (rc == CURLE_ABORTED_BY_CALLBACK || cancelled_) {
      return fail(ErrorKind::Unavailable, "cloud_cancelled", fmt::format("{}: cancelled (the agent is stopping)", what));
    }
    if (t.too_large) {
      return fail(ErrorKind::Internal, "cloud_reply_too_large",
                  fmt::format("{}: the reply is larger than {} bytes", what, options_.max_body_bytes));
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return fail(ErrorKind::Timeout, "cloud_timeout",
                  fmt::format("{}: no complete reply within {} ms", what, options_.total_timeout.count()));
    }
    return fail(ErrorKind::Unavailable, "cloud_unreachable", fmt::format("{}: {}", what, g_curl.easy_strerror(rc)));
  }
  long status = 0;
  g_curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return CloudReply{static_cast<int>(status), std::move(t.body), t.retry_after};
}

}  // namespace siax::cloud
