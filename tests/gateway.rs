//! What the gateway owns (README "Delivery guarantee", "Routing is the
//! gateway's"): document ids, routing attributes at every level, the shape
//! bounds under which Elasticsearch never refuses a document, and lossy
//! reading of text that is not UTF-8 (fail closed), on whole requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::ecs::gateway::{MAX_FIELDS, REQUESTED_ROUTING_FIELD};
use cowork_ecs::otlp::{self, ExportLogsServiceRequest, Signal};
use cowork_ecs::{Config, Transformer};
use prost::Message;
use serde_json::{Value as Json, json};
use std::collections::HashMap;

fn attr(k: &str, v: Json) -> Json {
    let value = match v {
        Json::String(s) => json!({"stringValue": s}),
        Json::Number(n) => json!({"intValue": n}),
        other => other,
    };
    json!({"key": k, "value": value})
}

/// The transform of protobuf logs bytes that it changes, decoded.
fn transformed(t: &Transformer, bytes: &[u8]) -> ExportLogsServiceRequest {
    let done = t.transform(Signal::Logs, bytes, None).unwrap();
    otlp::decode(&done.output.expect("changed")).unwrap()
}

/// One request: a resource of `service` with `resource_attrs`, one scope with
/// `scope_attrs`, one record per entry of `records`.
fn request(
    service: &str,
    resource_attrs: Vec<Json>,
    scope_attrs: Vec<Json>,
    records: Vec<Vec<Json>>,
) -> ExportLogsServiceRequest {
    let mut res = vec![attr("service.name", json!(service))];
    res.extend(resource_attrs);
    let recs: Vec<Json> = records
        .into_iter()
        .map(|a| json!({"timeUnixNano": "1700000000000000000", "attributes": a}))
        .collect();
    let req = json!({"resourceLogs": [{"resource": {"attributes": res},
        "scopeLogs": [{"scope": {"name": "s", "attributes": scope_attrs}, "logRecords": recs}]}]});
    otlp::from_json(req.to_string().as_bytes()).unwrap()
}

fn transformer(config: Json) -> Transformer {
    Transformer::from_json_config(config.to_string().as_bytes()).unwrap()
}

fn scope_attrs(req: &ExportLogsServiceRequest) -> HashMap<String, Json> {
    let scope = req.resource_logs[0].scope_logs[0].scope.as_ref().unwrap();
    scope
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.clone(),
                value_json(kv.value.as_ref().unwrap().value.as_ref().unwrap()),
            )
        })
        .collect()
}

fn resource_keys(req: &ExportLogsServiceRequest) -> Vec<String> {
    req.resource_logs[0]
        .resource
        .as_ref()
        .unwrap()
        .attributes
        .iter()
        .map(|kv| kv.key.clone())
        .collect()
}

fn nested_json(depth: usize) -> Json {
    (0..depth - 1).fold(json!({"leaf": "x"}), |v, _| json!({"k": v}))
}

#[test]
fn every_capture_record_gets_a_distinct_stable_document_id() {
    let t = Transformer::new(&Config::default()).unwrap();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut dirs: Vec<_> = std::fs::read_dir(testdata().join("captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut total = 0;
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        for file in ["logs.json", "logs.pb"] {
            let path = dir.join(file);
            if !path.exists() {
                continue;
            }
            let mut once = read_request(&path);
            let mut twice = read_request(&path);
            t.transform_logs_request(&mut once, None);
            t.transform_logs_request(&mut twice, None);
            for (a, b) in records(&once).iter().zip(records(&twice)) {
                let id = flat_attributes(a)["elasticsearch.document_id"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                assert_eq!(
                    json!(id),
                    flat_attributes(b)["elasticsearch.document_id"],
                    "a replay has the same id"
                );
                let at = format!("{} {}", path.display(), flat_attributes(a)["event.action"]);
                if let Some(other) = seen.insert(id.clone(), at.clone()) {
                    panic!("document id {id} of {at} collides with {other}");
                }
                total += 1;
            }
        }
    }
    assert!(total > 200, "{total} records");
}

#[test]
fn a_claude_sender_cannot_route_at_any_level() {
    let t = transformer(json!({}));
    let mut req = request(
        "claude-code",
        vec![
            attr(
                "elasticsearch.index",
                json!("logs-claude_code.events-team_b"),
            ),
            attr("data_stream.namespace", json!("team_b")),
        ],
        vec![
            attr("elasticsearch.index", json!("logs-x-y")),
            attr("elastic.mapping.mode", json!("bogus")),
        ],
        vec![vec![
            attr("event.name", json!("user_prompt")),
            attr(
                "elasticsearch.mapping.hints",
                json!({"arrayValue": {"values": [{"stringValue": "_noindex"}]}}),
            ),
            attr("elasticsearch.document_id", json!("chosen-by-sender")),
        ]],
    );
    t.transform_logs_request(&mut req, Some("team-a"));
    assert_eq!(
        resource_keys(&req),
        ["service.name"],
        "resource routing removed"
    );
    let scope = scope_attrs(&req);
    assert_eq!(scope.get("elasticsearch.index"), None);
    assert_eq!(scope["elastic.mapping.mode"], json!("ecs"));
    let doc = flat_attributes(records(&req)[0]);
    assert_eq!(doc["data_stream.namespace"], json!("team_a"));
    assert_ne!(doc["elasticsearch.document_id"], json!("chosen-by-sender"));
    assert!(
        !doc.contains_key("elasticsearch.mapping.hints")
            && !doc.contains_key("elasticsearch.index")
    );
    let requested: Vec<String> =
        serde_json::from_value(doc[REQUESTED_ROUTING_FIELD].clone()).unwrap();
    assert_eq!(
        requested,
        [
            "resource:elasticsearch.index=logs-claude_code.events-team_b",
            "resource:data_stream.namespace=team_b",
            "scope:elasticsearch.index=logs-x-y",
            "scope:elastic.mapping.mode=bogus",
            "record:elasticsearch.mapping.hints=[\"_noindex\"]",
            "record:elasticsearch.document_id=chosen-by-sender",
        ]
    );
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("routing_overridden"))
    );
}

