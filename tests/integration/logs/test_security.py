"""Security of the logs and of the first start (issue 10, items 1 and 2), against the real
agent in the sandbox: hostile regular expressions, the agent's own log for admins only,
and no secret in any log."""
import asyncio
import json
import os
import stat
import threading
import time
import urllib.parse

import pytest
import websockets
import websockets.exceptions

from conftest import (AGENT, APP_USER, LOGGER, RUN, Api, Viewer, api, collect, eventually, free_port, node_logger,
                      register, sb)


def run(coro):
    return asyncio.run(coro)


def viewer_token(agent):
    return api.make_token(agent, f"viewer-{os.urandom(3).hex()}", "viewer")


def health_ms(port):
    t0 = time.monotonic()
    code, _, _ = Api(port).get("/api/health")
    assert code == 200
    return (time.monotonic() - t0) * 1000


# Refused: back-references (crashed glibc's regexec), huge or nested counted repeats
# (gigabytes, or seconds per compile and a minute per line), look-around.
REFUSED = [
    (r"(|)(\1\1)*", "invalid_regex", "back-references"),
    (r"(a)\1", "invalid_regex", "back-references"),
    ("(a{1,32767}){1,32767}", "invalid_regex", "repeat count"),
    ("(a{1,1000}){1,200}x", "invalid_regex", "repeat count"),
    ("(?=numbered)n", "invalid_regex", "look-ahead"),
    (r"\w{1000}" * 6, "regex_too_complex", "simplify"),
    ("x" * 513, "regex_too_long", "512"),
]

# Catastrophic for a backtracking engine, linear here: a bounded, correct answer.
# (pattern, the numbers n whose line "numbered n" matches, among 1..30)
BOUNDED = [
    ("(a+)+$", []),
    ("(a|aa)*z", []),
    ("(a|aa)*b", list(range(1, 31))),  # the b of "numbered"
    ("(.*1){2}", [11]),
    ("^numbered ([0-9]+)+$", list(range(1, 31))),
    ("(x+x+)+y|numbered 2[0-9]$", list(range(20, 30))),
    ("(?i)NUMBERED (7|30)$", [7, 30]),
]


@pytest.fixture(scope="module")
def numbered(admin):
    name = register(admin, "lg-regex", node_logger("numbered.js", COUNT=30))
    assert eventually(lambda: len(download(admin, name, "^numbered ")) == 30, timeout=20)
    return name


def download(admin, name, regex):
    q = urllib.parse.urlencode({"regex": regex, "format": "json"})
    code, body, _ = admin.get(f"/api/apps/{name}/logs?{q}")
    assert code == 200, body
    if isinstance(body, dict):  # one JSON line: the client helper parsed it already
        return [body["message"]]
    return [json.loads(line)["message"] for line in body.splitlines() if line]


def test_hostile_patterns_get_a_clear_400_and_the_agent_stays_responsive(agent, admin, numbered):
    for pattern, code, says in REFUSED:
        q = urllib.parse.urlencode({"regex": pattern})
        t0 = time.monotonic()
        status, body, _ = admin.get(f"/api/apps/{numbered}/logs?{q}")
        took = time.monotonic() - t0
        assert status == 400, (pattern, status, body)
        assert body["error"]["code"] == code, (pattern, body)
        assert says in body["error"]["message"], (pattern, body)
        assert took < 2.0, (pattern, took)
        assert health_ms(agent.port) < 500
    assert agent.pid() > 0  # the same process answered throughout


def test_hostile_patterns_over_websocket_get_an_error_frame_and_close_1008(agent, token, numbered):
    async def go():
        for pattern, code, says in REFUSED[:-1]:  # the too-long one is refused before the upgrade
            async with Viewer(agent.port, token, f"/logs/{numbered}", regex=pattern).connect() as ws:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert frame["type"] == "error" and frame["code"] == code, (pattern, frame)
                assert says in frame["message"], (pattern, frame)
                with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
                assert closed.value.code == 1008, pattern
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as too_long:
            async with Viewer(agent.port, token, f"/logs/{numbered}", regex=REFUSED[-1][0]).connect():
                pass
        assert too_long.value.status_code == 400
    run(go())
    assert health_ms(agent.port) < 500


