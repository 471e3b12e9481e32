"""The signed webhook, POST /webhook/command, against the real agent and real
apps in the sandbox: a signed restart restarts the app (new PID); a wrong signature, a stale
or future timestamp, a replay, a disallowed app or action, an unknown app, a malformed body
are refused and nothing happens (same PID); the API's per-app rate limit applies; every
request whose sender holds the secret is in the audit log, refusals before that only as a
summary (at most one entry a minute) and in the metrics, never with the secret or the
signature; the openssl + curl snippet of docs/API.md works as printed."""
import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import AGENT, ROOT, Agent, Api, eventually, free_port, node_app, pid_alive, sb

SECRET = "it-webhook-" + hashlib.sha256(os.urandom(16)).hexdigest()[:32]
SECRET_DIR = "/etc/siax-agent-webhook-it"
SECRET_FILE = f"{SECRET_DIR}/webhook.secret"
ALLOWED = "wh-orders"      # restart and start allowed
CLOSED = "wh-closed"       # registered, not in the allow-list
GHOST = "wh-ghost"         # in the allow-list, never registered
BODY_SECRET = "wh-legacy"  # for the agent that accepts the body-secret form
BUSY = "wh-busy"           # for the agent whose restarts hold the app for 2 s
ALLOW = f"{ALLOWED}:restart, {ALLOWED}:start, {GHOST}:restart, {BODY_SECRET}:restart, {BUSY}:restart"


def write_secret(path, content, mode):
    sb("sh", "-c", f"mkdir -p {SECRET_DIR} && cat > {path} && chmod {mode} {path}", input=content)


def body_of(action, app, **extra):
    return json.dumps(dict({"action": action, "app_name": app}, **extra), separators=(",", ":")).encode()


def signature(ts, body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), str(ts).encode() + b"." + body, hashlib.sha256).hexdigest()


_oldest_ts = [None]


def fresh_ts():
    """A timestamp no other request of this module was signed with: the agent accepts each
    signed request once. Counts down from the first one (a module signs well under 300)."""
    ts = int(time.time()) if _oldest_ts[0] is None else min(int(time.time()), _oldest_ts[0] - 1)
    _oldest_ts[0] = ts
    return ts


def send(port, body, ts=None, sig=None, headers=None):
    h = {}
    if ts is not None:
        h["X-Siax-Timestamp"] = str(ts)
    if sig is not None:
        h["X-Siax-Signature"] = sig
    h.update(headers or {})
    return Api(port).call("POST", "/webhook/command", raw=body, headers=h)


def signed(port, action, app, ts=None, **kw):
    ts = fresh_ts() if ts is None else ts
    body = body_of(action, app)
    return send(port, body, ts, signature(ts, body), **kw)


def pid_of(admin, name):
    code, body, _ = admin.get(f"/api/apps/{name}/status")
    assert code == 200, body
    return body["data"]["pid"]


# Refused before the sender proved to hold the secret: counted, audited only as a summary.
UNAUTHENTICATED = {"signature_required", "bad_secret", "bad_signature", "invalid_signature_header", "missing_timestamp",
                   "stale_timestamp", "future_timestamp", "replayed_request", "body_too_large"}


def last_audit_id(admin):
    code, body, _ = admin.get("/api/audit?limit=1")
    assert code == 200, body
    return body["data"][0]["id"] if body["data"] else 0


def webhook_audit_since(admin, since_id, count):
    """The webhook's audit entries after since_id, oldest first, once `count` are there."""
    found = []

    def enough():
        code, body, _ = admin.get("/api/audit?limit=200")
        assert code == 200, body
        found[:] = [e for e in reversed(body["data"]) if e["id"] > since_id and e["actor"].startswith("webhook")]
        return len(found) >= count

    assert eventually(enough, timeout=10), found
    return found


def assert_no_secret_in(entries):
    text = json.dumps(entries)
    assert SECRET not in text
    assert not re.search(r"[0-9a-fA-F]{64}", text), "a signature (64 hex digits) in the audit log"


def wait_window():
    time.sleep(1.05)  # the per-app rate limit: one operation per second


@pytest.fixture(scope="module")
def secret_file(agent):
    write_secret(SECRET_FILE, SECRET + "\n", "600")
    yield SECRET_FILE
    sb("rm", "-rf", SECRET_DIR)


