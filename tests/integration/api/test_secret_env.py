"""Secret environment variables (docs/SECURITY.md, "Secret environment"), against the real
agent in the sandbox's systemd: the values reach the app's process, sit in a 0600 root
file named by EnvironmentFile=, and are in no unit, no `systemctl show`, no API answer
(not even the admin's) and no audit entry. Checked through /proc/PID/environ of the app
inside the sandbox, so the app never prints them anywhere."""
import json
import os

from conftest import APP_USER, Api, eventually, free_port, make_token, node_app, sb

RUN = os.urandom(3).hex()
# Every character the file format treats specially: quotes, backslash, $, `, %, tab, blanks.
TRICKY = f"s3cr3t-{RUN} \"dq\" 'sq' $HOME ${{PATH}} `id` \\n\\ %h %% \ttab  trailing "
PLAIN = f"plain-{RUN}-value"


def secret_file(name):
    return f"/etc/siax-agent/secrets/{name}.env"


def environ_of(admin, name, not_pid=None):
    """The app's process environment (from /proc inside the sandbox), once it runs with a
    main PID other than `not_pid`."""
    state = {}

    def running():
        code, res, _ = admin.get(f"/api/apps/{name}")
        pid = res["data"].get("pid") if code == 200 else None
        if pid and pid != not_pid and res["data"].get("status") == "running":
            state["pid"] = pid
            return True
        return False

    assert eventually(running, timeout=20), f"{name} is not running"
    raw = sb("cat", f"/proc/{state['pid']}/environ").stdout
    env = dict(kv.split("=", 1) for kv in raw.split("\0") if "=" in kv)
    return state["pid"], env


def assert_nowhere(text, *values):
    for v in values:
        assert v not in text
    assert f"s3cr3t-{RUN}" not in text


