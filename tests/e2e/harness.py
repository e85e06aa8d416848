"""End-to-end harness: a real Elasticsearch, the real collector built by ocb,
the real Claude Code CLI, and the Messages API stand-in. Standard library
only. Everything listens on 127.0.0.1 (free ports), every wait is bounded,
and whoever starts a process stops it.
"""

import contextlib
import functools
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
# The suite runs on the major version Elastic's claude_code / claude_cowork
# packages require (Kibana 9.4+); ES8_VERSION keeps 8.x covered by a smaller set.
ES_VERSION = os.environ.get("ES_VERSION", "9.5.2")
ES8_VERSION = os.environ.get("ES8_VERSION", "8.19.21")
ES_USER = "cowork-es"
COLLECTOR = ROOT / "collector-config" / "_build" / "otelcol-cowork-ecs"
GATEWAY_CONFIG = ROOT / "collector-config" / "gateway.yaml"
MULTITENANT_CONFIG = ROOT / "collector-config" / "gateway-multitenant.yaml"
OTEL_INDEX_TEMPLATE = Path(__file__).resolve().parent / "otel-index-template.json"
CLI = ROOT / "target" / "release" / "cowork-ecs"
COWORK_FIXTURE = ROOT / "testdata" / "cowork" / "events.otlp.json"


def claude_binary():
    base = Path(__file__).resolve().parent / "node_modules" / "@anthropic-ai"
    for platform in ("claude-code-linux-x64", "claude-code-linux-arm64"):
        p = base / platform / "claude"
        if p.exists():
            return p
    raise FileNotFoundError(f"Claude Code CLI not installed under {base} (run make deps)")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _issue(pki, name, ca, ext):
    """A P-256 key and a certificate for it, signed by `ca` (a name in pki)."""
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", f"{name}.key",
             "-out", f"{name}.csr", "-subj", f"/CN={name}", cwd=pki)
    (pki / f"{name}.ext").write_text(ext + "\n")
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
             "-out", f"{name}.crt", "-days", "7", "-extfile", f"{name}.ext", cwd=pki)


@functools.cache
def test_pki():
    """The suite's own PKI, made once per run with openssl (in a temporary
    directory): `ca` signs `server` (localhost, 127.0.0.1: the gateway's
    OTLP listeners and Elasticsearch's HTTP layer) and `client` (mTLS);
    `rogue_ca` signs `rogue_client`, a client the gateway must not trust;
    `signing` is the gateways' Ed25519 signing key, `signing_revoked` one
    rotated out. Returns the directory; files are <name>.crt / <name>.key,
    <key>.pem / <key>.pub.pem."""
    pki = Path(tempfile.mkdtemp(prefix="cowork-ecs-pki-"))
    os.chmod(pki, 0o755)
    for ca in ("ca", "rogue_ca"):
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                 f"{ca}.key", "-out", f"{ca}.crt", "-days", "7", "-subj", f"/CN=cowork-ecs test {ca}", cwd=pki)
    _issue(pki, "server", "ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth")
    _issue(pki, "client", "ca", "extendedKeyUsage=clientAuth")
    _issue(pki, "rogue_client", "rogue_ca", "extendedKeyUsage=clientAuth")
    # Tamper evidence: the gateways' signing key, and one revoked (rotated out).
    for key in ("signing", "signing_revoked"):
        _openssl("genpkey", "-algorithm", "ed25519", "-out", f"{key}.pem", cwd=pki)
        _openssl("pkey", "-in", f"{key}.pem", "-pubout", "-out", f"{key}.pub.pem", cwd=pki)
    for f in pki.iterdir():
        os.chmod(f, 0o644)  # Elasticsearch runs as another user
    return pki


# Secured clusters by base URL: http() sends their superuser's credentials
# unless a request carries its own, and a Collector pointed at one gets its
# gateway API key and CA (Elasticsearch.gateway_env).
_CLUSTERS = {}
ROLES = ROOT / "collector-config" / "elasticsearch" / "roles"


@functools.cache
def tls_context():
    """Trusts the suite's CA (only): what every https request of the tests uses."""
    return ssl.create_default_context(cafile=str(test_pki() / "ca.crt"))


