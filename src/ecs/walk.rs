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
use super::content::{ContentAction, ContentClass, Redactions};
use super::record::{self, Input, Notes, Record, Tenant};
use super::tables::Slot;
use super::value::{InValue, OutValue, string};
use super::{AttributeLookup, Emitter, Outcome, Transformed, Transformer, gateway};
use crate::otlp::wire::{self, Malformed, Message, Payload, tag};
use gateway::{BOUNDED_TAG, INVALID_UTF8_TAG};
use sha2::Sha256;
use std::borrow::Cow;
use std::mem::take;

/// `error.message` part of a record with text that was not UTF-8.
const INVALID_UTF8: &str =
    "text that is not valid UTF-8 was read with U+FFFD replacement characters";

/// Transforms a protobuf request: the new request bytes (`None` when
/// nothing changed: no Claude record, nothing the gateway had to change, so
/// the caller keeps its input), the resources it could not read (each
/// copied to the output as it came), and what was done.
///
/// # Errors
/// [`Malformed`] when the request itself is not protobuf (its resources
/// cannot even be told apart).
pub(crate) fn transform(
    t: &Transformer,
    input: &[u8],
    tenant: Option<&str>,
) -> Result<(Transformed, Outcome), Malformed> {
    let tenant = Tenant::new(tenant);
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
    let mut unread = Vec::new();
    let mut position = 0;
    for field in wire::fields_of(Message::Request, input) {
        let field = field?;
        match (field.tag, field.payload) {
            (tag::REQUEST_RESOURCE_LOGS, Payload::Bytes(body)) => {
                position += 1;
                let (start, outcome) = (walk.out.len(), walk.outcome);
                if let Err(why) = walk.resource_logs(field.raw, body) {
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
        ..
    } = walk;
    let output = changed.then_some(out);
    Ok((Transformed { output, unread }, outcome))
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

/// Whose resource is being walked.
#[derive(Clone, Copy)]
enum Owner<'r, 'a> {
    /// A Claude emitter's: every record is normalized.
    Claude {
        emitter: &'a Emitter,
        id_base: &'r Sha256,
    },
    /// Another sender's: only what the gateway owns changes.
    Other,
}

/// What a resource and a scope pass on to the records below them.
#[derive(Clone, Default)]
struct Level {
    /// Problems and tags every record below gets.
    notes: Notes,
    /// Routing the sender asked for at this level ([`gateway`]).
    requested: Vec<String>,
}

impl Level {
    /// Notes a bound (its reason) and a repair; returns whether either happened.
    fn mark(&mut self, bounded: Option<String>, repaired: bool) -> bool {
        let hit = bounded.is_some() || repaired;
        if let Some(reason) = bounded {
            self.notes.add(reason, BOUNDED_TAG);
        }
        if repaired {
            self.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        hit
    }
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

/// What the records of a `ResourceLogs` or `ScopeLogs` need to know before
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
            (SCHEMA_URL, _) => bad_schema |= bad_text(&field),
            _ => {}
        }
    }
    Ok((parts, bad_schema))
}

/// `schema_url` is field 3 of both `ResourceLogs` and `ScopeLogs`.
const SCHEMA_URL: u32 = tag::RESOURCE_LOGS_SCHEMA_URL;
const _: () = assert!(tag::RESOURCE_LOGS_SCHEMA_URL == tag::SCOPE_LOGS_SCHEMA_URL);

/// Whether a string field's bytes are not UTF-8.
fn bad_text(field: &wire::Field<'_>) -> bool {
    field
        .bytes()
        .is_some_and(|b| std::str::from_utf8(b).is_err())
}

/// Writes a string field, its text read lossily.
fn put_text(out: &mut Vec<u8>, field_tag: u32, bytes: &[u8]) {
    wire::put_bytes(out, field_tag, wire::text(bytes).0.as_bytes());
}

/// A record's fields read in one pass.
struct RecordHead<'a> {
    /// The body's `AnyValue` bytes (empty when it has none).
    body: &'a [u8],
    event_name: Cow<'a, str>,
    /// `time_unix_nano`, else `observed_time_unix_nano`.
    time: u64,
    /// Whether its event name or severity text is not UTF-8.
    bad_text: bool,
}

/// Reads a record's fields: its attributes into `attrs`, and into `pieces`
/// how to write it again (its fields as they came, text to repair, where
/// the body and the attributes go).
fn read_record<'a>(
    bytes: &'a [u8],
    attrs: &mut Vec<Attr<'a>>,
    pieces: &mut Vec<Piece<'a>>,
) -> Result<RecordHead<'a>, Malformed> {
    attrs.clear();
    pieces.clear();
    let mut head = RecordHead {
        body: &[],
        event_name: Cow::Borrowed(""),
        time: 0,
        bad_text: false,
    };
    let mut observed = 0;
    for f in wire::fields_of(Message::LogRecord, bytes) {
        let f = f?;
        let piece = match (f.tag, f.payload) {
            (tag::RECORD_ATTRIBUTES, Payload::Bytes(b)) => {
                attrs.push(Attr::read(b)?);
                if attrs.len() > 1 {
                    continue;
                }
                Piece::Attributes
            }
            (tag::RECORD_BODY, Payload::Bytes(b)) => {
                // A body sent twice: pdata keeps the last (its value is a
                // oneof), so the transform reads and writes only that one;
                // each must still read as the decoders read it (a record
                // may be copied as it came).
                gateway::shape(&InValue::read(wire::any(b)?, b).0)?;
                pieces.retain(|p| !matches!(p, Piece::Body(_)));
                head.body = b;
                Piece::Body(f.raw)
            }
            (tag::RECORD_EVENT_NAME | tag::RECORD_SEVERITY_TEXT, Payload::Bytes(b)) => {
                let (text, bad) = wire::text(b);
                if f.tag == tag::RECORD_EVENT_NAME {
                    head.event_name = text;
                }
                head.bad_text |= bad;
                if bad {
                    Piece::Text(f.tag, b)
                } else {
                    Piece::Raw(f.raw)
                }
            }
            (tag::RECORD_TIME, _) => {
                head.time = f.fixed64().unwrap_or_default();
                Piece::Raw(f.raw)
            }
            (tag::RECORD_OBSERVED_TIME, _) => {
                observed = f.fixed64().unwrap_or_default();
                Piece::Raw(f.raw)
            }
            _ => Piece::Raw(f.raw),
        };
        pieces.push(piece);
    }
    if head.time == 0 {
        head.time = observed;
    }
    Ok(head)
}

