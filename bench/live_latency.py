#!/usr/bin/env python3
"""Kill-to-stream latency of the live state: opens GET /api/stream, SIGKILLs the
main process of N apps one after another inside the sandbox (the kill's wall-clock time is
printed by `date` inside, same kernel clock), and records when the app's new status arrives
on the stream and when GET /api/apps shows it. Prints p50/p90/p99/max in milliseconds.
Usage: live_latency.py PORT TOKEN SANDBOX_TOOL SANDBOX N"""
import json
import socket
import subprocess
import sys
import time
import urllib.request

port, token, tool, sandbox, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])


def get_apps():
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/apps", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return {a["name"]: a for a in json.loads(r.read())["data"]}


sock = socket.create_connection(("127.0.0.1", port))
sock.sendall(f"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
buf = b""


def events(timeout):
    """Yields (arrival time, event type, data) for each message read within timeout."""
    global buf
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data = sock.recv(1 << 20)
        except socket.timeout:
            return
        now = time.time()
        buf += data
        # Chunked framing is ignored: SSE messages are found by their own blank lines.
        while b"\n\n" in buf:
            msg, buf = buf.split(b"\n\n", 1)
            ev, payload = None, None
            for line in msg.split(b"\n"):
                if line.startswith(b"event: "):
                    ev = line[7:].decode()
                elif line.startswith(b"data: "):
                    payload = line[6:]
            if ev and payload:
                try:
                    yield now, ev, json.loads(payload)
                except ValueError:
                    pass


for _ in events(1.0):
    pass  # the snapshot
apps = get_apps()
names = sorted(a for a in apps if apps[a].get("pid") and apps[a]["status"] == "running")[:n]
stream_ms, api_ms = [], []
for name in names:
    pid = apps[name]["pid"]
    out = subprocess.run([tool, "exec", sandbox, "--", "sh", "-c", f"date +%s.%N; kill -9 {pid}"],
                         capture_output=True, text=True).stdout
    killed_at = float(out.split()[0])
    seen = None
    for at, ev, data in events(5.0):
        if ev == "app" and data["app"]["name"] == name and data["app"]["status"] != "running":
            seen = at
            break
    if seen is None:
        print(f"{name}: no change on the stream within 5 s")
        continue
    stream_ms.append((seen - killed_at) * 1000)
    # The API shows the same (it is the same store); measured for completeness.
    api_seen = None
    while api_seen is None:
        a = get_apps()[name]
        if a["status"] != "running":
            api_seen = time.time()
    api_ms.append((api_seen - killed_at) * 1000)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


for label, xs in (("kill -> stream", stream_ms), ("kill -> GET /api/apps", api_ms)):
    if xs:
        print(f"{label}: n={len(xs)} p50 {pct(xs, 50):.1f} ms, p90 {pct(xs, 90):.1f} ms, p99 {pct(xs, 99):.1f} ms, "
              f"max {max(xs):.1f} ms")
