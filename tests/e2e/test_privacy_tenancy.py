"""Content policy and trusted tenant, end to end (real collector, real
Elasticsearch): canary secrets and a canary prompt under each policy, found
or not by a full-text search and by a scan of every stored document; two
senders with different credentials in two namespaces; no credentials, 401."""

import base64
import json

import pytest

import harness as h
from conftest import get

HMAC_KEY = "e2e-hmac-key-0123456789abcdef0123456789"

# What each record of the canary request carries (SPEC section 5 classes).
CANARY_PROMPT = "canary-prompt-{p} summarize the Q3 plan"
CANARY_RESPONSE = "canary-response-{p} here it is"
SECRETS = {  # fake credentials, one per place
    "prompt": "password=CanaryPromptPass{p}",
    "command": "https://deploy:CanaryUrlPass{p}@git.example.com/repo.git",
    "bearer": "Bearer CanaryBearerTok{p}9876",
}


def aws_key(p):
    """A well-formed (fake) AWS access key id, distinct per policy."""
    return "AKIA" + (p.upper() + "Z" * 16)[:16]


def secret_values(p):
    """The parts that must never be stored under redact_secrets, hash or drop."""
    return [f"CanaryPromptPass{p}", f"CanaryUrlPass{p}", f"CanaryBearerTok{p}9876", aws_key(p)]


def canary_request(p, tag):
    def attr(k, v):
        return {"key": k, "value": {"intValue": v} if isinstance(v, int) else {"stringValue": v}}

    def rec(name, attrs):
        return {"body": {"stringValue": f"claude_code.{name}"},
                "attributes": [attr("event.name", name), attr("session.id", f"s-{tag}")] + [attr(k, v) for k, v in attrs]}

    prompt = f"{CANARY_PROMPT.format(p=p)} {SECRETS['prompt'].format(p=p)}"
    command = f"git clone {SECRETS['command'].format(p=p)} && curl -H 'Authorization: {SECRETS['bearer'].format(p=p)}' x"
    body = json.dumps({"messages": [{"role": "user", "content": f"{CANARY_PROMPT.format(p=p)} {aws_key(p)}"}]})
    records = [
        rec("user_prompt", [("prompt", prompt), ("prompt_text", prompt), ("prompt_length", len(prompt))]),
        rec("assistant_response", [("response", CANARY_RESPONSE.format(p=p)), ("response_length", 20)]),
        rec("tool_result", [("tool_name", "Bash"), ("success", "true"),
                            ("tool_parameters", json.dumps({"bash_command": "git", "full_command": command})),
                            ("tool_input", json.dumps({"command": command, "description": "clone"}))]),
        rec("api_request_body", [("body", body), ("body_length", str(len(body)))]),
    ]
    return {"resourceLogs": [{"resource": {"attributes": [attr("service.name", "claude-code"), attr("e2e.scenario", tag)]},
                              "scopeLogs": [{"logRecords": records}]}]}


