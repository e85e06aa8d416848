//! The transform as one walk over an `ExportLogsServiceRequest`'s wire
//! bytes (no message tree is built):
//!
//! - a resource that is not Claude's is copied byte for byte, unless the
//!   gateway must change it ([`gateway`]: a tenant's routing, values
//!   Elasticsearch would refuse, text that is not UTF-8), and then only
//!   those attributes are rewritten;
//! - a Claude resource keeps its bytes except the attributes the gateway
//!   owns, its scopes get `elastic.mapping.mode: ecs`, and every record keeps
//!   its fields (timestamps, severity, body, trace context) byte for byte
//!   while its attributes are read as borrowed slices and the mapped ones
//!   written straight into the output ([`record::normalize`]).
//!
//! Cost is linear in the input: every attribute is looked up once, and the
//! output attribute list is indexed ([`Attrs`]).

use super::attrs::{Attr, Attrs, Key};
use super::record::{self, Input, Notes, Record, Slot, Tenant};
use super::value::{In, Out, string};
use super::{AttributeLookup, Emitter, Outcome, Transformer, gateway, sanitize_namespace};
use crate::otlp::wire::{self, Malformed, Message, Payload, tag};
use gateway::{BOUNDED_TAG, INVALID_UTF8_TAG};
use sha2::Sha256;
use std::borrow::Cow;

/// `error.message` part of a record with text that was not UTF-8.
const INVALID_UTF8: &str =
    "text that is not valid UTF-8 was read with U+FFFD replacement characters";

/// Transforms a protobuf request. Returns the new request bytes, or `None`
/// when nothing changed (no Claude record, nothing the gateway had to
/// change: the caller keeps its input), and what was done.
///
/// # Errors
/// [`Malformed`] when `input` is not protobuf.
pub(crate) fn transform(
    t: &Transformer,
    input: &[u8],
    tenant: Option<&str>,
) -> Result<(Option<Vec<u8>>, Outcome), Malformed> {
    let tenant = tenant
        .filter(|t| !t.trim().is_empty())
        .map(|identity| Tenant {
            identity,
            namespace: sanitize_namespace(identity),
        });
    let mut walk = Walk {
        t,
        tenant: tenant.as_ref(),
        out: Vec::with_capacity(input.len() + input.len() / 2 + 64),
        outcome: Outcome::default(),
        changed: false,
        attrs: Attrs::default(),
        lookups: Vec::new(),
        input_attrs: Vec::new(),
        pieces: Vec::new(),
    };
    for field in wire::fields_of(Message::Request, input) {
        let field = field?;
        match (field.tag, field.payload) {
            (tag::REQUEST_RESOURCE_LOGS, Payload::Bytes(body)) => {
                walk.resource_logs(field.raw, body)?
            }
            _ => walk.out.extend_from_slice(field.raw),
        }
    }
    let Walk {
        out,
        outcome,
        changed,
        ..
    } = walk;
    Ok((changed.then_some(out), outcome))
}

/// The state of one walk: the output and scratch space reused record after
/// record.
struct Walk<'a> {
    t: &'a Transformer,
    tenant: Option<&'a Tenant<'a>>,
    out: Vec<u8>,
    outcome: Outcome,
    changed: bool,
    attrs: Attrs<'a>,
    lookups: Vec<AttributeLookup>,
    input_attrs: Vec<Attr<'a>>,
    pieces: Vec<Piece<'a>>,
}

