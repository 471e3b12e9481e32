#include "config/config.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace siax::config {
namespace {

using namespace std::chrono_literals;

const std::string kFixtures = SIAX_CONFIG_FIXTURES_DIR;

/// The single problem of a failed parse (the test fails if there is not exactly one).
std::string only_problem(const Result<Config>& r) {
  if (r) {
    ADD_FAILURE() << "expected an error";
    return {};
  }
  EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
  EXPECT_EQ(r.error().code, "invalid_config");
  EXPECT_EQ(r.error().details.size(), 1u) << r.error().message;
  return r.error().message;
}

std::string problem_of(std::string_view toml) { return only_problem(parse_config_text(toml, "agent.toml")); }

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack) << "\n  does not contain: " << (needle)

// ---- defaults and a full file --------------------------------------------------------

TEST(ConfigDefaults, WorkWithoutAnyFile) {
  auto c = parse_config_text("", "agent.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(*c, Config{});
  EXPECT_EQ(c->server.listen_address, "127.0.0.1");
  EXPECT_EQ(c->server.port, 8080);
  EXPECT_FALSE(c->server.tls_enabled());
  EXPECT_EQ(c->paths.state_dir, "/var/lib/siax-agent");
  EXPECT_EQ(c->paths.unit_dir, "/etc/systemd/system");
  EXPECT_FALSE(c->apps.allow_root_apps);
  EXPECT_EQ(c->apps.rate_limit_interval, 1000ms);
  EXPECT_EQ(c->apps.job_timeout, 30000ms);
  EXPECT_EQ(c->apps.start_settle, 0ms);
  EXPECT_EQ(c->apps.scan_interval, 5s);
  EXPECT_EQ(c->limits.max_body_bytes, 1024u * 1024u);
  EXPECT_EQ(c->limits.max_connections, 256u);
  EXPECT_EQ(c->limits.request_timeout, 10s);
  EXPECT_EQ(c->limits.log_viewers_per_app, 10u);
  EXPECT_EQ(c->limits.log_viewers_total, 100u);
  EXPECT_EQ(c->log.level, LogLevel::Info);
  EXPECT_EQ(c->runtimes.node, "/usr/bin/node");
  EXPECT_EQ(c->runtimes.npm, "/usr/bin/npm");
  EXPECT_EQ(c->runtimes.python, "/usr/bin/python3");
  EXPECT_EQ(c->cloud.base_url, "https://api.siax-system.net");
  EXPECT_EQ(c->cloud.api_key, "");
  EXPECT_FALSE(c->cloud.enabled());
  EXPECT_EQ(c->cloud.server_id, "");
  EXPECT_EQ(c->cloud.heartbeat_interval, 60s);

  auto resolved = resolve_config(std::nullopt, {}, {});
  ASSERT_TRUE(resolved);
  EXPECT_EQ(*resolved, Config{});
}

TEST(ConfigFile, SetsEveryKey) {
  auto c = load_config(kFixtures + "/agent.toml", {}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.listen_address, "0.0.0.0");
  EXPECT_EQ(c->server.port, 8443);
  EXPECT_TRUE(c->server.tls_enabled());
  EXPECT_EQ(c->server.tls_cert_file, "/etc/siax-agent/tls/cert.pem");
  EXPECT_EQ(c->server.tls_key_file, "/etc/siax-agent/tls/key.pem");
  EXPECT_EQ(c->limits.max_body_bytes, 2097152u);
  EXPECT_EQ(c->limits.max_connections, 64u);
  EXPECT_EQ(c->limits.request_timeout, 30s);
  EXPECT_EQ(c->paths.state_dir, "/srv/siax/state");
  EXPECT_EQ(c->paths.unit_dir, "/run/systemd/system");
  EXPECT_TRUE(c->apps.allow_root_apps);
  EXPECT_EQ(c->apps.rate_limit_interval, 2s);
  EXPECT_EQ(c->apps.job_timeout, 60s);
  EXPECT_EQ(c->apps.start_settle, 1s);
  EXPECT_EQ(c->apps.scan_interval, 2500ms);
  EXPECT_EQ(c->runtimes.node, "/opt/node/bin/node");
  EXPECT_EQ(c->runtimes.npm, "/opt/node/bin/npm");
  EXPECT_EQ(c->runtimes.python, "/usr/local/bin/python3.12");
  EXPECT_EQ(c->log.level, LogLevel::Debug);
  EXPECT_EQ(c->cloud.base_url, "https://cloud.example.com/api");  // trailing slash dropped
  EXPECT_EQ(c->cloud.api_key, "k_123");
  EXPECT_TRUE(c->cloud.enabled());
  EXPECT_EQ(c->cloud.server_id, "web-01.example");
  EXPECT_EQ(c->cloud.heartbeat_interval, 30s);
}

TEST(ConfigFile, PartialFileKeepsOtherDefaults) {
  auto c = parse_config_text("[server]\nport = 9090\n", "agent.toml");
  ASSERT_TRUE(c);
  Config expected;
  expected.server.port = 9090;
  EXPECT_EQ(*c, expected);
}

TEST(ConfigFile, AcceptsDottedKeysAndInlineTables) {
  auto c = parse_config_text("server.port = 1\nlog = { level = \"warn\" }\n[apps]\nallow_root_apps = true\n", "x");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.port, 1);
  EXPECT_EQ(c->log.level, LogLevel::Warn);
  EXPECT_TRUE(c->apps.allow_root_apps);
}