@pytest.fixture(scope="module")
def wh(secret_file):
    """An agent with the webhook on (secret file 0600) and its admin client; two apps."""
    sb("rm", "-rf", "/var/lib/siax-agent-webhook-it")
    a = Agent(free_port(), "/var/lib/siax-agent-webhook-it",
              [f"webhook.secret_file={SECRET_FILE}", f"webhook.allow={ALLOW}"])
    a.start()
    admin = Api(a.port, sb("cat", f"{a.state_dir}/cli-token").stdout.strip())
    for name in (ALLOWED, CLOSED):
        code, res, _ = admin.post("/api/apps/register", dict(node_app(name, free_port()), start=True))
        assert code == 201, res
    wait_window()
    yield a, admin
    for name in (ALLOWED, CLOSED):
        admin.call("DELETE", f"/api/apps/{name}")
    a.stop()


def test_off_without_a_secret(agent, admin):
    since = last_audit_id(admin)
    ts = fresh_ts()
    body = body_of("restart", "anything")
    code, res, _ = send(agent.port, body, ts, signature(ts, body))
    assert code == 404, res
    assert res["error"]["code"] == "webhook_disabled"
    assert "webhook.secret_file" in res["error"]["message"]
    # Off, it is like any unknown route: counted, not audited.
    assert eventually(lambda: re.search(r'siax_webhook_refused_total{code="webhook_disabled"} [1-9]',
                                        admin.get("/metrics")[1]))
    time.sleep(0.3)  # an audit entry would be written by now (a worker, milliseconds)
    code, body, _ = admin.get("/api/audit?limit=50")
    assert [e for e in body["data"] if e["id"] > since and e["actor"].startswith("webhook")] == []


def refused_count(admin, code):
    _, body, _ = admin.get("/metrics")
    m = re.search(rf'siax_webhook_refused_total{{code="{code}"}} ([0-9]+)', body)
    return int(m.group(1)) if m else 0


def test_a_signed_restart_restarts_the_app(wh):
    a, admin = wh
    since = last_audit_id(admin)
    pid = pid_of(admin, ALLOWED)
    assert pid and pid_alive(pid)
    code, res, _ = signed(a.port, "restart", ALLOWED)
    assert code == 200, res
    assert (res["data"]["app"], res["data"]["action"]) == (ALLOWED, "restart"), res
    new_pid = pid_of(admin, ALLOWED)  # read at once: the answer waits for the live state
    assert new_pid and new_pid != pid and pid_alive(new_pid)
    assert res["data"]["state"]["pid"] == new_pid, res
    assert eventually(lambda: not pid_alive(pid))
    entry = webhook_audit_since(admin, since, 1)[0]
    assert (entry["actor"], entry["role"], entry["action"], entry["target"], entry["result"]) == \
        ("webhook", "operator", "restart", ALLOWED, "ok")
    assert entry["source"] == "127.0.0.1"
    assert entry["detail"].startswith("signature, timestamp ")
    assert_no_secret_in([entry])
    wait_window()


