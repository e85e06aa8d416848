//! The gateway's rules every item shares, whatever its signal: a log
//! record, a span, a span event, a data point. One set of rules over one
//! attribute model ([`Attr`] in, [`Attrs`] out):
//!
//! - **routing**: what a sender set in [`routing::ROUTING_ATTRIBUTES`] is
//!   removed on Claude items and under a tenant, and kept in
//!   [`routing::REQUESTED_ROUTING_FIELD`];
//! - **bounds**: attributes Elasticsearch would refuse (too deep, too many)
//!   move to one JSON text field ([`bounds::bound_attributes`]), through
//!   the content policy like every other value;
//! - **content and identity policy** on every attribute the tables give a
//!   class ([`crate::ecs::rules::tables::CONTENT_ATTRIBUTES`]);
//! - **UTF-8**: text that is not is read with U+FFFD and the item marked;
//! - **marks**: `error.message`, `event.kind: pipeline_error` and `tags` on
//!   a Claude item the gateway had to change, tags on another sender's.
//!
//! Log records add the ECS mapping on top ([`super::record`]), spans their
//! ECS copies ([`super::span`]).

use crate::ecs::map::marks::{INVALID_UTF8, ItemKind, Marks};
use crate::ecs::map::walk::{Walk, bad_text, put_text};
use crate::ecs::model::attrs::{Attr, AttrOut, Attrs, Key};
use crate::ecs::model::value::{InValue, OutValue, string, string_array};
use crate::ecs::policy::bounds::BOUNDED_TAG;
use crate::ecs::policy::bounds::INVALID_UTF8_TAG;
use crate::ecs::policy::routing::ORGANIZATION_MISMATCH_TAG;
use crate::ecs::policy::{bounds, routing};
use crate::ecs::rules::emitters::Emitter;
use crate::ecs::rules::lookup::Mapping;
use crate::otlp::wire::{self, Malformed, Message, Payload};
use std::borrow::Cow;

/// An attribute's value as a content rule reads it: text as text (so the
/// common case stays borrowed), anything else as it came.
///
/// # Errors
/// [`Malformed`] when a nested value is not protobuf.
pub(crate) fn content_value<'a>(a: &Attr<'a>) -> Result<OutValue<'a>, Malformed> {
    Ok(match &a.value {
        InValue::Str(s) => OutValue::Str(s.clone()),
        _ => a.kept()?.value,
    })
}

/// Whether a nested message that carries no mapping (a span link, a
/// status, an exemplar) has text that is not UTF-8, in its string fields
/// or its attributes; checks that it reads as the decoders read it.
///
/// # Errors
/// [`Malformed`] when it is not protobuf.
pub(crate) fn needs_repair(kind: Message, body: &[u8]) -> Result<bool, Malformed> {
    let attr_tag = kind.attributes();
    let mut bad = false;
    for f in wire::fields_of(kind, body) {
        let f = f?;
        match f.payload {
            Payload::Bytes(b) if Some(f.tag) == attr_tag => {
                let a = Attr::read(b)?;
                bad |= a.repaired || bounds::shape(&a.value)?.bad_text;
            }
            Payload::Bytes(b) if kind.child(f.tag).is_some() => {
                let child = kind.child(f.tag).unwrap_or(kind);
                bad |= needs_repair(child, b)?;
            }
            _ => bad |= kind.text(f.tag) && bad_text(&f),
        }
    }
    Ok(bad)
}

impl<'a> Walk<'a> {
    /// The rules on a Claude span's, span event's or data point's
    /// attributes, in this order: the sender's routing removed, the bounds
    /// (what moves goes through the content policy too), text repaired,
    /// the content and identity policy on every attribute with a class.
    /// What is kept is written into `out`.
    ///
    /// # Errors
    /// [`Malformed`] when a nested value is not protobuf.
    pub(crate) fn claude_attrs(
        &mut self,
        kind: ItemKind,
        emitter: &'a Emitter,
        attrs: &mut Vec<Attr<'a>>,
        marks: &mut Marks<'a>,
        out: &mut Attrs<'a>,
    ) -> Result<(), Malformed> {
        let mapping: &'a Mapping = self.mapping;
        routing::take_routing(attrs, kind.level(), &mut marks.requested);
        let mut overflow =
            bounds::bound_attributes(attrs, bounds::ATTRIBUTE_PREFIX_DEPTH, |_| false)?;
        if !overflow.is_empty() {
            overflow.apply_content(
                |k| mapping.lookup.attribute(k).class,
                &mapping.settings.content,
                &mut marks.redactions,
            );
            let key = Key {
                prefix: emitter.vendor_prefix,
                name: Cow::Borrowed(bounds::OVERFLOW_ATTRIBUTE),
            };
            let field = format!("{}{}", emitter.vendor_prefix, bounds::OVERFLOW_ATTRIBUTE);
            marks.notes.add(overflow.reason(&field), BOUNDED_TAG);
            marks.overflow = Some((key, overflow.to_text()));
        }
        if attrs.iter().any(|a| a.repaired) {
            marks.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        for a in attrs.iter() {
            let class = mapping.lookup.attribute(&a.key).class;
            match class {
                Some(class) if !matches!(a.value, InValue::Empty) => {
                    let v = content_value(a)?;
                    let kept = mapping
                        .settings
                        .content
                        .apply_out(class, v, &mut marks.redactions);
                    if let Some(value) = kept {
                        out.push(AttrOut {
                            key: Key::plain(a.key.clone()),
                            value,
                        });
                    }
                }
                _ => out.push(a.kept()?),
            }
        }
        Ok(())
    }

    /// The fields the gateway adds to every Claude span, span event and
    /// data point, after the item's own: `labels.tenant`, the
    /// `organization.id` check, the routing the sender asked for, what the
    /// content policy did (`<vendor>redacted`, `<vendor>redacted_secrets`),
    /// the moved attributes, and the marks (`error.message`, `event.kind:
    /// pipeline_error`, `tags`). Returns whether the item was marked
    /// `pipeline_error`.
    pub(crate) fn finish_claude(
        &self,
        emitter: &'a Emitter,
        marks: Marks<'a>,
        out: &mut Attrs<'a>,
    ) -> bool {
        let mapping: &'a Mapping = self.mapping;
        let settings = &mapping.settings;
        if let Some(tenant) = self.tenant.filter(|_| settings.config.tenant.set_label) {
            out.set(Key::plain("labels.tenant"), string(tenant.identity));
        }
        let claimed = (out.get(&Key::plain("organization.id")))
            .and_then(OutValue::scalar_text)
            .map(Cow::into_owned);
        if claimed.is_some_and(|org| !settings.may_claim(self.tenant, &org)) {
            routing::add_tag(out, ORGANIZATION_MISMATCH_TAG);
        }
        routing::mark_overridden(out, &marks.requested);
        let vendor = |name: &'static str| Key {
            prefix: emitter.vendor_prefix,
            name: Cow::Borrowed(name),
        };
        let classes = marks.redactions.classes();
        if !classes.is_empty() {
            out.set(vendor("redacted"), string_array(classes));
        }
        if marks.redactions.secrets > 0 {
            let count = i64::try_from(marks.redactions.secrets).unwrap_or(i64::MAX);
            out.set(vendor("redacted_secrets"), OutValue::Int(count));
        }
        if let Some((key, text)) = marks.overflow {
            out.set(key, string(text));
        }
        let failed = !marks.notes.errors.is_empty();
        if failed {
            out.set(
                Key::plain("error.message"),
                string(marks.notes.errors.join("; ")),
            );
            out.set(Key::plain("event.kind"), string("pipeline_error"));
        }
        for tag in &marks.notes.tags {
            routing::add_tag(out, tag);
        }
        failed
    }

