"""The client side of bench/logs_bench.sh: registers flood apps, connects viewers,
measures. Lines carry their write time ("flood <seq> <usec> ..."): host and sandbox
share the clock."""
import argparse
import asyncio
import json
import subprocess
import time
import urllib.request

import websockets

p = argparse.ArgumentParser()
p.add_argument("--port", type=int)
p.add_argument("--token")
p.add_argument("--agent-pid", type=int)
p.add_argument("--sandbox")
p.add_argument("--lines", type=int)
p.add_argument("--rate", type=int)
p.add_argument("--app-dir")
a = p.parse_args()
HZ = 100


def api(method, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{a.port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {a.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def cpu_ticks():
    out = subprocess.run(["tools/sandbox/siax-sandbox", "exec", a.sandbox, "--", "cat", f"/proc/{a.agent_pid}/stat"],
                         capture_output=True, text=True).stdout
    f = out.rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


async def viewer(name, total, results, ready):
    uri = f"ws://127.0.0.1:{a.port}/logs/{name}?tail=0&q=flood"
    lat, first, last, got, gaps = [], None, None, 0, 0
    jlat = []
    async with websockets.connect(uri, extra_headers={"Authorization": f"Bearer {a.token}"},
                                  max_size=16 * 1024 * 1024) as ws:
        ready.append(1)
        try:
            while got + gaps < total:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 15))
                now = time.time_ns() // 1000
                if frame["type"] == "gap":
                    gaps += frame["missed"]
                if frame["type"] != "entries":
                    continue
                if first is None:
                    first = now
                last = now
                for e in frame["entries"]:
                    parts = e["message"].split(" ", 3)
                    lat.append(now - int(parts[2]))
                    jlat.append(e["time_usec"] - int(parts[2]))
                    got += 1
        except asyncio.TimeoutError:
            pass
    results.append((got, gaps, first, last, lat, jlat))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))] / 1000.0 if xs else float("nan")


async def scenario(label, viewers, lines, rate):
    name = f"flood{viewers}r{rate}"
    api("DELETE", f"/api/apps/{name}")
    results, ready = [], []
    env = {"FLOOD_LINES": str(lines), "FLOOD_RATE": str(rate), "FLOOD_PAD": "40", "FLOOD_DELAY_MS": "2500"}
    assert api("POST", "/api/apps/register", {"app_name": name, "app_type": "nodejs",
                                              "script_path": f"{a.app_dir}/flood.js", "working_directory": a.app_dir,
                                              "user": "siaxapp", "restart_policy": "no", "environment": env}) == 201
    assert api("POST", f"/api/apps/{name}/start") == 200
    tasks = [asyncio.create_task(viewer(name, lines, results, ready)) for _ in range(viewers)]
    while len(ready) < viewers:
        await asyncio.sleep(0.05)
    t0, c0 = time.monotonic(), cpu_ticks()
    await asyncio.gather(*tasks)
    t1, c1 = time.monotonic(), cpu_ticks()
    api("DELETE", f"/api/apps/{name}")
    got = sum(r[0] for r in results)
    gaps = sum(r[1] for r in results)
    span = max(r[3] for r in results if r[3]) - min(r[2] for r in results if r[2])
    lat = [x for r in results for x in r[4]]
    jlat = [x for r in results for x in r[5]]
    agent_lat = [x - y for r in results for x, y in zip(r[4], r[5])]
    per_viewer = [r[0] / ((r[3] - r[2]) / 1e6) for r in results if r[3] and r[3] > r[2]]
    cpu_s = (c1 - c0) / HZ
    lines_per_s = lines / (span / 1e6) if span else float("nan")
    print(f"{label}: {viewers} viewer(s), {lines} lines, delivered {got} (+{gaps} in gaps), "
          f"{min(per_viewer):,.0f}..{max(per_viewer):,.0f} lines/s per viewer, "
          f"latency p50 {pct(lat, .5):.1f} ms p99 {pct(lat, .99):.1f} ms "
          f"(write->journald p50 {pct(jlat, .5):.1f} p99 {pct(jlat, .99):.1f}; "
          f"journald->viewer p50 {pct(agent_lat, .5):.1f} p99 {pct(agent_lat, .99):.1f}), "
          f"agent CPU {cpu_s:.2f} s over {span / 1e6:.2f} s "
          f"= {100 * cpu_s / max(span / 1e6, 1e-9) / max(lines_per_s / 10000, 1e-9):.1f}% of a core per 10k lines/s")


async def main():
    await scenario("paced", 1, min(a.lines, a.rate * 5), a.rate)
    await scenario("flat out", 1, a.lines, 0)
    await scenario("flat out", 10, a.lines // 2, 0)
    await scenario("paced", 10, min(a.lines, a.rate * 5), a.rate)

asyncio.run(main())
