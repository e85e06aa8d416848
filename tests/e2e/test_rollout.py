"""Rolling out (issue 26), with the real Claude Code CLI, the shipped gateways
and Elasticsearch with security on:

- the managed-settings document `cowork-ecs emitter-settings claude-code`
  prints, deployed where Claude Code reads it on Linux
  (/etc/claude-code/managed-settings.json), is the CLI's only telemetry
  configuration: no OTEL_* variable (nor NODE_EXTRA_CA_CERTS) is in its
  environment. Logs, metrics and traces arrive over TLS with the resource
  attributes;
- a user's ~/.claude/settings.json that switches telemetry off, points it
  elsewhere or replaces the header changes nothing: managed settings win;
- with --headers-helper (collector-config/otel-headers-helper.sh), two users
  with their own credentials land under two tenants of the multi-tenant
  gateway, and a user with a wrong credential stores nothing;
- Cowork: the values `emitter-settings cowork` prints, sent as the admin
  console configures the Cowork exporter, reach both gateways;
- the gateway installed by `make install` runs as its systemd unit would
  (its user, its paths, its environment file and credentials) and indexes a
  record; systemd-analyze verifies the unit and rates its exposure.

The managed-settings file affects every Claude Code run on the machine: it
is deployed only around each run and whatever was there is restored."""

import contextlib
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import harness as h
from conftest import TOKEN, get

MANAGED_DIR = Path("/etc/claude-code")
MANAGED_FILE = MANAGED_DIR / "managed-settings.json"
HELPER = h.ROOT / "collector-config" / "otel-headers-helper.sh"
# What each scenario stored: {scenario: {what: count}}, printed at the end.
STORED = {}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="deploys /etc/claude-code/managed-settings.json (root)")


