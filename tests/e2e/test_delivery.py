"""Delivery you can audit, end to end with the shipped gateway configs, the
real collector and a real Elasticsearch of the test's own (it is killed and
hung here):

- Elasticsearch killed for >= 60 s in the middle of a stream: every
  acknowledged record indexed exactly once;
- Elasticsearch hung (SIGSTOP), the collector killed -9 while it holds a
  queue, both restarted: every acknowledged record indexed exactly once;
- documents Elasticsearch would refuse are indexed and marked; one sender's
  poison record does not fail another sender's;
- a sender's routing attributes never steer its records;
- the gateway's API key revoked mid-stream: the queue holds, then refuses
  new data with a retryable status; restarted with a new key, every
  acknowledged record indexed exactly once.

The cluster has security on (TLS, API keys of the README's roles).

Counts: COWORK_ECS_E2E_RECORDS records (default 4,000 in CI; 20,000 for the
benchmark run in the closing note), sent in requests of 100 at
COWORK_ECS_E2E_RATE records/s (default 200), like an OTLP exporter: a request
refused with a retryable status is sent again.
"""

import base64
import json
import os
import threading
import time
from pathlib import Path

import pytest

import harness as h

RECORDS = int(os.environ.get("COWORK_ECS_E2E_RECORDS", "4000"))
RATE = int(os.environ.get("COWORK_ECS_E2E_RATE", "200"))
OUTAGE_S = int(os.environ.get("COWORK_ECS_E2E_OUTAGE_S", "60"))
PER_REQUEST = 100
TOKEN = "delivery-token-77"


def attr(k, v):
    if isinstance(v, bool):
        return {"key": k, "value": {"boolValue": v}}
    if isinstance(v, int):
        return {"key": k, "value": {"intValue": v}}
    if isinstance(v, dict):
        return {"key": k, "value": v}
    return {"key": k, "value": {"stringValue": v}}


def claude_request(tag, first, count, extra=(), resource_extra=(), scope_attrs=()):
    """`count` Claude Code tool_result records of session `tag`, with
    event.sequence first..first+count-1."""
    base = 1_700_000_000_000_000_000
    recs = [{"timeUnixNano": str(base + seq * 1000),
             "body": {"stringValue": "claude_code.tool_result"},
             "attributes": [attr("event.name", "tool_result"), attr("session.id", f"s-{tag}"),
                            attr("event.sequence", seq), attr("tool_name", "Bash"), attr("success", "true"),
                            attr("tool_input", json.dumps({"command": f"echo {seq}"})), *extra]}
            for seq in range(first, first + count)]
    return {"resourceLogs": [{"resource": {"attributes": [attr("service.name", "claude-code"), attr("e2e.scenario", tag),
                                                          *resource_extra]},
                              "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events",
                                                       "attributes": list(scope_attrs)},
                                             "logRecords": recs}]}]}


class Sender:
    """An OTLP/HTTP exporter in a thread: sends `total` records in requests
    of PER_REQUEST at RATE records/s; retries a request refused with a
    retryable status or a connection error (bounded), counts what was
    acknowledged (HTTP 200)."""

    def __init__(self, collector, tag, total):
        self.collector, self.tag, self.total = collector, tag, total
        self.acked = 0
        self.retried = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.error = None

    def run(self):
        interval = PER_REQUEST / RATE
        try:
            for first in range(0, self.total, PER_REQUEST):
                started = time.monotonic()
                body = json.dumps(claude_request(self.tag, first, min(PER_REQUEST, self.total - first))).encode()
                deadline = time.monotonic() + 600
                while True:
                    try:
                        status, _ = self.collector.post_logs(body, "application/json")
                    except OSError:
                        status = None  # collector down (restarting): retry
                    if status == 200:
                        self.acked += PER_REQUEST
                        break
                    if status not in (None, 429, 502, 503, 504) or time.monotonic() > deadline:
                        raise RuntimeError(f"request {first} refused for good: {status}")
                    self.retried += 1
                    time.sleep(1)
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        except Exception as e:  # reported by the test
            self.error = e

    def start(self):
        self.thread.start()
        return self

    def join(self, timeout):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "sender did not finish"
        assert self.error is None, self.error