TEST(ConfigFile, EmptyTlsPathsMeanUnset) {
  auto c = parse_config_text("[server]\ntls_cert = \"\"\ntls_key = \"\"\n", "x");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->server.tls_cert_file);
  EXPECT_FALSE(c->server.tls_enabled());
}

TEST(ConfigFile, AcceptsEveryLogLevelAndListenForm) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    auto c = parse_config_text(std::string("[log]\nlevel = \"") + level + "\"\n", "x");
    ASSERT_TRUE(c) << level;
    EXPECT_EQ(to_string(c->log.level), level);
  }
  for (const char* addr : {"0.0.0.0", "::", "::1", "10.1.2.3", "fe80::1"}) {
    auto c = parse_config_text(std::string("[server]\nlisten = \"") + addr + "\"\n", "x");
    ASSERT_TRUE(c) << addr << ": " << c.error().message;
  }
}

TEST(ConfigFile, BoundaryValuesAreAccepted) {
  auto c = parse_config_text(
      "[server]\nport = 0\n[apps]\nrate_limit_interval_ms = 0\nstart_settle_ms = 0\n"
      "[limits]\nmax_body_bytes = 1024\nmax_connections = 1\n[cloud]\nheartbeat_interval_s = 5\n"
      "base_url = \"http://127.0.0.1:9000\"\n",
      "x");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.port, 0);
  EXPECT_EQ(c->apps.rate_limit_interval, 0ms);
  EXPECT_EQ(c->cloud.base_url, "http://127.0.0.1:9000");
  EXPECT_TRUE(parse_config_text("[server]\nport = 65535\n", "x"));
}

// ---- validation errors: one message per mistake, with file, line and key ---------------

TEST(ConfigErrors, TomlSyntaxErrorNamesTheLine) {
  auto msg = problem_of("[server]\nport = = 1\n");
  EXPECT_CONTAINS(msg, "agent.toml:2:");
  EXPECT_CONTAINS(msg, "invalid TOML");
  msg = problem_of("[server\n");
  EXPECT_CONTAINS(msg, "agent.toml:1:");
}

TEST(ConfigErrors, DuplicateKeyIsATomlError) {
  auto msg = problem_of("[server]\nport = 1\nport = 2\n");
  EXPECT_CONTAINS(msg, "agent.toml:3:");
  EXPECT_CONTAINS(msg, "invalid TOML");
}

TEST(ConfigErrors, UnknownKeyWithSuggestion) {
  EXPECT_EQ(problem_of("[server]\nlisten = \"0.0.0.0\"\nprot = 9090\n"),
            "agent.toml:3:1: unknown key 'server.prot' (did you mean 'server.port'?)");
  EXPECT_EQ(problem_of("[apps]\nallow_root = true\n"),
            "agent.toml:2:1: unknown key 'apps.allow_root' (did you mean 'apps.allow_root_apps'?)");
}

TEST(ConfigErrors, KeyInTheWrongSectionSuggestsTheRightOne) {
  EXPECT_EQ(problem_of("[apps]\nport = 1\n"), "agent.toml:2:1: unknown key 'apps.port' (did you mean 'server.port'?)");
}

TEST(ConfigErrors, UnknownKeyWithoutCloseMatch) {
  EXPECT_EQ(problem_of("[server]\nwhatever_this_is = 1\n"), "agent.toml:2:1: unknown key 'server.whatever_this_is'");
}

TEST(ConfigErrors, UnknownSection) {
  EXPECT_EQ(problem_of("[sever]\nport = 1\n"), "agent.toml:1:2: unknown section [sever] (did you mean [server]?)");
  EXPECT_EQ(problem_of("[database]\n"), "agent.toml:1:2: unknown section [database]");
  auto nested = problem_of("[server.tls]\ncert = \"/a\"\n");
  EXPECT_CONTAINS(nested, "unknown key 'server.tls'");
}

TEST(ConfigErrors, TopLevelKeyBelongsInASection) {
  EXPECT_EQ(problem_of("port = 9090\n"),
            "agent.toml:1:1: unknown key 'port': settings belong in sections (did you mean 'server.port'?)");
}

