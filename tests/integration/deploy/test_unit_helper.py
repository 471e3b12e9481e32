"""The root unit helper in user mode (desplegar_agent.sh installs siax-agent-helper.socket):
the agent, running as `siax-agent` with NoNewPrivileges=yes, registers, updates, enables,
disables and deletes apps through it; nobody else can use it; hostile requests are refused
and change nothing. Real systemd in the sandbox, the real agent, a real Node.js app.
The tests run in file order on one install (made by the first, purged by the last)."""
import json
import time

from conftest import (AGENT, APPS, APP_USER, CONF, SCRIPT, UNIT, deploy, eventually, free_port, http,
                      node_app_definition, sb, unit_prop)

PORT = free_port()
HELPER = "siax-agent-helper"
SOCK = "/run/siax-agent/helper.sock"
UNITS = "/etc/systemd/system"
SECRETS = "/etc/siax-agent/secrets"
APP = "hlp-user"
APP_UNIT = f"siax-app-{APP}.service"
SECRET_VALUE = "s3cr3t-Helper-value"
STATE = {}

# A client of the helper's socket, run inside the sandbox as a given user: the request on
# stdin, the reply (or the connection error) on stdout.
CLIENT = r"""
import socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("CONNECT-ERROR", e.errno, e.strerror); sys.exit(0)
try:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
except OSError as e:
    pass
out = b""
while True:
    try:
        b = s.recv(65536)
    except OSError:
        break
    if not b:
        break
    out += b
print(out.decode())
"""


def helper_call(request, user="siax-agent"):
    """Sends a request (dict, or raw str/bytes) to the helper as `user`; the parsed reply."""
    raw = request if isinstance(request, str) else json.dumps(request)
    out = sb("runuser", "-u", user, "--", "/usr/bin/python3", "-c", CLIENT, SOCK, input=raw).stdout.strip()
    if out.startswith("CONNECT-ERROR"):
        return {"connect_error": out}
    return json.loads(out)


def auth():
    return {"Authorization": "Bearer " + sb("cat", "/var/lib/siax-agent/cli-token").stdout.strip()}


def api(method, path, body=None):
    status, data, _ = http(PORT, method, path, body, auth())
    return status, data


def what_the_helper_could_change():
    """Unit files, secret files and loaded siax-app units, with owners, modes and content hashes."""
    return sb("sh", "-c",
              f"cd {UNITS} && ls -la --time-style=full-iso . | grep -v ' \\.$'; sha256sum siax-app-* 2>/dev/null; "
              f"ls -la --time-style=full-iso {SECRETS}; sha256sum {SECRETS}/* 2>/dev/null; "
              "systemctl list-units --all --no-legend 'siax-app-*'; systemctl list-unit-files --no-legend 'siax-app-*'",
              check=False).stdout


def definition(port, **extra):
    d = node_app_definition(APP, port)
    d.update(extra)
    return d


