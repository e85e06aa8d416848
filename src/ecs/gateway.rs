//! What the gateway owns whatever a sender writes (README "Delivery
//! guarantee" and "Routing is the gateway's"): where a record lands, which
//! document it becomes, and the shape limits under which Elasticsearch never
//! refuses it.
//!
//! - **Routing.** The collector's `elasticsearch` exporter (v0.156) reads its
//!   control channel from attributes: [`ROUTING_ATTRIBUTES`]. On Claude
//!   resources, and on every resource of an authenticated tenant, the
//!   processor removes what the sender set there and writes its own; what
//!   the sender asked for is kept in [`REQUESTED_ROUTING_FIELD`] and the
//!   record tagged [`ROUTING_OVERRIDDEN_TAG`].
//! - **Document id.** `document_id` derives `elasticsearch.document_id`
//!   from the record's identity, so a replayed record is a conflict on the
//!   existing document, never a second one.
//! - **Bounds.** `bound_attributes` moves attributes Elasticsearch would
//!   refuse (deeper than [`MAX_FIELD_DEPTH`], or beyond [`MAX_FIELDS`]) into
//!   one JSON text field, so the document is indexed and marked instead.

use super::attrs::{Attr, Attrs, Key};
use super::value::{self, InValue, OutValue};
use crate::otlp::Value;
use crate::otlp::wire::{self, AnyRef, Malformed};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The `elasticsearch` exporter's control attributes (contrib v0.156:
/// `internal/elasticsearch/attribute.go`, `mapping_hint.go`, and the
/// `data_stream.*` router): the target index, the data stream, the mapping
/// mode, the document id, the ingest pipeline, and mapping hints (whose
/// `_noindex` would silently skip the record).
pub const ROUTING_ATTRIBUTES: &[&str] = &[
    "elasticsearch.index",
    "data_stream.type",
    "data_stream.dataset",
    "data_stream.namespace",
    MAPPING_MODE_ATTRIBUTE,
    DOCUMENT_ID_ATTRIBUTE,
    "elasticsearch.ingest_pipeline",
    "elasticsearch.mapping.hints",
];

/// Scope attribute the exporter reads to pick its document mapping per
/// scope (its `mapping::mode` setting is ignored since exporter v0.145.0).
pub const MAPPING_MODE_ATTRIBUTE: &str = "elastic.mapping.mode";

/// The mapping modes a sender may choose on a resource the gateway does not
/// route (not Claude, no tenant): those the shipped gateways list in the
/// exporter's `mapping::allowed_modes`. Any other value would make the
/// exporter fail the whole bulk request it is merged into, other senders'
/// records included, so it is removed.
pub const SENDER_MAPPING_MODES: &[&str] = &["otel", "ecs"];

/// Record attribute the exporter takes as the document `_id` (with
/// `logs_dynamic_id: enabled`).
pub const DOCUMENT_ID_ATTRIBUTE: &str = "elasticsearch.document_id";

/// Where the routing a sender asked for is kept, for forensics: a keyword
/// array of `"<level>:<attribute>=<value>"` (level `resource`, `scope` or
/// `record`).
pub const REQUESTED_ROUTING_FIELD: &str = "cowork_ecs.requested_routing";

/// Tag of a record whose sender-set routing the gateway overrode.
pub const ROUTING_OVERRIDDEN_TAG: &str = "routing_overridden";

/// Tag of a record with values moved or rewritten to fit Elasticsearch.
pub const BOUNDED_TAG: &str = "value_bounded";

/// Tag of a record with text that was not valid UTF-8 (read lossily, U+FFFD).
pub const INVALID_UTF8_TAG: &str = "invalid_utf8";

/// Deepest field path Elasticsearch maps: `index.mapping.depth.limit` and a
/// `flattened` field's `depth_limit` both default to 20. Depth counts path
/// segments (`a.b.c` is 3; dots in keys count, as Elasticsearch expands them).
pub const MAX_FIELD_DEPTH: usize = 20;

/// Most fields one record may add to a document (map leaves count one each);
/// the shipped templates allow 5,000 per index and ignore dynamic fields
/// beyond that, so no single record can exhaust them.
pub const MAX_FIELDS: usize = 1000;

/// Path segments the exporter puts above an item's attributes at most
/// (`resource.attributes.`, `scope.attributes.` in its OTel mode; the vendor
/// prefix `<product>.events.` on a Claude record): the depth bounds count
/// them ([`bound_attributes`]).
pub const ATTRIBUTE_PREFIX_DEPTH: usize = 2;

