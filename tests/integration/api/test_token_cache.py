"""Bearer tokens are checked in memory (docs/SECURITY.md, "Bearer tokens are checked in
memory"): the agent keeps its table of active tokens in step with the registry, which other
processes write. Here a token is added and revoked behind the agent's back (plain SQLite in
the sandbox, no CLI, so no reload request): the agent's inotify watch must pick both up."""
import base64
import hashlib
import os
import time

from conftest import Api, eventually, make_token, sb


def sql(agent, statement):
    script = ("import sqlite3,sys\n"
              f"c = sqlite3.connect('{agent.state_dir}/registry.db', timeout=10, isolation_level=None)\n"
              "c.execute(sys.stdin.read())\n")
    sb("/usr/bin/python3", "-c", script, input=statement)


def new_token():
    secret = "siax_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    return secret, hashlib.sha256(secret.encode()).hexdigest()


def metric(admin, name):
    code, body, _ = admin.get("/metrics")
    assert code == 200
    for line in body.splitlines():
        if line.startswith(name + " "):
            return int(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def test_a_token_written_behind_the_agents_back_works_at_once_and_its_revocation_too(agent, admin):
    secret, digest = new_token()
    name = f"behind-{os.urandom(3).hex()}"
    user = Api(agent.port, secret)
    assert user.get("/api/apps")[0] == 401
    before = metric(admin, "siax_auth_token_reloads_total")
    t0 = time.monotonic()
    sql(agent, f"INSERT INTO api_tokens (name, role, hash, created_at_usec) VALUES ('{name}', 'viewer', '{digest}', 1)")
    assert eventually(lambda: user.get("/api/apps")[0] == 200, timeout=5, step=0.01)
    took_in = time.monotonic() - t0
    assert metric(admin, "siax_auth_token_reloads_total") > before
    t0 = time.monotonic()
    sql(agent, f"UPDATE api_tokens SET revoked_at_usec = 2 WHERE hash = '{digest}'")
    assert eventually(lambda: user.get("/api/apps")[0] == 401, timeout=5, step=0.01)
    took_out = time.monotonic() - t0
    print(f"\ntoken in effect {took_in * 1000:.0f} ms, revocation {took_out * 1000:.0f} ms after the write "
          "(including the sqlite3 process)")
    # The watch, not the 2 s period: well under it (the python process itself takes ~100 ms).
    assert took_in < 0.6 and took_out < 0.6


def test_the_cli_token_commands_take_effect_before_they_return(agent, admin):
    for _ in range(5):
        name = f"at-once-{os.urandom(3).hex()}"
        secret = make_token(agent, name, "viewer")
        assert Api(agent.port, secret).get("/api/apps")[0] == 200  # no retry: in effect already
        sb("sh", "-c", f"{agent_bin()} --set paths.state_dir={agent.state_dir} token revoke {name} >/dev/null")
        code, body, _ = Api(agent.port, secret).get("/api/apps")
        assert code == 401 and body["error"]["code"] == "invalid_token", body
    assert metric(admin, "siax_auth_tokens_cached") >= 1


def test_the_reload_route_is_for_admins(agent, admin):
    code, body, _ = admin.post("/api/tokens/reload", {})
    assert code == 200 and body["data"]["tokens"] >= 1, body
    viewer = Api(agent.port, make_token(agent, f"rl-{os.urandom(3).hex()}", "viewer"))
    code, body, _ = viewer.post("/api/tokens/reload", {})
    assert code == 403 and body["error"]["code"] == "forbidden_role", body
    code, _, _ = Api(agent.port).post("/api/tokens/reload", {})
    assert code == 401


def agent_bin():
    from conftest import AGENT
    return AGENT
