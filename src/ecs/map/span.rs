//! Spans in the walk ([`crate::ecs::stream`]), with their events, links and
//! status. Claude spans are written in the exporter's OTel mode (scope
//! routing in [`crate::ecs::stream`]): their source attributes stay, because
//! Elastic's Traces Overview reads `attributes.<source name>`, and the
//! ECS / GenAI fields are copies beside them ([`crate::ecs::rules::tables::SPAN_CLASSES`],
//! [`crate::ecs::rules::tables::SPAN_RENAMES`]): `event.kind`, `event.category`,
//! `event.type`, `event.provider`, `event.outcome` (from `success`),
//! `gen_ai.usage.*`, `process.command_line`, `event.duration`,
//! `related.user`, and a deterministic `elasticsearch.document_id`
//! ([`identity::document_id`]; a replayed span is a conflict on the existing
//! document, with the exporter's `traces_dynamic_id`).
//!
//! A span event becomes its own document (`logs-<product>.otel-*`): it is
//! an item with the same rules as the span ([`super::item`]) and an id of
//! its own. A link or a status carries no mapping: copied as it came, its
//! text repaired when it is not UTF-8 (the span marked). Link attributes
//! are not bounded: the exporter stores them inside the span's `links`.

use crate::ecs::map::item::needs_repair;
use crate::ecs::map::marks::{INVALID_UTF8, ItemKind, Level, Marks};
use crate::ecs::map::record::ECS_VERSION;
use crate::ecs::map::signing;
use crate::ecs::map::walk::{Owner, Piece, Walk};
use crate::ecs::model::attrs::{Attr, Attrs, Key};
use crate::ecs::model::value::{OutValue, convert, string, string_array, to_bool};
use crate::ecs::policy::{bounds, identity, routing};
use crate::ecs::rules::emitters::Emitter;
use crate::ecs::rules::tables::{self, Conversion, EventClass};
use crate::otlp::wire::{self, Malformed, Message, Payload, tag};
use bounds::INVALID_UTF8_TAG;
use std::borrow::Cow;

/// A span's fields read in one pass.
#[derive(Default)]
struct SpanHead<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    name: Cow<'a, str>,
    /// `start_time_unix_nano`, `end_time_unix_nano`.
    start: u64,
    end: u64,
    /// Whether its status is unset (no status, or code 0).
    status_unset: bool,
    /// Whether its name, trace state, a link or its status holds text that
    /// is not UTF-8.
    bad_text: bool,
}

/// Reads a span's fields: its attributes into `attrs`, and into `pieces`
/// how to write it again.
fn read_span<'a>(
    bytes: &'a [u8],
    attrs: &mut Vec<Attr<'a>>,
    pieces: &mut Vec<Piece<'a>>,
) -> Result<SpanHead<'a>, Malformed> {
    let mut head = SpanHead {
        status_unset: true,
        ..SpanHead::default()
    };
    for f in wire::fields_of(Message::Span, bytes) {
        let f = f?;
        let piece = match (f.tag, f.payload) {
            (tag::SPAN_ATTRIBUTES, Payload::Bytes(b)) => match Piece::attribute(attrs, b)? {
                Some(piece) => piece,
                None => continue,
            },
            (tag::SPAN_TRACE_ID, Payload::Bytes(b)) => {
                head.trace_id = b;
                Piece::Raw(f.raw)
            }
            (tag::SPAN_SPAN_ID, Payload::Bytes(b)) => {
                head.span_id = b;
                Piece::Raw(f.raw)
            }
            (tag::SPAN_START_TIME, _) => {
                head.start = f.fixed64().unwrap_or_default();
                Piece::Raw(f.raw)
            }
            (tag::SPAN_END_TIME, _) => {
                head.end = f.fixed64().unwrap_or_default();
                Piece::Raw(f.raw)
            }
            (tag::SPAN_EVENTS, Payload::Bytes(b)) => Piece::Child(f.tag, b),
            (tag::SPAN_LINKS | tag::SPAN_STATUS, Payload::Bytes(b)) => {
                let kind = Message::Span.child(f.tag).unwrap_or(Message::Status);
                if f.tag == tag::SPAN_STATUS {
                    head.status_unset = status_code(b)? == 0;
                }
                // Checked once here: written again only when repaired.
                if needs_repair(kind, b)? {
                    head.bad_text = true;
                    Piece::Child(f.tag, b)
                } else {
                    Piece::Raw(f.raw)
                }
            }
            (t, Payload::Bytes(b)) if Message::Span.text(t) => {
                let (text, bad, piece) = Piece::text(t, f.raw, b);
                if t == tag::SPAN_NAME {
                    head.name = text;
                }
                head.bad_text |= bad;
                piece
            }
            _ => Piece::Raw(f.raw),
        };
        pieces.push(piece);
    }
    Ok(head)
}