/// The body to write in place of a record's own, when it must change: a
/// structured body too deep for Elasticsearch becomes its JSON text, one
/// with text that was not UTF-8 (`bad`: at its top level) is written
/// repaired. Either is noted.
fn rewrite_body<'a>(
    body: &InValue<'a>,
    bad: bool,
    notes: &mut Notes,
) -> Result<Option<OutValue<'a>>, Malformed> {
    let (text, shape) = gateway::bound_body(body)?;
    if let Some(text) = text {
        let why = format!(
            "body nested deeper than {} levels kept as JSON text",
            gateway::MAX_FIELD_DEPTH
        );
        notes.add(why, BOUNDED_TAG);
        return Ok(Some(OutValue::Str(Cow::Owned(text))));
    }
    if !(bad || shape.bad_text) {
        return Ok(None);
    }
    notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
    Ok(Some(
        body.to_value()?.map_or(OutValue::Raw(&[]), OutValue::Value),
    ))
}

impl<'a> Walk<'a> {
    /// Walks one `ResourceLogs`: a Claude resource is normalized, another is
    /// written again only when the gateway changed something in it, else
    /// copied as it came (`raw`).
    fn resource_logs(&mut self, raw: &'a [u8], body: &'a [u8]) -> Result<(), Malformed> {
        let (resource, bad_schema) =
            head(Message::ResourceLogs, body, tag::RESOURCE_LOGS_RESOURCE)?;
        let mut attrs = read_attrs(Message::Resource, &resource, tag::RESOURCE_ATTRIBUTES)?;
        let service = attrs.iter().find(|a| a.key == "service.name");
        let emitter = match service.map(|a| &a.value) {
            Some(InValue::Str(name)) => self.t.emitter_named(name),
            _ => None,
        };
        // A tenant's routing applies to the resource it has.
        let tenant = self.tenant.filter(|_| !resource.is_empty());
        let mut level = Level::default();
        if emitter.is_some() || tenant.is_some() {
            gateway::take_routing(&mut attrs, "resource", &mut level.requested);
        }
        // The identity policy on a Claude resource (a dropped value goes
        // before the bounds count it; a hashed one replaces it after).
        let identity: Vec<(Cow<'a, str>, Option<String>)> = if emitter.is_some() {
            self.identity_of(&attrs)
        } else {
            Vec::new()
        };
        attrs.retain(|a| !identity.iter().any(|(k, v)| v.is_none() && *k == a.key));
        // Claude attributes become top-level ECS fields; others stay below
        // `resource.attributes.` in the exporter's OTel mode.
        let prefix_depth = if emitter.is_some() { 0 } else { 2 };
        let (bounded, repaired) = self.bound_level(&mut attrs, "resource", prefix_depth)?;
        for (key, value) in identity {
            if let (Some(v), Some(slot)) = (value, self.attrs.get_mut(&Key::plain(key))) {
                *slot = string(v);
            }
        }
        let namespace =
            (self.t.mapping.settings.tenant_namespace(tenant)).filter(|_| emitter.is_none());
        if let Some(ns) = namespace {
            self.attrs
                .set(Key::plain("data_stream.namespace"), string(ns));
        }
        let id_base = match emitter {
            Some(e) => Some(gateway::document_id_base(e.provider, &attrs)?),
            None => None,
        };
        let owner = match (emitter, &id_base) {
            (Some(emitter), Some(id_base)) => Owner::Claude { emitter, id_base },
            _ => Owner::Other,
        };
        let mut changed = level.mark(bounded, repaired || bad_schema);
        changed |= emitter.is_some() || tenant.is_some();

        let start = self.out.len();
        let others_changed = self.outcome.other_records_changed;
        let open = wire::begin(&mut self.out, tag::REQUEST_RESOURCE_LOGS, 2 * body.len());
        // The resource first, whatever the field order (its attributes are
        // in Walk::attrs until written).
        if !resource.is_empty() {
            let field = tag::RESOURCE_LOGS_RESOURCE;
            self.put_level(
                Message::Resource,
                field,
                &resource,
                tag::RESOURCE_ATTRIBUTES,
                &[],
            )?;
        }
        self.attrs.clear();
        for f in wire::fields_of(Message::ResourceLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::RESOURCE_LOGS_RESOURCE, _) => {
                    // Written above, its parts as one, whatever the field order.
                }
                (tag::RESOURCE_LOGS_SCOPE_LOGS, Payload::Bytes(scope_logs)) => {
                    changed |= self.scope_logs(scope_logs, owner, &level)?;
                }
                (SCHEMA_URL, Payload::Bytes(b)) if bad_text(&f) => {
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
            self.outcome.other_records_changed = others_changed;
        }
        Ok(())
    }

