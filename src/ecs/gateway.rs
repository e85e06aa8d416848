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
//! - **Document id.** [`document_id`] derives `elasticsearch.document_id`
//!   from the record's identity, so a replayed record is a conflict on the
//!   existing document, never a second one.
//! - **Bounds.** [`bound_attributes`] moves attributes Elasticsearch would
//!   refuse (deeper than [`MAX_FIELD_DEPTH`], or beyond [`MAX_FIELDS`]) into
//!   one JSON text field, so the document is indexed and marked instead.

use super::value;
use crate::otlp::{AnyValue, KeyValue, LogRecord, Value};
use sha2::{Digest, Sha256};

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

/// Key of the attribute that holds, as one JSON object text, the attributes
/// [`bound_attributes`] moved (under the vendor prefix on Claude records).
pub const OVERFLOW_ATTRIBUTE: &str = "attributes_overflow";

/// Removes every [`ROUTING_ATTRIBUTES`] key from `attrs`, noting each as
/// `"<level>:<key>=<value>"` in `requested`.
pub(crate) fn take_routing(attrs: &mut Vec<KeyValue>, level: &str, requested: &mut Vec<String>) {
    attrs.retain(|kv| {
        if !ROUTING_ATTRIBUTES.contains(&kv.key.as_str()) {
            return true;
        }
        requested.push(requested_entry(level, kv));
        false
    });
}

/// Notes, without removing them, the [`ROUTING_ATTRIBUTES`] keys of a Claude
/// record: the mapping keeps them as vendor data (`<product>.events.<key>`,
/// where the exporter does not read them) and writes the gateway's own.
pub(crate) fn note_routing(attrs: &[KeyValue], level: &str, requested: &mut Vec<String>) {
    for kv in attrs
        .iter()
        .filter(|kv| ROUTING_ATTRIBUTES.contains(&kv.key.as_str()))
    {
        requested.push(requested_entry(level, kv));
    }
}

/// Removes a scope's `elastic.mapping.mode` unless it is one of
/// [`SENDER_MAPPING_MODES`], noting it in `requested`.
pub(crate) fn take_unknown_mapping_mode(attrs: &mut Vec<KeyValue>, requested: &mut Vec<String>) {
    attrs.retain(|kv| {
        if kv.key != MAPPING_MODE_ATTRIBUTE {
            return true;
        }
        let mode = text_of(kv).to_ascii_lowercase();
        if SENDER_MAPPING_MODES.contains(&mode.as_str()) {
            return true;
        }
        requested.push(requested_entry("scope", kv));
        false
    });
}

/// One [`REQUESTED_ROUTING_FIELD`] entry: `"<level>:<key>=<value>"`.
fn requested_entry(level: &str, kv: &KeyValue) -> String {
    format!("{level}:{}={}", kv.key, text_of(kv))
}

/// An attribute value as text: scalars as themselves, maps and arrays as JSON.
fn text_of(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(v) => value::scalar_text(v).unwrap_or_else(|| value::to_json(v).to_string()),
    }
}

/// Sets (or replaces) a string attribute.
pub(crate) fn set_attribute(attrs: &mut Vec<KeyValue>, key: &str, v: Value) {
    let v = Some(AnyValue { value: Some(v) });
    match attrs.iter_mut().find(|kv| kv.key == key) {
        Some(kv) => kv.value = v,
        None => attrs.push(KeyValue {
            key: key.to_owned(),
            value: v,
            ..KeyValue::default()
        }),
    }
}

/// Adds `tag` to the record's `tags` attribute (a string array; a scalar
/// `tags` a sender set becomes the first element).
pub(crate) fn add_tag(attrs: &mut Vec<KeyValue>, tag: &str) {
    let Some(kv) = attrs.iter_mut().find(|kv| kv.key == "tags") else {
        attrs.push(KeyValue {
            key: "tags".to_owned(),
            value: Some(AnyValue {
                value: Some(value::string_array([tag.to_owned()])),
            }),
            ..KeyValue::default()
        });
        return;
    };
    let mut tags: Vec<String> = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::ArrayValue(a)) => (a.values.iter())
            .filter_map(|v| v.value.as_ref().and_then(value::scalar_text))
            .collect(),
        Some(v) => value::scalar_text(v).into_iter().collect(),
        None => Vec::new(),
    };
    if !tags.iter().any(|t| t == tag) {
        tags.push(tag.to_owned());
    }
    kv.value = Some(AnyValue {
        value: Some(value::string_array(tags)),
    });
}

