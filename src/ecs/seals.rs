//! A seal ([`crate::seal`]) as the OTLP log record the exporter stores in
//! `logs-cowork_ecs.seals-<namespace>` (ECS mode: its attributes at the top
//! of the document, `@timestamp` from its time): an
//! `ExportLogsServiceRequest` of one resource (`service.name: cowork-ecs`),
//! one scope (`elastic.mapping.mode: ecs`) and one record, whose document
//! id is `<chain>-<number>` (a replay is one document).

use crate::ecs::policy::routing::{DOCUMENT_ID_ATTRIBUTE, MAPPING_MODE_ATTRIBUTE};
use crate::otlp::{
    AnyValue, ArrayValue, ExportLogsServiceRequest, InstrumentationScope, KeyValue, LogRecord,
    Resource, ResourceLogs, ScopeLogs, Value as Any,
};
use crate::seal;
use crate::signature::FIELD_TIMESTAMP;
use prost::Message as _;
use serde_json::Value;
use std::collections::BTreeMap;

/// The resource `service.name` of seal records.
pub const SEAL_SERVICE_NAME: &str = "cowork-ecs";

/// The protobuf `ExportLogsServiceRequest` of a seal's stored `fields`
/// ([`crate::seal::Sealer::seal`]) in data stream
/// `logs-cowork_ecs.seals-<namespace>`.
pub(crate) fn seal_request(fields: BTreeMap<String, Value>, namespace: &str) -> Vec<u8> {
    let time = fields
        .get(FIELD_TIMESTAMP)
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let id = seal::seal_id(
        (fields.get(seal::FIELD_CHAIN))
            .and_then(Value::as_str)
            .unwrap_or(""),
        (fields.get(seal::FIELD_NUMBER))
            .and_then(Value::as_u64)
            .unwrap_or(0),
    );
    let kind = fields
        .get(seal::FIELD_KIND)
        .and_then(Value::as_str)
        .unwrap_or("batch");
    let mut attributes = vec![
        kv("data_stream.type", text("logs")),
        kv("data_stream.dataset", text(seal::SEAL_DATASET)),
        kv("data_stream.namespace", text(namespace)),
        kv(DOCUMENT_ID_ATTRIBUTE, text(&id)),
        kv("event.kind", text("event")),
        kv("event.module", text("cowork_ecs")),
        kv("event.dataset", text(seal::SEAL_DATASET)),
        kv("event.action", text(&format!("seal-{kind}"))),
    ];
    for (name, value) in fields.into_iter().filter(|(k, _)| k != FIELD_TIMESTAMP) {
        attributes.push(kv(&name, any(value)));
    }
    let request = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", text(SEAL_SERVICE_NAME))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "cowork_ecs/seal".into(),
                    attributes: vec![kv(MAPPING_MODE_ATTRIBUTE, text("ecs"))],
                    ..Default::default()
                }),
                log_records: vec![LogRecord {
                    time_unix_nano: time,
                    observed_time_unix_nano: time,
                    attributes,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    request.encode_to_vec()
}

fn kv(key: &str, value: Any) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn text(s: &str) -> Any {
    Any::StringValue(s.to_owned())
}

/// A seal field's value: strings, integers (every number a seal holds is
/// a `u64` below 2^63) and arrays of strings.
fn any(value: Value) -> Any {
    match value {
        Value::Number(n) => Any::IntValue(n.as_i64().unwrap_or(i64::MAX)),
        Value::Array(items) => Any::ArrayValue(ArrayValue {
            values: items
                .into_iter()
                .map(|v| AnyValue {
                    value: Some(any(v)),
                })
                .collect(),
        }),
        Value::String(s) => Any::StringValue(s),
        other => text(&other.to_string()),
    }
}