def emitter_settings(*args):
    """`cowork-ecs emitter-settings <args>`: its stdout."""
    proc = subprocess.run([str(h.CLI), "emitter-settings", *args], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


@contextlib.contextmanager
def managed_settings(text):
    """`text` at /etc/claude-code/managed-settings.json (root-owned, 0644, as
    a file deployment leaves it) for the duration of the block; what was
    there before (normally nothing) is put back."""
    if text is None:
        yield
        return
    created_dir = not MANAGED_DIR.exists()
    before = MANAGED_FILE.read_bytes() if MANAGED_FILE.exists() else None
    MANAGED_DIR.mkdir(mode=0o755, exist_ok=True)
    try:
        MANAGED_FILE.write_text(text)
        os.chmod(MANAGED_FILE, 0o644)
        yield
    finally:
        if before is None:
            MANAGED_FILE.unlink(missing_ok=True)
        else:
            MANAGED_FILE.write_bytes(before)
        if created_dir:
            shutil.rmtree(MANAGED_DIR, ignore_errors=True)


def run_claude(scenario, api_url, files=None, settings=None, extra_env=None, timeout=180):
    """The real CLI once (harness.run_claude), as a user whose environment
    has no telemetry configuration at all: `settings` (the managed
    document) deployed around the run."""
    with managed_settings(settings):
        return h.run_claude(scenario, api_url, None, None, allowed_tools=["Bash"], timeout=timeout,
                            extra_env=extra_env, files=files)


def by_session(es, session_id, index="logs-*"):
    return [{"_index": x["_index"], **x["_source"]}
            for x in es.search({"term": {"claude_code.events.session.id": session_id}}, index)]


def tagged(es, tag, index):
    return es.count({"bool": {"should": [{"term": {"e2e.scenario": tag}},
                                         {"term": {"resource.attributes.e2e.scenario": tag}}]}}, index)


class Listener:
    """A plaintext HTTP listener on loopback counting the requests it gets
    (where a user's settings point the telemetry)."""

    def __init__(self):
        hits = self.hits = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                hits.append(self.path)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def token_file(tmp_path_factory):
    f = tmp_path_factory.mktemp("rollout") / "ingest-token"
    f.write_text(TOKEN + "\n")
    return f


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    if STORED:
        width = max(len(s) for s in STORED)
        print("\n\nscenario".ljust(width + 3) + "  stored")
        for scenario, what in STORED.items():
            print(f"{scenario.ljust(width)}  {', '.join(f'{k}: {v}' for k, v in what.items())}")


def test_managed_settings_are_the_clis_only_telemetry_configuration(stack, token_file):
    tag = "rollout_managed"
    settings = emitter_settings(
        "claude-code", "--endpoint", stack.collector.otlp_http, "--token-file", str(token_file),
        "--ca-file", str(h.test_pki() / "ca.crt"), "--signals", "logs,metrics,traces",
        "--resource-attributes", f"e2e.scenario={tag},department=finance")
    assert stack.collector.otlp_http.startswith("https://")
    sid, proc = run_claude("bash_ok", stack.api.url, settings=settings)
    assert proc.returncode == 0, proc.stderr[-2000:]
    docs = stack.docs(tag, 5, actions=("user_prompt", "api_request", "tool_result"))
    claude = [d for d in docs if d["_index"].startswith(".ds-logs-claude_code.events.otel-")]
    assert {get(d, "claude_code.events.session.id") for d in claude} == {sid}
    assert {get(d, "department") for d in claude} == {"finance"}
    # tool details on, prompts off: the emitter's own redaction.
    tool = [d for d in claude if get(d, "event.action") == "tool_result"]
    assert "echo hello-from-e2e" in json.dumps(tool)
    assert "say hello using bash" not in json.dumps([d for d in claude if get(d, "event.action") == "user_prompt"])
    spans = stack.docs(tag, 1, index="traces-claude_code.otel-*")
    points = stack.docs(tag, 1, index="metrics-claude_code.metrics-*")
    assert {get(s, "resource.attributes.department") for s in spans} == {"finance"}
    assert {get(p, "department") for p in points} == {"finance"}
    time.sleep(2)  # the rest of the session's spans and points, for the counts
    STORED[tag] = {"log records": len(claude), "spans": tagged(stack.es, tag, "traces-claude_code.otel-*"),
                   "data points": tagged(stack.es, tag, "metrics-claude_code.metrics-*")}


USER_OPT_OUTS = {
    "disable": {"CLAUDE_CODE_ENABLE_TELEMETRY": "0", "OTEL_LOGS_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"},
    "redirect": {"OTEL_EXPORTER_OTLP_ENDPOINT": "{elsewhere}", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "{elsewhere}/v1/logs",
                 "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
    "replace_header": {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer not-the-gateways-token"},
}


@pytest.mark.parametrize("opt_out", list(USER_OPT_OUTS))
def test_a_users_own_settings_cannot_opt_out(stack, token_file, opt_out):
    tag = f"rollout_user_{opt_out}"
    elsewhere = Listener()
    try:
        settings = emitter_settings(
            "claude-code", "--endpoint", stack.collector.otlp_http, "--token-file", str(token_file),
            "--ca-file", str(h.test_pki() / "ca.crt"), "--resource-attributes", f"e2e.scenario={tag}")
        user = {"env": {k: v.format(elsewhere=elsewhere.url) for k, v in USER_OPT_OUTS[opt_out].items()}}
        sid, proc = run_claude("bash_ok", stack.api.url, settings=settings,
                               files={"~/.claude/settings.json": json.dumps(user)})
        assert proc.returncode == 0, proc.stderr[-2000:]
        docs = stack.docs(tag, 5, actions=("user_prompt", "api_request", "tool_result"))
    finally:
        elsewhere.stop()
    assert {get(d, "claude_code.events.session.id") for d in docs} == {sid}
    assert elsewhere.hits == [], elsewhere.hits
    STORED[tag] = {"log records": len(docs), "requests elsewhere": len(elsewhere.hits)}


def test_control_the_users_settings_file_is_read(stack):
    """Without managed settings, the same kind of user file does redirect the
    telemetry: the opt-outs above were read, and lost."""
    elsewhere = Listener()
    try:
        user = {"env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_LOGS_EXPORTER": "otlp",
                        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json", "OTEL_EXPORTER_OTLP_ENDPOINT": elsewhere.url,
                        "OTEL_LOGS_EXPORT_INTERVAL": "500"}}
        _, proc = run_claude("bash_ok", stack.api.url, files={"~/.claude/settings.json": json.dumps(user)})
        assert proc.returncode == 0, proc.stderr[-2000:]
    finally:
        elsewhere.stop()
    assert "/v1/logs" in elsewhere.hits, elsewhere.hits
    STORED["control: user file, no managed settings"] = {"requests elsewhere": len(elsewhere.hits)}


def test_claude_code_managed_settings_path_is_not_read(stack, token_file, tmp_path):
    """CLAUDE_CODE_MANAGED_SETTINGS_PATH: Claude Code 2.1.330 names it, but
    its release build returns no override (the function that would read it
    is empty), so a document in that folder is not read: deploy to
    /etc/claude-code. If a later version reads it, this fails and says so."""
    tag = "rollout_settings_path"
    folder = tmp_path / "managed"
    folder.mkdir()
    (folder / "managed-settings.json").write_text(emitter_settings(
        "claude-code", "--endpoint", stack.collector.otlp_http, "--token-file", str(token_file),
        "--ca-file", str(h.test_pki() / "ca.crt"), "--resource-attributes", f"e2e.scenario={tag}"))
    _, proc = run_claude("bash_ok", stack.api.url, extra_env={"CLAUDE_CODE_MANAGED_SETTINGS_PATH": str(folder)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    stack.collector.post_logs(json.dumps(h.tagged_cowork_request(f"{tag}_after")).encode(), "application/json")
    stack.docs(f"{tag}_after", 1)
    time.sleep(2)
    assert tagged(stack.es, tag, "logs-*") == 0
    STORED[tag] = {"log records": 0}


@pytest.fixture(scope="module")
def tenants(stack):
    env = {"COWORK_ECS_HTPASSWD": "alice:alice-pw-1\nbob:bob-pw-2\ncowork:cowork-pw-3"}
    c = h.Collector(stack.workdir, stack.es.url, "", config=h.MULTITENANT_CONFIG, env=env,
                    name="collector-rollout-tenants").start()
    yield c
    c.stop()


def test_each_user_lands_under_their_own_tenant(stack, tenants):
    tag = "rollout_helper"
    settings = emitter_settings(
        "claude-code", "--endpoint", tenants.otlp_http, "--headers-helper", str(HELPER),
        "--ca-file", str(h.test_pki() / "ca.crt"), "--resource-attributes", f"e2e.scenario={tag}")
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in settings
    sessions = {}
    for user, credential in [("mallory", "alice:not-alices-password"), ("alice", "alice:alice-pw-1"),
                             ("bob", "bob:bob-pw-2")]:
        sid, proc = run_claude("bash_ok", stack.api.url, settings=settings,
                               files={"~/.config/cowork-ecs/credential": credential + "\n"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        sessions[user] = sid
    for user in ("alice", "bob"):
        docs = h.wait_until(f"{user}'s records", lambda u=user: (lambda d: d if len(d) >= 5 else None)(
            by_session(stack.es, sessions[u])), 90, interval=1)
        assert {get(d, "labels.tenant") for d in docs} == {user}
        assert {d["_index"].rsplit("-", 2)[0] for d in docs} == {f".ds-logs-claude_code.events.otel-{user}"}
    # mallory ran first: anything the gateway had taken would be indexed by now.
    time.sleep(2)
    for user in ("alice", "bob"):
        STORED[f"{tag} ({user})"] = {"log records": len(by_session(stack.es, sessions[user])), "labels.tenant": user}
    assert by_session(stack.es, sessions["mallory"]) == []
    STORED[f"{tag} (mallory, wrong password)"] = {"log records": 0}


def test_per_user_credentials_in_one_namespace(stack):
    """COWORK_ECS_TENANT_NAMESPACE=false (a credential per user, not per
    team): the user's records stay in the configured namespace, labelled."""
    tag = "rollout_helper_one_namespace"
    c = h.Collector(stack.workdir, stack.es.url, "", config=h.MULTITENANT_CONFIG, name="collector-rollout-users",
                    env={"COWORK_ECS_HTPASSWD": "carol:carol-pw-4", "COWORK_ECS_TENANT_NAMESPACE": "false",
                         "COWORK_ECS_NAMESPACE": "fleet"}).start()
    try:
        settings = emitter_settings(
            "claude-code", "--endpoint", c.otlp_http, "--headers-helper", str(HELPER),
            "--ca-file", str(h.test_pki() / "ca.crt"), "--resource-attributes", f"e2e.scenario={tag}")
        sid, proc = run_claude("bash_ok", stack.api.url, settings=settings,
                               files={"~/.config/cowork-ecs/credential": "carol:carol-pw-4\n"})
        assert proc.returncode == 0, proc.stderr[-2000:]
        docs = h.wait_until("carol's records", lambda: (lambda d: d if len(d) >= 5 else None)(
            by_session(stack.es, sid)), 90, interval=1)
    finally:
        c.stop()
    assert {get(d, "labels.tenant") for d in docs} == {"carol"}
    assert {d["_index"].rsplit("-", 2)[0] for d in docs} == {".ds-logs-claude_code.events.otel-fleet"}
    STORED[f"{tag} (carol)"] = {"log records": len(docs), "labels.tenant": "carol", "namespace": "fleet"}


def cowork_send(values, request):
    """What the Cowork exporter does with the admin console's three values:
    OTLP to <endpoint>/v1/logs in the protocol, with the header list."""
    headers = dict(item.split("=", 1) for item in values["otlp_headers"].split(","))
    if values["otlp_protocol"] == "http/protobuf":
        body, content_type = h.to_protobuf(request), "application/x-protobuf"
    else:
        body, content_type = json.dumps(request).encode(), "application/json"
    return h.http("POST", values["otlp_endpoint"] + "/v1/logs", body, {**headers, "content-type": content_type})


def test_cowork_admin_console_values_reach_the_gateways(stack, tenants, token_file, tmp_path):
    values = json.loads(emitter_settings("cowork", "--endpoint", stack.collector.otlp_http, "--token-file",
                                         str(token_file), "--output", "json"))
    text = emitter_settings("cowork", "--endpoint", stack.collector.otlp_http, "--token-file", str(token_file))
    assert all(v in text for v in (values["otlp_endpoint"], values["otlp_protocol"], values["otlp_headers"]))
    status, body = cowork_send(values, h.tagged_cowork_request("rollout_cowork"))
    assert status == 200, body[:500]
    docs = [d for d in stack.docs("rollout_cowork", 29) if d["_index"].startswith(".ds-logs-claude_cowork.events.otel-")]
    STORED["rollout_cowork (bearer)"] = {"log records": len(docs)}
    # The multi-tenant gateway: the organization's Cowork is one tenant.
    (tmp_path / "cowork").write_text("cowork:cowork-pw-3\n")
    values = json.loads(emitter_settings("cowork", "--endpoint", tenants.otlp_http, "--basic-auth-file",
                                         str(tmp_path / "cowork"), "--protocol", "http/json", "--output", "json"))
    status, body = cowork_send(values, h.tagged_cowork_request("rollout_cowork_tenant"))
    assert status == 200, body[:500]
    docs = [d for d in stack.docs("rollout_cowork_tenant", 29)
            if d["_index"].startswith(".ds-logs-claude_cowork.events.otel-")]
    assert {get(d, "labels.tenant") for d in docs} == {"cowork"}
    STORED["rollout_cowork (basic, multi-tenant)"] = {"log records": len(docs), "labels.tenant": "cowork"}


# --- The gateway installed on a Linux host -------------------------------------

def unit_directives(path):
    """The [Service] directives of a unit file: {name: [values]}."""
    out, section = {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def exposure(unit):
    proc = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True,
                          timeout=120, cwd="/")
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", proc.stdout.decode())
    assert m, proc.stdout.decode()[-2000:] + proc.stderr.decode()[-2000:]
    return float(m.group(1))


@pytest.fixture(scope="module")
def installed():
    # Directly in /tmp (as harness.test_pki): the service user reaches its
    # files without opening pytest's own 0700 directories to others.
    prefix = Path(tempfile.mkdtemp(prefix="cowork-ecs-prefix-"))
    os.chmod(prefix, 0o755)
    try:
        proc = subprocess.run(["make", "install", f"PREFIX={prefix}"], cwd=h.ROOT, capture_output=True, timeout=600)
        assert proc.returncode == 0, proc.stdout.decode()[-2000:] + proc.stderr.decode()[-2000:]
        yield prefix
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@contextlib.contextmanager
def service_user(sysusers_conf, name):
    """The unit's user, made from the installed sysusers.d file (what
    systemd-sysusers does at package install) for the block, and removed
    again unless it was there before."""
    existed = name in {u.pw_name for u in pwd.getpwall()}
    subprocess.run(["systemd-sysusers", str(sysusers_conf)], check=True, capture_output=True, timeout=60)
    try:
        yield pwd.getpwnam(name)
    finally:
        if not existed:
            subprocess.run(["userdel", name], capture_output=True, timeout=60)
            subprocess.run(["groupdel", name], capture_output=True, timeout=60)


def test_the_unit_verifies_and_is_hardened(installed, tmp_path):
    unit = installed / "lib" / "systemd" / "system" / "cowork-ecs-gateway.service"
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, timeout=120, cwd="/")
    assert proc.returncode == 0, proc.stderr.decode()
    bare = tmp_path / "bare.service"
    bare.write_text(f"[Unit]\nDescription=no hardening\n[Service]\nExecStart={installed}/bin/otelcol-cowork-ecs\n")
    score, baseline = exposure(unit), exposure(bare)
    STORED["systemd-analyze security --offline=true"] = {"cowork-ecs-gateway.service": score, "no hardening": baseline}
    assert score <= 2.5, score
    d = unit_directives(unit)
    for key, want in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                      "StateDirectory": "cowork-ecs", "MemoryMax": "2G"}.items():
        assert d[key] == [want], (key, d.get(key))
    assert d["RestrictAddressFamilies"][0].split() == ["AF_INET", "AF_INET6", "AF_UNIX"]
    assert {v.split(":")[0] for v in d["LoadCredential"]} == {"tls.key", "signing.pem", "ingest-token",
                                                               "elasticsearch-api-key"}
    # Above the gateway's own exit after SIGTERM (COWORK_ECS_SHUTDOWN_TIMEOUT, 10 s).
    assert int(d["TimeoutStopSec"][0].rstrip("s")) > 10


def test_the_installed_gateway_runs_as_its_unit_would(stack, installed):
    unit = unit_directives(installed / "lib" / "systemd" / "system" / "cowork-ecs-gateway.service")
    state = Path("/var/lib") / unit["StateDirectory"][0]
    if state.exists():
        pytest.skip(f"{state} exists (an installed gateway's queue): not touching it")
    with service_user(installed / "lib" / "sysusers.d" / "cowork-ecs.conf", unit["User"][0]) as user:
        run_as_the_unit(stack, installed, unit, state, user.pw_uid, user.pw_gid)


def run_as_the_unit(stack, installed, unit, state, uid, gid):
    pki = h.test_pki()
    # The operator's part: the environment file and the credentials.
    env_file = Path(unit["EnvironmentFile"][0])
    http_port, grpc_port, health_port = h.free_port(), h.free_port(), h.free_port()
    edits = {"ELASTICSEARCH_ENDPOINT": stack.es.url, "ELASTICSEARCH_CA_FILE": str(pki / "ca.crt"),
             "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{http_port}", "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{grpc_port}",
             "HEALTH_CHECK_ENDPOINT": f"127.0.0.1:{health_port}", "COWORK_ECS_TLS_CERT_FILE": str(pki / "server.crt")}
    lines = env_file.read_text().splitlines()
    env_file.write_text("\n".join(f"{k}={edits[k]}" if (k := line.split("=", 1)[0]) in edits else line
                                  for line in lines) + "\n")
    sources = {"tls.key": (pki / "server.key").read_bytes(), "signing.pem": (pki / "signing.pem").read_bytes(),
               "ingest-token": b"installed-token-7f3a\n", "elasticsearch-api-key": stack.es.gateway_key[1].encode()}
    for spec in unit["LoadCredential"]:
        name, path = spec.split(":", 1)
        Path(path).write_bytes(sources[name])
        os.chmod(path, 0o600)
    # What systemd does before ExecStart: StateDirectory (owned by the user,
    # the mode given), the credentials copied into a directory of the
    # user's, the environment file read, and no other environment.
    proc, creds = None, None
    try:
        creds = Path(tempfile.mkdtemp(prefix="cowork-ecs-credentials-"))
        state.mkdir(mode=0o700)
        os.chown(state, uid, gid)
        os.chmod(state, int(unit["StateDirectoryMode"][0], 8))
        for spec in unit["LoadCredential"]:
            name, path = spec.split(":", 1)
            shutil.copy(path, creds / name)
            os.chown(creds / name, uid, gid)
            os.chmod(creds / name, 0o400)
        os.chown(creds, uid, gid)
        os.chmod(creds, 0o500)
        env = {"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(creds), "STATE_DIRECTORY": str(state)}
        for spec in unit.get("Environment", []):  # %S: the system's state directory
            k, v = spec.split("=", 1)
            env[k] = v.replace("%S", str(state.parent))
        for line in env_file.read_text().splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                env[k.strip()] = v.strip()
        cmd = shlex.split(unit["ExecStart"][0])
        log = Path(stack.workdir) / "installed-gateway.log"
        # setpriv execs (runuser would stay the parent): the collector itself
        # gets the SIGTERM below, as from systemd, with NoNewPrivileges.
        proc = subprocess.Popen(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups", "--no-new-privs",
                                 "env", "-i", *[f"{k}={v}" for k, v in env.items()], *cmd],
                                cwd="/", stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)

        def ready():
            if proc.poll() is not None:
                raise RuntimeError(f"installed gateway exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            return h.http("GET", f"http://127.0.0.1:{health_port}/", timeout=2)[0] == 200

        h.wait_until("the installed gateway's health check", ready, 60)
        request = json.dumps(h.tagged_cowork_request("rollout_installed")).encode()
        status, body = h._post_expecting_continue(http_port, "/v1/logs", request,
                                                  {"content-type": "application/json",
                                                   "authorization": "Bearer installed-token-7f3a"})
        assert status == 200, body[:500]
        docs = [d for d in stack.docs("rollout_installed", 29)
                if d["_index"].startswith(".ds-logs-claude_cowork.events.otel-")]
        # Sealed with the credential's key, queued in the StateDirectory, as the service user.
        assert all(get(d, "cowork_ecs.seal.id") for d in docs)
        assert {f.stat().st_uid for f in state.iterdir()} == {uid}, list(state.iterdir())
        STORED["rollout_installed (make install, unit's user and paths)"] = {"log records": len(docs)}
        started = time.monotonic()
        os.killpg(proc.pid, 15)
        assert proc.wait(timeout=int(unit["TimeoutStopSec"][0].rstrip("s"))) == 0
        STORED["rollout_installed (make install, unit's user and paths)"]["stopped after SIGTERM (s)"] = round(
            time.monotonic() - started, 1)
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)
        if creds:
            shutil.rmtree(creds, ignore_errors=True)


def test_the_readme_multitenant_drop_in_validates(tmp_path):
    """README "Rolling out": the drop-in's ExecStart for the multi-tenant
    gateway, its overlays as `make install` lays them out, passes `otelcol
    validate` with the credentials its LoadCredential lines name."""
    pki = h.test_pki()
    line = next(x for x in (h.ROOT / "README.md").read_text().splitlines()
                if x.startswith("ExecStart=/usr/local/bin/otelcol-cowork-ecs") and "gateway-multitenant" in x)
    configs = [h.ROOT / "collector-config" / a.split("/usr/local/etc/cowork-ecs/", 1)[1]
               for a in shlex.split(line.split("=", 1)[1])[1:] if a != "--config"]
    assert [c.name for c in configs] == ["gateway-multitenant.yaml", "credentials.yaml", "credentials-htpasswd.yaml"]
    creds = tmp_path / "credentials"
    creds.mkdir()
    for name, text in {"tls.key": (pki / "server.key").read_text(), "signing.pem": (pki / "signing.pem").read_text(),
                       "elasticsearch-api-key": "a2V5OnNlY3JldA==", "htpasswd": "team-a:alpha-pass-1\n"}.items():
        (creds / name).write_text(text)
    env = {"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": str(creds), "ELASTICSEARCH_ENDPOINT": "https://127.0.0.1:9200",
           "COWORK_ECS_TLS_CERT_FILE": str(pki / "server.crt"), "COWORK_ECS_QUEUE_DIR": str(tmp_path / "queue")}
    cmd = [str(h.COLLECTOR), "validate"] + [a for c in configs for a in ("--config", str(c))]
    proc = subprocess.run(cmd, env=env, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
