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

/// One golden case: an input file and, beside it, its expected output.
#[allow(dead_code)]
pub struct GoldenCase {
    /// `<folder>/<input file>`, e.g. `bash_ok/logs.json`.
    pub name: String,
    /// Which request the input is (`.pb` is logs; JSON says by its key).
    pub signal: cowork_ecs::otlp::Signal,
    pub input: PathBuf,
    /// `<input stem>.expected.json` in the same folder.
    pub expected: PathBuf,
}

/// Every golden case, discovered: each input file (`*.json` but
/// `*.expected.json`, `*.pb`) in a capture folder or the Cowork fixture's.
#[allow(dead_code)]
pub fn golden_cases() -> Vec<GoldenCase> {
    let captures = testdata().join("captures");
    let mut folders: Vec<PathBuf> = (std::fs::read_dir(&captures).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    folders.push(testdata().join("cowork"));
    folders.sort();
    let mut cases = Vec::new();
    for folder in folders {
        let mut files: Vec<PathBuf> = (std::fs::read_dir(&folder).unwrap())
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for input in files {
            let file = input.file_name().unwrap().to_string_lossy().into_owned();
            let (stem, signal) = if let Some(stem) = file.strip_suffix(".pb") {
                (stem, cowork_ecs::otlp::Signal::Logs)
            } else if let Some(stem) = file.strip_suffix(".json") {
                if stem.ends_with(".expected") {
                    continue;
                }
                let json: Map<String, Json> =
                    serde_json::from_slice(&std::fs::read(&input).unwrap()).unwrap();
                (stem, cowork_ecs::otlp::Signal::of_json(&json).unwrap())
            } else {
                continue;
            };
            let folder_name = folder.file_name().unwrap().to_string_lossy();
            cases.push(GoldenCase {
                name: format!("{folder_name}/{file}"),
                signal,
                expected: folder.join(format!("{stem}.expected.json")),
                input,
            });
        }
    }
    cases
}