/// Key of the attribute that holds, as one JSON object text, the attributes
/// `bound_attributes` moved (under the vendor prefix on Claude records).
pub const OVERFLOW_ATTRIBUTE: &str = "attributes_overflow";

/// Message levels an attribute value may nest below its `AnyValue` (a map
/// costs three, an array two). What the transform writes must stay readable
/// by `prost`, which stops at 100 levels from the request; a record's
/// attribute value starts 6 levels down.
pub const MAX_VALUE_MESSAGES: usize = 60;

/// Whether `key` is one of [`ROUTING_ATTRIBUTES`].
pub(crate) fn is_routing(key: &str) -> bool {
    ROUTING_ATTRIBUTES.contains(&key)
}

/// Removes every [`ROUTING_ATTRIBUTES`] key from `attrs`, noting each as
/// `"<level>:<key>=<value>"` in `requested`.
pub(crate) fn take_routing(attrs: &mut Vec<Attr<'_>>, level: &str, requested: &mut Vec<String>) {
    attrs.retain(|a| {
        if !is_routing(&a.key) {
            return true;
        }
        requested.push(requested_entry(level, a));
        false
    });
}

/// Notes, without removing them, the [`ROUTING_ATTRIBUTES`] keys of a Claude
/// record (`routing`: the record's attributes that are): the mapping keeps
/// them as vendor data (`<product>.events.<key>`, where the exporter does
/// not read them) and writes the gateway's own.
pub(crate) fn note_routing<'r>(
    routing: impl Iterator<Item = &'r Attr<'r>>,
    level: &str,
    requested: &mut Vec<String>,
) {
    for a in routing {
        requested.push(requested_entry(level, a));
    }
}

/// Removes a scope's `elastic.mapping.mode` unless it is one of
/// [`SENDER_MAPPING_MODES`], noting it in `requested`.
pub(crate) fn take_unknown_mapping_mode(attrs: &mut Vec<Attr<'_>>, requested: &mut Vec<String>) {
    attrs.retain(|a| {
        if a.key != MAPPING_MODE_ATTRIBUTE {
            return true;
        }
        if sender_may_choose(&text_of(&a.value)) {
            return true;
        }
        requested.push(requested_entry("scope", a));
        false
    });
}

/// Whether a sender may choose this `elastic.mapping.mode` (one of
/// [`SENDER_MAPPING_MODES`], in any case).
pub(crate) fn sender_may_choose(mode: &str) -> bool {
    SENDER_MAPPING_MODES
        .iter()
        .any(|m| m.eq_ignore_ascii_case(mode))
}

/// One [`REQUESTED_ROUTING_FIELD`] entry: `"<level>:<key>=<value>"`.
fn requested_entry(level: &str, a: &Attr<'_>) -> String {
    requested_text(level, &a.key, &text_of(&a.value))
}

/// A [`REQUESTED_ROUTING_FIELD`] entry from its parts (`value` as text).
pub(crate) fn requested_text(level: &str, key: &str, value: &str) -> String {
    format!("{level}:{key}={value}")
}

/// A value as text: scalars as themselves, maps and arrays as JSON.
fn text_of(v: &InValue<'_>) -> String {
    match v.scalar_text() {
        Some(s) => s.into_owned(),
        None => v
            .to_json()
            .map_or_else(|e| e.to_string(), |j| j.to_string()),
    }
}

/// Adds `tag` to the record's `tags` attribute (a string array; a scalar
/// `tags` a sender set becomes the first element).
pub(crate) fn add_tag<'a>(attrs: &mut Attrs<'a>, tag: &'static str) {
    let key = Key::plain("tags");
    let Some(existing) = attrs.get_mut(&key) else {
        attrs.set(key, OutValue::Strings(vec![Cow::Borrowed(tag)]));
        return;
    };
    let mut tags: Vec<Cow<'a, str>> = match std::mem::replace(existing, OutValue::Bool(false)) {
        OutValue::Strings(items) => items,
        OutValue::Str(s) => vec![s],
        other => match other.into_value() {
            Some(Value::ArrayValue(a)) => (a.values.iter())
                .filter_map(|v| v.value.as_ref())
                .filter_map(value::scalar_text)
                .map(Cow::Owned)
                .collect(),
            Some(v) => value::scalar_text(&v).map(Cow::Owned).into_iter().collect(),
            None => Vec::new(),
        },
    };
    if !tags.iter().any(|t| t == tag) {
        tags.push(Cow::Borrowed(tag));
    }
    *existing = OutValue::Strings(tags);
}