def test_refusals_change_nothing_and_are_audited(wh):
    a, admin = wh
    since = last_audit_id(admin)
    counted_before = {c: refused_count(admin, c) for c in UNAUTHENTICATED}
    pid = pid_of(admin, ALLOWED)
    now = fresh_ts()
    restart = body_of("restart", ALLOWED)
    good_ts = fresh_ts()
    good_sig = signature(good_ts, restart)
    cases = [
        # (what, request, status, code)
        ("no signature", lambda: send(a.port, restart, now), 401, "signature_required"),
        ("wrong signature", lambda: send(a.port, restart, now, signature(now, restart, "wrong-secret-xxxxxxxx")),
         401, "bad_signature"),
        ("signature of another body", lambda: send(a.port, restart, now, signature(now, body_of("start", ALLOWED))),
         401, "bad_signature"),
        ("malformed signature", lambda: send(a.port, restart, now, "sha256=abc"), 401, "invalid_signature_header"),
        ("no timestamp", lambda: send(a.port, restart, None, signature(now, restart)), 401, "missing_timestamp"),
        ("stale", lambda: signed(a.port, "restart", ALLOWED, ts=now - 301), 401, "stale_timestamp"),
        ("future", lambda: signed(a.port, "restart", ALLOWED, ts=now + 120), 401, "future_timestamp"),
        ("disallowed action", lambda: signed(a.port, "stop", ALLOWED), 403, "not_allowed"),
        ("disallowed app", lambda: signed(a.port, "restart", CLOSED), 403, "not_allowed"),
        ("bad json", lambda: send(a.port, b"{not json", now, signature(now, b"{not json")), 400, "invalid_json"),
        ("unknown field", lambda: send(a.port, body_of("restart", ALLOWED, force=True), now,
                                       signature(now, body_of("restart", ALLOWED, force=True))), 400,
         "unknown_field"),
        ("secret in a signed body", lambda: send(a.port, body_of("restart", ALLOWED, secret=SECRET), now,
                                                 signature(now, body_of("restart", ALLOWED, secret=SECRET))), 400,
         "unknown_field"),
        ("unknown action", lambda: send(a.port, body_of("enable", ALLOWED), now,
                                        signature(now, body_of("enable", ALLOWED))), 400, "invalid_action"),
        ("bad app name", lambda: send(a.port, body_of("restart", "../x"), now,
                                      signature(now, body_of("restart", "../x"))), 400, "invalid_app_name"),
        ("body secret while off", lambda: send(a.port, body_of("restart", ALLOWED, secret=SECRET)), 401,
         "signature_required"),
        ("too large", lambda: send(a.port, b"{" + b" " * 5000 + b"}", now, signature(now, b"{}")), 413,
         "body_too_large"),
    ]
    for what, request, status, code in cases:
        got, res, headers = request()
        assert (got, res["error"]["code"] if isinstance(res, dict) and res.get("error") else res) == (status, code), what
        assert res["error"]["message"] and SECRET not in res["error"]["message"], what
        if status == 401:
            assert "Siax-Signature" in headers.get("WWW-Authenticate", ""), what
    assert pid_of(admin, ALLOWED) == pid, "a refused request must not run anything"
    assert pid_of(admin, CLOSED) and pid_alive(pid_of(admin, CLOSED))

    # Accepted once; the same request again is a replay, refused, and runs nothing.
    code, res, _ = send(a.port, restart, good_ts, good_sig)
    assert code == 200, res
    pid2 = pid_of(admin, ALLOWED)
    assert pid2 and pid2 != pid
    wait_window()
    code, res, _ = send(a.port, restart, good_ts, good_sig)
    assert (code, res["error"]["code"]) == (401, "replayed_request"), res
    assert pid_of(admin, ALLOWED) == pid2

    # Audited one by one: what a holder of the secret sent. Refused before that: one summary
    # entry (the first refusal of a quiet minute), every one counted in the metrics.
    authenticated = [c[3] for c in cases if c[3] not in UNAUTHENTICATED]
    unauthenticated = [c[3] for c in cases if c[3] in UNAUTHENTICATED] + ["replayed_request"]
    entries = webhook_audit_since(admin, since, len(authenticated) + 2)
    time.sleep(0.3)
    entries = webhook_audit_since(admin, since, len(authenticated) + 2)
    # Sorted: the entries are written by the worker pool, in whatever order its threads run.
    results = sorted(e["result"] for e in entries)
    assert results == sorted(authenticated + ["ok", "refused"]), results
    assert all(e["source"] == "127.0.0.1" for e in entries)
    summary = [e for e in entries if e["result"] == "refused"][0]
    assert summary["target"] == "" and summary["role"] == "" and summary["actor"] == "webhook", summary
    assert "1 unauthenticated request(s) refused (signature_required 1)" in summary["detail"], summary
    for code in set(unauthenticated):
        assert refused_count(admin, code) - counted_before[code] == unauthenticated.count(code), code
    not_allowed = [e for e in entries if e["result"] == "not_allowed"]
    assert sorted((e["action"], e["target"]) for e in not_allowed) == [("restart", CLOSED), ("stop", ALLOWED)]
    assert_no_secret_in(entries)
    wait_window()


