//! The transform as one walk over a request's wire bytes, the same for
//! logs, traces and metrics (no message tree is built). The three requests
//! share their shape down to the items: request → `Resource{Logs,Spans,
//! Metrics}` (resource, scopes, schema_url) → `Scope{Logs,Spans,Metrics}`
//! (scope, items, schema_url); only the items differ, and each kind has its
//! own module: [`crate::ecs::map::log`] (log records), [`crate::ecs::map::span`] (spans, their
//! events and links), [`crate::ecs::map::metric`] (metrics and their data points).
//!
//! - a resource that is not Claude's is copied byte for byte, unless the
//!   gateway must change it ([`crate::ecs::policy`]: a tenant's routing, values
//!   Elasticsearch would refuse, text that is not UTF-8), and then only
//!   what it must change is rewritten;
//! - a Claude resource keeps its bytes except the attributes the gateway
//!   owns or the content policy changes, its scopes get the routing the
//!   gateway chooses ([`scope_routing`]), and every item keeps its fields
//!   byte for byte while its attributes are read as borrowed slices and
//!   the mapped ones written straight into the output.
//!
//! Cost is linear in the input: every attribute is looked up once, and the
//! output attribute list is indexed ([`Attrs`]).

use super::Transformed;
use super::map::outcome::Outcome;
use crate::ecs::map::item::content_value;
use crate::ecs::map::marks::Level;
use crate::ecs::map::signing;
use crate::ecs::map::walk::{Owner, Pool, Walk, bad_text, put_text};
use crate::ecs::model::attrs::{Attr, Attrs, Key};
use crate::ecs::model::value::{InValue, OutValue, string};
use crate::ecs::policy::content::Redactions;
use crate::ecs::policy::routing::Tenant;
use crate::ecs::policy::{bounds, identity, routing};
use crate::ecs::rules::emitters::Emitter;
use crate::ecs::rules::lookup::Mapping;
use crate::otlp::Signal;
use crate::otlp::wire::{self, Malformed, Message, Payload, tag};
use std::borrow::Cow;

/// Transforms a protobuf request of `signal` ([`Transformed`]).
///
/// # Errors
/// [`Malformed`] when the request itself is not protobuf (its resources
/// cannot even be told apart).
pub(crate) fn transform(
    mapping: &Mapping,
    signal: Signal,
    input: &[u8],
    tenant: Option<&str>,
    sealing: Option<&str>,
) -> Result<Transformed, Malformed> {
    let tenant = Tenant::new(tenant);
    let mut walk = Walk {
        mapping,
        signal,
        tenant: tenant.as_ref(),
        out: Vec::with_capacity(input.len() + input.len() / 2 + 64),
        outcome: Outcome::default(),
        changed: false,
        attrs: Attrs::default(),
        lookups: Vec::new(),
        pool: Pool::default(),
        sealing: sealing.filter(|_| signal == Signal::Logs),
        sealed: Vec::new(),
        seal_groups: Vec::new(),
        seal_resource: None,
        seal_scope: Default::default(),
        seal_scratch: Default::default(),
    };
    let mut unread = Vec::new();
    let mut position = 0;
    for field in wire::fields_of(Message::Request, input) {
        let field = field?;
        match (field.tag, field.payload) {
            (tag::REQUEST_RESOURCES, Payload::Bytes(body)) => {
                position += 1;
                let (start, outcome) = (walk.out.len(), walk.outcome);
                if let Err(why) = walk.resource(field.raw, body) {
                    // Skipped and reported: the resource goes on as it came,
                    // and the caller's error policy decides about the batch.
                    walk.out.truncate(start);
                    walk.out.extend_from_slice(field.raw);
                    walk.outcome = outcome;
                    walk.attrs.clear();
                    unread.push(format!("resource {position}: {why}"));
                }
            }
            _ => walk.out.extend_from_slice(field.raw),
        }
    }
    let Walk {
        out,
        outcome,
        changed,
        sealed,
        seal_groups,
        ..
    } = walk;
    let output = changed.then_some(out);
    Ok(Transformed {
        output,
        unread,
        outcome,
        sealed,
        seal_groups,
    })
}

/// The attributes (field `attr_tag`) of a message sent in `parts` (see
/// [`head`]).
fn read_attrs<'a>(
    kind: Message,
    parts: &[&'a [u8]],
    attr_tag: u32,
) -> Result<Vec<Attr<'a>>, Malformed> {
    let mut attrs = Vec::new();
    for part in parts {
        for field in wire::fields_of(kind, part) {
            let field = field?;
            if field.tag == attr_tag {
                if let Some(b) = field.bytes() {
                    attrs.push(Attr::read(b)?);
                }
            }
        }
    }
    Ok(attrs)
}

