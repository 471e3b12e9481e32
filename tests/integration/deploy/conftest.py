"""Fixtures for the deploy script's tests (desplegar_agent.sh).

They run on the host; the script runs inside a real systemd sandbox
(tools/sandbox/siax-sandbox) that scripts/test.sh boots with the name in $SIAX_SANDBOX,
with the checkout bound at the same path. The script installs the real agent as the
real unit siax-agent.service there; the tests ask the agent over 127.0.0.1 (the sandbox
shares the host's network) and look inside with `siax-sandbox exec`.

Builds used (all made by the normal build, none hand-edited):
  SIAX_AGENT_BIN       the agent (build/debug/src/siax-agent), version 0.1.0
  SIAX_AGENT_NEXT_BIN  the same code with only the version string changed to "0.1.0+next"
                       (target siax-agent-next in tests/CMakeLists.txt)
  broken build         a 6-line shell script written by the `broken_build` fixture: it
                       answers `version` like a build ("siax-agent 0.1.0+broken") and exits 1
                       when started as the service; that is how the rollback is provoked.
"""
import json
import os
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SANDBOX_TOOL = os.path.join(ROOT, "tools", "sandbox", "siax-sandbox")
SCRIPT = os.path.join(ROOT, "desplegar_agent.sh")
AGENT = os.environ.get("SIAX_AGENT_BIN", os.path.join(ROOT, "build", "debug", "src", "siax-agent"))
AGENT_NEXT = os.environ.get("SIAX_AGENT_NEXT_BIN", os.path.join(ROOT, "build", "debug", "tests", "siax-agent-next"))
APPS = os.path.join(ROOT, "tests", "fixtures", "apps")
SANDBOX = os.environ.get("SIAX_SANDBOX", "siax-test")
APP_USER = "siaxapp"
CONF = "/etc/siax-agent/agent.toml"
UNIT = "siax-agent.service"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sb(*cmd, check=True, input=None, user=None, timeout=180):
    """Runs a command inside the sandbox; returns CompletedProcess (text)."""
    pre = [SANDBOX_TOOL, "exec", SANDBOX] + (["--user", user] if user else []) + ["--"]
    p = subprocess.run(pre + list(cmd), capture_output=True, text=True, input=input, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stdout} {p.stderr}")
    return p


def deploy(*args, user=None, input=None):
    """Runs desplegar_agent.sh inside the sandbox; never raises on a non-zero exit."""
    return sb("bash", SCRIPT, *args, check=False, user=user, input=input, timeout=300)


def unit_prop(unit, prop):
    return sb("systemctl", "show", "-p", prop, "--value", unit, check=False).stdout.strip()


def eventually(pred, timeout=10.0, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def http(port, method, path, body=None, headers=None):
    """(status, parsed JSON or text, headers); raises OSError when nothing listens."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            status, text, hdrs = r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        status, text, hdrs = e.code, e.read().decode(), e.headers
    try:
        return status, json.loads(text), hdrs
    except ValueError:
        return status, text, hdrs


def health_version(port):
    try:
        status, body, _ = http(port, "GET", "/api/health")
    except OSError:
        return None
    return body["data"]["version"] if status == 200 else None


def snapshot():
    """What an install owns, to compare before and after a run that must change nothing."""
    return sb("sh", "-c",
              "ls -la --time-style=full-iso /opt/siax-agent /opt/siax-agent/releases /etc/siax-agent "
              "/etc/systemd/system/siax-agent.service /etc/polkit-1/rules.d 2>&1; id siax-agent 2>&1; "
              "cat /etc/siax-agent/agent.toml 2>&1; systemctl show -p MainPID -p NRestarts siax-agent.service",
              check=False).stdout


@pytest.fixture(scope="session")
def broken_build():
    path = os.path.join(ROOT, "build", "deploy-test", "siax-agent-broken")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n"
                "# A deliberately broken build: reports a version like a real one, fails at start-up.\n"
                "if [ \"$1\" = version ]; then echo 'siax-agent 0.1.0+broken'; exit 0; fi\n"
                "echo 'broken build: exiting at start-up' >&2\n"
                "exit 1\n")
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture(scope="session", autouse=True)
def clean_sandbox():
    """No install from an earlier run; the app user exists."""
    sb("sh", "-c", f"id {APP_USER} >/dev/null 2>&1 || useradd --system --no-create-home {APP_USER}")
    deploy("--purge", "--yes")
    yield
    deploy("--purge", "--yes")


def node_app_definition(name, port):
    return {"app_name": name, "app_type": "nodejs", "script_path": f"{APPS}/node-http/server.js",
            "working_directory": f"{APPS}/node-http", "user": APP_USER, "environment": {"PORT": str(port)}}