/// Redactions a record the gateway re-routed: [`REQUESTED_ROUTING_FIELD`] and
/// [`ROUTING_OVERRIDDEN_TAG`]. Nothing when `requested` is empty.
pub(crate) fn mark_overridden<'a>(attrs: &mut Attrs<'a>, requested: &[String]) {
    if requested.is_empty() {
        return;
    }
    let entries = requested.iter().map(|r| Cow::Owned(r.clone())).collect();
    attrs.set(
        Key::plain(REQUESTED_ROUTING_FIELD),
        OutValue::Strings(entries),
    );
    add_tag(attrs, ROUTING_OVERRIDDEN_TAG);
}

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

/// Number of path segments of a dotted key.
fn segments(key: &str) -> usize {
    key.bytes().filter(|&b| b == b'.').count() + 1
}

/// What a value adds to a document, found in one walk: the deepest path
/// below it in segments (a scalar adds none; a map adds its keys' segments;
/// an array adds nothing of its own), its fields (one per leaf; an empty
/// map or array one), its message nesting, and whether any text in it was
/// not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    pub(crate) depth: usize,
    pub(crate) leaves: usize,
    pub(crate) messages: usize,
    pub(crate) bad_text: bool,
}

const SCALAR: Shape = Shape {
    depth: 0,
    leaves: 1,
    messages: 0,
    bad_text: false,
};

/// The [`Shape`] of a value.
///
/// # Errors
/// [`Malformed`] when a nested value is not protobuf.
pub(crate) fn shape(v: &InValue<'_>) -> Result<Shape, Malformed> {
    match v {
        InValue::Array(raw) | InValue::Kvlist(raw) => shape_any(wire::any(raw)?, 0),
        _ => Ok(SCALAR),
    }
}

fn shape_any(v: AnyRef<'_>, level: usize) -> Result<Shape, Malformed> {
    if level > crate::otlp::MAX_VALUE_NESTING {
        return Err(Malformed("values nested too deep"));
    }
    let (list, map) = match v {
        AnyRef::Array(list) => (list, false),
        AnyRef::Kvlist(list) => (list, true),
        AnyRef::Str(b) => {
            return Ok(Shape {
                bad_text: std::str::from_utf8(b).is_err(),
                ..SCALAR
            });
        }
        _ => return Ok(SCALAR),
    };
    let mut total = Shape {
        messages: if map { 3 } else { 2 },
        ..Shape::default()
    };
    for item in wire::list_items(list) {
        let item = item?;
        let (segs, child) = if map {
            let kv = wire::key_value(item)?;
            let key = std::str::from_utf8(kv.key);
            total.bad_text |= key.is_err();
            let segs = key.map_or(1, segments);
            (segs, shape_any(kv.value, level + 1)?)
        } else {
            (0, shape_any(wire::any(item)?, level + 1)?)
        };
        total.depth = total.depth.max(segs + child.depth);
        total.leaves = if map {
            total.leaves + child.leaves
        } else {
            total.leaves.max(child.leaves)
        };
        total.messages = total.messages.max(if map { 3 } else { 2 } + child.messages);
        total.bad_text |= child.bad_text;
    }
    total.leaves = total.leaves.max(1);
    Ok(total)
}

/// Nesting depth of a JSON value as a `flattened` field counts it: each
/// object is one level; keys are not split at dots.
pub(crate) fn json_depth(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Object(m) => 1 + m.values().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Array(a) => a.iter().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Message levels a JSON value takes as an OTLP value ([`MAX_VALUE_MESSAGES`]).
pub(crate) fn json_messages(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Object(m) => 3 + m.values().map(json_messages).max().unwrap_or(0),
        serde_json::Value::Array(a) => 2 + a.iter().map(json_messages).max().unwrap_or(0),
        _ => 0,
    }
}

/// What `bound_attributes` moved.
#[derive(Debug, Default)]
pub(crate) struct Overflow {
    /// The moved attributes as a JSON object (key → value as JSON).
    pub(crate) moved: serde_json::Map<String, serde_json::Value>,
    /// Of those, moved for depth.
    pub(crate) too_deep: usize,
    /// Of those, moved for the field count.
    pub(crate) too_many: usize,
}

