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
        let outcome = transformer.transform_logs_request(&mut request, None);
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
    t.transform_logs_request(&mut pb, None);
    t.transform_logs_request(&mut js, None);
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

/// Traces and metrics captures (`testdata/captures/*/{traces,metrics}.json`)
/// through the transform, compared with
/// `testdata/golden/<case>.{traces,metrics}.expected.otlp.json`.
#[test]
fn every_traces_and_metrics_capture_matches_its_golden_file() {
    let transformer = Transformer::new(&Config::default()).unwrap();
    let update = std::env::var_os("COWORK_ECS_UPDATE_GOLDEN").is_some();
    assert!(!(update && std::env::var_os("CI").is_some()));
    let mut dirs: Vec<_> = std::fs::read_dir(testdata().join("captures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut seen = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for signal in ["traces", "metrics"] {
            let input = dir.join(format!("{signal}.json"));
            if !input.exists() {
                continue;
            }
            let bytes = std::fs::read(&input).unwrap();
            let golden = testdata().join(format!("golden/{name}.{signal}.expected.otlp.json"));
            let output = if signal == "traces" {
                let mut r = otlp::traces_from_json(&bytes).unwrap();
                assert!(
                    transformer
                        .transform_traces_request(&mut r, None)
                        .claude_items
                        > 0
                );
                otlp::any_to_json(&r).unwrap()
            } else {
                let mut r = otlp::metrics_from_json(&bytes).unwrap();
                assert!(
                    transformer
                        .transform_metrics_request(&mut r, None)
                        .claude_items
                        > 0
                );
                otlp::any_to_json(&r).unwrap()
            };
            seen.push(format!("{name}.{signal}"));
            if update {
                std::fs::write(&golden, output + "\n").unwrap();
                continue;
            }
            let expected: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&golden).unwrap()).unwrap();
            let actual: serde_json::Value = serde_json::from_str(&output).unwrap();
            assert!(
                expected == actual,
                "{name}.{signal}: output differs from {}",
                golden.display()
            );
        }
    }
    assert!(
        seen.len() >= 4,
        "traces and content_all, each traces + metrics: {seen:?}"
    );
}