#[test]
fn a_tenants_other_records_land_in_its_namespace() {
    let t = transformer(json!({"tenant": {"set_namespace": true}}));
    let mut req = request(
        "some-app",
        vec![attr("elasticsearch.index", json!("logs-generic-team_b"))],
        vec![attr("data_stream.namespace", json!("team_b"))],
        vec![vec![
            attr("data_stream.dataset", json!("x")),
            attr("k", json!("v")),
        ]],
    );
    let outcome = t.transform_logs_request(&mut req, Some("Team-A"));
    assert_eq!((outcome.other_items, outcome.other_items_changed), (1, 1));
    let res = &req.resource_logs[0].resource.as_ref().unwrap().attributes;
    let ns: Vec<_> = res
        .iter()
        .filter(|kv| kv.key.starts_with("data_stream") || kv.key.starts_with("elasticsearch"))
        .collect();
    assert_eq!(ns.len(), 1);
    assert_eq!(ns[0].key, "data_stream.namespace");
    assert_eq!(
        value_json(ns[0].value.as_ref().unwrap().value.as_ref().unwrap()),
        json!("team_a")
    );
    assert!(scope_attrs(&req).is_empty());
    let doc = flat_attributes(records(&req)[0]);
    assert!(!doc.contains_key("data_stream.dataset"));
    assert_eq!(doc["k"], json!("v"));
    assert_eq!(doc[REQUESTED_ROUTING_FIELD].as_array().unwrap().len(), 3);
}

#[test]
fn without_a_tenant_other_records_pass_untouched_but_for_a_bad_mapping_mode() {
    let t = transformer(json!({}));
    let mut fine = request(
        "some-app",
        vec![attr("elasticsearch.index", json!("mine"))],
        vec![attr("elastic.mapping.mode", json!("otel"))],
        vec![vec![attr("k", json!("v"))]],
    );
    let before = fine.clone();
    let outcome = t.transform_logs_request(&mut fine, None);
    assert_eq!(
        fine, before,
        "a sender routes its own non-Claude data without a tenant"
    );
    assert_eq!(outcome.other_items_changed, 0);
    let bytes = fine.encode_to_vec();
    assert!(
        t.transform(Signal::Logs, &bytes, None)
            .unwrap()
            .output
            .is_none(),
        "unchanged: no output"
    );

    let mut poison = request(
        "some-app",
        vec![],
        vec![attr("elastic.mapping.mode", json!("bogus"))],
        vec![vec![attr("k", json!("v"))]],
    );
    t.transform_logs_request(&mut poison, None);
    assert!(
        scope_attrs(&poison).is_empty(),
        "a mode the exporter refuses would fail the whole bulk"
    );
    let doc = flat_attributes(records(&poison)[0]);
    assert_eq!(
        doc[REQUESTED_ROUTING_FIELD],
        json!(["scope:elastic.mapping.mode=bogus"])
    );
}

fn tool_result(args: &Json) -> Vec<Json> {
    vec![
        attr("event.name", json!("tool_result")),
        attr("tool_name", json!("Bash")),
        attr("tool_input", json!(args.to_string())),
    ]
}