    /// Walks one `ScopeLogs`. A Claude scope gets `elastic.mapping.mode:
    /// ecs` (a scope is written for it if it had none). The routing is the
    /// gateway's on Claude and tenant scopes; on others only a mapping mode
    /// the exporter would refuse is removed. Returns whether anything changed.
    fn scope_logs(
        &mut self,
        body: &'a [u8],
        owner: Owner<'_, 'a>,
        resource: &Level,
    ) -> Result<bool, Malformed> {
        let claude = matches!(owner, Owner::Claude { .. });
        let mut level = resource.clone();
        let (scope, bad_schema) = head(Message::ScopeLogs, body, tag::SCOPE_LOGS_SCOPE)?;
        let mut attrs = read_attrs(Message::Scope, &scope, tag::SCOPE_ATTRIBUTES)?;
        let asked = level.requested.len();
        if claude || self.tenant.is_some() {
            gateway::take_routing(&mut attrs, "scope", &mut level.requested);
        } else {
            gateway::take_unknown_mapping_mode(&mut attrs, &mut level.requested);
        }
        let mut changed = level.requested.len() > asked;
        let (bounded, mut repaired) =
            self.bound_level(&mut attrs, "scope", if claude { 0 } else { 2 })?;
        if claude {
            self.attrs
                .set(Key::plain(gateway::MAPPING_MODE_ATTRIBUTE), string("ecs"));
        }
        let open = wire::begin(&mut self.out, tag::RESOURCE_LOGS_SCOPE_LOGS, 2 * body.len());
        if !scope.is_empty() || claude {
            let texts = [tag::SCOPE_NAME, tag::SCOPE_VERSION];
            repaired |= self.put_level(
                Message::Scope,
                tag::SCOPE_LOGS_SCOPE,
                &scope,
                tag::SCOPE_ATTRIBUTES,
                &texts,
            )?;
        }
        changed |= level.mark(bounded, repaired || bad_schema);
        for f in wire::fields_of(Message::ScopeLogs, body) {
            let f = f?;
            match (f.tag, f.payload) {
                (tag::SCOPE_LOGS_LOG_RECORDS, Payload::Bytes(record)) => {
                    changed |= match owner {
                        Owner::Claude { emitter, id_base } => {
                            self.claude_record(record, emitter, &level, id_base)?;
                            true
                        }
                        Owner::Other => self.other_record(record, &level)?,
                    };
                }
                (tag::SCOPE_LOGS_SCOPE, _) => {
                    // Written above, its parts as one, whatever the field order.
                }
                (SCHEMA_URL, Payload::Bytes(b)) if bad_text(&f) => {
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

    /// The identity attributes among `attrs` with what the identity policy
    /// makes of each (`None`: dropped); those it keeps as sent are left out.
    fn identity_of(&self, attrs: &[Attr<'a>]) -> Vec<(Cow<'a, str>, Option<String>)> {
        let content = &self.t.mapping.settings.content;
        let mut marks = Redactions::default();
        (attrs.iter())
            .filter(|a| {
                self.t.mapping.lookup.attribute(&a.key).class == Some(ContentClass::Identity)
            })
            .filter_map(|a| {
                if content.action(ContentClass::Identity) == ContentAction::Drop {
                    return Some((a.key.clone(), None));
                }
                let text = a.value.scalar_text().unwrap_or_default();
                let kept = content.apply_text(ContentClass::Identity, text.clone(), &mut marks);
                match kept {
                    Some(v) if v == text => None,
                    v => Some((a.key.clone(), v.map(Cow::into_owned))),
                }
            })
            .collect()
    }

    /// Writes [`Walk::attrs`] as the attributes of the message being written.
    fn put_attrs(&mut self, attr_tag: u32) {
        self.attrs.encode(attr_tag, &mut self.out);
        self.attrs.clear();
    }

    /// Writes a resource (or scope) message sent in `parts`, as one: the
    /// parts' fields as they came, the `texts` fields repaired when they are
    /// not UTF-8, its attributes from [`Walk::attrs`]. Returns whether a text
    /// was repaired.
    fn put_level(
        &mut self,
        kind: Message,
        field_tag: u32,
        parts: &[&'a [u8]],
        attr_tag: u32,
        texts: &[u32],
    ) -> Result<bool, Malformed> {
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
                    Payload::Bytes(b) if texts.contains(&f.tag) && bad_text(&f) => {
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

    /// Looks every input attribute up in the tables, once.
    fn look_up(&mut self, attrs: &[Attr<'_>]) {
        self.lookups.clear();
        let mapping = &self.t.mapping;
        self.lookups
            .extend(attrs.iter().map(|a| mapping.lookup.attribute(&a.key)));
    }

    fn claude_record(
        &mut self,
        bytes: &'a [u8],
        emitter: &'a Emitter,
        level: &Level,
        id_base: &Sha256,
    ) -> Result<(), Malformed> {
        self.outcome.claude_records += 1;
        let (mut attrs, mut pieces) = (take(&mut self.input_attrs), take(&mut self.pieces));
        let head = read_record(bytes, &mut attrs, &mut pieces)?;
        let mut notes = level.notes.clone();
        let (body, body_bad) = InValue::read(wire::any(head.body)?, head.body);

        self.look_up(&attrs);
        let mut requested = level.requested.clone();
        let routing = (attrs.iter().zip(&self.lookups)).filter(|(_, l)| l.routing);
        gateway::note_routing(routing.map(|(a, _)| a), "record", &mut requested);
        let input = Input::new(&attrs, &self.lookups);
        let name = record::event_name(head.event_name, &input, &body);
        let session_sequence = input
            .get_text(Slot::SessionId)
            .zip(input.get_text(Slot::EventSequence));
        let identity = gateway::RecordIdentity {
            session_sequence: session_sequence.as_ref().map(|(s, q)| (&**s, &**q)),
            time: head.time,
            raw: bytes,
        };
        let id = gateway::document_id(id_base, &identity, &name)?;

        let t: &'a Transformer = self.t;
        let mapping = &t.mapping;
        let overflow = gateway::bound_attributes(&mut attrs, 2, |k| {
            mapping.lookup.attribute(k).class.is_some()
        })?;
        if !overflow.is_empty() {
            let field = format!("{}{}", emitter.vendor_prefix, gateway::OVERFLOW_ATTRIBUTE);
            notes.add(overflow.reason(&field), BOUNDED_TAG);
            self.look_up(&attrs);
        }
        let new_body = rewrite_body(&body, body_bad, &mut notes)?;
        if head.bad_text || attrs.iter().any(|a| a.repaired) {
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
        if record::normalize(&record, emitter, mapping, self.tenant, &mut self.attrs)? {
            self.outcome.pipeline_errors += 1;
        }
        if !overflow.is_empty() {
            let key = Key {
                prefix: emitter.vendor_prefix,
                name: Cow::Borrowed(gateway::OVERFLOW_ATTRIBUTE),
            };
            self.attrs.set(key, string(overflow.to_text()));
        }
        gateway::mark_overridden(&mut self.attrs, &requested);
        self.attrs
            .set(Key::plain(gateway::DOCUMENT_ID_ATTRIBUTE), string(id));
        self.put_record(bytes.len(), &pieces, new_body.as_ref());
        attrs.clear();
        (self.input_attrs, self.pieces) = (attrs, pieces);
        Ok(())
    }

    /// A record of another sender: what the gateway owns is taken (under a
    /// tenant), values Elasticsearch would refuse bounded, text that is not
    /// UTF-8 repaired, each tagged. Returns whether it changed.
    fn other_record(&mut self, bytes: &'a [u8], level: &Level) -> Result<bool, Malformed> {
        self.outcome.other_records += 1;
        let (mut attrs, mut pieces) = (take(&mut self.input_attrs), take(&mut self.pieces));
        let head = read_record(bytes, &mut attrs, &mut pieces)?;
        let mut notes = level.notes.clone();
        let mut requested = level.requested.clone();
        if self.tenant.is_some() {
            gateway::take_routing(&mut attrs, "record", &mut requested);
        }
        let overflow = gateway::bound_attributes(&mut attrs, 2, |_| false)?;
        let field = format!("cowork_ecs.{}", gateway::OVERFLOW_ATTRIBUTE);
        if !overflow.is_empty() {
            notes.add(overflow.reason(&field), BOUNDED_TAG);
        }
        let (body, body_bad) = InValue::read(wire::any(head.body)?, head.body);
        let new_body = rewrite_body(&body, body_bad, &mut notes)?;
        if head.bad_text || attrs.iter().any(|a| a.repaired) {
            notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        self.attrs.clear();
        for a in &attrs {
            self.attrs.push(a.kept()?);
        }
        if !overflow.is_empty() {
            self.attrs
                .set(Key::plain(field), string(overflow.to_text()));
        }
        for tag in &notes.tags {
            gateway::add_tag(&mut self.attrs, tag);
        }
        let changed = self.tenant.is_some() || !notes.tags.is_empty() || !requested.is_empty();
        gateway::mark_overridden(&mut self.attrs, &requested);
        self.outcome.other_records_changed += usize::from(changed);
        self.put_record(bytes.len(), &pieces, new_body.as_ref());
        attrs.clear();
        (self.input_attrs, self.pieces) = (attrs, pieces);
        Ok(changed)
    }

    /// Writes a record (`input_len` bytes as it came): its fields as they came (`pieces`: text repaired
    /// where needed), `body` in place of the one it had when given, and
    /// [`Walk::attrs`] as its attributes.
    fn put_record(&mut self, input_len: usize, pieces: &[Piece<'a>], body: Option<&OutValue<'_>>) {
        // A Claude record gains about 20 attributes.
        let expected = 2 * input_len + 512;
        let open = wire::begin(&mut self.out, tag::SCOPE_LOGS_LOG_RECORDS, expected);
        let mut attrs_written = false;
        for piece in pieces {
            match *piece {
                Piece::Raw(raw) => self.out.extend_from_slice(raw),
                Piece::Body(raw) => {
                    if body.is_none() {
                        self.out.extend_from_slice(raw);
                    }
                }
                Piece::Text(field_tag, b) => put_text(&mut self.out, field_tag, b),
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
}