def counts(es, tag, index="logs-claude_code.events.otel-*"):
    """(documents, distinct event.sequence) of a session, exactly."""
    h.http("POST", f"{es.url}/{index}/_refresh")
    q = {"term": {"claude_code.events.session.id": f"s-{tag}"}}
    status, body = h.http("POST", f"{es.url}/{index}/_search", {
        "size": 0, "track_total_hits": True, "query": q,
        "aggs": {"seq": {"terms": {"field": "claude_code.events.event.sequence", "size": 65000}}}})
    if status == 404:
        return 0, 0
    assert status == 200, body[:500]
    res = json.loads(body)
    buckets = res.get("aggregations", {}).get("seq", {}).get("buckets", [])  # none before the first index
    return res["hits"]["total"]["value"], len(buckets)


def wait_exactly_once(es, tag, total, timeout=300):
    got = h.wait_until(f"{total} distinct records of {tag}",
                       lambda: (lambda c: c if c[1] >= total else None)(counts(es, tag)), timeout, interval=2)
    time.sleep(3)  # anything still in flight would show as a duplicate now
    return counts(es, tag) if got else got


@pytest.fixture(scope="module")
def own_es(tmp_path_factory):
    es = h.Elasticsearch(tmp_path_factory.mktemp("delivery"), secure=True)
    es.start()
    yield es
    es.pause(False)
    es.stop()


def gateway(es, workdir, name, config=h.GATEWAY_CONFIG, env=None):
    return h.Collector(workdir, es.url, TOKEN, config=config, name=name,
                       env={"COWORK_ECS_RETRY_MAX_INTERVAL": "2s", **(env or {})})


def report(name, sender, docs, distinct):
    print(f"\n[delivery] {name}: sent {sender.total} acknowledged {sender.acked} indexed {docs} "
          f"distinct {distinct} duplicated {docs - distinct} (requests retried by the sender: {sender.retried})")


def test_elasticsearch_killed_for_a_minute_loses_nothing(own_es, tmp_path):
    collector = gateway(own_es, tmp_path, "outage").start()
    try:
        sender = Sender(collector, "outage", RECORDS).start()
        time.sleep(min(10, RECORDS / RATE / 4))
        own_es.kill()
        time.sleep(OUTAGE_S)
        own_es.start(keep_data=True)
        sender.join(RECORDS / RATE + OUTAGE_S + 300)
        docs, distinct = wait_exactly_once(own_es, "outage", sender.acked)
    finally:
        collector.stop()
    report("Elasticsearch killed", sender, docs, distinct)
    assert sender.acked == RECORDS
    assert (docs, distinct) == (RECORDS, RECORDS), "every acknowledged record exactly once"


def test_hung_elasticsearch_and_collector_kill9_lose_nothing(own_es, tmp_path):
    collector = gateway(own_es, tmp_path, "hang").start()
    sender = Sender(collector, "hang", RECORDS).start()
    try:
        time.sleep(min(5, RECORDS / RATE / 4))
        own_es.pause()
        time.sleep(min(15, RECORDS / RATE / 2))  # bulk requests hang; the queue fills
        collector.kill()
        time.sleep(2)
        collector.start(keep_queue=True)  # the sender retries against the new process
        own_es.pause(False)
        sender.join(RECORDS / RATE + 300)
        docs, distinct = wait_exactly_once(own_es, "hang", sender.acked)
    finally:
        own_es.pause(False)
        collector.stop()
    report("Elasticsearch hung + collector kill -9", sender, docs, distinct)
    assert sender.acked == RECORDS
    assert (docs, distinct) == (RECORDS, RECORDS), "a replay after the crash creates no second document"


