//! `cowork-ecs verify`: reads the stored Claude documents (log records,
//! spans, span events, data points) and the seals of the gateways back
//! from Elasticsearch (README "Tamper evidence").
//!
//! - Seals ([`cowork_ecs::seal`]): per chain, a seal edited or forged (its
//!   signature), missing (a gap in the numbers, a broken link, a tail the
//!   next chain names), a chain silent for longer than two intervals
//!   without its closing seal; a chain that ended without a closing seal
//!   and was continued by the next start is a crash, named, not tampering.
//!   Per record a seal lists: gone (**deleted**, under its session, so a
//!   whole deleted session is named), present but different (**modified**:
//!   an edited, removed or added field), and a sealed record stored under
//!   another id (**moved**); a record marked with a seal but in no seal is
//!   **inserted**.
//! - Spans, span events and data points: their signatures and each
//!   session's sequence, as before seals: a modified document (and which
//!   fields), missing sequence numbers, an inserted one (unsigned, or a
//!   second one for a number), a bad signature, a key it does not know, a
//!   key revoked.
//!
//! Per session it reports `intact`, or each problem.
//!
//! It reads in pages, so its memory is bounded by a page, the seals' heads
//! and the problems found, not by the number of documents:
//! 1. the seals of the window ([`SEAL_PAGE`](source::SEAL_PAGE) at a
//!    time): each one's signature, a compact head for the chain checks,
//!    and its records, found by the seal they name
//!    ([`seal::FIELD_SEAL_ID`](cowork_ecs::seal::FIELD_SEAL_ID), any time)
//!    and by id for the rest;
//! 2. the documents of the window ([`PAGE`](source::PAGE) at a time),
//!    folded into a summary per session (count, sequence numbers as runs,
//!    findings);
//! 3. the seals the documents name that step 1 did not check (outside the
//!    window, or gone), fetched by id.

mod checker;
mod progress;
mod report;
mod sequence;
mod signed;
mod source;
mod window;

use crate::elasticsearch::Client;
use checker::verify_all;
use cowork_ecs::signature;
use ed25519_dalek::VerifyingKey;
use progress::{Progress, is_terminal};
use report::findings;
use serde_json::json;
use source::{Elastic, clip};
use std::collections::HashMap;
use window::{now_ns, until_bound};

/// The seals of every gateway.
pub const SEAL_INDEX: &str = "logs-cowork_ecs.seals-*";

/// The default documents: the log records, spans, span events and data points of both emitters.
pub const DEFAULT_INDEX: &str = "logs-claude_code.events.otel-*,logs-claude_cowork.events.otel-*,\
traces-claude_code.otel-*,traces-claude_cowork.otel-*,logs-claude_code.otel-*,logs-claude_cowork.otel-*,\
metrics-claude_code.metrics-*,metrics-claude_cowork.metrics-*";
/// The default end of the window (`--until`): two seal intervals of the
/// shipped gateway (10 s) before now, so that what is still being written
/// (a request's records and its seal, a chain's next seal) is left to the
/// next run.
pub const DEFAULT_UNTIL: &str = "now-20s";

/// What to check.
pub struct Verify {
    /// Index pattern(s) to read.
    pub index: String,
    /// Only this session.
    pub session: Option<String>,
    /// Only documents at or after this time (`@timestamp`, as Elasticsearch reads a date).
    pub since: Option<String>,
    /// Only documents and seals at or before this time (`now`, `now-<n><s|m|h|d|w>`
    /// or RFC 3339, resolved once; other dates are handed to Elasticsearch as they are).
    pub until: Option<String>,
    /// Keys whose signatures are good, by key id.
    pub trusted: HashMap<String, VerifyingKey>,
    /// Keys no longer trusted (rotated out after a leak), by key id.
    pub revoked: HashMap<String, VerifyingKey>,
    /// Where to write each finding as a document (`--report-index`).
    pub report_index: Option<String>,
}

/// Reads the documents and the seals in pages, checks them and prints a
/// report; `Ok(true)` when every chain and session is intact.
///
/// # Errors
/// Elasticsearch refuses or cannot be reached.
pub fn run(client: &Client, v: &Verify) -> Result<bool, String> {
    let now = now_ns();
    let (until_filter, end) = until_bound(v.until.as_deref(), now);
    let mut window = Vec::new();
    if let Some(since) = &v.since {
        window.push(json!({"range": {"@timestamp": {"gte": since}}}));
    }
    window.extend(until_filter);
    let source = Elastic { client, v, window };
    let progress = Progress::new(is_terminal());
    // Seals list Claude log records (the events data streams) only.
    let seals = v.index.contains(".events.");
    let outcome = verify_all(&source, v, end, seals, progress)?;
    // Every document read and every record a seal found wrong has a session
    // line: none and no chain line is nothing matched.
    if outcome.chain_lines.is_empty() && outcome.session_lines.is_empty() {
        println!("no documents in {} match: nothing verified", v.index);
        return Ok(false);
    }
    let chains_intact = outcome.chain_lines.iter().all(|(ok, _)| *ok);
    for (_, line) in &outcome.chain_lines {
        println!("{line}");
    }
    for line in &outcome.session_lines {
        println!("{line}");
    }
    if let Some(index) = &v.report_index {
        let chain_lines = outcome.chain_lines.iter().map(|(_, l)| l.as_str());
        let lines = chain_lines.chain(outcome.session_lines.iter().map(String::as_str));
        let findings = findings(lines);
        for doc in &findings {
            let (status, body) = client.call("POST", &format!("{index}/_doc"), Some(doc))?;
            if !(200..300).contains(&status) {
                return Err(format!("report to {index}: HTTP {status}: {}", clip(&body)));
            }
        }
        println!("{} finding(s) written to {index}", findings.len());
    }
    Ok(outcome.sessions_intact && chains_intact)
}

/// Public keys from PEM files, by key id.
///
/// # Errors
/// A file that cannot be read or holds no Ed25519 key.
pub fn keys(files: &[std::path::PathBuf]) -> Result<HashMap<String, VerifyingKey>, String> {
    let mut out = HashMap::new();
    for f in files {
        let pem = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let key =
            signature::public_key_from_pem(&pem).map_err(|e| format!("{}: {e}", f.display()))?;
        out.insert(signature::key_id(&key), key);
    }
    Ok(out)
}
