//! Traces and metrics (issue 9) on the real `traces` and `content_all`
//! captures: the content, identity, tenant and routing rules of the logs,
//! applied to spans, span events and data points.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::otlp::{
    self, AnyValue, ExportMetricsServiceRequest, ExportTraceServiceRequest, KeyValue, Signal, Value,
};
use cowork_ecs::{Config, Transformer};
use prost::Message;
use serde_json::{Map, Value as Json, json};

const KEY: &str = "0123456789abcdef0123456789abcdef";

fn traces(case: &str) -> ExportTraceServiceRequest {
    let path = testdata().join(format!("captures/{case}/traces.json"));
    otlp::traces_from_json(&std::fs::read(path).unwrap()).unwrap()
}

fn metrics(case: &str) -> ExportMetricsServiceRequest {
    let path = testdata().join(format!("captures/{case}/metrics.json"));
    otlp::metrics_from_json(&std::fs::read(path).unwrap()).unwrap()
}

fn config(json: &str) -> Transformer {
    Transformer::new(&Config::from_json(json.as_bytes()).unwrap()).unwrap()
}

fn attrs(list: &[KeyValue]) -> Map<String, Json> {
    list.iter()
        .map(|kv| {
            let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
            (kv.key.clone(), v.map_or(Json::Null, value_json))
        })
        .collect()
}

fn string_kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

/// `(span type, attributes)` of every span.
fn spans(req: &ExportTraceServiceRequest) -> Vec<(String, Map<String, Json>)> {
    let mut out = Vec::new();
    for rs in &req.resource_spans {
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                let a = attrs(&s.attributes);
                out.push((a["span.type"].as_str().unwrap().to_owned(), a));
            }
        }
    }
    out
}

fn span<'a>(all: &'a [(String, Map<String, Json>)], kind: &str) -> &'a Map<String, Json> {
    &all.iter().find(|(t, _)| t == kind).unwrap().1
}

#[test]
fn claude_spans_keep_what_the_traces_dashboard_reads_and_get_ecs_fields_and_the_gateways_routing() {
    let mut req = traces("content_all");
    let outcome = Transformer::new(&Config::default())
        .unwrap()
        .transform_traces_request(&mut req, None);
    assert_eq!(outcome.claude_items, 6);
    let scope = req.resource_spans[0].scope_spans[0].scope.as_ref().unwrap();
    let scope = attrs(&scope.attributes);
    // The exporter's OTel mode: traces-claude_code.otel-<namespace>, where
    // Elastic's Traces Overview reads `attributes.*`.
    assert_eq!(scope["elastic.mapping.mode"], json!("otel"));
    assert_eq!(scope["data_stream.dataset"], json!("claude_code"));
    assert_eq!(scope["data_stream.namespace"], json!("default"));
    let all = spans(&req);
    let interaction = span(&all, "interaction");
    assert_eq!(interaction["event.category"], json!(["session"]));
    assert_eq!(interaction["event.provider"], json!("claude-code"));
    let llm = span(&all, "llm_request");
    assert_eq!(llm["event.category"], json!(["api"]));
    assert_eq!(llm["gen_ai.usage.input_tokens"], json!(120));
    assert_eq!(llm["gen_ai.usage.cache_read.input_tokens"], json!(30));
    assert_eq!(llm["event.duration"], json!(47_000_000));
    assert_eq!(llm["event.outcome"], json!("success"));
    // The source attributes stay, typed, for the Traces Overview.
    assert_eq!(llm["input_tokens"], json!(120));
    assert_eq!(llm["duration_ms"], json!(47));
    assert_eq!(llm["success"], json!(true));
    assert_eq!(llm["gen_ai.conversation.id"], llm["session.id"]);
    let tool = span(&all, "tool");
    assert_eq!(tool["event.category"], json!(["process"]));
    assert_eq!(tool["process.command_line"], json!("echo hello-from-mock"));
    assert_eq!(
        span(&all, "tool.blocked_on_user")["event.category"],
        json!(["iam"])
    );
    assert_eq!(
        interaction["related.user"],
        json!(["ef1f3237f691f473723d7695bf8185da4b5894d55b9304f80d026d903c61acfe"])
    );
    // Every span and span event has its own stable document id.
    let mut ids: Vec<Json> = all
        .iter()
        .map(|(_, a)| a["elasticsearch.document_id"].clone())
        .collect();
    for rs in &req.resource_spans {
        for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            for e in &s.events {
                ids.push(attrs(&e.attributes)["elasticsearch.document_id"].clone());
            }
        }
    }
    assert_eq!(ids.len(), 9, "6 spans, 3 span events");
    let distinct: std::collections::BTreeSet<String> = ids.iter().map(|i| i.to_string()).collect();
    assert_eq!(distinct.len(), ids.len());
    let mut again = traces("content_all");
    Transformer::new(&Config::default())
        .unwrap()
        .transform_traces_request(&mut again, None);
    assert_eq!(again, req, "deterministic");
}