def test_a_revoked_api_key_holds_the_queue_until_a_new_key(own_es, tmp_path):
    """The gateway's key revoked mid-stream: nothing more is indexed, the
    queue holds what was acknowledged and, once full, the receiver refuses
    new data with a retryable status; the gateway restarted with a new key
    indexes every acknowledged record exactly once."""
    old_id, old_key = own_es.api_key("revoked-mid-stream", ("gateway.json",))
    env = {"ELASTICSEARCH_API_KEY": old_key, "COWORK_ECS_QUEUE_RECORDS": "1000"}
    collector = gateway(own_es, tmp_path, "revoked", env=env).start()
    sender = Sender(collector, "revoked", RECORDS).start()
    try:
        h.wait_until("records indexed with the first key", lambda: counts(own_es, "revoked")[0] >= 200, 120)
        status, body = h.http("DELETE", f"{own_es.url}/_security/api_key", {"ids": [old_id]})
        assert status == 200 and json.loads(body)["invalidated_api_keys"] == [old_id], body[:500]
        time.sleep(5)  # bulk requests in flight when it was revoked
        held = counts(own_es, "revoked")[0]
        retried = sender.retried
        h.wait_until("the full queue to refuse new data", lambda: sender.retried > retried + 3, 300)
        assert counts(own_es, "revoked")[0] == held, "nothing indexed with the revoked key"
        refused_at = sender.acked
        assert refused_at < RECORDS, "the sender was refused before it was done"
        collector.stop()
        _, new_key = own_es.api_key("replacement", ("gateway.json",))
        collector.env["ELASTICSEARCH_API_KEY"] = new_key
        collector.start(keep_queue=True)
        sender.join(RECORDS / RATE + 300)
        docs, distinct = wait_exactly_once(own_es, "revoked", sender.acked)
    finally:
        collector.stop()
    report(f"API key revoked (indexed {held} before, queue full at {refused_at} acknowledged), then replaced",
           sender, docs, distinct)
    assert sender.acked == RECORDS
    assert (docs, distinct) == (RECORDS, RECORDS), "every acknowledged record exactly once"


def search(es, query, index="logs-*"):
    return [{"_index": x["_index"], **x["_source"]} for x in es.search(query, index)]


def nested(depth):
    v = {"leaf": "x"}
    for _ in range(depth - 1):
        v = {"k": v}
    return v


def test_documents_elasticsearch_would_refuse_are_indexed_and_marked(own_es, tmp_path):
    collector = gateway(own_es, tmp_path, "refusable").start()
    try:
        cases = {}
        for i, depth in enumerate((19, 25, 100)):
            extra = [attr("tool_parameters", json.dumps(nested(depth)))]
            req = claude_request("refuse", i, 1, extra=extra)
            # tool_input replaced by the deep one
            rec = req["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
            rec["attributes"] = [a for a in rec["attributes"] if a["key"] != "tool_input"] + [
                attr("tool_input", json.dumps(nested(depth)))]
            cases[i] = depth
            assert collector.post_logs(json.dumps(req).encode(), "application/json")[0] == 200
        wide = claude_request("refuse", 3, 1, extra=[attr(f"x{i}", i) for i in range(6000)])
        assert collector.post_logs(json.dumps(wide).encode(), "application/json")[0] == 200
        # A non-Claude record with a 32-deep value (protobuf: OTLP/JSON this deep is refused by the CLI's parser).
        deep = {"stringValue": "leaf"}
        for _ in range(32):
            deep = {"kvlistValue": {"values": [{"key": "k", "value": deep}]}}
        other = {"resourceLogs": [{"resource": {"attributes": [attr("service.name", "billing"), attr("e2e.scenario", "refuse_other")]},
                                   "scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"}, "attributes": [attr("deep", deep)]}]}]}]}
        assert collector.post_logs(json.dumps(other).encode(), "application/json")[0] == 200
        docs = h.wait_until("4 refused-document cases", lambda: (lambda d: d if len(d) >= 4 else None)(
            search(own_es, {"term": {"claude_code.events.session.id": "s-refuse"}})), 90)
        others = h.wait_until("the deep non-Claude record", lambda: search(
            own_es, {"term": {"resource.attributes.e2e.scenario": "refuse_other"}}), 90)
    finally:
        collector.stop()
    flat = {f["claude_code.events.event.sequence"]: f for f in map(h_flat, docs)}
    assert len(flat) == 4
    assert flat[0]["event.kind"] == "event", flat[0].get("error.message")
    assert any(k.startswith("gen_ai.tool.call.arguments.k.") for k in flat[0]), "depth 19 stays a flattened field"
    for seq in (1, 2, 3):
        assert flat[seq]["event.kind"] == "pipeline_error", flat[seq].get("error.message")
        assert "value_bounded" in flat[seq]["tags"]
    assert "kept as JSON text in claude_code.events.tool_input" in flat[1]["error.message"]
    assert "beyond 1000 fields" in flat[3]["error.message"]
    assert json.loads(flat[3]["claude_code.events.attributes_overflow"])["x5999"] == 5999
    assert len(others) == 1 and "value_bounded" in h_flat(others[0])["attributes.tags"]


