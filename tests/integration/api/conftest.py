"""Fixtures for the HTTP API integration tests.

They run on the host, against a real agent running inside a real systemd sandbox
(tools/sandbox/siax-sandbox), which scripts/test.sh boots with the name in
$SIAX_SANDBOX. The agent is started and stopped here; the tests talk to it over
127.0.0.1 (the sandbox shares the host's network) and look inside the sandbox
(PIDs, unit files) with `siax-sandbox exec`.
"""
import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SANDBOX_TOOL = os.path.join(ROOT, "tools", "sandbox", "siax-sandbox")
AGENT = os.environ.get("SIAX_AGENT_BIN", os.path.join(ROOT, "build", "debug", "src", "siax-agent"))
APPS = os.path.join(ROOT, "tests", "fixtures", "apps")
SANDBOX = os.environ.get("SIAX_SANDBOX", "siax-test")
APP_USER = "siaxapp"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sb(*cmd, check=True, input=None):
    """Runs a command inside the sandbox; returns CompletedProcess (text)."""
    p = subprocess.run([SANDBOX_TOOL, "exec", SANDBOX, "--", *cmd], capture_output=True, text=True,
                       input=input, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stdout} {p.stderr}")
    return p


def pid_alive(pid):
    return pid is not None and sb("test", "-d", f"/proc/{pid}", check=False).returncode == 0


def eventually(pred, timeout=10.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def tls_setup(d):
    """A fresh directory `d` in the sandbox with a self-signed certificate (cert.pem and
    key.pem, CN=localhost) and the agent options that serve HTTPS with it on a free port:
    (port, options, the certificate's PEM text)."""
    sb("rm", "-rf", d)
    sb("mkdir", "-p", d)
    sb("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
       "-subj", "/CN=localhost", "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem")
    port = free_port()
    conf = ["--set", f"server.port={port}", "--set", f"paths.state_dir={d}/state",
            "--set", f"server.tls_cert={d}/cert.pem", "--set", f"server.tls_key={d}/key.pem"]
    return port, conf, sb("cat", f"{d}/cert.pem").stdout


@contextlib.contextmanager
def https_agent(port, conf, context):
    """`siax-agent serve` with `conf` in the sandbox, once /api/health answers over HTTPS
    (checked with the ssl `context`); stopped (SIGTERM) when the block ends."""
    proc = subprocess.Popen([SANDBOX_TOOL, "exec", SANDBOX, "--", AGENT, *conf, "serve"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}/api/health", context=context, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False
    try:
        assert eventually(up, timeout=20), "the HTTPS agent did not answer /api/health"
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


class Api:
    """A tiny client: returns (status, envelope-or-text, headers)."""

    def __init__(self, port, token=None):
        self.base = f"http://127.0.0.1:{port}"
        self.token = token
        self.cookie = None
        self.csrf = None

    def with_token(self, token):
        return Api(int(self.base.rsplit(":", 1)[1]), token)

    def call(self, method, path, body=None, raw=None, headers=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        if self.cookie:
            req.add_header("Cookie", self.cookie)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=90) as r:
                status, text, hdrs = r.status, r.read().decode(), dict(r.headers)
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode(), dict(e.headers)
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body=body, **kw)


class Agent:
    """The agent inside the sandbox, started with `siax-agent serve`."""

    def __init__(self, port, state_dir, extra=()):
        self.port = port
        self.state_dir = state_dir
        self.extra = list(extra)  # more "--set key=value" pairs, e.g. the cloud's
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [SANDBOX_TOOL, "exec", SANDBOX, "--", AGENT, "--set", f"server.port={self.port}",
             "--set", f"paths.state_dir={self.state_dir}", "--set", "apps.scan_interval_ms=1000",
             *[a for kv in self.extra for a in ("--set", kv)], "serve"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        api = Api(self.port)
        assert eventually(lambda: self._healthy(api), timeout=20), "the agent did not come up"

    @staticmethod
    def _healthy(api):
        try:
            return api.get("/api/health")[0] == 200
        except OSError:
            return False

    def agent_pid(self):
        out = sb("pgrep", "-f", f"server.port={self.port}", check=False).stdout.split()
        return [int(p) for p in out]

    def kill9(self):
        for pid in self.agent_pid():
            sb("kill", "-9", str(pid), check=False)
        if self.proc:
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None


@pytest.fixture(scope="session")
def agent():
    sb("sh", "-c", f"id {APP_USER} >/dev/null 2>&1 || useradd --system --no-create-home {APP_USER}")
    sb("rm", "-rf", "/var/lib/siax-agent-it")  # tokens and apps of an earlier run would collide
    a = Agent(free_port(), "/var/lib/siax-agent-it")
    a.start()
    yield a
    a.stop()


@pytest.fixture(scope="session")
def admin(agent):
    token = sb("cat", f"{agent.state_dir}/cli-token").stdout.strip()
    return Api(agent.port, token)


def make_token(agent, name, role):
    out = sb(AGENT, "--json", "--set", f"paths.state_dir={agent.state_dir}", "token", "create", name,
             "--role", role).stdout
    return json.loads(out)["data"]["token"]


def node_app(name, port, **extra):
    body = {"app_name": name, "app_type": "nodejs", "script_path": f"{APPS}/node-http/server.js",
            "working_directory": f"{APPS}/node-http", "user": APP_USER, "environment": {"PORT": str(port)}}
    body.update(extra)
    return body