def test_secret_environment_lifecycle(agent, admin):
    name = f"secenv-{RUN}"
    body = node_app(name, free_port(), secret_environment={"API_KEY": TRICKY, "OTHER_SECRET": PLAIN}, start=True)
    code, res, _ = admin.post("/api/apps/register", body)
    assert code == 201, res
    assert res["data"]["definition"]["secret_environment"] == {"API_KEY": "***", "OTHER_SECRET": "***"}
    assert_nowhere(json.dumps(res), PLAIN)

    # The process got the exact values: systemd read the quoting back verbatim.
    pid, env = environ_of(admin, name)
    assert env["API_KEY"] == TRICKY
    assert env["OTHER_SECRET"] == PLAIN

    # The file: root's alone, in a root-only directory; the unit names it and holds no value.
    path = secret_file(name)
    assert sb("stat", "-c", "%a %U %G", path).stdout.split() == ["600", "root", "root"]
    assert sb("stat", "-c", "%a %U", "/etc/siax-agent/secrets").stdout.split() == ["700", "root"]
    assert sb("runuser", "-u", APP_USER, "--", "cat", path, check=False).returncode != 0
    unit = f"siax-app-{name}.service"
    shown = sb("systemctl", "show", "-p", "Environment", "-p", "EnvironmentFiles", unit).stdout
    assert_nowhere(shown, PLAIN)
    assert f"EnvironmentFiles={path} (ignore_errors=no)" in shown
    unit_text = sb("cat", f"/etc/systemd/system/{unit}").stdout
    assert f"EnvironmentFile={path}\n" in unit_text
    assert_nowhere(unit_text, PLAIN)
    assert_nowhere(sb("systemctl", "cat", unit).stdout, PLAIN)

    # The API: names with "***" for everyone, admin included; no value in the unit texts.
    viewer = Api(agent.port, make_token(agent, f"secenv-viewer-{RUN}", "viewer"))
    for who in (admin, viewer):
        for query in ("", "?fresh=1"):  # the live state, and afresh with the unit file
            code, res, _ = who.get(f"/api/apps/{name}{query}")
            assert code == 200, res
            assert_nowhere(json.dumps(res), PLAIN)
            assert res["data"]["definition"]["secret_environment"] == {"API_KEY": "***", "OTHER_SECRET": "***"}
        assert f"EnvironmentFile={path}" in res["data"]["unit_file"]["rendered"]
        assert res["data"]["unit_file"]["state"] == "current"
        code, res, _ = who.get("/api/apps")
        assert_nowhere(json.dumps(res), PLAIN)

    # An update without secret_environment keeps the secrets (and changes what it names).
    update = node_app(name, free_port(), description="kept secrets")
    code, res, _ = admin.call("PUT", f"/api/apps/{name}", update)
    assert code == 200, res
    assert res["data"]["definition"]["secret_environment"] == {"API_KEY": "***", "OTHER_SECRET": "***"}
    pid, env = environ_of(admin, name, not_pid=pid)
    assert env["API_KEY"] == TRICKY and env["OTHER_SECRET"] == PLAIN

    # A new value alone restarts the app with it.
    update = node_app(name, free_port(), description="kept secrets", secret_environment={"API_KEY": "rotated-" + RUN})
    code, res, _ = admin.call("PUT", f"/api/apps/{name}", update)
    assert code == 200, res
    assert res["data"]["definition"]["secret_environment"] == {"API_KEY": "***"}
    pid, env = environ_of(admin, name, not_pid=pid)
    assert env["API_KEY"] == "rotated-" + RUN
    assert "OTHER_SECRET" not in env

    # The mask and a newline are refused, without echoing the value; nothing changes.
    for bad in ("***", f"line-{RUN}\nInjected=1"):
        code, res, _ = admin.call("PUT", f"/api/apps/{name}", node_app(name, free_port(),
                                                                           secret_environment={"API_KEY": bad}))
        assert code == 400, res
        assert res["error"]["code"] == "invalid_secret_environment"
        assert f"line-{RUN}" not in json.dumps(res)
    assert "rotated-" + RUN in sb("cat", path).stdout

    # An explicit {} removes them: no file, no EnvironmentFile=, no variable.
    code, res, _ = admin.call("PUT", f"/api/apps/{name}", node_app(name, free_port(), secret_environment={}))
    assert code == 200, res
    assert "secret_environment" not in res["data"]["definition"]
    assert sb("test", "-e", path, check=False).returncode != 0
    assert "EnvironmentFile=" not in sb("cat", f"/etc/systemd/system/{unit}").stdout
    pid, env = environ_of(admin, name, not_pid=pid)
    assert "API_KEY" not in env

    # Back with a secret, then delete: the file goes with the app.
    code, res, _ = admin.call("PUT", f"/api/apps/{name}", node_app(name, free_port(),
                                                                       secret_environment={"API_KEY": PLAIN}))
    assert code == 200, res
    assert sb("test", "-f", path, check=False).returncode == 0
    code, res, _ = admin.call("DELETE", f"/api/apps/{name}")
    assert code == 200, res
    assert sb("test", "-e", path, check=False).returncode != 0

    # The registry (SQLite, with its WAL) never held a value: it keeps the names only.
    found = sb("sh", "-c", f"cat {agent.state_dir}/registry.db* | grep -a -c -e '{PLAIN}' -e 'rotated-{RUN}' "
                           f"-e 's3cr3t-{RUN}'", check=False)
    assert found.stdout.strip() == "0", "a secret value is in the registry"
    assert sb("sh", "-c", f"cat {agent.state_dir}/registry.db* | grep -a -c -e 'secenv-{RUN}'",
              check=False).stdout.strip() != "0"  # the check above reads the right files

    # The audit log recorded the operations and no value.
    code, res, _ = admin.get(f"/api/audit?target={name}&limit=100")
    assert code == 200, res
    text = json.dumps(res)
    assert_nowhere(text, PLAIN, "rotated-" + RUN)
    assert "register" in text and "update" in text


def test_secret_environment_names_are_checked(agent, admin):
    name = f"secenv-bad-{RUN}"
    for secrets, code_expected in (({"1BAD": "x"}, "invalid_secret_environment"),
                                   ({"PORT": "x"}, "invalid_secret_environment"),  # also in environment
                                   (["A=b"], "invalid_secret_environment")):
        code, res, _ = admin.post("/api/apps/register", node_app(name, free_port(), secret_environment=secrets))
        assert code == 400, res
        assert res["error"]["code"] == code_expected, res
    assert admin.get(f"/api/apps/{name}")[0] == 404
    assert sb("test", "-e", secret_file(name), check=False).returncode != 0