TEST(ConfigErrors, SectionMustBeATable) {
  EXPECT_EQ(problem_of("server = 5\n"), "agent.toml:1:1: 'server' must be a table ([server]), got an integer");
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_EQ(problem_of("[server]\nport = \"8080\"\n"), "agent.toml:2:8: server.port: must be an integer, got a string");
  EXPECT_EQ(problem_of("[server]\nport = 80.5\n"),
            "agent.toml:2:8: server.port: must be an integer, got a floating-point number");
  EXPECT_EQ(problem_of("[server]\nlisten = 127\n"), "agent.toml:2:10: server.listen: must be a string, got an integer");
  EXPECT_EQ(problem_of("[apps]\nallow_root_apps = \"yes\"\n"),
            "agent.toml:2:19: apps.allow_root_apps: must be a boolean (true or false), got a string");
  EXPECT_EQ(problem_of("[runtimes]\nnode = [\"/usr/bin/node\"]\n"),
            "agent.toml:2:8: runtimes.node: must be a string, got an array");
}

TEST(ConfigErrors, PortOutOfRange) {
  EXPECT_EQ(problem_of("[server]\nport = 70000\n"),
            "agent.toml:2:8: server.port: must be between 0 and 65535, got 70000");
  EXPECT_EQ(problem_of("[server]\nport = 65536\n"),
            "agent.toml:2:8: server.port: must be between 0 and 65535, got 65536");
  EXPECT_EQ(problem_of("[server]\nport = -1\n"), "agent.toml:2:8: server.port: must be between 0 and 65535, got -1");
}

TEST(ConfigErrors, BadListenAddress) {
  for (const char* addr : {"localhost", "[::1]", "1.2.3.4.5", "", " 127.0.0.1", "127.0.0.1:8080"}) {
    auto msg = problem_of(std::string("[server]\nlisten = \"") + addr + "\"\n");
    EXPECT_CONTAINS(msg, "agent.toml:2:10: server.listen: must be an IPv4 or IPv6 address");
  }
}

TEST(ConfigErrors, RelativeAndUnnormalizedPaths) {
  EXPECT_EQ(problem_of("[paths]\nstate_dir = \"var/lib/siax\"\n"),
            "agent.toml:2:13: paths.state_dir: must be an absolute path (starting with '/'), got \"var/lib/siax\"");
  EXPECT_EQ(problem_of("[paths]\nunit_dir = \"\"\n"),
            "agent.toml:2:12: paths.unit_dir: must be an absolute path, got an empty string");
  EXPECT_EQ(problem_of("[runtimes]\nnode = \"/usr/../bin/node\"\n"),
            "agent.toml:2:8: runtimes.node: must not contain '.' or '..' segments, got \"/usr/../bin/node\"");
  EXPECT_CONTAINS(problem_of("[runtimes]\npython = \"/usr/bin/./python3\"\n"), "'.' or '..'");
  EXPECT_CONTAINS(problem_of("[runtimes]\nnpm = \"/usr/bin/npm\\n\"\n"), "runtimes.npm: must not contain control");
  EXPECT_CONTAINS(problem_of("[server]\ntls_cert = \"cert.pem\"\ntls_key = \"/k.pem\"\n"),
                  "agent.toml:2:12: server.tls_cert: must be an absolute path");
}

TEST(ConfigErrors, CertWithoutKeyAndKeyWithoutCert) {
  EXPECT_EQ(problem_of("[server]\ntls_cert = \"/etc/c.pem\"\n"),
            "server.tls_cert is set (agent.toml:2:12) but server.tls_key is not: set both to serve HTTPS, or "
            "neither for plain HTTP");
  EXPECT_EQ(problem_of("[server]\ntls_key = \"/etc/k.pem\"\n"),
            "server.tls_key is set (agent.toml:2:11) but server.tls_cert is not: set both to serve HTTPS, or "
            "neither for plain HTTP");
}

TEST(ConfigErrors, BadLogLevel) {
  EXPECT_EQ(problem_of("[log]\nlevel = \"verbose\"\n"),
            "agent.toml:2:9: log.level: must be one of trace, debug, info, warn, error, critical, off; got "
            "\"verbose\"");
  EXPECT_CONTAINS(problem_of("[log]\nlevel = \"INFO\"\n"), "log.level: must be one of");
}

