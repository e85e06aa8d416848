"""Fixtures of the end-to-end suite: one stack (Elasticsearch, collector,
Messages API stand-in) for the whole module, torn down at the end; on a
failure the collector and Elasticsearch logs are printed."""

import json
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402
from messages_api import MessagesApiStandIn  # noqa: E402

TOKEN = "e2e-ingest-token-5c1d"


class Stack:
    def __init__(self, workdir):
        self.workdir = workdir
        # Security on, TLS, API keys (README "Elasticsearch security").
        self.es = h.Elasticsearch(workdir, secure=True)
        self.collector = None
        self.api = None
        self.claude_runs = {}

    def docs(self, scenario, count, actions=(), index="logs-*", timeout=90):
        """Waits (bounded) until at least `count` documents of the scenario
        are searchable and every event.action in `actions` is among them."""
        # ECS documents carry resource attributes at the top level; the
        # exporter's OTel mode (non-Claude records) under resource.attributes.
        query = {"bool": {"should": [{"term": {"e2e.scenario": scenario}},
                                     {"term": {"resource.attributes.e2e.scenario": scenario}}]}}

        def ready():
            hits = [{"_index": x["_index"], **x["_source"]} for x in self.es.search(query, index)]
            seen = {d.get("event", {}).get("action") for d in hits}
            return hits if len(hits) >= count and set(actions) <= seen else None

        return h.wait_until(f"{count} documents with {list(actions)} for {scenario}", ready, timeout, interval=1)


@pytest.fixture(scope="session")
def stack(request):
    workdir = tempfile.mkdtemp(prefix="cowork-ecs-e2e-")
    s = Stack(workdir)
    try:
        # A cluster where the user also installed Elastic's integrations
        # (for their dashboards): their templates and pipelines come first.
        s.es.before_setup = h.install_package_standins
        s.es.start()
        s.collector = h.Collector(workdir, s.es.url, TOKEN).start()
        s.api = MessagesApiStandIn().start()
        # The real Claude Code CLI, one run per scenario.
        for scenario, protocol, tools in [
            ("bash_ok", "http/json", ["Bash"]),
            ("bash_fail", "http/protobuf", ["Bash"]),
            ("tool_rejected", "http/json", []),
            ("api_error", "http/json", []),
        ]:
            s.claude_runs[scenario] = h.run_claude(scenario, s.api.url, s.collector.otlp_http, TOKEN,
                                                   protocol=protocol, allowed_tools=tools)
        yield s
    finally:
        failed = request.session.testsfailed > 0 or sys.exc_info()[0] is not None
        for stop in (lambda: s.api and s.api.stop(), lambda: s.collector and s.collector.stop(), s.es.stop):
            try:
                stop()
            except Exception as e:  # keep tearing down
                print(f"teardown: {e}", file=sys.stderr)
        if failed:
            capture = request.config.pluginmanager.getplugin("capturemanager")
            with capture.global_and_fixture_disabled():
                print("\n===== collector log =====\n" + (s.collector.logs() if s.collector else "(not started)"))
                print("\n===== Elasticsearch logs =====\n" + s.es.logs())
                for name, (sid, proc) in s.claude_runs.items():
                    print(f"\n===== claude {name} (session {sid}) rc={proc.returncode} =====\n"
                          f"{proc.stdout[-2000:].decode(errors='replace')}\n{proc.stderr[-2000:].decode(errors='replace')}")


def by_action(docs, action):
    found = [d for d in docs if d.get("event", {}).get("action") == action]
    assert found, f"no {action} document among {sorted({d.get('event', {}).get('action') for d in docs})}"
    return found


def get(doc, dotted):
    """A field of a document by its dotted path (objects or dotted keys)."""
    cur = doc
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(cur, dict):
            return None
        for j in range(len(parts), i, -1):  # longest dotted key first
            key = ".".join(parts[i:j])
            if key in cur:
                cur = cur[key]
                i = j
                break
        else:
            return None
    return cur


def dump(doc):
    return json.dumps(doc, indent=1)[:4000]