def h_flat(doc, prefix=""):
    out = {}
    for k, v in doc.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(h_flat(v, key + "."))
        else:
            out[key] = v
    return out


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_one_senders_poison_record_does_not_fail_another_senders(own_es, tmp_path):
    env = {"COWORK_ECS_HTPASSWD": "team-a:alpha-pass-1\nteam-b:bravo-pass-2"}
    collector = gateway(own_es, tmp_path, "poison", config=h.MULTITENANT_CONFIG, env=env).start()
    try:
        good = json.dumps(claude_request("poison_b", 0, 50)).encode()
        assert collector.post_logs(good, "application/json", authorization=basic("team-b", "bravo-pass-2"))[0] == 200
        bad = {"resourceLogs": [{"resource": {"attributes": [attr("service.name", "billing"), attr("e2e.scenario", "poison_a")]},
                                 "scopeLogs": [{"scope": {"name": "x", "attributes": [attr("elastic.mapping.mode", "bogus")]},
                                                "logRecords": [{"body": {"stringValue": "poison"}}]}]}]}
        assert collector.post_logs(json.dumps(bad).encode(), "application/json",
                                   authorization=basic("team-a", "alpha-pass-1"))[0] == 200
        docs, distinct = wait_exactly_once(own_es, "poison_b", 50, timeout=90)
        poison = h.wait_until("the poison record, indexed", lambda: search(
            own_es, {"term": {"resource.attributes.e2e.scenario": "poison_a"}}), 60)
    finally:
        collector.stop()
    assert (docs, distinct) == (50, 50)
    assert poison[0]["_index"].startswith(".ds-logs-generic.otel-team_a"), poison[0]["_index"]


def test_senders_cannot_steer_their_records(own_es, tmp_path):
    env = {"COWORK_ECS_HTPASSWD": "team-a:alpha-pass-1\nteam-b:bravo-pass-2"}
    collector = gateway(own_es, tmp_path, "steer", config=h.MULTITENANT_CONFIG, env=env).start()
    auth = basic("team-a", "alpha-pass-1")
    try:
        steer = [
            claude_request("steer", 0, 1, resource_extra=[attr("elasticsearch.index", "logs-claude_code.events.otel-team_b")]),
            claude_request("steer", 1, 1, scope_attrs=[attr("elasticsearch.index", "logs-claude_code.events.otel-team_b")]),
            claude_request("steer", 2, 1, extra=[attr("data_stream.namespace", "team_b"),
                                                 attr("elasticsearch.mapping.hints", {"arrayValue": {"values": [{"stringValue": "_noindex"}]}})],
                           scope_attrs=[attr("elastic.mapping.mode", "otel")]),
        ]
        for req in steer:
            assert collector.post_logs(json.dumps(req).encode(), "application/json", authorization=auth)[0] == 200
        other = {"resourceLogs": [{"resource": {"attributes": [attr("service.name", "billing"), attr("e2e.scenario", "steer_other"),
                                                               attr("data_stream.namespace", "team_b")]},
                                   "scopeLogs": [{"logRecords": [{"body": {"stringValue": "x"},
                                                                  "attributes": [attr("elasticsearch.index", "logs-generic-team_b")]}]}]}]}
        assert collector.post_logs(json.dumps(other).encode(), "application/json", authorization=auth)[0] == 200
        # The non-UTF-8 canary: protobuf with one byte that is not UTF-8, plus sender-set routing.
        canary = claude_request("steer_utf8", 0, 1, extra=[attr("prompt", "password=CanarySecretPass77 XBAD"),
                                                           attr("data_stream.namespace", "team_b")],
                                scope_attrs=[attr("elastic.mapping.mode", "ecs")])
        pb = bytearray(h.to_protobuf(canary))
        at = pb.find(b"XBAD")
        pb[at] = 0xC3
        status, body = collector.post_logs(bytes(pb), "application/x-protobuf", authorization=auth)
        assert status == 200, body
        docs = h.wait_until("3 steered records", lambda: (lambda d: d if len(d) >= 3 else None)(
            search(own_es, {"term": {"claude_code.events.session.id": "s-steer"}})), 90)
        utf8 = h.wait_until("the non-UTF-8 record", lambda: search(
            own_es, {"term": {"claude_code.events.session.id": "s-steer_utf8"}}), 90)
        others = h.wait_until("the non-Claude record", lambda: search(
            own_es, {"term": {"resource.attributes.e2e.scenario": "steer_other"}}), 90)
    finally:
        collector.stop()
    for d in docs + utf8:
        f = h_flat(d)
        assert d["_index"].startswith(".ds-logs-claude_code.events.otel-team_a-"), d["_index"]
        assert "routing_overridden" in f["tags"], f
        assert f["cowork_ecs.requested_routing"]
    assert others[0]["_index"].startswith(".ds-logs-generic.otel-team_a-"), others[0]["_index"]
    stored = json.dumps(utf8)
    assert "CanarySecretPass77" not in stored, "the non-UTF-8 record is normalized, its secrets redacted"
    assert h_flat(utf8[0])["event.kind"] == "pipeline_error"
    # Nothing of team-a's reached team-b's data streams.
    team_a = {"bool": {"should": [{"terms": {"claude_code.events.session.id": ["s-steer", "s-steer_utf8"]}},
                                  {"term": {"resource.attributes.e2e.scenario": "steer_other"}}]}}
    assert search(own_es, team_a, index="logs-*-team_b") == []


