"""The README's EDOT drop-in, followed literally (issue 16): the YAML block
marked `edot-snippet` in README.md is merged, as the collector merges
several --config files (maps merged, lists replaced), into a copy of
Elastic's EDOT 9.5.2 sample gateway (testdata/edot/gateway.yml) without the
elasticapm processor and connector (Elastic's modules cannot be built
here); the collector validates it, and one real Claude Code session goes
through it into Elasticsearch. Also: ocb reads the EDOT manifest, and its
collector and contrib versions are this project's."""

import copy
import json
import re
import subprocess

import pytest
import yaml

import harness as h
from conftest import get

TOKEN = "edot-token"
README = h.ROOT / "README.md"
SAMPLE = h.ROOT / "testdata" / "edot" / "gateway.yml"
EDOT_MANIFEST = h.ROOT / "collector-config" / "edot-builder-config.yaml"
OWN_MANIFEST = h.ROOT / "collector-config" / "builder-config.yaml"
GO_MOD = h.ROOT / "go-shim" / "go.mod"
BUILDER = h.BUILD / "bin" / "builder"


def readme_snippet():
    text = README.read_text()
    at = text.index("<!-- edot-snippet")
    block = re.search(r"```yaml\n(.*?)```", text[at:], re.S)
    assert block, "no yaml block after the edot-snippet marker"
    return yaml.safe_load("\n".join(line[3:] if line.startswith("   ") else line
                                    for line in block.group(1).splitlines()))


def merged(base, overlay):
    """The collector's merge of two configs: maps merged, anything else replaced."""
    out = copy.deepcopy(base)
    for k, v in overlay.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def without_elasticapm(config):
    """Elastic's elasticapm processor and connector cannot be built here."""
    config = copy.deepcopy(config)
    config.get("processors", {}).pop("elasticapm", None)
    config.pop("connectors", None)
    pipelines = config["service"]["pipelines"]
    for name in list(pipelines):
        p = pipelines[name]
        if "elasticapm" in p.get("receivers", []):
            del pipelines[name]
            continue
        for key in ("processors", "exporters"):
            if key in p:
                p[key] = [c for c in p[key] if c != "elasticapm"]
    return config


