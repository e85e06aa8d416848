//! Log records in the walk ([`crate::ecs::stream`]): a Claude record is mapped to
//! ECS ([`crate::ecs::map::record::normalize`]) with its fields (timestamps,
//! severity, body, trace context) kept byte for byte; another sender's
//! record gets only what the gateway owns ([`super::item`]).

use crate::ecs::map::marks::{INVALID_UTF8, ItemKind, Level, Marks, Notes};
use crate::ecs::map::record::{self, Input, Record};
use crate::ecs::map::signing;
use crate::ecs::map::walk::{Owner, Piece, Walk};
use crate::ecs::model::attrs::{Attr, Attrs, Key};
use crate::ecs::model::value::{InValue, OutValue, string};
use crate::ecs::policy::bounds::BOUNDED_TAG;
use crate::ecs::policy::bounds::INVALID_UTF8_TAG;
use crate::ecs::policy::{bounds, identity, routing};
use crate::ecs::rules::emitters::Emitter;
use crate::ecs::rules::lookup::Mapping;
use crate::ecs::rules::tables::Slot;
use crate::otlp::wire::{self, Malformed, Message, Payload, tag};
use sha2::Sha256;
use std::borrow::Cow;

/// A record's fields read in one pass.
struct RecordHead<'a> {
    /// The body's `AnyValue` bytes (empty when it has none).
    body: &'a [u8],
    event_name: Cow<'a, str>,
    /// `time_unix_nano`, else `observed_time_unix_nano`.
    time: u64,
    /// Whether its event name or severity text is not UTF-8.
    bad_text: bool,
    /// What the exporter stores besides its attributes (seals:
    /// [`signing::Stored::LogRecord`]).
    severity_number: u64,
    severity_text: Cow<'a, str>,
    trace_id: &'a [u8],
    span_id: &'a [u8],
}

