"""The live state against the real systemd in the sandbox: reads from memory,
GET /api/stream (server-sent events), signals instead of scans, daemon-reload and
daemon-reexec, slow stream clients, Last-Event-ID resume, ETag.

These tests run their own agent with a scan interval of ten minutes: whatever they see
change came through systemd's signals (or the API's own mutations), not a periodic scan."""
import json
import re
import socket
import time

import pytest

from conftest import APPS, APP_USER, Agent, Api, eventually, free_port, node_app, pid_alive, sb


class Sse:
    """A minimal server-sent events client over a raw socket (chunked transfer decoded)."""

    def __init__(self, port, token, last_event_id=None, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id is not None else ""
        self.sock.sendall((f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n{extra}\r\n")
                          .encode())
        self.raw = b""
        self.body = b""
        self.head = None
        self.events = []

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        if not data:
            raise EOFError("stream closed")
        self.raw += data
        if self.head is None and b"\r\n\r\n" in self.raw:
            self.head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        if self.head is not None:
            # Decode whole chunks.
            while True:
                nl = self.raw.find(b"\r\n")
                if nl < 0:
                    break
                size = int(self.raw[:nl].split(b";")[0], 16)
                if len(self.raw) < nl + 2 + size + 2:
                    break
                self.body += self.raw[nl + 2:nl + 2 + size]
                self.raw = self.raw[nl + 2 + size + 2:]
        while b"\n\n" in self.body:
            msg, self.body = self.body.split(b"\n\n", 1)
            ev = {}
            for line in msg.decode().split("\n"):
                if line.startswith(":"):
                    ev["comment"] = line[1:].strip()
                elif ": " in line:
                    k, v = line.split(": ", 1)
                    ev[k] = v
            if "data" in ev:
                ev["json"] = json.loads(ev["data"])
            self.events.append(ev)
        return True

    def status(self, timeout=10):
        deadline = time.monotonic() + timeout
        while self.head is None and time.monotonic() < deadline:
            self._fill(0.2)
        return int(self.head.split(b" ")[1]) if self.head else None

    def next(self, pred=lambda e: True, timeout=10):
        """The first unread event matching pred (events before it are consumed)."""
        deadline = time.monotonic() + timeout
        while True:
            while self.events:
                ev = self.events.pop(0)
                if pred(ev):
                    return ev
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._fill(min(left, 0.2))

    def close(self):
        self.sock.close()


@pytest.fixture(scope="module")
def live_agent():
    sb("sh", "-c", f"id {APP_USER} >/dev/null 2>&1 || useradd --system --no-create-home {APP_USER}")
    sb("rm", "-rf", "/var/lib/siax-agent-live")
    # One full cycle at start-up, then none for ten minutes (the later --set wins): only
    # systemd's signals and the API's own mutations move the state.
    a = Agent(free_port(), "/var/lib/siax-agent-live",
              extra=("apps.scan_interval_ms=600000", "apps.rate_limit_interval_ms=0", "apps.usage_interval_ms=60000"))
    a.start()
    yield a
    a.stop()


@pytest.fixture(scope="module")
def live(live_agent):
    token = sb("cat", f"{live_agent.state_dir}/cli-token").stdout.strip()
    api = Api(live_agent.port, token)
    # The store is ready after the first full cycle (then GET /api/apps has an ETag).
    assert eventually(lambda: "ETag" in api.get("/api/apps")[2], timeout=20)
    return api


def sse(api, **kw):
    return Sse(int(api.base.rsplit(":", 1)[1]), api.token, **kw)


def app_of(api, name):
    code, body, _ = api.get("/api/apps")
    assert code == 200, body
    return next((a for a in body["data"] if a["name"] == name), None)


def test_etag_answers_304_until_an_app_changes(live):
    def conditional():
        code, body, h = live.get("/api/apps")
        assert code == 200 and isinstance(body["data"], list)
        code2, _, h2 = live.get("/api/apps", headers={"If-None-Match": h["ETag"]})
        return h["ETag"] if code2 == 304 and h2["ETag"] == h["ETag"] else None

    # Right after start-up the first cycles may still change the list between two reads.
    assert eventually(conditional, timeout=10)
    etag = conditional()
    assert etag
    name = "live-etag"
    assert live.post("/api/apps/register", node_app(name, free_port()))[0] == 201
    try:
        code, body, h3 = live.get("/api/apps", headers={"If-None-Match": etag})
        assert code == 200 and h3["ETag"] != etag
        assert any(a["name"] == name for a in body["data"])
    finally:
        live.call("DELETE", f"/api/apps/{name}")
    code, body, _ = live.get("/api/apps")
    assert all(a["name"] != name for a in body["data"])


def test_sigkill_reaches_the_api_and_the_stream_through_the_signal(live):
    name = "live-kill"
    body = node_app(name, free_port(), restart_policy="always", restart_sec=5)
    assert live.post("/api/apps/register", dict(body, start=True))[0] == 201
    s = sse(live)
    try:
        assert s.status() == 200
        snap = s.next(lambda e: e.get("event") == "snapshot")
        assert snap and int(snap["id"]) == snap["json"]["version"]
        app = next(a for a in snap["json"]["apps"] if a["name"] == name)
        pid = app["pid"]
        assert pid and pid_alive(pid)
        assert "systemd_reachable" in snap["json"]["system"] or snap["json"]["system"] == {}
        t0 = time.monotonic()
        sb("kill", "-9", str(pid))
        ev = s.next(lambda e: e.get("event") == "app" and e["json"]["app"]["name"] == name
                    and e["json"]["app"]["status"] in ("restarting", "failed", "crashed"), timeout=5)
        elapsed = time.monotonic() - t0
        assert ev, "the crash did not reach the stream (the scan interval is ten minutes: only the signal can)"
        assert elapsed < 2.0, elapsed
        st = app_of(live, name)
        assert st["status"] in ("restarting", "failed", "crashed"), st
        code, res, _ = live.get(f"/api/apps/{name}/status")
        assert code == 200 and res["data"]["status"] in ("restarting", "failed", "crashed"), res
        # systemd's own fields follow once systemd has reaped the process: the agent may see the
        # main process gone ("crashed": systemd says active but ...) before systemd does.
        def systemd_saw_it():
            c, r, _ = live.get(f"/api/apps/{name}/status")
            return c == 200 and r["data"]["active_state"] in ("activating", "failed") \
                and r["data"]["status"] in ("restarting", "failed", "crashed")
        assert eventually(systemd_saw_it, timeout=5), live.get(f"/api/apps/{name}/status")[1]
        # systemd restarts it after 5 s: the new pid arrives on the stream too.
        ev = s.next(lambda e: e.get("event") == "app" and e["json"]["app"]["name"] == name
                    and e["json"]["app"]["status"] == "running" and e["json"]["app"]["pid"] not in (None, pid),
                    timeout=15)
        assert ev, "the restart did not reach the stream"
    finally:
        s.close()
        live.call("DELETE", f"/api/apps/{name}")


def test_last_event_id_resume_loses_nothing(live):
    name = "live-resume"
    assert live.post("/api/apps/register", dict(node_app(name, free_port()), start=True))[0] == 201
    try:
        s = sse(live)
        snap = s.next(lambda e: e.get("event") == "snapshot")
        last = int(snap["id"])
        s.close()
        # Changes while the client is away.
        for _ in range(3):
            assert live.post(f"/api/apps/{name}/restart")[0] == 200
        assert live.post(f"/api/apps/{name}/stop")[0] == 200
        code, st, _ = live.get(f"/api/apps/{name}/status")
        target = st["data"]["version"]
        assert target > last
        s2 = sse(live, last_event_id=last)
        ids = []
        while not ids or ids[-1] < target:
            ev = s2.next(lambda e: "id" in e, timeout=10)
            assert ev, (ids, target)
            assert ev["event"] != "snapshot", "a recent Last-Event-ID must resume, not start over"
            ids.append(int(ev["id"]))
        assert ids == list(range(last + 1, ids[-1] + 1)), ids  # every version, none missing, in order
        s2.close()
        # Too old (or from the future): a snapshot.
        s3 = sse(live, last_event_id=target + 1000)
        assert s3.next(lambda e: "id" in e)["event"] == "snapshot"
        s3.close()
    finally:
        live.call("DELETE", f"/api/apps/{name}")


def test_hand_edited_unit_and_daemon_reload_show_up(live):
    name = "live-edit"
    assert live.post("/api/apps/register", node_app(name, free_port()))[0] == 201
    try:
        s = sse(live)
        assert s.next(lambda e: e.get("event") == "snapshot")
        unit = f"/etc/systemd/system/siax-app-{name}.service"
        sb("sh", "-c", f"echo 'Environment=HAND_EDITED=1' >> {unit} && systemctl daemon-reload")
        ev = s.next(lambda e: e.get("event") == "event" and e["json"]["event"]["app"] == name
                    and e["json"]["event"]["kind"] == "unit_drift", timeout=10)
        assert ev and "edited" in ev["json"]["event"]["message"], ev
        s.close()
    finally:
        live.call("DELETE", f"/api/apps/{name}")


def test_daemon_reexec_is_survived(live):
    name = "live-reexec"
    body = node_app(name, free_port(), restart_policy="always", restart_sec=30)
    assert live.post("/api/apps/register", dict(body, start=True))[0] == 201
    try:
        s = sse(live)
        assert s.next(lambda e: e.get("event") == "snapshot")
        sb("systemctl", "daemon-reexec")
        ev = s.next(lambda e: e.get("event") == "event" and e["json"]["event"]["kind"] == "systemd_resync",
                    timeout=15)
        assert ev, "daemon-reexec was not noticed"
        # The agent re-reads everything once systemd answers again (while it re-executes,
        # reads fail and the app shows "unknown").
        assert eventually(lambda: app_of(live, name)["status"] == "running" and app_of(live, name)["pid"], timeout=15), \
            app_of(live, name)
        pid = app_of(live, name)["pid"]
        assert pid_alive(pid)
        # Signals still arrive afterwards (the watcher subscribed again): a kill shows at once.
        sb("kill", "-9", str(pid))
        ev = s.next(lambda e: e.get("event") == "app" and e["json"]["app"]["name"] == name
                    and e["json"]["app"]["status"] in ("restarting", "failed", "crashed"), timeout=5)
        assert ev, "no signal after daemon-reexec"
        s.close()
    finally:
        live.call("DELETE", f"/api/apps/{name}")


def agent_rss_kib(agent):
    pids = agent.agent_pid()
    for pid in pids:
        out = sb("cat", f"/proc/{pid}/status", check=False).stdout
        if "siax-agent" in out.split("\n", 1)[0]:
            return int(re.search(r"VmRSS:\s+(\d+)", out).group(1))
    return max(int(re.search(r"VmRSS:\s+(\d+)", sb("cat", f"/proc/{p}/status").stdout).group(1)) for p in pids)


def metric(api, name):
    _, text, _ = api.get("/metrics")
    m = re.search(rf"^{name} (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def test_a_stream_client_that_stops_reading_does_not_grow_the_agent(live, live_agent):
    name = "live-slow"
    assert live.post("/api/apps/register", dict(node_app(name, free_port()), start=True))[0] == 201
    try:
        stuck = sse(live, rcvbuf=4096)  # reads the head, then never again
        assert stuck.status() == 200
        reader = sse(live)
        assert reader.next(lambda e: e.get("event") == "snapshot")
        before = agent_rss_kib(live_agent)
        overflows_before = metric(live, "siax_state_subscriber_overflows_total")
        # Churn: every restart is a few changes of a few hundred bytes each. (The kernel's
        # socket buffers absorb the first megabytes of a stuck client; the agent's own
        # bound, 8 chunks + 512 changes then a snapshot, is checked exactly by the unit
        # test StateStream.AClientThatStopsReadingIsBoundedAndGetsASnapshotLater.)
        for _ in range(300):
            assert live.post(f"/api/apps/{name}/restart")[0] == 200
        grown = agent_rss_kib(live_agent) - before
        assert grown < 16 * 1024, f"the agent grew by {grown} KiB with a stuck stream client"
        print(f"RSS {before} KiB -> +{grown} KiB, overflows "
              f"{metric(live, 'siax_state_subscriber_overflows_total') - overflows_before}")
        # The reading client still follows, and the agent still answers.
        assert reader.next(lambda e: e.get("event") == "app" and e["json"]["app"]["name"] == name, timeout=5)
        assert live.get("/api/health")[0] == 200
        stuck.close()
        reader.close()
    finally:
        live.call("DELETE", f"/api/apps/{name}")


def test_stream_needs_a_role_and_a_valid_last_event_id(live):
    api = Api(int(live.base.rsplit(":", 1)[1]))
    assert api.get("/api/stream")[0] == 401
    code, body, _ = live.get("/api/stream?last_event_id=abc")
    assert code == 400 and body["error"]["code"] == "invalid_last_event_id"


def test_wait_reports_an_immediate_crash_and_the_default_answers_at_once(live):
    name = "live-wait"
    body = {"app_name": name, "app_type": "nodejs", "script_path": f"{APPS}/failing/exit1.js",
            "working_directory": f"{APPS}/failing", "user": APP_USER, "restart_policy": "no"}
    assert live.post("/api/apps/register", body)[0] == 201
    try:
        code, res, _ = live.post(f"/api/apps/{name}/start?wait=2")
        assert code == 500 and res["error"]["code"] == "start_failed", res
        assert live.post(f"/api/apps/{name}/start?wait=x")[0] == 400
        ok_name = "live-fast"
        assert live.post("/api/apps/register", node_app(ok_name, free_port()))[0] == 201
        try:
            t0 = time.monotonic()
            code, res, _ = live.post(f"/api/apps/{ok_name}/start")
            took = time.monotonic() - t0
            assert code == 200 and res["data"]["state"]["pid"], res
            assert took < 0.45, f"start took {took:.3f} s: it should answer when systemd's job is done"
        finally:
            live.call("DELETE", f"/api/apps/{ok_name}")
    finally:
        live.call("DELETE", f"/api/apps/{name}")


def test_cli_status_watch_follows_the_stream(live, live_agent):
    import subprocess
    from conftest import AGENT, SANDBOX, SANDBOX_TOOL
    name = "live-cli"
    body = node_app(name, free_port(), restart_policy="always", restart_sec=5)
    assert live.post("/api/apps/register", dict(body, start=True))[0] == 201
    try:
        assert eventually(lambda: (app_of(live, name) or {}).get("pid"), timeout=10)
        pid = app_of(live, name)["pid"]
        p = subprocess.Popen([SANDBOX_TOOL, "exec", SANDBOX, "--", "timeout", "6", AGENT, "--set",
                              f"server.port={live_agent.port}", "--set", f"paths.state_dir={live_agent.state_dir}",
                              "apps", "status", name, "--watch"], stdout=subprocess.PIPE, text=True)
        time.sleep(2)
        sb("kill", "-9", str(pid))
        out, _ = p.communicate(timeout=30)
        lines = out.strip().split("\n")
        assert lines[0].startswith(f"{name}: running"), out
        assert any(l.startswith(f"{name}: restarting") or l.startswith(f"{name}: failed") for l in lines[1:]), out
    finally:
        live.call("DELETE", f"/api/apps/{name}")


def test_a_lost_bus_connection_is_survived(live):
    name = "live-bus"
    body = node_app(name, free_port(), restart_policy="always", restart_sec=30)
    code, res, _ = live.post("/api/apps/register", dict(body, start=True))
    if code == 409:  # a unit left by an interrupted run of this test
        code, res, _ = live.post("/api/apps/register", dict(body, start=True, adopt=True))
    assert code == 201, res
    try:
        s = sse(live)
        assert s.next(lambda e: e.get("event") == "snapshot")
        # Restarting the bus drops every connection: the agent's and systemd's own.
        sb("systemctl", "restart", "dbus.service")
        ev = s.next(lambda e: e.get("event") == "event" and e["json"]["event"]["kind"] == "systemd_resync"
                    and "reconnected" in e["json"]["event"]["message"], timeout=20)
        assert ev, "the lost bus connection was not noticed"
        assert eventually(lambda: app_of(live, name)["status"] == "running" and app_of(live, name)["pid"], timeout=20), \
            app_of(live, name)
        pid = app_of(live, name)["pid"]
        sb("kill", "-9", str(pid))
        ev = s.next(lambda e: e.get("event") == "app" and e["json"]["app"]["name"] == name
                    and e["json"]["app"]["status"] in ("restarting", "failed", "crashed"), timeout=10)
        assert ev, "no signal after the bus came back"
        s.close()
    finally:
        # A worker's own bus connection may fail once after the bus restart: retry.
        assert eventually(lambda: live.call("DELETE", f"/api/apps/{name}")[0] in (200, 404), timeout=15)