@pytest.mark.parametrize("policy", ["keep", "redact_secrets", "hash", "drop"])
def test_content_policy_canaries(stack, policy):
    p = policy.replace("_", "")
    tag = f"canary_{p}"
    env = {f"COWORK_ECS_CONTENT_{c}": policy for c in ("PROMPTS", "RESPONSES", "TOOL_DETAILS", "API_BODIES")}
    env.update({"COWORK_ECS_HMAC_KEY": HMAC_KEY, "COWORK_ECS_NAMESPACE": f"policy_{p}"})
    collector = h.Collector(stack.workdir, stack.es.url, "policy-token", env=env, name=f"collector-{p}")
    collector.start()
    try:
        # preserve_original is off here; a broken-JSON record would carry event.original (covered in Rust tests).
        status, body = collector.post_logs(json.dumps(canary_request(p, tag)).encode(), "application/json")
        assert status == 200, body
        docs = stack.docs(tag, 4, ["user_prompt", "assistant_response", "tool_result", "api_request_body"])
    finally:
        collector.stop()
    assert all(d["_index"].startswith(".ds-logs-claude_code.events.otel-policy_") for d in docs)
    stored = json.dumps(docs)  # every stored field of every document
    prompt_canary, response_canary = f"canary-prompt-{p}", f"canary-response-{p}"
    found = lambda phrase: stack.es.search(  # noqa: E731  full-text search of the indices
        {"bool": {"filter": [{"term": {"e2e.scenario": tag}}],
                  "must": [{"query_string": {"query": f'"{phrase}"', "default_field": "*", "lenient": True}}]}})

    if policy == "keep":
        for s in [prompt_canary, response_canary, *secret_values(p)]:
            assert s in stored, f"{s} lost under keep"
        assert found(prompt_canary), "full-text search finds the kept prompt"
        assert found(secret_values(p)[0]), "and the kept secret"
        return
    for s in secret_values(p):
        assert s not in stored, f"{s} stored under {policy}"
        assert not found(s), f"{s} searchable under {policy}"
    by = {get(d, "event.action"): d for d in docs}
    if policy == "redact_secrets":
        assert prompt_canary in stored and response_canary in stored, "the rest stays readable"
        assert found(prompt_canary)
        assert get(by["user_prompt"], "claude_code.events.redacted") == ["prompts"]
        assert get(by["user_prompt"], "claude_code.events.redacted_secrets") == 1
        assert "[REDACTED:url_password]" in get(by["tool_result"], "process.command_line")
        assert "git.example.com" in get(by["tool_result"], "process.command_line")
        return
    for s in (prompt_canary, response_canary, "git.example.com"):
        assert s not in stored, f"{s} stored under {policy}"
        assert not found(s)
    assert get(by["user_prompt"], "claude_code.events.prompt_length") > 0, "lengths stay"
    assert sorted(get(by["tool_result"], "claude_code.events.redacted")) == ["tool_details"]
    if policy == "hash":
        assert len(get(by["user_prompt"], "claude_code.events.prompt_text")) == 64
        assert len(get(by["tool_result"], "process.command_line")) == 64
    else:
        assert get(by["user_prompt"], "claude_code.events.prompt_text") is None
        assert get(by["tool_result"], "process.command_line") is None
        assert get(by["api_request_body"], "claude_code.events.body") is None


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_two_senders_land_in_two_namespaces(stack):
    env = {"COWORK_ECS_HTPASSWD": "team-a:alpha-pass-1\nteam-b:bravo-pass-2"}
    collector = h.Collector(stack.workdir, stack.es.url, "", config=h.MULTITENANT_CONFIG, env=env, name="collector-tenants")
    collector.start()
    try:
        for user, password in [("team-a", "alpha-pass-1"), ("team-b", "bravo-pass-2")]:
            req = h.tagged_cowork_request(f"tenant_{user}")
            status, body = collector.post_logs(json.dumps(req).encode(), "application/json", authorization=basic(user, password))
            assert status == 200, body
        # No credentials, or wrong ones: refused by the receiver, nothing indexed.
        req = json.dumps(h.tagged_cowork_request("tenant_nobody")).encode()
        assert collector.post_logs(req, "application/json", token="")[0] == 401
        assert collector.post_logs(req, "application/json", authorization=basic("team-a", "wrong"))[0] == 401
        a = stack.docs("tenant_team-a", 30)
        b = stack.docs("tenant_team-b", 30)
    finally:
        collector.stop()
    claude_a = [d for d in a if d["_index"].startswith(".ds-logs-claude_cowork.events.otel-")]
    claude_b = [d for d in b if d["_index"].startswith(".ds-logs-claude_cowork.events.otel-")]
    assert len(claude_a) == len(claude_b) == 29
    assert {d["_index"].rsplit("-", 2)[0] for d in claude_a} == {".ds-logs-claude_cowork.events.otel-team_a"}
    assert {d["_index"].rsplit("-", 2)[0] for d in claude_b} == {".ds-logs-claude_cowork.events.otel-team_b"}
    assert {get(d, "labels.tenant") for d in claude_a} == {"team-a"}
    assert {get(d, "data_stream.namespace") for d in claude_b} == {"team_b"}
    # The fixture claims organization c0ffee00-…: allowed for team-a, not for team-b.
    assert not any("organization_mismatch" in (get(d, "tags") or []) for d in claude_a)
    assert all("organization_mismatch" in (get(d, "tags") or []) for d in claude_b)
    assert stack.es.search({"bool": {"should": [{"term": {"e2e.scenario": "tenant_nobody"}},
                                                {"term": {"resource.attributes.e2e.scenario": "tenant_nobody"}}]}}) == []
