//! Coverage-guided fuzzing of the transform (`cargo +nightly fuzz run
//! transform`; `make fuzz` runs it for FUZZ_SECONDS). Every input is read
//! as each of the three requests in turn (`ExportLogsServiceRequest`,
//! `ExportTraceServiceRequest`, `ExportMetricsServiceRequest`: they share
//! their shape down to the items, so one corpus serves all three; the seed
//! corpus is the real captures of each signal). A Claude Code resource of
//! that signal whose prompt holds a fake credential is appended to it.
//! Invariants, for every input and signal:
//!
//! - the transform never panics;
//! - what it writes, its own decoder (`prost`) reads back, except the
//!   resources it reports it could not read, which are copied as they came;
//! - the items are all there, in order (log records by their timestamps,
//!   spans by their span ids, metrics by their count: fields copied as
//!   they came);
//! - a resource the transform leaves unchanged on its own is byte-identical
//!   in the output;
//! - the credential in the appended prompt, under the default
//!   `redact_secrets`, never survives.
#![no_main]

use cowork_ecs::otlp::Signal;
use cowork_ecs::otlp::wire::{self, Payload, tag};
use cowork_ecs::otlp::{
    AnyValue, ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
    KeyValue, LogRecord, Resource, ResourceLogs, ScopeLogs, Value,
};
use cowork_ecs::{Config, Transformer};
use libfuzzer_sys::fuzz_target;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, metric,
};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use std::sync::OnceLock;

const CANARY: &str = "sk-ant-api03-FAKEfakeFAKEfakeFAKEfake0123456789-abcdEF";

fn transformer() -> &'static Transformer {
    static T: OnceLock<Transformer> = OnceLock::new();
    T.get_or_init(|| Transformer::new(&Config::default()).expect("default config"))
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

/// A Claude Code request of `signal` whose one item carries the canary in
/// a prompt.
fn canary_request(signal: Signal) -> Vec<u8> {
    let resource = Some(Resource {
        attributes: vec![kv("service.name", "claude-code")],
        ..Resource::default()
    });
    let prompt = format!("deploy with {CANARY} now");
    match signal {
        Signal::Logs => ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource,
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        time_unix_nano: 7,
                        attributes: vec![kv("event.name", "user_prompt"), kv("prompt", &prompt)],
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec(),
        Signal::Traces => ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource,
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        span_id: vec![7; 8],
                        name: "claude_code.interaction".into(),
                        attributes: vec![kv("user_prompt", &prompt)],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
        .encode_to_vec(),
        Signal::Metrics => ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource,
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![Metric {
                        name: "claude_code.session.count".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![kv("user_prompt", &prompt)],
                                ..NumberDataPoint::default()
                            }],
                        })),
                        ..Metric::default()
                    }],
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        }
        .encode_to_vec(),
    }
}

/// Whether a request of `signal` decodes with prost.
fn decodes(signal: Signal, request: &[u8]) -> Result<String, prost::DecodeError> {
    Ok(match signal {
        Signal::Logs => format!("{:?}", ExportLogsServiceRequest::decode(request)?),
        Signal::Traces => format!("{:?}", ExportTraceServiceRequest::decode(request)?),
        Signal::Metrics => format!("{:?}", ExportMetricsServiceRequest::decode(request)?),
    })
}

/// One resource as a request of its own.
fn alone(resource: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    wire::put_bytes(&mut out, tag::REQUEST_RESOURCES, resource);
    out
}

/// The resources of a request, as bytes.
fn resources(request: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    for f in wire::fields(request) {
        let f = f.ok()?;
        if let (tag::REQUEST_RESOURCES, Payload::Bytes(b)) = (f.tag, f.payload) {
            out.push(b);
        }
    }
    Some(out)
}

/// What identifies each item, in order: a record's timestamp field, a
/// span's id, a metric's presence (`None` if not protobuf).
fn items(signal: Signal, request: &[u8]) -> Option<Vec<Vec<u8>>> {
    let key = match signal {
        Signal::Logs => Some(tag::RECORD_TIME),
        Signal::Traces => Some(tag::SPAN_SPAN_ID),
        Signal::Metrics => None,
    };
    let mut out = Vec::new();
    for rl in resources(request)? {
        for f in wire::fields(rl) {
            let f = f.ok()?;
            let Payload::Bytes(sl) = f.payload else { continue };
            if f.tag != tag::RESOURCE_ITEMS_SCOPES {
                continue;
            }
            for g in wire::fields(sl) {
                let g = g.ok()?;
                let Payload::Bytes(item) = g.payload else { continue };
                if g.tag != tag::SCOPE_ITEMS_ITEMS {
                    continue;
                }
                let mut id = Vec::new();
                for r in wire::fields(item) {
                    let r = r.ok()?;
                    if Some(r.tag) == key {
                        id = match r.payload {
                            Payload::Fixed(b) | Payload::Bytes(b) => b.to_vec(),
                            Payload::Varint(v) => v.to_le_bytes().to_vec(),
                        };
                    }
                }
                out.push(id);
            }
        }
    }
    Some(out)
}

fn check(signal: Signal, data: &[u8]) {
    let t = transformer();
    let mut input = data.to_vec();
    // Appended only after whole fields (else it would become part of the
    // last one's bytes).
    let whole = wire::fields(data).all(|f| f.is_ok());
    if whole {
        input.extend_from_slice(&canary_request(signal));
    }
    let Ok(done) = t.transform(signal, &input, None) else {
        return; // not protobuf: refused with an error, nothing written
    };
    let Some(output) = done.output else {
        assert!(!whole, "a Claude resource always changes the batch");
        return;
    };
    let (ins, outs) = (resources(&input).unwrap(), resources(&output).unwrap());
    assert_eq!(ins.len(), outs.len(), "resources lost or added");
    // The fuzzer can put the credential anywhere (a non-content attribute
    // passes as sent, by design); in the appended resource, the last one,
    // it must be gone.
    if whole {
        let ours = outs.last().expect("the appended resource");
        let text = decodes(signal, &alone(ours)).expect("ours decodes");
        assert!(!text.contains(CANARY), "the credential survived");
    }
    if !done.unread.is_empty() {
        // Resources it could not read are skipped: each is in the output
        // as it came, every other one is readable.
        for (i, o) in ins.iter().zip(&outs) {
            assert!(
                i == o || decodes(signal, &alone(o)).is_ok(),
                "a transformed resource does not decode"
            );
        }
        return;
    }
    decodes(signal, &output).expect("the output decodes");
    let (Some(before), Some(after)) = (items(signal, &input), items(signal, &output)) else {
        panic!("the output is not readable protobuf");
    };
    assert_eq!(before, after, "items lost, added or reordered");
    for (i, o) in ins.iter().zip(&outs) {
        if matches!(t.transform(signal, &alone(i), None), Ok(done) if done.output.is_none()) {
            assert_eq!(i, o, "an unchanged resource is copied byte for byte");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
        check(signal, data);
    }
});
