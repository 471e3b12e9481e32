"""Cloud reporting end to end: the real agent in the sandbox reports to a fake
cloud on the host (tests/fakes/fake_cloud.py, over 127.0.0.1): one record per app and
server, status updates on changes and heartbeats, reports kept while the cloud is down and
delivered when it returns, no duplicate after the agent is killed and restarted, a record
the cloud forgot is looked up and created again."""
import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, Agent, Api, eventually, free_port, node_app, sb

FAKE = os.path.join(ROOT, "tests", "fakes", "fake_cloud.py")
KEY = "it-cloud-key"
SERVER = "it-server"


class FakeCloud:
    def __init__(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", FAKE, "--port", "0", "--api-key", KEY],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "PORT", line
        self.port = int(line[1])

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode() or "null")

    def state(self):
        return self.control("GET", "/_control/state")

    def mode(self, mode, **kw):
        self.control("POST", "/_control/mode", dict(kw, mode=mode))

    def records(self, name):
        return [a for a in self.state()["apps"] if a.get("name") == name]

    def statuses(self, name):
        return [s for s in self.state()["statuses"] if (s.get("body") or s).get("name") == name]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cloud():
    c = FakeCloud()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def cloud_agent(cloud):
    sb("rm", "-rf", "/var/lib/siax-agent-cloud-it")  # a fresh outbox: the fake cloud starts empty too
    a = Agent(free_port(), "/var/lib/siax-agent-cloud-it",
              [f"cloud.base_url=http://127.0.0.1:{cloud.port}", f"cloud.api_key={KEY}",
               f"cloud.server_id={SERVER}", "cloud.heartbeat_interval_s=5"])
    a.start()
    token = sb("cat", f"{a.state_dir}/cli-token").stdout.strip()
    yield a, Api(a.port, token)
    a.stop()


def failing_app(name):
    """A Node.js app that exits with status 1 at once, never restarted."""
    return {"app_name": name, "app_type": "nodejs", "script_path": f"{ROOT}/tests/fixtures/apps/failing/exit1.js",
            "working_directory": f"{ROOT}/tests/fixtures/apps/failing", "user": "siaxapp", "restart_policy": "no"}


def last_status(cloud, name):
    st = cloud.statuses(name)
    if not st:
        return None
    s = st[-1]
    return (s.get("body") or s).get("status")


def test_one_record_per_app_and_its_status_follows(cloud, cloud_agent):
    agent, api = cloud_agent
    name = "cloud-app"
    code, res, _ = api.post("/api/apps/register", dict(node_app(name, free_port()), start=True))
    assert code == 201, res
    try:
        assert eventually(lambda: last_status(cloud, name) == "running", timeout=15), cloud.state()
        assert len(cloud.records(name)) == 1
        assert cloud.records(name)[0].get("server") == SERVER, cloud.records(name)

        # The cloud goes down: the change waits in the outbox, then arrives.
        cloud.mode("down")
        assert api.post(f"/api/apps/{name}/stop")[0] == 200
        assert eventually(lambda: api.get("/api/system")[1]["data"]["cloud"]["consecutive_failures"] > 0,
                          timeout=15), api.get("/api/system")[1]["data"].get("cloud")
        assert last_status(cloud, name) == "running"
        cloud.mode("ok")
        assert eventually(lambda: last_status(cloud, name) == "stopped", timeout=30), cloud.state()

        # Killed and started again: the same record, no duplicate, heartbeats go on.
        before = len(cloud.statuses(name))
        agent.kill9()
        agent.start()
        assert eventually(lambda: len(cloud.statuses(name)) > before, timeout=20)
        assert len(cloud.records(name)) == 1
        assert cloud.state()["duplicates"] == 0

        # The cloud forgets the record: the agent looks up, creates it again, goes on.
        old_id = cloud.records(name)[0]["id"]
        cloud.control("POST", f"/_control/forget/{old_id}")
        assert eventually(lambda: [r for r in cloud.records(name) if r["id"] != old_id], timeout=20), cloud.state()
        assert cloud.state()["duplicates"] == 0
    finally:
        api.call("DELETE", f"/api/apps/{name}")


def test_events_reach_the_cloud(cloud, cloud_agent):
    _, api = cloud_agent
    name = "cloud-failing"
    body = failing_app(name)
    code, res, _ = api.post("/api/apps/register", dict(body, start=True))
    assert code == 201, res
    try:
        assert eventually(lambda: last_status(cloud, name) == "failed", timeout=20), cloud.state()
        events = cloud.state()["events"]
        assert eventually(lambda: any((e.get("body") or e).get("kind") == "failed" for e in cloud.state()["events"]),
                          timeout=20), events
    finally:
        api.call("DELETE", f"/api/apps/{name}")


def test_a_hanging_cloud_never_slows_the_api_and_every_event_arrives_once(cloud, cloud_agent):
    _, api = cloud_agent
    name = "cloud-hang"
    body = failing_app(name)
    # The cloud hangs longer than the agent's 10 s request timeout.
    cloud.mode("slow", seconds=30)
    try:
        code, res, _ = api.post("/api/apps/register", dict(body, start=True))
        assert code == 201, res
        assert eventually(lambda: api.get(f"/api/events?app={name}")[1]["data"], timeout=20)
        for path in ("/api/apps", "/api/system", f"/api/apps/{name}", "/api/events"):
            t0 = time.monotonic()
            assert api.get(path)[0] == 200
            assert time.monotonic() - t0 < 2.0, f"{path} waited on the cloud"
        # The request in flight times out; the reporter backs off and says why.
        assert eventually(lambda: api.get("/api/system")[1]["data"]["cloud"]["consecutive_failures"] > 0,
                          timeout=30), api.get("/api/system")[1]["data"]["cloud"]
        assert api.get("/api/system")[1]["data"]["cloud"]["last_error"]
    finally:
        cloud.mode("ok")
    try:
        mine = {(e["kind"], e["at_usec"]) for e in api.get(f"/api/events?app={name}")[1]["data"]}

        def delivered():
            return [((e.get("body") or e).get("kind"), (e.get("body") or e).get("at"))
                    for e in cloud.state()["events"] if (e.get("body") or e).get("app") == name]
        assert eventually(lambda: mine <= set(delivered()), timeout=60), (mine, delivered())
        got = delivered()
        assert len(got) == len(set(got)), f"an event arrived twice: {got}"
        assert cloud.state()["duplicates"] == 0
    finally:
        api.call("DELETE", f"/api/apps/{name}")