TEST(ConfigErrors, DurationsAndLimitsOutOfRange) {
  const std::pair<const char*, const char*> cases[] = {
      {"[limits]\nmax_body_bytes = 0\n", "limits.max_body_bytes: must be between 1024 and 1073741824 bytes, got 0"},
      {"[limits]\nmax_connections = 0\n", "limits.max_connections: must be between 1 and 100000, got 0"},
      {"[limits]\nlog_viewers_per_app = 0\n", "limits.log_viewers_per_app: must be between 1 and 10000, got 0"},
      {"[limits]\nlog_viewers_total = 100001\n", "limits.log_viewers_total: must be between 1 and 100000, got 100001"},
      {"[limits]\nrequest_timeout_s = 0\n", "limits.request_timeout_s: must be between 1 and 3600 s, got 0"},
      {"[apps]\nrate_limit_interval_ms = -1\n", "apps.rate_limit_interval_ms: must be between 0 and 3600000 ms"},
      {"[apps]\njob_timeout_ms = 10\n", "apps.job_timeout_ms: must be between 1000 and 3600000 ms, got 10"},
      {"[apps]\nstart_settle_ms = 60001\n", "apps.start_settle_ms: must be between 0 and 60000 ms, got 60001"},
      {"[apps]\nscan_interval_ms = 50\n", "apps.scan_interval_ms: must be between 100 and 3600000 ms, got 50"},
      {"[cloud]\nheartbeat_interval_s = 1\n", "cloud.heartbeat_interval_s: must be between 5 and 86400 s, got 1"},
  };
  for (const auto& [toml, expected] : cases) EXPECT_CONTAINS(problem_of(toml), expected);
}

TEST(ConfigErrors, CloudSettings) {
  EXPECT_CONTAINS(problem_of("[cloud]\nbase_url = \"http://api.example.com\"\n"),
                  "agent.toml:2:12: cloud.base_url: must use https://");
  EXPECT_CONTAINS(problem_of("[cloud]\nbase_url = \"ftp://api.example.com\"\n"), "must start with https://");
  EXPECT_CONTAINS(problem_of("[cloud]\nbase_url = \"https://\"\n"), "must name a host");
  EXPECT_CONTAINS(problem_of("[cloud]\nbase_url = \"https://user:pw@api.example.com\"\n"), "credentials");
  EXPECT_CONTAINS(problem_of("[cloud]\nbase_url = \"https://api.example.com/a b\"\n"), "spaces");
  EXPECT_TRUE(parse_config_text("[cloud]\nbase_url = \"http://[::1]:8080/v1\"\n", "x"));
  EXPECT_TRUE(parse_config_text("[cloud]\nbase_url = \"http://localhost\"\n", "x"));
  EXPECT_CONTAINS(problem_of("[cloud]\napi_key = \"abc\\n\"\n"), "cloud.api_key: must not contain spaces or control");
  EXPECT_CONTAINS(problem_of("[cloud]\nserver_id = \"web 01\"\n"), "cloud.server_id: may contain only letters, digits");
}

TEST(ConfigErrors, EveryMistakeIsReported) {
  auto r = parse_config_text(
      "[server]\nport = 70000\nlisten = \"nowhere\"\ntls_cert = \"/c.pem\"\n"
      "[paths]\nstate_dir = \"relative\"\n[log]\nlevel = \"loud\"\n[bogus]\n",
      "/etc/siax-agent/agent.toml");
  ASSERT_FALSE(r);
  const auto& e = r.error();
  EXPECT_EQ(e.details.size(), 6u) << e.message;
  EXPECT_CONTAINS(e.message, "6 problems in the configuration:");
  EXPECT_CONTAINS(e.message, "\n  - /etc/siax-agent/agent.toml:2:8: server.port");
  EXPECT_CONTAINS(e.message, "\n  - /etc/siax-agent/agent.toml:3:10: server.listen");
  EXPECT_CONTAINS(e.message, "\n  - /etc/siax-agent/agent.toml:6:13: paths.state_dir");
  EXPECT_CONTAINS(e.message, "\n  - /etc/siax-agent/agent.toml:8:9: log.level");
  EXPECT_CONTAINS(e.message, "\n  - /etc/siax-agent/agent.toml:9:2: unknown section [bogus]");
  EXPECT_CONTAINS(e.message, "server.tls_cert is set (/etc/siax-agent/agent.toml:4:12)");
  for (const auto& [k, v] : e.details) EXPECT_EQ(k, "problem");
  // In file order (then the checks across keys).
  EXPECT_LT(e.message.find("agent.toml:2:8"), e.message.find("agent.toml:3:10"));
  EXPECT_LT(e.message.find("agent.toml:3:10"), e.message.find("agent.toml:6:13"));
  EXPECT_LT(e.message.find("agent.toml:6:13"), e.message.find("agent.toml:8:9"));
  EXPECT_LT(e.message.find("agent.toml:8:9"), e.message.find("agent.toml:9:2"));
  EXPECT_LT(e.message.find("agent.toml:9:2"), e.message.find("server.tls_cert is set"));
}

