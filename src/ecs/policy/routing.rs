//! Routing is the gateway's (README "Routing is the gateway's"): the
//! collector's `elasticsearch` exporter (v0.156) reads its control channel
//! from attributes ([`ROUTING_ATTRIBUTES`]). On Claude resources, and on
//! every resource of an authenticated tenant, the processor removes what
//! the sender set there and writes its own; what the sender asked for is
//! kept in [`REQUESTED_ROUTING_FIELD`] and the item tagged
//! [`ROUTING_OVERRIDDEN_TAG`]. The sender's authenticated identity
//! ([`Tenant`]) chooses the namespace, never an attribute.

use crate::ecs::model::attrs::{Attr, Attrs, Key};
use crate::ecs::model::value::{self, InValue, OutValue};
use crate::otlp::Value;
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

/// The authenticated sender of a batch.
#[derive(Debug)]
pub(crate) struct Tenant<'a> {
    /// As the receiver's authenticator established it.
    pub(crate) identity: &'a str,
    /// The identity as a data stream namespace (`None`: nothing usable).
    pub(crate) namespace: Option<String>,
}

/// Tag of a record whose claimed `organization.id` its sender may not claim.
pub(crate) const ORGANIZATION_MISMATCH_TAG: &str = "organization_mismatch";

impl<'a> Tenant<'a> {
    /// The tenant of a batch; `None` for no identity or a blank one.
    pub(crate) fn new(identity: Option<&'a str>) -> Option<Tenant<'a>> {
        identity
            .filter(|t| !t.trim().is_empty())
            .map(|identity| Tenant {
                identity,
                namespace: crate::data_stream::sanitize_namespace(identity),
            })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ecs::model::attrs::test_support::{attrs, kv, s};
    use crate::otlp::{AnyValue, ArrayValue, Value};

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
}
