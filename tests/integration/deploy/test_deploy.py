"""desplegar_agent.sh against a real systemd: install, re-run, upgrade, rollback,
uninstall, purge, failed checks. The tests run in file order and build on each other
(one install goes through its whole life), as an operator's server would."""
import json
import os
import time

import pytest

from conftest import (AGENT, AGENT_NEXT, APP_USER, CONF, SCRIPT, UNIT, deploy, eventually, free_port, health_version,
                      http, node_app_definition, sb, snapshot, unit_prop)

PORT = free_port()
APP = "dep-keepalive"
APP_UNIT = f"siax-app-{APP}.service"
STATE = {}  # facts carried from one test to the next


def app_pid():
    return unit_prop(APP_UNIT, "MainPID")


def agent_gone():
    return (unit_prop(UNIT, "LoadState") == "not-found" and health_version(PORT) is None
            and sb("test", "-e", "/opt/siax-agent", check=False).returncode != 0)


def test_missing_dependency_is_explained_and_changes_nothing():
    before = snapshot()
    # curl really missing (the sandbox's root is a throwaway overlay): the health check needs it.
    sb("mv", "/usr/bin/curl", "/usr/bin/curl.hidden")
    try:
        r = deploy("--binary", AGENT, "--port", str(PORT), "--yes")
    finally:
        sb("mv", "/usr/bin/curl.hidden", "/usr/bin/curl")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "nothing was changed" in r.stderr
    assert "curl is missing" in r.stderr and "fix: apt-get install curl" in r.stderr
    assert snapshot() == before
    assert sb("test", "-e", "/var/log/siax-agent", check=False).returncode != 0, "not even a log may be written"


def test_not_root_and_bad_binary_are_explained_and_change_nothing():
    before = snapshot()
    r = deploy("--binary", "/nonexistent/siax-agent", "--yes", user=APP_USER)
    assert r.returncode == 2
    assert "must run as root" in r.stderr and "fix: sudo bash" in r.stderr
    assert "'/nonexistent/siax-agent' does not exist" in r.stderr
    assert snapshot() == before