TEST(ConfigErrors, ProblemCountIsBounded) {
  std::string toml = "[server]\n";
  for (int i = 0; i < 200; ++i) toml += "unknown_" + std::to_string(i) + " = 1\n";
  auto r = parse_config_text(toml, "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().details.size(), 50u);
  EXPECT_CONTAINS(r.error().message, "further problems not shown");
}

// ---- environment ---------------------------------------------------------------------

TEST(ConfigEnv, OverridesTheFile) {
  const ConfigText file{"[server]\nport = 9000\nlisten = \"0.0.0.0\"\n", "agent.toml"};
  auto c = resolve_config(file, {{"SIAX_PORT", "9100"}, {"SIAX_STATE_DIR", "/tmp/state"}}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.port, 9100);
  EXPECT_EQ(c->server.listen_address, "0.0.0.0");  // from the file
  EXPECT_EQ(c->paths.state_dir, "/tmp/state");
}

TEST(ConfigEnv, EveryDocumentedVariableWorks) {
  const Environment env = {
      {"SIAX_LISTEN", "::1"},
      {"SIAX_PORT", "1234"},
      {"SIAX_TLS_CERT", "/c.pem"},
      {"SIAX_TLS_KEY", "/k.pem"},
      {"SIAX_MAX_BODY_BYTES", "4096"},
      {"SIAX_MAX_CONNECTIONS", "8"},
      {"SIAX_REQUEST_TIMEOUT_S", "3"},
      {"SIAX_LOG_VIEWERS_PER_APP", "3"},
      {"SIAX_LOG_VIEWERS_TOTAL", "30"},
      {"SIAX_MAX_STREAMS", "7"},
      {"SIAX_STATE_DIR", "/s"},
      {"SIAX_UNIT_DIR", "/u"},
      {"SIAX_UNIT_HELPER_SOCKET", "/run/h.sock"},
      {"SIAX_ALLOW_ROOT_APPS", "yes"},
      {"SIAX_RATE_LIMIT_INTERVAL_MS", "0"},
      {"SIAX_JOB_TIMEOUT_MS", "5000"},
      {"SIAX_START_SETTLE_MS", "100"},
      {"SIAX_SCAN_INTERVAL_MS", "1000"},
      {"SIAX_USAGE_INTERVAL_MS", "2500"},
      {"SIAX_RESYNC_INTERVAL_MS", "60000"},
      {"SIAX_NODE", "/n"},
      {"SIAX_NPM", "/m"},
      {"SIAX_PYTHON", "/p"},
      {"SIAX_LOG_LEVEL", "trace"},
      {"SIAX_CLOUD_URL", "https://c.example"},
      {"SIAX_CLOUD_API_KEY", "secret"},
      {"SIAX_SERVER_ID", "srv"},
      {"SIAX_HEARTBEAT_INTERVAL_S", "15"},
      {"SIAX_WEBHOOK_SECRET_FILE", "/etc/siax-agent/webhook.secret"},
      {"SIAX_WEBHOOK_MAX_AGE_S", "60"},
      {"SIAX_WEBHOOK_ALLOW", "orders:restart"},
      {"SIAX_WEBHOOK_ALLOW_BODY_SECRET", "on"},
      {"SIAX_MAX_CONNECTIONS_PER_ADDRESS", "4"},
      {"SIAX_ALLOWED_HOSTS", "panel.example.com, siax.lan"},
      {"SIAX_ALLOW_PLAIN_HTTP_REMOTE", "true"},
  };
  // SIAX_WEBHOOK_SECRET excludes SIAX_WEBHOOK_SECRET_FILE: see ConfigWebhook below.
  EXPECT_EQ(env.size() + 1, config_keys().size());
  auto c = resolve_config(std::nullopt, env, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.listen_address, "::1");
  EXPECT_EQ(c->server.port, 1234);
  EXPECT_TRUE(c->server.tls_enabled());
  EXPECT_EQ(c->limits.max_body_bytes, 4096u);
  EXPECT_EQ(c->limits.max_connections, 8u);
  EXPECT_EQ(c->limits.max_connections_per_address, 4u);
  EXPECT_EQ(c->server.allowed_hosts, (std::vector<std::string>{"panel.example.com", "siax.lan"}));
  EXPECT_TRUE(c->server.allow_plain_http_remote);
  EXPECT_EQ(c->limits.log_viewers_per_app, 3u);
  EXPECT_EQ(c->limits.log_viewers_total, 30u);
  EXPECT_EQ(c->limits.max_streams, 7u);
  EXPECT_EQ(c->limits.request_timeout, 3s);
  EXPECT_EQ(c->paths.state_dir, "/s");
  EXPECT_EQ(c->paths.unit_dir, "/u");
  EXPECT_EQ(c->paths.unit_helper_socket, "/run/h.sock");
  EXPECT_TRUE(c->apps.allow_root_apps);
  EXPECT_EQ(c->apps.rate_limit_interval, 0ms);
  EXPECT_EQ(c->apps.job_timeout, 5s);
  EXPECT_EQ(c->apps.start_settle, 100ms);
  EXPECT_EQ(c->apps.scan_interval, 1s);
  EXPECT_EQ(c->apps.usage_interval, 2500ms);
  EXPECT_EQ(c->apps.resync_interval, 60s);
  EXPECT_EQ(c->runtimes.node, "/n");
  EXPECT_EQ(c->runtimes.npm, "/m");
  EXPECT_EQ(c->runtimes.python, "/p");
  EXPECT_EQ(c->log.level, LogLevel::Trace);
  EXPECT_EQ(c->cloud.base_url, "https://c.example");
  EXPECT_EQ(c->cloud.api_key, "secret");
  EXPECT_EQ(c->cloud.server_id, "srv");
  EXPECT_EQ(c->cloud.heartbeat_interval, 15s);
  EXPECT_EQ(c->webhook.secret_file, "/etc/siax-agent/webhook.secret");
  EXPECT_EQ(c->webhook.max_age, 60s);
  EXPECT_EQ(c->webhook.allow, "orders:restart");
  EXPECT_TRUE(c->webhook.allow_body_secret);
}

TEST(ConfigWebhook, OffByDefaultWithNothingAllowed) {
  const Config c;
  EXPECT_FALSE(c.webhook.secret_file);
  EXPECT_TRUE(c.webhook.secret.empty());
  EXPECT_TRUE(c.webhook.allow.empty());
  EXPECT_FALSE(c.webhook.allow_body_secret);
  EXPECT_EQ(c.webhook.max_age, 300s);
}

TEST(ConfigWebhook, InlineSecretFromTheEnvironment) {
  auto c = resolve_config(std::nullopt, {{"SIAX_WEBHOOK_SECRET", "0123456789abcdef0123"}}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->webhook.secret, "0123456789abcdef0123");
}

TEST(ConfigWebhook, SecretAndSecretFileTogetherAreRefused) {
  auto c = resolve_config(ConfigText{"[webhook]\nsecret_file = \"/etc/siax-agent/webhook.secret\"\n", "agent.toml"},
                          {{"SIAX_WEBHOOK_SECRET", "0123456789abcdef0123"}}, {});
  const auto p = only_problem(c);
  EXPECT_CONTAINS(p, "webhook.secret_file (agent.toml:2:15) and webhook.secret (environment variable "
                     "SIAX_WEBHOOK_SECRET) are both set");
  EXPECT_EQ(p.find("0123456789abcdef0123"), std::string::npos) << p;
}

TEST(ConfigWebhook, BadValuesAreNamedWithoutShowingTheSecret) {
  const auto p = problem_of("[webhook]\nsecret = \"hunter2\"\n");
  EXPECT_CONTAINS(p, "webhook.secret: must be 16 to 4096 characters long");
  EXPECT_EQ(p.find("hunter2"), std::string::npos) << p;
  EXPECT_CONTAINS(problem_of("[webhook]\nsecret = \"0123456789abcdef\\u0001\"\n"), "control characters");
  EXPECT_CONTAINS(problem_of("[webhook]\nsecret_file = \"webhook.secret\"\n"), "must be an absolute path");
  EXPECT_CONTAINS(problem_of("[webhook]\nmax_age_s = 5\n"), "webhook.max_age_s: must be between 10 and 3600 s");
  EXPECT_CONTAINS(problem_of("[webhook]\nallow = [\"orders:restart\"]\n"), "webhook.allow: must be a string");
  auto multi = parse_config_text("[webhook]\nallow = \"\"\"\norders:restart,\n  api:*\n\"\"\"\n", "x");
  ASSERT_TRUE(multi) << multi.error().message;
  EXPECT_EQ(multi->webhook.allow, "orders:restart,\n  api:*\n");
}

TEST(ConfigEnv, BooleanSpellings) {
  for (const char* t : {"true", "TRUE", "1", "yes", "On"}) {
    auto c = resolve_config(std::nullopt, {{"SIAX_ALLOW_ROOT_APPS", t}}, {});
    ASSERT_TRUE(c) << t;
    EXPECT_TRUE(c->apps.allow_root_apps) << t;
  }
  for (const char* f : {"false", "0", "no", "OFF"}) {
    auto c = resolve_config(ConfigText{"[apps]\nallow_root_apps = true\n", "x"}, {{"SIAX_ALLOW_ROOT_APPS", f}}, {});
    ASSERT_TRUE(c) << f;
    EXPECT_FALSE(c->apps.allow_root_apps) << f;
  }
}

TEST(ConfigEnv, AllowedHostsAreTrimmedAndEmptyNamesSkipped) {
  auto c = resolve_config(std::nullopt, {{"SIAX_ALLOWED_HOSTS", "  a.example , b-c,, ,d.lan  "}}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.allowed_hosts, (std::vector<std::string>{"a.example", "b-c", "d.lan"}));
  auto bad = resolve_config(std::nullopt, {{"SIAX_ALLOWED_HOSTS", "a.example, b c"}}, {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("\"b c\""), std::string::npos) << bad.error().message;
}

TEST(ConfigEnv, EmptyApiKeyTurnsTheCloudLinkOff) {
  auto c = resolve_config(ConfigText{"[cloud]\napi_key = \"from-file\"\n", "x"}, {{"SIAX_CLOUD_API_KEY", ""}}, {});
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->cloud.enabled());
}

TEST(ConfigEnv, BadValuesNameTheVariable) {
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {{"SIAX_PORT", "abc"}}, {})),
            "environment variable SIAX_PORT: server.port: must be an integer, got \"abc\"");
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {{"SIAX_PORT", ""}}, {})),
            "environment variable SIAX_PORT: server.port: must be an integer, got \"\"");
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {{"SIAX_PORT", "99999"}}, {})),
            "environment variable SIAX_PORT: server.port: must be between 0 and 65535, got 99999");
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {{"SIAX_PORT", "80 "}}, {})),
            "environment variable SIAX_PORT: server.port: must be an integer, got \"80 \"");
  EXPECT_CONTAINS(only_problem(resolve_config(std::nullopt, {{"SIAX_ALLOW_ROOT_APPS", "maybe"}}, {})),
                  "environment variable SIAX_ALLOW_ROOT_APPS: apps.allow_root_apps: must be a boolean");
  EXPECT_CONTAINS(only_problem(resolve_config(std::nullopt, {{"SIAX_STATE_DIR", "state"}}, {})),
                  "environment variable SIAX_STATE_DIR: paths.state_dir: must be an absolute path");
}

