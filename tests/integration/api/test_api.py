"""The agent through HTTP, against the real systemd in the sandbox."""
import json
import time

import pytest

from conftest import (AGENT, APPS, APP_USER, Api, eventually, free_port, make_token, node_app, pid_alive, sb)


def unit_file_exists(name):
    return sb("test", "-e", f"/etc/systemd/system/siax-app-{name}.service", check=False).returncode == 0


def status_of(admin, name):
    code, body, _ = admin.get(f"/api/apps/{name}/status")
    assert code == 200, body
    return body["data"]


def wait_window():
    time.sleep(1.05)  # the per-app rate limit is one operation per second


def test_health_needs_no_auth_and_apps_do(agent):
    api = Api(agent.port)
    code, body, _ = api.get("/api/health")
    assert code == 200 and body["success"] and body["data"]["version"]
    code, body, headers = api.get("/api/apps")
    assert code == 401 and body["error"]["code"] == "authentication_required"
    assert "Bearer" in headers.get("WWW-Authenticate", "")


def lifecycle(admin, name, body, probe):
    code, reg, _ = admin.post("/api/apps/register", body)
    assert code == 201, reg
    assert unit_file_exists(name)
    code, res, _ = admin.post(f"/api/apps/{name}/start")
    assert code == 200, res
    pid = status_of(admin, name)["pid"]
    assert pid and pid_alive(pid)
    assert eventually(probe, timeout=20)
    wait_window()
    code, res, _ = admin.post(f"/api/apps/{name}/stop")
    assert code == 200, res
    st = status_of(admin, name)
    # The reconciled status, systemd's own fields beside it.
    assert st["status"] == "stopped" and st["active_state"] == "inactive" and st["pid"] is None, st
    assert eventually(lambda: not pid_alive(pid))
    wait_window()
    admin.post(f"/api/apps/{name}/start")
    pid2 = status_of(admin, name)["pid"]
    wait_window()
    code, res, _ = admin.post(f"/api/apps/{name}/restart")
    assert code == 200, res
    pid3 = status_of(admin, name)["pid"]
    assert pid3 and pid3 != pid2 and pid_alive(pid3)
    assert eventually(lambda: not pid_alive(pid2))
    code, res, _ = admin.call("DELETE", f"/api/apps/{name}")
    assert code == 200, res
    assert not unit_file_exists(name)
    assert eventually(lambda: not pid_alive(pid3))
    code, res, _ = admin.get(f"/api/apps/{name}")
    assert code == 404
    assert name not in [a["name"] for a in admin.get("/api/apps")[1]["data"]]
    cgroup = sb("sh", "-c", f"systemctl show -p LoadState --value siax-app-{name}.service").stdout.strip()
    assert cgroup == "not-found"


def http_ok(port, path="/"):
    import urllib.request
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_node_app_whole_lifecycle(admin):
    port = free_port()
    lifecycle(admin, "it-api-node", node_app("it-api-node", port), lambda: http_ok(port))


def test_fastapi_app_whole_lifecycle(admin):
    port = free_port()
    body = {"app_name": "it-api-fastapi", "app_type": "fastapi", "module": "main:app", "port": port,
            "working_directory": f"{APPS}/fastapi", "user": APP_USER}
    lifecycle(admin, "it-api-fastapi", body, lambda: http_ok(port, "/health"))


def test_rate_limit_refuses_and_runs_nothing(admin):
    port = free_port()
    assert admin.post("/api/apps/register", node_app("it-rate", port))[0] == 201
    code, _, _ = admin.post("/api/apps/it-rate/start")
    assert code == 200
    pid = status_of(admin, "it-rate")["pid"]
    code, body, headers = admin.post("/api/apps/it-rate/restart")
    assert code == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    assert status_of(admin, "it-rate")["pid"] == pid, "a refused restart must not run"
    wait_window()
    code, body, _ = admin.post("/api/apps/it-rate/restart")
    assert code == 200, body
    assert status_of(admin, "it-rate")["pid"] != pid
    admin.call("DELETE", "/api/apps/it-rate")


