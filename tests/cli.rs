//! The replay CLI reads all three signals (issue 9): OTLP/JSON by its
//! top-level key, protobuf by `--signal`; any other shape is an error with
//! a message, never an empty output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::otlp::{self, AnyValue, KeyValue, Value};
use prost::Message;
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `cowork-ecs transform <args>` on `input`: (exit code, stdout, stderr).
fn run(args: &[&str], input: &[u8]) -> (i32, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cowork-ecs"))
        .arg("transform")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn capture(path: &str) -> Vec<u8> {
    std::fs::read(testdata().join(path)).unwrap()
}

#[test]
fn json_signals_are_told_by_their_top_level_key() {
    let (code, out, err) = run(&[], &capture("captures/traces/traces.json"));
    assert_eq!(code, 0, "{err}");
    // Spans are routed in the exporter's OTel mode, which appends `.otel`.
    let out: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let scope = &out["resourceSpans"][0]["scopeSpans"][0]["scope"]["attributes"];
    assert!(
        scope
            .to_string()
            .contains(r#"{"key":"elastic.mapping.mode","value":{"stringValue":"otel"}}"#),
        "{scope}"
    );
    assert!(err.contains("6 Claude span(s)"), "{err}");
    let (code, out, err) = run(
        &["--tenant", "team-a"],
        &capture("captures/traces/metrics.json"),
    );
    assert_eq!(code, 0, "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("claude_code.metrics") && out.contains("team_a"));
    let (code, _, err) = run(
        &["--signal", "logs"],
        &capture("captures/traces/metrics.json"),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("--signal logs but the request is OTLP/JSON metrics"),
        "{err}"
    );
    for other in [&b"{\"resource\": []}"[..], b"{}", b"[1, 2]"] {
        let (code, out, err) = run(&[], other);
        assert_eq!(code, 1, "{}", String::from_utf8_lossy(other));
        assert!(out.is_empty());
        assert!(err.contains("error"), "{err}");
    }
}

#[test]
fn protobuf_is_read_as_the_signal_asked() {
    let traces = otlp::traces_from_json(&capture("captures/traces/traces.json"))
        .unwrap()
        .encode_to_vec();
    let (code, out, err) = run(&["--signal", "traces", "--output", "proto"], &traces);
    assert_eq!(code, 0, "{err}");
    let back = otlp::ExportTraceServiceRequest::decode(out.as_slice()).unwrap();
    assert_eq!(back.resource_spans[0].scope_spans[0].spans.len(), 6);
    // Without --signal, a traces request is not silently read as empty logs.
    let (code, out, err) = run(&[], &traces);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("--signal traces"), "{err}");
}

#[test]
fn a_protobuf_request_that_starts_like_json_is_protobuf() {
    // A logs request whose first resource is 123 bytes long starts with
    // 0x0A 0x7B: a newline and `{` to a text reader.
    let base = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
        "scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"claude_code.user_prompt"}}]}]}]}"#;
    let mut request = otlp::from_json(base).unwrap();
    let pad = |n: usize| KeyValue {
        key: "pad".into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue("x".repeat(n))),
        }),
        ..Default::default()
    };
    let mut n = 0;
    loop {
        let mut r = request.clone();
        r.resource_logs[0].scope_logs[0].log_records[0]
            .attributes
            .push(pad(n));
        let bytes = r.encode_to_vec();
        if bytes[1] == b'{' {
            request = r;
            break;
        }
        assert!(bytes[1] < b'{' && n < 200, "length {} at pad {n}", bytes[1]);
        n += 1;
    }
    let bytes = request.encode_to_vec();
    assert_eq!(&bytes[..2], b"\n{");
    let (code, out, err) = run(&["--output", "proto"], &bytes);
    assert_eq!(code, 0, "{err}");
    let back = otlp::decode(&out).unwrap();
    assert_eq!(back.resource_logs[0].scope_logs[0].log_records.len(), 1);
    assert!(err.contains("1 Claude record(s)"), "{err}");
}

/// A protobuf request bigger than one chunk is streamed (issue 17): every
/// record comes out once, in order, transformed exactly as the library
/// transforms the whole request (same attributes, same document ids), and
/// a small request comes out byte for byte as the library writes it.
#[test]
fn a_large_protobuf_request_is_streamed_without_changing_a_record() {
    let mut request = read_request(&testdata().join("captures/bash_ok/logs.json"));
    let rl = &mut request.resource_logs[0];
    let sample = rl.scope_logs[0].log_records.clone();
    let count = 2 * 10_000 + 7;
    rl.scope_logs[0].log_records = (0..count)
        .map(|i| {
            let mut r = sample[i % sample.len()].clone();
            r.time_unix_nano = 1_000 + i as u64;
            r
        })
        .collect();
    let bytes = otlp::encode(&request);
    let (code, out, err) = run(&["--output", "proto"], &bytes);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains(&format!("{count} Claude record(s)")), "{err}");
    let streamed = otlp::decode(&out).unwrap();
    assert_eq!(streamed.resource_logs.len(), 3, "cut in chunks of 10,000");
    let mut whole = request.clone();
    cowork_ecs::Transformer::new(&cowork_ecs::Config::default())
        .unwrap()
        .transform_logs_request(&mut whole, None);
    let flat = |r: &otlp::ExportLogsServiceRequest| -> Vec<otlp::LogRecord> {
        records(r).into_iter().cloned().collect()
    };
    assert_eq!(flat(&streamed), flat(&whole), "records, order, ids");
    for rl in &streamed.resource_logs {
        assert_eq!(rl.resource, whole.resource_logs[0].resource);
        assert_eq!(
            rl.scope_logs[0].scope,
            whole.resource_logs[0].scope_logs[0].scope
        );
    }

    let small = capture("captures/protobuf/logs.pb");
    let (code, out, err) = run(&["--output", "proto"], &small);
    assert_eq!(code, 0, "{err}");
    let library = cowork_ecs::Transformer::new(&cowork_ecs::Config::default())
        .unwrap()
        .transform(otlp::Signal::Logs, &small, None)
        .unwrap();
    assert_eq!(out, library.output.unwrap());
}