#[test]
fn span_content_follows_the_content_policy() {
    let prompt = "say hello using bash";
    let command = "echo hello-from-mock";
    for (policy, gone) in [("hash", true), ("drop", true), ("keep", false)] {
        let t = config(&format!(
            r#"{{"content":{{"prompts":"{policy}","tool_details":"{policy}","tool_output":"{policy}","hmac_key":"{KEY}"}}}}"#
        ));
        let mut req = traces("content_all");
        t.transform_traces_request(&mut req, None);
        let text = otlp::any_to_json(&req).unwrap();
        assert_eq!(!text.contains(prompt), gone, "{policy}: prompt");
        assert_eq!(!text.contains(command), gone, "{policy}: command");
        // The command's output, alone (the command text holds it too).
        let output_kept = req.resource_spans.iter().any(|rs| {
            rs.scope_spans.iter().flat_map(|ss| &ss.spans).any(|s| {
                s.events
                    .iter()
                    .any(|e| attrs(&e.attributes).get("output") == Some(&json!("hello-from-mock")))
            })
        });
        assert_eq!(!output_kept, gone, "{policy}: output");
        if policy != "keep" {
            let tool = spans(&req)
                .into_iter()
                .find(|(t, _)| t == "tool")
                .unwrap()
                .1;
            assert_eq!(tool["claude_code.events.redacted"], json!(["tool_details"]));
        }
    }
}

#[test]
fn credentials_in_spans_are_masked_by_default() {
    let canary = "sk-ant-api03-CANARYcanaryCANARYcanary0123456789-abcdEF";
    let mut req = traces("content_all");
    for s in req.resource_spans[0].scope_spans[0].spans.iter_mut() {
        for kv in s
            .attributes
            .iter_mut()
            .filter(|kv| kv.key == "user_prompt" || kv.key == "full_command")
        {
            *kv = string_kv(&kv.key.clone(), &format!("use {canary} please"));
        }
        for e in s.events.iter_mut() {
            for kv in e.attributes.iter_mut().filter(|kv| kv.key == "output") {
                *kv = string_kv("output", &format!("key={canary}"));
            }
        }
    }
    let before = otlp::any_to_json(&req).unwrap();
    assert_eq!(before.matches(canary).count(), 3);
    Transformer::new(&Config::default())
        .unwrap()
        .transform_traces_request(&mut req, None);
    let after = otlp::any_to_json(&req).unwrap();
    assert!(!after.contains(canary));
    assert!(after.contains("[REDACTED:anthropic_api_key]"));
}

