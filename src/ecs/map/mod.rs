//! The mapping of each kind of item, over the state of one walk (`walk`):
//! the rules every item shares (`item`, with its `marks`), log records
//! (`log`, mapped to ECS by `record`), spans with their events and links
//! (`span`), metrics and their data points (`metric`); the signature of a
//! record as stored (`signing`); what a walk counts (`outcome`). Imports `model`,
//! `policy` and `rules` below it; `stream` above walks the requests down
//! to these items.

pub(crate) mod item;
pub(crate) mod log;
pub(crate) mod marks;
pub(crate) mod metric;
pub mod outcome;
pub(crate) mod record;
pub(crate) mod sealing;
pub(crate) mod signing;
pub(crate) mod span;
pub(crate) mod walk;
