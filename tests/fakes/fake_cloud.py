#!/usr/bin/env python3
"""A fake of the SIAX cloud for tests (Python 3 standard library only).

Implements the contract documented in docs/CLOUD.md:
  GET  /api/apps_servcs/apps?name=N&server=S  -> {"success": true, "data": [records]}
  POST /api/apps_servcs/apps                  -> 201 {"success": true, "data": {"id": N, ...}}
  PUT  /api/apps_servcs/apps/<id>/status      -> 200, or 404 when the id is unknown
  POST /api/apps_servcs/apps/<id>/events      -> 201, or 404 when the id is unknown
Every /api/ request must carry `x-api-key: <--api-key>` (401 otherwise).

A second record with the same (name, server) is created (as a careless cloud would) but
counted in "duplicates", so that tests can assert there are none.

Control endpoints (no key needed), for tests:
  POST /_control/mode {"mode": "ok" | "down" | "slow" | "error", "seconds": 2, "retry_after": 5}
       down: 503 to every /api/ request; error: 500; slow: sleep `seconds` then answer.
  POST /_control/forget/<id>   the cloud loses that record (later PUTs get 404)
  POST /_control/reset         forget everything
  GET  /_control/state         {"apps", "statuses", "events", "duplicates", "requests", "in_flight", "mode"}

Usage: fake_cloud.py --port 0 [--api-key KEY] [--host 127.0.0.1] [--exit-with-parent]
Prints "PORT <n>" on stdout once it listens (0 = any free port), then serves until
SIGTERM/SIGINT.
"""
import argparse
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

APPS = "/api/apps_servcs/apps"
MAX_BODY = 1024 * 1024


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.apps = {}  # id -> record
        self.next_id = 1
        self.statuses = []
        self.events = []
        self.duplicates = 0
        self.requests = []
        self.in_flight = 0
        self.mode = "ok"
        self.slow_seconds = 2.0
        self.retry_after = None

    def snapshot(self):
        return {
            "apps": sorted(self.apps.values(), key=lambda r: r["id"]),
            "statuses": self.statuses,
            "events": self.events,
            "duplicates": self.duplicates,
            "requests": self.requests[-1000:],
            "in_flight": self.in_flight,
            "mode": self.mode,
        }


STATE = State()
API_KEY = "test-key"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-siax-cloud/1"

    def log_message(self, fmt, *args):  # quiet: tests read /_control/state instead
        pass

    def _reply(self, status, obj, headers=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None, "body too large"
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}, None
        try:
            return json.loads(raw), None
        except ValueError as e:
            return None, f"invalid JSON: {e}"

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def _dispatch(self, method):
        url = urlsplit(self.path)
        path = url.path
        body, err = self._body()
        if path.startswith("/_control/"):
            return self._control(method, path, body)
        with STATE.lock:
            STATE.requests.append(f"{method} {self.path}")
            mode, slow, retry_after = STATE.mode, STATE.slow_seconds, STATE.retry_after
            STATE.in_flight += 1
        try:
            if mode == "slow":
                time.sleep(slow)
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            if mode == "down":
                return self._reply(503, {"success": False, "error": "fake cloud is down"}, extra)
            if mode == "error":
                return self._reply(500, {"success": False, "error": "fake cloud error"}, extra)
            if self.headers.get("x-api-key") != API_KEY:
                return self._reply(401, {"success": False, "error": "invalid API key"})
            if err:
                return self._reply(400, {"success": False, "error": err})
            return self._api(method, path, parse_qs(url.query), body)
        finally:
            with STATE.lock:
                STATE.in_flight -= 1

    def _api(self, method, path, query, body):
        if path == APPS and method == "GET":
            name = query.get("name", [None])[0]
            server = query.get("server", [None])[0]
            with STATE.lock:
                data = [r for r in STATE.apps.values()
                        if (name is None or r["name"] == name) and (server is None or r["server"] == server)]
            return self._reply(200, {"success": True, "data": sorted(data, key=lambda r: r["id"])})
        if path == APPS and method == "POST":
            if not isinstance(body, dict) or not body.get("name") or not body.get("server"):
                return self._reply(400, {"success": False, "error": "name and server are required"})
            with STATE.lock:
                if any(r["name"] == body["name"] and r["server"] == body["server"] for r in STATE.apps.values()):
                    STATE.duplicates += 1
                record = dict(body)
                record["id"] = STATE.next_id
                STATE.next_id += 1
                STATE.apps[record["id"]] = record
            return self._reply(201, {"success": True, "data": record})
        if path.startswith(APPS + "/"):
            parts = path[len(APPS) + 1:].split("/")
            if len(parts) == 2 and parts[0].isdigit():
                app_id, what = int(parts[0]), parts[1]
                with STATE.lock:
                    known = app_id in STATE.apps
                    if known and method == "PUT" and what == "status":
                        STATE.statuses.append({"id": app_id, "body": body})
                        STATE.apps[app_id]["status"] = body.get("status") if isinstance(body, dict) else None
                        return self._reply(200, {"success": True})
                    if known and method == "POST" and what == "events":
                        STATE.events.append({"id": app_id, "body": body})
                        return self._reply(201, {"success": True})
                if not known:
                    return self._reply(404, {"success": False, "error": f"app {app_id} not found"})
        return self._reply(404, {"success": False, "error": "no such route"})

    def _control(self, method, path, body):
        if method == "GET" and path == "/_control/state":
            with STATE.lock:
                snap = STATE.snapshot()
            return self._reply(200, snap)
        if method == "POST" and path == "/_control/mode":
            mode = (body or {}).get("mode")
            if mode not in ("ok", "down", "slow", "error"):
                return self._reply(400, {"error": "mode must be ok, down, slow or error"})
            with STATE.lock:
                STATE.mode = mode
                STATE.slow_seconds = float((body or {}).get("seconds", 2))
                STATE.retry_after = (body or {}).get("retry_after")
            return self._reply(200, {"mode": mode})
        if method == "POST" and path.startswith("/_control/forget/"):
            tail = path[len("/_control/forget/"):]
            if not tail.isdigit():
                return self._reply(400, {"error": "give a numeric id"})
            with STATE.lock:
                found = STATE.apps.pop(int(tail), None) is not None
            return self._reply(200 if found else 404, {"forgotten": found})
        if method == "POST" and path == "/_control/reset":
            with STATE.lock:
                STATE.reset()
            return self._reply(200, {"reset": True})
        return self._reply(404, {"error": "no such control endpoint"})


def main():
    global API_KEY
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--api-key", default="test-key")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started us dies (tests: no orphans)")
    args = parser.parse_args()
    API_KEY = args.api_key

    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True

    def shutdown(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    if args.exit_with_parent:
        parent = os.getppid()

        def watch_parent():
            while os.getppid() == parent:
                time.sleep(0.2)
            server.shutdown()

        threading.Thread(target=watch_parent, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