def test_a_too_long_text_filter_gets_a_clear_400_for_downloads_and_viewers(agent, admin, token, numbered):
    ok = "NUMBERED 3"
    code, body, _ = admin.get(f"/api/apps/{numbered}/logs?" + urllib.parse.urlencode({"q": ok, "format": "json"}))
    assert code == 200
    for q in ("x" * 257, "numbered " * 100):  # (the whole request target is at most 2048 bytes)
        query = urllib.parse.urlencode({"q": q})
        status, body, _ = admin.get(f"/api/apps/{numbered}/logs?{query}")
        assert status == 400, (len(q), status, body)
        assert body["error"]["code"] == "text_too_long", body
        assert f"q is {len(q)} bytes long, at most 256" in body["error"]["message"], body
        status, body, _ = admin.get(f"/api/agent/logs?{query}")
        assert status == 400 and body["error"]["code"] == "text_too_long", body

    async def go():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
            async with Viewer(agent.port, token, f"/logs/{numbered}", q="y" * 300).connect():
                pass
        assert refused.value.status_code == 400
        # At the limit it is accepted, and a 256-byte text that is nearly every line costs nothing visible.
        async with Viewer(agent.port, token, f"/logs/{numbered}", q="a" * 255 + "b", tail="1000").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
            assert entries == []
    run(go())
    assert health_ms(agent.port) < 500


def test_redos_patterns_give_the_right_lines_in_bounded_time(agent, admin, numbered):
    for pattern, want in BOUNDED:
        t0 = time.monotonic()
        got = [m for m in download(admin, numbered, pattern) if m.startswith("numbered ")]
        took = time.monotonic() - t0
        assert got == [f"numbered {n}" for n in want], pattern
        assert took < 5.0, (pattern, took)


def test_health_stays_prompt_while_viewers_match_hostile_patterns(agent, admin, numbered):
    """Ten downloads and ten live viewers with expensive (but valid) patterns at once:
    matching runs on the workers, so /api/health keeps answering at once."""
    stop = threading.Event()
    worst = []

    def hammer():
        q = urllib.parse.urlencode({"regex": "(.*a){20}|(x+x+)+y", "format": "json"})
        while not stop.is_set():
            code, _, _ = admin.get(f"/api/apps/{numbered}/logs?{q}")
            assert code in (200, 503)  # at most 2 downloads run at once

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        async def viewers():
            conns = [await Viewer(agent.port, admin.token, f"/logs/{numbered}", regex="((a|aa)*b|(.*1){2})",
                                  tail="1000").connect() for _ in range(8)]
            try:
                for _ in range(20):
                    worst.append(health_ms(agent.port))
                    await asyncio.sleep(0.05)
            finally:
                for c in conns:
                    await c.close()
        run(viewers())
    finally:
        stop.set()
        for t in threads:
            t.join()
    print(f"\nhealth under hostile regex load: max {max(worst):.1f} ms over {len(worst)} calls")
    assert max(worst) < 1000


def test_a_live_viewer_with_a_regex_gets_the_matching_lines_in_order(agent, token, admin):
    """The viewer connects before the app's first line (was: nothing at all on systemd 257)."""
    name = f"lg-live-re-{RUN}"
    body = dict(node_logger("numbered.js", COUNT=40), app_name=name, user=APP_USER, restart_policy="no")
    code, res, _ = admin.post("/api/apps/register", body)
    assert code == 201, res

    async def go():
        async with Viewer(agent.port, token, f"/logs/{name}", regex="(a|aa)*numbered (1[0-9]|3[05])$").connect() as ws:
            await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
            code, res, _ = admin.post(f"/api/apps/{name}/start")
            assert code == 200, res
            entries, _ = await collect(ws, lambda es, fs: len(es) >= 12)
            assert [e["message"] for e in entries] == [f"numbered {n}" for n in [*range(10, 20), 30, 35]]
    run(go())