/// Reads a record's fields: its attributes into `attrs`, and into `pieces`
/// how to write it again (its fields as they came, text to repair, where
/// the body and the attributes go).
fn read_record<'a>(
    bytes: &'a [u8],
    attrs: &mut Vec<Attr<'a>>,
    pieces: &mut Vec<Piece<'a>>,
) -> Result<RecordHead<'a>, Malformed> {
    let mut head = RecordHead {
        body: &[],
        event_name: Cow::Borrowed(""),
        time: 0,
        bad_text: false,
        severity_number: 0,
        severity_text: Cow::Borrowed(""),
        trace_id: &[],
        span_id: &[],
    };
    let mut observed = 0;
    for f in wire::fields_of(Message::LogRecord, bytes) {
        let f = f?;
        let piece = match (f.tag, f.payload) {
            (tag::RECORD_ATTRIBUTES, Payload::Bytes(b)) => match Piece::attribute(attrs, b)? {
                Some(piece) => piece,
                None => continue,
            },
            (tag::RECORD_BODY, Payload::Bytes(b)) => {
                // A body sent twice: pdata keeps the last (its value is a
                // oneof), so the transform reads and writes only that one;
                // each must still read as the decoders read it (a record
                // may be copied as it came).
                bounds::shape(&InValue::read(wire::any(b)?, b).0)?;
                pieces.retain(|p| !matches!(p, Piece::Body(_)));
                head.body = b;
                Piece::Body(f.raw)
            }
            (tag::RECORD_EVENT_NAME | tag::RECORD_SEVERITY_TEXT, Payload::Bytes(b)) => {
                let (text, bad, piece) = Piece::text(f.tag, f.raw, b);
                if f.tag == tag::RECORD_EVENT_NAME {
                    head.event_name = text;
                } else {
                    head.severity_text = text;
                }
                head.bad_text |= bad;
                piece
            }
            (tag::RECORD_TIME, _) => {
                head.time = f.fixed64().unwrap_or_default();
                Piece::Raw(f.raw)
            }
            (tag::RECORD_SEVERITY_NUMBER, Payload::Varint(n)) => {
                head.severity_number = n;
                Piece::Raw(f.raw)
            }
            (tag::RECORD_TRACE_ID, Payload::Bytes(b)) => {
                head.trace_id = b;
                Piece::Raw(f.raw)
            }
            (tag::RECORD_SPAN_ID, Payload::Bytes(b)) => {
                head.span_id = b;
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
    let (text, shape) = bounds::bound_body(body)?;
    if let Some(text) = text {
        let why = format!(
            "body nested deeper than {} levels kept as JSON text",
            bounds::MAX_FIELD_DEPTH
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
    /// Walks one `LogRecord` of a resource of `owner`. Returns whether it
    /// changed.
    pub(crate) fn log_record(
        &mut self,
        bytes: &'a [u8],
        owner: Owner<'_, 'a>,
        level: &Level,
    ) -> Result<bool, Malformed> {
        let (mut attrs, mut pieces) = (self.pool.attrs_in(), self.pool.pieces());
        let mut out = self.pool.attrs_out();
        let head = read_record(bytes, &mut attrs, &mut pieces)?;
        let (changed, body) = match owner {
            Owner::Claude { emitter, id_base } => {
                let body = self
                    .claude_record(bytes, &head, emitter, level, id_base, &mut attrs, &mut out)?;
                (true, body)
            }
            Owner::Other => self.other_record(&head, level, &mut attrs, &mut out)?,
        };
        // A Claude record gains about 20 attributes.
        let body = body.as_ref().map(|b| (tag::RECORD_BODY, b));
        self.put_item(
            tag::SCOPE_ITEMS_ITEMS,
            2 * bytes.len() + 512,
            &pieces,
            &out,
            tag::RECORD_ATTRIBUTES,
            body,
            |_, _, _| Ok(()),
        )?;
        self.pool.give_attrs_in(attrs);
        self.pool.give_pieces(pieces);
        self.pool.give_attrs_out(out);
        Ok(changed)
    }

    /// A Claude record mapped to ECS into `out`; returns the body to write
    /// in place of its own, if it must change.
    #[allow(clippy::too_many_arguments)]
    fn claude_record(
        &mut self,
        bytes: &'a [u8],
        head: &RecordHead<'a>,
        emitter: &'a Emitter,
        level: &Level,
        id_base: &Sha256,
        attrs: &mut Vec<Attr<'a>>,
        out: &mut Attrs<'a>,
    ) -> Result<Option<OutValue<'a>>, Malformed> {
        self.outcome.claude_items += 1;
        let mut notes = level.notes.clone();
        let (body, body_bad) = InValue::read(wire::any(head.body)?, head.body);

        self.look_up(attrs);
        let mut requested = level.requested.clone();
        let routing = (attrs.iter().zip(&self.lookups)).filter(|(_, l)| l.routing);
        routing::note_routing(
            routing.map(|(a, _)| a),
            ItemKind::Record.level(),
            &mut requested,
        );
        let input = Input::new(attrs, &self.lookups);
        let name = record::event_name(head.event_name.clone(), &input, &body);
        let session_sequence = input
            .get_text(Slot::SessionId)
            .zip(input.get_text(Slot::EventSequence));
        let identity = identity::RecordIdentity {
            session_sequence: session_sequence.as_ref().map(|(s, q)| (&**s, &**q)),
            time: head.time,
            raw: bytes,
        };
        let id = identity::document_id(id_base, &identity::ItemIdentity::Record(identity, &name))?;

        let mapping: &'a Mapping = self.mapping;
        let overflow = bounds::bound_attributes(attrs, bounds::ATTRIBUTE_PREFIX_DEPTH, |k| {
            mapping.lookup.attribute(k).class.is_some()
        })?;
        if !overflow.is_empty() {
            let field = format!("{}{}", emitter.vendor_prefix, bounds::OVERFLOW_ATTRIBUTE);
            notes.add(overflow.reason(&field), BOUNDED_TAG);
            self.look_up(attrs);
        }
        let new_body = rewrite_body(&body, body_bad, &mut notes)?;
        if head.bad_text || attrs.iter().any(|a| a.repaired) {
            notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }

        let input = Input::new(attrs, &self.lookups);
        let record = Record {
            input: &input,
            name: &name,
            raw: bytes,
            notes: &notes,
        };
        if record::normalize(&record, emitter, mapping, self.tenant, out)? {
            self.outcome.pipeline_errors += 1;
        }
        if !overflow.is_empty() {
            let key = Key {
                prefix: emitter.vendor_prefix,
                name: Cow::Borrowed(bounds::OVERFLOW_ATTRIBUTE),
            };
            out.set(key, string(overflow.to_text()));
        }
        routing::mark_overridden(out, &requested);
        out.set(Key::plain(routing::DOCUMENT_ID_ATTRIBUTE), string(id));
        let message = match &new_body {
            Some(OutValue::Str(s)) => Some(&**s),
            Some(OutValue::Value(crate::otlp::Value::StringValue(s))) => Some(s.as_str()),
            Some(_) => None,
            None => match &body {
                InValue::Str(s) => Some(&**s),
                _ => None,
            },
        };
        let stored = signing::Stored::LogRecord {
            time: head.time,
            message,
            severity_number: head.severity_number,
            severity_text: &head.severity_text,
            trace_id: head.trace_id,
            span_id: head.span_id,
        };
        if self.sealing.is_some() {
            self.seal_record(&stored, out);
        } else {
            self.sign(&stored, out);
        }
        Ok(new_body)
    }

    /// A record of another sender: what the gateway owns is taken (under a
    /// tenant), values Elasticsearch would refuse bounded, text that is not
    /// UTF-8 repaired, each tagged. Returns whether it changed, and the
    /// body to write in place of its own.
    fn other_record(
        &mut self,
        head: &RecordHead<'a>,
        level: &Level,
        attrs: &mut Vec<Attr<'a>>,
        out: &mut Attrs<'a>,
    ) -> Result<(bool, Option<OutValue<'a>>), Malformed> {
        self.outcome.other_items += 1;
        let mut marks = Marks::new(level);
        if self.tenant.is_some() {
            routing::take_routing(attrs, ItemKind::Record.level(), &mut marks.requested);
        }
        let overflow = bounds::bound_attributes(attrs, bounds::ATTRIBUTE_PREFIX_DEPTH, |_| false)?;
        if !overflow.is_empty() {
            let field = format!("cowork_ecs.{}", bounds::OVERFLOW_ATTRIBUTE);
            marks.notes.add(overflow.reason(&field), BOUNDED_TAG);
            marks.overflow = Some((Key::plain(field), overflow.to_text()));
        }
        let (body, body_bad) = InValue::read(wire::any(head.body)?, head.body);
        let new_body = rewrite_body(&body, body_bad, &mut marks.notes)?;
        if head.bad_text || attrs.iter().any(|a| a.repaired) {
            marks.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        for a in attrs.iter() {
            out.push(a.kept()?);
        }
        let changed = self.finish_other(marks, out);
        self.outcome.other_items_changed += usize::from(changed);
        Ok((changed, new_body))
    }
}