def test_a_flood_of_unsigned_requests_is_counted_not_audited(wh):
    """Issue 10, item 5 for the webhook: strangers must not be able to fill the audit log."""
    a, admin = wh
    since = last_audit_id(admin)
    before = refused_count(admin, "bad_signature")
    now = fresh_ts()
    restart = body_of("restart", ALLOWED)
    for i in range(300):
        code, _, _ = send(a.port, restart, now, signature(now, restart, f"not-the-secret-{i:08d}"))
        assert code == 401
    assert refused_count(admin, "bad_signature") - before == 300
    time.sleep(0.3)
    code, body, _ = admin.get("/api/audit?limit=500")
    new = [e for e in body["data"] if e["id"] > since and e["actor"].startswith("webhook")]
    # The earlier test's refusals opened the current minute: at most its one summary more.
    assert len(new) <= 1, [e["detail"] for e in new]


def test_an_unknown_app_gets_the_same_answer_as_a_disallowed_one(wh):
    a, admin = wh
    since = last_audit_id(admin)
    answers = {}
    # CLOSED exists but is not allowed; "wh-nowhere" is neither; GHOST is allowed but does not exist.
    for name in (CLOSED, "wh-nowhere", GHOST):
        code, res, headers = signed(a.port, "restart", name)
        answers[name] = (code, res["error"]["code"], res["error"]["message"].replace(name, "<app>"),
                         sorted(k for k in headers if k.lower() not in ("date", "content-length")))
    assert answers[CLOSED] == answers["wh-nowhere"] == answers[GHOST], answers
    assert answers[CLOSED][:2] == (403, "not_allowed")
    entries = webhook_audit_since(admin, since, 3)
    by_target = {e["target"]: e for e in entries}
    assert set(by_target) == {CLOSED, "wh-nowhere", GHOST}
    assert all(e["result"] == "not_allowed" for e in entries)
    assert "no such app" in by_target[GHOST]["detail"] and "webhook.allow" in by_target[CLOSED]["detail"]