    /// The rules on another sender's item's attributes: under a tenant the
    /// routing is the gateway's; the bounds; text repaired. What is kept is
    /// written into `out`.
    ///
    /// # Errors
    /// [`Malformed`] when a nested value is not protobuf.
    pub(crate) fn other_attrs(
        &mut self,
        kind: ItemKind,
        attrs: &mut Vec<Attr<'a>>,
        marks: &mut Marks<'a>,
        out: &mut Attrs<'a>,
    ) -> Result<(), Malformed> {
        if self.tenant.is_some() {
            routing::take_routing(attrs, kind.level(), &mut marks.requested);
        }
        let overflow = bounds::bound_attributes(attrs, bounds::ATTRIBUTE_PREFIX_DEPTH, |_| false)?;
        if !overflow.is_empty() {
            let field = format!("cowork_ecs.{}", bounds::OVERFLOW_ATTRIBUTE);
            marks.notes.add(overflow.reason(&field), BOUNDED_TAG);
            marks.overflow = Some((Key::plain(field), overflow.to_text()));
        }
        if attrs.iter().any(|a| a.repaired) {
            marks.notes.add(INVALID_UTF8, INVALID_UTF8_TAG);
        }
        for a in attrs.iter() {
            out.push(a.kept()?);
        }
        Ok(())
    }

    /// What the gateway adds to another sender's item: the moved
    /// attributes, the tags, the routing it overrode. Returns whether the
    /// item changed.
    pub(crate) fn finish_other(&self, marks: Marks<'a>, out: &mut Attrs<'a>) -> bool {
        if let Some((key, text)) = marks.overflow {
            out.set(key, string(text));
        }
        for tag in &marks.notes.tags {
            routing::add_tag(out, tag);
        }
        let changed =
            self.tenant.is_some() || !marks.notes.tags.is_empty() || !marks.requested.is_empty();
        routing::mark_overridden(out, &marks.requested);
        changed
    }

    /// Writes a nested message that carries no mapping (field `field_tag`
    /// of kind `kind`: a span link, a status, an exemplar) whose text must
    /// be repaired ([`needs_repair`] said so; the caller copies the others
    /// as they came): its string fields and attributes read lossily.
    ///
    /// # Errors
    /// [`Malformed`] when it is not protobuf.
    pub(crate) fn put_repaired(
        &mut self,
        kind: Message,
        field_tag: u32,
        body: &'a [u8],
    ) -> Result<(), Malformed> {
        let attr_tag = kind.attributes();
        let open = wire::begin(&mut self.out, field_tag, body.len() + 16);
        for f in wire::fields_of(kind, body) {
            let f = f?;
            match f.payload {
                Payload::Bytes(b) if Some(f.tag) == attr_tag => {
                    let mut a = Attr::read(b)?;
                    a.repaired |= bounds::shape(&a.value)?.bad_text;
                    let kept = a.kept()?;
                    wire::put_key_value(&mut self.out, f.tag, "", &kept.key.name, &kept.value);
                }
                Payload::Bytes(b) if kind.child(f.tag).is_some() => {
                    let child = kind.child(f.tag).unwrap_or(kind);
                    if needs_repair(child, b)? {
                        self.put_repaired(child, f.tag, b)?;
                    } else {
                        self.out.extend_from_slice(f.raw);
                    }
                }
                Payload::Bytes(b) if kind.text(f.tag) && bad_text(&f) => {
                    put_text(&mut self.out, f.tag, b)
                }
                _ => self.out.extend_from_slice(f.raw),
            }
        }
        wire::end(&mut self.out, open);
        Ok(())
    }
}
