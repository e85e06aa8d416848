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
//! 1. the seals of the window ([`SEAL_PAGE`] at a time): each one's
//!    signature, a compact head for the chain checks, and its records,
//!    found by the seal they name ([`seal::FIELD_SEAL_ID`], any time) and
//!    by id for the rest;
//! 2. the documents of the window ([`PAGE`] at a time), folded into a
//!    summary per session (count, sequence numbers as runs, findings);
//! 3. the seals the documents name that step 1 did not check (outside the
//!    window, or gone), fetched by id.

use crate::elasticsearch::Client;
use cowork_ecs::seal;
use cowork_ecs::signature::{self, FIELD_FIELDS, FIELD_KEY_ID, FIELD_SIGNATURE, FIELD_TIMESTAMP};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

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
/// Where the signature's fields are: at the top (ECS documents) or under
/// `attributes` (spans and span events, in the exporter's OTel mode).
const SIGNATURE_PREFIXES: &[&str] = &["", "attributes."];
/// Where a document's session id is (ECS documents: under the emitter's
/// vendor object; the first present wins).
const SESSION_FIELDS: &[&str] = &[
    "claude_code.events.session.id",
    "claude_cowork.events.session.id",
    "session.id",
    "attributes.session.id",
];
/// Where a document's number in its session is.
const SEQUENCE_FIELDS: &[&str] = &[
    "claude_code.events.event.sequence",
    "claude_cowork.events.event.sequence",
    "event.sequence",
];
/// Documents read per scroll page.
const PAGE: usize = 1000;
/// Seals read per scroll page (a seal's items can be ~110 KB).
const SEAL_PAGE: usize = 10;
/// Ids per lookup by id.
const BATCH: usize = 1000;
/// The session of a document or seal entry that names none.
const NO_SESSION: &str = "(no session)";

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

/// One stored document.
#[derive(Clone)]
struct Doc {
    /// `<index>/<_id>`.
    name: String,
    id: String,
    fields: BTreeMap<String, Value>,
}

/// What is wrong with one document.
#[derive(Debug, PartialEq, Eq)]
enum Finding {
    Unsigned,
    UnknownKey(String),
    RevokedKey(String),
    Modified(Vec<String>),
    BadSignature,
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
    if outcome.documents == 0 && outcome.chain_lines.is_empty() && outcome.sealed_problems == 0 {
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

/// Whether stderr is a terminal (progress is shown there, not in a pipe
/// or a file).
fn is_terminal() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal()
}

/// The `--until` filter and the window's end (nanoseconds, for a chain's
/// silence): a time read here is sent resolved, so that every pass reads
/// the same window; any other is handed to Elasticsearch as it is (the
/// end is then now).
fn until_bound(until: Option<&str>, now: i64) -> (Option<Value>, i64) {
    let Some(text) = until else {
        return (None, now);
    };
    match resolve_time(text, now) {
        Some(ns) => (
            Some(json!({"range": {"@timestamp": {
                "lte": ns.div_euclid(1_000_000), "format": "epoch_millis"}}})),
            ns.min(now),
        ),
        None => (Some(json!({"range": {"@timestamp": {"lte": text}}})), now),
    }
}

/// `now`, `now-<n><unit>` (`s`, `m`, `h`/`H`, `d`, `w`) or an RFC 3339
/// time in UTC, in nanoseconds since the epoch; `None` for anything else.
fn resolve_time(text: &str, now: i64) -> Option<i64> {
    let text = text.trim();
    if text == "now" {
        return Some(now);
    }
    if let Some(rest) = text.strip_prefix("now-") {
        let split = rest.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = rest.split_at(split);
        let n: i64 = n.parse().ok()?;
        let unit: i64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" | "H" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return None,
        };
        return now.checked_sub(n.checked_mul(unit)?.checked_mul(1_000_000_000)?);
    }
    if text.contains('T') {
        return signature::parse_timestamp(text);
    }
    None
}

/// Progress on a terminal: at most twice a second, one line rewritten.
struct Progress {
    on: bool,
    shown: bool,
    last: Instant,
    seals: u64,
    records: u64,
    documents: u64,
}

impl Progress {
    /// Progress shown when `on`.
    fn new(on: bool) -> Self {
        Progress {
            on,
            shown: false,
            last: Instant::now(),
            seals: 0,
            records: 0,
            documents: 0,
        }
    }

    /// Shows the counts if half a second passed since the last time.
    fn tick(&mut self) {
        if self.on && self.last.elapsed() >= Duration::from_millis(500) {
            self.show();
        }
    }

    fn show(&mut self) {
        eprint!(
            "\rverify: {} seals, {} records checked, {} documents read",
            self.seals, self.records, self.documents
        );
        self.shown = true;
        self.last = Instant::now();
    }

    /// The last counts and a newline (if anything was shown).
    fn finish(&mut self) {
        if self.on {
            self.show();
            eprintln!();
        }
    }
}

/// A page of documents handed to a reader.
type Pages<'f> = &'f mut dyn FnMut(Vec<Doc>) -> Result<(), String>;

/// Where verify reads from, a page at a time: Elasticsearch ([`Elastic`]),
/// or documents in memory (tests).
trait Source {
    /// The seals of the window.
    fn seals(&self, f: Pages<'_>) -> Result<(), String>;
    /// The documents of the window (and of `--session`).
    fn documents(&self, f: Pages<'_>) -> Result<(), String>;
    /// The documents that name one of `refs` as their seal
    /// ([`seal::FIELD_SEAL_ID`]), whatever their time.
    fn naming(&self, refs: &[&str], f: Pages<'_>) -> Result<(), String>;
    /// The documents with one of these ids, whatever their time.
    fn with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String>;
    /// The seals with one of these ids, whatever their time.
    fn seals_with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String>;
}

/// [`Source`] of a cluster: scrolls over `v.index` and [`SEAL_INDEX`].
struct Elastic<'a> {
    client: &'a Client,
    v: &'a Verify,
    /// The window's range filters.
    window: Vec<Value>,
}

impl Elastic<'_> {
    /// Every hit of `query` in `index`, `size` at a time, with a scroll.
    fn scroll(&self, index: &str, query: Value, size: usize, f: Pages<'_>) -> Result<(), String> {
        let body = json!({"size": size, "sort": ["_doc"], "query": query});
        let path =
            format!("{index}/_search?scroll=5m&ignore_unavailable=true&allow_no_indices=true");
        let (status, mut page) = self.client.call("POST", &path, Some(&body))?;
        if status != 200 {
            return Err(format!("search {index}: HTTP {status}: {}", clip(&page)));
        }
        let mut read = || -> Result<(), String> {
            loop {
                let hits = match page["hits"]["hits"].take() {
                    Value::Array(hits) => hits,
                    _ => Vec::new(),
                };
                if hits.is_empty() {
                    return Ok(());
                }
                f(hits.into_iter().filter_map(doc_of).collect())?;
                let Some(scroll_id) = page["_scroll_id"].as_str().map(str::to_owned) else {
                    return Ok(());
                };
                let (status, next) = self.client.call(
                    "POST",
                    "_search/scroll",
                    Some(&json!({"scroll": "5m", "scroll_id": scroll_id})),
                )?;
                if status != 200 {
                    return Err(format!("scroll: HTTP {status}: {}", clip(&next)));
                }
                page = next;
            }
        };
        let result = read();
        if let Some(scroll_id) = page["_scroll_id"].as_str() {
            let _ = self.client.call(
                "DELETE",
                "_search/scroll",
                Some(&json!({"scroll_id": scroll_id})),
            );
        }
        result
    }
}

/// A search hit as a [`Doc`] (its `_source` flattened).
fn doc_of(mut hit: Value) -> Option<Doc> {
    let (Some(index), Some(id)) = (hit["_index"].as_str(), hit["_id"].as_str()) else {
        return None;
    };
    // A data point's signature binds no id: the processor cannot know the
    // one time-series mode derives from its dimensions.
    let metrics = index.starts_with("metrics-") || index.starts_with(".ds-metrics-");
    Some(Doc {
        name: format!("{index}/{id}"),
        id: if metrics {
            String::new()
        } else {
            id.to_owned()
        },
        fields: signature::flatten(hit["_source"].take()),
    })
}

impl Source for Elastic<'_> {
    fn seals(&self, f: Pages<'_>) -> Result<(), String> {
        let query = json!({"bool": {"filter": self.window}});
        self.scroll(SEAL_INDEX, query, SEAL_PAGE, f)
    }