#[test]
fn a_senders_routing_is_overridden_and_the_tenant_routes() {
    let mut req = traces("traces");
    let s = &mut req.resource_spans[0].scope_spans[0].spans[0];
    s.attributes
        .push(string_kv("elasticsearch.index", "somewhere-else"));
    s.attributes
        .push(string_kv("data_stream.namespace", "victim"));
    s.events.push(Default::default());
    s.events
        .last_mut()
        .unwrap()
        .attributes
        .push(string_kv("data_stream.namespace", "victim"));
    let t = Transformer::new(&Config::default()).unwrap();
    t.transform_traces_request(&mut req, Some("Team-A"));
    let text = otlp::any_to_json(&req).unwrap();
    let scope = attrs(
        &req.resource_spans[0].scope_spans[0]
            .scope
            .as_ref()
            .unwrap()
            .attributes,
    );
    assert_eq!(scope["data_stream.namespace"], json!("team_a"));
    let first = attrs(&req.resource_spans[0].scope_spans[0].spans[0].attributes);
    assert!(!first.contains_key("elasticsearch.index"));
    assert!(!first.contains_key("data_stream.namespace"));
    assert_eq!(first["tags"], json!(["routing_overridden"]));
    assert_eq!(first["labels.tenant"], json!("Team-A"));
    assert_eq!(
        first["cowork_ecs.requested_routing"],
        json!([
            "span:elasticsearch.index=somewhere-else",
            "span:data_stream.namespace=victim"
        ])
    );
    let event = req.resource_spans[0].scope_spans[0].spans[0]
        .events
        .last()
        .unwrap();
    assert!(!attrs(&event.attributes).contains_key("data_stream.namespace"));
    assert!(
        !text.contains("\"victim\""),
        "only in requested_routing entries"
    );

    // Another sender's spans under a tenant: the gateway's namespace.
    let mut other = traces("traces");
    let resource = other.resource_spans[0].resource.as_mut().unwrap();
    for kv in resource
        .attributes
        .iter_mut()
        .filter(|kv| kv.key == "service.name")
    {
        *kv = string_kv("service.name", "billing");
    }
    resource
        .attributes
        .push(string_kv("data_stream.namespace", "victim"));
    let before = other.clone();
    t.transform_traces_request(&mut other, None);
    assert_eq!(other, before, "another sender without tenant: untouched");
    t.transform_traces_request(&mut other, Some("team-b"));
    let resource = attrs(
        &other.resource_spans[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes,
    );
    assert_eq!(resource["data_stream.namespace"], json!("team_b"));
    assert!(
        !attrs(&other.resource_spans[0].scope_spans[0].spans[0].attributes)
            .contains_key("elasticsearch.document_id")
    );
}

#[test]
fn metrics_are_routed_and_carry_the_identity_policy() {
    const EMAIL: &str = "canary.user@example.com";
    for identity in ["keep", "hash", "drop"] {
        let t = config(&format!(
            r#"{{"identity":"{identity}","content":{{"hmac_key":"{KEY}"}}}}"#
        ));
        let mut req = metrics("content_all");
        let resource = req.resource_metrics[0].resource.as_mut().unwrap();
        resource
            .attributes
            .push(string_kv("user.account_uuid", "acc-uuid-1"));
        let sum = |m: &mut cowork_ecs::otlp::MetricData| match m {
            cowork_ecs::otlp::MetricData::Sum(s) => s.data_points.len(),
            _ => 0,
        };
        let mut points = 0;
        for m in req.resource_metrics[0].scope_metrics[0].metrics.iter_mut() {
            points += sum(m.data.as_mut().unwrap());
            if let Some(cowork_ecs::otlp::MetricData::Sum(s)) = m.data.as_mut() {
                for p in &mut s.data_points {
                    p.attributes.push(string_kv("user.email", EMAIL));
                }
            }
        }
        let outcome = t.transform_metrics_request(&mut req, Some("team-a"));
        assert_eq!(outcome.claude_items, points);
        let text = otlp::any_to_json(&req).unwrap();
        assert_eq!(text.contains(EMAIL), identity == "keep", "{identity}");
        assert_eq!(
            text.contains("acc-uuid-1"),
            identity == "keep",
            "{identity}"
        );
        let scope = attrs(
            &req.resource_metrics[0].scope_metrics[0]
                .scope
                .as_ref()
                .unwrap()
                .attributes,
        );
        assert_eq!(scope["data_stream.dataset"], json!("claude_code.metrics"));
        assert_eq!(scope["data_stream.namespace"], json!("team_a"));
        assert_eq!(scope["elastic.mapping.mode"], json!("ecs"));
        if let Some(cowork_ecs::otlp::MetricData::Sum(s)) = req.resource_metrics[0].scope_metrics[0]
            .metrics[0]
            .data
            .as_ref()
        {
            let p = attrs(&s.data_points[0].attributes);
            match identity {
                "hash" => {
                    let h = p["user.email"].as_str().unwrap();
                    assert_eq!(h.len(), 64);
                    assert_eq!(p["related.user"][0], json!(h));
                }
                "drop" => assert!(!p.contains_key("user.email")),
                _ => assert_eq!(p["related.user"][0], json!(EMAIL)),
            }
            assert_eq!(p["labels.tenant"], json!("team-a"));
        } else {
            panic!("the first metric is a sum");
        }
    }
}

#[test]
fn protobuf_round_trip_and_bad_input() {
    let t = Transformer::new(&Config::default()).unwrap();
    let bytes = traces("traces").encode_to_vec();
    let out = t
        .transform(Signal::Traces, &bytes, None)
        .unwrap()
        .output
        .unwrap();
    let decoded = ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
    assert_eq!(decoded.resource_spans[0].scope_spans[0].spans.len(), 6);
    let bytes = metrics("traces").encode_to_vec();
    assert!(
        t.transform(Signal::Metrics, &bytes, None)
            .unwrap()
            .output
            .is_some()
    );
    assert!(t.transform(Signal::Traces, b"\xff\xff\xff", None).is_err());
    assert!(t.transform(Signal::Metrics, b"\x0a\x05ab", None).is_err());
    // Nothing Claude, no tenant: unchanged.
    assert!(
        t.transform(Signal::Traces, &[], None)
            .unwrap()
            .output
            .is_none()
    );
}

#[test]
fn a_senders_tags_are_kept_beside_the_gateways() {
    let mut req = traces("traces");
    let s = &mut req.resource_spans[0].scope_spans[0].spans[0];
    s.attributes.push(string_kv("tags", "mine"));
    s.attributes
        .push(string_kv("elasticsearch.index", "elsewhere"));
    // Another sender's span under a tenant is marked the same way.
    let mut other = req.clone();
    let resource = other.resource_spans[0].resource.as_mut().unwrap();
    for kv in resource
        .attributes
        .iter_mut()
        .filter(|kv| kv.key == "service.name")
    {
        *kv = string_kv("service.name", "billing");
    }
    let t = Transformer::new(&Config::default()).unwrap();
    t.transform_traces_request(&mut req, None);
    t.transform_traces_request(&mut other, Some("team-b"));
    for r in [&req, &other] {
        let first = attrs(&r.resource_spans[0].scope_spans[0].spans[0].attributes);
        assert_eq!(first["tags"], json!(["mine", "routing_overridden"]));
        assert_eq!(
            first["cowork_ecs.requested_routing"],
            json!(["span:elasticsearch.index=elsewhere"])
        );
    }
}

/// Replaces every `INVALID` in protobuf bytes with 7 bytes that are not
/// UTF-8 (same length, so every length prefix stays right).
fn break_utf8(mut bytes: Vec<u8>) -> Vec<u8> {
    const MARK: &[u8] = b"INVALID";
    let mut found = 0;
    let mut i = 0;
    while i + MARK.len() <= bytes.len() {
        if &bytes[i..i + MARK.len()] == MARK {
            bytes[i..i + MARK.len()].copy_from_slice(b"\xff\xfe\xfd\xfc\xfb\xfa\xf9");
            found += 1;
            i += MARK.len();
        } else {
            i += 1;
        }
    }
    assert!(found > 0, "no INVALID marker");
    bytes
}

fn tags(a: &Map<String, Json>) -> Vec<String> {
    match &a["tags"] {
        Json::Array(items) => items
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect(),
        other => panic!("tags {other}"),
    }
}

#[test]
fn text_that_is_not_utf8_in_traces_is_repaired_and_marked_never_refused() {
    let mut req = traces("traces");
    let rs = &mut req.resource_spans[0];
    rs.resource
        .as_mut()
        .unwrap()
        .attributes
        .push(string_kv("host.name", "INVALID"));
    let span = &mut rs.scope_spans[0].spans[0];
    span.name = "tool INVALID".into();
    span.attributes.push(string_kv("tool_name", "INVALID"));
    span.events
        .push(opentelemetry_proto::tonic::trace::v1::span::Event {
            name: "INVALID".into(),
            attributes: vec![string_kv("k", "INVALID")],
            ..Default::default()
        });
    span.links
        .push(opentelemetry_proto::tonic::trace::v1::span::Link {
            trace_state: "INVALID".into(),
            attributes: vec![string_kv("INVALID", "x")],
            ..Default::default()
        });
    // Another sender's resource in the same batch, with its own bad text.
    let mut other = req.resource_spans[0].clone();
    for kv in &mut other.resource.as_mut().unwrap().attributes {
        if kv.key == "service.name" {
            *kv = string_kv("service.name", "billing");
        }
    }
    req.resource_spans.push(other);
    let bytes = break_utf8(req.encode_to_vec());
    assert!(
        ExportTraceServiceRequest::decode(bytes.as_slice()).is_err(),
        "prost refuses the input"
    );

    let t = Transformer::new(&Config::default()).unwrap();
    let done = t.transform(Signal::Traces, &bytes, None).unwrap();
    assert!(done.unread.is_empty(), "{:?}", done.unread);
    assert_eq!(done.outcome.claude_items, 6);
    assert_eq!(done.outcome.other_items, 6);
    let out = ExportTraceServiceRequest::decode(done.output.unwrap().as_slice())
        .expect("what the transform writes is UTF-8 again");
    let text = format!("{out:?}");
    assert!(text.contains("tool \u{fffd}"), "span name repaired");
    for (i, rs) in out.resource_spans.iter().enumerate() {
        let span = &rs.scope_spans[0].spans[0];
        let a = attrs(&span.attributes);
        assert!(
            tags(&a).contains(&"invalid_utf8".to_owned()),
            "resource {i}: {a:?}"
        );
        let event = attrs(&span.events.last().unwrap().attributes);
        assert!(
            tags(&event).contains(&"invalid_utf8".to_owned()),
            "{event:?}"
        );
        if i == 0 {
            assert_eq!(a["event.kind"], json!("pipeline_error"));
            assert!(a["error.message"].as_str().unwrap().contains("UTF-8"));
        }
        // The span after it is still whole, and marked for the resource's text.
        let next = attrs(&rs.scope_spans[0].spans[1].attributes);
        assert!(tags(&next).contains(&"invalid_utf8".to_owned()));
    }
}

#[test]
fn text_that_is_not_utf8_in_metrics_is_repaired_and_marked_never_refused() {
    let mut req = metrics("content_all");
    // The second metric's name, and an attribute and an exemplar of the
    // first metric's first point.
    let metric = &mut req.resource_metrics[0].scope_metrics[0].metrics[1];
    metric.name = format!("{}.INVALID", metric.name);
    let points = req.resource_metrics[0].scope_metrics[0].metrics.len();
    let sum = req.resource_metrics[0].scope_metrics[0]
        .metrics
        .iter_mut()
        .find_map(|m| match &mut m.data {
            Some(otlp::MetricData::Sum(s)) => Some(s),
            _ => None,
        })
        .unwrap();
    sum.data_points[0]
        .attributes
        .push(string_kv("model", "INVALID"));
    sum.data_points[0]
        .exemplars
        .push(opentelemetry_proto::tonic::metrics::v1::Exemplar {
            filtered_attributes: vec![string_kv("k", "INVALID")],
            ..Default::default()
        });
    let bytes = break_utf8(req.encode_to_vec());
    assert!(ExportMetricsServiceRequest::decode(bytes.as_slice()).is_err());
    let t = Transformer::new(&Config::default()).unwrap();
    let done = t.transform(Signal::Metrics, &bytes, None).unwrap();
    assert!(done.unread.is_empty(), "{:?}", done.unread);
    assert!(done.outcome.claude_items >= points);
    let out = ExportMetricsServiceRequest::decode(done.output.unwrap().as_slice()).unwrap();
    let mut marked = 0;
    for m in &out.resource_metrics[0].scope_metrics[0].metrics {
        let attrs_of = |a: &[KeyValue]| attrs(a);
        let lists: Vec<Map<String, Json>> = match &m.data {
            Some(otlp::MetricData::Sum(s)) => s
                .data_points
                .iter()
                .map(|p| attrs_of(&p.attributes))
                .collect(),
            Some(otlp::MetricData::Gauge(g)) => g
                .data_points
                .iter()
                .map(|p| attrs_of(&p.attributes))
                .collect(),
            Some(otlp::MetricData::Histogram(h)) => h
                .data_points
                .iter()
                .map(|p| attrs_of(&p.attributes))
                .collect(),
            _ => Vec::new(),
        };
        for a in lists {
            if a.get("tags")
                .is_some_and(|t| t.to_string().contains("invalid_utf8"))
            {
                marked += 1;
                assert_eq!(a["event.kind"], json!("pipeline_error"));
            }
        }
    }
    assert!(
        marked >= 2,
        "the renamed metric's points and the point with a bad attribute"
    );
    assert!(format!("{out:?}").contains('\u{fffd}'));
}

/// A JSON-free nested map value, `depth` maps deep.
fn nested(depth: usize) -> Value {
    let mut v = Value::StringValue("leaf".into());
    for i in 0..depth {
        v = Value::KvlistValue(otlp::KeyValueList {
            values: vec![KeyValue {
                key: format!("l{i}"),
                value: Some(AnyValue { value: Some(v) }),
                ..Default::default()
            }],
        });
    }
    v
}

#[test]
fn a_span_beyond_elasticsearchs_bounds_is_kept_and_marked() {
    let mut req = traces("traces");
    let span = &mut req.resource_spans[0].scope_spans[0].spans[0];
    for i in 0..6000 {
        span.attributes.push(string_kv(&format!("extra.{i}"), "v"));
    }
    span.events
        .push(opentelemetry_proto::tonic::trace::v1::span::Event {
            name: "deep".into(),
            attributes: vec![
                KeyValue {
                    key: "deep".into(),
                    value: Some(AnyValue {
                        value: Some(nested(30)),
                    }),
                    ..Default::default()
                },
                // Content that moves with the overflow still follows the policy.
                KeyValue {
                    key: "user_prompt".into(),
                    value: Some(AnyValue {
                        value: Some(nested(25)),
                    }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
    let t = config(r#"{"content": {"prompts": "drop"}}"#);
    let outcome = t.transform_traces_request(&mut req, None);
    assert_eq!(outcome.claude_items, 6);
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    let a = attrs(&span.attributes);
    assert!(span.attributes.len() < 1100, "{}", span.attributes.len());
    let overflow: Map<String, Json> = serde_json::from_str(
        a["claude_code.events.attributes_overflow"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(overflow.len() >= 5000, "{}", overflow.len());
    assert!(tags(&a).contains(&"value_bounded".to_owned()));
    assert_eq!(a["event.kind"], json!("pipeline_error"));
    let event = attrs(&span.events.last().unwrap().attributes);
    assert!(!event.contains_key("deep") && !event.contains_key("user_prompt"));
    let moved = event["claude_code.events.attributes_overflow"]
        .as_str()
        .unwrap();
    assert!(moved.contains("l29"), "the deep value is kept as text");
    assert!(
        !moved.contains("user_prompt"),
        "dropped content is not kept as text: {moved}"
    );
    assert_eq!(event["claude_code.events.redacted"], json!(["prompts"]));
    assert!(tags(&event).contains(&"value_bounded".to_owned()));
}
