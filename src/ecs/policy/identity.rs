//! Which document an item becomes (README "Delivery guarantee", exactly
//! once): [`document_id`] derives `elasticsearch.document_id` from the
//! item's identity, so a replayed item is a conflict on the existing
//! document, never a second one.

use crate::ecs::model::attrs::Attr;
use crate::ecs::model::value::{InValue, OutValue};
use crate::otlp::wire::{self, Malformed};
use sha2::{Digest, Sha256};

/// The part of every `document_id` of one resource: the emitter
/// (`event.provider`) and the resource's attributes as the gateway keeps
/// them, each as its canonical protobuf encoding (so the id does not depend
/// on the sender's encoder), hashed once per resource.
///
/// # Errors
/// [`Malformed`] when a nested value is not protobuf.
pub(crate) fn document_id_base(provider: &str, resource: &[Attr<'_>]) -> Result<Sha256, Malformed> {
    let mut hash = Sha256::new();
    hash.update(b"cowork-ecs/id/v1\0");
    hash.update(provider.as_bytes());
    hash.update([0]);
    let mut buf = Vec::new();
    for a in resource {
        buf.clear();
        let value = match &a.value {
            InValue::Str(s) => OutValue::Str(s.clone()),
            InValue::Bool(b) => OutValue::Bool(*b),
            InValue::Int(i) => OutValue::Int(*i),
            InValue::Double(d) => OutValue::Double(*d),
            other => other
                .to_value()?
                .map_or(OutValue::Raw(&[]), OutValue::Value),
        };
        wire::put_key_value_message(&mut buf, "", &a.key, &value);
        hash.update(&buf);
    }
    hash.update([0]);
    Ok(hash)
}

/// What `document_id` reads of a record.
pub(crate) struct RecordIdentity<'r> {
    /// `session.id` and `event.sequence` as text, when both are there.
    pub(crate) session_sequence: Option<(&'r str, &'r str)>,
    /// `time_unix_nano`, else `observed_time_unix_nano`.
    pub(crate) time: u64,
    /// The record's bytes as received (hashed in their canonical encoding).
    pub(crate) raw: &'r [u8],
}

/// What [`document_id`] hashes of one item, below its resource's
/// [`document_id_base`].
pub(crate) enum ItemIdentity<'r> {
    /// A log record, and its event name.
    Record(RecordIdentity<'r>, &'r str),
    /// A span: its `trace_id` and `span_id` as sent.
    Span {
        trace_id: &'r [u8],
        span_id: &'r [u8],
    },
    /// A span event: its span's ids, its position among the span's events,
    /// its `time_unix_nano` and its name.
    SpanEvent {
        trace_id: &'r [u8],
        span_id: &'r [u8],
        index: u64,
        time: u64,
        name: &'r str,
    },
}

/// `elasticsearch.document_id` of a Claude log record, span or span event:
/// 32 hex digits (the first 16 bytes) of one SHA-256, so that a replay (a
/// sender's retry, the persistent queue after a crash) addresses the same
/// document. The scheme, `cowork-ecs/id/v1`, hashes the resource's
/// [`document_id_base`] (the scheme name, the emitter, the resource
/// attributes as kept), then the item:
///
/// - a log record with `session.id` and `event.sequence` (Claude Code and
///   Cowork number every event of a session): the session, the sequence
///   number and the event name, each followed by a NUL, and the record's
///   timestamp (big-endian u64); a record without both: its canonical
///   protobuf encoding;
/// - a span: a `0xFF` byte (never the first byte of the record forms: UTF-8
///   text or a `LogRecord` field key), `span`, NUL, then `trace_id` and
///   `span_id`, each after its length (big-endian u64);
/// - a span event: `0xFF`, `span_event`, NUL, its span's two ids as for a
///   span, its index among the span's events, its `time_unix_nano` (both
///   big-endian u64) and its name.
///
/// Data points get none: the exporter has no dynamic id for metrics.
///
/// # Errors
/// [`Malformed`] when a record is not protobuf.
pub(crate) fn document_id(base: &Sha256, item: &ItemIdentity<'_>) -> Result<String, Malformed> {
    use prost::Message;
    let mut hash = base.clone();
    let ids = |hash: &mut Sha256, kind: &[u8], trace_id: &[u8], span_id: &[u8]| {
        hash.update([0xff]);
        hash.update(kind);
        hash.update([0]);
        for id in [trace_id, span_id] {
            hash.update((id.len() as u64).to_be_bytes());
            hash.update(id);
        }
    };
    match item {
        ItemIdentity::Record(record, event_name) => match record.session_sequence {
            Some((session, sequence)) => {
                for part in [session, sequence, event_name] {
                    hash.update(part.as_bytes());
                    hash.update([0]);
                }
                hash.update(record.time.to_be_bytes());
            }
            None => hash.update(crate::otlp::log_record(record.raw)?.encode_to_vec()),
        },
        ItemIdentity::Span { trace_id, span_id } => ids(&mut hash, b"span", trace_id, span_id),
        ItemIdentity::SpanEvent {
            trace_id,
            span_id,
            index,
            time,
            name,
        } => {
            ids(&mut hash, b"span_event", trace_id, span_id);
            hash.update(index.to_be_bytes());
            hash.update(time.to_be_bytes());
            hash.update(name.as_bytes());
        }
    }
    Ok(lower_hex(&hash.finalize()[..16]))
}

/// Bytes as lowercase hex (document ids, HMACs), in one allocation.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ecs::model::attrs::Attr;
    use crate::ecs::model::attrs::test_support::{attrs, kv, s};

    #[test]
    fn document_id_is_stable_and_distinct() {
        let rec = |seq: &'static str, t: u64| RecordIdentity {
            session_sequence: Some(("s1", seq)),
            time: t,
            raw: b"",
        };
        let id =
            |provider: &str, resource: &[Attr<'_>], record: &RecordIdentity<'_>, name: &str| {
                let item = ItemIdentity::Record(
                    RecordIdentity {
                        session_sequence: record.session_sequence,
                        time: record.time,
                        raw: record.raw,
                    },
                    name,
                );
                document_id(&document_id_base(provider, resource).unwrap(), &item).unwrap()
            };
        let a = id("claude-code", &[], &rec("1", 5), "tool_result");
        assert_eq!(a.len(), 32);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(a, id("claude-code", &[], &rec("1", 5), "tool_result"));
        assert_ne!(a, id("claude-code", &[], &rec("2", 5), "tool_result"));
        assert_ne!(a, id("claude-cowork", &[], &rec("1", 5), "tool_result"));
        let bare = RecordIdentity {
            session_sequence: None,
            time: 0,
            raw: b"",
        };
        let r1 = [kv("host.name", s("a"))];
        let r2 = [kv("host.name", s("b"))];
        assert_ne!(
            id("claude-code", &attrs(&r1), &bare, ""),
            id("claude-code", &attrs(&r2), &bare, "")
        );
    }
}
