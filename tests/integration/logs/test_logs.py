"""Live logs through the agent (issue 5): real apps in the sandbox's systemd, journald,
and a real WebSocket client (Python's `websockets`) on the host."""
import asyncio
import json
import re
import socket
import time
import urllib.parse
import urllib.request

import pytest
import websockets
import websockets.exceptions

from conftest import (APP_USER, RUN, Api, Viewer, collect, eventually, free_port, node_logger, python_logger, register,
                      sb)


def run(coro):
    return asyncio.run(coro)


def raw_get(port, token, path, timeout=60):
    """GET over a plain socket (urllib hides chunking and drops trailers). Returns
    (status, headers, body bytes, trailers, number of chunks); names in lower case."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
                  "Connection: close\r\n\r\n".encode())
        f = s.makefile("rb")

        def fields():
            out = {}
            while True:
                line = f.readline().decode()
                if line in ("\r\n", ""):
                    return out
                k, v = line.split(":", 1)
                out[k.strip().lower()] = v.strip()
        status = int(f.readline().split()[1])
        headers = fields()
        body, trailers, chunks = bytearray(), {}, 0
        if headers.get("transfer-encoding") == "chunked":
            while True:
                size = int(f.readline().split(b";")[0], 16)
                if size == 0:
                    break
                body += f.read(size)
                assert f.read(2) == b"\r\n", "bad chunk framing"
                chunks += 1
            trailers = fields()
        elif "content-length" in headers:
            body += f.read(int(headers["content-length"]))
        else:
            body += f.read()
        return status, headers, bytes(body), trailers, chunks


def flood_entries(entries):
    out = []
    for e in entries:
        m = re.match(r"flood (\d+) (\d+) ", e["message"])
        if m:
            out.append((int(m.group(1)), int(m.group(2)), e))
    return out


def test_refusals_before_the_upgrade(agent, token, admin):
    name = register(admin, "lg-refuse", node_logger("numbered.js", COUNT=1))

    async def go():
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as no_auth:
            async with Viewer(agent.port, None, f"/logs/{name}").connect():
                pass
        assert no_auth.value.status_code == 401
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as unknown:
            async with Viewer(agent.port, token, "/logs/no-such-app").connect():
                pass
        assert unknown.value.status_code == 404
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as bad:
            async with Viewer(agent.port, token, f"/logs/{name}", level="loud").connect():
                pass
        assert bad.value.status_code == 400
        with pytest.raises(websockets.exceptions.InvalidStatusCode) as foreign:
            async with Viewer(agent.port, token, f"/logs/{name}").connect(origin="http://evil.example"):
                pass
        assert foreign.value.status_code == 403
    run(go())


def test_first_ten_lines_of_a_node_app_arrive_in_order(agent, token, admin):
    name = register(admin, "lg-numbered", node_logger("numbered.js", COUNT=10))

    async def go():
        async with Viewer(agent.port, token, f"/logs/{name}").connect() as ws:
            def numbered(es):
                return [e for e in es if e["message"].startswith("numbered ")]
            entries, frames = await collect(ws, lambda es, fs: len(numbered(es)) >= 10)
            got = numbered(entries)
            assert [e["message"] for e in got] == [f"numbered {i}" for i in range(1, 11)]
            for e in got:
                assert e["priority"] == 6 and e["level"] == "info" and e["pid"] > 0
                assert e["cursor"].startswith("s=") and e["time_usec"] > 1_600_000_000_000_000
                assert e["folded"] is False and e["lines"] == 1
            times = [e["time_usec"] for e in got]
            assert times == sorted(times)
    run(go())


def test_viewers_opened_before_the_apps_first_line_get_every_line(agent, token, admin):
    """No journal record matches the app yet when the viewers join (it never ran): the
    live reader must still follow it. systemd 257's sd-journal left such a reader at the
    tail for good (no entries at all); with and without filters."""
    name = f"lg-before-{RUN}"
    body = dict(node_logger("numbered.js", COUNT=20), app_name=name, user=APP_USER, restart_policy="no")
    code, res, _ = admin.post("/api/apps/register", body)
    assert code == 201, res

    async def go():
        queries = [{}, {"q": "numbered"}, {"level": "info"}]
        conns = [await Viewer(agent.port, token, f"/logs/{name}", **q).connect() for q in queries]
        try:
            for ws in conns:
                _, frames = await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
                assert not [e for f in frames if f.get("type") == "entries" for e in f["entries"]]
            code, res, _ = admin.post(f"/api/apps/{name}/start")
            assert code == 200, res
            want = [f"numbered {i}" for i in range(1, 21)]
            for ws in conns:
                entries, _ = await collect(ws, lambda es, fs: sum(e["message"].startswith("numbered ") for e in es) >= 20)
                assert [e["message"] for e in entries if e["message"].startswith("numbered ")] == want
        finally:
            for ws in conns:
                await ws.close()
    run(go())


def test_level_filter_on_pino_json(agent, token, admin):
    name = register(admin, "lg-pino", node_logger("pino.js", TAG="pinolvl"))

    async def go():
        async with Viewer(agent.port, token, f"/logs/{name}", level="error").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: sum("pinolvl-60" in e["message"] for e in es) >= 1)
            pino = [e for e in entries if "pinolvl-" in e["message"]]
            assert [json.loads(e["message"])["level"] for e in pino] == [50, 60]
            assert [e["level"] for e in pino] == ["error", "crit"]
            assert all(e["priority"] <= 3 for e in entries)
        async with Viewer(agent.port, token, f"/logs/{name}", level="warning", q="pinolvl").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
            assert [json.loads(e["message"])["level"] for e in entries] == [40, 50, 60]
    run(go())


def test_level_filter_on_uvicorn_output(agent, token, admin):
    port = free_port()
    name = register(admin, "lg-uvicorn", {"app_type": "fastapi", "module": "api:app", "port": port,
                                   "working_directory": f"{api_dir()}"})

    def get(path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None
    assert eventually(lambda: get("/warn") == 200, timeout=30)
    assert get("/boom") == 500

    async def go():
        async with Viewer(agent.port, token, f"/logs/{name}", level="warning").connect() as ws:
            entries, _ = await collect(
                ws, lambda es, fs: any("boom on purpose" in e["message"] for e in es))
            assert all(e["priority"] <= 4 for e in entries), [e["message"] for e in entries]
            assert not any(e["message"].startswith("INFO:") for e in entries)
            warn = [e for e in entries if "disk almost full" in e["message"]]
            assert warn and warn[0]["level"] == "warning"
            err = [e for e in entries if "Exception in ASGI application" in e["message"]]
            assert err, [e["message"][:80] for e in entries]
            assert err[0]["level"] == "error" and err[0]["folded"] and err[0]["lines"] > 5
            assert "ValueError: boom on purpose" in err[0]["message"]
        async with Viewer(agent.port, token, f"/logs/{name}", level="info", q="Uvicorn running").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: len(es) >= 1)
            assert entries[0]["level"] == "info"
    run(go())


def api_dir():
    from conftest import LOGGER
    return LOGGER


def test_a_python_traceback_arrives_as_one_error_entry(agent, token, admin):
    name = register(admin, "lg-traceback", python_logger("print_traceback.py"))

    async def go():
        async with Viewer(agent.port, token, f"/logs/{name}").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: any(e["message"] == "after the traceback" for e in es))
            mine = [e for e in entries if e["pid"] == entries[-1]["pid"]]
            msgs = [e["message"] for e in mine]
            i = msgs.index("before the traceback")
            tb = mine[i + 1]
            assert tb["message"].startswith("Traceback (most recent call last):")
            assert tb["message"].endswith("KeyError: 'missing-key'")
            assert tb["folded"] and tb["level"] == "error" and tb["priority"] == 3 and tb["lines"] >= 5
            assert msgs[i + 2] == "after the traceback"
            pid = tb["pid"]
        async with Viewer(agent.port, token, f"/logs/{name}", level="error").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
            assert [e["message"].splitlines()[-1] for e in entries if e["pid"] == pid] == \
                ["KeyError: 'missing-key'"]
    run(go())


def test_reconnect_from_a_cursor_loses_nothing_and_repeats_nothing(agent, token, admin):
    name = register(admin, "lg-resume", node_logger("flood.js", FLOOD_RATE=400, FLOOD_LINES=4000, FLOOD_PAD=10))

    async def go():
        seen = []
        async with Viewer(agent.port, token, f"/logs/{name}", tail=0).connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: len(flood_entries(es)) >= 200)
            seen += flood_entries(entries)
        last_cursor = seen[-1][2]["cursor"]
        await asyncio.sleep(1.0)  # ~400 lines are written while we are away
        async with Viewer(agent.port, token, f"/logs/{name}", cursor=last_cursor).connect() as ws:
            target = seen[-1][0] + 800
            entries, frames = await collect(ws, lambda es, fs: any(s >= target for s, _, _ in flood_entries(es)))
            assert not any(f.get("type") == "gap" for f in frames)
            seen += flood_entries(entries)
        seqs = [s for s, _, _ in seen]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "lost or repeated lines"
    run(go())


def test_a_viewer_over_the_limit_is_refused(agent, token, admin):
    name = register(admin, "lg-limit", node_logger("numbered.js", COUNT=1))

    async def go():
        open_ = []
        try:
            for _ in range(10):
                ws = await Viewer(agent.port, token, f"/logs/{name}", tail=0).connect()
                await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
                open_.append(ws)
            ws = await Viewer(agent.port, token, f"/logs/{name}", tail=0).connect()
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert frame["type"] == "error" and frame["code"] == "too_many_viewers"
            assert "limit is 10" in frame["message"]
            with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.code == 1013 and "too_many_viewers" in closed.value.reason
            await open_.pop().close()
            await asyncio.sleep(0.2)
            ws = await Viewer(agent.port, token, f"/logs/{name}", tail=0).connect()
            await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))
            open_.append(ws)
        finally:
            for ws in open_:
                await ws.close()
    run(go())


def test_a_viewer_that_reads_nothing_gets_gap_markers_and_memory_stays_bounded(agent, token, admin):
    base_rss = agent.rss_kib()
    name = register(admin, "lg-flood", node_logger("flood.js", FLOOD_LINES=300000, FLOOD_PAD=100, FLOOD_DELAY_MS=1500))

    async def go():
        # max_queue=1 and a small read limit: the client stops reading the socket quickly.
        async with Viewer(agent.port, token, f"/logs/{name}", tail=0).connect(max_queue=1, read_limit=2 ** 14) as ws:
            peak = base_rss
            deadline = time.monotonic() + 40
            while time.monotonic() < deadline:
                peak = max(peak, agent.rss_kib())
                st = sb("systemctl", "show", "-p", "ActiveState", "--value", f"siax-app-{name}").stdout.strip()
                out = sb("journalctl", "-u", f"siax-app-{name}", "-n", "1", "-o", "cat", check=False).stdout
                if "flood 300000 " in out or st != "active":
                    break
                await asyncio.sleep(0.5)
            gaps, entries = 0, []
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 3))
                    if frame["type"] == "gap":
                        gaps += frame["missed"]
                    elif frame["type"] == "entries":
                        entries += frame["entries"]
            except asyncio.TimeoutError:
                pass
            return peak, gaps, flood_entries(entries)

    peak, gaps, got = run(go())
    print(f"\nslow viewer: {len(got)} delivered, {gaps} reported missed, agent RssAnon {base_rss} -> peak {peak} KiB "
          f"(RssFile now {agent.memory_kib('RssFile')} KiB: mapped journal files)")
    assert gaps > 0, "no gap marker"
    seqs = [s for s, _, _ in got]
    assert seqs == sorted(seqs)
    # what was neither delivered nor counted as missed was never read (journald limits)
    assert len(got) + gaps <= 300000 + 10
    assert (peak - base_rss) < 32 * 1024, f"agent RssAnon grew by {(peak - base_rss) // 1024} MiB"


def test_connect_disconnect_cycles_release_everything(agent, token, admin):
    name = register(admin, "lg-cycles", node_logger("numbered.js", COUNT=20))

    async def cycles(n):
        for _ in range(n):
            async with Viewer(agent.port, token, f"/logs/{name}", tail=5).connect() as ws:
                await collect(ws, lambda es, fs: any(f.get("type") == "live" for f in fs))

    run(cycles(50))  # warm up (allocator, first reader)
    time.sleep(0.5)
    fds0, rss0 = agent.open_fds(), agent.rss_kib()
    run(cycles(1000))
    time.sleep(0.5)
    fds1, rss1 = agent.open_fds(), agent.rss_kib()
    print(f"\n1000 cycles: open fds {fds0} -> {fds1}, RSS {rss0} -> {rss1} KiB")
    assert fds1 == fds0, f"open fds {fds0} -> {fds1}"
    assert rss1 - rss0 < 4 * 1024, f"RSS {rss0} -> {rss1} KiB"
    code, body, _ = admin.get("/api/apps")  # the agent still answers
    assert code == 200


def test_download_text_and_json_lines(agent, token, admin):
    name = register(admin, "lg-download", node_logger("numbered.js", COUNT=30))
    assert eventually(lambda: "numbered 30" in admin.get(f"/api/apps/{name}/logs?q=numbered")[1], timeout=15)
    code, text, headers = admin.get(f"/api/apps/{name}/logs?q=numbered%202")
    assert code == 200 and headers["Content-Type"].startswith("text/plain")
    lines = text.splitlines()
    assert [ln.rsplit(" ", 1)[-1] for ln in lines] == ["2"] + [str(i) for i in range(20, 30)]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z info \[\d+\] numbered 2$", lines[0])
    # The counts are trailers (known only at the end of the stream).
    code, headers, raw, trailers, _ = raw_get(agent.port, token, f"/api/apps/{name}/logs?q=numbered%202")
    assert code == 200 and raw.decode() == text
    assert headers["trailer"] == "X-Siax-Log-Entries, X-Siax-Log-Truncated"
    assert trailers["x-siax-log-truncated"] == "false" and trailers["x-siax-log-entries"] == "11"
    code, headers, raw, trailers, _ = raw_get(agent.port, token, f"/api/apps/{name}/logs?format=json&limit=5&q=numbered")
    assert code == 200 and trailers["x-siax-log-truncated"] == "true" and trailers["x-siax-log-entries"] == "5"
    assert headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(x) for x in raw.decode().splitlines()]
    assert [r["message"] for r in rows] == [f"numbered {i}" for i in range(1, 6)]
    assert "entries=50000" in headers["x-siax-log-limit"]
    code, body, _ = admin.get(f"/api/apps/{name}/logs?level=loud")
    assert code == 400 and body["error"]["code"] == "invalid_level"
    code, body, _ = admin.get("/api/apps/nope/logs")
    assert code == 404


def test_a_large_download_is_streamed_complete_and_in_order(agent, token, admin):
    count = 20000
    name = register(admin, "lg-bigdl", node_logger("numbered.js", COUNT=count))
    last = f"numbered {count}"
    assert eventually(lambda: last in admin.get(f"/api/apps/{name}/logs?q={urllib.parse.quote(last)}")[1],
                      timeout=60), "the app's lines did not reach the journal (run the sandbox with --journal-unlimited)"
    fds0 = agent.open_fds()

    code, headers, raw, trailers, chunks = raw_get(agent.port, token, f"/api/apps/{name}/logs?q=numbered")
    assert code == 200, raw[:300]
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert headers["content-type"].startswith("text/plain")
    lines = raw.decode().splitlines()
    assert [int(ln.rsplit(" ", 1)[-1]) for ln in lines] == list(range(1, count + 1))
    assert chunks > 5, f"{len(raw)} bytes in {chunks} chunks: not streamed in pieces"
    assert trailers == {"x-siax-log-entries": str(count), "x-siax-log-truncated": "false"}

    code, headers, raw, trailers, chunks = raw_get(agent.port, token, f"/api/apps/{name}/logs?q=numbered&format=json")
    assert code == 200 and headers["transfer-encoding"] == "chunked"
    assert headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(x) for x in raw.decode().splitlines()]
    assert [r["message"] for r in rows] == [f"numbered {i}" for i in range(1, count + 1)]
    times = [r["time_usec"] for r in rows]
    assert times == sorted(times)
    assert chunks > 5 and trailers["x-siax-log-entries"] == str(count)

    # A client that leaves after the first bytes: the worker notices, stops reading and
    # releases the journal reader (no descriptor left behind).
    def downloads_active():
        _, text, _ = admin.get("/metrics")
        m = re.search(r"^siax_logs_downloads_active (\d+)$", text, re.M)
        return int(m.group(1)) if m else None
    assert downloads_active() == 0
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", agent.port), timeout=10) as s:
            s.sendall(f"GET /api/apps/{name}/logs?format=json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      f"Authorization: Bearer {token}\r\n\r\n".encode())
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
        assert eventually(lambda: downloads_active() == 0, timeout=10), "the download went on after the client left"
    assert eventually(lambda: agent.open_fds() <= fds0, timeout=15), f"open fds {fds0} -> {agent.open_fds()}"
    code, body, _ = admin.get("/api/apps")  # the agent still answers
    assert code == 200


def test_the_agents_own_log(agent, token):
    async def go():
        async with Viewer(agent.port, token, "/logs", q="listening on").connect() as ws:
            entries, _ = await collect(ws, lambda es, fs: len(es) >= 1)
            assert "siax-agent" in entries[0]["message"]
    run(go())
