//! Coverage-guided fuzzing of the transform (`cargo +nightly fuzz run
//! transform`; `make fuzz` runs it for FUZZ_SECONDS). The input is a
//! protobuf `ExportLogsServiceRequest` (the seed corpus is the real
//! captures); a Claude Code resource whose prompt holds a fake credential
//! is appended to it. Invariants, for every input:
//!
//! - the transform never panics;
//! - what it writes, its own decoder (`prost`) reads back, except the
//!   resources it reports it could not read, which are copied as they came;
//! - the records are all there, in order (their timestamps, copied as they
//!   came, appear in the same sequence);
//! - a resource the transform leaves unchanged on its own is byte-identical
//!   in the output;
//! - the credential in the appended prompt, under the default
//!   `redact_secrets`, never survives.
#![no_main]

use cowork_ecs::otlp::wire::{self, Payload, tag};
use cowork_ecs::otlp::{
    self, AnyValue, ExportLogsServiceRequest, KeyValue, LogRecord, Resource, ResourceLogs,
    ScopeLogs, Value,
};
use cowork_ecs::otlp::Signal;
use cowork_ecs::{Config, Transformer};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const CANARY: &str = "sk-ant-api03-FAKEfakeFAKEfakeFAKEfake0123456789-abcdEF";

fn transformer() -> &'static Transformer {
    static T: OnceLock<Transformer> = OnceLock::new();
    T.get_or_init(|| Transformer::new(&Config::default()).expect("default config"))
}

fn canary_resource() -> Vec<u8> {
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    };
    otlp::encode(&ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "claude-code")],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 7,
                    attributes: vec![
                        kv("event.name", "user_prompt"),
                        kv("prompt", &format!("deploy with {CANARY} now")),
                    ],
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    })
}

/// The `ResourceLogs` fields of a request, as bytes.
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

/// Every record's timestamp field, in order (`None` if not protobuf).
fn times(request: &[u8]) -> Option<Vec<Option<u64>>> {
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
                let Payload::Bytes(rec) = g.payload else { continue };
                if g.tag != tag::SCOPE_ITEMS_ITEMS {
                    continue;
                }
                let mut time = None;
                for r in wire::fields(rec) {
                    let r = r.ok()?;
                    if r.tag == tag::RECORD_TIME {
                        time = r.fixed64();
                    }
                }
                out.push(time);
            }
        }
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let t = transformer();
    let mut input = data.to_vec();
    // Appended only after whole fields (else it would become part of the
    // last one's bytes).
    let whole = wire::fields(data).all(|f| f.is_ok());
    if whole {
        input.extend_from_slice(&canary_resource());
    }
    let Ok(done) = t.transform(Signal::Logs, &input, None) else {
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
        let ours = <ResourceLogs as prost::Message>::decode(*ours).expect("ours decodes");
        let text = format!("{ours:?}");
        assert!(!text.contains(CANARY), "the credential survived");
    }
    if !done.unread.is_empty() {
        // Resources it could not read are skipped: each is in the output
        // as it came, every other one is readable.
        for (i, o) in ins.iter().zip(&outs) {
            assert!(
                i == o || <ResourceLogs as prost::Message>::decode(*o).is_ok(),
                "a transformed resource does not decode"
            );
        }
        return;
    }
    otlp::decode(&output).expect("the output decodes");
    let (Some(before), Some(after)) = (times(&input), times(&output)) else {
        panic!("the output is not readable protobuf");
    };
    assert_eq!(before, after, "records lost, added or reordered");
    for (i, o) in ins.iter().zip(&outs) {
        let mut alone = Vec::new();
        wire::put_bytes(&mut alone, tag::REQUEST_RESOURCES, i);
        if matches!(t.transform(Signal::Logs, &alone, None), Ok(done) if done.output.is_none()) {
            assert_eq!(i, o, "an unchanged resource is copied byte for byte");
        }
    }
});
