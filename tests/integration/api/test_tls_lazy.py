"""OpenSSL is loaded only when TLS is used (src/http/openssl_lazy.cpp): an agent serving plain
HTTP never maps libssl/libcrypto, whatever it serves; an agent with TLS configured maps them
and serves HTTPS through them. Real agents in the sandbox, real requests from the host."""
import base64
import json
import os
import socket
import ssl
import urllib.request

from conftest import AGENT, Agent, Api, free_port, https_agent, sb, tls_setup

OPENSSL_LIBS = ("libssl.so", "libcrypto.so")


def agent_pids(port):
    """The agent's own process(es): siax-agent processes started with this port."""
    out = sb("pgrep", "-f", f"server.port={port}", check=False).stdout.split()
    pids = [int(p) for p in out]
    return [p for p in pids if sb("cat", f"/proc/{p}/comm", check=False).stdout.strip() == "siax-agent"]


def mapped_openssl(pid):
    maps = sb("cat", f"/proc/{pid}/maps").stdout
    return sorted({lib for lib in OPENSSL_LIBS if lib in maps})


def websocket_upgrade(port, path, token, tls=None):
    """A raw WebSocket upgrade (over TLS with the `tls` context); returns the status line and
    the first bytes after it."""
    key = base64.b64encode(os.urandom(16)).decode()
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    with (tls.wrap_socket(raw) if tls else raw) as s:
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   f"Authorization: Bearer {token}\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not rest:  # the history frame(s) of the log stream
            s.settimeout(3)
            try:
                rest = s.recv(4096)
            except socket.timeout:
                pass
        return head.split(b"\r\n", 1)[0].decode(), rest


def test_an_agent_serving_plain_http_never_maps_openssl():
    sb("rm", "-rf", "/var/lib/siax-agent-tlslazy-plain")
    a = Agent(free_port(), "/var/lib/siax-agent-tlslazy-plain")
    a.start()
    try:
        token = sb("cat", f"{a.state_dir}/cli-token").stdout.strip()
        admin = Api(a.port, token)
        assert admin.get("/api/apps")[0] == 200
        status, text, _ = admin.get("/metrics")
        assert status == 200 and "siax_" in text
        # The live state stream: its first event, then the connection is dropped.
        req = urllib.request.Request(f"http://127.0.0.1:{a.port}/api/stream",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 200
            assert r.readline()
        # The agent's own log over a WebSocket.
        status_line, frames = websocket_upgrade(a.port, "/logs", token)
        assert " 101 " in status_line, status_line
        assert frames, "no frame after the upgrade"
        # The CLI over the agent's local socket (plain HTTP) loads nothing either.
        out = sb(AGENT, "--json", "--set", f"paths.state_dir={a.state_dir}", "apps", "list", check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        pids = agent_pids(a.port)
        assert pids, "the agent's pid was not found"
        for pid in pids:
            assert mapped_openssl(pid) == [], f"pid {pid} maps {mapped_openssl(pid)} without TLS"
    finally:
        a.stop()


def test_an_agent_serving_https_maps_openssl_and_serves_through_it():
    d = "/var/lib/siax-agent-tlslazy-tls"
    port, conf, cert = tls_setup(d)
    pinned = ssl.create_default_context(cadata=cert)
    pinned.check_hostname = False
    with https_agent(port, conf, pinned):
        token = sb("cat", f"{d}/state/cli-token").stdout.strip()
        req = urllib.request.Request(f"https://127.0.0.1:{port}/api/apps",
                                     headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, context=pinned, timeout=10) as r:
            assert r.status == 200
        # The agent's own log over a WebSocket over TLS (wss).
        status_line, frames = websocket_upgrade(port, "/logs", token, tls=pinned)
        assert " 101 " in status_line, status_line
        assert frames, "no frame after the upgrade"
        # Plain HTTP on the HTTPS port is not served.
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=5) as r:
                assert False, f"plain HTTP answered {r.status}"
        except OSError:
            pass
        # The CLI's pinned TLS client (its own process) loads libssl too and talks.
        out = sb(AGENT, "--json", *conf, "apps", "list", check=False)
        assert out.returncode == 0, out.stdout + out.stderr
        pids = agent_pids(port)
        assert pids, "the agent's pid was not found"
        for pid in pids:
            assert mapped_openssl(pid) == sorted(OPENSSL_LIBS), f"pid {pid}: {mapped_openssl(pid)}"


def test_without_libssl_tls_setup_fails_with_a_clear_error():
    """libssl.so.3 hidden (an empty file bound over it in a private mount namespace): `serve`
    with TLS stops with the reason and the package to install, the CLI over HTTPS answers
    tls_setup_failed; neither crashes."""
    d = "/var/lib/siax-agent-tlslazy-nossl"
    _, options, _ = tls_setup(d)
    conf = " ".join(options)
    libssl = next(line.split("=>")[1].strip() for line in sb("ldconfig", "-p").stdout.splitlines()
                  if line.strip().startswith("libssl.so.3 ") and "=>" in line)
    hidden = f"mount --bind /dev/null {libssl} && "
    serve = sb("timeout", "30", "unshare", "-m", "--propagation", "private", "sh", "-c",
               hidden + f"exec {AGENT} {conf} serve", check=False)
    assert serve.returncode == 1, serve.stdout + serve.stderr
    out = serve.stdout + serve.stderr
    assert "cannot load libssl.so.3" in out and "install the libssl3 package" in out, out
    cli = sb("timeout", "30", "unshare", "-m", "--propagation", "private", "sh", "-c",
             hidden + f"exec {AGENT} --json {conf} --tcp apps list", check=False)
    assert cli.returncode == 5, cli.stdout + cli.stderr
    body = json.loads(cli.stdout)
    assert body["error"]["code"] == "tls_setup_failed", cli.stdout
    assert "install the libssl3 package" in body["error"]["message"], cli.stdout