    fn documents(&self, f: Pages<'_>) -> Result<(), String> {
        let mut filter = self.window.clone();
        if let Some(session) = &self.v.session {
            let should: Vec<Value> = SESSION_FIELDS
                .iter()
                .map(|f| json!({"term": {*f: session}}))
                .collect();
            filter.push(json!({"bool": {"should": should, "minimum_should_match": 1}}));
        }
        let query = json!({"bool": {"filter": filter}});
        self.scroll(&self.v.index, query, PAGE, f)
    }

    fn naming(&self, refs: &[&str], f: Pages<'_>) -> Result<(), String> {
        let query = json!({"bool": {"filter": [{"terms": {seal::FIELD_SEAL_ID: refs}}]}});
        self.scroll(&self.v.index, query, PAGE, f)
    }

    fn with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
        self.scroll(&self.v.index, json!({"ids": {"values": ids}}), PAGE, f)
    }

    fn seals_with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
        let query = json!({"ids": {"values": ids}});
        self.scroll(SEAL_INDEX, query, SEAL_PAGE, f)
    }
}

/// What kind of finding a report line is, by the rule's vocabulary
/// (detections/rules/cowork_ecs_tamper_finding.yml), and the document id it
/// names; `None` for a line that is not a problem.
fn finding_kind(line: &str) -> Option<(&'static str, Option<String>)> {
    let line = line.trim_start();
    let after = |prefix: &str| line.strip_prefix(prefix).map(str::to_owned);
    let id_of = |text: &str| {
        let token = text.split(' ').next().unwrap_or("");
        token
            .rsplit('/')
            .next()
            .map(str::to_owned)
            .filter(|t| !t.is_empty())
    };
    for (prefix, kind) in [
        ("deleted: ", "deleted"),
        ("modified: ", "modified"),
        ("inserted: ", "inserted"),
        ("moved: ", "moved"),
        ("bad signature: ", "bad_signature"),
        ("unknown key: ", "unknown_key"),
        ("revoked key: ", "revoked_key"),
    ] {
        if let Some(rest) = after(prefix) {
            let id = id_of(&rest).filter(|t| t.parse::<u64>().is_err());
            return Some((kind, id));
        }
    }
    if line.starts_with("missing: sequence") {
        return Some(("deleted", None));
    }
    for kind in ["seal_missing", "seal_invalid", "chain_silent"] {
        if line.contains(kind) {
            return Some((kind, None));
        }
    }
    for (text, kind) in [
        ("revoked key", "revoked_key"),
        ("unknown key", "unknown_key"),
    ] {
        if line.contains(text) {
            return Some((kind, None));
        }
    }
    None
}

/// The report's problems as documents for `--report-index`: one per
/// problem line, with its session or chain (`event.kind: alert`,
/// `event.action: tamper-finding`, `cowork_ecs.verify.finding`).
fn findings<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Value> {
    let now = time_text(now_ns());
    let (mut session, mut chain): (Option<String>, Option<String>) = (None, None);
    let mut out = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("session ") {
            session = rest.split(": ").next().map(str::to_owned);
            chain = None;
            continue;
        }
        let mut text = line;
        if let Some(rest) = line.strip_prefix("chain ") {
            let (id, what) = rest.split_once(": ").unwrap_or((rest, ""));
            chain = Some(id.to_owned());
            session = None;
            text = what;
            if what.starts_with("intact") || what.starts_with("problems") {
                continue;
            }
        }
        let Some((kind, id)) = finding_kind(text) else {
            continue;
        };
        let mut doc = json!({
            "@timestamp": now,
            "event": {"kind": "alert", "action": "tamper-finding", "module": "cowork_ecs",
                      "dataset": "cowork_ecs.verify"},
            "message": text.trim(),
            "cowork_ecs": {"verify": {"finding": kind}},
        });
        if let Some(s) = &session {
            doc["session"] = json!({"id": s});
        }
        if let Some(c) = &chain {
            doc["cowork_ecs"]["verify"]["chain"] = json!(c);
        }
        if let Some(id) = id {
            doc["cowork_ecs"]["verify"]["document_id"] = json!(id);
        }
        out.push(doc);
    }
    out
}

/// Now, in nanoseconds since the epoch.
fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// What verify found, ready to print.
struct Outcome {
    /// A line per chain and per seal problem (`false`: a problem).
    chain_lines: Vec<(bool, String)>,
    /// Per session a line, `intact` or its problems (each indented after it).
    session_lines: Vec<String>,
    /// Whether every session is intact.
    sessions_intact: bool,
    /// Documents read in the window.
    documents: u64,
    /// Problems the seals found on records.
    sealed_problems: usize,
}

/// What a chain check needs of a seal read in the window.
struct Head {
    name: String,
    number: u64,
    closing: bool,
    time: i64,
    interval: i64,
    previous: Option<[u8; 32]>,
    predecessor: Option<String>,
    digest: [u8; 32],
    items: u64,
    /// It lists a record of `--session` (always, without one).
    in_scope: bool,
}

/// 64 hex digits as 32 bytes.
fn unhex(text: &str) -> Option<[u8; 32]> {
    let b = text.as_bytes();
    if b.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        let pair = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Sequence numbers seen in a session, as runs (start -> end, inclusive),
/// and those seen more than once (how many times).
#[derive(Default, Debug)]
struct Sequence {
    runs: BTreeMap<i64, i64>,
    twice: BTreeMap<i64, usize>,
}

impl Sequence {
    /// One more number.
    fn insert(&mut self, n: i64) {
        let before = self.runs.range(..=n).next_back().map(|(s, e)| (*s, *e));
        if before.is_some_and(|(_, end)| n <= end) {
            *self.twice.entry(n).or_insert(1) += 1;
            return;
        }
        let after = n
            .checked_add(1)
            .and_then(|next| self.runs.remove(&next))
            .unwrap_or(n);
        match before {
            Some((start, end)) if end.checked_add(1) == Some(n) => {
                self.runs.insert(start, after);
            }
            _ => {
                self.runs.insert(n, after);
            }
        }
    }

    /// The lowest and the highest number.
    fn bounds(&self) -> Option<(i64, i64)> {
        let lo = *self.runs.keys().next()?;
        let hi = *self.runs.values().next_back()?;
        Some((lo, hi))
    }

    /// The numbers between the lowest and the highest not seen, as
    /// [`runs_text`] writes them (`None`: none).
    fn missing(&self) -> Option<String> {
        let gaps: Vec<(i64, i64)> = self
            .runs
            .iter()
            .zip(self.runs.keys().skip(1))
            .map(|((_, end), next)| (end + 1, next - 1))
            .collect();
        (!gaps.is_empty()).then(|| runs_text(&gaps))
    }
}

/// `1, 3..5, 9` for the runs `[(1, 1), (3, 5), (9, 9)]`.
fn runs_text(runs: &[(i64, i64)]) -> String {
    let texts: Vec<String> = runs
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}..{hi}")
            }
        })
        .collect();
    texts.join(", ")
}