TEST(ConfigEnv, CrossFieldErrorsNameTheOrigin) {
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {{"SIAX_TLS_CERT", "/c.pem"}}, {})),
            "server.tls_cert is set (environment variable SIAX_TLS_CERT) but server.tls_key is not: set both to "
            "serve HTTPS, or neither for plain HTTP");
}

TEST(ConfigEnv, UnrelatedVariablesAreIgnored) {
  auto c = resolve_config(std::nullopt, {{"PATH", "/usr/bin"}, {"SIAX_SANDBOX", "1"}, {"siax_port", "1"}}, {});
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, Config{});
}

// ---- command-line overrides ----------------------------------------------------------

TEST(ConfigOverrides, BeatFileAndEnvironment) {
  auto c = resolve_config(ConfigText{"[server]\nport = 1000\n", "x"}, {{"SIAX_PORT", "2000"}},
                          {{"server.port", "3000"}, {"log.level", "error"}, {"apps.allow_root_apps", "true"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.port, 3000);
  EXPECT_EQ(c->log.level, LogLevel::Error);
  EXPECT_TRUE(c->apps.allow_root_apps);
}

TEST(ConfigOverrides, LaterOverridesWin) {
  auto c = resolve_config(std::nullopt, {}, {{"server.port", "1"}, {"server.port", "2"}});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->server.port, 2);
}

TEST(ConfigOverrides, QuotedStringsAreUnquoted) {
  auto c = resolve_config(std::nullopt, {}, {{"server.listen", "\"0.0.0.0\""}, {"cloud.api_key", "\"\""}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.listen_address, "0.0.0.0");
  EXPECT_EQ(c->cloud.api_key, "");
}

TEST(ConfigOverrides, UnknownKeyWithSuggestion) {
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {}, {{"server.prot", "9090"}})),
            "override 'server.prot=9090': unknown setting 'server.prot' (did you mean 'server.port'?); settings "
            "are named section.key, e.g. server.port");
  EXPECT_CONTAINS(only_problem(resolve_config(std::nullopt, {}, {{"port", "9090"}})),
                  "unknown setting 'port' (did you mean 'server.port'?)");
  EXPECT_CONTAINS(only_problem(resolve_config(std::nullopt, {}, {{"server", "9090"}})), "unknown setting 'server'");
}

