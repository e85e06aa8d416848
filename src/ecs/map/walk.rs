//! The state of one walk over a request (`crate::ecs::stream` drives it):
//! the output being written, the scratch lists reused item after item, and
//! what each level passes to the items below it.

use crate::ecs::map::outcome::Outcome;
use crate::ecs::map::sealing::{SealResource, SealScratch};
use crate::ecs::model::attrs::{Attr, Attrs};
use crate::ecs::model::value::OutValue;
use crate::ecs::policy::routing::Tenant;
use crate::ecs::rules::emitters::Emitter;
use crate::ecs::rules::lookup::{AttributeLookup, Mapping};
use crate::otlp::Signal;
use crate::otlp::wire;
use sha2::Sha256;
use std::borrow::Cow;

/// The state of one walk: the output and scratch space reused item after
/// item.
pub(crate) struct Walk<'a> {
    /// The transformer's mapping.
    pub(crate) mapping: &'a Mapping,
    pub(crate) signal: Signal,
    pub(crate) tenant: Option<&'a Tenant<'a>>,
    pub(crate) out: Vec<u8>,
    pub(crate) outcome: Outcome,
    /// Whether anything in the request changed.
    pub(crate) changed: bool,
    /// The output attributes of the resource or scope being written.
    pub(crate) attrs: Attrs<'a>,
    pub(crate) lookups: Vec<AttributeLookup>,
    pub(crate) pool: Pool<'a>,
    /// With sealing on (logs, a signing key): the id of the request's seal,
    /// which its Claude records carry ([`crate::seal::FIELD_SEAL_ID`]).
    pub(crate) sealing: Option<&'a str>,
    /// The records sealed so far.
    pub(crate) sealed: Vec<crate::seal::SealedItem>,
    /// The field groups of the request's Claude resources
    /// ([`crate::seal::FIELD_GROUPS`]).
    pub(crate) seal_groups: Vec<String>,
    /// The seal state of the resource being walked (sealing only).
    pub(crate) seal_resource: Option<SealResource>,
    /// The stored fields of the Claude scope being walked (sealing only).
    pub(crate) seal_scope: std::collections::BTreeMap<String, serde_json::Value>,
    /// Space reused by each record's digest.
    pub(crate) seal_scratch: SealScratch,
}

/// Scratch lists handed out and taken back item after item, so a walk
/// allocates them once whatever the nesting (a span's list is in use while
/// its events take theirs).
#[derive(Default)]
pub(crate) struct Pool<'a> {
    attrs_in: Vec<Vec<Attr<'a>>>,
    attrs_out: Vec<Attrs<'a>>,
    pieces: Vec<Vec<Piece<'a>>>,
}

impl<'a> Pool<'a> {
    pub(crate) fn attrs_in(&mut self) -> Vec<Attr<'a>> {
        self.attrs_in.pop().unwrap_or_default()
    }
    pub(crate) fn attrs_out(&mut self) -> Attrs<'a> {
        self.attrs_out.pop().unwrap_or_default()
    }
    pub(crate) fn pieces(&mut self) -> Vec<Piece<'a>> {
        self.pieces.pop().unwrap_or_default()
    }
    pub(crate) fn give_attrs_in(&mut self, mut v: Vec<Attr<'a>>) {
        v.clear();
        self.attrs_in.push(v);
    }
    pub(crate) fn give_attrs_out(&mut self, mut v: Attrs<'a>) {
        v.clear();
        self.attrs_out.push(v);
    }
    pub(crate) fn give_pieces(&mut self, mut v: Vec<Piece<'a>>) {
        v.clear();
        self.pieces.push(v);
    }
}