/// One session's documents, folded one at a time.
#[derive(Default)]
struct Summary {
    documents: u64,
    /// The numbers of the documents that hold their place: signed by a
    /// trusted key (or sealed) with their number unchanged.
    sequence: Sequence,
    /// A document's own problem: its number, its name, the line.
    findings: Vec<(Option<i64>, String, String)>,
}

/// A record a seal does not list that names one (or the first release's
/// chain): inserted, unless another seal lists it. Its id, its name and
/// its session.
type Candidate = (String, String, String);

/// The state of one run of verify over a [`Source`].
struct Checker<'a> {
    src: &'a dyn Source,
    v: &'a Verify,
    progress: Progress,
    /// Seal problems (signatures), in the order read.
    seal_lines: Vec<String>,
    /// Seals whose problem is in `seal_lines` (by name).
    reported: HashSet<String>,
    chains: BTreeMap<String, Vec<Head>>,
    /// The seals (`_id`) whose records were checked.
    checked: HashSet<String>,
    /// Problems the seals found, by session.
    by_session: BTreeMap<String, Vec<String>>,
    candidates: Vec<Candidate>,
    /// The names of `candidates`.
    candidate_names: HashSet<String>,
    /// Sealed documents of the window that may be inserted (a candidate,
    /// or naming a seal not checked yet): their name, session and number,
    /// placed in their session's sequence only if they are not.
    deferred: Vec<(String, String, i64)>,
    /// Records found by id for a seal that lists them (they name another
    /// seal, or are of the first release).
    claimed: HashSet<String>,
    sessions: BTreeMap<String, Summary>,
    /// Seals the documents name that were not checked.
    unseen: BTreeSet<String>,
    /// With `--session`: the chains its documents name.
    named_chains: HashSet<String>,
    documents: u64,
}

/// Reads everything of `src` and checks it (`seals`: the seals too; `end`:
/// the window's end, for a chain's silence).
fn verify_all(
    src: &dyn Source,
    v: &Verify,
    end: i64,
    seals: bool,
    progress: Progress,
) -> Result<Outcome, String> {
    let mut c = Checker {
        src,
        v,
        progress,
        seal_lines: Vec::new(),
        reported: HashSet::new(),
        chains: BTreeMap::new(),
        checked: HashSet::new(),
        by_session: BTreeMap::new(),
        candidates: Vec::new(),
        candidate_names: HashSet::new(),
        deferred: Vec::new(),
        claimed: HashSet::new(),
        sessions: BTreeMap::new(),
        unseen: BTreeSet::new(),
        named_chains: HashSet::new(),
        documents: 0,
    };
    if seals {
        c.read_seals()?;
    }
    c.read_documents()?;
    if seals {
        c.read_unseen()?;
    }
    c.progress.finish();
    Ok(c.outcome(end))
}