TEST(ConfigOverrides, BadValueNamesTheOverride) {
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {}, {{"server.port", "http"}})),
            "override 'server.port=http': server.port: must be an integer, got \"http\"");
  EXPECT_EQ(only_problem(resolve_config(std::nullopt, {}, {{"server.port", "-5"}})),
            "override 'server.port=-5': server.port: must be between 0 and 65535, got -5");
}

TEST(ConfigOverrides, ParseOverride) {
  auto kv = parse_override("server.port=9090");
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->first, "server.port");
  EXPECT_EQ(kv->second, "9090");
  auto with_eq = parse_override("cloud.api_key=a=b");
  ASSERT_TRUE(with_eq);
  EXPECT_EQ(with_eq->second, "a=b");
  auto empty_value = parse_override("cloud.api_key=");
  ASSERT_TRUE(empty_value);
  EXPECT_EQ(empty_value->second, "");
  for (const char* bad : {"server.port", "=9090", ""}) {
    auto r = parse_override(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::InvalidInput);
    EXPECT_EQ(r.error().code, "invalid_override");
  }
}

TEST(ConfigEnv, EnvironmentFromEnvp) {
  const char* envp[] = {"SIAX_PORT=1", "EMPTY=", "WITH_EQ=a=b", "NOEQUALS", "=nokey", nullptr};
  auto env = environment_from(envp);
  EXPECT_EQ(env.size(), 3u);
  EXPECT_EQ(env["SIAX_PORT"], "1");
  EXPECT_EQ(env["EMPTY"], "");
  EXPECT_EQ(env["WITH_EQ"], "a=b");
  EXPECT_TRUE(environment_from(nullptr).empty());
}

