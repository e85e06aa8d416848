"""Elasticsearch 8.x stays covered (issue 16): the suite runs on 9.x; this
smaller set runs `cowork-ecs setup` on an 8.19 node without any of Elastic's
package assets, and one real Claude Code session with logs, traces and
metrics on through the shipped gateway: each signal lands in its data
stream, typed as on 9.x, and the passthrough names answer."""

import json
import subprocess

import pytest

import harness as h
from conftest import get

TOKEN = "es8-token"
TAG = "es8"


@pytest.fixture(scope="module")
def es8(stack):
    es = h.Elasticsearch(stack.workdir, version=h.ES8_VERSION, name="elasticsearch-8")
    es.start()
    yield es
    es.stop()


def test_setup_and_one_session_per_signal_on_elasticsearch_8(stack, es8):
    status, body = h.http("GET", f"{es8.url}/_nodes/_local?filter_path=nodes.*.version")
    assert status == 200, body[:300]
    assert next(iter(json.loads(body)["nodes"].values()))["version"].startswith("8."), body[:300]
    collector = h.Collector(stack.workdir, es8.url, TOKEN, name="collector-es8").start()
    try:
        extra = dict(h.ALL_SIGNALS_ENV)
        extra["OTEL_RESOURCE_ATTRIBUTES"] = f"e2e.scenario={TAG}"
        sid, proc = h.run_claude("bash_ok", stack.api.url, collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                                 tag=TAG, extra_env=extra)
        assert proc.returncode == 0, proc.stderr[-2000:]
        scope = {"bool": {"should": [{"term": {"e2e.scenario": TAG}},
                                     {"term": {"resource.attributes.e2e.scenario": TAG}}]}}
        logs = es8.wait_for_docs(scope, 5, index="logs-claude_code.events.otel-*")
        spans = es8.wait_for_docs(scope, 3, index="traces-claude_code.otel-*")
        metrics = es8.wait_for_docs(scope, 1, index="metrics-claude_code.metrics-*")
    finally:
        collector.stop()
    assert {get(d["_source"], "claude_code.events.session.id") for d in logs} == {sid}
    assert {"claude_code.llm_request", "claude_code.tool"} <= {d["_source"].get("name") for d in spans}
    assert metrics
    # The dashboards' bare names answer through the passthrough object on 8.x too.
    for query in ({"term": {"session.id": sid}}, {"term": {"decision_source": "config"}}):
        hits = es8.search({"bool": {"filter": [scope, query]}}, "logs-claude_code.events.otel-*")
        assert hits, query


def test_setup_refuses_a_template_that_would_win_over_its_own(es8):
    """A template at or above setup's priority on one of its patterns would
    take the documents from setup's mappings: setup fails and names it."""
    status, body = h.http("PUT", f"{es8.url}/_index_template/interloper",
                          {"index_patterns": ["logs-claude_cowork.otel-*"], "data_stream": {}, "priority": 300})
    assert status == 200, body[:500]
    try:
        proc = subprocess.run([str(h.CLI), "setup", "--elasticsearch", es8.url], capture_output=True, timeout=120)
        assert proc.returncode != 0
        assert "index template interloper (priority 300)" in proc.stderr.decode(), proc.stderr.decode()[-2000:]
    finally:
        h.http("DELETE", f"{es8.url}/_index_template/interloper")
    proc = subprocess.run([str(h.CLI), "setup", "--elasticsearch", es8.url], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