def test_ocb_reads_the_edot_manifest_and_its_versions_are_ours():
    proc = subprocess.run([str(BUILDER), "--config", EDOT_MANIFEST.name, "--skip-generate", "--skip-get-modules",
                           "--skip-compilation"], cwd=EDOT_MANIFEST.parent, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    edot = yaml.safe_load(EDOT_MANIFEST.read_text())
    gomods = [c["gomod"] for kind in ("receivers", "processors", "exporters", "extensions", "connectors", "providers")
              for c in edot.get(kind, [])]
    go_mod = GO_MOD.read_text()
    core_v1 = re.search(r"go.opentelemetry.io/collector/pdata (v\S+)", go_mod).group(1)
    core_v0 = re.search(r"go.opentelemetry.io/collector/processor/processorhelper (v\S+)", go_mod).group(1)
    contrib = re.search(r"opentelemetry-collector-contrib/pkg/pdatatest (v\S+)", go_mod).group(1)
    assert (core_v1, core_v0, contrib) == ("v1.63.0", "v0.157.0", "v0.157.0"), "EDOT 9.5.2's collector release"
    for gomod in gomods:
        module, version = gomod.split()
        if module.startswith("go.opentelemetry.io/collector/"):
            assert version in (core_v0, core_v1), gomod
        elif "opentelemetry-collector-contrib" in module:
            assert version == contrib, gomod
    own = yaml.safe_load(OWN_MANIFEST.read_text())
    for kind in ("receivers", "processors", "exporters"):
        for c in own[kind]:
            module, version = c["gomod"].split()
            if module.startswith(("go.opentelemetry.io/collector/", "github.com/open-telemetry/")):
                assert version in (core_v0, contrib), c["gomod"]
    assert any("github.com/cowork-ecs/cowork-ecs/go-shim" in g for g in gomods)
    assert {"elasticapmprocessor", "elasticapmconnector", "apikeyauthextension"} <= {g.split()[0].rsplit("/", 1)[1]
                                                                                      for g in gomods}


@pytest.fixture(scope="module")
def edot_gateway(stack, tmp_path_factory):
    work = tmp_path_factory.mktemp("edot")
    config = merged(yaml.safe_load(SAMPLE.read_text()), readme_snippet())
    # The snippet must define and enable every component it names.
    assert "file_storage/queue" in config["service"]["extensions"]
    assert config["exporters"]["elasticsearch/otel"]["sending_queue"]["storage"] == "file_storage/queue"
    for p in ("logs", "traces", "metrics"):
        assert config["service"]["pipelines"][p]["processors"][:2] == ["memory_limiter", "cowork_ecs"], p
        assert "batch" not in config["service"]["pipelines"][p]["processors"], p
    config = without_elasticapm(config)
    # Only what a test run needs on top: loopback listeners, the sender's token, a health check.
    c = h.Collector(work, stack.es.url, TOKEN, name="collector-edot")
    config["extensions"].update({"bearertokenauth": {"scheme": "Bearer", "token": TOKEN},
                                 "health_check": {"endpoint": f"127.0.0.1:{c.health_port}"}})
    config["service"]["extensions"] += ["bearertokenauth", "health_check"]
    for proto, port in (("grpc", c.grpc_port), ("http", c.http_port)):
        listener = config["receivers"]["otlp"]["protocols"][proto]
        # The snippet's TLS, with the certificate named by its variables (c.env).
        assert listener["tls"]["cert_file"] == "${env:COWORK_ECS_TLS_CERT_FILE}", listener
        listener.update({"endpoint": f"127.0.0.1:{port}", "auth": {"authenticator": "bearertokenauth"}})
    config["exporters"]["debug"] = {"verbosity": "basic"}
    path = work / "edot-gateway.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    c.config = path
    # The suite's cluster is secured: EDOT's exporter gets the gateway's API
    # key through its own variable, and trusts the suite's CA.
    config["exporters"]["elasticsearch/otel"]["tls"] = {"ca_file": str(h.test_pki() / "ca.crt")}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    c.env.update({"ELASTIC_ENDPOINT": stack.es.url, "ELASTIC_API_KEY": stack.es.gateway_key[1]})
    validate = subprocess.run([str(h.COLLECTOR), "validate", "--config", str(path)], env=c.env,
                              capture_output=True, timeout=60)
    assert validate.returncode == 0, validate.stderr.decode()[-3000:]
    c.start()
    yield c
    c.stop()


def test_one_claude_code_session_through_the_edot_gateway(stack, edot_gateway):
    tag = "edot_session"
    extra = dict(h.ALL_SIGNALS_ENV)
    extra["OTEL_RESOURCE_ATTRIBUTES"] = f"e2e.scenario={tag}"
    sid, proc = h.run_claude("bash_ok", stack.api.url, edot_gateway.otlp_http, TOKEN, allowed_tools=["Bash"],
                             tag=tag, extra_env=extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    logs = stack.docs(tag, 5, actions=("user_prompt", "api_request", "tool_result"),
                      index="logs-claude_code.events.otel-*")
    assert all(d["_index"].startswith(".ds-logs-claude_code.events.otel-default-") for d in logs)
    assert {get(d, "claude_code.events.session.id") for d in logs} == {sid}
    spans = stack.docs(tag, 3, index="traces-claude_code.otel-*")
    assert {"claude_code.llm_request", "claude_code.tool"} <= {d.get("name") for d in spans}
    query = {"bool": {"filter": [{"term": {"resource.attributes.e2e.scenario": tag}}]}}
    status, body = h.http("POST", f"{stack.es.url}/traces-claude_code.otel-*/_search", {"query": query, "size": 100})
    assert status == 200 and json.loads(body)["hits"]["total"]["value"] >= 3