def http(method, url, body=None, headers=None, timeout=30, context=None):
    """One HTTP request; returns (status, body bytes). Never raises on HTTP
    errors. An https URL trusts the suite's CA unless `context` says otherwise."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    hdrs = {"content-type": "application/json"} if data is not None and not isinstance(body, bytes) else {}
    hdrs.update(headers or {})
    cluster = next((c for base, c in _CLUSTERS.items() if url.startswith(base + "/")), None)
    if cluster and not any(k.lower() == "authorization" for k in hdrs):
        hdrs["authorization"] = cluster.admin_authorization
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    if context is None and url.startswith("https:"):
        context = tls_context()
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_until(what, check, timeout, interval=0.5):
    """Polls check() until it returns a truthy value, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (OSError, ValueError) as e:  # connection refused, bad JSON while starting
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def _stop(proc, grace=20):
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _java_major(home):
    """The feature version of the JDK at `home` (its `release` file), or 0."""
    try:
        for line in (Path(home) / "release").read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                return int(line.split("=", 1)[1].strip('"').split(".")[0])
    except (OSError, ValueError):
        pass
    return 0


def install_package_standins(es):
    """Stand-ins of what Fleet installs for Elastic's claude_code /
    claude_cowork packages: per data stream an ingest pipeline (empty: the
    test distribution has no ingest processors) and an index template of the
    same name, pattern and priority with that pipeline as default_pipeline."""
    from elastic_dashboards import PACKAGE_PRIORITY, PACKAGE_TEMPLATES
    for name, pattern, pipeline in PACKAGE_TEMPLATES:
        for path, body in ((f"_ingest/pipeline/{pipeline}", {"description": f"stand-in of {pipeline}", "processors": []}),
                           (f"_index_template/{name}", {"index_patterns": [pattern], "data_stream": {},
                                                        "priority": PACKAGE_PRIORITY,
                                                        "_meta": {"description": "stand-in of Fleet's template"},
                                                        "template": {"settings": {"index.default_pipeline": pipeline}}})):
            status, resp = http("PUT", f"{es.url}/{path}", body)
            if status != 200:
                raise RuntimeError(f"{path}: {status} {resp[:500]!r}")


def java_home(es_version):
    """A JDK that runs Elasticsearch `es_version` (the test distribution
    bundles none): 8.x runs on 17+, 9.x needs 21+. ES_JAVA_HOME wins; then
    JAVA_HOME, the `java` on PATH and the machine's JDKs (/usr/lib/jvm)."""
    need = 21 if int(es_version.split(".")[0]) >= 9 else 17
    candidates = [os.environ.get("ES_JAVA_HOME"), os.environ.get("JAVA_HOME")]
    if shutil.which("java"):
        candidates.append(str(Path(os.path.realpath(shutil.which("java"))).parents[1]))
    candidates += sorted((str(p) for p in Path("/usr/lib/jvm").glob("*")), reverse=True)
    for home in candidates:
        if home and (Path(home) / "bin" / "java").exists() and _java_major(home) >= need:
            return home
    raise FileNotFoundError(f"no JDK {need}+ for Elasticsearch {es_version} (run make deps)")