/// A status's code (the last one sent, as the decoders read it).
fn status_code(status: &[u8]) -> Result<u64, Malformed> {
    let mut code = 0;
    for f in wire::fields_of(Message::Status, status) {
        let f = f?;
        if let (tag::STATUS_CODE, Payload::Varint(c)) = (f.tag, f.payload) {
            code = c;
        }
    }
    Ok(code)
}

/// An owned copy of a span attribute's value converted as `conv` asks, for
/// its ECS field (a non-scalar is copied only when kept as it is).
fn copied<'a>(value: &OutValue<'a>, conv: Conversion) -> Option<OutValue<'a>> {
    match value.as_in() {
        Some(scalar) => convert(&scalar, conv)
            .ok()
            .and_then(OutValue::into_value)
            .map(OutValue::Value),
        None if conv == Conversion::Keep => Some(value.clone()),
        None => None,
    }
}

/// The ECS fields of one Claude span, after its own attributes.
fn put_span_fields<'a>(out: &mut Attrs<'a>, name: &str, status_unset: bool, emitter: &'a Emitter) {
    let span_type = match out
        .get(&Key::plain("span.type"))
        .and_then(OutValue::scalar_text)
    {
        Some(t) => t.into_owned(),
        None => name.strip_prefix("claude_code.").unwrap_or(name).to_owned(),
    };
    let class: EventClass = (tables::SPAN_CLASSES.iter())
        .find(|(t, _)| *t == span_type)
        .map_or(tables::OTHER_SPAN, |(_, c)| *c);
    for &(from, to, conv) in tables::SPAN_RENAMES {
        // The source attribute stays as it came (the Traces Overview reads
        // `attributes.<source name>`); the ECS / GenAI field is a copy,
        // unless the span has that field itself.
        if out.contains(&Key::plain(to)) {
            continue;
        }
        if let Some(v) = out.get(&Key::plain(from)).and_then(|v| copied(v, conv)) {
            out.push(crate::ecs::model::attrs::AttrOut {
                key: Key::plain(to),
                value: v,
            });
        }
    }
    let success = out.get(&Key::plain("success")).and_then(OutValue::as_in);
    let outcome = success.as_ref().and_then(to_bool);
    out.set(Key::plain("ecs.version"), string(ECS_VERSION));
    out.set(Key::plain("event.kind"), string("event"));
    out.set(Key::plain("event.action"), string(span_type));
    if let Some((category, event_type)) = class.category_type {
        out.set(Key::plain("event.category"), string_array([category]));
        out.set(Key::plain("event.type"), string_array([event_type]));
    }
    out.set(Key::plain("event.provider"), string(emitter.provider));
    out.put(Key::plain("gen_ai.provider.name"), string("anthropic"));
    // The exporter writes event.outcome from a span's status when it has one.
    if status_unset {
        let outcome = match outcome {
            Some(true) => Some("success"),
            Some(false) => Some("failure"),
            None if class.failure => Some("failure"),
            None => None,
        };
        if let Some(o) = outcome {
            out.set(Key::plain("event.outcome"), string(o));
        }
    }
}

/// `related.user`: `user.email` (as the identity policy left it) and
/// `user.id`, those present, no duplicates.
pub(crate) fn put_related_user<'a>(out: &mut Attrs<'a>) {
    let mut users: Vec<Cow<'a, str>> = Vec::new();
    for key in ["user.email", "user.id"] {
        let user = out.get(&Key::plain(key)).and_then(OutValue::scalar_text);
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            if !users.contains(&u) {
                users.push(Cow::Owned(u.into_owned()));
            }
        }
    }
    if !users.is_empty() {
        out.set(Key::plain("related.user"), OutValue::Strings(users));
    }
}

/// What a span passes to its events.
#[derive(Clone, Copy)]
struct SpanContext<'r, 'a> {
    owner: Owner<'r, 'a>,
    trace_id: &'a [u8],
    span_id: &'a [u8],
}

