//! Elasticsearch data stream naming, in one place: a data stream is
//! `<type>-<dataset>-<namespace>` (`logs`, `traces`, `metrics`), and the
//! rules below keep every name this project writes or accepts valid:
//! configuration validation ([`validate_part`]), a tenant identity made a
//! namespace ([`sanitize_namespace`]), the datasets of spans and metrics,
//! and `cowork-ecs setup`.

use crate::error::{Error, Result};

/// Characters Elasticsearch's data stream naming forbids in a dataset or
/// namespace (the separator `-` included).
pub const FORBIDDEN: &[char] = &[
    '-', ' ', '\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':',
];

/// Longest dataset or namespace, in bytes.
pub const MAX_PART_BYTES: usize = 100;

/// `data_stream.dataset` of Claude Code spans, as the processor writes it:
/// spans are written in the exporter's OTel mapping mode, which appends
/// [`OTEL_SUFFIX`], so they land in `traces-claude_code.otel-<namespace>`
/// (where Elastic's "[Claude Code] Traces Overview" reads them) and their
/// span events in `logs-claude_code.otel-<namespace>`.
pub const CLAUDE_CODE_TRACES_DATASET: &str = "claude_code";
/// `data_stream.dataset` of Claude Code metrics.
pub const CLAUDE_CODE_METRICS_DATASET: &str = "claude_code.metrics";
/// `data_stream.dataset` of Cowork spans (OTel mode, as
/// [`CLAUDE_CODE_TRACES_DATASET`]): `traces-claude_cowork.otel-<namespace>`.
pub const COWORK_TRACES_DATASET: &str = "claude_cowork";
/// What the exporter's OTel mapping mode appends to every dataset
/// (`logs-*.otel-*`, `traces-*.otel-*`: Elasticsearch's OTel templates).
pub const OTEL_SUFFIX: &str = ".otel";
/// `data_stream.dataset` of Cowork metrics.
pub const COWORK_METRICS_DATASET: &str = "claude_cowork.metrics";

/// Checks a `data_stream.dataset` / `namespace` value: not empty, at most
/// [`MAX_PART_BYTES`], lowercase, none of [`FORBIDDEN`], not starting with
/// `_`, `+` or `.`. `field` names it in the error.
///
/// # Errors
/// [`Error::ConfigInvalid`] naming `field` and the broken rule.
pub fn validate_part(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::config(field, "must not be empty"));
    }
    if value.len() > MAX_PART_BYTES {
        return Err(Error::config(
            field,
            format!("must be at most {MAX_PART_BYTES} bytes"),
        ));
    }
    if value.chars().any(|c| c.is_uppercase()) {
        return Err(Error::config(field, format!("{value:?} must be lowercase")));
    }
    if let Some(c) = value.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(Error::config(
            field,
            format!("{value:?} must not contain {c:?} (Elasticsearch data stream naming)"),
        ));
    }
    if value.starts_with(['_', '+', '.']) {
        return Err(Error::config(
            field,
            format!("{value:?} must not start with '_', '+' or '.'"),
        ));
    }
    Ok(())
}

/// An identity as a `data_stream.namespace`: lowercase, [`FORBIDDEN`] and
/// control characters replaced by `_`, no leading `_ + .`, at most
/// [`MAX_PART_BYTES`]. `None` if nothing is left.
pub fn sanitize_namespace(identity: &str) -> Option<String> {
    let mut s = underscored(identity.trim(), |c| c.is_control());
    let trimmed = s.trim_start_matches(['_', '+', '.']).len();
    s.drain(..s.len() - trimmed);
    while s.len() > MAX_PART_BYTES {
        s.pop();
    }
    (!s.is_empty()).then_some(s)
}

/// `text` lowercased, with [`FORBIDDEN`] characters (and those `also`
/// picks) replaced by `_`.
fn underscored(text: &str, also: impl Fn(char) -> bool) -> String {
    (text.to_lowercase().chars())
        .map(|c| {
            if FORBIDDEN.contains(&c) || also(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}