/// A part of an item being written again: its fields in wire order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Piece<'a> {
    /// A field copied as it came.
    Raw(&'a [u8]),
    /// A string field whose text must be repaired.
    Text(u32, &'a [u8]),
    /// A log record's body as it came (replaced when it was rewritten).
    Body(&'a [u8]),
    /// Where the attributes go.
    Attributes,
    /// A nested message the item's module writes itself (a span's events,
    /// a metric's data, a link, status or exemplar whose text must be
    /// repaired): its field number and bytes.
    Child(u32, &'a [u8]),
}

impl<'a> Piece<'a> {
    /// A string field (`raw`, payload `bytes`): its text (read lossily),
    /// whether it was not UTF-8, and its piece (as it came, or to repair).
    pub(crate) fn text(
        field_tag: u32,
        raw: &'a [u8],
        bytes: &'a [u8],
    ) -> (Cow<'a, str>, bool, Piece<'a>) {
        let (text, bad) = wire::text(bytes);
        let piece = if bad {
            Piece::Text(field_tag, bytes)
        } else {
            Piece::Raw(raw)
        };
        (text, bad, piece)
    }

    /// Reads one attribute (`KeyValue` bytes) into `attrs`; the first one
    /// gives the piece that marks where the attributes are written.
    ///
    /// # Errors
    /// [`Malformed`] when the bytes are not protobuf.
    pub(crate) fn attribute(
        attrs: &mut Vec<Attr<'a>>,
        bytes: &'a [u8],
    ) -> Result<Option<Piece<'a>>, wire::Malformed> {
        attrs.push(Attr::read(bytes)?);
        Ok((attrs.len() == 1).then_some(Piece::Attributes))
    }
}

/// Whose resource is being walked.
#[derive(Clone, Copy)]
pub(crate) enum Owner<'r, 'a> {
    /// A Claude emitter's: every item is normalized.
    Claude {
        emitter: &'a Emitter,
        id_base: &'r Sha256,
    },
    /// Another sender's: only what the gateway owns changes.
    Other,
}

/// Whether a string field's bytes are not UTF-8.
pub(crate) fn bad_text(field: &wire::Field<'_>) -> bool {
    field
        .bytes()
        .is_some_and(|b| std::str::from_utf8(b).is_err())
}

/// Writes a string field, its text read lossily.
pub(crate) fn put_text(out: &mut Vec<u8>, field_tag: u32, bytes: &[u8]) {
    wire::put_bytes(out, field_tag, wire::text(bytes).0.as_bytes());
}

impl<'a> Walk<'a> {
    /// Writes one item again as field `field_tag` (about `expected` bytes):
    /// its `pieces` in wire order, `attrs` as its attributes (field
    /// `attr_tag`, where the first one was, else at the end), `body` in
    /// place of a log record's own when given, and each child through
    /// `child`.
    ///
    /// # Errors
    /// What `child` returns.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn put_item(
        &mut self,
        field_tag: u32,
        expected: usize,
        pieces: &[Piece<'a>],
        attrs: &Attrs<'a>,
        attr_tag: u32,
        body: Option<(u32, &OutValue<'_>)>,
        mut child: impl FnMut(&mut Self, u32, &'a [u8]) -> Result<(), wire::Malformed>,
    ) -> Result<(), wire::Malformed> {
        let open = wire::begin(&mut self.out, field_tag, expected);
        let mut attrs_written = false;
        for piece in pieces {
            match *piece {
                Piece::Raw(raw) => self.out.extend_from_slice(raw),
                Piece::Body(raw) => {
                    if body.is_none() {
                        self.out.extend_from_slice(raw);
                    }
                }
                Piece::Text(t, b) => put_text(&mut self.out, t, b),
                Piece::Attributes => {
                    attrs.encode(attr_tag, &mut self.out);
                    attrs_written = true;
                }
                Piece::Child(t, b) => child(self, t, b)?,
            }
        }
        if let Some((body_tag, body)) = body {
            wire::put_message(&mut self.out, body_tag, body);
        }
        if !attrs_written {
            attrs.encode(attr_tag, &mut self.out);
        }
        wire::end(&mut self.out, open);
        Ok(())
    }

    pub(crate) fn look_up(&mut self, attrs: &[Attr<'_>]) {
        self.lookups.clear();
        let mapping = self.mapping;
        self.lookups
            .extend(attrs.iter().map(|a| mapping.lookup.attribute(&a.key)));
    }
}
