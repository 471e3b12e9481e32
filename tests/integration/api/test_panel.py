"""The panel's server side: pages and files served without a login, the
/logs WebSocket still guarded, and POST /api/apps/preview (checks like a register,
writes nothing). The browser tests are in tests/e2e."""
import json
import urllib.request

from conftest import APPS, APP_USER, Api, make_token, node_app, sb


def raw_get(agent, path, headers=None):
    req = urllib.request.Request(f"http://127.0.0.1:{agent.port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_pages_are_served_without_login_with_a_strict_policy(agent):
    for path in ["/", "/login", "/apps/new", "/apps/x", "/apps/x/edit", "/apps/x/logs", "/scan", "/select",
                 "/logs", "/logs/x"]:
        status, headers, body = raw_get(agent, path)
        assert status == 200, path
        assert headers["Content-Type"].startswith("text/html"), path
        assert b'src="/assets/js/main.js"' in body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = raw_get(agent, "/assets/js/main.js", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    status, _, _ = raw_get(agent, "/assets/js/main.js", {"If-None-Match": headers["ETag"]})
    assert status == 304
    assert raw_get(agent, "/assets/nope.js")[0] == 404
    assert raw_get(agent, "/api/apps")[0] == 401  # the data still needs a login


def test_the_logs_websocket_still_needs_a_login(agent):
    status, _, _ = raw_get(agent, "/logs", {"Upgrade": "websocket", "Connection": "Upgrade",
                                            "Sec-WebSocket-Version": "13",
                                            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert status == 401


def test_preview_renders_the_unit_and_writes_nothing(admin):
    body = node_app("pv-ok", 3999, start=True, enable=True)
    status, env, _ = admin.post("/api/apps/preview", body)
    assert status == 200, env
    assert env["data"]["unit"] == "siax-app-pv-ok.service"
    assert f"{APPS}/node-http/server.js" in env["data"]["content"]
    assert "ExecStart=" in env["data"]["content"]
    assert admin.get("/api/apps/pv-ok")[0] == 404
    assert sb("test", "-e", "/etc/systemd/system/siax-app-pv-ok.service", check=False).returncode != 0


def test_preview_refuses_like_register(admin, agent):
    status, env, _ = admin.post("/api/apps/preview", node_app("pv-bad", 3999, script_path="/srv/none/app.js"))
    assert status == 400 and env["error"]["code"] == "file_not_found"
    assert "script_path /srv/none/app.js does not exist" in env["error"]["message"]
    status, env, _ = admin.post("/api/apps/preview", node_app("bad name", 3999))
    assert status == 400 and env["error"]["code"] == "invalid_app_name"
    status, env, _ = admin.post("/api/apps/preview", dict(node_app("pv-x", 1), colour="red"))
    assert status == 400 and env["error"]["code"] == "unknown_field"
    viewer = admin.with_token(make_token(agent, "pv-viewer", "viewer"))
    status, env, _ = viewer.post("/api/apps/preview", node_app("pv-ok", 3999))
    assert status == 403 and env["error"]["code"] == "forbidden_role"
