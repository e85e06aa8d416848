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

use crate::ecs::map::walk::Walk;
use crate::ecs::model::attrs::{Attrs, Key};
use crate::ecs::model::value::{OutValue, string, string_array, to_json};
use crate::ecs::policy::identity::lower_hex;
use crate::ecs::policy::routing::{DOCUMENT_ID_ATTRIBUTE, ROUTING_ATTRIBUTES};
use crate::signature;
use serde_json::Value;
use std::collections::BTreeMap;

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

impl Walk<'_> {
    /// With a signing key configured, signs an item mapped into `out` as
    /// `stored` says the exporter stores it, bound to the document id
    /// already in `out` (none for a data point), and adds the signature's
    /// three fields to `out`. The exporter's control attributes
    /// ([`ROUTING_ATTRIBUTES`]: routing, mapping mode, document id) are not
    /// stored as they are, so they are not signed.
    pub(crate) fn sign(&self, stored: &Stored<'_>, out: &mut Attrs<'_>) {
        let Some(signer) = &self.mapping.settings.signer else {
            return;
        };
        let signed = {
            let doc_id = (out.get(&Key::plain(DOCUMENT_ID_ATTRIBUTE)))
                .and_then(OutValue::scalar_text)
                .unwrap_or_default();
            let mut fields: Vec<(String, Value)> = stored_fields(stored, out).into_iter().collect();
            signer.sign(&doc_id, &mut fields)
        };
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
}

/// The item's stored fields, by their stored (dotted) names.
fn stored_fields(stored: &Stored<'_>, out: &Attrs<'_>) -> BTreeMap<String, Value> {
    let mut leaves = BTreeMap::new();
    for a in out.iter() {
        let name = format!("{}{}", a.key.prefix, a.key.name);
        // A span event's name is stored as its `event.name` (and `event_name`).
        if ROUTING_ATTRIBUTES.contains(&name.as_str())
            || (matches!(stored, Stored::SpanEvent { .. }) && name == "event.name")
        {
            continue;
        }
        let name = match stored {
            Stored::Span { .. } | Stored::SpanEvent { .. } => format!("attributes.{name}"),
            Stored::DataPoint { .. } => name,
            Stored::LogRecord { .. } => (signature::ECS_LOG_RENAMES.iter())
                .find(|(from, _)| *from == name)
                .map_or(name, |(_, to)| (*to).to_owned()),
        };
        if let Some(value) = a.value.clone().into_value() {
            signature::flatten_into(&name, to_json(&value), &mut leaves);
        }
    }
    let mut put = |k: &str, v: Value| {
        leaves.insert(k.to_owned(), v);
    };
    match *stored {
        Stored::LogRecord { time, message } => {
            put(signature::FIELD_TIMESTAMP, Value::from(time));
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
            put_otel(&mut put, ("name", name), trace_id, span_id, start);
            put("duration", Value::from(end.wrapping_sub(start)));
        }
        Stored::SpanEvent {
            name,
            trace_id,
            span_id,
            time,
        } => put_otel(&mut put, ("event_name", name), trace_id, span_id, time),
        Stored::DataPoint {
            metric,
            time,
            value,
        } => {
            put(signature::FIELD_TIMESTAMP, Value::from(time));
            if let Some(v) = value.filter(|v| !metric.is_empty() && v.is_number()) {
                put(metric, v.clone());
            }
        }
    }
    leaves
}

/// What the exporter's OTel mode writes of a span or span event besides
/// its attributes: `@timestamp`, its name (`name` / `event_name`, none when
/// empty), and `trace_id`, `span_id` as lowercase hex (none when empty).
fn put_otel(
    put: &mut impl FnMut(&str, Value),
    (name_field, name): (&str, &str),
    trace_id: &[u8],
    span_id: &[u8],
    time: u64,
) {
    put(signature::FIELD_TIMESTAMP, Value::from(time));
    if !name.is_empty() {
        put(name_field, Value::from(name));
    }
    for (k, id) in [("trace_id", trace_id), ("span_id", span_id)] {
        if id.iter().any(|b| *b != 0) {
            put(k, Value::from(lower_hex(id)));
        }
    }
}