@pytest.mark.parametrize("mutate,code,error", [
    (lambda b: b.update(script_path=f"{APPS}/node-http/missing.js"), 400, "file_not_found"),
    (lambda b: b.update(user="no-such-user"), 400, "user_not_found"),
    (lambda b: b.update(app_name="../etc"), 400, "invalid_app_name"),
    (lambda b: b.update(user="root"), 400, "root_not_allowed"),
    (lambda b: b["environment"].update({"X": "a\nExecStartPre=/bin/sh"}), 400, "invalid_value"),
])
def test_validation_errors_change_nothing(admin, mutate, code, error):
    body = node_app("it-invalid", free_port())
    mutate(body)
    status, res, _ = admin.post("/api/apps/register", body)
    assert status == code, res
    assert res["error"]["code"] == error
    assert len(res["error"]["message"]) > 20
    assert not unit_file_exists("it-invalid")
    assert admin.get("/api/apps/it-invalid")[0] == 404


def test_malformed_json_oversized_body_and_unknown_app(admin):
    status, res, _ = admin.call("POST", "/api/apps/register", raw=b"{not json")
    assert status == 400 and res["error"]["code"] == "invalid_json"
    status, res, _ = admin.call("POST", "/api/apps/register", raw=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert status == 413
    status, res, _ = admin.post("/api/apps/nope/start")
    assert status == 404 and res["error"]["code"] == "app_not_found"
    assert admin.get("/api/apps/nope/status")[0] == 404
    assert not unit_file_exists("nope")


def test_roles_and_revoked_tokens(agent, admin):
    assert admin.post("/api/apps/register", node_app("it-roles", free_port()))[0] == 201
    viewer = admin.with_token(make_token(agent, "it-viewer", "viewer"))
    operator = admin.with_token(make_token(agent, "it-operator", "operator"))
    assert viewer.get("/api/apps")[0] == 200
    status, res, _ = viewer.post("/api/apps/it-roles/stop")
    assert status == 403 and res["error"]["code"] == "forbidden_role"
    assert operator.post("/api/apps/it-roles/start")[0] == 200
    assert operator.post("/api/apps/register", node_app("it-roles2", free_port()))[0] == 403
    sb(*f"{agent_bin()} --set paths.state_dir={agent.state_dir} token revoke it-viewer".split())
    status, res, _ = viewer.get("/api/apps")
    assert status == 401 and res["error"]["code"] == "invalid_token"
    status, _, _ = admin.with_token("siax_" + "x" * 43).get("/api/apps")
    assert status == 401
    admin.call("DELETE", "/api/apps/it-roles")


def agent_bin():
    from conftest import AGENT
    return AGENT


def test_panel_login_session_and_csrf(agent, admin):
    sb(agent_bin(), "--set", f"paths.state_dir={agent.state_dir}", "user", "set-password", "admin",
       input="correct horse battery staple\n")
    assert admin.post("/api/apps/register", node_app("it-csrf", free_port()))[0] == 201
    panel = Api(agent.port)
    status, res, _ = panel.post("/api/login", {"username": "admin", "password": "wrong password!"})
    assert status == 401
    status, res, headers = panel.post("/api/login", {"username": "admin", "password": "correct horse battery staple"})
    assert status == 200, res
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    panel.cookie = cookie.split(";")[0]
    csrf = res["data"]["csrf_token"]
    assert panel.get("/api/apps")[0] == 200
    status, res, _ = panel.post("/api/apps/it-csrf/start")
    assert status == 403 and res["error"]["code"] == "csrf_failed"
    status, res, _ = panel.post("/api/apps/it-csrf/start", headers={"X-CSRF-Token": "forged"})
    assert status == 403
    status, res, _ = panel.post("/api/apps/it-csrf/start", headers={"X-CSRF-Token": csrf})
    assert status == 200, res
    admin.call("DELETE", "/api/apps/it-csrf")


def test_audit_log_records_mutations(admin):
    status, res, _ = admin.get("/api/audit?limit=200")
    assert status == 200
    actions = {(e["action"], e["result"]) for e in res["data"]}
    assert ("register", "ok") in actions
    assert ("restart", "rate_limited") in actions
    assert ("stop", "forbidden_role") in actions
    entry = res["data"][0]
    assert entry["source"] == "127.0.0.1" and entry["actor"]


def test_system_and_metrics(admin):
    status, res, _ = admin.get("/api/system")
    assert status == 200
    assert res["data"]["systemd_reachable"] and res["data"]["permissions"]["manage_units"]
    status, text, _ = admin.get("/metrics")
    assert status == 200
    assert "siax_operations_total{" in text
    assert "siax_rate_limited_total{app=\"it-rate\"}" in text
    assert "siax_resident_memory_bytes" in text and "siax_open_fds" in text


def test_agent_killed_keeps_registry_and_apps_running(agent, admin):
    port = free_port()
    assert admin.post("/api/apps/register", {**node_app("it-survivor", port), "start": True})[0] == 201
    pid = status_of(admin, "it-survivor")["pid"]
    assert pid_alive(pid)
    agent.kill9()
    assert pid_alive(pid), "systemd owns the apps: killing the agent must not stop them"
    agent.start()
    st = status_of(admin, "it-survivor")
    assert st["pid"] == pid and st["status"] == "running" and st["active_state"] == "active", st
    # The start answered when systemd's job was done, not when node listened (seen late on 257 under load).
    assert eventually(lambda: http_ok(port), timeout=10)
    admin.call("DELETE", "/api/apps/it-survivor")


def test_token_list_says_when_a_token_was_last_used(agent, admin):
    def listed(name):
        out = sb(AGENT, "--json", "--set", f"paths.state_dir={agent.state_dir}", "token", "list").stdout
        return next(t for t in json.loads(out)["data"] if t["name"] == name)

    token = make_token(agent, "it-last-used", "viewer")
    assert listed("it-last-used")["last_used_at_usec"] is None
    assert admin.with_token(token).get("/api/apps")[0] == 200
    assert eventually(lambda: listed("it-last-used")["last_used_at_usec"] is not None, timeout=5)


def test_cli_talks_to_an_agent_serving_https(agent):
    """With TLS on, the CLI trusts the agent's own certificate (pinned) and nothing else."""
    import ssl
    from conftest import https_agent, tls_setup
    d = "/var/lib/siax-agent-tls-it"
    port, conf, _ = tls_setup(d)
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    with https_agent(port, conf, insecure):
        out = sb(AGENT, "--json", *conf, "apps", "list", check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout)["success"] is True
        # Another certificate is not trusted: the CLI refuses to talk rather than leak its token.
        sb("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=other",
           "-keyout", f"{d}/other-key.pem", "-out", f"{d}/other.pem")
        other = [a if not a.startswith("server.tls_cert=") else f"server.tls_cert={d}/other.pem"
                 for a in conf]
        out = sb(AGENT, "--json", *other, "apps", "list", check=False)
        assert out.returncode == 5, out.stdout + out.stderr
        assert "agent_unreachable" in out.stdout, out.stdout


def test_cli_reaches_the_agent_over_its_local_socket_and_sends_no_token_to_the_port(agent):
    """Issue 10, item 7: by default the CLI talks to <state_dir>/agent.sock (made by the agent,
    0660, in its 0750 state dir), never to whatever listens on the configured port; --tcp is
    the explicit way back to TCP."""
    import socket
    import threading
    st = sb("stat", "-c", "%a %F", f"{agent.state_dir}/agent.sock").stdout.strip()
    assert st == "660 socket", st
    # Something else listens on the port the configuration names: it must receive nothing.
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen(4)
    squatter.settimeout(0.2)
    received = []

    def collect():
        while True:
            try:
                conn, _ = squatter.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(2)
            try:
                received.append(conn.recv(65536))
            except OSError:
                pass
            conn.close()
    threading.Thread(target=collect, daemon=True).start()
    conf = ["--set", f"paths.state_dir={agent.state_dir}", "--set", f"server.port={squatter.getsockname()[1]}"]
    try:
        out = sb(AGENT, "--json", *conf, "apps", "list", check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        assert json.loads(out.stdout)["success"] is True
        assert received == [], received
        # --tcp goes to the port, as asked: the squatter sees the request (and its token).
        out = sb(AGENT, "--json", *conf, "--tcp", "apps", "list", check=False)
        assert out.returncode != 0
        assert eventually(lambda: len(received) == 1, timeout=5)
        assert b"Authorization: Bearer" in received[0]
    finally:
        squatter.close()
    # Nobody but root and the agent's user gets through: the state dir keeps others out.
    out = sb("runuser", "-u", "nobody", "--", AGENT, "--json", *conf, "apps", "list", check=False)
    assert out.returncode == 5, out.stdout + out.stderr
    assert "agent_unreachable" in out.stdout