impl<'a> Walk<'a> {
    /// Walks one `Span` of a resource of `owner`. Returns whether it changed.
    pub(crate) fn span(
        &mut self,
        bytes: &'a [u8],
        owner: Owner<'_, 'a>,
        level: &Level,
    ) -> Result<bool, Malformed> {
        let (mut attrs, mut pieces) = (self.pool.attrs_in(), self.pool.pieces());
        let mut out = self.pool.attrs_out();
        let head = read_span(bytes, &mut attrs, &mut pieces)?;
        let mut marks = Marks::new(level);
        if head.bad_text {
            marks.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        let mut changed = match owner {
            Owner::Claude { emitter, id_base } => {
                self.outcome.claude_items += 1;
                self.claude_attrs(ItemKind::Span, emitter, &mut attrs, &mut marks, &mut out)?;
                put_span_fields(&mut out, &head.name, head.status_unset, emitter);
                put_related_user(&mut out);
                let id = identity::ItemIdentity::Span {
                    trace_id: head.trace_id,
                    span_id: head.span_id,
                };
                let id = identity::document_id(id_base, &id)?;
                out.set(Key::plain(routing::DOCUMENT_ID_ATTRIBUTE), string(id));
                if self.finish_claude(emitter, marks, &mut out) {
                    self.outcome.pipeline_errors += 1;
                }
                let stored = signing::Stored::Span {
                    name: &head.name,
                    trace_id: head.trace_id,
                    span_id: head.span_id,
                    start: head.start,
                    end: head.end,
                };
                self.sign(&stored, &mut out);
                true
            }
            Owner::Other => {
                self.outcome.other_items += 1;
                self.other_attrs(ItemKind::Span, &mut attrs, &mut marks, &mut out)?;
                let changed = self.finish_other(marks, &mut out);
                self.outcome.other_items_changed += usize::from(changed);
                changed
            }
        };
        let context = SpanContext {
            owner,
            trace_id: head.trace_id,
            span_id: head.span_id,
        };
        let mut events = 0u64;
        let expected = 2 * bytes.len() + 512;
        self.put_item(
            tag::SCOPE_ITEMS_ITEMS,
            expected,
            &pieces,
            &out,
            tag::SPAN_ATTRIBUTES,
            None,
            |walk, field_tag, b| {
                if field_tag == tag::SPAN_EVENTS {
                    changed |= walk.span_event(b, &context, events, level)?;
                    events += 1;
                    return Ok(());
                }
                let kind = Message::Span.child(field_tag).unwrap_or(Message::Status);
                walk.put_repaired(kind, field_tag, b)
            },
        )?;
        self.pool.give_attrs_in(attrs);
        self.pool.give_pieces(pieces);
        self.pool.give_attrs_out(out);
        Ok(changed)
    }

    /// Walks one `Span.Event` (the `index`th of its span) and writes it.
    /// Returns whether it changed.
    fn span_event(
        &mut self,
        bytes: &'a [u8],
        span: &SpanContext<'_, 'a>,
        index: u64,
        level: &Level,
    ) -> Result<bool, Malformed> {
        let (mut attrs, mut out) = (self.pool.attrs_in(), self.pool.attrs_out());
        let mut pieces = self.pool.pieces();
        let mut marks = Marks::new(level);
        let (mut time, mut name, mut bad_name) = (0, Cow::Borrowed(""), false);
        for f in wire::fields_of(Message::SpanEvent, bytes) {
            let f = f?;
            let piece = match (f.tag, f.payload) {
                (tag::EVENT_ATTRIBUTES, Payload::Bytes(b)) => {
                    match Piece::attribute(&mut attrs, b)? {
                        Some(piece) => piece,
                        None => continue,
                    }
                }
                (tag::EVENT_NAME, Payload::Bytes(b)) => {
                    let (text, bad, piece) = Piece::text(f.tag, f.raw, b);
                    (name, bad_name) = (text, bad);
                    piece
                }
                (tag::EVENT_TIME, _) => {
                    time = f.fixed64().unwrap_or_default();
                    Piece::Raw(f.raw)
                }
                _ => Piece::Raw(f.raw),
            };
            pieces.push(piece);
        }
        if bad_name {
            marks.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        let changed = match span.owner {
            Owner::Claude { emitter, id_base } => {
                self.claude_attrs(
                    ItemKind::SpanEvent,
                    emitter,
                    &mut attrs,
                    &mut marks,
                    &mut out,
                )?;
                let id = identity::ItemIdentity::SpanEvent {
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    index,
                    time,
                    name: &name,
                };
                let id = identity::document_id(id_base, &id)?;
                out.set(Key::plain(routing::DOCUMENT_ID_ATTRIBUTE), string(id));
                self.finish_claude(emitter, marks, &mut out);
                let stored = signing::Stored::SpanEvent {
                    name: &name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    time,
                };
                self.sign(&stored, &mut out);
                true
            }
            Owner::Other => {
                self.other_attrs(ItemKind::SpanEvent, &mut attrs, &mut marks, &mut out)?;
                // Counted with its span.
                self.finish_other(marks, &mut out)
            }
        };
        let expected = 2 * bytes.len() + 128;
        self.put_item(
            tag::SPAN_EVENTS,
            expected,
            &pieces,
            &out,
            tag::EVENT_ATTRIBUTES,
            None,
            |_, _, _| Ok(()),
        )?;
        self.pool.give_pieces(pieces);
        self.pool.give_attrs_in(attrs);
        self.pool.give_attrs_out(out);
        Ok(changed)
    }
}