/// Marks a record the gateway re-routed: [`REQUESTED_ROUTING_FIELD`] and
/// [`ROUTING_OVERRIDDEN_TAG`]. Nothing when `requested` is empty.
pub(crate) fn mark_overridden(attrs: &mut Vec<KeyValue>, requested: &[String]) {
    if requested.is_empty() {
        return;
    }
    set_attribute(
        attrs,
        REQUESTED_ROUTING_FIELD,
        value::string_array(requested.iter().cloned()),
    );
    add_tag(attrs, ROUTING_OVERRIDDEN_TAG);
}

/// The part of every [`document_id`] of one resource: the emitter
/// (`event.provider`) and the resource's attributes (as the gateway keeps
/// them), hashed once per resource.
pub(crate) fn document_id_base(provider: &str, resource: &[KeyValue]) -> Sha256 {
    use prost::Message;
    let mut hash = Sha256::new();
    hash.update(b"cowork-ecs/id/v1\0");
    hash.update(provider.as_bytes());
    hash.update([0]);
    for kv in resource {
        hash.update(kv.encode_to_vec());
    }
    hash.update([0]);
    hash
}

/// `elasticsearch.document_id` of a Claude record: 32 hex digits of a
/// SHA-256 over its identity, so a replay (a sender's retry, the persistent
/// queue after a crash) addresses the same document.
///
/// The identity is the resource's [`document_id_base`], then `session.id`,
/// `event.sequence`, the event name and the record's timestamp when the
/// record has both a session and a sequence number (Claude Code numbers
/// every event of a session); otherwise the record's protobuf encoding as
/// received.
pub(crate) fn document_id(base: &Sha256, record: &LogRecord, event_name: &str) -> String {
    use prost::Message;
    let text = |key: &str| {
        (record.attributes.iter())
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
            .and_then(value::scalar_text)
            .filter(|s| !s.is_empty())
    };
    let time = if record.time_unix_nano != 0 {
        record.time_unix_nano
    } else {
        record.observed_time_unix_nano
    };
    let mut hash = base.clone();
    match (text("session.id"), text("event.sequence")) {
        (Some(session), Some(sequence)) => {
            for part in [&session, &sequence, event_name] {
                hash.update(part.as_bytes());
                hash.update([0]);
            }
            hash.update(time.to_be_bytes());
        }
        _ => hash.update(record.encode_to_vec()),
    }
    let mut id = String::with_capacity(32);
    for b in &hash.finalize()[..16] {
        id.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
        id.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
    }
    id
}

/// Number of path segments of a dotted key.
fn segments(key: &str) -> usize {
    key.split('.').count()
}

/// What a value adds to a document, found in one walk: the deepest path
/// below it in segments (a scalar adds none; a map adds its keys' segments;
/// an array adds nothing of its own), and its fields (one per leaf; an empty
/// map or array one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub(crate) depth: usize,
    pub(crate) leaves: usize,
}