def test_user_mode_install_has_the_helper_root_owned_and_every_right():
    r = deploy("--binary", AGENT, "--port", str(PORT), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "installed the unit helper" in r.stdout
    assert "the agent reports every right it needs" in r.stdout, r.stdout
    assert unit_prop(UNIT, "User") == "siax-agent" and unit_prop(UNIT, "NoNewPrivileges") == "yes"
    # the helper's unit files: root's, 0644; its socket: root:siax-agent 0660
    assert sb("stat", "-c", "%a %U %G", f"{UNITS}/{HELPER}.socket", f"{UNITS}/{HELPER}.service").stdout.split("\n")[:2] \
        == ["644 root root", "644 root root"]
    assert sb("stat", "-c", "%F %a %U %G", SOCK).stdout.strip() == "socket 660 root siax-agent"
    assert sb("stat", "-c", "%a %U %G", SECRETS).stdout.strip() == "700 root root"
    assert sb("systemctl", "is-active", f"{HELPER}.socket").stdout.strip() == "active"
    assert sb("systemctl", "is-enabled", f"{HELPER}.socket").stdout.strip() == "enabled"
    assert unit_prop(f"{HELPER}.service", "User") in ("", "root")
    assert unit_prop(f"{HELPER}.service", "NoNewPrivileges") == "yes"
    assert unit_prop(f"{HELPER}.service", "ProtectSystem") == "strict"
    status, data = api("GET", "/api/system")
    assert status == 200 and data["data"]["permissions"]["write_unit_files"] is True
    assert data["data"]["missing"] == [], data["data"]["missing"]
    # the CLI, as the agent's user with the helper's socket, says the same
    perms = sb("runuser", "-u", "siax-agent", "--", "env", f"SIAX_UNIT_HELPER_SOCKET={SOCK}", "siax-agent", "--json",
               "--config", CONF, "permissions").stdout
    assert json.loads(perms)["data"]["write_unit_files"] is True
    r = deploy("--check", "--binary", AGENT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"the unit helper {HELPER}.socket listens on {SOCK}" in r.stdout
    # re-running the same build leaves the helper as it is
    r = deploy("--binary", AGENT, "--yes")
    assert r.returncode == 0 and "already installed" in r.stdout, r.stdout + r.stderr


def test_register_start_update_disable_enable_delete_through_the_helper():
    port = free_port()
    # '%' in a value is written escaped: systemd sees it literally, no specifier is expanded
    body = definition(port, environment={"PORT": str(port), "PCT": "50%n%u"},
                      secret_environment={"API_TOKEN": SECRET_VALUE})
    status, data = api("POST", "/api/apps/register", body)
    assert status == 201, data
    unit_file = f"{UNITS}/{APP_UNIT}"
    assert sb("stat", "-c", "%a %U %G", unit_file).stdout.strip() == "644 root root"
    text = sb("cat", unit_file).stdout
    assert text.startswith("# Managed by siax-agent") and f"User={APP_USER}" in text
    assert f"EnvironmentFile={SECRETS}/{APP}.env" in text
    assert SECRET_VALUE not in text
    assert sb("stat", "-c", "%a %U %G", f"{SECRETS}/{APP}.env").stdout.strip() == "600 root root"
    assert SECRET_VALUE in sb("cat", f"{SECRETS}/{APP}.env").stdout

    status, data = api("POST", f"/api/apps/{APP}/start")
    assert status == 200, data
    assert eventually(lambda: unit_prop(APP_UNIT, "ActiveState") == "active")
    assert "PCT=50%n%u" in unit_prop(APP_UNIT, "Environment")
    pid = unit_prop(APP_UNIT, "MainPID")
    # the app really got its secret (root's file, read by systemd)
    env = sb("sh", "-c", f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout
    assert f"API_TOKEN={SECRET_VALUE}" in env and "PCT=50%n%u" in env

    # update without secret_environment: the unit changes, the secret file stays, the app restarts
    status, data = api("PUT", f"/api/apps/{APP}", definition(port, environment={"PORT": str(port), "V": "2"}))
    assert status == 200, data
    assert "V=2" in sb("cat", unit_file).stdout
    assert SECRET_VALUE in sb("cat", f"{SECRETS}/{APP}.env").stdout
    assert eventually(lambda: unit_prop(APP_UNIT, "MainPID") not in ("", "0", pid), timeout=15)
    assert unit_prop(APP_UNIT, "ActiveState") == "active"

    for verb, want in (("enable", "enabled"), ("disable", "disabled"), ("enable", "enabled")):
        time.sleep(1.1)  # apps.rate_limit_interval_ms: one operation per app per second
        status, data = api("POST", f"/api/apps/{APP}/{verb}")
        assert status == 200, (verb, data)
        assert sb("systemctl", "is-enabled", APP_UNIT, check=False).stdout.strip() == want

    time.sleep(1.1)
    status, data = api("DELETE", f"/api/apps/{APP}")
    assert status == 200 and data["data"]["deleted"] is True, data
    for path in (unit_file, f"{SECRETS}/{APP}.env"):
        assert sb("test", "-e", path, check=False).returncode != 0, path
    assert unit_prop(APP_UNIT, "LoadState") == "not-found"
    assert sb("test", "-e", f"{UNITS}/multi-user.target.wants/{APP_UNIT}", check=False).returncode != 0

    # the helper logged each action to the journal, never a secret value
    log = sb("journalctl", "-u", f"{HELPER}.service", "-o", "cat", "--no-pager").stdout
    for line in (f"install {APP} (user {APP_USER}, 1 secret name(s), secret values sent: 1): done",
                 f"install {APP} (user {APP_USER}, 1 secret name(s), secret values kept): done",
                 f"enable {APP}: done", f"disable {APP}: done", f"remove {APP}: done"):
        assert line in log, (line, log)
    assert SECRET_VALUE not in sb("journalctl", "--no-pager", "-o", "cat").stdout


def test_nobody_but_the_agents_user_and_root_can_use_the_helper():
    before = what_the_helper_could_change()
    # a local user outside the group: the socket's mode already refuses the connection
    reply = helper_call({"op": "ping"}, user=APP_USER)
    assert reply.get("connect_error", "").startswith("CONNECT-ERROR 13"), reply  # EACCES
    # a user put in the agent's group: connects, but SO_PEERCRED says it is not the agent
    sb("sh", "-c", "id hlp-intruder >/dev/null 2>&1 || useradd --system --no-create-home hlp-intruder; "
                   "usermod -a -G siax-agent hlp-intruder")
    try:
        reply = helper_call({"op": "enable", "app": "anything"}, user="hlp-intruder")
        uid = sb("id", "-u", "hlp-intruder").stdout.strip()
    finally:
        sb("userdel", "hlp-intruder")
    assert reply.get("ok") is False and reply["error"]["code"] == "peer_not_allowed", reply
    assert eventually(lambda: f"uid {uid} pid" in sb("journalctl", "-u", f"{HELPER}.service", "-o", "cat",
                                                     "--no-pager").stdout)
    # the agent's user and root are served
    assert helper_call({"op": "ping"})["ok"] is True
    assert helper_call({"op": "ping"}, user="root")["ok"] is True
    assert what_the_helper_could_change() == before


def test_hostile_requests_are_refused_and_change_nothing():
    port = free_port()
    # a unit an operator wrote by hand (no siax-agent marker): the helper must not remove it
    sb("sh", "-c", f"printf '[Service]\\nExecStart=/bin/true\\n' > {UNITS}/siax-app-hlp-foreign.service")
    before = what_the_helper_could_change()
    good = definition(port)
    cases = {
        "newline in an environment value":
            {"op": "install", "definition": dict(good, environment={"X": "a\nExecStartPre=/bin/sh -c id"})},
        "newline in the description":
            {"op": "install", "definition": dict(good, description="x\n[Service]\nUser=root")},
        "newline in a secret value":
            {"op": "install", "definition": good, "secret_environment": {"K": "v\nExecStartPre=/bin/sh"}},
        "User=root": {"op": "install", "definition": dict(good, user="root")},
        "unit text": {"op": "install", "definition": good, "unit": "[Service]\nExecStart=/bin/sh\nUser=root\n"},
        "an unknown op": {"op": "write", "path": f"{UNITS}/evil.service", "content": "x"},
        "a name with a path": {"op": "remove", "app": "../../../etc/passwd"},
        "a unit name": {"op": "disable", "app": "dbus.service"},
        "a name outside the prefix, as a definition": {"op": "install", "definition": dict(good, app_name="x/../dbus")},
        "not JSON": "{\"op\": \"install\", ",
        "oversized": json.dumps({"op": "install", "definition": dict(good, description="a" * 70000)}),
    }
    for what, request in cases.items():
        reply = helper_call(request)
        assert reply.get("ok") is False, (what, reply)
        assert reply["error"]["kind"] in ("invalid_input", "permission_denied"), (what, reply)
    assert helper_call(cases["oversized"])["error"]["code"] == "request_too_large"
    assert "root" in helper_call(cases["User=root"])["error"]["message"]
    # names become siax-app-<name>.service: "dbus" cannot reach dbus.service
    reply = helper_call({"op": "enable", "app": "dbus"})
    assert reply["ok"] is False and reply["error"]["kind"] == "not_found", reply
    reply = helper_call({"op": "remove", "app": "hlp-foreign"})
    assert reply["ok"] is False and reply["error"]["code"] == "unit_foreign", reply
    assert what_the_helper_could_change() == before
    # the same refusals through the API: a root app is refused, nothing written
    status, data = api("POST", "/api/apps/register", dict(good, app_name="hlp-root", user="root"))
    assert status == 400, data
    assert what_the_helper_could_change() == before
    sb("rm", "-f", f"{UNITS}/siax-app-hlp-foreign.service")


def test_without_the_helper_the_right_is_missing_and_the_api_says_403():
    sb("systemctl", "stop", f"{HELPER}.socket", f"{HELPER}.service")
    try:
        status, data = api("GET", "/api/system")
        assert data["data"]["permissions"]["write_unit_files"] is False
        assert any("unit helper" in m and SOCK in m for m in data["data"]["missing"]), data["data"]["missing"]
        status, data = api("POST", "/api/apps/register", definition(free_port()))
        assert status == 403, data
        assert data["error"]["details"]["missing_right"] == "write_unit_files", data
        assert sb("test", "-e", f"{UNITS}/{APP_UNIT}", check=False).returncode != 0
        r = deploy("--check", "--binary", AGENT)
        assert r.returncode == 2 and "unit helper" in r.stderr, r.stdout + r.stderr
    finally:
        sb("systemctl", "start", f"{HELPER}.socket")
    status, data = api("GET", "/api/system")
    assert data["data"]["missing"] == [], data


def test_root_mode_removes_the_helper_and_purge_leaves_nothing():
    r = deploy("--binary", AGENT, "--mode", "root", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "removed the unit helper" in r.stdout
    for path in (f"{UNITS}/{HELPER}.socket", f"{UNITS}/{HELPER}.service", SOCK):
        assert sb("test", "-e", path, check=False).returncode != 0, path
    r = deploy("--mode", "user", "--binary", AGENT, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sb("systemctl", "is-active", f"{HELPER}.socket").stdout.strip() == "active"
    r = deploy("--purge", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    for path in (f"{UNITS}/{HELPER}.socket", f"{UNITS}/{HELPER}.service", SOCK, "/etc/siax-agent"):
        assert sb("test", "-e", path, check=False).returncode != 0, path
    assert unit_prop(f"{HELPER}.socket", "LoadState") == "not-found"
