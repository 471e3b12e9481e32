"""Fixtures for the live-logs integration tests (issue 5).

Same set-up as tests/integration/api (the agent in the sandbox $SIAX_SANDBOX, the client
on the host over 127.0.0.1; the helpers are imported from that conftest), with two
differences:
  * the agent runs as a transient systemd service (systemd-run) so that its own output
    goes to the journal (WS /logs shows it) and its PID is the unit's MainPID;
  * the sandbox should run with `--journal-unlimited` (the flood tests write faster than
    journald's default rate limit; without it they still pass but deliver fewer lines).
"""
import asyncio
import importlib.util
import json
import os
import time
import urllib.parse

import pytest

_API_CONFTEST = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "api", "conftest.py")
_spec = importlib.util.spec_from_file_location("siax_api_conftest", _API_CONFTEST)
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)

ROOT, AGENT, APPS, APP_USER = api.ROOT, api.AGENT, api.APPS, api.APP_USER
LOGGER = os.path.join(APPS, "logger")
Api, sb, eventually, free_port = api.Api, api.sb, api.eventually, api.free_port
UNIT = "siax-agent-logs-it"


class ServiceAgent:
    """`siax-agent serve` as a transient unit inside the sandbox."""

    def __init__(self, port, state_dir):
        self.port = port
        self.state_dir = state_dir

    def start(self):
        sb("systemctl", "stop", UNIT, check=False)
        sb("systemctl", "reset-failed", UNIT, check=False)
        sb("systemd-run", f"--unit={UNIT}", "--collect", "-p", "Restart=no", "--", AGENT,
           "--set", f"server.port={self.port}", "--set", f"paths.state_dir={self.state_dir}",
           "--set", "apps.rate_limit_interval_ms=0", "serve")
        a = Api(self.port)
        assert eventually(lambda: api.Agent._healthy(a), timeout=20), "the agent did not come up: " + \
            sb("journalctl", "-u", UNIT, "--no-pager", "-n", "30", check=False).stdout

    def pid(self):
        out = sb("systemctl", "show", "-p", "MainPID", "--value", UNIT).stdout.strip()
        return int(out)

    def open_fds(self):
        return int(sb("sh", "-c", f"ls /proc/{self.pid()}/fd | wc -l").stdout.strip())

    def memory_kib(self, field="RssAnon"):
        """RssAnon: the agent's own memory (RSS also counts the journal files that
        sd-journal maps, page cache shared with journald; RssFile shows that part)."""
        for line in sb("cat", f"/proc/{self.pid()}/status").stdout.splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {field}")

    def rss_kib(self):
        return self.memory_kib("RssAnon")

    def stop(self):
        sb("systemctl", "stop", UNIT, check=False)


@pytest.fixture(scope="session")
def agent():
    sb("sh", "-c", f"id {APP_USER} >/dev/null 2>&1 || useradd --system --no-create-home {APP_USER}")
    a = ServiceAgent(free_port(), "/var/lib/siax-agent-logs-it")
    a.start()
    yield a
    a.stop()


@pytest.fixture(scope="session")
def token(agent):
    return sb("cat", f"{agent.state_dir}/cli-token").stdout.strip()


@pytest.fixture(scope="session")
def admin(agent, token):
    return Api(agent.port, token)


RUN = os.urandom(3).hex()


def register(admin, name, body):
    """Registers and starts the app `name`-<run id> (the journal keeps earlier runs'
    lines under earlier names); returns the name used."""
    name = f"{name}-{RUN}"
    body = dict(body, app_name=name, user=APP_USER, restart_policy="no")
    code, res, _ = admin.post("/api/apps/register", body)
    assert code == 201, res
    code, res, _ = admin.post(f"/api/apps/{name}/start")
    assert code == 200, res
    return name


def node_logger(script, **env):
    return {"app_type": "nodejs", "script_path": f"{LOGGER}/{script}", "working_directory": LOGGER,
            "environment": {k: str(v) for k, v in env.items()}}


def python_logger(script):
    return {"runtime": "python", "script_path": f"{LOGGER}/{script}", "working_directory": LOGGER}


class Viewer:
    """A WebSocket viewer (Python's `websockets`, run with asyncio)."""

    def __init__(self, port, token, path, **query):
        q = urllib.parse.urlencode(query)
        self.uri = f"ws://127.0.0.1:{port}{path}" + (f"?{q}" if q else "")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def connect(self, **kw):
        import websockets
        kw.setdefault("max_size", 8 * 1024 * 1024)
        return websockets.connect(self.uri, extra_headers=self.headers, **kw)


async def collect(ws, until, timeout=20.0):
    """Reads frames until `until(entries, frames)` holds; returns (entries, frames)."""
    entries, frames = [], []
    deadline = time.monotonic() + timeout
    while not until(entries, frames):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out; got {len(entries)} entries, last frames "
                                 f"{[f.get('type') for f in frames[-5:]]}")
        frame = json.loads(await asyncio.wait_for(ws.recv(), left))
        frames.append(frame)
        if frame.get("type") == "entries":
            entries.extend(frame["entries"])
    return entries, frames
