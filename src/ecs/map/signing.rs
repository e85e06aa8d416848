//! The signature of a Claude item as the exporter stores it
//! ([`crate::signature`]; README "Tamper evidence"), after every rule of the
//! mapping (the content policy included: what is signed is what is stored):
//! - a log record (ECS mode): its attributes under their stored names,
//!   `@timestamp` and `message`;
//! - a span (OTel mode): its attributes under `attributes.`, `name`,
//!   `trace_id`, `span_id`, `@timestamp` (its start) and `duration`;
//! - a span event (OTel mode, its own document): its attributes under
//!   `attributes.`, `event_name`, its span's `trace_id` and `span_id`, and
//!   `@timestamp`;
//! - a data point (ECS mode): its attributes, `@timestamp` and, for a
//!   number, its value under the metric's name. It has no document id (the
//!   signature binds the empty one).

use crate::ecs::model::attrs::{Attrs, Key};
use crate::ecs::model::value::{string, string_array, to_json};
use crate::signature::{self, Signer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Attributes the exporter does not store as they are: it routes on them,
/// reads them as hints or as the document id (elasticsearchexporter
/// `jsonwriter.go` `writeAttributes`, v0.157.0; ECS mode uses the data
/// stream values as routed, which are the same).
const EXPORTER_OWNED: &[&str] = &[
    "data_stream.type",
    "data_stream.dataset",
    "data_stream.namespace",
    "elastic.mapping.hints",
    "elastic.mapping.mode",
    "elasticsearch.document_id",
    "elasticsearch.document_pipeline",
    "elasticsearch.index",
];

/// What the exporter stores of an item besides its attributes.
pub(crate) enum Stored<'x> {
    /// A log record (ECS mode).
    LogRecord {
        /// Nanoseconds (`time_unix_nano`, else the observed time).
        time: u64,
        /// Its body, when a string.
        message: Option<&'x str>,
    },
    /// A span (OTel mode).
    Span {
        name: &'x str,
        trace_id: &'x [u8],
        span_id: &'x [u8],
        start: u64,
        end: u64,
    },
    /// A span event (OTel mode), with its span's ids.
    SpanEvent {
        name: &'x str,
        trace_id: &'x [u8],
        span_id: &'x [u8],
        time: u64,
    },
    /// A data point (ECS mode: its attributes at the top, its value under
    /// its metric's name). Its signature's attributes differ from every
    /// other point's, so the exporter, which merges the points of a batch
    /// that share attributes and time into one document, writes it alone.
    DataPoint {
        metric: &'x str,
        time: u64,
        /// A number point's value (histograms and summaries: none signed).
        value: Option<&'x Value>,
    },
}

/// Signs an item mapped into `out` (its document id `doc_id`) as `stored`
/// says it is stored, and adds the signature's three fields to `out`.
pub(crate) fn sign(signer: &Signer, doc_id: &str, stored: &Stored<'_>, out: &mut Attrs<'_>) {
    let otel = matches!(stored, Stored::Span { .. } | Stored::SpanEvent { .. });
    let mut leaves = BTreeMap::new();
    for a in out.iter() {
        let name = format!("{}{}", a.key.prefix, a.key.name);
        if EXPORTER_OWNED.contains(&name.as_str())
            || (matches!(stored, Stored::SpanEvent { .. }) && name == "event.name")
        {
            continue;
        }
        let name = if otel {
            format!("attributes.{name}")
        } else if matches!(stored, Stored::DataPoint { .. }) {
            name
        } else {
            (signature::ECS_LOG_RENAMES.iter())
                .find(|(from, _)| *from == name)
                .map_or(name, |(_, to)| (*to).to_owned())
        };
        if let Some(value) = a.value.clone().into_value() {
            signature::flatten_owned_into(&name, to_json(&value), &mut leaves);
        }
    }
    let nanos = |t: u64| Value::from(t);
    let mut put = |k: &str, v: Value| {
        leaves.insert(k.to_owned(), v);
    };
    match *stored {
        Stored::LogRecord { time, message } => {
            put(signature::FIELD_TIMESTAMP, nanos(time));
            if let Some(m) = message.filter(|m| !m.is_empty()) {
                put(signature::FIELD_MESSAGE, Value::from(m));
            }
        }
        Stored::Span {
            name,
            trace_id,
            span_id,
            start,
            end,
        } => {
            put(signature::FIELD_TIMESTAMP, nanos(start));
            put("duration", nanos(end.wrapping_sub(start)));
            put_ids(&mut put, trace_id, span_id);
            if !name.is_empty() {
                put("name", Value::from(name));
            }
        }
        Stored::SpanEvent {
            name,
            trace_id,
            span_id,
            time,
        } => {
            put(signature::FIELD_TIMESTAMP, nanos(time));
            put_ids(&mut put, trace_id, span_id);
            if !name.is_empty() {
                put("event_name", Value::from(name));
            }
        }
        Stored::DataPoint {
            metric,
            time,
            value,
        } => {
            put(signature::FIELD_TIMESTAMP, nanos(time));
            if let Some(v) = value.filter(|v| !metric.is_empty() && v.is_number()) {
                put(metric, v.clone());
            }
        }
    }
    let mut fields: Vec<(String, Value)> = leaves.into_iter().collect();
    let signed = signer.sign(doc_id, &mut fields);
    out.set(
        Key::plain(signature::FIELD_SIGNATURE),
        string(signed.signature),
    );
    out.set(Key::plain(signature::FIELD_KEY_ID), string(signed.key_id));
    out.set(
        Key::plain(signature::FIELD_FIELDS),
        string_array(signed.fields),
    );
}

/// `trace_id` and `span_id` as the exporter writes them (lowercase hex;
/// none when empty).
fn put_ids(put: &mut impl FnMut(&str, Value), trace_id: &[u8], span_id: &[u8]) {
    for (k, id) in [("trace_id", trace_id), ("span_id", span_id)] {
        if !id.is_empty() && id.iter().any(|b| *b != 0) {
            let hex = id.iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02x}");
                s
            });
            put(k, Value::from(hex));
        }
    }
}
