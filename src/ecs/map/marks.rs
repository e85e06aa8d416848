//! What the gateway notes about an item on its way through, written onto
//! it at the end: problems and tags ([`Notes`]), and with them the
//! routing a sender asked for, the content policy's redactions and the
//! attributes the bounds moved ([`Marks`]).

use crate::ecs::model::attrs::Key;
use crate::ecs::policy::bounds::{BOUNDED_TAG, INVALID_UTF8_TAG};
use crate::ecs::policy::content::Redactions;

/// What the transform found about an item before mapping it: problems
/// that mark it `pipeline_error` (each becomes part of `error.message`) and
/// tags to add.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notes {
    pub(crate) errors: Vec<String>,
    pub(crate) tags: Vec<&'static str>,
}

impl Notes {
    /// Adds a problem and its tag (each once).
    pub(crate) fn add(&mut self, why: impl Into<String>, tag: &'static str) {
        let why = why.into();
        if !self.errors.contains(&why) {
            self.errors.push(why);
        }
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
    }
}

/// `error.message` part of an item with text that was not UTF-8.
pub(crate) const INVALID_UTF8: &str =
    "text that is not valid UTF-8 was read with U+FFFD replacement characters";

/// The kinds of item, by the level name their routing entries carry
/// (`"<level>:<key>=<value>"` in [`crate::ecs::policy::routing::REQUESTED_ROUTING_FIELD`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// A log record.
    Record,
    /// A span.
    Span,
    /// A span event.
    SpanEvent,
    /// A metric data point.
    DataPoint,
}

impl ItemKind {
    /// The level name in requested-routing entries.
    pub(crate) fn level(self) -> &'static str {
        match self {
            ItemKind::Record => "record",
            ItemKind::Span => "span",
            ItemKind::SpanEvent => "event",
            ItemKind::DataPoint => "data_point",
        }
    }
}

/// What the gateway found about one item on its way through, written onto
/// it at the end (`Walk::finish_claude`, `Walk::finish_other` in [`crate::ecs::map::item`]).
#[derive(Default)]
pub(crate) struct Marks<'a> {
    /// Problems (`error.message`) and tags.
    pub(crate) notes: Notes,
    /// Routing the sender asked for, at every level down to the item.
    pub(crate) requested: Vec<String>,
    /// What the content policy did.
    pub(crate) redactions: Redactions,
    /// The attributes the bounds moved: the field and its JSON text.
    pub(crate) overflow: Option<(Key<'a>, String)>,
}

impl Marks<'_> {
    /// The marks an item starts with: those of the levels above it.
    pub(crate) fn new(level: &Level) -> Self {
        Marks {
            notes: level.notes.clone(),
            requested: level.requested.clone(),
            ..Marks::default()
        }
    }
}

/// What a resource and a scope (and a metric, for its data points) pass on
/// to the items below them.
#[derive(Clone, Default)]
pub(crate) struct Level {
    /// Problems and tags every item below gets.
    pub(crate) notes: Notes,
    /// Routing the sender asked for at this level ([`crate::ecs::policy::routing`]).
    pub(crate) requested: Vec<String>,
}

impl Level {
    /// Notes a bound (its reason) and a repair; returns whether either happened.
    pub(crate) fn mark(&mut self, bounded: Option<String>, repaired: bool) -> bool {
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