def test_the_api_rate_limit_applies(wh):
    a, admin = wh
    since = last_audit_id(admin)
    before = pid_of(admin, ALLOWED)
    code, res, _ = signed(a.port, "restart", ALLOWED)
    assert code == 200, res
    pid = pid_of(admin, ALLOWED)
    assert pid and pid != before
    code, res, headers = signed(a.port, "restart", ALLOWED)
    assert code == 429, res
    assert res["error"]["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1
    assert pid_of(admin, ALLOWED) == pid
    # One limit for the API and the webhook together.
    wait_window()
    code, res, _ = admin.post(f"/api/apps/{ALLOWED}/restart")
    assert code == 200, res
    pid2 = pid_of(admin, ALLOWED)
    assert pid2 and pid2 != pid
    code, res, _ = signed(a.port, "restart", ALLOWED)
    assert (code, res["error"]["code"]) == (429, "rate_limited"), res
    assert pid_of(admin, ALLOWED) == pid2 != pid
    entries = webhook_audit_since(admin, since, 3)
    assert sorted(e["result"] for e in entries) == ["ok", "rate_limited", "rate_limited"]
    code, body, _ = admin.get("/metrics")
    assert re.search(rf'siax_rate_limited_total{{app="{ALLOWED}"}} [1-9]', body), body[:2000]
    wait_window()


def other_agent(name, state_dir, *settings):
    """Another agent with the webhook on (own registry), with app `name` registered and running."""
    sb("rm", "-rf", state_dir)
    a = Agent(free_port(), state_dir, [f"webhook.secret_file={SECRET_FILE}", f"webhook.allow={ALLOW}", *settings])
    a.start()
    admin = Api(a.port, sb("cat", f"{a.state_dir}/cli-token").stdout.strip())
    code, res, _ = admin.post("/api/apps/register", dict(node_app(name, free_port()), start=True))
    assert code == 201, res
    return a, admin


def test_an_operation_in_progress_is_409(secret_file):
    # Restarts hold the app for their 2 s settle window: long enough to be caught in progress.
    a, admin = other_agent(BUSY, "/var/lib/siax-agent-webhook-busy-it", "apps.start_settle_ms=2000")
    try:
        wait_window()
        since = last_audit_id(admin)
        pid = pid_of(admin, BUSY)
        done = {}
        api_restart = threading.Thread(target=lambda: done.update(r=admin.post(f"/api/apps/{BUSY}/restart")))
        api_restart.start()
        time.sleep(0.5)
        code, res, _ = signed(a.port, "restart", BUSY)
        api_restart.join(timeout=60)
        assert done["r"][0] == 200, done["r"]
        assert (code, res["error"]["code"]) == (409, "operation_in_progress"), res
        assert "restart started" in res["error"]["message"], res
        pid2 = pid_of(admin, BUSY)
        assert pid2 != pid and pid_alive(pid2)  # the API's restart, only
        entries = webhook_audit_since(admin, since, 1)
        assert [(e["action"], e["target"], e["result"]) for e in entries] == [("restart", BUSY, "operation_in_progress")]
        admin.call("DELETE", f"/api/apps/{BUSY}")
    finally:
        a.stop()


def test_the_documented_openssl_curl_snippet_works(wh):
    a, admin = wh
    with open(os.path.join(ROOT, "docs", "API.md")) as f:
        doc = f.read()
    snippet = re.search(r"<!-- webhook-snippet -->\n```sh\n(.*?)```", doc, re.S).group(1)
    with tempfile.TemporaryDirectory() as tmp:
        secret_file = os.path.join(tmp, "webhook.secret")
        with open(os.open(secret_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(SECRET + "\n")
        script = re.sub(r"^SECRET_FILE=.*$", f"SECRET_FILE={secret_file}", snippet, flags=re.M)
        script = re.sub(r"^URL=.*$", f"URL=http://127.0.0.1:{a.port}/webhook/command", script, flags=re.M)
        script = re.sub(r"^BODY=.*$", f"BODY='{body_of('restart', ALLOWED).decode()}'", script, flags=re.M)
        assert script.count(secret_file) == 1 and str(a.port) in script
        pid = pid_of(admin, ALLOWED)
        out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["success"] and (res["data"]["app"], res["data"]["action"]) == (ALLOWED, "restart"), res
    new_pid = pid_of(admin, ALLOWED)
    assert new_pid != pid and pid_alive(new_pid)
    wait_window()


def test_an_unsafe_secret_file_stops_the_agent_at_start(secret_file):
    bad = f"{SECRET_DIR}/readable.secret"
    write_secret(bad, SECRET + "\n", "644")
    p = sb(AGENT, "--set", f"server.port={free_port()}", "--set", "paths.state_dir=/var/lib/siax-agent-webhook-bad",
           "--set", f"webhook.secret_file={bad}", "serve", check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "chmod 600" in p.stdout + p.stderr
    assert SECRET not in p.stdout + p.stderr


def test_the_body_secret_form_only_when_enabled(secret_file):
    a, admin = other_agent(BODY_SECRET, "/var/lib/siax-agent-webhook-legacy-it", "webhook.allow_body_secret=true")
    try:
        pid = pid_of(admin, BODY_SECRET)
        since = last_audit_id(admin)
        code, res, _ = send(a.port, body_of("restart", BODY_SECRET, secret="not-the-secret-xxxxxxxx"))
        assert (code, res["error"]["code"]) == (401, "bad_secret"), res
        assert pid_of(admin, BODY_SECRET) == pid
        wait_window()
        code, res, _ = send(a.port, body_of("restart", BODY_SECRET, secret=SECRET))
        assert code == 200, res
        pid2 = pid_of(admin, BODY_SECRET)
        assert pid2 != pid and pid_alive(pid2)
        entries = webhook_audit_since(admin, since, 2)
        # The wrong secret: refused unauthenticated, so its entry is the minute's summary.
        assert sorted((e["actor"], e["result"]) for e in entries) == [("webhook", "refused"),
                                                                      ("webhook:body_secret", "ok")]
        assert "(bad_secret 1)" in [e for e in entries if e["result"] == "refused"][0]["detail"]
        assert refused_count(admin, "bad_secret") == 1
        assert_no_secret_in(entries)
        # Signed requests still work on the same agent.
        wait_window()
        code, res, _ = signed(a.port, "restart", BODY_SECRET)
        assert code == 200, res
        admin.call("DELETE", f"/api/apps/{BODY_SECRET}")
    finally:
        a.stop()