/// The [`Shape`] of a value (of an absent one: a single empty field).
pub(crate) fn shape(v: Option<&Value>) -> Shape {
    let children = |values: &mut dyn Iterator<Item = (usize, Option<&Value>)>, sum: bool| {
        let (mut depth, mut leaves) = (0, 0);
        for (segs, v) in values {
            let s = shape(v);
            depth = depth.max(segs + s.depth);
            leaves = if sum {
                leaves + s.leaves
            } else {
                leaves.max(s.leaves)
            };
        }
        Shape {
            depth,
            leaves: leaves.max(1),
        }
    };
    match v {
        Some(Value::KvlistValue(kv)) => children(
            &mut kv.values.iter().map(|c| {
                (
                    segments(&c.key),
                    c.value.as_ref().and_then(|v| v.value.as_ref()),
                )
            }),
            true,
        ),
        Some(Value::ArrayValue(a)) => {
            children(&mut a.values.iter().map(|v| (0, v.value.as_ref())), false)
        }
        _ => Shape {
            depth: 0,
            leaves: 1,
        },
    }
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

/// What [`bound_attributes`] moved.
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

    /// The moved attributes as one JSON text.
    pub(crate) fn to_text(&self) -> String {
        serde_json::Value::Object(self.moved.clone()).to_string()
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
/// [`MAX_FIELD_DEPTH`] below a prefix of `prefix_depth` segments, and every
/// attribute once the record's fields exceed [`MAX_FIELDS`]; keys for which
/// `exempt` holds (written as text by the mapping) are never moved. Order is
/// kept. Returns what was moved (empty when all fit).
pub(crate) fn bound_attributes(
    attrs: &mut Vec<KeyValue>,
    prefix_depth: usize,
    exempt: impl Fn(&str) -> bool,
) -> Overflow {
    let mut overflow = Overflow::default();
    let mut fields = 0usize;
    attrs.retain(|kv| {
        let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
        let Shape { depth, leaves: n } = shape(v);
        let deep = prefix_depth + segments(&kv.key) + depth > MAX_FIELD_DEPTH;
        let many = !deep && fields + n > MAX_FIELDS;
        // The exemption is looked up only for an attribute that breaks a bound.
        if (!deep && !many) || exempt(&kv.key) {
            fields += n;
            return true;
        }
        overflow.too_deep += usize::from(deep);
        overflow.too_many += usize::from(many);
        let json = v.map_or(serde_json::Value::Null, value::to_json);
        overflow.moved.insert(kv.key.clone(), json);
        false
    });
    overflow
}

/// A structured body deeper than [`MAX_FIELD_DEPTH`] (the exporter writes it
/// as a `flattened` field) becomes its JSON text. Returns whether it did.
pub(crate) fn bound_body(record: &mut LogRecord) -> bool {
    let Some(body) = record.body.as_mut() else {
        return false;
    };
    let Some(v) = body.value.as_ref() else {
        return false;
    };
    if !matches!(v, Value::KvlistValue(_) | Value::ArrayValue(_)) {
        return false;
    }
    let json = value::to_json(v);
    if json_depth(&json) <= MAX_FIELD_DEPTH {
        return false;
    }
    body.value = Some(Value::StringValue(json.to_string()));
    true
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::otlp::KeyValueList;

    fn kv(key: &str, v: Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(v) }),
            ..KeyValue::default()
        }
    }

    fn nested(depth: usize) -> Value {
        let mut v = Value::StringValue("leaf".to_owned());
        for _ in 0..depth {
            v = Value::KvlistValue(KeyValueList {
                values: vec![kv("k", v)],
            });
        }
        v
    }

    #[test]
    fn routing_attributes_are_taken_and_noted() {
        let mut attrs = vec![
            kv(
                "elasticsearch.index",
                Value::StringValue("logs-x-team_b".into()),
            ),
            kv("keep", Value::IntValue(1)),
            kv(
                "elasticsearch.mapping.hints",
                value::string_array(["_noindex".to_owned()]),
            ),
        ];
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
        let mut ok = vec![kv(MAPPING_MODE_ATTRIBUTE, Value::StringValue("ECS".into()))];
        take_unknown_mapping_mode(&mut ok, &mut requested);
        assert_eq!(ok.len(), 1);
        let mut bogus = vec![kv(
            MAPPING_MODE_ATTRIBUTE,
            Value::StringValue("bogus".into()),
        )];
        take_unknown_mapping_mode(&mut bogus, &mut requested);
        assert!(bogus.is_empty());
        assert_eq!(requested, ["scope:elastic.mapping.mode=bogus"]);
    }

    #[test]
    fn depth_counts_dots_and_maps() {
        assert_eq!(shape(Some(&nested(3))).depth, 3);
        assert_eq!(
            shape(Some(&Value::StringValue("x".into()))),
            Shape {
                depth: 0,
                leaves: 1
            }
        );
        let mut attrs = vec![
            kv("ok", nested(17)),
            kv("deep", nested(18)),
            kv("a.".repeat(18).trim_end_matches('.'), Value::IntValue(1)),
            kv("b.".repeat(19).trim_end_matches('.'), Value::IntValue(1)),
        ];
        let overflow = bound_attributes(&mut attrs, 2, |_| false);
        let kept: Vec<_> = attrs.iter().map(|a| a.key.len()).collect();
        assert_eq!(kept, [2, 35], "a 20-segment path fits, 21 does not");
        assert_eq!(overflow.too_deep, 2);
        assert!(overflow.moved.contains_key("deep"));
    }

    #[test]
    fn fields_beyond_the_limit_overflow_in_order() {
        let mut attrs: Vec<_> = (0..MAX_FIELDS + 5)
            .map(|i| kv(&format!("k{i}"), Value::IntValue(i as i64)))
            .collect();
        let overflow = bound_attributes(&mut attrs, 0, |k| k == "k1002");
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
        let rec = |seq: &str, t: u64| LogRecord {
            time_unix_nano: t,
            attributes: vec![
                kv("session.id", Value::StringValue("s1".into())),
                kv("event.sequence", Value::StringValue(seq.into())),
            ],
            ..LogRecord::default()
        };
        let id = |provider: &str, resource: &[KeyValue], record: &LogRecord, name: &str| {
            document_id(&document_id_base(provider, resource), record, name)
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
        let bare = LogRecord::default();
        let r1 = [kv("host.name", Value::StringValue("a".into()))];
        let r2 = [kv("host.name", Value::StringValue("b".into()))];
        assert_ne!(
            id("claude-code", &r1, &bare, ""),
            id("claude-code", &r2, &bare, "")
        );
    }
}