#[test]
fn tool_arguments_deeper_than_a_flattened_field_takes_stay_text() {
    let t = transformer(json!({}));
    for (depth, fits) in [
        (19, true),
        (20, true),
        (21, false),
        (25, false),
        (100, false),
    ] {
        let args = nested_json(depth);
        let mut req = request("claude-code", vec![], vec![], vec![tool_result(&args)]);
        t.transform_logs_request(&mut req, None);
        let doc = flat_attributes(records(&req)[0]);
        let kind = doc["event.kind"].as_str().unwrap();
        assert_eq!(
            doc.keys()
                .any(|k| k.starts_with("gen_ai.tool.call.arguments.")),
            fits,
            "depth {depth}"
        );
        if fits {
            assert_eq!(kind, "event", "depth {depth}");
        } else {
            assert_eq!(kind, "pipeline_error", "depth {depth}");
            assert!(
                doc["error.message"]
                    .as_str()
                    .unwrap()
                    .contains("kept as JSON text in claude_code.events.tool_input")
            );
            assert_eq!(
                doc["claude_code.events.tool_input"],
                json!(args.to_string()),
                "nothing lost"
            );
        }
        // What the transform writes, its own decoder reads back.
        let bytes = req.encode_to_vec();
        otlp::decode(&bytes).unwrap();
    }
}