/// A part of a record being written ([`Walk::put_record`]).
#[derive(Debug, Clone, Copy)]
enum Piece<'a> {
    /// A field copied as it came.
    Raw(&'a [u8]),
    /// A string field whose text must be repaired.
    Text(u32, &'a [u8]),
    /// The body as it came (replaced when the record's body was rewritten).
    Body(&'a [u8]),
    /// Where the attributes go.
    Attributes,
}

/// What a resource and a scope pass on to the records below them.
#[derive(Clone, Default)]
struct Level {
    /// Problems that mark every record below (`error.message`).
    errors: Vec<String>,
    /// Tags every record below gets.
    tags: Vec<&'static str>,
    /// Routing the sender asked for at this level ([`gateway`]).
    requested: Vec<String>,
}

impl Level {
    fn note(&mut self, why: impl Into<String>, tag: &'static str) {
        self.errors.push(why.into());
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
    }
}

/// The attributes (field `attr_tag`) of a message.
fn read_attrs<'a>(
    kind: Message,
    message: &'a [u8],
    attr_tag: u32,
) -> Result<Vec<Attr<'a>>, Malformed> {
    let mut attrs = Vec::new();
    for field in wire::fields_of(kind, message) {
        let field = field?;
        if field.tag == attr_tag {
            if let Some(b) = field.bytes() {
                attrs.push(Attr::read(b)?);
            }
        }
    }
    Ok(attrs)
}

/// The first length-delimited field `tag` of a message.
fn first_field(kind: Message, message: &[u8], field_tag: u32) -> Result<Option<&[u8]>, Malformed> {
    for field in wire::fields_of(kind, message) {
        let field = field?;
        if field.tag == field_tag {
            return Ok(field.bytes());
        }
    }
    Ok(None)
}

/// Whether a string field's bytes are not UTF-8.
fn bad_text(field: &wire::Field<'_>) -> bool {
    field
        .bytes()
        .is_some_and(|b| std::str::from_utf8(b).is_err())
}

/// Writes a string field, its text read lossily.
fn put_text(out: &mut Vec<u8>, field: &wire::Field<'_>) {
    let (text, _) = wire::text(field.bytes().unwrap_or_default());
    wire::put_bytes(out, field.tag, text.as_bytes());
}

impl<'a> Walk<'a> {
    fn resource_logs(&mut self, raw: &'a [u8], body: &'a [u8]) -> Result<(), Malformed> {
        let resource = first_field(Message::ResourceLogs, body, tag::RESOURCE_LOGS_RESOURCE)?;
        let attrs = match resource {
            Some(r) => read_attrs(Message::Resource, r, tag::RESOURCE_ATTRIBUTES)?,
            None => Vec::new(),
        };
        let service = attrs.iter().find(|a| a.key == "service.name");
        let emitter = match service.map(|a| &a.value) {
            Some(In::Str(name)) => self.t.emitter_named(name),
            _ => None,
        };
        match emitter {
            Some(emitter) => {
                self.changed = true;
                self.claude_resource(body, attrs, emitter)
            }
            None => {
                let start = self.out.len();
                let before = self.outcome.other_records_changed;
                if self.other_resource(body, resource, attrs)? {
                    self.changed = true;
                } else {
                    // Nothing to change: the resource's own bytes, as sent.
                    self.out.truncate(start);
                    self.out.extend_from_slice(raw);
                    self.outcome.other_records_changed = before;
                }
                Ok(())
            }
        }
    }

    /// Bounds a resource's or scope's attributes below a prefix of
    /// `prefix_depth` segments (0: the top of an ECS document; 2:
    /// `resource.attributes.` / `scope.attributes.` in the exporter's OTel
    /// mode) and writes what is kept. What moved goes to
    /// `cowork_ecs.<level>_attributes_overflow`; returns the reason when
    /// anything did, and whether any text had to be repaired.
    fn bound_level(
        &mut self,
        attrs: &mut Vec<Attr<'a>>,
        level: &'static str,
        prefix_depth: usize,
    ) -> Result<(Option<String>, bool), Malformed> {
        let overflow = gateway::bound_attributes(attrs, prefix_depth, |_| false)?;
        let repaired = attrs.iter().any(|a| a.repaired);
        self.attrs.clear();
        for a in attrs.iter() {
            self.attrs.push(a.kept()?);
        }
        if overflow.is_empty() {
            return Ok((None, repaired));
        }
        let field = format!("cowork_ecs.{level}_{}", gateway::OVERFLOW_ATTRIBUTE);
        let reason = format!("{level}: {}", overflow.reason(&field));
        self.attrs
            .set(Key::plain(field), string(overflow.to_text()));
        Ok((Some(reason), repaired))
    }

