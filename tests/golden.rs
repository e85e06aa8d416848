//! Golden tests: every real capture (`testdata/captures/*/logs.{json,pb}`)
//! and the Cowork fixture (`testdata/cowork/events.otlp.json`) through the
//! transform, compared with `testdata/golden/<case>.expected.otlp.json`.
//! The Go processor tests compare against the same files.
//!
//! Regenerate after an intended mapping change with
//! `COWORK_ECS_UPDATE_GOLDEN=1 cargo test --test golden` and review the diff;
//! refused when `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::{Config, Transformer, otlp};
use std::path::PathBuf;

/// `(case name, input file)` for every golden case.
fn cases() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let captures = testdata().join("captures");
    let mut dirs: Vec<_> = std::fs::read_dir(&captures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in ["logs.json", "logs.pb"] {
            if dir.join(file).exists() {
                out.push((name.clone(), dir.join(file)));
            }
        }
    }
    out.push((
        "cowork".to_owned(),
        testdata().join("cowork/events.otlp.json"),
    ));
    out
}

#[test]
fn every_case_matches_its_golden_file() {
    let transformer = Transformer::new(&Config::default()).unwrap();
    let update = std::env::var_os("COWORK_ECS_UPDATE_GOLDEN").is_some();
    assert!(
        !(update && std::env::var_os("CI").is_some()),
        "golden files are not rewritten under CI"
    );
    let cases = cases();
    assert_eq!(
        cases.len(),
        19,
        "18 capture folders (one of them protobuf) + cowork"
    );
    let mut mismatches = Vec::new();
    for (name, input) in &cases {
        let mut request = read_request(input);
        let outcome = transformer.transform_request(&mut request);
        assert!(outcome.claude_records > 0, "{name}: no Claude record");
        let golden = testdata().join(format!("golden/{name}.expected.otlp.json"));
        if update {
            std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
            std::fs::write(&golden, otlp::to_json(&request).unwrap() + "\n").unwrap();
            continue;
        }
        let expected = read_request(&golden);
        if expected != request {
            mismatches.push(format!("{name}: output differs from {}", golden.display()));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn protobuf_and_json_captures_of_one_run_map_alike() {
    // The protobuf capture is bash_ok over http/protobuf: same event names in
    // the same order, and the same mapped keys per record.
    let t = Transformer::new(&Config::default()).unwrap();
    let mut pb = read_request(&testdata().join("captures/protobuf/logs.pb"));
    let mut js = read_request(&testdata().join("captures/bash_ok/logs.json"));
    t.transform_request(&mut pb);
    t.transform_request(&mut js);
    let shape = |r: &otlp::ExportLogsServiceRequest| -> Vec<(serde_json::Value, Vec<String>)> {
        records(r)
            .iter()
            .map(|rec| {
                let a = flat_attributes(rec);
                let mut keys: Vec<String> = a.keys().cloned().collect();
                keys.sort();
                (a["event.action"].clone(), keys)
            })
            .collect()
    };
    assert_eq!(shape(&pb), shape(&js));
}