#[test]
fn thousands_of_attributes_overflow_into_one_field() {
    let t = transformer(json!({}));
    let mut attrs = vec![
        attr("event.name", json!("api_request")),
        attr("prompt", json!("password=CanaryPass1")),
    ];
    attrs.extend((0..6000).map(|i| attr(&format!("x{i}"), json!(i))));
    let mut req = request("claude-code", vec![], vec![], vec![attrs]);
    t.transform_logs_request(&mut req, None);
    let doc = flat_attributes(records(&req)[0]);
    assert_eq!(doc["event.kind"], json!("pipeline_error"));
    assert!(doc.len() < MAX_FIELDS + 50, "{} fields", doc.len());
    let overflow: serde_json::Map<String, Json> = serde_json::from_str(
        doc["claude_code.events.attributes_overflow"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let kept = doc
        .keys()
        .filter(|k| k.starts_with("claude_code.events.x"))
        .count();
    assert_eq!(
        kept + overflow.len(),
        6000,
        "every attribute kept, in a field or in the overflow"
    );
    assert_eq!(overflow["x5999"], json!(5999));
    assert!(
        !Json::Object(doc.clone())
            .to_string()
            .contains("CanaryPass1"),
        "content attributes keep their policy"
    );
}

#[test]
fn deep_values_of_other_senders_are_bounded_not_refused() {
    let t = transformer(json!({}));
    // A 32-deep map (built directly: OTLP/JSON this deep exceeds serde_json's recursion limit).
    use cowork_ecs::otlp::{AnyValue, KeyValue, KeyValueList, Value};
    let kv = |key: &str, v: Value| KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let mut v = Value::StringValue("leaf".into());
    for _ in 0..32 {
        v = Value::KvlistValue(KeyValueList {
            values: vec![kv("k", v)],
        });
    }
    let mut req = request(
        "some-app",
        vec![],
        vec![],
        vec![vec![attr("k", json!("v"))]],
    );
    let rec = &mut req.resource_logs[0].scope_logs[0].log_records[0];
    rec.attributes.insert(0, kv("deep", v));
    let out = transformed(&t, &req.encode_to_vec());
    let doc = flat_attributes(records(&out)[0]);
    assert!(!doc.contains_key("deep"));
    assert_eq!(doc["k"], json!("v"));
    assert!(
        doc["cowork_ecs.attributes_overflow"]
            .as_str()
            .unwrap()
            .starts_with("{\"deep\":{\"k\":")
    );
    assert_eq!(doc["tags"], json!(["value_bounded"]));
}

#[test]
fn text_that_is_not_utf8_is_read_lossily_and_its_content_policy_applied() {
    for (policy, config) in [
        ("redact_secrets", json!({})),
        (
            "hash",
            json!({"content": {"prompts": "hash", "hmac_key": "0123456789abcdef0123456789abcdef-k"}}),
        ),
        ("drop", json!({"content": {"prompts": "drop"}})),
    ] {
        let t = transformer(config);
        let req = request(
            "claude-code",
            vec![attr("host.name", json!("BADHOST"))],
            vec![],
            vec![
                vec![
                    attr("event.name", json!("user_prompt")),
                    attr("prompt", json!("password=CanarySecretPass77 BADREC")),
                ],
                vec![
                    attr("event.name", json!("user_prompt")),
                    attr("prompt", json!("fine")),
                ],
            ],
        );
        let mut bytes = req.encode_to_vec();
        for needle in [&b"BADHOST"[..], b"BADREC"] {
            let at = bytes
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap();
            bytes[at] = 0xC3; // a lead byte without its continuation
        }
        assert!(otlp::decode(&bytes).is_err(), "prost refuses it");
        let out = transformed(&t, &bytes);
        let text = format!("{out:?}");
        assert!(
            !text.contains("CanarySecretPass77"),
            "{policy}: canary in clear"
        );
        for rec in records(&out) {
            let doc = flat_attributes(rec);
            assert_eq!(
                doc["event.kind"],
                json!("pipeline_error"),
                "{policy}: the resource string marks every record"
            );
            assert!(
                doc["error.message"]
                    .as_str()
                    .unwrap()
                    .contains("not valid UTF-8")
            );
            assert!(
                doc["tags"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("invalid_utf8"))
            );
        }
    }
}

#[test]
fn field_order_does_not_matter() {
    // A ResourceLogs whose scope_logs come before its resource (legal
    // protobuf; not what prost writes): the resource keeps its attributes.
    let t = transformer(json!({}));
    let req = request(
        "claude-code",
        vec![attr("host.name", json!("h1"))],
        vec![],
        vec![vec![attr("event.name", json!("user_prompt"))]],
    );
    let rl = &req.resource_logs[0];
    let mut body = Vec::new();
    for scope_logs in &rl.scope_logs {
        prost::encoding::message::encode(2, scope_logs, &mut body);
    }
    prost::encoding::message::encode(1, rl.resource.as_ref().unwrap(), &mut body);
    let mut bytes = Vec::new();
    prost::encoding::bytes::encode(1, &body, &mut bytes);
    let out = transformed(&t, &bytes);
    let resource = out.resource_logs[0].resource.as_ref().unwrap();
    let keys: Vec<_> = resource
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(keys, ["service.name", "host.name"]);
    let doc = flat_attributes(records(&out)[0]);
    assert_eq!(doc["event.action"], json!("user_prompt"));
}

#[test]
fn a_resource_or_scope_sent_twice_is_one_and_the_gateways() {
    // pdata (and prost) merge a singular message field sent twice: routing
    // hidden in the second part must be taken like routing in the first.
    let t = transformer(json!({}));
    let req = request(
        "claude-code",
        vec![],
        vec![],
        vec![vec![attr("event.name", json!("user_prompt"))]],
    );
    let hidden = |key: &str, value: &str| otlp::KeyValue {
        key: key.into(),
        value: Some(otlp::AnyValue {
            value: Some(otlp::Value::StringValue(value.into())),
        }),
        ..Default::default()
    };
    let rl = &req.resource_logs[0];
    let scope_logs = &rl.scope_logs[0];
    let second_scope = otlp::InstrumentationScope {
        attributes: vec![hidden("elastic.mapping.mode", "bogus")],
        ..Default::default()
    };
    let mut sl = scope_logs.encode_to_vec();
    prost::encoding::message::encode(1, &second_scope, &mut sl);
    let second_resource = otlp::Resource {
        attributes: vec![hidden("elasticsearch.index", "logs-elsewhere-default")],
        ..Default::default()
    };
    let mut body = Vec::new();
    prost::encoding::message::encode(1, rl.resource.as_ref().unwrap(), &mut body);
    prost::encoding::bytes::encode(2, &sl, &mut body);
    prost::encoding::message::encode(1, &second_resource, &mut body);
    let mut bytes = Vec::new();
    prost::encoding::bytes::encode(1, &body, &mut bytes);

    let out = transformed(&t, &bytes);
    let resource = out.resource_logs[0].resource.as_ref().unwrap();
    assert!(
        !resource
            .attributes
            .iter()
            .any(|kv| kv.key == "elasticsearch.index"),
        "hidden resource routing taken"
    );
    let scope = out.resource_logs[0].scope_logs[0].scope.as_ref().unwrap();
    let modes: Vec<_> = (scope.attributes.iter())
        .filter(|kv| kv.key == "elastic.mapping.mode")
        .map(|kv| format!("{:?}", kv.value))
        .collect();
    assert_eq!(modes.len(), 1, "{modes:?}");
    assert!(modes[0].contains("ecs"));
    let doc = flat_attributes(records(&out)[0]);
    let requested = doc[REQUESTED_ROUTING_FIELD].to_string();
    assert!(
        requested.contains("resource:elasticsearch.index=logs-elsewhere-default"),
        "{requested}"
    );
    assert!(
        requested.contains("scope:elastic.mapping.mode=bogus"),
        "{requested}"
    );
}
