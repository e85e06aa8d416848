//! Golden tests: every case folder (`testdata/captures/<case>/`, the Cowork
//! fixture `testdata/cowork/`) holds inputs (`logs.json`, `logs.pb`,
//! `traces.json`, `metrics.json`, `events.otlp.json`) and, beside each, its
//! expected output `<stem>.expected.json`. Cases are discovered, not
//! counted: a new capture folder is a new case, and an input without its
//! expected file fails. The Go processor tests read the same files.
//!
//! Regenerate after an intended mapping change with
//! `COWORK_ECS_UPDATE_GOLDEN=1 cargo test --test golden` and review the diff;
//! refused when `CI` is set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::otlp::{self, Signal};
use cowork_ecs::{Config, Transformer};

#[test]
fn every_case_matches_its_golden_file() {
    let transformer = Transformer::new(&Config::default()).unwrap();
    let update = std::env::var_os("COWORK_ECS_UPDATE_GOLDEN").is_some();
    assert!(
        !(update && std::env::var_os("CI").is_some()),
        "golden files are not rewritten under CI"
    );
    let cases = golden_cases();
    for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
        assert!(
            cases.iter().any(|c| c.signal == signal),
            "no {} case found",
            signal.name()
        );
    }
    let mut mismatches = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(&case.input).unwrap();
        let (claude_items, output) = match case.signal {
            Signal::Logs => {
                let mut r = read_request(&case.input);
                let o = transformer.transform_logs_request(&mut r, None);
                (o.claude_items, otlp::to_json(&r).unwrap())
            }
            Signal::Traces => {
                let mut r = otlp::traces_from_json(&bytes).unwrap();
                let o = transformer.transform_traces_request(&mut r, None);
                (o.claude_items, otlp::any_to_json(&r).unwrap())
            }
            Signal::Metrics => {
                let mut r = otlp::metrics_from_json(&bytes).unwrap();
                let o = transformer.transform_metrics_request(&mut r, None);
                (o.claude_items, otlp::any_to_json(&r).unwrap())
            }
        };
        assert!(claude_items > 0, "{}: no Claude item", case.name);
        if update {
            std::fs::write(&case.expected, output + "\n").unwrap();
            continue;
        }
        let Ok(expected) = std::fs::read(&case.expected) else {
            mismatches.push(format!("{}: no {}", case.name, case.expected.display()));
            continue;
        };
        let expected: serde_json::Value = serde_json::from_slice(&expected).unwrap();
        let actual: serde_json::Value = serde_json::from_str(&output).unwrap();
        if expected != actual {
            mismatches.push(format!(
                "{}: output differs from {}",
                case.name,
                case.expected.display()
            ));
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