    /// Writes [`Walk::attrs`] as the attributes of the message being written.
    fn put_attrs(&mut self, attr_tag: u32) {
        self.attrs.encode(attr_tag, &mut self.out);
        self.attrs.clear();
    }

    /// Writes a resource (or scope) message: its fields as they came, text
    /// repaired, its attributes from [`Walk::attrs`].
    fn put_level(
        &mut self,
        kind: Message,
        field_tag: u32,
        message: &'a [u8],
        attr_tag: u32,
        texts: &[u32],
    ) -> Result<(), Malformed> {
        let open = wire::begin(&mut self.out, field_tag);
        for f in wire::fields_of(kind, message) {
            let f = f?;
            if f.tag == attr_tag {
                continue;
            }
            if texts.contains(&f.tag) && bad_text(&f) {
                put_text(&mut self.out, &f);
            } else {
                self.out.extend_from_slice(f.raw);
            }
        }
        self.put_attrs(attr_tag);
        wire::end(&mut self.out, open);
        Ok(())
    }

    /// Writes a `ResourceLogs`' resource (its attributes from
    /// [`Walk::attrs`]) and schema URL; returns whether the URL had to be
    /// repaired. A second `resource` field, which no encoder writes, is
    /// copied as it came.
    fn put_resource(&mut self, body: &'a [u8]) -> Result<bool, Malformed> {
        let (mut written, mut repaired) = (false, false);
        for f in wire::fields_of(Message::ResourceLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RESOURCE_LOGS_RESOURCE, Payload::Bytes(r)) if !written => {
                    self.put_level(Message::Resource, f.tag, r, tag::RESOURCE_ATTRIBUTES, &[])?;
                    written = true;
                }
                (tag::RESOURCE_LOGS_SCHEMA_URL, _) if bad_text(&f) => {
                    repaired = true;
                    put_text(&mut self.out, &f);
                }
                (tag::RESOURCE_LOGS_RESOURCE | tag::RESOURCE_LOGS_SCHEMA_URL, _) => {
                    self.out.extend_from_slice(f.raw)
                }
                _ => {}
            }
        }
        Ok(repaired)
    }

    /// Normalizes every record of a Claude resource; the routing is the
    /// gateway's at every level ([`gateway`]).
    fn claude_resource(
        &mut self,
        body: &'a [u8],
        mut attrs: Vec<Attr<'a>>,
        emitter: &'a Emitter,
    ) -> Result<(), Malformed> {
        let mut level = Level::default();
        gateway::take_routing(&mut attrs, "resource", &mut level.requested);
        let (bounded, repaired) = self.bound_level(&mut attrs, "resource", 0)?;
        level.errors.extend(bounded);
        let id_base = gateway::document_id_base(emitter.provider, &attrs)?;
        let open = wire::begin(&mut self.out, tag::REQUEST_RESOURCE_LOGS);
        let schema_repaired = self.put_resource(body)?;
        if repaired || schema_repaired {
            level.note(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        for f in wire::fields_of(Message::ResourceLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RESOURCE_LOGS_SCOPE_LOGS, Payload::Bytes(scope_logs)) => {
                    self.claude_scope(scope_logs, emitter, &level, &id_base)?
                }
                (tag::RESOURCE_LOGS_RESOURCE | tag::RESOURCE_LOGS_SCHEMA_URL, _) => {}
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(())
    }

    fn claude_scope(
        &mut self,
        body: &'a [u8],
        emitter: &'a Emitter,
        resource: &Level,
        id_base: &Sha256,
    ) -> Result<(), Malformed> {
        let mut level = resource.clone();
        let scope = first_field(Message::ScopeLogs, body, tag::SCOPE_LOGS_SCOPE)?;
        let mut attrs = match scope {
            Some(s) => read_attrs(Message::Scope, s, tag::SCOPE_ATTRIBUTES)?,
            None => Vec::new(),
        };
        gateway::take_routing(&mut attrs, "scope", &mut level.requested);
        let (bounded, mut repaired) = self.bound_level(&mut attrs, "scope", 0)?;
        level.errors.extend(bounded);
        self.attrs
            .set(Key::plain(gateway::MAPPING_MODE_ATTRIBUTE), string("ecs"));
        let open = wire::begin(&mut self.out, tag::RESOURCE_LOGS_SCOPE_LOGS);
        let texts = [tag::SCOPE_NAME, tag::SCOPE_VERSION];
        match scope {
            Some(s) => {
                repaired |= wire::fields_of(Message::Scope, s)
                    .filter_map(Result::ok)
                    .any(|f| texts.contains(&f.tag) && bad_text(&f));
                self.put_level(
                    Message::Scope,
                    tag::SCOPE_LOGS_SCOPE,
                    s,
                    tag::SCOPE_ATTRIBUTES,
                    &texts,
                )?;
            }
            None => self.put_level(
                Message::Scope,
                tag::SCOPE_LOGS_SCOPE,
                &[],
                tag::SCOPE_ATTRIBUTES,
                &[],
            )?,
        }
        for f in wire::fields_of(Message::ScopeLogs, body) {
            let f = f?;
            if f.tag == tag::SCOPE_LOGS_SCHEMA_URL && bad_text(&f) {
                repaired = true;
                put_text(&mut self.out, &f);
            }
        }
        if repaired {
            level.note(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        let mut scope_seen = false;
        for f in wire::fields_of(Message::ScopeLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::SCOPE_LOGS_LOG_RECORDS, Payload::Bytes(record)) => {
                    self.claude_record(record, emitter, &level, id_base)?
                }
                (tag::SCOPE_LOGS_SCOPE, _) if !scope_seen => scope_seen = true,
                (tag::SCOPE_LOGS_SCHEMA_URL, _) if bad_text(&f) => {}
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(())
    }

    /// Looks every input attribute up in the tables, once.
    fn look_up(&mut self, attrs: &[Attr<'_>]) {
        self.lookups.clear();
        let rules = &self.t.rules;
        self.lookups
            .extend(attrs.iter().map(|a| rules.attribute(&a.key)));
    }

    fn claude_record(
        &mut self,
        bytes: &'a [u8],
        emitter: &'a Emitter,
        level: &Level,
        id_base: &Sha256,
    ) -> Result<(), Malformed> {
        self.outcome.claude_records += 1;
        let mut attrs = std::mem::take(&mut self.input_attrs);
        attrs.clear();
        let mut notes = Notes {
            errors: level.errors.clone(),
            tags: level.tags.clone(),
        };
        let (mut body_raw, mut event_name) = (&[][..], Cow::Borrowed(""));
        let (mut time, mut observed, mut repaired) = (0, 0, false);
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.clear();
        for f in wire::fields_of(Message::LogRecord, bytes) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RECORD_ATTRIBUTES, Payload::Bytes(b)) => {
                    if attrs.is_empty() {
                        pieces.push(Piece::Attributes);
                    }
                    attrs.push(Attr::read(b)?);
                    continue;
                }
                (tag::RECORD_BODY, Payload::Bytes(b)) => {
                    body_raw = b;
                    pieces.push(Piece::Body(f.raw));
                    continue;
                }
                (tag::RECORD_EVENT_NAME, Payload::Bytes(b)) => {
                    let (text, bad) = wire::text(b);
                    event_name = text;
                    if bad {
                        repaired = true;
                        pieces.push(Piece::Text(f.tag, b));
                        continue;
                    }
                }
                (tag::RECORD_SEVERITY_TEXT, Payload::Bytes(b)) if bad_text(&f) => {
                    repaired = true;
                    pieces.push(Piece::Text(f.tag, b));
                    continue;
                }
                (tag::RECORD_TIME, _) => time = f.fixed64().unwrap_or_default(),
                (tag::RECORD_OBSERVED_TIME, _) => observed = f.fixed64().unwrap_or_default(),
                _ => {}
            }
            pieces.push(Piece::Raw(f.raw));
        }
        let (body, body_bad) = In::read(wire::any(body_raw)?, body_raw);
        repaired |= body_bad;

        self.look_up(&attrs);
        let mut requested = level.requested.clone();
        let routing = (attrs.iter().zip(&self.lookups)).filter(|(_, l)| l.routing);
        gateway::note_routing(routing.map(|(a, _)| a), "record", &mut requested);
        let input = Input::new(&attrs, &self.lookups);
        let name = record::event_name(event_name, &input, &body);
        let session_sequence = input
            .get_text(Slot::SessionId)
            .zip(input.get_text(Slot::EventSequence));
        let identity = gateway::RecordIdentity {
            session_sequence: session_sequence.as_ref().map(|(s, q)| (&**s, &**q)),
            time: if time != 0 { time } else { observed },
            raw: bytes,
        };
        let id = gateway::document_id(id_base, &identity, &name)?;

        let t: &'a Transformer = self.t;
        let rules = &t.rules;
        let overflow =
            gateway::bound_attributes(&mut attrs, 2, |k| rules.attribute(k).class.is_some())?;
        let overflow_key = Key {
            prefix: emitter.vendor_prefix,
            name: Cow::Borrowed(gateway::OVERFLOW_ATTRIBUTE),
        };
        if !overflow.is_empty() {
            let field = format!("{}{}", emitter.vendor_prefix, gateway::OVERFLOW_ATTRIBUTE);
            notes.add(overflow.reason(&field), BOUNDED_TAG);
            self.look_up(&attrs);
        }
        let (bounded_body, body_shape) = gateway::bound_body(&body)?;
        let new_body = match bounded_body {
            Some(text) => {
                notes.add(
                    format!(
                        "body nested deeper than {} levels kept as JSON text",
                        gateway::MAX_FIELD_DEPTH
                    ),
                    BOUNDED_TAG,
                );
                Some(Out::Str(Cow::Owned(text)))
            }
            None if body_shape.bad_text || body_bad => {
                Some(body.to_value()?.map_or(Out::Raw(&[]), Out::Value))
            }
            None => None,
        };
        repaired |= body_shape.bad_text || attrs.iter().any(|a| a.repaired);
        if repaired {
            notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }

        let input = Input::new(&attrs, &self.lookups);
        let record = Record {
            input: &input,
            name: &name,
            raw: bytes,
            notes: &notes,
        };
        self.attrs.clear();
        if record::normalize(&record, emitter, rules, self.tenant, &mut self.attrs)? {
            self.outcome.pipeline_errors += 1;
        }
        if !overflow.is_empty() {
            self.attrs.set(overflow_key, string(overflow.to_text()));
        }
        gateway::mark_overridden(&mut self.attrs, &requested);
        self.attrs
            .set(Key::plain(gateway::DOCUMENT_ID_ATTRIBUTE), string(id));
        self.put_record(&pieces, new_body.as_ref());
        attrs.clear();
        self.input_attrs = attrs;
        self.pieces = pieces;
        Ok(())
    }

    /// Writes a record: its fields as they came (`pieces`: text repaired
    /// where needed), `body` in place of the one it had when given, and
    /// [`Walk::attrs`] as its attributes.
    fn put_record(&mut self, pieces: &[Piece<'a>], body: Option<&Out<'_>>) {
        let open = wire::begin(&mut self.out, tag::SCOPE_LOGS_LOG_RECORDS);
        let mut attrs_written = false;
        for piece in pieces {
            match *piece {
                Piece::Raw(raw) => self.out.extend_from_slice(raw),
                Piece::Body(raw) => {
                    if body.is_none() {
                        self.out.extend_from_slice(raw);
                    }
                }
                Piece::Text(field_tag, b) => {
                    wire::put_bytes(&mut self.out, field_tag, wire::text(b).0.as_bytes())
                }
                Piece::Attributes => {
                    self.put_attrs(tag::RECORD_ATTRIBUTES);
                    attrs_written = true;
                }
            }
        }
        if let Some(body) = body {
            wire::put_message(&mut self.out, tag::RECORD_BODY, body);
        }
        if !attrs_written {
            self.put_attrs(tag::RECORD_ATTRIBUTES);
        }
        wire::end(&mut self.out, open);
    }

    /// A resource that is not Claude's passes as it is, except what the
    /// gateway owns ([`gateway`]): under an authenticated tenant every
    /// routing attribute is removed and the tenant's namespace set; without
    /// one, only a scope mapping mode the exporter would refuse is removed.
    /// Values Elasticsearch would refuse are bounded, text that is not UTF-8
    /// repaired. Writes the resource and returns whether it changed.
    fn other_resource(
        &mut self,
        body: &'a [u8],
        resource: Option<&'a [u8]>,
        mut attrs: Vec<Attr<'a>>,
    ) -> Result<bool, Malformed> {
        let tenant = self.tenant;
        let mut level = Level::default();
        let mut changed = false;
        if let Some(t) = tenant.filter(|_| resource.is_some()) {
            changed = true;
            gateway::take_routing(&mut attrs, "resource", &mut level.requested);
            let (bounded, repaired) = self.bound_level(&mut attrs, "resource", 2)?;
            let namespace = (t.namespace.as_deref()).filter(|_| self.t.rules.tenant.set_namespace);
            if let Some(ns) = namespace {
                self.attrs
                    .set(Key::plain("data_stream.namespace"), string(ns));
            }
            self.other_level_notes(&mut level, bounded.is_some(), repaired);
        } else {
            let (bounded, repaired) = self.bound_level(&mut attrs, "resource", 2)?;
            changed |= bounded.is_some() || repaired;
            self.other_level_notes(&mut level, bounded.is_some(), repaired);
        }
        let open = wire::begin(&mut self.out, tag::REQUEST_RESOURCE_LOGS);
        changed |= self.put_resource(body)?;
        self.attrs.clear();
        for f in wire::fields_of(Message::ResourceLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RESOURCE_LOGS_SCOPE_LOGS, Payload::Bytes(scope_logs)) => {
                    changed |= self.other_scope(scope_logs, &level)?;
                }
                (tag::RESOURCE_LOGS_RESOURCE | tag::RESOURCE_LOGS_SCHEMA_URL, _) => {}
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(changed)
    }

    /// Tags the records below a bounded or repaired resource or scope get.
    fn other_level_notes(&self, level: &mut Level, bounded: bool, repaired: bool) {
        for (hit, tag) in [(bounded, BOUNDED_TAG), (repaired, INVALID_UTF8_TAG)] {
            if hit && !level.tags.contains(&tag) {
                level.tags.push(tag);
            }
        }
    }

    fn other_scope(&mut self, body: &'a [u8], resource: &Level) -> Result<bool, Malformed> {
        let mut level = resource.clone();
        let scope = first_field(Message::ScopeLogs, body, tag::SCOPE_LOGS_SCOPE)?;
        let mut changed = false;
        let open = wire::begin(&mut self.out, tag::RESOURCE_LOGS_SCOPE_LOGS);
        if let Some(s) = scope {
            let mut attrs = read_attrs(Message::Scope, s, tag::SCOPE_ATTRIBUTES)?;
            let before = level.requested.len();
            if self.tenant.is_some() {
                gateway::take_routing(&mut attrs, "scope", &mut level.requested);
            } else {
                gateway::take_unknown_mapping_mode(&mut attrs, &mut level.requested);
            }
            changed |= level.requested.len() > before;
            let (bounded, mut repaired) = self.bound_level(&mut attrs, "scope", 2)?;
            let texts = [tag::SCOPE_NAME, tag::SCOPE_VERSION];
            repaired |= wire::fields_of(Message::Scope, s)
                .filter_map(Result::ok)
                .any(|f| texts.contains(&f.tag) && bad_text(&f));
            changed |= bounded.is_some() || repaired;
            self.other_level_notes(&mut level, bounded.is_some(), repaired);
            self.put_level(
                Message::Scope,
                tag::SCOPE_LOGS_SCOPE,
                s,
                tag::SCOPE_ATTRIBUTES,
                &texts,
            )?;
        }
        let mut scope_seen = false;
        for f in wire::fields_of(Message::ScopeLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::SCOPE_LOGS_LOG_RECORDS, Payload::Bytes(record)) => {
                    changed |= self.other_record(record, &level)?;
                }
                (tag::SCOPE_LOGS_SCOPE, _) if !scope_seen && scope.is_some() => scope_seen = true,
                (tag::SCOPE_LOGS_SCHEMA_URL, _) if bad_text(&f) => {
                    changed = true;
                    put_text(&mut self.out, &f);
                }
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(changed)
    }

    fn other_record(&mut self, bytes: &'a [u8], level: &Level) -> Result<bool, Malformed> {
        self.outcome.other_records += 1;
        let mut attrs = read_attrs(Message::LogRecord, bytes, tag::RECORD_ATTRIBUTES)?;
        let mut requested = level.requested.clone();
        let mut changed = self.tenant.is_some();
        if self.tenant.is_some() {
            gateway::take_routing(&mut attrs, "record", &mut requested);
        }
        let overflow = gateway::bound_attributes(&mut attrs, 2, |_| false)?;
        let mut repaired = attrs.iter().any(|a| a.repaired);
        let mut body = None;
        let mut bounded = !overflow.is_empty();
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.clear();
        let mut attributes_seen = false;
        for f in wire::fields_of(Message::LogRecord, bytes) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RECORD_ATTRIBUTES, _) => {
                    if !attributes_seen {
                        pieces.push(Piece::Attributes);
                        attributes_seen = true;
                    }
                    continue;
                }
                (tag::RECORD_BODY, Payload::Bytes(b)) => {
                    let (v, bad) = In::read(wire::any(b)?, b);
                    let (text, shape) = gateway::bound_body(&v)?;
                    if let Some(text) = text {
                        bounded = true;
                        body = Some(Out::Str(Cow::Owned(text)));
                    } else if bad || shape.bad_text {
                        repaired = true;
                        body = Some(v.to_value()?.map_or(Out::Raw(&[]), Out::Value));
                    }
                    pieces.push(Piece::Body(f.raw));
                    continue;
                }
                (tag::RECORD_EVENT_NAME | tag::RECORD_SEVERITY_TEXT, Payload::Bytes(b))
                    if bad_text(&f) =>
                {
                    repaired = true;
                    pieces.push(Piece::Text(f.tag, b));
                    continue;
                }
                _ => {}
            }
            pieces.push(Piece::Raw(f.raw));
        }
        self.attrs.clear();
        for a in &attrs {
            self.attrs.push(a.kept()?);
        }
        if !overflow.is_empty() {
            let field = format!("cowork_ecs.{}", gateway::OVERFLOW_ATTRIBUTE);
            self.attrs
                .set(Key::plain(field), string(overflow.to_text()));
        }
        let mut tags = level.tags.clone();
        if bounded && !tags.contains(&BOUNDED_TAG) {
            tags.push(BOUNDED_TAG);
        }
        if repaired && !tags.contains(&INVALID_UTF8_TAG) {
            tags.push(INVALID_UTF8_TAG);
        }
        // Bounds first, then repairs, as the tags are listed.
        tags.sort_by_key(|t| usize::from(*t != BOUNDED_TAG));
        for tag in &tags {
            gateway::add_tag(&mut self.attrs, tag);
        }
        changed |= !tags.is_empty() || !requested.is_empty();
        gateway::mark_overridden(&mut self.attrs, &requested);
        self.outcome.other_records_changed += usize::from(changed);
        self.put_record(&pieces, body.as_ref());
        self.pieces = pieces;
        Ok(changed)
    }
}
