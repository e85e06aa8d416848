"""A secured Elasticsearch, as users run it (issue 18, item 2): the suite's
cluster has security on, TLS on its HTTP layer and API keys made from the
README's role descriptors (harness.Elasticsearch(secure=True)); here:

- the README shows exactly the role files the tests create keys from;
- the keys hold what their job needs and nothing else;
- a gateway whose key has only the Claude role indexes Claude's records
  and drops another sender's (403 per document) without holding its queue.

A key revoked mid-stream is in test_delivery.py."""

import json
import re
import time

import pytest

import harness as h
from conftest import TOKEN


def readme_roles():
    text = (h.ROOT / "README.md").read_text()
    out = {}
    for name, block in re.findall(r"<!-- role: (\S+) -->\n\s*```json\n(.*?)```", text, re.S):
        out[name] = json.loads(block)
    return out


def test_the_readme_shows_the_role_files_the_tests_create_keys_from():
    files = {p.name: json.loads(p.read_text()) for p in h.ROLES.glob("*.json")}
    assert set(files) == {"setup.json", "gateway.json", "other-senders.json", "verify.json"}
    assert readme_roles() == files


def _status(es, method, path, body, key):
    return h.http(method, f"{es.url}/{path}", body, headers={"authorization": f"ApiKey {key}"})[0]


def test_the_cluster_is_secured_and_each_key_holds_only_its_job(stack):
    es = stack.es
    assert es.secure and es.url.startswith("https://")
    assert h.http("GET", f"{es.url}/", headers={"authorization": "Basic eDp5"})[0] == 401
    _, setup_key = es.api_key("check-setup", "setup.json")
    _, gateway_key = es.api_key("check-gateway", "gateway.json")
    doc = {"@timestamp": "2026-11-30T00:00:00Z", "message": "forged"}
    # setup: templates, no documents.
    assert _status(es, "GET", "_index_template/cowork-ecs-*", None, setup_key) == 200
    assert _status(es, "POST", "logs-claude_code.events.otel-keycheck/_doc", doc, setup_key) == 403
    # gateway: documents in the Claude data streams only, no reads, no templates.
    status, created = h.http("POST", f"{es.url}/logs-claude_code.events.otel-keycheck/_doc", doc,
                             headers={"authorization": f"ApiKey {gateway_key}"})
    assert status == 201, created[:500]
    assert _status(es, "POST", "logs-other-keycheck/_doc", doc, gateway_key) == 403
    assert _status(es, "POST", "logs-generic.otel-keycheck/_doc", doc, gateway_key) == 403
    assert _status(es, "POST", "logs-claude_code.events.otel-keycheck/_search", {}, gateway_key) == 403
    assert _status(es, "PUT", "_index_template/forged", {"index_patterns": ["logs-claude_code*"]}, gateway_key) == 403
    assert _status(es, "DELETE", "logs-claude_code.events.otel-keycheck/_doc/x", None, gateway_key) == 403
    created = json.loads(created)  # the check's document goes again (as the superuser)
    assert h.http("DELETE", f"{es.url}/{created['_index']}/_doc/{created['_id']}?refresh=true")[0] == 200


@pytest.fixture(scope="module")
def claude_only_gateway(stack):
    _, key = stack.es.api_key("claude-only", "gateway.json")
    c = h.Collector(stack.workdir, stack.es.url, TOKEN, name="collector-claude-only",
                    env={"ELASTICSEARCH_API_KEY": key}).start()
    yield c
    c.stop()


def test_a_claude_only_key_drops_other_senders_without_holding_the_queue(stack, claude_only_gateway):
    c = claude_only_gateway
    other = {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "billing"}},
        {"key": "e2e.scenario", "value": {"stringValue": "claude_only_other"}}]},
        "scopeLogs": [{"logRecords": [{"body": {"stringValue": "invoice 7"}}]}]}]}
    assert c.post_logs(json.dumps(other).encode(), "application/json")[0] == 200
    assert c.post_logs(json.dumps(h.tagged_cowork_request("claude_only_cowork")).encode(), "application/json")[0] == 200
    stack.docs("claude_only_cowork", 5)
    time.sleep(2)
    assert stack.es.count({"term": {"resource.attributes.e2e.scenario": "claude_only_other"}}, index="logs-*") == 0
    assert "403" in c.logs(400) or "security_exception" in c.logs(400), c.logs(60)
