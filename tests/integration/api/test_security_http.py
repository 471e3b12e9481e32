"""Issue 10, items 4, 5, 6, 8, 9 and 10, against the real agent in the sandbox: connection
floods, audit floods, secrets in definitions, sessions after a password change, the 413
for Python's http.client, deep JSON, plain HTTP on a remote address, the CLI's token."""
import http.client
import json
import os
import select
import socket
import time

from conftest import AGENT, APP_USER, Api, eventually, free_port, make_token, node_app, sb

RUN = os.urandom(3).hex()


def audit_newest_id(admin):
    code, body, _ = admin.get("/api/audit?limit=1")
    assert code == 200, body
    return body["data"][0]["id"] if body["data"] else 0


def health_from(port, source):
    """GET /api/health from the local address `source` (another loopback address is
    another client to the agent)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/api/health")
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_flood_from_one_address_cannot_take_every_slot(agent):
    held = []
    try:
        for _ in range(40):  # over the 32 one address may hold
            s = socket.create_connection(("127.0.0.1", agent.port), timeout=5)
            held.append(s)
        time.sleep(0.5)
        readable, _, _ = select.select(held, [], [], 1.0)
        refused = sum(1 for s in readable if s.recv(4096).startswith(b"HTTP/1.1 503"))
        # The agent answers 503 too_many_connections to those over 32 and nothing (yet) to
        # the others, which wait for their request.
        assert refused >= 8 and len(held) - refused <= 32, refused
        # Another client is still served while the flood holds its 32.
        assert health_from(agent.port, "127.0.0.2") == 200
    finally:
        for s in held:
            s.close()
    assert eventually(lambda: health_from(agent.port, "127.0.0.1") == 200, timeout=10)


def test_refused_strangers_do_not_write_the_audit_log(agent, admin):
    before = audit_newest_id(admin)
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    statuses = set()
    t0 = time.monotonic()
    for i in range(2000):
        headers = {"Content-Type": "application/json"}
        if i % 2:
            headers["Authorization"] = "Bearer siax_garbage"
        conn.request("POST", f"/api/apps/flood-{i}/start", body=b"{}", headers=headers)
        r = conn.getresponse()
        r.read()
        statuses.add(r.status)
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    conn.close()
    print(f"\n2000 refused mutations in {time.monotonic() - t0:.2f} s")
    assert statuses == {401}
    assert audit_newest_id(admin) == before
    code, metrics, _ = admin.get("/metrics")
    assert code == 200
    line = next(l for l in metrics.splitlines() if l.startswith("siax_http_unauthenticated_total "))
    assert int(line.split()[1]) >= 2000


def test_viewers_and_operators_see_no_environment_values(agent, admin):
    name = f"sec-env-{RUN}"
    body = node_app(name, free_port(), environment={"PORT": "3000", "DB_PASSWORD": "hunter2-s3cret"})
    code, res, _ = admin.post("/api/apps/register", body)
    assert code == 201, res
    for role in ("viewer", "operator"):
        who = Api(agent.port, make_token(agent, f"{role}-{RUN}", role))
        # From the live state (no unit file) and read afresh (with the unit file).
        for query in ("", "?fresh=1"):
            code, res, _ = who.get(f"/api/apps/{name}{query}")
            assert code == 200, res
            text = json.dumps(res)
            assert "hunter2" not in text, (role, query)
            assert res["data"]["definition"]["environment"] == {"PORT": "***", "DB_PASSWORD": "***"}
        assert 'Environment="DB_PASSWORD=***"' in res["data"]["unit_file"]["content"]
        assert 'Environment="DB_PASSWORD=***"' in res["data"]["unit_file"]["rendered"]
    code, res, _ = admin.get(f"/api/apps/{name}?fresh=1")
    assert res["data"]["definition"]["environment"]["DB_PASSWORD"] == "hunter2-s3cret"
    assert "hunter2-s3cret" in res["data"]["unit_file"]["content"]


def login(port, user, password):
    panel = Api(port)
    code, res, headers = panel.post("/api/login", {"username": user, "password": password})
    assert code == 200, res
    panel.cookie = headers["Set-Cookie"].split(";")[0]
    return panel


def test_a_password_change_ends_the_users_sessions(agent):
    user = f"bob{RUN}"
    cli = [AGENT, "--set", f"paths.state_dir={agent.state_dir}", "user", "set-password", user]
    sb(*cli, "--role", "viewer", input="first password 123\n")
    panel = login(agent.port, user, "first password 123")
    assert panel.get("/api/session")[0] == 200
    other = login(agent.port, f"bob{RUN}", "first password 123")
    sb(*cli, input="second password 456\n")
    assert eventually(lambda: panel.get("/api/session")[0] == 401, timeout=6), "the session outlived the change"
    assert other.get("/api/apps")[0] == 401
    assert login(agent.port, user, "second password 456").get("/api/session")[0] == 200


def test_logout_needs_the_csrf_token(agent):
    user = f"carol{RUN}"
    sb(AGENT, "--set", f"paths.state_dir={agent.state_dir}", "user", "set-password", user, "--role", "viewer",
       input="carol password 1\n")
    code, res, headers = Api(agent.port).post("/api/login", {"username": user, "password": "carol password 1"})
    assert code == 200, res
    panel = Api(agent.port)
    panel.cookie = headers["Set-Cookie"].split(";")[0]
    code, res, _ = panel.post("/api/logout")
    assert code == 403 and res["error"]["code"] == "csrf_failed", res
    assert panel.get("/api/session")[0] == 200  # still logged in
    code, res, _ = panel.post("/api/logout", headers={"X-CSRF-Token": panel_csrf(panel)})
    assert code == 200, res
    assert panel.get("/api/session")[0] == 401


def panel_csrf(panel):
    return panel.get("/api/session")[1]["data"]["csrf_token"]


def test_login_needs_json(agent):
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=10)
    conn.request("POST", "/api/login", body="username=admin&password=x",
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 415 and body["error"]["code"] == "json_required"


def test_pythons_http_client_gets_the_413_for_a_2_mib_body(agent, admin):
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=20)
    conn.request("POST", "/api/apps/register", body=b"x" * (2 * 1024 * 1024),
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {admin.token}"})
    r = conn.getresponse()
    body = json.loads(r.read())
    conn.close()
    assert r.status == 413 and body["error"]["code"] == "body_too_large"


def test_deep_json_is_refused_and_the_agent_stays_up(agent, admin):
    deep = "[" * 300_000 + "]" * 300_000
    raw = ('{"app_name": "deep", "app_type": "nodejs", "script_path": "/x.js", "working_directory": "/", '
           f'"user": "{APP_USER}", "health_check": {{"port": {deep}}}}}').encode()
    code, res, _ = admin.post("/api/apps/register", raw=raw)
    assert code == 400 and res["error"]["code"] == "json_too_deep", res
    assert Api(agent.port).get("/api/health")[0] == 200


def test_plain_http_on_a_remote_address_needs_an_explicit_setting():
    out = sb(AGENT, "--set", "server.listen=0.0.0.0", "--set", f"server.port={free_port()}", "--set",
             f"paths.state_dir=/tmp/siax-plain-{RUN}", "serve", check=False)
    assert out.returncode != 0
    assert "allow_plain_http_remote" in out.stdout + out.stderr


def test_the_cli_reads_its_token_from_a_file_or_stdin(agent, admin):
    path = f"/tmp/siax-token-{RUN}"
    sb("sh", "-c", f"umask 077; printf '%s\\n' '{admin.token}' > {path}")
    # No state dir (so no cli-token and no local socket there): over TCP, the token comes
    # only from --token-file or --token -.
    base = [AGENT, "--json", "--tcp", "--set", f"server.port={agent.port}", "--set", "paths.state_dir=/nonexistent"]
    from_file = sb(*base, "--token-file", path, "apps", "list", check=False)
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr
    from_stdin = sb(*base, "--token", "-", "apps", "list", input=admin.token + "\n", check=False)
    assert from_stdin.returncode == 0, from_stdin.stdout + from_stdin.stderr
    without = sb(*base, "apps", "list", check=False)
    assert without.returncode != 0
    sb("rm", "-f", path)
