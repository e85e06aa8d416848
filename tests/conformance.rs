//! Conformance with the peer: Elastic's `claude_code` integration pipeline
//! fixtures (`testdata/conformance/claude_code/`, see its README). Every
//! expected document is reproduced field for field, except the deviations
//! mapping.md §6 and the suite's README list, which are asserted too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::{Config, Transformer};
use serde_json::{Value as Json, json};

/// Keys of the expected documents that the comparison leaves out (README).
fn not_compared(key: &str) -> bool {
    key == "@timestamp"
        || key == "observed_timestamp"
        || key.starts_with("resource.")
        || key.starts_with("scope.")
        || key == "event.original"
        || key == "tags"
        || key == "related.hosts"
}

#[test]
fn every_peer_document_is_reproduced() {
    let dir = testdata().join("conformance/claude_code");
    let transformer = Transformer::new(&Config::default()).unwrap();
    let mut cases = 0;
    let mut compared_fields = 0;
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for input_path in paths
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".input.otlp.json"))
    {
        let name = input_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(".input.otlp.json", "");
        let expected: Json = serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let expected = expected["expected"].as_array().unwrap();
        let mut request = read_request(input_path);
        let outcome = transformer.transform_logs_request(&mut request, None);
        assert_eq!(outcome.pipeline_errors, 0, "{name}");
        let got = records(&request);
        assert_eq!(got.len(), expected.len(), "{name}: record count");
        for (record, doc) in got.iter().zip(expected) {
            let ours = flat_attributes(record);
            for (key, want) in flatten(doc) {
                if not_compared(&key) {
                    continue;
                }
                compared_fields += 1;
                match ours.get(&key) {
                    Some(have) if have == &want => {}
                    have => failures.push(format!("{name}: {key}: want {want}, have {have:?}")),
                }
            }
            // The deviations, asserted (mapping.md §2 and 6).
            assert!(
                !ours.contains_key("related.hosts"),
                "{name}: related.hosts must not be set"
            );
            assert!(
                !ours.contains_key("event.original"),
                "{name}: no event.original without error"
            );
            if ours.get("event.action") == Some(&json!("tool_decision")) {
                assert_eq!(
                    ours.get("claude_code.events.decision_source"),
                    ours.get("claude_code.events.source"),
                    "{name}"
                );
            }
        }
        cases += 1;
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(cases, 15, "every conformance case ran");
    assert!(
        compared_fields >= 450,
        "compared only {compared_fields} fields"
    );
    println!("conformance: {cases} cases, {compared_fields} fields compared, 0 mismatches");
}