impl Overflow {
    /// Whether nothing was moved.
    pub(crate) fn is_empty(&self) -> bool {
        self.moved.is_empty()
    }

    /// The content and identity policy on the moved attributes that carry
    /// content (`class_of` gives a key's class): a moved value is stored
    /// as text, never in clear because it moved.
    pub(crate) fn apply_content(
        &mut self,
        class_of: impl Fn(&str) -> Option<super::content::ContentClass>,
        policy: &super::content::ContentPolicy,
        marks: &mut super::content::Redactions,
    ) {
        self.moved.retain(|key, json| {
            let Some(class) = class_of(key) else {
                return true;
            };
            let Some(v) = value::from_json(json) else {
                return true;
            };
            match policy.apply_value(class, v, marks) {
                Some(v) => {
                    *json = value::to_json(&v);
                    true
                }
                None => false,
            }
        });
    }

    /// The moved attributes as one JSON text.
    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string(&self.moved).unwrap_or_default()
    }

    /// Why, for `error.message`.
    pub(crate) fn reason(&self, field: &str) -> String {
        format!(
            "{} attribute(s) nested deeper than {MAX_FIELD_DEPTH} levels and {} beyond {MAX_FIELDS} fields per record kept as JSON text in {field}",
            self.too_deep, self.too_many
        )
    }
}

