"""TLS on the gateway's OTLP receivers (issue 18, item 1), with the shipped
gateway as shipped (TLS on) and the suite's own CA (harness.test_pki):

- the real Claude Code CLI exports over https with the README's emitter
  settings (the CA in NODE_EXTRA_CA_CERTS) and its session is indexed;
- a plaintext request, a client that trusts another CA (the real CLI and
  Python) and, with a client CA configured (mTLS), a client without a
  certificate or with one from another CA all fail and store nothing;
- TLS on without a certificate is a clear error at startup."""

import json
import ssl
import subprocess
import time
import urllib.error

import pytest

import harness as h
from conftest import TOKEN, get


def _request(tag):
    return json.dumps(h.tagged_cowork_request(tag)).encode()


def _refused(call):
    """The call fails: an HTTP error status, or no connection at all (TLS handshake refused)."""
    try:
        status, _ = call()
    except (urllib.error.URLError, ssl.SSLError, ConnectionError, OSError) as e:
        return f"connection failed: {e}"
    return None if status == 200 else f"HTTP {status}"


def test_claude_code_exports_over_https_with_the_readmes_settings(stack):
    assert stack.collector.otlp_http.startswith("https://")
    tag = "tls_claude"
    sid, proc = h.run_claude("bash_ok", stack.api.url, stack.collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                             tag=tag)
    assert proc.returncode == 0, proc.stderr[-2000:]
    docs = stack.docs(tag, 5, actions=("user_prompt", "api_request", "tool_result"))
    assert {get(d, "claude_code.events.session.id") for d in docs} == {sid}


def test_plaintext_and_untrusting_clients_fail_and_store_nothing(stack):
    c = stack.collector
    plain_url = c.otlp_http.replace("https://", "http://") + "/v1/logs"
    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    failures = {
        "plaintext": _refused(lambda: h.http("POST", plain_url, _request("tls_plaintext"), headers)),
        # Python's own trust store: the suite's CA is not in it.
        "untrusting_python": _refused(lambda: h.http("POST", c.otlp_http + "/v1/logs", _request("tls_untrusting"),
                                                     headers, context=ssl.create_default_context())),
    }
    assert all(failures.values()), failures
    # The real CLI trusting another CA: its export fails, the session itself runs.
    _, proc = h.run_claude("bash_ok", stack.api.url, c.otlp_http, TOKEN, allowed_tools=["Bash"], tag="tls_untrusting_cli",
                           extra_env={"NODE_EXTRA_CA_CERTS": str(h.test_pki() / "rogue_ca.crt")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The README's claim (step 3): Claude Code does not read the OTel SDK's
    # variable; with only it, the CA is not trusted and nothing arrives.
    _, proc = h.run_claude("bash_ok", stack.api.url, c.otlp_http, TOKEN, allowed_tools=["Bash"], tag="tls_otel_cert_cli",
                           extra_env={"NODE_EXTRA_CA_CERTS": "",
                                      "OTEL_EXPORTER_OTLP_CERTIFICATE": str(h.test_pki() / "ca.crt")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    # A trusted request sent after all of them is indexed: anything the
    # failed ones had left would be by now.
    assert c.post_logs(_request("tls_after"), "application/json")[0] == 200
    stack.docs("tls_after", 1)
    time.sleep(2)
    for tag in ("tls_plaintext", "tls_untrusting", "tls_untrusting_cli", "tls_otel_cert_cli"):
        assert stack.es.count({"term": {"e2e.scenario": tag}}) == 0, tag


@pytest.fixture(scope="module")
def mtls_gateway(stack):
    pki = h.test_pki()
    c = h.Collector(stack.workdir, stack.es.url, TOKEN, name="collector-mtls",
                    env={"COWORK_ECS_TLS_CLIENT_CA_FILE": str(pki / "ca.crt")}).start()
    yield c
    c.stop()


def _client_context(cert):
    ctx = ssl.create_default_context(cafile=str(h.test_pki() / "ca.crt"))
    if cert:
        ctx.load_cert_chain(str(h.test_pki() / f"{cert}.crt"), str(h.test_pki() / f"{cert}.key"))
    return ctx


def test_mtls_takes_only_clients_the_client_ca_signed(stack, mtls_gateway):
    url = mtls_gateway.otlp_http + "/v1/logs"
    headers = {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}
    failures = {cert or "none": _refused(lambda cert=cert: h.http("POST", url, _request(f"mtls_{cert}"), headers,
                                                                   context=_client_context(cert)))
                for cert in (None, "rogue_client")}
    assert all(failures.values()), failures
    status, body = h.http("POST", url, _request("mtls_client"), headers, context=_client_context("client"))
    assert status == 200, body[:500]
    stack.docs("mtls_client", 1)
    time.sleep(2)
    for tag in ("mtls_None", "mtls_rogue_client"):
        assert stack.es.count({"term": {"e2e.scenario": tag}}) == 0, tag


def test_tls_without_a_certificate_is_an_error_at_startup(stack):
    env = h.Collector(stack.workdir, stack.es.url, TOKEN, name="collector-nocert").env
    for key in ("COWORK_ECS_TLS_CERT_FILE", "COWORK_ECS_TLS_KEY_FILE"):
        env.pop(key)
    for config in (h.GATEWAY_CONFIG, h.MULTITENANT_CONFIG):
        proc = subprocess.run([str(h.COLLECTOR), "validate", "--config", str(config)],
                              env={**env, "COWORK_ECS_HTPASSWD": "a:b"}, capture_output=True, timeout=60)
        assert proc.returncode != 0, config
        assert "must include both certificate and key" in proc.stderr.decode(), proc.stderr.decode()[-1500:]
    # Plaintext only when asked for.
    proc = subprocess.run([str(h.COLLECTOR), "validate", "--config", str(h.GATEWAY_CONFIG)],
                          env={**env, "COWORK_ECS_OTLP_TLS": "false"}, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()[-1500:]