def test_fresh_install_is_healthy_and_least_privileged():
    r = deploy("--binary", AGENT, "--port", str(PORT), "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "healthy:" in r.stdout
    # every right, writing unit files through the root unit helper (test_unit_helper.py)
    assert "the agent reports every right it needs" in r.stdout, r.stdout
    assert health_version(PORT) == "0.1.0"
    assert sb("systemctl", "is-active", UNIT).stdout.strip() == "active"
    assert sb("systemctl", "is-enabled", UNIT).stdout.strip() == "enabled"
    # its own user, no login; tight permissions; config root-owned (the agent cannot edit it)
    assert sb("getent", "passwd", "siax-agent").stdout.strip().endswith(":/usr/sbin/nologin")
    assert unit_prop(UNIT, "User") == "siax-agent"
    modes = sb("stat", "-c", "%n %a %U %G", CONF, "/etc/siax-agent", "/var/lib/siax-agent",
               "/var/log/siax-agent").stdout.split("\n")
    assert modes[:4] == [f"{CONF} 640 root siax-agent", "/etc/siax-agent 750 root siax-agent",
                         "/var/lib/siax-agent 750 siax-agent siax-agent", "/var/log/siax-agent 750 root siax-agent"]
    # Type=notify with the watchdog, pinged by the agent
    assert unit_prop(UNIT, "Type") == "notify"
    assert unit_prop(UNIT, "WatchdogUSec") == "30s"
    assert eventually(lambda: "systemd watchdog: pinging every 15000 ms" in
                      sb("journalctl", "-u", UNIT, "-o", "cat", "--no-pager").stdout)
    # rights: manage siax-app-* units and read the journal; the agent's user cannot write the
    # unit directory itself (without the unit helper's socket, the CLI says so)
    perms = sb("runuser", "-u", "siax-agent", "--", "siax-agent", "--json", "--config", CONF, "permissions",
               check=False).stdout
    data = json.loads(perms)["data"]
    assert data["manage_units"] is True
    assert data["write_unit_files"] is False
    STATE["release"] = sb("readlink", "/opt/siax-agent/current").stdout.strip()


def test_admin_credential_is_usable_and_the_api_answers():
    password = "deploy-test-Pa55word"
    sb("runuser", "-u", "siax-agent", "--", "siax-agent", "--config", CONF, "user", "set-password", "admin",
       input=password + "\n")
    status, body, headers = http(PORT, "POST", "/api/login", {"username": "admin", "password": password})
    assert status == 200, body
    assert body["data"]["role"] == "admin"
    cookie = headers["Set-Cookie"].split(";")[0]
    status, body, _ = http(PORT, "GET", "/api/system", headers={"Cookie": cookie})
    assert status == 200 and body["data"]["version"] == "0.1.0"
    # no right is missing (the panel's yellow banner stays off): unit files go through the helper
    assert body["data"]["missing"] == [], body["data"]["missing"]
    assert body["data"]["permissions"]["write_unit_files"] is True
    # the local CLI's token (root reads it) works too
    status, _, _ = http(PORT, "GET", "/api/apps",
                        headers={"Authorization": "Bearer " + sb("cat", "/var/lib/siax-agent/cli-token").stdout.strip()})
    assert status == 200


def test_a_managed_app_runs_under_the_agent():
    """Unit written by root's CLI (user mode cannot write units), started by the agent's user (polkit)."""
    port = free_port()
    definition = os.path.join(os.path.dirname(SCRIPT), "build", "deploy-test", "app.json")
    os.makedirs(os.path.dirname(definition), exist_ok=True)
    with open(definition, "w") as f:
        json.dump(node_app_definition(APP, port), f)
    sb("siax-agent", "--config", CONF, "unit", "install", definition)
    sb("runuser", "-u", "siax-agent", "--", "siax-agent", "--config", CONF, "unit", "start", APP)
    assert eventually(lambda: sb("systemctl", "is-active", APP_UNIT, check=False).stdout.strip() == "active")
    STATE["app_pid"] = app_pid()
    assert STATE["app_pid"] not in ("", "0")


def test_rerun_with_the_same_build_changes_nothing():
    before = snapshot()
    pid = unit_prop(UNIT, "MainPID")
    r = deploy("--binary", AGENT, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already installed" in r.stdout and "nothing changed" in r.stdout
    assert unit_prop(UNIT, "MainPID") == pid, "the agent must not even be restarted"
    assert snapshot() == before
    assert app_pid() == STATE["app_pid"]


def test_upgrade_reports_the_new_version_and_keeps_edits_and_apps():
    sb("sh", "-c", f"printf '# edited by the operator\\n' >> {CONF}")
    r = deploy("--binary", AGENT_NEXT, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert health_version(PORT) == "0.1.0+next"
    assert "kept the existing configuration" in r.stdout
    assert "# edited by the operator" in sb("cat", CONF).stdout
    releases = sb("ls", "/opt/siax-agent/releases").stdout.split()
    assert len(releases) == 2 and any(r.startswith("0.1.0+next-") for r in releases), releases
    assert app_pid() == STATE["app_pid"], "the app must keep running through the upgrade"
    STATE["next_release"] = sb("readlink", "/opt/siax-agent/current").stdout.strip()


def test_broken_upgrade_is_rolled_back(broken_build):
    r = deploy("--binary", broken_build, "--health-timeout", "20", "--yes")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ROLLED BACK" in r.stderr
    assert "failed:   siax-agent 0.1.0+broken" in r.stderr
    assert "restored: siax-agent 0.1.0+next" in r.stderr
    assert "broken build: exiting at start-up" in r.stderr, "the report shows the agent's last journal lines"
    assert health_version(PORT) == "0.1.0+next"
    assert sb("readlink", "/opt/siax-agent/current").stdout.strip() == STATE["next_release"]
    assert not any("broken" in d for d in sb("ls", "/opt/siax-agent/releases").stdout.split())
    assert app_pid() == STATE["app_pid"], "the app must keep running through the failed upgrade and the rollback"
    assert "rolled back" in sb("cat", "/var/log/siax-agent/deploy.log").stdout


def test_a_package_of_the_running_build_is_already_installed():
    out = os.path.join(os.path.dirname(SCRIPT), "build", "deploy-test", "pkg-next")
    r = deploy("--make-package", out, "--binary", AGENT_NEXT)
    assert r.returncode == 0, r.stdout + r.stderr
    package = os.path.join(out, "siax-agent-0.1.0+next.tar.gz")
    pid = unit_prop(UNIT, "MainPID")
    r = deploy("--package", package, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already installed: siax-agent 0.1.0+next" in r.stdout
    assert unit_prop(UNIT, "MainPID") == pid


def test_manual_rollback_goes_back_and_forth():
    r = deploy("--rollback", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert health_version(PORT) == "0.1.0"
    r = deploy("--rollback", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert health_version(PORT) == "0.1.0+next"
    assert sb("readlink", "/opt/siax-agent/current").stdout.strip() == STATE["next_release"]
    assert app_pid() == STATE["app_pid"]


def test_watchdog_restarts_a_wedged_agent():
    """A frozen io thread stops the pings: systemd kills and restarts the agent."""
    sb("mkdir", "-p", "/run/systemd/system/siax-agent.service.d")
    sb("sh", "-c", "printf '[Service]\\nWatchdogSec=3\\n' > /run/systemd/system/siax-agent.service.d/wd.conf")
    sb("systemctl", "daemon-reload")
    sb("systemctl", "restart", UNIT)
    pid, restarts = unit_prop(UNIT, "MainPID"), int(unit_prop(UNIT, "NRestarts"))
    # Alive and pinging: longer than WatchdogSec= without being killed.
    time.sleep(5)
    assert unit_prop(UNIT, "MainPID") == pid and int(unit_prop(UNIT, "NRestarts")) == restarts
    sb("kill", "-STOP", pid)
    assert eventually(lambda: int(unit_prop(UNIT, "NRestarts")) > restarts, timeout=15)
    assert eventually(lambda: health_version(PORT) == "0.1.0+next", timeout=20)
    assert unit_prop(UNIT, "MainPID") != pid
    assert "Watchdog timeout" in sb("journalctl", "-u", UNIT, "--no-pager").stdout
    sb("rm", "-rf", "/run/systemd/system/siax-agent.service.d")
    sb("systemctl", "daemon-reload")
    assert app_pid() == STATE["app_pid"]


def test_uninstall_removes_the_agent_and_leaves_the_app_running():
    r = deploy("--uninstall")  # no terminal and no --yes: refused
    assert r.returncode == 4 and "re-run with --yes" in r.stderr
    assert health_version(PORT) == "0.1.0+next"
    r = deploy("--uninstall", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "will remove" in r.stdout
    assert eventually(agent_gone)
    assert sb("test", "-e", "/usr/local/bin/siax-agent", check=False).returncode != 0
    assert sb("test", "-e", "/etc/polkit-1/rules.d/50-siax-agent.rules", check=False).returncode != 0
    assert sb("test", "-e", "/usr/local/libexec/siax-agent/siax-unit-check", check=False).returncode != 0
    for helper in ("siax-agent-helper.socket", "siax-agent-helper.service"):
        assert sb("test", "-e", f"/etc/systemd/system/{helper}", check=False).returncode != 0, helper
    assert app_pid() == STATE["app_pid"], "the app must keep running after the agent is gone"
    assert sb("test", "-f", CONF).returncode == 0, "the configuration is kept"


def test_root_mode_registers_apps_and_purge_removes_them():
    r = deploy("--binary", AGENT, "--mode", "root", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the agent reports every right it needs" in r.stdout, r.stdout
    assert health_version(PORT) == "0.1.0"
    assert unit_prop(UNIT, "User") in ("", "root")
    token = sb("cat", "/var/lib/siax-agent/cli-token").stdout.strip()
    auth = {"Authorization": "Bearer " + token}
    status, body, _ = http(PORT, "POST", "/api/apps/register", node_app_definition("dep-root", free_port()), auth)
    assert status == 201, body
    status, body, _ = http(PORT, "POST", "/api/apps/dep-root/start", None, auth)
    assert status == 200, body
    assert app_pid() == STATE["app_pid"]

    r = deploy("--purge", "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    listed = r.stdout.split("--purge will stop and remove:")[1].split("Purge siax-agent")[0]
    assert "siax-app-dep-root.service (active)" in listed and APP_UNIT in listed
    assert eventually(agent_gone)
    for path in ("/etc/systemd/system/siax-app-dep-root.service", f"/etc/systemd/system/{APP_UNIT}",
                 "/etc/siax-agent", "/var/lib/siax-agent", "/var/log/siax-agent"):
        assert sb("test", "-e", path, check=False).returncode != 0, path
    assert sb("id", "siax-agent", check=False).returncode != 0
    assert unit_prop(APP_UNIT, "LoadState") == "not-found"
