#!/usr/bin/env python3
"""`make run`: the whole path once, on this machine.

Starts a real Elasticsearch and the ocb-built collector (gateway config),
drives the real Claude Code CLI against the local Messages API stand-in
(a successful Bash call, a failing one, a rejected one, an API error), sends
the Cowork-shaped events over OTLP/HTTP, then prints a table of the ECS
documents found in Elasticsearch, which detections fire on them
(detections/rules.ndjson) and stops everything.
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness as h  # noqa: E402
from detection_rules import print_fired  # noqa: E402
from elastic_dashboards import DASHBOARDS, dashboard_query  # noqa: E402
from messages_api import MessagesApiStandIn  # noqa: E402

TOKEN = "demo-ingest-token"
# The Claude Code runs of the demo: scenario, allowed tools.
SESSIONS = [("bash_ok", ["Bash"]), ("bash_fail", ["Bash"]), ("tool_rejected", []), ("api_error", [])]


def run_sessions(api, collector, token, tag=lambda scenario: None, report=lambda line: None):
    """The demo's sessions: the real CLI per SESSIONS (bash_ok with traces
    and metrics on too), then the Cowork events; `tag(name)` names each
    one's e2e.scenario (None: the scenario's own name, "cowork")."""
    for scenario, tools in SESSIONS:
        # bash_ok with traces and metrics on too: spans for the Traces Overview.
        extra = dict(h.ALL_SIGNALS_ENV) if scenario == "bash_ok" else None
        _, proc = h.run_claude(scenario, api.url, collector.otlp_http, token, allowed_tools=tools,
                               extra_env=extra, tag=tag(scenario))
        report(f"claude -p ({scenario}): exit {proc.returncode}")
    status, _ = collector.post_logs(json.dumps(h.tagged_cowork_request(tag("cowork") or "cowork")).encode(),
                                    "application/json")
    report(f"Cowork events (OTLP/JSON): HTTP {status}")


def field(doc, dotted):
    cur = doc
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return ""
        cur = cur[part]
    return ",".join(cur) if isinstance(cur, list) else str(cur)


def print_dashboards(es):
    """How many documents each of Elastic's Claude dashboards would show
    (its dashboard-level filter), and how many of its panels find some."""
    print("\nElastic's dashboards (claude_code 0.3.0, claude_cowork 0.1.0) on these documents:")
    for d in DASHBOARDS:
        docs = es.count(dashboard_query(d), d["index"])
        panels = sum(1 for p in d["panels"] if es.count(dashboard_query(d, p["where"]), d["index"]))
        print(f"  {d['title']:<42} {docs:>5} documents  {panels}/{len(d['panels'])} panels with data")


def verify_verdict(es):
    """`cowork-ecs verify`'s one-line verdict on the Claude events and the
    seals (the gateway seals with the suite's generated key), with a
    read-only key as the README says."""
    pki = h.test_pki()
    access = []
    if getattr(es, "secure", False):  # the test suite's cluster; make run's has no security
        _, key = es.api_key("demo-verify", "verify.json")
        access = ["--api-key", key, "--ca-file", str(pki / "ca.crt")]
    h.http("POST", f"{es.url}/logs-cowork_ecs.seals-*/_refresh?ignore_unavailable=true&allow_no_indices=true")
    proc = subprocess.run([str(h.CLI), "verify", "--elasticsearch", es.url, *access,
                           "--public-key", str(pki / "signing.pub.pem"), "--until", "now",
                           "--index", "logs-claude_code.events.otel-*,logs-claude_cowork.events.otel-*"],
                          capture_output=True, timeout=300)
    lines = proc.stdout.decode().splitlines()
    chains = sum(1 for line in lines if line.startswith("chain "))
    sessions = sum(1 for line in lines if line.startswith("session "))
    if proc.returncode == 0:
        return f"Tamper evidence (cowork-ecs verify): intact: {chains} chain(s) of seals, {sessions} session(s)"
    problem = next((line.strip() for line in lines if line.startswith("  ")), proc.stderr.decode().strip()[-300:])
    return (f"Tamper evidence (cowork-ecs verify): NOT intact: {chains} chain(s) of seals, {sessions} session(s); "
            f"first problem: {problem}")


def main():
    work = tempfile.mkdtemp(prefix="cowork-ecs-demo-")
    es = h.Elasticsearch(work)
    collector = api = None
    try:
        print(f"Elasticsearch {h.ES_VERSION} starting on {es.url} ...", flush=True)
        es.start()
        collector = h.Collector(work, es.url, TOKEN).start()
        print(f"collector listening on {collector.otlp_http} (OTLP/HTTP, bearer token)", flush=True)
        api = MessagesApiStandIn().start()
        run_sessions(api, collector, TOKEN, report=lambda line: print(line, flush=True))

        def complete():
            # Every run's key events and all 29 Cowork records are searchable.
            hits = es.search({"match_all": {}}, index="logs-claude_*.events.otel-*", size=1000)
            scenarios = {field(x["_source"], "e2e.scenario") for x in hits}
            actions = [field(x["_source"], "event.action") for x in hits]
            cowork = sum(1 for x in hits if field(x["_source"], "e2e.scenario") == "cowork")
            done = (cowork >= 29 and {"bash_ok", "bash_fail", "tool_rejected", "api_error"} <= scenarios
                    and actions.count("tool_result") >= 2 + 4 and "api_error" in actions)
            return hits if done else None

        docs = h.wait_until("all documents to be searchable", complete, timeout=90, interval=1)
        time.sleep(2)  # stragglers of the last export
        docs = es.search({"match_all": {}}, index="logs-claude_*.events.otel-*", size=1000)
        columns = [("index", 24), ("event.action", 26), ("event.category", 15), ("event.outcome", 8),
                   ("event.kind", 14), ("detail", 48)]
        print()
        print("  ".join(name.ljust(width) for name, width in columns))
        print("  ".join("-" * width for _, width in columns))
        for hit in docs:
            d = hit["_source"]
            detail = (field(d, "process.command_line") or field(d, "gen_ai.tool.name") or field(d, "event.reason")
                      or field(d, "gen_ai.request.model") or field(d, "error.message"))
            row = [hit["_index"].split("-")[2] if hit["_index"].count("-") >= 2 else hit["_index"],
                   field(d, "event.action"), field(d, "event.category"), field(d, "event.outcome"),
                   field(d, "event.kind"), detail]
            print("  ".join(str(v)[:w].ljust(w) for v, (_, w) in zip(row, columns)))
        print(f"\n{len(docs)} ECS documents in Elasticsearch.")
        print_dashboards(es)
        print_fired(es)
        print("\n" + verify_verdict(es))
        return 0
    finally:
        for stop in (lambda: api and api.stop(), lambda: collector and collector.stop(), es.stop):
            try:
                stop()
            except Exception as e:
                print(f"stop: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