/// Moves out of `attrs` each attribute that would reach deeper than
/// [`MAX_FIELD_DEPTH`] below a prefix of `prefix_depth` segments (or nest
/// more than [`MAX_VALUE_MESSAGES`]), and every attribute once the record's
/// fields exceed [`MAX_FIELDS`]; keys for which `exempt` holds (written as
/// text by the mapping) are never moved. Order is kept. Redactions attributes
/// with text that is not UTF-8 deep inside as `repaired`. Returns what was
/// moved (empty when all fit).
///
/// # Errors
/// [`Malformed`] when a nested value is not protobuf.
pub(crate) fn bound_attributes(
    attrs: &mut Vec<Attr<'_>>,
    prefix_depth: usize,
    exempt: impl Fn(&str) -> bool,
) -> Result<Overflow, Malformed> {
    let mut overflow = Overflow::default();
    let mut fields = 0usize;
    let mut failed = None;
    attrs.retain_mut(|a| {
        let s = match shape(&a.value) {
            Ok(s) => s,
            Err(e) => {
                failed = Some(e);
                return true;
            }
        };
        a.repaired |= s.bad_text;
        let deep = prefix_depth + segments(&a.key) + s.depth > MAX_FIELD_DEPTH
            || s.messages > MAX_VALUE_MESSAGES;
        let many = !deep && fields + s.leaves > MAX_FIELDS;
        // The exemption is looked up only for an attribute that breaks a bound.
        if (!deep && !many) || exempt(&a.key) {
            fields += s.leaves;
            return true;
        }
        overflow.too_deep += usize::from(deep);
        overflow.too_many += usize::from(many);
        let json = a.value.to_json().unwrap_or(serde_json::Value::Null);
        overflow.moved.insert(a.key.clone().into_owned(), json);
        false
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(overflow),
    }
}

/// A structured body deeper than [`MAX_FIELD_DEPTH`] (the exporter writes it
/// as a `flattened` field), or nesting more than [`MAX_VALUE_MESSAGES`],
/// becomes its JSON text: returns that text (`None` when it fits), and the
/// body's [`Shape`].
///
/// # Errors
/// [`Malformed`] when the body is not protobuf.
pub(crate) fn bound_body(body: &InValue<'_>) -> Result<(Option<String>, Shape), Malformed> {
    let s = shape(body)?;
    // A map level is at least one segment, so a body within the depth in
    // segments fits; otherwise count its map levels (keys are not split).
    if s.messages <= MAX_VALUE_MESSAGES && s.depth <= MAX_FIELD_DEPTH {
        return Ok((None, s));
    }
    let json = body.to_json()?;
    if s.messages <= MAX_VALUE_MESSAGES && json_depth(&json) <= MAX_FIELD_DEPTH {
        return Ok((None, s));
    }
    Ok((Some(json.to_string()), s))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::otlp::{AnyValue, ArrayValue, KeyValue, KeyValueList, Value};
    use prost::Message;

    fn kv(key: &str, v: Value) -> Vec<u8> {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(v) }),
            ..KeyValue::default()
        }
        .encode_to_vec()
    }

    fn attrs(encoded: &[Vec<u8>]) -> Vec<Attr<'_>> {
        encoded.iter().map(|b| Attr::read(b).unwrap()).collect()
    }

    fn s(x: &str) -> Value {
        Value::StringValue(x.to_owned())
    }

    fn nested(depth: usize) -> Value {
        let mut v = s("leaf");
        for _ in 0..depth {
            v = Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(AnyValue { value: Some(v) }),
                    ..KeyValue::default()
                }],
            });
        }
        v
    }

    #[test]
    fn routing_attributes_are_taken_and_noted() {
        let noindex = Value::ArrayValue(ArrayValue {
            values: vec![AnyValue {
                value: Some(s("_noindex")),
            }],
        });
        let encoded = [
            kv("elasticsearch.index", s("logs-x-team_b")),
            kv("keep", Value::IntValue(1)),
            kv("elasticsearch.mapping.hints", noindex),
        ];
        let mut attrs = attrs(&encoded);
        let mut requested = Vec::new();
        take_routing(&mut attrs, "resource", &mut requested);
        assert_eq!(attrs.len(), 1);
        assert_eq!(
            requested,
            [
                "resource:elasticsearch.index=logs-x-team_b",
                "resource:elasticsearch.mapping.hints=[\"_noindex\"]"
            ]
        );
    }

    #[test]
    fn only_unknown_mapping_modes_are_removed() {
        let mut requested = Vec::new();
        let ok_bytes = [kv(MAPPING_MODE_ATTRIBUTE, s("ECS"))];
        let mut ok = attrs(&ok_bytes);
        take_unknown_mapping_mode(&mut ok, &mut requested);
        assert_eq!(ok.len(), 1);
        let bogus_bytes = [kv(MAPPING_MODE_ATTRIBUTE, s("bogus"))];
        let mut bogus = attrs(&bogus_bytes);
        take_unknown_mapping_mode(&mut bogus, &mut requested);
        assert!(bogus.is_empty());
        assert_eq!(requested, ["scope:elastic.mapping.mode=bogus"]);
    }

    #[test]
    fn depth_counts_dots_and_maps() {
        let three = [kv("x", nested(3))];
        assert_eq!(shape(&attrs(&three)[0].value).unwrap().depth, 3);
        assert_eq!(shape(&InValue::Int(1)).unwrap(), SCALAR);
        let encoded = [
            kv("ok", nested(17)),
            kv("deep", nested(18)),
            kv("a.".repeat(18).trim_end_matches('.'), Value::IntValue(1)),
            kv("b.".repeat(19).trim_end_matches('.'), Value::IntValue(1)),
        ];
        let mut attrs = attrs(&encoded);
        let overflow = bound_attributes(&mut attrs, 2, |_| false).unwrap();
        let kept: Vec<_> = attrs.iter().map(|a| a.key.len()).collect();
        assert_eq!(kept, [2, 35], "a 20-segment path fits, 21 does not");
        assert_eq!(overflow.too_deep, 2);
        assert!(overflow.moved.contains_key("deep"));
    }

    #[test]
    fn nesting_beyond_what_prost_reads_is_bounded_even_in_arrays() {
        let mut v = s("leaf");
        for _ in 0..40 {
            v = Value::ArrayValue(ArrayValue {
                values: vec![AnyValue { value: Some(v) }],
            });
        }
        let encoded = [kv("arrays", v)];
        let mut attrs = attrs(&encoded);
        assert_eq!(
            shape(&attrs[0].value).unwrap().depth,
            0,
            "arrays add no path"
        );
        let overflow = bound_attributes(&mut attrs, 2, |_| false).unwrap();
        assert_eq!(overflow.too_deep, 1, "80 message levels are too many");
    }

    #[test]
    fn fields_beyond_the_limit_overflow_in_order() {
        let encoded: Vec<_> = (0..MAX_FIELDS + 5)
            .map(|i| kv(&format!("k{i}"), Value::IntValue(i as i64)))
            .collect();
        let mut attrs = attrs(&encoded);
        let overflow = bound_attributes(&mut attrs, 0, |k| k == "k1002").unwrap();
        assert_eq!(
            attrs.len(),
            MAX_FIELDS + 1,
            "the first 1,000 and the exempt one"
        );
        assert_eq!(overflow.too_many, 4);
        assert!(attrs.iter().any(|a| a.key == "k1002"), "exempt keys stay");
        assert!(overflow.moved.contains_key("k1004"));
    }

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