# ---- item 2: the agent's own log is for admins; no secret in any log ----

def test_a_viewer_gets_403_on_the_agents_own_log(agent, token):
    viewer = viewer_token(agent)
    code, body, _ = Api(agent.port, viewer).get("/api/agent/logs")
    assert code == 403 and body["error"]["code"] == "forbidden_role", body

    async def go():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
            async with Viewer(agent.port, viewer, "/logs").connect():
                pass
        assert refused.value.status_code == 403
        # An app's log stays readable for a viewer.
        name = f"lg-refuse-{RUN}"
        admin = Api(agent.port, token)
        admin.post("/api/apps/register", dict(node_logger("numbered.js", COUNT=1), app_name=name, user=APP_USER))
        async with Viewer(agent.port, viewer, f"/logs/{name}").connect() as ws:
            await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
    run(go())
    code, _, _ = Api(agent.port, token).get("/api/agent/logs?limit=5")
    assert code == 200


def test_the_first_start_prints_no_secret_and_writes_it_to_a_0600_file():
    unit = f"siax-agent-first-{RUN}"
    state = f"/var/lib/siax-agent-first-{RUN}"
    port = free_port()
    sb("rm", "-rf", state)
    sb("systemd-run", f"--unit={unit}", "--collect", "-p", "Restart=no", "--", AGENT, "--set", f"server.port={port}",
       "--set", f"paths.state_dir={state}", "serve")
    try:
        assert eventually(lambda: api.Agent._healthy(Api(port)), timeout=20)
        pw_file = f"{state}/initial-admin-password"
        st = sb("stat", "-c", "%a %U", pw_file, f"{state}/cli-token").stdout.split("\n")
        assert st[0] == "600 root" and st[1] == "600 root", st
        password = sb("cat", pw_file).stdout.strip()
        token = sb("cat", f"{state}/cli-token").stdout.strip()
        assert len(password) >= 12 and len(token) >= 20
        # The password works for the panel...
        code, body, _ = Api(port).post("/api/login", {"username": "admin", "password": password})
        assert code == 200, body
        # ...and is nowhere in the agent's journal (stdout + stderr), nor is the token.
        journal = sb("journalctl", "-u", unit, "--no-pager", "-o", "cat").stdout
        assert pw_file in journal, journal
        assert password not in journal and token not in journal
        # Nor in what an admin downloads as the agent's own log.
        code, agent_log, _ = Api(port, token).get("/api/agent/logs")
        assert code == 200 and password not in agent_log and token not in agent_log
        # set-password replaces it and removes the file.
        sb(AGENT, "--set", f"paths.state_dir={state}", "user", "set-password", "admin",
           input="a-new-long-password\n")
        assert sb("test", "-e", pw_file, check=False).returncode != 0
    finally:
        sb("systemctl", "stop", unit, check=False)
        sb("rm", "-rf", state)


def test_the_websocket_origin_must_match_scheme_host_and_port(agent, token, numbered):
    """Issue 10, item 8: before, only host:port was compared, so https://… or another
    scheme passed."""
    async def go():
        for origin in (f"https://127.0.0.1:{agent.port}", f"http://127.0.0.1:{agent.port + 1}",
                       "http://127.0.0.1", f"ws://127.0.0.1:{agent.port}"):
            with pytest.raises(websockets.exceptions.InvalidStatusCode) as refused:
                async with Viewer(agent.port, token, f"/logs/{numbered}").connect(origin=origin):
                    pass
            assert refused.value.status_code == 403, origin
        async with Viewer(agent.port, token, f"/logs/{numbered}").connect(
                origin=f"http://127.0.0.1:{agent.port}") as ws:
            await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
    run(go())