def test_setup_templates_take_a_thousand_tool_argument_keys(own_es, tmp_path):
    status, body = h.http("GET", f"{own_es.url}/_index_template/cowork-ecs-logs-claude_code.events.otel")
    assert status == 200, body
    template = json.loads(body)["index_templates"][0]["index_template"]
    assert template["priority"] > 200 and template["composed_of"] == ["cowork-ecs@settings", "cowork-ecs@mappings"]
    assert template["template"]["lifecycle"]["enabled"] is True
    collector = gateway(own_es, tmp_path, "wide_args").start()
    try:
        args = {f"arg_{i}": f"value {i}" for i in range(1000)}
        req = claude_request("wide_args", 0, 1)
        rec = req["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
        rec["attributes"] = [a for a in rec["attributes"] if a["key"] != "tool_input"] + [
            attr("tool_input", json.dumps(args))]
        assert collector.post_logs(json.dumps(req).encode(), "application/json")[0] == 200
        docs = h.wait_until("the wide-arguments record", lambda: search(
            own_es, {"term": {"claude_code.events.session.id": "s-wide_args"}}), 90)
    finally:
        collector.stop()
    f = h_flat(docs[0])
    assert f["event.kind"] == "event"
    assert sum(k.startswith("gen_ai.tool.call.arguments.arg_") for k in f) == 1000
    # And it is searchable as one flattened field.
    hits = search(own_es, {"term": {"gen_ai.tool.call.arguments.arg_999": "value 999"}})
    assert [h_flat(d)["claude_code.events.session.id"] for d in hits] == ["s-wide_args"]


def test_the_same_record_sent_twice_is_one_document(own_es, tmp_path):
    collector = gateway(own_es, tmp_path, "twice").start()
    try:
        body = json.dumps(claude_request("twice", 0, 100)).encode()
        for _ in range(2):  # a sender's retry after a lost response
            assert collector.post_logs(body, "application/json")[0] == 200
        docs, distinct = wait_exactly_once(own_es, "twice", 100, timeout=90)
    finally:
        collector.stop()
    assert (docs, distinct) == (100, 100)


METRICS_INDEX = "metrics-claude_code.metrics-*"
# Documents one metrics request of metrics_request() makes: token.usage for
# input and for output, cost.usage and session.count. The last two share
# their attributes and time, which the exporter's ECS mode would merge into
# one document; signed (the suite's gateways sign), each point is its own
# (README "Delivery guarantee").
DOCS_PER_METRICS_REQUEST = 4


def metrics_request(tag, n):
    """Claude Code's metrics of export number n of session s-<tag>: its time
    is its own (a new point of each series), its values too."""
    t = str(1_000_000 * (int(time.time() * 1000) // 1000 * 1000 + n))  # this second, plus n ms
    def point(value, **attrs):
        return {"timeUnixNano": t, "startTimeUnixNano": t, "asDouble": value,
                "attributes": [attr("session.id", f"s-{tag}"), attr("model", "claude-e2e"),
                               *(attr(k, v) for k, v in attrs.items())]}
    def metric(name, unit, points):
        return {"name": name, "unit": unit, "sum": {"aggregationTemporality": 1, "isMonotonic": True,
                                                      "dataPoints": points}}
    return {"resourceMetrics": [{"resource": {"attributes": [attr("service.name", "claude-code"),
                                                            attr("e2e.scenario", tag)]},
                                 "scopeMetrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": [
                                     metric("claude_code.token.usage", "tokens",
                                            [point(100.0 + n, type="input"), point(10.0 + n, type="output")]),
                                     metric("claude_code.cost.usage", "USD", [point(0.01 * n)]),
                                     metric("claude_code.session.count", "count", [point(1.0)]),
                                 ]}]}]}


def metric_docs(es, tag):
    return es.count({"term": {"e2e.scenario": tag}}, index=METRICS_INDEX)


def test_metrics_are_in_time_series_mode_and_the_same_point_twice_is_one_document(own_es, tmp_path):
    collector = gateway(own_es, tmp_path, "metrics_twice").start()
    try:
        body = json.dumps(metrics_request("metrics_twice", 1)).encode()
        for _ in range(2):  # a sender's retry after a lost response
            assert collector.post("metrics", body, "application/json")[0] == 200
        h.wait_until("the data points", lambda: metric_docs(own_es, "metrics_twice") >= DOCS_PER_METRICS_REQUEST, 90)
        time.sleep(3)
        assert metric_docs(own_es, "metrics_twice") == DOCS_PER_METRICS_REQUEST
    finally:
        collector.stop()
    status, body = h.http("GET", f"{own_es.url}/{METRICS_INDEX}/_settings/index.mode")
    assert status == 200 and {v["settings"]["index"]["mode"] for v in json.loads(body).values()} == {"time_series"}


def test_hung_elasticsearch_and_collector_kill9_store_each_data_point_once(own_es, tmp_path):
    """The crash scenario of the logs, with Claude Code metrics flowing: one
    request of data points every 0.1 s, Elasticsearch hung, the collector
    killed -9 while it holds them, both restarted."""
    tag, total = "metrics_hang", 200
    collector = gateway(own_es, tmp_path, "metrics_hang").start()
    acked = []

    def send():
        for n in range(total):
            body = json.dumps(metrics_request(tag, n)).encode()
            for _ in range(600):
                try:
                    if collector.post("metrics", body, "application/json")[0] == 200:
                        acked.append(n)
                        break
                except OSError:
                    pass  # collector down (restarting): retry
                time.sleep(0.5)
            time.sleep(0.1)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        time.sleep(3)
        own_es.pause()
        time.sleep(8)  # bulk requests hang; the queue fills
        collector.kill()
        time.sleep(2)
        collector.start(keep_queue=True)
        own_es.pause(False)
        sender.join(300)
        assert not sender.is_alive()
        want = DOCS_PER_METRICS_REQUEST * len(acked)
        h.wait_until(f"{want} metric documents", lambda: metric_docs(own_es, tag) >= want, 300, interval=2)
        time.sleep(3)  # a second copy still in flight would show now
        docs = metric_docs(own_es, tag)
    finally:
        own_es.pause(False)
        collector.stop()
    print(f"\n[delivery] metrics, Elasticsearch hung + collector kill -9: sent {total} requests "
          f"({DOCS_PER_METRICS_REQUEST * total} data point documents) acknowledged {len(acked)} "
          f"indexed {docs} duplicated {docs - DOCS_PER_METRICS_REQUEST * len(set(acked))}")
    assert sorted(acked) == list(range(total))
    assert docs == DOCS_PER_METRICS_REQUEST * total, "each data point once"


@pytest.mark.parametrize("policy", ["redact_secrets", "hash", "drop"])
def test_a_non_utf8_canary_is_never_stored_in_clear(own_es, tmp_path, policy):
    env = {"COWORK_ECS_CONTENT_PROMPTS": policy, "COWORK_ECS_HMAC_KEY": "e2e-hmac-key-0123456789abcdef0123456789"}
    collector = gateway(own_es, tmp_path, f"utf8_{policy}", env=env).start()
    tag = f"utf8_{policy}"
    try:
        req = claude_request(tag, 0, 1, extra=[attr("prompt", "password=CanarySecretPass77 XBAD")])
        pb = bytearray(h.to_protobuf(req))
        pb[pb.find(b"XBAD")] = 0xC3  # a lead byte without its continuation
        status, body = collector.post_logs(bytes(pb), "application/x-protobuf")
        assert status == 200, body
        docs = h.wait_until("the non-UTF-8 record", lambda: search(
            own_es, {"term": {"claude_code.events.session.id": f"s-{tag}"}}), 90)
    finally:
        collector.stop()
    assert "CanarySecretPass77" not in json.dumps(docs)
    f = h_flat(docs[0])
    assert f["event.kind"] == "pipeline_error" and "invalid_utf8" in f["tags"]
    assert docs[0]["_index"].startswith(".ds-logs-claude_code.events.otel-default-")


def span(name, attributes, events=()):
    return {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": f"{abs(hash(name)) % (1 << 63):016x}",
            "name": name, "kind": 1, "startTimeUnixNano": "1760000000000000000",
            "endTimeUnixNano": "1760000001000000000", "attributes": attributes, "events": list(events)}


def traces_request(scenario, spans, service="claude-code"):
    return {"resourceSpans": [{"resource": {"attributes": [attr("service.name", service), attr("e2e.scenario", scenario)]},
                               "scopeSpans": [{"scope": {"name": "com.anthropic.claude_code.tracing"}, "spans": spans}]}]}


def not_utf8(request_json):
    """Protobuf bytes of a request with every `XBAD` made a UTF-8 lead byte
    without its continuation (as test_a_non_utf8_canary_... does for logs)."""
    pb = bytearray(h.to_protobuf(request_json))
    assert b"XBAD" in pb
    while (i := pb.find(b"XBAD")) >= 0:
        pb[i] = 0xC3
    return bytes(pb)


def test_spans_and_data_points_elasticsearch_would_refuse_are_indexed_and_marked(own_es, tmp_path):
    """Issue 17: traces and metrics are as safe as logs, through the real
    collector into the real Elasticsearch. A span with 6,000 attributes, a
    span event nested 30 deep, and traces and metrics batches with text
    that is not UTF-8 (a Claude resource and another sender's in one
    batch): every item indexed and marked, never refused, the credential
    in the bad text never in clear."""
    collector = gateway(own_es, tmp_path, "refusable_signals").start()
    deep = {"stringValue": "leaf"}
    for i in range(30):
        deep = {"kvlistValue": {"values": [{"key": f"l{i}", "value": deep}]}}
    try:
        wide = span("claude_code.tool", [attr("span.type", "tool")] + [attr(f"x{i}", i) for i in range(6000)],
                    events=[{"timeUnixNano": "1760000000500000000", "name": "tool.output",
                             "attributes": [{"key": "deep", "value": deep}]}])
        body = json.dumps(traces_request("bounds_traces", [wide])).encode()
        # OTLP/JSON this deep is read by the collector itself (the CLI's parser stops at 128 levels).
        assert collector.post("traces", body, "application/json")[0] == 200
        bad = traces_request("utf8_traces", [span("claude_code.interaction XBAD", [
            attr("span.type", "interaction"), attr("user_prompt", "password=CanarySpanPass42 XBAD")])])
        bad["resourceSpans"] += traces_request("utf8_traces_other", [span("checkout XBAD", [attr("k", "XBAD")])],
                                               service="billing")["resourceSpans"]
        status, resp = collector.post("traces", not_utf8(bad), "application/x-protobuf")
        assert status == 200, resp
        metrics = {"resourceMetrics": [{
            "resource": {"attributes": [attr("service.name", "claude-code"), attr("e2e.scenario", "utf8_metrics")]},
            "scopeMetrics": [{"scope": {"name": "com.anthropic.claude_code"}, "metrics": [{
                "name": "claude_code.cost.usage", "unit": "USD",
                "sum": {"aggregationTemporality": 1, "isMonotonic": True, "dataPoints": [{
                    "timeUnixNano": "1760000000000000000", "asDouble": 0.5,
                    "attributes": [attr("model", "claude-XBAD"), attr("user_prompt", "password=CanaryPointPass42 XBAD")]}]}}]}]}]}
        status, resp = collector.post("metrics", not_utf8(metrics), "application/x-protobuf")
        assert status == 200, resp

        def scenario(tag, index, at_least=1):
            q = {"bool": {"should": [{"term": {"resource.attributes.e2e.scenario": tag}}, {"term": {"e2e.scenario": tag}}]}}
            return h.wait_until(f"{tag} in {index}", lambda: (lambda d: d if len(d) >= at_least else None)(
                search(own_es, q, index)), 90)

        wide_docs = scenario("bounds_traces", "traces-claude_code.otel-*")
        event_docs = scenario("bounds_traces", "logs-claude_code.otel-*")
        bad_docs = scenario("utf8_traces", "traces-claude_code.otel-*")
        other_docs = scenario("utf8_traces_other", "traces-*")
        point_docs = scenario("utf8_metrics", "metrics-claude_code.metrics-*")
    finally:
        collector.stop()
    a = wide_docs[0]["attributes"]
    assert a["event.kind"] == "pipeline_error" and "value_bounded" in a["tags"], a.get("error.message")
    assert sum(k.startswith("x") for k in a) <= 1000
    assert json.loads(a["claude_code.events.attributes_overflow"])["x5999"] == 5999
    e = event_docs[0]["attributes"]
    assert "value_bounded" in e["tags"] and "l29" in e["claude_code.events.attributes_overflow"]
    assert "invalid_utf8" in bad_docs[0]["attributes"]["tags"]
    assert "\ufffd" in bad_docs[0]["name"]
    assert "invalid_utf8" in other_docs[0]["attributes"]["tags"]
    assert other_docs[0]["_index"].startswith(".ds-traces-generic.otel-")
    p = h_flat(point_docs[0])
    assert p["event.kind"] == "pipeline_error" and "invalid_utf8" in p["tags"]
    assert "\ufffd" in p["model"]
    everything = json.dumps(bad_docs + point_docs)
    assert "CanarySpanPass42" not in everything and "CanaryPointPass42" not in everything


def test_the_shipped_queues_fsync_every_write():
    """Issue 18: for an audit trail the persistent queue fsyncs every write
    by default (both shipped gateways and the README's EDOT snippet), so an
    acknowledged record survives a power loss; COWORK_ECS_QUEUE_FSYNC=false
    trades that for the throughput make bench-gateway measures. Every other
    test of this suite runs the gateways with it on."""
    import yaml
    from test_edot import readme_snippet
    for path in (h.GATEWAY_CONFIG, h.MULTITENANT_CONFIG):
        storage = yaml.safe_load(Path(path).read_text())["extensions"]["file_storage/queue"]
        assert storage["fsync"] == "${env:COWORK_ECS_QUEUE_FSYNC:-true}", path
    assert readme_snippet()["extensions"]["file_storage/queue"]["fsync"] is True


def test_the_shipped_gateways_guard_their_queues_disk_and_bound_their_stop():
    """Issues 23 and 27: both shipped gateways and the README's EDOT snippet
    run queue_guard on the queue's own directory, compact the queue's store
    on rebound beside it, and bound a stop (test_disk_full.py and
    test_shutdown.py run the gateway itself with these settings)."""
    import yaml
    from test_edot import readme_snippet
    queue_dir = "${env:COWORK_ECS_QUEUE_DIR:-/var/lib/otelcol/cowork-ecs}"
    configs = {str(p): yaml.safe_load(Path(p).read_text()) for p in (h.GATEWAY_CONFIG, h.MULTITENANT_CONFIG)}
    configs["README snippet"] = readme_snippet()
    for name, cfg in configs.items():
        storage = cfg["extensions"]["file_storage/queue"]
        processor = cfg["processors"]["cowork_ecs"]
        assert storage["directory"] == queue_dir, name
        assert storage["compaction"]["on_rebound"] is True, name
        assert storage["compaction"]["directory"] == queue_dir, name
        assert processor["queue_guard"]["directory"] == queue_dir, name
        assert processor["shutdown_timeout"] in ("10s", "${env:COWORK_ECS_SHUTDOWN_TIMEOUT:-10s}"), name
