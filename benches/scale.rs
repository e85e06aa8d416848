//! Criterion benchmark of how the transform's cost grows with its input:
//! one Claude record with 1,000 attributes against one with 100,000 (time
//! must grow linearly: ≤ 150× for 100× the attributes), and the peak heap
//! of a transform of 1,000,000 tiny records against their input bytes
//! (≤ 3× plus a constant), measured with a counting allocator.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use cowork_ecs::otlp::{
    self, AnyValue, ExportLogsServiceRequest, KeyValue, LogRecord, Resource, ResourceLogs,
    ScopeLogs, Signal, Value,
};
use cowork_ecs::{Config, Transformer};
use criterion::{Criterion, criterion_group, criterion_main};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The system allocator, counting live and peak bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let live = LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(live, Relaxed);
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn request(records: Vec<LogRecord>) -> Vec<u8> {
    otlp::encode(&ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("claude-code".into()))],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    })
}

/// One `api_request` record with `n` attributes besides its event name.
fn wide_record(n: usize) -> Vec<u8> {
    let mut attributes = vec![kv("event.name", Value::StringValue("api_request".into()))];
    attributes.extend((0..n).map(|i| kv(&format!("attr_{i}"), Value::IntValue(i as i64))));
    request(vec![LogRecord {
        time_unix_nano: 1,
        attributes,
        ..LogRecord::default()
    }])
}

fn bench(c: &mut Criterion) {
    let t = Transformer::new(&Config::default()).unwrap();
    let mut group = c.benchmark_group("scale");
    group.sample_size(10);
    for n in [1_000, 100_000] {
        let input = wide_record(n);
        group.bench_function(format!("one_record_{n}_attributes"), |b| {
            b.iter(|| {
                t.transform(Signal::Logs, &input, None)
                    .unwrap()
                    .output
                    .unwrap()
            })
        });
    }
    group.finish();

    // Peak heap of one transform of 1,000,000 tiny records.
    let tiny = LogRecord {
        time_unix_nano: 1,
        attributes: vec![kv("event.name", Value::StringValue("user_prompt".into()))],
        ..LogRecord::default()
    };
    let input = request(vec![tiny; 1_000_000]);
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let out = t
        .transform(Signal::Logs, &input, None)
        .unwrap()
        .output
        .unwrap();
    let peak = PEAK.load(Relaxed) - before;
    eprintln!(
        "scale/1M_tiny_records: input {:.1} MB, output {:.1} MB, transform peak heap {:.1} MB = {:.2}x the input",
        input.len() as f64 / 1e6,
        out.len() as f64 / 1e6,
        peak as f64 / 1e6,
        peak as f64 / input.len() as f64
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