// ---- the example file and the key table ------------------------------------------------

TEST(ConfigRender, DefaultConfigParsesToTheDefaults) {
  const auto text = render_default_config();
  auto c = parse_config_text(text, "example.toml");
  ASSERT_TRUE(c) << c.error().message << "\n" << text;
  EXPECT_EQ(*c, Config{});
}

TEST(ConfigRender, MentionsEveryKeyAndVariable) {
  const auto text = render_default_config();
  for (const auto& k : config_keys()) {
    const auto name = k.key.substr(k.key.find('.') + 1);
    EXPECT_CONTAINS(text, std::string(name) + " = ");
    EXPECT_CONTAINS(text, k.env);
  }
  for (const char* section :
       {"[server]", "[limits]", "[paths]", "[apps]", "[runtimes]", "[log]", "[cloud]", "[webhook]"}) {
    EXPECT_CONTAINS(text, section);
  }
  EXPECT_CONTAINS(text, "# tls_cert = \"/etc/siax-agent/tls/cert.pem\"");
  // The webhook's secret and rules are shown commented out: uncommented, they change nothing.
  EXPECT_CONTAINS(text, "# secret_file = \"/etc/siax-agent/webhook.secret\"");
  EXPECT_CONTAINS(text, "# secret = \"\"");
  EXPECT_CONTAINS(text, "# allow = \"orders:restart, api:*\"");
}

TEST(ConfigRender, UncommentingTheTlsExampleEnablesTls) {
  auto text = render_default_config();
  for (const char* key : {"# tls_cert = ", "# tls_key = "}) {
    const auto at = text.find(key);
    ASSERT_NE(at, std::string::npos);
    text.erase(at, 2);
  }
  auto c = parse_config_text(text, "example.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->server.tls_enabled());
}

TEST(ConfigKeys, TableIsCompleteAndConsistent) {
  const auto keys = config_keys();
  EXPECT_EQ(keys.size(), 36u);
  std::set<std::string_view> names, envs;
  for (const auto& k : keys) {
    EXPECT_TRUE(names.insert(k.key).second) << k.key;
    EXPECT_TRUE(envs.insert(k.env).second) << k.env;
    EXPECT_TRUE(k.env.starts_with("SIAX_")) << k.env;
    EXPECT_FALSE(k.description.empty()) << k.key;
    // Every key can be set by an override.
    EXPECT_FALSE(resolve_config(std::nullopt, {}, {{std::string(k.key), "\x01"}})) << k.key;
  }
}

// ---- load_config (reads fixture files) ------------------------------------------------

TEST(ConfigLoad, ExplicitPathMustExist) {
  auto r = load_config(kFixtures + "/does-not-exist.toml", {}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(r.error().code, "config_not_found");
  EXPECT_CONTAINS(r.error().message, "does-not-exist.toml does not exist");
}

TEST(ConfigLoad, DirectoryIsNotAConfigFile) {
  auto r = load_config(kFixtures, {}, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "config_not_a_file");
}

TEST(ConfigLoad, ErrorsNameTheFilePath) {
  auto r = load_config(kFixtures + "/invalid.toml", {}, {});
  EXPECT_EQ(only_problem(r), kFixtures + "/invalid.toml:2:8: server.port: must be between 0 and 65535, got 70000");
}

TEST(ConfigLoad, SiaxConfigVariableNamesTheFile) {
  auto c = load_config(std::nullopt, {{"SIAX_CONFIG", kFixtures + "/agent.toml"}}, {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->server.port, 8443);
  auto missing = load_config(std::nullopt, {{"SIAX_CONFIG", kFixtures + "/missing.toml"}}, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  // An explicit path wins over the variable.
  auto explicit_path = load_config(kFixtures + "/agent.toml", {{"SIAX_CONFIG", kFixtures + "/missing.toml"}}, {});
  EXPECT_TRUE(explicit_path);
}

TEST(ConfigLoad, EnvironmentAndOverridesApplyOnTopOfTheFile) {
  auto c = load_config(kFixtures + "/agent.toml", {{"SIAX_LOG_LEVEL", "warn"}}, {{"server.port", "9443"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->log.level, LogLevel::Warn);
  EXPECT_EQ(c->server.port, 9443);
  EXPECT_EQ(c->paths.state_dir, "/srv/siax/state");
}

}  // namespace
}  // namespace siax::config