impl Checker<'_> {
    /// Pass 1: the seals of the window, and the records of those in scope.
    fn read_seals(&mut self) -> Result<(), String> {
        let src = self.src;
        src.seals(&mut |page| {
            let mut check = Vec::with_capacity(page.len());
            for mut doc in page {
                let (trusted, in_scope) = self.admit(&mut doc, true);
                if trusted && in_scope {
                    check.push(doc);
                }
            }
            self.check_items(&check)
        })
    }

    /// A seal read: its signature checked and reported, its head kept for
    /// the chain checks (`in_window`); whether its records are to be
    /// trusted, and whether it is in scope (lists a record of `--session`).
    fn admit(&mut self, doc: &mut Doc, in_window: bool) -> (bool, bool) {
        self.progress.seals += 1;
        let v = self.v;
        let fields = &mut doc.fields;
        if let Some(Value::String(ts)) = fields.get(FIELD_TIMESTAMP) {
            if let Some(ns) = signature::parse_timestamp(ts) {
                fields.insert(FIELD_TIMESTAMP.to_owned(), Value::from(ns));
            }
        }
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        let chain = text(seal::FIELD_CHAIN).unwrap_or_else(|| "(no chain)".into());
        let in_scope = (v.session.as_deref())
            .is_none_or(|only| texts(fields, seal::FIELD_SESSIONS).contains(&only));
        let keys = |id: &str| v.trusted.get(id).or_else(|| v.revoked.get(id));
        let mut problem = None;
        let trusted = match seal::verify_seal(fields, keys) {
            Ok(_) | Err(_) if !in_scope => true,
            Ok(key) if v.revoked.contains_key(&key) => {
                problem = Some(format!(
                    "chain {chain}: revoked key: seal {} (key {key})",
                    doc.name
                ));
                true
            }
            Ok(_) => true,
            Err(p) => {
                let why = match p {
                    seal::SealProblem::Unsigned => "seal_invalid (unsigned)".to_owned(),
                    seal::SealProblem::UnknownKey(k) => format!("unknown key {k}"),
                    seal::SealProblem::BadSignature => "seal_invalid (edited or forged)".to_owned(),
                };
                problem = Some(format!("chain {chain}: {why}: {}", doc.name));
                false
            }
        };
        if let Some(line) = problem {
            if self.reported.insert(doc.name.clone()) {
                self.seal_lines.push(line);
            }
        }
        if trusted && in_window {
            let number = |k: &str| fields.get(k).and_then(Value::as_i64).unwrap_or(0);
            let items = seal::item_entries(fields)
                .into_iter()
                .filter(|e| seal::parse_item(e).is_some())
                .count();
            let head = Head {
                name: doc.name.clone(),
                number: u64::try_from(number(seal::FIELD_NUMBER)).unwrap_or(0),
                closing: text(seal::FIELD_KIND).as_deref() == Some("closing"),
                time: number(FIELD_TIMESTAMP),
                interval: number(seal::FIELD_INTERVAL).max(1),
                previous: text(seal::FIELD_PREVIOUS).and_then(|p| unhex(&p)),
                predecessor: text(seal::FIELD_PREDECESSOR),
                digest: unhex(&seal::seal_digest(fields)).unwrap_or([0; 32]),
                items: items as u64,
                in_scope,
            };
            self.chains.entry(chain).or_default().push(head);
        }
        self.progress.tick();
        (trusted, in_scope)
    }

    /// The records a page of trusted seals list: found by the seal they
    /// name, then by id; compared with their digests; the missing ones
    /// moved (the same content under an id no seal lists) or deleted; the
    /// records that name one of these seals without being listed are
    /// candidates for `inserted`.
    fn check_items(&mut self, seals: &[Doc]) -> Result<(), String> {
        if seals.is_empty() {
            return Ok(());
        }
        let v = self.v;
        let src = self.src;
        /// A record a seal lists: the seal (an index into `seals`), its
        /// entry, its session, and whether it was found.
        struct Listed<'s> {
            seal: usize,
            entry: seal::ItemEntry<'s>,
            session: &'s str,
            found: bool,
        }
        let mut listed: HashMap<&str, Listed<'_>> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (i, s) in seals.iter().enumerate() {
            self.checked.insert(s.id.clone());
            let sessions = texts(&s.fields, seal::FIELD_SESSIONS);
            for entry in seal::item_entries(&s.fields) {
                let Some(entry) = seal::parse_item(entry) else {
                    continue;
                };
                let session = (entry.session)
                    .and_then(|k| sessions.get(k).copied())
                    .unwrap_or(NO_SESSION);
                if v.session.as_ref().is_some_and(|only| only != session) {
                    continue;
                }
                if !listed.contains_key(entry.id) {
                    order.push(entry.id);
                    listed.insert(
                        entry.id,
                        Listed {
                            seal: i,
                            entry,
                            session,
                            found: false,
                        },
                    );
                }
            }
        }
        let by_session = &mut self.by_session;
        let progress = &mut self.progress;
        let compare =
            |doc: &Doc, l: &Listed<'_>, by_session: &mut BTreeMap<String, Vec<String>>| {
                let s = &seals[l.seal];
                if stored_digest(&doc.fields, &l.entry, &s.fields) != l.entry.digest {
                    let chain = s.fields.get(seal::FIELD_CHAIN).and_then(Value::as_str);
                    let number = s.fields.get(seal::FIELD_NUMBER).and_then(Value::as_i64);
                    by_session
                        .entry(l.session.to_owned())
                        .or_default()
                        .push(format!(
                            "modified: {} (differs from seal {}/{})",
                            doc.name,
                            chain.unwrap_or("(no chain)"),
                            number.unwrap_or(0)
                        ));
                }
            };
        // 1. The records that name these seals.
        let refs: Vec<&str> = seals.iter().map(|s| s.id.as_str()).collect();
        let mut unlisted: Vec<Candidate> = Vec::new();
        src.naming(&refs, &mut |page| {
            for doc in page {
                match listed.get_mut(doc.id.as_str()) {
                    Some(l) => {
                        l.found = true;
                        progress.records += 1;
                        compare(&doc, l, by_session);
                    }
                    None => {
                        let session = session_of(&doc.fields);
                        if v.session.as_ref().is_none_or(|only| *only == session) {
                            unlisted.push((doc.id, doc.name, session));
                        }
                    }
                }
            }
            progress.tick();
            Ok(())
        })?;
        // 2. Those listed and not found so: by id (a reference edited, or a
        // record of the first release).
        let missing: Vec<&str> = order
            .iter()
            .copied()
            .filter(|id| listed.get(id).is_some_and(|l| !l.found))
            .collect();
        let claimed = &mut self.claimed;
        for batch in missing.chunks(BATCH) {
            src.with_ids(batch, &mut |page| {
                for doc in page {
                    if let Some(l) = listed.get_mut(doc.id.as_str()).filter(|l| !l.found) {
                        l.found = true;
                        progress.records += 1;
                        claimed.insert(doc.id.clone());
                        compare(&doc, l, by_session);
                    }
                }
                progress.tick();
                Ok(())
            })?;
        }
        // 3. Still missing: moved (the same content under an unlisted id
        // naming one of these seals), or deleted.
        let missing: Vec<&str> = missing
            .into_iter()
            .filter(|id| listed.get(id).is_some_and(|l| !l.found))
            .collect();
        let mut moved: HashMap<&str, String> = HashMap::new();
        if !missing.is_empty() && !unlisted.is_empty() {
            // The missing entries by digest, and each way to compute one.
            let mut by_digest: HashMap<&str, Vec<&str>> = HashMap::new();
            let mut ways: Vec<(usize, seal::ItemEntry<'_>)> = Vec::new();
            for id in &missing {
                let l = &listed[id];
                by_digest.entry(l.entry.digest).or_default().push(id);
                let way = (l.seal, l.entry.group, l.entry.v1);
                if !ways.iter().any(|(s, e)| (*s, e.group, e.v1) == way) {
                    ways.push((l.seal, l.entry));
                }
            }
            let ids: Vec<&str> = unlisted.iter().map(|(id, _, _)| id.as_str()).collect();
            let mut used: HashSet<String> = HashSet::new();
            for batch in ids.chunks(BATCH) {
                src.with_ids(batch, &mut |page| {
                    for doc in page {
                        let form = digest_form(&doc.fields);
                        for (s, entry) in &ways {
                            let digest = signature::hex(&seal::entry_digest(
                                &form,
                                entry,
                                &seals[*s].fields,
                            ));
                            let Some(waiting) = by_digest.get_mut(digest.as_str()) else {
                                continue;
                            };
                            if let Some(id) = waiting.pop() {
                                moved.insert(id, doc.name.clone());
                                used.insert(doc.name.clone());
                                break;
                            }
                        }
                    }
                    Ok(())
                })?;
            }
            unlisted.retain(|(_, name, _)| !used.contains(name));
        }
        for id in missing {
            let l = &listed[id];
            let line = match moved.get(id) {
                Some(to) => format!("moved: {id} to {to}"),
                None => format!("deleted: {id}"),
            };
            by_session
                .entry(l.session.to_owned())
                .or_default()
                .push(line);
        }
        // 4. The unlisted ones: inserted, unless another seal lists them.
        self.candidate_names
            .extend(unlisted.iter().map(|(_, name, _)| name.clone()));
        self.candidates.extend(unlisted);
        Ok(())
    }

    /// Pass 2: the documents of the window, folded per session.
    fn read_documents(&mut self) -> Result<(), String> {
        let src = self.src;
        src.documents(&mut |page| {
            for doc in page {
                self.fold(doc);
            }
            self.progress.tick();
            Ok(())
        })
    }

    /// One document into its session's summary.
    fn fold(&mut self, doc: Doc) {
        self.documents += 1;
        self.progress.documents += 1;
        let session = session_of(&doc.fields);
        let sequence = first(&doc.fields, SEQUENCE_FIELDS).and_then(|s| match s {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        // A sealed record: its seal, not a signature, speaks for it; one
        // that may be in no seal holds its place only if it is not.
        let mut defer = false;
        let finding = match sealed_chain(&doc.fields) {
            Some(chain) => {
                if self.v.session.is_some() {
                    self.named_chains.insert(chain.to_owned());
                }
                match doc.fields.get(seal::FIELD_SEAL_ID).and_then(Value::as_str) {
                    Some(r) if !self.checked.contains(r) => {
                        self.unseen.insert(r.to_owned());
                        defer = true;
                    }
                    Some(_) => defer = self.candidate_names.contains(&doc.name),
                    // The first release's: accounted if a seal listed it.
                    None if !self.claimed.contains(&doc.id) => {
                        self.candidates
                            .push((doc.id.clone(), doc.name.clone(), session.clone()));
                        self.candidate_names.insert(doc.name.clone());
                        defer = true;
                    }
                    None => {}
                }
                None
            }
            None => check(&doc, self.v),
        };
        let summary = self.sessions.entry(session.clone()).or_default();
        summary.documents += 1;
        // A document holds its place in the sequence when a trusted key
        // signed it (or it is sealed) and its number itself is unchanged (a
        // document modified elsewhere is reported as modified, not missing).
        let placed = match &finding {
            None => true,
            Some(Finding::Modified(fields)) => !fields
                .iter()
                .any(|f| SEQUENCE_FIELDS.iter().any(|s| f.starts_with(s))),
            Some(_) => false,
        };
        match (sequence, placed) {
            (Some(seq), true) if defer => self.deferred.push((doc.name.clone(), session, seq)),
            (Some(seq), true) => summary.sequence.insert(seq),
            _ => {}
        }
        let name = &doc.name;
        let line = match finding {
            None => return,
            Some(Finding::Unsigned) => format!("inserted: {name} (unsigned)"),
            Some(Finding::UnknownKey(k)) => format!("unknown key: {name} (key {k})"),
            Some(Finding::RevokedKey(k)) => format!("revoked key: {name} (key {k})"),
            Some(Finding::BadSignature) => format!("bad signature: {name}"),
            Some(Finding::Modified(fields)) => {
                format!("modified: {name} (fields: {})", fields.join(", "))
            }
        };
        summary.findings.push((sequence, doc.name, line));
    }

    /// Pass 3: the seals the documents name that pass 1 did not check
    /// (outside the window, not in scope, failing their signature, or
    /// gone). One that holds: its records are checked (no chain check);
    /// else every record naming it is a candidate for `inserted`.
    fn read_unseen(&mut self) -> Result<(), String> {
        let unseen: Vec<String> = std::mem::take(&mut self.unseen)
            .into_iter()
            .filter(|r| !self.checked.contains(r))
            .collect();
        let src = self.src;
        for batch in unseen.chunks(SEAL_PAGE) {
            let ids: Vec<&str> = batch.iter().map(String::as_str).collect();
            let mut found: Vec<Doc> = Vec::new();
            src.seals_with_ids(&ids, &mut |page| {
                for doc in page {
                    if !found.iter().any(|d| d.id == doc.id) {
                        found.push(doc);
                    }
                }
                Ok(())
            })?;
            let mut check = Vec::new();
            for mut doc in found {
                if self.admit(&mut doc, false).0 {
                    check.push(doc);
                }
            }
            self.check_items(&check)?;
            let gone: Vec<&str> = ids
                .into_iter()
                .filter(|id| !self.checked.contains(*id))
                .collect();
            if gone.is_empty() {
                continue;
            }
            let v = self.v;
            let candidates = &mut self.candidates;
            let names = &mut self.candidate_names;
            src.naming(&gone, &mut |page| {
                for doc in page {
                    let session = session_of(&doc.fields);
                    if v.session.as_ref().is_none_or(|only| *only == session) {
                        names.insert(doc.name.clone());
                        candidates.push((doc.id, doc.name, session));
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// The chain checks and the report per session.
    fn outcome(mut self, end: i64) -> Outcome {
        let mut inserted = HashSet::new();
        for (id, name, session) in std::mem::take(&mut self.candidates) {
            if !self.claimed.contains(&id) {
                self.by_session
                    .entry(session)
                    .or_default()
                    .push(format!("inserted: {name} (in no seal)"));
                inserted.insert(name);
            }
        }
        // A record in no seal holds no place in its session's sequence.
        for (name, session, seq) in std::mem::take(&mut self.deferred) {
            if !inserted.contains(&name) {
                let summary = self.sessions.entry(session).or_default();
                summary.sequence.insert(seq);
            }
        }
        let mut chain_lines: Vec<(bool, String)> =
            self.seal_lines.into_iter().map(|l| (false, l)).collect();
        chain_lines.extend(chain_report(self.chains, self.v, &self.named_chains, end));
        let sealed_problems = self.by_session.values().map(Vec::len).sum();
        let (sessions_intact, session_lines) = session_report(self.sessions, self.by_session);
        Outcome {
            chain_lines,
            session_lines,
            sessions_intact,
            documents: self.documents,
            sealed_problems,
        }
    }
}

/// A document's session (`(no session)`: none).
fn session_of(fields: &BTreeMap<String, Value>) -> String {
    first(fields, SESSION_FIELDS)
        .and_then(Value::as_str)
        .unwrap_or(NO_SESSION)
        .to_owned()
}

/// Per chain of seals read in the window: a line, `intact` or `problems`,
/// and each problem on an indented line after it (`false`: a problem).
/// With `--session`, only the chains that list its records or that its
/// documents name (`named`). `now`: the window's end.
fn chain_report(
    mut chains: BTreeMap<String, Vec<Head>>,
    v: &Verify,
    named: &HashSet<String>,
    now: i64,
) -> Vec<(bool, String)> {
    // Which chain each chain's first seal names as its predecessor.
    let mut successors: HashMap<String, (String, u64, String)> = HashMap::new();
    for (chain, seals) in &chains {
        for s in seals.iter().filter(|s| s.number == 0) {
            if let Some(p) = &s.predecessor {
                let parts: Vec<&str> = p.split('/').collect();
                if let [c, n, d] = parts[..] {
                    successors.insert(
                        c.to_owned(),
                        (chain.clone(), n.parse().unwrap_or(0), d.to_owned()),
                    );
                }
            }
        }
    }
    if v.session.is_some() {
        chains.retain(|chain, seals| named.contains(chain) || seals.iter().any(|s| s.in_scope));
    }
    let mut out = Vec::new();
    for (chain, mut seals) in chains {
        seals.sort_by_key(|s| s.number);
        let mut problems = Vec::new();
        for pair in seals.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if b.number == a.number {
                problems.push(format!("seal {} twice", b.number));
            } else if b.number > a.number + 1 {
                problems.push(format!(
                    "seal_missing: seals {}..{} (between {} and {})",
                    a.number + 1,
                    b.number - 1,
                    a.name,
                    b.name
                ));
            } else if b.previous != Some(a.digest) {
                problems.push(format!(
                    "seal_missing: {} does not link to seal {}",
                    b.name, a.number
                ));
            }
        }
        let (Some(first), Some(last)) = (seals.first(), seals.last()) else {
            continue;
        };
        if first.number > 0 && v.since.is_none() {
            problems.push(format!(
                "seal_missing: seals 0..{} of the chain",
                first.number - 1
            ));
        }
        let mut notes = Vec::new();
        if !last.closing {
            match successors.get(&chain) {
                Some((next, named, digest)) => {
                    if last.number < *named {
                        problems.push(format!(
                            "seal_missing: seals {}..{} at the chain's end (chain {next} names seal {named})",
                            last.number + 1,
                            named
                        ));
                    } else if last.number == *named && signature::hex(&last.digest) != *digest {
                        problems.push(format!(
                            "seal_missing: chain {next} names another seal {named}"
                        ));
                    }
                    notes.push(format!(
                        "crash: ended without its closing seal after {} (continued by chain {next})",
                        time_text(last.time)
                    ));
                }
                None if now - last.time > 2 * last.interval => {
                    notes.push("silent".to_owned());
                    problems.push(format!(
                        "chain_silent: no seal since {} (interval {} s) and no closing seal",
                        time_text(last.time),
                        last.interval / 1_000_000_000
                    ));
                }
                None => notes.push("open".to_owned()),
            }
        } else {
            notes.push("closed".to_owned());
        }
        let items: u64 = seals.iter().map(|s| s.items).sum();
        let ok = problems.is_empty();
        let head = format!(
            "chain {chain}: {} ({} seals {}..{}, {items} records; {})",
            if ok { "intact" } else { "problems" },
            seals.len(),
            first.number,
            last.number,
            notes.join(", ")
        );
        out.push((ok, head));
        out.extend(problems.into_iter().map(|p| (false, format!("  {p}"))));
    }
    out
}

/// The report per session: a line, `intact` or its problems, each problem
/// on an indented line after it (the seals' first, `extra`); and whether
/// every session is intact. A session only the seals name (deleted whole)
/// is reported too.
fn session_report(
    mut sessions: BTreeMap<String, Summary>,
    mut extra: BTreeMap<String, Vec<String>>,
) -> (bool, Vec<String>) {
    for session in extra.keys() {
        sessions.entry(session.clone()).or_default();
    }
    let mut out = Vec::new();
    let mut intact = true;
    for (session, mut summary) in sessions {
        let mut lines = extra.remove(&session).unwrap_or_default();
        summary
            .findings
            .sort_by(|(sa, a, _), (sb, b, _)| (sa, a).cmp(&(sb, b)));
        lines.extend(summary.findings.into_iter().map(|(_, _, line)| line));
        let seen = &summary.sequence;
        for (seq, n) in &seen.twice {
            lines.push(format!("inserted: {n} signed documents for sequence {seq}"));
        }
        if let Some(missing) = seen.missing() {
            lines.push(format!("missing: sequence {missing}"));
        }
        let span = seen
            .bounds()
            .map_or(String::new(), |(lo, hi)| format!(", sequence {lo}..{hi}"));
        if lines.is_empty() {
            out.push(format!(
                "session {session}: intact ({} documents{span})",
                summary.documents
            ));
        } else {
            intact = false;
            out.push(format!(
                "session {session}: {} problem(s) ({} documents{span})",
                lines.len(),
                summary.documents
            ));
            out.extend(lines.into_iter().map(|l| format!("  {l}")));
        }
    }
    (intact, out)
}

/// A stored record's fields as a digest reads them: `@timestamp` as
/// integer nanoseconds.
fn digest_form(fields: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut f = fields.clone();
    if let Some(Value::String(ts)) = f.get(FIELD_TIMESTAMP) {
        if let Some(ns) = signature::parse_timestamp(ts) {
            f.insert(FIELD_TIMESTAMP.to_owned(), Value::from(ns));
        }
    }
    f
}

/// The digest of a stored record as the seal `seal` lists it in `entry`.
fn stored_digest(
    fields: &BTreeMap<String, Value>,
    entry: &seal::ItemEntry<'_>,
    seal: &BTreeMap<String, Value>,
) -> String {
    signature::hex(&seal::entry_digest(&digest_form(fields), entry, seal))
}

/// The chain a sealed record names: its seal's id
/// ([`seal::FIELD_SEAL_ID`], `<chain>-<number>`), or the first release's
/// [`seal::FIELD_CHAIN`]; `None`: not a sealed record.
fn sealed_chain(fields: &BTreeMap<String, Value>) -> Option<&str> {
    match fields.get(seal::FIELD_SEAL_ID).and_then(Value::as_str) {
        Some(id) => Some(id.rsplit_once('-').map_or(id, |(chain, _)| chain)),
        None => fields.get(seal::FIELD_CHAIN).and_then(Value::as_str),
    }
}

/// The strings of a stored field: an array of them, or one.
fn texts<'a>(fields: &'a BTreeMap<String, Value>, name: &str) -> Vec<&'a str> {
    match fields.get(name) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    }
}

fn first<'a>(fields: &'a BTreeMap<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| fields.get(*n))
}

fn clip(v: &Value) -> String {
    v.to_string().chars().take(1000).collect()
}

/// `2026-12-03T23:00:00Z` for nanoseconds since the epoch.
fn time_text(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Checks one unsealed document's signature; `None` when it holds under a
/// trusted key.
fn check(doc: &Doc, v: &Verify) -> Option<Finding> {
    let field = |name: &str| {
        SIGNATURE_PREFIXES
            .iter()
            .find_map(|p| doc.fields.get(&format!("{p}{name}")))
    };
    let Some(sig) = field(FIELD_SIGNATURE).and_then(Value::as_str) else {
        return Some(Finding::Unsigned);
    };
    let key_id = field(FIELD_KEY_ID).and_then(Value::as_str).unwrap_or("");
    let (public, revoked) = match (v.trusted.get(key_id), v.revoked.get(key_id)) {
        (_, Some(k)) => (k, true),
        (Some(k), None) => (k, false),
        (None, None) => return Some(Finding::UnknownKey(key_id.to_owned())),
    };
    let listed: Vec<(String, String)> = match field(FIELD_FIELDS) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|e| e.rsplit_once(':'))
            .map(|(n, d)| (n.to_owned(), d.to_owned()))
            .collect(),
        Some(Value::String(one)) => one
            .rsplit_once(':')
            .map(|(n, d)| vec![(n.to_owned(), d.to_owned())])
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut fields = Vec::with_capacity(listed.len());
    let mut modified = Vec::new();
    for (name, digest) in &listed {
        let value = match doc.fields.get(name) {
            Some(Value::String(ts)) if name == FIELD_TIMESTAMP => signature::parse_timestamp(ts)
                .map(Value::from)
                .unwrap_or(Value::String(ts.clone())),
            Some(v) => v.clone(),
            None => {
                modified.push(format!("{name} (removed)"));
                continue;
            }
        };
        if signature::field_digest(name, &value) != *digest {
            modified.push(name.clone());
        }
        fields.push((name.clone(), value));
    }
    let holds = modified.is_empty() && signature::verify(public, &doc.id, &fields, sig);
    match (holds, revoked) {
        (true, false) => None,
        (true, true) => Some(Finding::RevokedKey(key_id.to_owned())),
        (false, _) if !modified.is_empty() => Some(Finding::Modified(modified)),
        (false, _) => Some(Finding::BadSignature),
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use cowork_ecs::signature::Signer;

    /// A stored log document of session `s`, number `seq`, signed by
    /// `signer` as the processor signs (its `@timestamp` as stored).
    fn signed(signer: &Signer, id: &str, seq: i64, command: &str) -> Doc {
        let mut fields: BTreeMap<String, Value> = [
            ("claude_code.events.session.id", json!("s")),
            ("claude_code.events.event.sequence", json!(seq)),
            ("process.command_line", json!(command)),
            ("@timestamp", json!("2026-11-30T00:00:00.000000007Z")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut signed_fields: Vec<(String, Value)> = fields.clone().into_iter().collect();
        signed_fields[0].1 = json!(signature::parse_timestamp("2026-11-30T00:00:00.000000007Z"));
        let s = signer.sign(id, &mut signed_fields);
        fields.insert(FIELD_SIGNATURE.into(), json!(s.signature));
        fields.insert(FIELD_KEY_ID.into(), json!(s.key_id));
        fields.insert(FIELD_FIELDS.into(), json!(s.fields));
        Doc {
            name: format!("i/{id}"),
            id: id.into(),
            fields,
        }
    }

    /// [`Source`] of documents and seals in memory (no window).
    struct Memory {
        seals: Vec<Doc>,
        docs: Vec<Doc>,
        session: Option<String>,
    }

    fn pages(docs: Vec<Doc>, size: usize, f: Pages<'_>) -> Result<(), String> {
        for page in docs.chunks(size) {
            f(page.to_vec())?;
        }
        Ok(())
    }

    impl Source for Memory {
        fn seals(&self, f: Pages<'_>) -> Result<(), String> {
            pages(self.seals.clone(), SEAL_PAGE, f)
        }

        fn documents(&self, f: Pages<'_>) -> Result<(), String> {
            let docs = (self.docs.iter())
                .filter(|d| {
                    let s = session_of(&d.fields);
                    self.session.as_ref().is_none_or(|only| *only == s)
                })
                .cloned()
                .collect();
            pages(docs, 2, f)
        }

        fn naming(&self, refs: &[&str], f: Pages<'_>) -> Result<(), String> {
            let docs = (self.docs.iter())
                .filter(|d| {
                    let r = d.fields.get(seal::FIELD_SEAL_ID).and_then(Value::as_str);
                    r.is_some_and(|r| refs.contains(&r))
                })
                .cloned()
                .collect();
            pages(docs, 2, f)
        }

        fn with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
            let docs = (self.docs.iter())
                .filter(|d| ids.contains(&d.id.as_str()))
                .cloned()
                .collect();
            pages(docs, 2, f)
        }

        fn seals_with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
            let seals = (self.seals.iter())
                .filter(|d| ids.contains(&d.id.as_str()))
                .cloned()
                .collect();
            pages(seals, SEAL_PAGE, f)
        }
    }

    /// Verify over `seals` and `docs` at `now`.
    fn check_seals(seals: Vec<Doc>, docs: &[Doc], v: &Verify, now: i64) -> Outcome {
        let src = Memory {
            seals,
            docs: docs.to_vec(),
            session: v.session.clone(),
        };
        verify_all(&src, v, now, true, Progress::new(false)).unwrap()
    }

    /// The report per session on `docs` (no seals).
    fn report(docs: Vec<Doc>, v: &Verify) -> (bool, Vec<String>) {
        let src = Memory {
            seals: Vec::new(),
            docs,
            session: v.session.clone(),
        };
        let out = verify_all(&src, v, 0, false, Progress::new(false)).unwrap();
        (out.sessions_intact, out.session_lines)
    }

    /// The problems under session `s`, sorted, without the indent.
    fn problems(out: &Outcome, s: &str) -> Vec<String> {
        let head = format!("session {s}: ");
        let Some(at) = out.session_lines.iter().position(|l| l.starts_with(&head)) else {
            return Vec::new();
        };
        let mut lines: Vec<String> = (out.session_lines[at + 1..].iter())
            .take_while(|l| l.starts_with("  "))
            .map(|l| l.trim_start().to_owned())
            .collect();
        lines.sort();
        lines
    }

    fn verifier(trusted: &Signer) -> Verify {
        let key = trusted.public_key();
        Verify {
            index: DEFAULT_INDEX.into(),
            session: None,
            since: None,
            until: None,
            trusted: [(signature::key_id(&key), key)].into(),
            revoked: HashMap::new(),
            report_index: None,
        }
    }

    #[test]
    fn an_untouched_session_is_intact() {
        let signer = Signer::from_secret(&[7; 32]);
        let docs = (0..3)
            .map(|n| signed(&signer, &format!("d{n}"), n, "ls"))
            .collect();
        assert_eq!(
            report(docs, &verifier(&signer)),
            (
                true,
                vec!["session s: intact (3 documents, sequence 0..2)".to_owned()]
            )
        );
    }

    #[test]
    fn each_kind_of_tampering_is_named() {
        let signer = Signer::from_secret(&[7; 32]);
        let other = Signer::from_secret(&[9; 32]);
        let mut docs: Vec<Doc> = (0..5)
            .map(|n| signed(&signer, &format!("d{n}"), n, "ls"))
            .collect();
        // d1: its signed field list shortened (fields still match their digests).
        let Value::Array(list) = docs[1].fields.get_mut(FIELD_FIELDS).unwrap() else {
            panic!()
        };
        list.retain(|e| !e.as_str().unwrap().starts_with("process.command_line:"));
        // d2: its command changed.
        docs[2]
            .fields
            .insert("process.command_line".into(), json!("rm -rf /"));
        // d3: deleted.
        docs.remove(3);
        // A second signed document for number 4, and an unsigned one.
        docs.push(signed(&signer, "copy", 4, "ls"));
        let mut unsigned = signed(&signer, "forged", 0, "ls");
        unsigned.fields.remove(FIELD_SIGNATURE);
        docs.push(unsigned);
        // One signed with a key the verifier does not know.
        docs.push(signed(&other, "stranger", 0, "ls"));
        let (intact, lines) = report(docs, &verifier(&signer));
        assert!(!intact);
        let mut problems = lines[1..].to_vec();
        problems.sort();
        assert_eq!(
            lines[0],
            "session s: 6 problem(s) (7 documents, sequence 0..4)"
        );
        assert_eq!(
            problems,
            [
                "  bad signature: i/d1".to_owned(),
                "  inserted: 2 signed documents for sequence 4".to_owned(),
                "  inserted: i/forged (unsigned)".to_owned(),
                // 1 too: a document whose signature fails holds no place.
                "  missing: sequence 1, 3".to_owned(),
                "  modified: i/d2 (fields: process.command_line)".to_owned(),
                format!("  unknown key: i/stranger (key {})", other.key_id()),
            ]
        );
    }

    /// A sealed record of session `s` as stored (naming seal `number` of
    /// `chain`), and its seal entry.
    fn sealed_record(id: &str, seq: i64, chain: &str, number: u64) -> (Doc, seal::SealedItem) {
        let fields: BTreeMap<String, Value> = [
            ("claude_code.events.session.id", json!("s")),
            ("claude_code.events.event.sequence", json!(seq)),
            ("process.command_line", json!("ls")),
            (seal::FIELD_SEAL_ID, json!(format!("{chain}-{number}"))),
            ("@timestamp", json!("2026-11-30T00:00:00.000000007Z")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let mut digest = [0; 32];
        let entry = seal::ItemEntry {
            id,
            digest: "",
            session: None,
            group: None,
            v1: false,
        };
        for (i, b) in hex_bytes(&stored_digest(&fields, &entry, &BTreeMap::new()))
            .into_iter()
            .enumerate()
        {
            digest[i] = b;
        }
        let item = seal::SealedItem {
            id: id.into(),
            digest,
            session: Some("s".into()),
            group: None,
            time: 7,
        };
        let doc = Doc {
            name: format!("i/{id}"),
            id: id.into(),
            fields,
        };
        (doc, item)
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    fn seal_doc(fields: BTreeMap<String, Value>, n: u64) -> Doc {
        let chain = fields[seal::FIELD_CHAIN].as_str().unwrap().to_owned();
        Doc {
            name: format!("seals/{n}"),
            id: format!("{chain}-{n}"),
            fields,
        }
    }

    #[test]
    fn seals_name_deleted_modified_moved_and_inserted_records_and_a_broken_chain() {
        let key = Signer::from_secret(&[7; 32]);
        let sealer = seal::Sealer::new(Signer::from_secret(&[7; 32]), 10, None, 1);
        let chain = sealer.chain().to_owned();
        let records: Vec<(Doc, seal::SealedItem)> = (0..4)
            .map(|n| sealed_record(&format!("d{n}"), n, &chain, (n / 2) as u64))
            .collect();
        let items: Vec<seal::SealedItem> = records.iter().map(|(_, i)| i.clone()).collect();
        let s0 = sealer
            .seal(&items[..2], &[], seal::SealKind::Batch, 2)
            .unwrap();
        sealer.settle(true, 2);
        let s1 = sealer
            .seal(&items[2..], &[], seal::SealKind::Batch, 3)
            .unwrap();
        sealer.settle(true, 3);
        let s2 = sealer.seal(&[], &[], seal::SealKind::Closing, 4).unwrap();
        sealer.settle(true, 4);
        let v = verifier(&key);
        let mut docs: Vec<Doc> = records.into_iter().map(|(d, _)| d).collect();

        let untouched = check_seals(
            vec![
                seal_doc(s0.clone(), 0),
                seal_doc(s1.clone(), 1),
                seal_doc(s2.clone(), 2),
            ],
            &docs,
            &v,
            5,
        );
        assert!(untouched.sessions_intact, "{:?}", untouched.session_lines);
        assert_eq!(
            untouched.session_lines,
            ["session s: intact (4 documents, sequence 0..3)"]
        );
        assert_eq!(untouched.chain_lines.len(), 1);
        assert!(untouched.chain_lines[0].0, "{:?}", untouched.chain_lines);
        assert!(untouched.chain_lines[0].1.contains("4 records; closed"));

        // d1 edited, d2 gone, d3 stored again under another id, a record
        // marked with the chain but in no seal; seal 1 deleted afterwards.
        docs[1].fields.insert("user.name".into(), json!("x"));
        docs.remove(2);
        let mut moved = docs.remove(2);
        moved.id = "elsewhere".into();
        moved.name = "i/elsewhere".into();
        docs.push(moved);
        let (mut forged, _) = sealed_record("forged", 9, &chain, 0);
        forged
            .fields
            .insert("process.command_line".into(), json!("rm"));
        docs.push(forged);
        let found = check_seals(
            vec![
                seal_doc(s0.clone(), 0),
                seal_doc(s1, 1),
                seal_doc(s2.clone(), 2),
            ],
            &docs,
            &v,
            5,
        );
        assert_eq!(
            problems(&found, "s"),
            [
                "deleted: d2".to_owned(),
                "inserted: i/forged (in no seal)".to_owned(),
                // The record in no seal holds no place (its number 9).
                "missing: sequence 2".to_owned(),
                format!("modified: i/d1 (differs from seal {chain}/0)"),
                "moved: d3 to i/elsewhere".to_owned(),
            ]
        );

        let gap = check_seals(vec![seal_doc(s0, 0), seal_doc(s2, 2)], &docs, &v, 5);
        assert!(!gap.chain_lines[0].0);
        assert_eq!(
            gap.chain_lines[1].1,
            "  seal_missing: seals 1..1 (between seals/0 and seals/2)"
        );
        // The records seal 1 listed name a seal that is gone.
        assert!(
            problems(&gap, "s").contains(&"inserted: i/elsewhere (in no seal)".to_owned()),
            "{:?}",
            gap.session_lines
        );
    }

    #[test]
    fn an_edited_seal_is_invalid_and_a_chain_without_its_closing_seal_is_silent() {
        let key = Signer::from_secret(&[7; 32]);
        let sealer = seal::Sealer::new(Signer::from_secret(&[7; 32]), 10, None, 1);
        let s0 = sealer.seal(&[], &[], seal::SealKind::Heartbeat, 2).unwrap();
        sealer.settle(true, 2);
        let mut edited = s0.clone();
        edited.insert(seal::FIELD_END.into(), json!(0));
        let v = verifier(&key);
        let found = check_seals(vec![seal_doc(edited, 0)], &[], &v, 5);
        assert_eq!(found.chain_lines.len(), 1);
        assert!(
            found.chain_lines[0]
                .1
                .contains("seal_invalid (edited or forged): seals/0")
        );
        let silent = check_seals(vec![seal_doc(s0, 0)], &[], &v, 100);
        assert!(
            silent
                .chain_lines
                .iter()
                .any(|(ok, l)| !ok && l.contains("chain_silent"))
        );
    }

    #[test]
    fn findings_carry_their_kind_session_chain_and_document() {
        let lines = [
            "chain abc: problems (2 seals 0..2, 3 records; closed)",
            "  seal_missing: seals 1..1 (between s/0 and s/2)",
            "session s1: 2 problem(s) (3 documents, sequence 0..2)",
            "  deleted: d2",
            "  modified: idx/d1 (differs from seal abc/0)",
            "session s2: intact (1 documents, sequence 0..0)",
        ];
        let docs = findings(lines.into_iter());
        let kinds: Vec<(&str, Option<&str>, Option<&str>)> = docs
            .iter()
            .map(|d| {
                (
                    d["cowork_ecs"]["verify"]["finding"].as_str().unwrap(),
                    d["session"]["id"].as_str(),
                    d["cowork_ecs"]["verify"]["document_id"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("seal_missing", None, None),
                ("deleted", Some("s1"), Some("d2")),
                ("modified", Some("s1"), Some("d1")),
            ]
        );
        assert_eq!(docs[0]["cowork_ecs"]["verify"]["chain"], json!("abc"));
        assert_eq!(docs[1]["event"]["action"], json!("tamper-finding"));
    }

    #[test]
    fn ranges_are_compact() {
        assert_eq!(runs_text(&[(1, 1), (3, 5), (9, 9)]), "1, 3..5, 9");
        assert_eq!(runs_text(&[(7, 7)]), "7");
    }

    #[test]
    fn a_sequence_is_kept_as_runs_with_its_gaps_and_duplicates() {
        let mut seq = Sequence::default();
        for n in [5, 1, 3, 2, 9, 3, 7, 8, 3, 12, 11, i64::MAX] {
            seq.insert(n);
        }
        assert_eq!(
            seq.runs,
            [(1, 3), (5, 5), (7, 9), (11, 12), (i64::MAX, i64::MAX)].into()
        );
        assert_eq!(seq.twice, [(3, 3)].into());
        assert_eq!(seq.bounds(), Some((1, i64::MAX)));
        assert_eq!(
            seq.missing().unwrap(),
            format!("4, 6, 10, 13..{}", i64::MAX - 1)
        );
        // Runs join when the number between them comes.
        seq.insert(4);
        seq.insert(6);
        seq.insert(10);
        assert_eq!(seq.runs.len(), 2);
        assert_eq!(seq.runs[&1], 12);
        let mut one = Sequence::default();
        one.insert(0);
        assert_eq!((one.bounds(), one.missing()), (Some((0, 0)), None));
        assert_eq!(Sequence::default().bounds(), None);
    }

    #[test]
    fn until_is_resolved_once_or_handed_on() {
        let now = 1_000_000_000_000;
        assert_eq!(resolve_time("now", now), Some(now));
        assert_eq!(resolve_time("now-20s", now), Some(now - 20_000_000_000));
        assert_eq!(resolve_time("now-2h", now), Some(now - 7_200_000_000_000));
        assert_eq!(
            resolve_time("2026-11-30T00:00:00Z", now),
            signature::parse_timestamp("2026-11-30T00:00:00Z")
        );
        assert_eq!(resolve_time("now-1d/d", now), None);
        let (filter, end) = until_bound(Some("now-20s"), now);
        assert_eq!(end, now - 20_000_000_000);
        assert_eq!(
            filter.unwrap()["range"]["@timestamp"]["lte"],
            json!(980_000)
        );
        let (filter, end) = until_bound(Some("now-1d/d"), now);
        assert_eq!(
            (filter.unwrap()["range"]["@timestamp"]["lte"].clone(), end),
            (json!("now-1d/d"), now)
        );
        assert_eq!(until_bound(None, now), (None, now));
    }

    #[test]
    fn a_record_whose_seal_is_outside_the_window_is_checked_by_it() {
        // Seal 0 is not among the seals read (before --since): the record
        // naming it is checked by it all the same, not inserted.
        let key = Signer::from_secret(&[7; 32]);
        let sealer = seal::Sealer::new(Signer::from_secret(&[7; 32]), 10, None, 1);
        let chain = sealer.chain().to_owned();
        let (doc, item) = sealed_record("d0", 0, &chain, 0);
        let s0 = sealer.seal(&[item], &[], seal::SealKind::Batch, 2).unwrap();
        sealer.settle(true, 2);
        let s1 = sealer.seal(&[], &[], seal::SealKind::Closing, 3).unwrap();
        sealer.settle(true, 3);
        let v = verifier(&key);
        let mut src = Memory {
            seals: vec![seal_doc(s1, 1)],
            docs: vec![doc],
            session: None,
        };
        let mut outside = seal_doc(s0, 0);
        let found = {
            // seals() reads seal 1 only; seals_with_ids() finds seal 0.
            struct Window<'m>(&'m Memory, Doc);
            impl Source for Window<'_> {
                fn seals(&self, f: Pages<'_>) -> Result<(), String> {
                    self.0.seals(f)
                }
                fn documents(&self, f: Pages<'_>) -> Result<(), String> {
                    self.0.documents(f)
                }
                fn naming(&self, refs: &[&str], f: Pages<'_>) -> Result<(), String> {
                    self.0.naming(refs, f)
                }
                fn with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
                    self.0.with_ids(ids, f)
                }
                fn seals_with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
                    let hit = ids.contains(&self.1.id.as_str());
                    pages(
                        if hit {
                            vec![self.1.clone()]
                        } else {
                            Vec::new()
                        },
                        1,
                        f,
                    )
                }
            }
            let w = Window(&src, outside.clone());
            verify_all(&w, &v, 4, true, Progress::new(false)).unwrap()
        };
        assert_eq!(
            found.session_lines,
            ["session s: intact (1 documents, sequence 0..0)"]
        );
        assert!(
            found.chain_lines[0]
                .1
                .contains("(1 seals 1..1, 0 records; closed)"),
            "{:?}",
            found.chain_lines
        );
        // Edited there: modified, as if it were in the window.
        outside.fields.insert(seal::FIELD_END.into(), json!(0));
        src.seals.clear();
        let w = Memory {
            seals: vec![outside],
            docs: std::mem::take(&mut src.docs),
            session: None,
        };
        let found = verify_all(&w, &v, 4, true, Progress::new(false)).unwrap();
        assert!(
            found.chain_lines[0]
                .1
                .contains("seal_invalid (edited or forged): seals/0")
        );
        assert_eq!(problems(&found, "s"), ["inserted: i/d0 (in no seal)"]);
    }
}
