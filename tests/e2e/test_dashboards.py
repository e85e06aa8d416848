"""Elastic's dashboards show our documents (issue 16): the real Claude Code
CLI (logs, traces and metrics on), real Claude Code captures (MCP, a failed
MCP connection, a permission mode change) and the Cowork fixture, through
the shipped gateway into the real Elasticsearch 9, on a cluster that also
holds stand-ins of Elastic's package templates and pipelines. Then, for each
of the 13 dashboards (tests/e2e/elastic_dashboards.py), its dashboard-level
filter and each panel's filter and fields, queried as the panel would: each
dashboard finds our documents; each panel whose events the scenario
contains finds them; each field it reads is present with the type it needs.
"""

import json

import pytest

import harness as h
from elastic_dashboards import ABSENT, DASHBOARDS, EMPTY_PANELS, NOT_IN_SCENARIO, PACKAGE_TEMPLATES, dashboard_query
from conftest import TOKEN

TAG = "dashboards"
CAPTURES = ["testdata/captures/mcp/logs.json", "testdata/captures/mcp_failed/logs.json",
            "testdata/conformance/claude_code/permission-mode-changed.input.otlp.json"]
# Field types as Elasticsearch reports them (_field_caps), per what a panel needs.
TYPES = {"keyword": {"keyword", "constant_keyword", "wildcard"},
         "number": {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float",
                    "unsigned_long"},
         "boolean": {"boolean"}, "date": {"date", "date_nanos"}}


def tagged(request_json, tag):
    """The request with e2e.scenario=<tag> and a signed-in user's email (the
    captures were made without one) on every resource."""
    for key in ("resourceLogs", "resourceSpans"):
        for r in request_json.get(key, []):
            r.setdefault("resource", {}).setdefault("attributes", []).extend([
                {"key": "e2e.scenario", "value": {"stringValue": tag}},
                {"key": "user.email", "value": {"stringValue": "dashboards@example.com"}}])
    return request_json


@pytest.fixture(scope="module")
def scenario(stack):
    """Sends the scenario once; returns the scope query of its documents."""
    extra = dict(h.ALL_SIGNALS_ENV)
    extra["OTEL_RESOURCE_ATTRIBUTES"] = f"e2e.scenario={TAG},user.email=dashboards@example.com"
    _, proc = h.run_claude("signals", stack.api.url, stack.collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                           tag=TAG, extra_env=extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # A failing tool call by a signed-in user (Failed Call Details reads user.email).
    _, proc = h.run_claude("bash_fail", stack.api.url, stack.collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                           tag=TAG, extra_env={"OTEL_RESOURCE_ATTRIBUTES": extra["OTEL_RESOURCE_ATTRIBUTES"]})
    for path in CAPTURES:
        body = tagged(json.loads((h.ROOT / path).read_text()), TAG)
        status, resp = stack.collector.post_logs(json.dumps(body).encode(), "application/json")
        assert status == 200, resp
    status, resp = stack.collector.post_logs(json.dumps(h.tagged_cowork_request(TAG)).encode(), "application/json")
    assert status == 200, resp
    # This module's documents and the stack's real CLI runs (bash_ok,
    # bash_fail, tool_rejected, api_error).
    tags = [TAG, *stack.claude_runs]
    scope = {"bool": {"should": [{"terms": {"e2e.scenario": tags}},
                                 {"terms": {"resource.attributes.e2e.scenario": tags}}], "minimum_should_match": 1}}

    def landed():
        counts = {d["id"]: stack.es.count(dashboard_query(d, scope=scope), d["index"]) for d in DASHBOARDS}
        return counts if all(counts.values()) else None

    try:
        h.wait_until("every dashboard to find the scenario's documents", landed, 120, interval=2)
    except TimeoutError:
        pass  # the assertions below say which dashboard is empty
    return scope


def field_types(es, index, field):
    status, body = h.http("GET", f"{es.url}/{index}/_field_caps?fields={field}")
    assert status == 200, body[:2000]
    return set(json.loads(body)["fields"].get(field, {}))


@pytest.mark.parametrize("dashboard", DASHBOARDS, ids=[d["id"] for d in DASHBOARDS])
def test_each_dashboard_finds_our_documents_with_the_fields_its_panels_read(stack, scenario, dashboard):
    es, index = stack.es, dashboard["index"]
    found = es.count(dashboard_query(dashboard, scope=scenario), index)
    assert found > 0, f"{dashboard['title']}: its filter finds none of our documents"
    problems = []
    for p in dashboard["panels"]:
        key = (dashboard["id"], p["title"])
        hits = es.count(dashboard_query(dashboard, p["where"], scenario), index)
        if key in NOT_IN_SCENARIO:
            continue
        if key in EMPTY_PANELS:
            assert hits == 0, f"{key} now finds documents: update EMPTY_PANELS and the README"
            continue
        if hits == 0:
            problems.append(f"{p['title']}: no document")
            continue
        for field, want in p["fields"].items():
            with_field = es.count(dashboard_query(dashboard, {"bool": {"filter": [
                p["where"] or {"match_all": {}}, {"exists": {"field": field}}]}}, scenario), index)
            if with_field == 0:
                problems.append(f"{p['title']}: {field} absent")
                continue
            types = field_types(es, index, field)
            if not types or not types <= TYPES[want]:
                problems.append(f"{p['title']}: {field} is {sorted(types)}, the panel needs {want}")
    assert not problems, f"{dashboard['title']} ({dashboard['package']}):\n" + "\n".join(problems)


def test_the_fields_we_leave_out_are_absent(stack, scenario):
    for field, why in ABSENT.items():
        assert stack.es.count({"bool": {"filter": [scenario, {"exists": {"field": field}}]}}) == 0, \
            f"{field} is now present; it was absent because {why}"


def test_elastic_package_templates_and_pipelines_do_not_apply(stack, scenario):
    """The package's stand-in templates (priority 200, their pipeline as
    index.default_pipeline) lose to setup's (250): setup said what it found,
    and no backing index of our data streams has the package's
    default_pipeline (an index without it never runs the pipeline), while
    the package's template on its own resolves to it (the control)."""
    es = stack.es
    for name, pattern, pipeline in PACKAGE_TEMPLATES:
        assert f"also matched by index template {name} (priority 200, default_pipeline {pipeline})" \
            in es.setup_output, es.setup_output
        status, body = h.http("POST", f"{es.url}/_index_template/_simulate/{name}")
        assert status == 200, body[:500]
        assert json.loads(body)["template"]["settings"]["index"]["default_pipeline"] == pipeline
        status, body = h.http("GET", f"{es.url}/{pattern}/_settings")
        assert status == 200, body[:500]
        settings = json.loads(body)
        assert settings, f"no backing index of {pattern}"
        for idx, s in settings.items():
            assert "default_pipeline" not in s["settings"]["index"], (idx, s["settings"]["index"])
            assert "final_pipeline" not in s["settings"]["index"], (idx, s["settings"]["index"])