/// What the items of a `Resource*` or `Scope*` message need to know before
/// they are walked: its `child` message (the resource or the scope) as the
/// parts it was sent in (a singular message field sent more than once is
/// one message, its parts merged, as pdata and prost read it: so every part
/// is the gateway's to check), and whether a `schema_url` is not UTF-8.
fn head(kind: Message, message: &[u8], child: u32) -> Result<(Vec<&[u8]>, bool), Malformed> {
    let (mut parts, mut bad_schema) = (Vec::new(), false);
    for field in wire::fields_of(kind, message) {
        let field = field?;
        match (field.tag, field.payload) {
            (t, Payload::Bytes(b)) if t == child => parts.push(b),
            (tag::SCHEMA_URL, _) => bad_schema |= bad_text(&field),
            _ => {}
        }
    }
    Ok((parts, bad_schema))
}

/// An attribute the content policy changed: its key, and its new value
/// (`None`: dropped).
type PolicyChange<'a> = (Cow<'a, str>, Option<OutValue<'a>>);

/// The scope attributes the gateway writes on every Claude scope of
/// `signal`: the exporter reads a record's routing from its own
/// attributes, then its scope's, then its resource's.
///
/// - logs: `elastic.mapping.mode: ecs` (each record gets its own
///   `data_stream.*`, [`crate::ecs::map::record`]);
/// - traces: the OTel-native shape (attributes under `attributes.*`,
///   `name`, `duration` in ns), which Elastic's "[Claude Code] Traces
///   Overview" reads from `traces-<product>.otel-*` (the exporter appends
///   `.otel` to the dataset); span events land in `logs-<product>.otel-*`;
/// - metrics: ECS documents in `metrics-<product>.metrics-<namespace>`.
fn scope_routing<'a>(
    signal: Signal,
    emitter: &'a Emitter,
    namespace: &'a str,
) -> Vec<(&'static str, &'a str)> {
    let mode = match signal {
        Signal::Logs => return vec![(routing::MAPPING_MODE_ATTRIBUTE, "ecs")],
        Signal::Traces => "otel",
        Signal::Metrics => "ecs",
    };
    vec![
        (routing::MAPPING_MODE_ATTRIBUTE, mode),
        ("data_stream.dataset", emitter.dataset(signal)),
        ("data_stream.namespace", namespace),
    ]
}

impl<'a> Walk<'a> {
    /// Walks one `Resource{Logs,Spans,Metrics}`: a Claude resource is
    /// normalized, another is written again only when the gateway changed
    /// something in it, else copied as it came (`raw`).
    fn resource(&mut self, raw: &'a [u8], body: &'a [u8]) -> Result<(), Malformed> {
        let (resource, bad_schema) =
            head(Message::ResourceItems, body, tag::RESOURCE_ITEMS_RESOURCE)?;
        let mut attrs = read_attrs(Message::Resource, &resource, tag::RESOURCE_ATTRIBUTES)?;
        let service = attrs.iter().find(|a| a.key == "service.name");
        let emitter = match service.map(|a| &a.value) {
            Some(InValue::Str(name)) => self.mapping.emitter_named(name),
            _ => None,
        };
        // A tenant's routing applies to the resource it has.
        let tenant = self.tenant.filter(|_| !resource.is_empty());
        let mut level = Level::default();
        if emitter.is_some() || tenant.is_some() {
            routing::take_routing(&mut attrs, "resource", &mut level.requested);
        }
        // The content and identity policy on a Claude resource (a dropped
        // value goes before the bounds count it; a changed one replaces
        // it after).
        let policy: Vec<PolicyChange<'a>> = if emitter.is_some() {
            self.content_of(&attrs)?
        } else {
            Vec::new()
        };
        attrs.retain(|a| !policy.iter().any(|(k, v)| v.is_none() && *k == a.key));
        // Claude attributes become top-level ECS fields; others stay below
        // `resource.attributes.` in the exporter's OTel mode.
        let prefix_depth = if emitter.is_some() {
            0
        } else {
            bounds::ATTRIBUTE_PREFIX_DEPTH
        };
        let (bounded, repaired) = self.bound_level(&mut attrs, "resource", prefix_depth)?;
        for (key, value) in policy {
            if let (Some(v), Some(slot)) = (value, self.attrs.get_mut(&Key::plain(key))) {
                *slot = v;
            }
        }
        let namespace =
            (self.mapping.settings.tenant_namespace(tenant)).filter(|_| emitter.is_none());
        if let Some(ns) = namespace {
            self.attrs
                .set(Key::plain("data_stream.namespace"), string(ns));
        }
        let id_base = match emitter {
            Some(e) => Some(identity::document_id_base(e.provider, &attrs)?),
            None => None,
        };
        let owner = match (emitter, &id_base) {
            (Some(emitter), Some(id_base)) => Owner::Claude { emitter, id_base },
            _ => Owner::Other,
        };
        let mut changed = level.mark(bounded, repaired || bad_schema);
        changed |= emitter.is_some() || tenant.is_some();
        self.begin_seal_resource(emitter.is_some());

