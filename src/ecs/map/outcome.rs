//! What one walk counts of the items it wrote ([`Outcome`]; the public
//! front re-exports it).

/// What one transform did, counted in items: log records, spans (their
/// events go with them) or metric data points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Items normalized (those under a Claude resource).
    pub claude_items: usize,
    /// Of those, items marked `event.kind: pipeline_error` (mapping.md §4:
    /// a value that did not convert, a bound, text that was not UTF-8).
    pub pipeline_errors: usize,
    /// Items not under a Claude resource (mapping.md §3): left as they
    /// are unless the gateway had to re-route or bound them.
    pub other_items: usize,
    /// Of those, items the gateway changed: routing a sender may not set
    /// removed (tenant namespace set), values bounded, or text that was not
    /// UTF-8 read lossily (`crate::ecs::gateway`).
    pub other_items_changed: usize,
}