class Elasticsearch:
    """A single-node Elasticsearch from the integ-test-zip distribution,
    bound to loopback, run as an unprivileged user. With `secure`, as users
    run it: security on, TLS on its HTTP layer (the suite's CA), a
    superuser for the tests' own queries, and API keys with the README's
    role descriptors (collector-config/elasticsearch/roles) for `setup` and
    the gateway; without, security off."""

    def __init__(self, workdir, version=ES_VERSION, name="elasticsearch", secure=False):
        self.version = version
        self.home = BUILD / f"elasticsearch-{version}"
        self.work = Path(workdir) / name
        self.port = free_port()
        self.secure = secure
        self.url = f"{'https' if secure else 'http'}://127.0.0.1:{self.port}"
        self.gateway_key = None
        if secure:
            import base64
            self.admin_password = uuid.uuid4().hex
            self.admin_authorization = "Basic " + base64.b64encode(f"cowork-admin:{self.admin_password}".encode()).decode()
            _CLUSTERS[self.url] = self
        self.proc = None
        self.log = self.work / "stdout.log"
        # Called with self after the node is up and before `cowork-ecs setup`
        # (what a cluster held before the user ran setup).
        self.before_setup = None

    def _user(self):
        if os.geteuid() != 0:
            return None  # not root: run as ourselves
        try:
            pwd.getpwnam(ES_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ES_USER], check=True)
        return ES_USER

    def start(self, timeout=180, keep_data=False):
        """Starts the node; with keep_data, on the data of its previous run
        (a restart after a crash)."""
        if not (self.home / "bin" / "elasticsearch").exists():
            raise FileNotFoundError(f"{self.home} missing (run make deps)")
        self.data_kept = keep_data and (self.work / "data").exists()
        if self.data_kept:
            return self._launch(timeout)
        conf = self.work / "config"
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.copytree(self.home / "config", conf)
        for d in ("data", "logs", "tmp"):
            (self.work / d).mkdir(parents=True)
        (conf / "elasticsearch.yml").write_text("\n".join([
            "cluster.name: cowork-ecs-e2e",
            "node.name: e2e",
            "network.host: 127.0.0.1",
            f"http.port: {self.port}",
            f"transport.port: {free_port()}",
            "discovery.type: single-node",
            *(self._security_settings(conf) if self.secure else ["xpack.security.enabled: false"]),
            f"path.data: {self.work / 'data'}",
            f"path.logs: {self.work / 'logs'}",
            "cluster.routing.allocation.disk.threshold_enabled: false",
            "action.destructive_requires_name: false",
            "",
        ]))
        if self.secure:
            self._tool("elasticsearch-users", "useradd", "cowork-admin", "-p", self.admin_password, "-r", "superuser")
        return self._launch(timeout)

    def _security_settings(self, conf):
        pki = test_pki()
        for src, dst in (("ca.crt", "ca.crt"), ("server.crt", "http.crt"), ("server.key", "http.key")):
            shutil.copy(pki / src, conf / dst)
        return ["xpack.security.enabled: true",
                "xpack.security.http.ssl.enabled: true",
                "xpack.security.http.ssl.certificate: http.crt",
                "xpack.security.http.ssl.key: http.key",
                "xpack.security.http.ssl.certificate_authorities: [ca.crt]",
                "xpack.security.transport.ssl.enabled: false",
                "xpack.security.authc.api_key.enabled: true"]

    def _env(self):
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_PATH_CONF": str(self.work / "config"),
            "ES_TMPDIR": str(self.work / "tmp"),
            "ES_JAVA_OPTS": "-Xms512m -Xmx512m",
            "ES_JAVA_HOME": java_home(self.version),
        }

    def _tool(self, name, *args):
        proc = subprocess.run([str(self.home / "bin" / name), *args], env=self._env(), capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"{name} failed: {proc.stdout.decode()[-1000:]} {proc.stderr.decode()[-2000:]}")

    def api_key(self, name, role_files, authorization=None):
        """Creates an API key holding the role descriptors of `role_files`
        (files under collector-config/elasticsearch/roles, as the README
        lists them); returns (id, encoded key)."""
        roles = {}
        for f in ([role_files] if isinstance(role_files, str) else role_files):
            roles.update(json.loads((ROLES / f).read_text()))
        headers = {"authorization": authorization} if authorization else None
        status, body = http("POST", f"{self.url}/_security/api_key", {"name": name, "role_descriptors": roles},
                            headers=headers)
        if status != 200:
            raise RuntimeError(f"API key {name}: {status} {body[:1000]!r}")
        key = json.loads(body)
        return key["id"], key["encoded"]

    def gateway_env(self):
        """What a gateway needs to write to this cluster: its API key (made
        at setup) and the CA of the cluster's certificate."""
        if not self.secure:
            return {}
        return {"ELASTICSEARCH_API_KEY": self.gateway_key[1], "ELASTICSEARCH_CA_FILE": str(test_pki() / "ca.crt")}

    def _launch(self, timeout):
        env = self._env()
        user = self._user()
        cmd = [str(self.home / "bin" / "elasticsearch")]
        if user:
            subprocess.run(["chown", "-R", f"{user}:{user}", str(self.work)], check=True)
            # The user must be able to reach the work dir through its parents.
            for parent in self.work.parents:
                if parent == Path("/"):
                    break
                os.chmod(parent, os.stat(parent).st_mode | 0o005)
            cmd = ["runuser", "-u", user, "--", "env", *[f"{k}={v}" for k, v in env.items()], *cmd]
        self.proc = subprocess.Popen(cmd, cwd=self.work, env=env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

        def healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(f"Elasticsearch exited with {self.proc.returncode}:\n{self.logs()}")
            status, body = http("GET", f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5)
            return status == 200 and json.loads(body)["status"] in ("yellow", "green")

        wait_until("Elasticsearch to be healthy", healthy, timeout)
        if not self.data_kept:
            if self.before_setup:
                self.before_setup(self)
            self.setup()
        return self

    def setup(self):
        """What a user runs once: `cowork-ecs setup` (the project's templates),
        plus a test-only stand-in for the built-in logs-*.otel-* template."""
        args = []
        if self.secure:
            # setup with a key of the README's setup role; the gateway's key
            # with the gateway role.
            _, setup_key = self.api_key("cowork-ecs-setup", "setup.json")
            args = ["--api-key", setup_key, "--ca-file", str(test_pki() / "ca.crt")]
            # The suite's gateways also carry other senders' records.
            self.gateway_key = self.api_key("cowork-ecs-gateway", ("gateway.json", "other-senders.json"))
        proc = subprocess.run([str(CLI), "setup", "--elasticsearch", self.url, *args], timeout=120,
                              capture_output=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        self.setup_output = proc.stderr.decode(errors="replace")
        if proc.returncode != 0:
            raise RuntimeError(f"cowork-ecs setup failed:\n{self.setup_output}")
        for kind in ("logs", "traces"):
            template = json.loads(OTEL_INDEX_TEMPLATE.read_text())
            template["index_patterns"] = [f"{kind}-*.otel-*"]
            status, body = http("PUT", f"{self.url}/_index_template/{kind}-otel-e2e", template)
            if status != 200:
                raise RuntimeError(f"index template {kind}-otel-e2e refused: {status} {body[:2000]!r}")

    def stop(self):
        _stop(self.proc)

    def kill(self):
        """SIGKILL, as a crash or an OOM kill would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def pause(self, paused=True):
        """SIGSTOP / SIGCONT: a hung node that keeps its connections open."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGSTOP if paused else signal.SIGCONT)

    def logs(self, tail=120):
        text = ""
        for f in [self.log, *sorted((self.work / "logs").glob("*.log"))]:
            if f.exists():
                text += f"--- {f}\n" + "\n".join(f.read_text(errors="replace").splitlines()[-tail:]) + "\n"
        return text

    def _read(self, index, path, body):
        """A search or count; a backing index created a moment ago (a
        rollover, a new day) may not have its shard yet: waited for."""
        http("POST", f"{self.url}/{index}/_refresh")
        for _ in range(40):
            status, text = http("POST", f"{self.url}/{index}/{path}", body)
            if status != 503 or b"no_shard_available" not in text:
                break
            time.sleep(0.25)
        return status, text

    def count(self, query, index="logs-*"):
        """How many documents match (0 where no index matches the pattern)."""
        status, body = self._read(index, "_count", {"query": query})
        if status == 404:
            return 0
        if status != 200:
            raise RuntimeError(f"count failed: {status} {body[:2000]!r}")
        return json.loads(body)["count"]

    def search(self, query, index="logs-*", size=500):
        status, body = self._read(index, "_search", {"query": query, "size": size, "sort": ["@timestamp"]})
        if status == 404:
            return []
        if status != 200:
            raise RuntimeError(f"search failed: {status} {body[:2000]!r}")
        return json.loads(body)["hits"]["hits"]

    def wait_for_docs(self, query, count, timeout=90, index="logs-*"):
        """Waits until at least `count` documents match, then returns them all."""
        return wait_until(f"{count} documents for {json.dumps(query)}",
                          lambda: (lambda hits: hits if len(hits) >= count else None)(self.search(query, index)),
                          timeout, interval=1)


def _post_expecting_continue(port, path, body, headers, timeout=30):
    """POSTs over TLS with `Expect: 100-continue`, as curl does for a large
    body: the body goes only once the server asks for it. A request the
    receiver refuses before reading its body (a 401) ends the connection
    (Go's net/http closes after that reply); sent whole, the body would
    still be in flight then, and over TLS the client sees the close before
    the answer. Returns (status, body bytes)."""
    import http.client
    conn = http.client.HTTPSConnection("localhost", port, context=tls_context(), timeout=timeout)
    try:
        conn.putrequest("POST", path)
        for k, v in {**headers, "content-length": str(len(body)), "expect": "100-continue"}.items():
            conn.putheader(k, v)
        conn.endheaders()
        fp = conn.sock.makefile("rb")
        status_line = fp.readline()
        status = int(status_line.split()[1])
        if status == 100:
            while fp.readline() not in (b"\r\n", b"\n", b""):
                pass
            conn.sock.sendall(body)
            resp = http.client.HTTPResponse(conn.sock, method="POST")
            resp.begin()
            return resp.status, resp.read()
        return status, b""
    finally:
        conn.close()


class Collector:
    """The ocb-built collector running collector-config/gateway.yaml. With
    `tls` (the shipped default) its OTLP listeners serve the suite's server
    certificate; without, COWORK_ECS_OTLP_TLS=false (plaintext)."""

    def __init__(self, workdir, es_url, token, config=None, env=None, name="collector", tls=True):
        self.work = Path(workdir) / name
        self.token = token
        self.tls = tls
        pki = test_pki()
        tls_env = ({"COWORK_ECS_TLS_CERT_FILE": str(pki / "server.crt"), "COWORK_ECS_TLS_KEY_FILE": str(pki / "server.key")}
                   if tls else {"COWORK_ECS_OTLP_TLS": "false"})
        self.config = Path(config) if config else GATEWAY_CONFIG
        self.http_port, self.grpc_port, self.health_port = free_port(), free_port(), free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ELASTICSEARCH_ENDPOINT": es_url,
            "COWORK_ECS_INGEST_TOKEN": token,
            "COWORK_ECS_QUEUE_DIR": str(self.work / "queue"),
            "OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.http_port}",
            "OTLP_GRPC_ENDPOINT": f"127.0.0.1:{self.grpc_port}",
            "HEALTH_CHECK_ENDPOINT": f"127.0.0.1:{self.health_port}",
            "COWORK_ECS_FLUSH_TIMEOUT": "1s",
            **tls_env,
            "COWORK_ECS_SIGNING_KEY_FILE": str(pki / "signing.pem"),
            **(_CLUSTERS[es_url].gateway_env() if es_url in _CLUSTERS else {}),
            **(env or {}),
        }
        self.proc = None
        self.log = self.work / "collector.log"

    @property
    def otlp_http(self):
        return f"{'https' if self.tls else 'http'}://localhost:{self.http_port}"

    def start(self, extra_configs=(), timeout=60, keep_queue=False):
        """Starts the collector; with keep_queue, on the persistent queue its
        previous run left (a restart after a crash)."""
        if not COLLECTOR.exists():
            raise FileNotFoundError(f"{COLLECTOR} missing (run make collector)")
        if not keep_queue:
            shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True, exist_ok=True)
        # No self-telemetry listener: nothing but the test's own ports.
        overrides = self.work / "overrides.yaml"
        overrides.write_text("service:\n  telemetry:\n    metrics:\n      level: none\n")
        cmd = [str(COLLECTOR), "--config", str(self.config), "--config", str(overrides)]
        for c in extra_configs:
            cmd += ["--config", str(c)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}:\n{self.logs()}")
            return http("GET", f"http://127.0.0.1:{self.health_port}/", timeout=2)[0] == 200

        wait_until("the collector's health check", ready, timeout)
        return self

    def stop(self):
        _stop(self.proc)

    def kill(self):
        """kill -9: whatever the process held in memory is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, wait):
        """SIGTERM, as systemd or Kubernetes stops it; returns the seconds
        until the process exited by itself and its exit status, or None if
        it was still running after `wait` (then it is killed)."""
        started = time.monotonic()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            status = self.proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        return time.monotonic() - started, status

    def logs(self, tail=200):
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-tail:])

    def post_logs(self, body, content_type, token=None, authorization=None):
        """POSTs to /v1/logs with `Bearer <token>` (the collector's own token
        unless given; "" sends none) or a literal Authorization value."""
        return self.post("logs", body, content_type, token, authorization)

    def post(self, signal, body, content_type, token=None, authorization=None):
        """POSTs to /v1/<signal> (logs, traces, metrics), as post_logs."""
        headers = {"content-type": content_type}
        token = self.token if token is None else token
        if authorization:
            headers["authorization"] = authorization
        elif token:
            headers["authorization"] = f"Bearer {token}"
        if not self.tls:
            return http("POST", f"{self.otlp_http}/v1/{signal}", body, headers)
        return _post_expecting_continue(self.http_port, f"/v1/{signal}", body, headers)


# What Claude Code needs to export traces (beta) and metrics as well, with
# every content switch on (OTEL_LOG_TOOL_CONTENT adds the tool.output span event).
ALL_SIGNALS_ENV = {
    "OTEL_METRICS_EXPORTER": "otlp",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
    "OTEL_TRACES_EXPORTER": "otlp",
    "CLAUDE_CODE_ENHANCED_TELEMETRY_BETA": "1",
    "OTEL_TRACES_EXPORT_INTERVAL": "500",
    "OTEL_LOG_TOOL_CONTENT": "1",
}


def run_claude(scenario, api_url, otlp_endpoint, token, protocol="http/json", allowed_tools=(), timeout=180,
               prompt="say hello using bash", tag=None, extra_env=None, args=(), files=None):
    """Runs `claude -p <prompt>` once, in a fresh work dir and HOME, with
    telemetry to the collector (resource attribute e2e.scenario=<tag or
    scenario>; extra_env adds or overrides variables; args are more CLI
    arguments; files, {path: text}, are written first, a path starting
    `~/` into HOME (under `~/.config/`: mode 0600, a user's credential),
    any other into the work dir, where "{work}" in a text is the work dir).
    otlp_endpoint None: no telemetry variable at all (the environment of a
    user whose only telemetry configuration is managed settings). Returns
    (session_id, completed process)."""
    session_id = str(uuid.uuid4())
    with tempfile.TemporaryDirectory(prefix=f"cc-{scenario}-") as tmp:
        home, work = Path(tmp) / "home", Path(tmp) / "work"
        home.mkdir()
        work.mkdir()
        for path, text in (files or {}).items():
            f = home / path[2:] if path.startswith("~/") else work / path
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text.replace("{work}", str(work)))
            if path.startswith("~/.config/"):
                os.chmod(f, 0o600)
        telemetry = {} if otlp_endpoint is None else {
            "CLAUDE_CODE_ENABLE_TELEMETRY": "1",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
            # The README's emitter setting for a gateway with TLS: Claude
            # Code trusts the CA its runtime reads from NODE_EXTRA_CA_CERTS
            # (it does not read OTEL_EXPORTER_OTLP_CERTIFICATE).
            **({"NODE_EXTRA_CA_CERTS": str(test_pki() / "ca.crt")} if otlp_endpoint.startswith("https:") else {}),
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {token}",
            "OTEL_LOGS_EXPORT_INTERVAL": "500",
            "OTEL_LOG_USER_PROMPTS": "1",
            "OTEL_LOG_TOOL_DETAILS": "1",
            "OTEL_RESOURCE_ATTRIBUTES": f"e2e.scenario={tag or scenario}",
        }
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "TERM": "xterm",
            **telemetry,
            "ANTHROPIC_BASE_URL": api_url,
            "ANTHROPIC_API_KEY": f"sk-ant-e2e-{scenario}",
            "CLAUDE_CODE_MAX_RETRIES": "0",
            "DISABLE_AUTOUPDATER": "1",
            # No traffic but to the stand-in and the collector (no update
            # checks, error reporting or product analytics; OTel is separate).
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            **(extra_env or {}),
        }
        cmd = [str(claude_binary()), "-p", prompt, "--output-format", "json", "--session-id", session_id]
        if allowed_tools:
            cmd += ["--allowedTools", *allowed_tools]
        cmd += list(args)
        proc = subprocess.run(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return session_id, proc


MAPPING_REFERENCE = ROOT / "docs" / "mapping.md"


@functools.cache
def event_categories():
    """{event name: (category, type) or None} from docs/mapping.md §1, the
    field reference generated from the mapping's tables (a Rust test keeps it
    current), so the end-to-end tests read the mapping instead of restating it.
    "*" is the row of any other name."""
    table, section = {}, None
    for line in MAPPING_REFERENCE.read_text().splitlines():
        if line.startswith("## "):
            section = line
        if not (section or "").startswith("## 1.") or not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        name = cells[0].strip("`") if cells[0].startswith("`") else ("*" if cells[0] == "any other name" else None)
        if name:
            table[name] = None if cells[1] == "—" else (cells[1], cells[2])
    assert len(table) > 20 and "*" in table, f"no event table in {MAPPING_REFERENCE}"
    return table


def assert_categorized(doc, get):
    """The document's event.category / event.type are its event's row."""
    categories = event_categories()
    action = get(doc, "event.action")
    want = categories.get(action, categories["*"])
    got = (get(doc, "event.category"), get(doc, "event.type"))
    assert got == (([want[0]], [want[1]]) if want else (None, None)), (action, got, want)


def tagged_cowork_request(tag):
    """The Cowork fixture with resource attribute e2e.scenario=<tag> on every resource."""
    req = json.loads(COWORK_FIXTURE.read_text())
    for rl in req["resourceLogs"]:
        rl["resource"]["attributes"].append({"key": "e2e.scenario", "value": {"stringValue": tag}})
    return req


def to_protobuf(request_json):
    """OTLP/JSON -> protobuf bytes, through the project's own CLI (no transform)."""
    proc = subprocess.run([str(CLI), "convert", "--output", "proto"], input=json.dumps(request_json).encode(),
                          capture_output=True, check=True, timeout=60)
    return proc.stdout
