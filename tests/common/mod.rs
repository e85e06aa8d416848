//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use cowork_ecs::otlp::{self, ExportLogsServiceRequest, LogRecord, Value};
use serde_json::{Map, Value as Json};
use std::path::{Path, PathBuf};

/// The project's test data folder (shared with the Go tests).
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Reads an OTLP/JSON or protobuf request file.
pub fn read_request(path: &Path) -> ExportLogsServiceRequest {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    otlp::decode_any(&bytes)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .0
}

/// Every log record of a request, in order.
pub fn records(req: &ExportLogsServiceRequest) -> Vec<&LogRecord> {
    req.resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect()
}

/// An OTLP value as JSON, the way the elasticsearch exporter writes it:
/// maps become objects, arrays arrays, ints numbers.
pub fn value_json(v: &Value) -> Json {
    match v {
        Value::StringValue(s) => Json::String(s.clone()),
        Value::BoolValue(b) => Json::Bool(*b),
        Value::IntValue(i) => Json::from(*i),
        Value::DoubleValue(d) => Json::from(*d),
        Value::ArrayValue(a) => Json::Array(
            a.values
                .iter()
                .map(|x| x.value.as_ref().map_or(Json::Null, value_json))
                .collect(),
        ),
        Value::KvlistValue(kv) => Json::Object(
            kv.values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                    (kv.key.clone(), v.map_or(Json::Null, value_json))
                })
                .collect(),
        ),
        other => panic!("unexpected value {other:?}"),
    }
}

/// A record's attributes flattened to dotted keys (maps expanded).
pub fn flat_attributes(record: &LogRecord) -> Map<String, Json> {
    let mut out = Map::new();
    for kv in &record.attributes {
        let v = kv
            .value
            .as_ref()
            .and_then(|v| v.value.as_ref())
            .expect("attribute without value");
        flatten_into(&mut out, &kv.key, value_json(v));
    }
    out
}

/// Flattens a JSON document to dotted keys (objects expanded, arrays kept).
pub fn flatten(doc: &Json) -> Map<String, Json> {
    let mut out = Map::new();
    if let Json::Object(m) = doc {
        for (k, v) in m {
            flatten_into(&mut out, k, v.clone());
        }
    }
    out
}

fn flatten_into(out: &mut Map<String, Json>, prefix: &str, v: Json) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                flatten_into(out, &format!("{prefix}.{k}"), v);
            }
        }
        other => {
            assert!(
                out.insert(prefix.to_owned(), other).is_none(),
                "duplicate key {prefix}"
            );
        }
    }
}
