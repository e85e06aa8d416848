"""Traces and metrics, end to end (issue 9): the real Claude Code CLI with
traces (beta) and metrics on, through the real collector (the shipped
gateway.yaml: logs, traces and metrics pipelines through cowork_ecs) into the
real Elasticsearch. The canary prompt, command and command output are found
nowhere under redact_secrets (they hold credentials), hash and drop, in any
of the three signals; the canary email is absent under identity hash and
drop; spans, span events and metrics land in their own data streams."""

import hashlib
import hmac
import json

import pytest

import harness as h

HMAC_KEY = "e2e-hmac-key-0123456789abcdef0123456789"
TOKEN = "signals-token"
# The stand-in's `signals` scenario runs `echo <GITHUB_TOKEN>`: the token is
# in the command and in its output.
GITHUB_TOKEN = "ghp_CanaryOutputTokenCANARY0123456789abcd"
PROMPT_SECRET = "password=CanaryTracePass{p}"
PROMPT = "canary-trace-prompt-{p} say hello using bash " + PROMPT_SECRET
EMAIL = "canary.{p}@example.com"

# Where each signal lands (README "Traces and metrics"): log records and
# metrics as ECS documents, spans and their span events in the exporter's
# OTel mode (attributes under `attributes`), where Elastic's Traces Overview reads them.
STREAMS = {
    "logs": "logs-claude_code.events.otel-*",
    "spans": "traces-claude_code.otel-*",
    "span_events": "logs-claude_code.otel-*",
    "metrics": "metrics-claude_code.metrics-*",
}


def attr(doc, key):
    """A span attribute of an OTel-mode document."""
    return (doc.get("attributes") or {}).get(key)


def scenario_docs(stack, tag, index):
    query = {"bool": {"should": [{"term": {"e2e.scenario": tag}},
                                 {"term": {"resource.attributes.e2e.scenario": tag}}]}}
    return [{"_index": x["_index"], **x["_source"]} for x in stack.es.search(query, index, size=1000)]


@pytest.mark.parametrize("policy", ["redact_secrets", "hash", "drop"])
def test_all_three_signals_follow_the_content_and_identity_policy(stack, policy):
    p = policy.replace("_", "")
    tag = f"signals_{p}"
    identity = policy if policy in ("hash", "drop") else "keep"
    env = {f"COWORK_ECS_CONTENT_{c}": policy for c in ("PROMPTS", "RESPONSES", "TOOL_DETAILS", "API_BODIES", "TOOL_OUTPUT")}
    env.update({"COWORK_ECS_HMAC_KEY": HMAC_KEY, "COWORK_ECS_IDENTITY": identity, "COWORK_ECS_NAMESPACE": f"signals_{p}"})
    collector = h.Collector(stack.workdir, stack.es.url, TOKEN, env=env, name=f"collector-signals-{p}").start()
    try:
        extra = dict(h.ALL_SIGNALS_ENV)
        # The user's identity on every signal's resource.
        extra["OTEL_RESOURCE_ATTRIBUTES"] = f"e2e.scenario={tag},user.email={EMAIL.format(p=p)}"
        _, proc = h.run_claude("signals", stack.api.url, collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                               prompt=PROMPT.format(p=p), tag=tag, extra_env=extra)
        assert proc.returncode == 0, proc.stderr[-2000:]

        seen = {}

        def landed():
            seen.update({name: scenario_docs(stack, tag, index) for name, index in STREAMS.items()})
            spans = {attr(d, "span.type") for d in seen["spans"]}
            ok = (len(seen["logs"]) >= 5 and {"interaction", "llm_request", "tool"} <= spans
                  and seen["span_events"] and seen["metrics"])
            return dict(seen) if ok else None

        try:
            found = h.wait_until(f"logs, spans, span events and metrics of {tag}", landed, 90, interval=2)
        except TimeoutError as e:
            counts = {name: len(docs) for name, docs in seen.items()}
            raise AssertionError(f"{e}; documents per stream: {counts}\n{collector.logs(60)}") from None
    finally:
        collector.stop()

    for name, docs in found.items():
        assert all(f"-signals_{p}" in d["_index"] for d in docs), f"{name} in the configured namespace"
    stored = json.dumps(found)
    # Never stored, whatever the signal: the credentials.
    for secret in (GITHUB_TOKEN, PROMPT_SECRET.format(p=p).split("=")[1]):
        assert secret not in stored, f"{secret} stored under {policy}"
    spans = {attr(d, "span.type"): d for d in found["spans"] if attr(d, "span.type")}
    tool, interaction = spans["tool"], spans["interaction"]
    assert attr(tool, "event.category") == ["process"]
    assert attr(interaction, "event.category") == ["session"]
    llm = spans["llm_request"]
    assert attr(llm, "gen_ai.usage.input_tokens") == 120
    # What Elastic's Traces Overview reads: the span name, its duration in
    # ns, and the source attributes, typed.
    assert llm["name"] == "claude_code.llm_request" and llm["duration"] > 0
    assert attr(llm, "input_tokens") == 120 and attr(llm, "success") is True
    metric_names = {k for d in found["metrics"] for k in d.get("claude_code", {})}
    assert {"cost", "token"} <= metric_names, metric_names

    email = EMAIL.format(p=p)
    if policy == "redact_secrets":
        assert f"canary-trace-prompt-{p}" in stored, "the rest of the prompt stays readable"
        assert "[REDACTED:github_token]" in json.dumps(found["span_events"]), "the output, masked"
        assert "[REDACTED:github_token]" in attr(tool, "process.command_line")
        assert email in json.dumps(found["spans"]) and email in json.dumps(found["metrics"]), "identity: keep"
        return
    for canary in (f"canary-trace-prompt-{p}", "echo ghp_", email):
        assert canary not in stored, f"{canary} stored under {policy}"
    if policy == "hash":
        assert len(attr(tool, "process.command_line")) == 64
        hashed = hmac.new(HMAC_KEY.encode(), email.encode(), hashlib.sha256).hexdigest()
        for name in ("spans", "metrics"):
            users = {u for d in found[name] for u in (attr(d, "related.user") if name == "spans"
                                                         else d.get("related", {}).get("user", [])) or []}
            assert hashed in users, f"{name}: the hashed email, joinable across signals"
    else:
        assert attr(tool, "process.command_line") is None and attr(tool, "full_command") is None
