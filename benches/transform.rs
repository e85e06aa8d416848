//! Criterion benchmark: a 1,000-record batch and a 1,000-span batch built
//! from the real captures. `transform` (one walk over the request's bytes)
//! is reported against the baseline `decode_encode` (the prost round trip
//! of the same request alone), measured in the same run (issue 17's target:
//! transform ≤ 0.8× the baseline, for logs and for traces).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use cowork_ecs::otlp::{self, ExportLogsServiceRequest, ExportTraceServiceRequest, Signal};
use cowork_ecs::{Config, Transformer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::path::Path;

/// Every capture's records, repeated in order until there are 1,000, under
/// one Claude Code resource.
fn batch_1000() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures");
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    let mut records = Vec::new();
    let mut template: Option<ExportLogsServiceRequest> = None;
    for dir in dirs.iter().filter(|d| d.join("logs.json").exists()) {
        let (req, _) = otlp::decode_any(&std::fs::read(dir.join("logs.json")).unwrap()).unwrap();
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                records.extend(sl.log_records.iter().cloned());
            }
        }
        template.get_or_insert(req);
    }
    let mut req = template.unwrap();
    req.resource_logs.truncate(1);
    req.resource_logs[0].scope_logs.truncate(1);
    let batch: Vec<_> = records.iter().cycle().take(1000).cloned().collect();
    req.resource_logs[0].scope_logs[0].log_records = batch;
    otlp::encode(&req)
}

/// Every span of the traces captures, repeated in order until there are
/// 1,000, under one Claude Code resource.
fn spans_1000() -> Vec<u8> {
    use prost::Message;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/captures");
    let mut spans = Vec::new();
    let mut template: Option<ExportTraceServiceRequest> = None;
    for case in ["traces", "content_all"] {
        let bytes = std::fs::read(root.join(case).join("traces.json")).unwrap();
        let req = otlp::traces_from_json(&bytes).unwrap();
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                spans.extend(ss.spans.iter().cloned());
            }
        }
        template.get_or_insert(req);
    }
    let mut req = template.unwrap();
    req.resource_spans.truncate(1);
    req.resource_spans[0].scope_spans.truncate(1);
    req.resource_spans[0].scope_spans[0].spans = spans.iter().cycle().take(1000).cloned().collect();
    req.encode_to_vec()
}

fn bench_traces(c: &mut Criterion) {
    use prost::Message;
    let input = spans_1000();
    let transformer = Transformer::new(&Config::default()).unwrap();
    let mut group = c.benchmark_group("batch_1000_spans");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("decode_encode_baseline", |b| {
        b.iter(|| {
            ExportTraceServiceRequest::decode(input.as_slice())
                .unwrap()
                .encode_to_vec()
        })
    });
    group.bench_function("transform", |b| {
        b.iter(|| {
            transformer
                .transform(Signal::Traces, &input, None)
                .unwrap()
                .output
                .unwrap()
        })
    });
    group.finish();
}

fn bench(c: &mut Criterion) {
    let input = batch_1000();
    let transformer = Transformer::new(&Config::default()).unwrap();
    let mut group = c.benchmark_group("batch_1000_records");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("decode_encode_baseline", |b| {
        b.iter(|| otlp::encode(&otlp::decode(&input).unwrap()))
    });
    group.bench_function("transform", |b| {
        b.iter(|| {
            transformer
                .transform(Signal::Logs, &input, None)
                .unwrap()
                .output
                .unwrap()
        })
    });
    // The same with every content class on `keep`: the cost of the default
    // redact_secrets policy is the difference.
    let keep = Transformer::from_json_config(
        br#"{"content":{"prompts":"keep","responses":"keep","tool_details":"keep","api_bodies":"keep"}}"#,
    )
    .unwrap();
    group.bench_function("transform_content_keep", |b| {
        b.iter(|| {
            keep.transform(Signal::Logs, &input, None)
                .unwrap()
                .output
                .unwrap()
        })
    });
    group.finish();
}

/// Tamper evidence's cost (README "Tamper evidence"): the same batch with
/// and without a signing key, in the same run.
fn bench_signing(c: &mut Criterion) {
    let input = batch_1000();
    let key = std::env::temp_dir().join(format!("cowork-ecs-bench-{}.pem", std::process::id()));
    // RFC 8032's test key 1, as PKCS#8 PEM.
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let plain = Transformer::new(&Config::default()).unwrap();
    let config = format!(
        r#"{{"signing": {{"key_file": {:?}}}}}"#,
        key.display().to_string()
    );
    let signing = Transformer::from_json_config(config.as_bytes()).unwrap();
    std::fs::remove_file(&key).unwrap();
    let mut group = c.benchmark_group("signing_1000_records");
    group.throughput(Throughput::Elements(1000));
    for (name, t) in [
        ("transform_unsigned", &plain),
        ("transform_signed", &signing),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                t.transform(Signal::Logs, &input, None)
                    .unwrap()
                    .output
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_traces, bench_signing);
criterion_main!(benches);