        let start = self.out.len();
        let others_changed = self.outcome.other_items_changed;
        let open = wire::begin(&mut self.out, tag::REQUEST_RESOURCES, 2 * body.len());
        // The resource first, whatever the field order (its attributes are
        // in Walk::attrs until written).
        if !resource.is_empty() {
            let field = tag::RESOURCE_ITEMS_RESOURCE;
            self.put_level(Message::Resource, field, &resource)?;
        }
        self.attrs.clear();
        for f in wire::fields_of(Message::ResourceItems, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RESOURCE_ITEMS_RESOURCE, _) => {
                    // Written above, its parts as one, whatever the field order.
                }
                (tag::RESOURCE_ITEMS_SCOPES, Payload::Bytes(scope)) => {
                    changed |= self.scope(scope, owner, &level)?;
                }
                (tag::SCHEMA_URL, Payload::Bytes(b)) if bad_text(&f) => {
                    put_text(&mut self.out, f.tag, b)
                }
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        if changed {
            self.changed = true;
        } else {
            // Nothing to change: the resource's own bytes, as sent.
            self.out.truncate(start);
            self.out.extend_from_slice(raw);
            self.outcome.other_items_changed = others_changed;
        }
        Ok(())
    }

    /// Walks one `Scope{Logs,Spans,Metrics}`. A Claude scope gets the
    /// gateway's routing ([`scope_routing`]; a scope is written for it if
    /// it had none). The routing is the gateway's on Claude and tenant
    /// scopes; on others only a mapping mode the exporter would refuse is
    /// removed. Returns whether anything changed.
    fn scope(
        &mut self,
        body: &'a [u8],
        owner: Owner<'_, 'a>,
        resource: &Level,
    ) -> Result<bool, Malformed> {
        let mut level = resource.clone();
        let (scope, bad_schema) = head(Message::ScopeItems, body, tag::SCOPE_ITEMS_SCOPE)?;
        let mut attrs = read_attrs(Message::Scope, &scope, tag::SCOPE_ATTRIBUTES)?;
        let asked = level.requested.len();
        let claude = match owner {
            Owner::Claude { emitter, .. } => Some(emitter),
            Owner::Other => None,
        };
        if claude.is_some() || self.tenant.is_some() {
            routing::take_routing(&mut attrs, "scope", &mut level.requested);
        } else {
            routing::take_unknown_mapping_mode(&mut attrs, &mut level.requested);
        }
        let mut changed = level.requested.len() > asked;
        let depth = if claude.is_some() {
            0
        } else {
            bounds::ATTRIBUTE_PREFIX_DEPTH
        };
        let (bounded, mut repaired) = self.bound_level(&mut attrs, "scope", depth)?;
        if let Some(emitter) = claude {
            let mapping: &'a Mapping = self.mapping;
            let namespace = mapping.settings.namespace(self.tenant);
            for (key, value) in scope_routing(self.signal, emitter, namespace) {
                self.attrs.set(Key::plain(key), string(value));
            }
        }
        if self.sealing.is_some() && claude.is_some() {
            self.seal_scope = signing::scope_leaves(&self.attrs);
        }
        let open = wire::begin(&mut self.out, tag::RESOURCE_ITEMS_SCOPES, 2 * body.len());
        if !scope.is_empty() || claude.is_some() {
            repaired |= self.put_level(Message::Scope, tag::SCOPE_ITEMS_SCOPE, &scope)?;
        }
        changed |= level.mark(bounded, repaired || bad_schema);
        for f in wire::fields_of(Message::ScopeItems, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::SCOPE_ITEMS_ITEMS, Payload::Bytes(item)) => {
                    changed |= match self.signal {
                        Signal::Logs => self.log_record(item, owner, &level)?,
                        Signal::Traces => self.span(item, owner, &level)?,
                        Signal::Metrics => self.metric(item, owner, &level)?,
                    };
                }
                (tag::SCOPE_ITEMS_SCOPE, _) => {
                    // Written above, its parts as one, whatever the field order.
                }
                (tag::SCHEMA_URL, Payload::Bytes(b)) if bad_text(&f) => {
                    put_text(&mut self.out, f.tag, b)
                }
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(changed)
    }

    /// Bounds a resource's or scope's attributes below a prefix of
    /// `prefix_depth` segments (0: the top of an ECS document; 2:
    /// `resource.attributes.` / `scope.attributes.` in the exporter's OTel
    /// mode) and puts what is kept in [`Walk::attrs`]. What moved goes to
    /// `cowork_ecs.<level>_attributes_overflow`; returns the reason when
    /// anything did, and whether any text had to be repaired.
    fn bound_level(
        &mut self,
        attrs: &mut Vec<Attr<'a>>,
        level: &'static str,
        prefix_depth: usize,
    ) -> Result<(Option<String>, bool), Malformed> {
        let overflow = bounds::bound_attributes(attrs, prefix_depth, |_| false)?;
        let repaired = attrs.iter().any(|a| a.repaired);
        self.attrs.clear();
        for a in attrs.iter() {
            self.attrs.push(a.kept()?);
        }
        if overflow.is_empty() {
            return Ok((None, repaired));
        }
        let field = format!("cowork_ecs.{level}_{}", bounds::OVERFLOW_ATTRIBUTE);
        let reason = format!("{level}: {}", overflow.reason(&field));
        self.attrs
            .set(Key::plain(field), string(overflow.to_text()));
        Ok((Some(reason), repaired))
    }

    /// The attributes among `attrs` that carry content (a class in
    /// [`crate::ecs::rules::tables::CONTENT_ATTRIBUTES`]), with what the content and
    /// identity policy makes of each (`None`: dropped); those it keeps as
    /// sent are left out.
    fn content_of(&self, attrs: &[Attr<'a>]) -> Result<Vec<PolicyChange<'a>>, Malformed> {
        let mapping: &'a Mapping = self.mapping;
        let mut marks = Redactions::default();
        let mut changed = Vec::new();
        for a in attrs {
            let Some(class) = mapping.lookup.attribute(&a.key).class else {
                continue;
            };
            let sent = content_value(a)?;
            let kept = mapping
                .settings
                .content
                .apply_out(class, sent.clone(), &mut marks);
            if kept.as_ref() != Some(&sent) {
                changed.push((a.key.clone(), kept));
            }
        }
        Ok(changed)
    }

    /// Writes [`Walk::attrs`] as the attributes of the message being written.
    fn put_attrs(&mut self, attr_tag: u32) {
        self.attrs.encode(attr_tag, &mut self.out);
        self.attrs.clear();
    }

    /// Writes a resource (or scope) message sent in `parts`, as one: the
    /// parts' fields as they came, its string fields repaired when they
    /// are not UTF-8, its attributes from [`Walk::attrs`]. Returns whether
    /// a text was repaired.
    fn put_level(
        &mut self,
        kind: Message,
        field_tag: u32,
        parts: &[&'a [u8]],
    ) -> Result<bool, Malformed> {
        let attr_tag = kind.attributes().unwrap_or_default();
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let open = wire::begin(&mut self.out, field_tag, len + 64);
        let mut repaired = false;
        for part in parts {
            for f in wire::fields_of(kind, part) {
                let f = f?;
                match f.payload {
                    _ if f.tag == attr_tag => {}
                    // Copied as they came, so read as the decoders will.
                    Payload::Bytes(b)
                        if kind == Message::Resource && f.tag == tag::RESOURCE_ENTITY_REFS =>
                    {
                        wire::fields_of(Message::EntityRef, b).try_for_each(|g| g.map(drop))?;
                        self.out.extend_from_slice(f.raw);
                    }
                    Payload::Bytes(b) if kind.text(f.tag) && bad_text(&f) => {
                        repaired = true;
                        put_text(&mut self.out, f.tag, b);
                    }
                    _ => self.out.extend_from_slice(f.raw),
                }
            }
        }
        self.put_attrs(attr_tag);
        wire::end(&mut self.out, open);
        Ok(repaired)
    }
}
