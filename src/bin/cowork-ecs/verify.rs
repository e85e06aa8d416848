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
//!   another id (**moved**); a record marked with a chain but in no seal is
//!   **inserted**.
//! - Spans, span events and data points: their signatures and each
//!   session's sequence, as before seals: a modified document (and which
//!   fields), missing sequence numbers, an inserted one (unsigned, or a
//!   second one for a number), a bad signature, a key it does not know, a
//!   key revoked.
//!
//! Per session it reports `intact`, or each problem.

use crate::elasticsearch::Client;
use cowork_ecs::seal;
use cowork_ecs::signature::{self, FIELD_FIELDS, FIELD_KEY_ID, FIELD_SIGNATURE, FIELD_TIMESTAMP};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The seals of every gateway.
pub const SEAL_INDEX: &str = "logs-cowork_ecs.seals-*";

/// The default documents: the log records, spans, span events and data points of both emitters.
pub const DEFAULT_INDEX: &str = "logs-claude_code.events.otel-*,logs-claude_cowork.events.otel-*,\
traces-claude_code.otel-*,traces-claude_cowork.otel-*,logs-claude_code.otel-*,logs-claude_cowork.otel-*,\
metrics-claude_code.metrics-*,metrics-claude_cowork.metrics-*";
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

/// What to check.
pub struct Verify {
    /// Index pattern(s) to read.
    pub index: String,
    /// Only this session.
    pub session: Option<String>,
    /// Only documents at or after this time (`@timestamp`, as Elasticsearch reads a date).
    pub since: Option<String>,
    /// Keys whose signatures are good, by key id.
    pub trusted: HashMap<String, VerifyingKey>,
    /// Keys no longer trusted (rotated out after a leak), by key id.
    pub revoked: HashMap<String, VerifyingKey>,
    /// Where to write each finding as a document (`--report-index`).
    pub report_index: Option<String>,
}

/// One stored document.
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

/// A document, its number in its session, and what is wrong with it.
type Checked = (Doc, Option<i64>, Option<Finding>);

/// Reads the documents, checks them and prints a report; `Ok(true)` when
/// every session is intact.
///
/// # Errors
/// Elasticsearch refuses or cannot be reached.
pub fn run(client: &Client, v: &Verify) -> Result<bool, String> {
    let docs = read(client, v, &v.index, true)?;
    // Seals list Claude log records (the events data streams) only.
    let seals = if v.index.contains(".events.") {
        read(client, v, SEAL_INDEX, false)?
    } else {
        Vec::new()
    };
    let sealed = check_seals(seals, &docs, v, now_ns());
    if docs.is_empty() && sealed.chain_lines.is_empty() && sealed.by_session.is_empty() {
        println!("no documents in {} match: nothing verified", v.index);
        return Ok(false);
    }
    let chains_intact = sealed.chain_lines.iter().all(|(ok, _)| *ok);
    for (_, line) in &sealed.chain_lines {
        println!("{line}");
    }
    let (intact, lines) = report_sealed(docs, v, &sealed);
    for line in &lines {
        println!("{line}");
    }
    if let Some(index) = &v.report_index {
        let chain_lines = sealed.chain_lines.iter().map(|(_, l)| l.as_str());
        let findings = findings(chain_lines.chain(lines.iter().map(String::as_str)));
        for doc in &findings {
            let (status, body) = client.call("POST", &format!("{index}/_doc"), Some(doc))?;
            if !(200..300).contains(&status) {
                return Err(format!("report to {index}: HTTP {status}: {}", clip(&body)));
            }
        }
        println!("{} finding(s) written to {index}", findings.len());
    }
    Ok(intact && chains_intact)
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

/// What the seals say: a line per chain (`false`: a problem), the
/// findings on the records they list by session, and the ids they list.
#[derive(Default)]
struct Sealed {
    chain_lines: Vec<(bool, String)>,
    by_session: BTreeMap<String, Vec<String>>,
    listed: HashSet<String>,
    /// Ids of stored documents the seals account for (listed, or moved).
    accounted: HashSet<String>,
}

/// A stored seal, checked.
struct SealDoc {
    name: String,
    chain: String,
    number: u64,
    kind: String,
    time: i64,
    interval: i64,
    previous: Option<String>,
    predecessor: Option<String>,
    digest: String,
    fields: BTreeMap<String, Value>,
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

/// Checks the seals and the records they list against `docs`.
fn check_seals(seals: Vec<Doc>, docs: &[Doc], v: &Verify, now: i64) -> Sealed {
    let mut out = Sealed::default();
    let keys = |id: &str| v.trusted.get(id).or_else(|| v.revoked.get(id));
    let mut chains: BTreeMap<String, Vec<SealDoc>> = BTreeMap::new();
    for doc in seals {
        let mut fields = doc.fields;
        if let Some(Value::String(ts)) = fields.get(FIELD_TIMESTAMP) {
            if let Some(ns) = signature::parse_timestamp(ts) {
                fields.insert(FIELD_TIMESTAMP.to_owned(), Value::from(ns));
            }
        }
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        let chain = text(seal::FIELD_CHAIN).unwrap_or_else(|| "(no chain)".into());
        let in_scope = (v.session.as_deref())
            .is_none_or(|only| texts(&fields, seal::FIELD_SESSIONS).contains(&only));
        match seal::verify_seal(&fields, keys) {
            Ok(_) | Err(_) if !in_scope => {}
            Ok(key) if v.revoked.contains_key(&key) => out.chain_lines.push((
                false,
                format!("chain {chain}: revoked key: seal {} (key {key})", doc.name),
            )),
            Ok(_) => {}
            Err(problem) => {
                let why = match problem {
                    seal::SealProblem::Unsigned => "seal_invalid (unsigned)".to_owned(),
                    seal::SealProblem::UnknownKey(k) => format!("unknown key {k}"),
                    seal::SealProblem::BadSignature => "seal_invalid (edited or forged)".to_owned(),
                };
                out.chain_lines
                    .push((false, format!("chain {chain}: {why}: {}", doc.name)));
                continue;
            }
        }
        let number = |k: &str| fields.get(k).and_then(Value::as_i64).unwrap_or(0);
        chains.entry(chain.clone()).or_default().push(SealDoc {
            name: doc.name,
            number: u64::try_from(number(seal::FIELD_NUMBER)).unwrap_or(0),
            kind: text(seal::FIELD_KIND).unwrap_or_default(),
            time: number(FIELD_TIMESTAMP),
            interval: number(seal::FIELD_INTERVAL).max(1),
            previous: text(seal::FIELD_PREVIOUS),
            predecessor: text(seal::FIELD_PREDECESSOR),
            digest: seal::seal_digest(&fields),
            chain,
            fields,
        });
    }
    // Which chain each chain's first seal names as its predecessor.
    let mut successors: HashMap<String, (String, u64, String)> = HashMap::new();
    for seals in chains.values() {
        for s in seals.iter().filter(|s| s.number == 0) {
            if let Some(p) = &s.predecessor {
                let parts: Vec<&str> = p.split('/').collect();
                if let [c, n, d] = parts[..] {
                    successors.insert(
                        c.to_owned(),
                        (s.chain.clone(), n.parse().unwrap_or(0), d.to_owned()),
                    );
                }
            }
        }
    }
    // One session: the chains that sealed any of its records, or that its
    // stored records name.
    if let Some(only) = &v.session {
        let named: HashSet<&str> = docs
            .iter()
            .filter_map(|d| sealed_chain(&d.fields))
            .collect();
        chains.retain(|chain, seals| {
            named.contains(chain.as_str())
                || seals
                    .iter()
                    .any(|s| texts(&s.fields, seal::FIELD_SESSIONS).contains(&only.as_str()))
        });
    }
    let by_id: HashMap<&str, &Doc> = docs.iter().map(|d| (d.id.as_str(), d)).collect();
    // id, digest, session, and the seal and entry's group and release.
    let mut deleted: Vec<(
        String,
        String,
        String,
        BTreeMap<String, Value>,
        Option<usize>,
        bool,
    )> = Vec::new();
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
            } else if b.previous.as_deref() != Some(a.digest.as_str()) {
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
        if last.kind != "closing" {
            match successors.get(&chain) {
                Some((next, named, digest)) => {
                    if last.number < *named {
                        problems.push(format!(
                            "seal_missing: seals {}..{} at the chain's end (chain {next} names seal {named})",
                            last.number + 1,
                            named
                        ));
                    } else if last.number == *named && last.digest != *digest {
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
        // The records each seal lists.
        let mut items = 0;
        for s in &seals {
            let sessions = texts(&s.fields, seal::FIELD_SESSIONS);
            for entry in seal::item_entries(&s.fields) {
                let Some(entry) = seal::parse_item(entry) else {
                    continue;
                };
                let (id, digest, session) = (entry.id, entry.digest, entry.session);
                items += 1;
                let session = session
                    .and_then(|i| sessions.get(i).map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "(no session)".into());
                if v.session.as_ref().is_some_and(|only| *only != session) {
                    continue;
                }
                out.listed.insert(id.to_owned());
                match by_id.get(id) {
                    None => deleted.push((
                        id.to_owned(),
                        digest.to_owned(),
                        session,
                        s.fields.clone(),
                        entry.group,
                        entry.v1,
                    )),
                    Some(doc) => {
                        out.accounted.insert(id.to_owned());
                        if stored_digest(&doc.fields, &entry, &s.fields) != digest {
                            out.by_session.entry(session).or_default().push(format!(
                                "modified: {} (differs from seal {}/{})",
                                doc.name, chain, s.number
                            ));
                        }
                    }
                }
            }
        }
        let ok = problems.is_empty();
        let head = format!(
            "chain {chain}: {} ({} seals {}..{}, {items} records; {})",
            if ok { "intact" } else { "problems" },
            seals.len(),
            first.number,
            last.number,
            notes.join(", ")
        );
        out.chain_lines.push((ok, head));
        out.chain_lines
            .extend(problems.into_iter().map(|p| (false, format!("  {p}"))));
    }
    // A listed record gone, whose exact content is stored under another
    // id: moved.
    let unlisted: Vec<&Doc> = docs
        .iter()
        .filter(|d| !out.listed.contains(&d.id) && sealed_chain(&d.fields).is_some())
        .collect();
    for (id, digest, session, seal_fields, group, v1) in deleted {
        let entry = seal::ItemEntry {
            id: &id,
            digest: &digest,
            session: None,
            group,
            v1,
        };
        let line = match unlisted
            .iter()
            .find(|d| stored_digest(&d.fields, &entry, &seal_fields) == digest)
        {
            Some(doc) => {
                out.accounted.insert(doc.id.clone());
                format!("moved: {id} to {}", doc.name)
            }
            None => format!("deleted: {id}"),
        };
        out.by_session.entry(session).or_default().push(line);
    }
    out
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

/// [`report`] with what the seals found: sealed records are checked by
/// their seals (not by a signature of their own); a record marked with a
/// chain that no seal lists is inserted; sessions the seals name that no
/// stored document has any more are reported too.
fn report_sealed(docs: Vec<Doc>, v: &Verify, sealed: &Sealed) -> (bool, Vec<String>) {
    let mut extra: BTreeMap<String, Vec<String>> = sealed.by_session.clone();
    let mut unsealed = Vec::new();
    for doc in docs {
        if sealed_chain(&doc.fields).is_some() {
            if !sealed.accounted.contains(&doc.id) {
                let session = first(&doc.fields, SESSION_FIELDS)
                    .and_then(Value::as_str)
                    .unwrap_or("(no session)")
                    .to_owned();
                extra
                    .entry(session)
                    .or_default()
                    .push(format!("inserted: {} (in no seal)", doc.name));
            }
            // Its place in the session's sequence still counts.
            let mut doc = doc;
            doc.fields.insert(SEALED_MARK.to_owned(), Value::Bool(true));
            unsealed.push(doc);
        } else {
            unsealed.push(doc);
        }
    }
    report_with(unsealed, v, extra)
}

/// A field verify adds to a sealed document it read (never stored): its
/// seal, not a signature, speaks for it.
const SEALED_MARK: &str = "\u{0}sealed";

/// The report on `docs`: per session a line, `intact` or its problems,
/// each problem on an indented line after it; and whether every session
/// is intact.
#[cfg(test)]
fn report(docs: Vec<Doc>, v: &Verify) -> (bool, Vec<String>) {
    report_with(docs, v, BTreeMap::new())
}

/// [`report`] with more problems per session (`extra`, from the seals).
fn report_with(
    docs: Vec<Doc>,
    v: &Verify,
    mut extra: BTreeMap<String, Vec<String>>,
) -> (bool, Vec<String>) {
    let mut sessions: BTreeMap<String, Vec<Checked>> = BTreeMap::new();
    for session in extra.keys() {
        sessions.entry(session.clone()).or_default();
    }
    for doc in docs {
        let session = first(&doc.fields, SESSION_FIELDS)
            .and_then(Value::as_str)
            .unwrap_or("(no session)")
            .to_owned();
        let sequence = first(&doc.fields, SEQUENCE_FIELDS).and_then(|s| match s {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.parse().ok(),
            _ => None,
        });
        let finding = check(&doc, v);
        sessions
            .entry(session)
            .or_default()
            .push((doc, sequence, finding));
    }
    let mut out = Vec::new();
    let mut intact = true;
    for (session, mut docs) in sessions {
        docs.sort_by(|(a, sa, _), (b, sb, _)| (sa, &a.name).cmp(&(sb, &b.name)));
        let mut lines = extra.remove(&session).unwrap_or_default();
        for (doc, _, finding) in &docs {
            match finding {
                None => {}
                Some(Finding::Unsigned) => lines.push(format!("inserted: {} (unsigned)", doc.name)),
                Some(Finding::UnknownKey(k)) => {
                    lines.push(format!("unknown key: {} (key {k})", doc.name))
                }
                Some(Finding::RevokedKey(k)) => {
                    lines.push(format!("revoked key: {} (key {k})", doc.name))
                }
                Some(Finding::BadSignature) => lines.push(format!("bad signature: {}", doc.name)),
                Some(Finding::Modified(fields)) => lines.push(format!(
                    "modified: {} (fields: {})",
                    doc.name,
                    fields.join(", ")
                )),
            }
        }
        // The sequence, over the documents a trusted key signed whose
        // number itself is unchanged (a document modified elsewhere still
        // holds its place: it is reported as modified, not as missing).
        let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
        for (_, seq, finding) in &docs {
            let placed = match finding {
                None => true,
                Some(Finding::Modified(fields)) => !fields
                    .iter()
                    .any(|f| SEQUENCE_FIELDS.iter().any(|s| f.starts_with(s))),
                Some(_) => false,
            };
            if let (Some(seq), true) = (seq, placed) {
                *seen.entry(*seq).or_default() += 1;
            }
        }
        for (seq, n) in seen.iter().filter(|(_, n)| **n > 1) {
            lines.push(format!("inserted: {n} signed documents for sequence {seq}"));
        }
        let bounds = seen.keys().next().zip(seen.keys().next_back());
        if let Some((&lo, &hi)) = bounds {
            let missing: Vec<i64> = (lo..=hi).filter(|s| !seen.contains_key(s)).collect();
            if !missing.is_empty() {
                lines.push(format!("missing: sequence {}", ranges(&missing)));
            }
        }
        let span = bounds.map_or(String::new(), |(lo, hi)| format!(", sequence {lo}..{hi}"));
        if lines.is_empty() {
            out.push(format!(
                "session {session}: intact ({} documents{span})",
                docs.len()
            ));
        } else {
            intact = false;
            out.push(format!(
                "session {session}: {} problem(s) ({} documents{span})",
                lines.len(),
                docs.len()
            ));
            out.extend(lines.into_iter().map(|l| format!("  {l}")));
        }
    }
    (intact, out)
}

/// Checks one document's signature; `None` when it holds under a trusted
/// key, or when it is sealed (its seal speaks for it).
fn check(doc: &Doc, v: &Verify) -> Option<Finding> {
    if doc.fields.contains_key(SEALED_MARK) {
        return None;
    }
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

/// Every document of `index` matching the window (and, with `by_session`,
/// the session), read with a scroll.
fn read(client: &Client, v: &Verify, index: &str, by_session: bool) -> Result<Vec<Doc>, String> {
    let mut filter = Vec::new();
    if let Some(since) = &v.since {
        filter.push(json!({"range": {"@timestamp": {"gte": since}}}));
    }
    if let Some(session) = v.session.as_ref().filter(|_| by_session) {
        let should: Vec<Value> = SESSION_FIELDS
            .iter()
            .map(|f| json!({"term": {*f: session}}))
            .collect();
        filter.push(json!({"bool": {"should": should, "minimum_should_match": 1}}));
    }
    let body = json!({"size": PAGE, "sort": ["_doc"], "query": {"bool": {"filter": filter}}});
    let path = format!("{index}/_search?scroll=1m&ignore_unavailable=true&allow_no_indices=true");
    let (status, mut page) = client.call("POST", &path, Some(&body))?;
    if status != 200 {
        return Err(format!("search {index}: HTTP {status}: {}", clip(&page)));
    }
    let mut docs = Vec::new();
    loop {
        let hits = match page["hits"]["hits"].take() {
            Value::Array(hits) => hits,
            _ => Vec::new(),
        };
        if hits.is_empty() {
            break;
        }
        for mut hit in hits {
            let (Some(index), Some(id)) = (hit["_index"].as_str(), hit["_id"].as_str()) else {
                continue;
            };
            // A data point's signature binds no id: the processor cannot
            // know the one time-series mode derives from its dimensions.
            let metrics = index.starts_with("metrics-") || index.starts_with(".ds-metrics-");
            docs.push(Doc {
                name: format!("{index}/{id}"),
                id: if metrics {
                    String::new()
                } else {
                    id.to_owned()
                },
                fields: signature::flatten(hit["_source"].take()),
            });
        }
        let Some(scroll_id) = page["_scroll_id"].as_str().map(str::to_owned) else {
            break;
        };
        let (status, next) = client.call(
            "POST",
            "_search/scroll",
            Some(&json!({"scroll": "1m", "scroll_id": scroll_id})),
        )?;
        if status != 200 {
            return Err(format!("scroll: HTTP {status}: {}", clip(&next)));
        }
        page = next;
    }
    if let Some(scroll_id) = page["_scroll_id"].as_str() {
        let _ = client.call(
            "DELETE",
            "_search/scroll",
            Some(&json!({"scroll_id": scroll_id})),
        );
    }
    Ok(docs)
}

fn first<'a>(fields: &'a BTreeMap<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| fields.get(*n))
}

fn clip(v: &Value) -> String {
    v.to_string().chars().take(1000).collect()
}

/// `1, 3..5, 9` for `[1, 3, 4, 5, 9]`.
fn ranges(numbers: &[i64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let mut j = i;
        while j + 1 < numbers.len() && numbers[j + 1] == numbers[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            numbers[i].to_string()
        } else {
            format!("{}..{}", numbers[i], numbers[j])
        });
        i = j + 1;
    }
    out.join(", ")
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

    fn verifier(trusted: &Signer) -> Verify {
        let key = trusted.public_key();
        Verify {
            index: DEFAULT_INDEX.into(),
            session: None,
            since: None,
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

    /// A sealed record of session `s` as stored, and its seal entry.
    fn sealed_record(id: &str, seq: i64, chain: &str) -> (Doc, seal::SealedItem) {
        let fields: BTreeMap<String, Value> = [
            ("claude_code.events.session.id", json!("s")),
            ("claude_code.events.event.sequence", json!(seq)),
            ("process.command_line", json!("ls")),
            (seal::FIELD_SEAL_ID, json!(format!("{chain}-0"))),
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
        Doc {
            name: format!("seals/{n}"),
            id: format!("c-{n}"),
            fields,
        }
    }

    #[test]
    fn seals_name_deleted_modified_moved_and_inserted_records_and_a_broken_chain() {
        let key = Signer::from_secret(&[7; 32]);
        let sealer = seal::Sealer::new(Signer::from_secret(&[7; 32]), 10, None, 1);
        let chain = sealer.chain().to_owned();
        let records: Vec<(Doc, seal::SealedItem)> = (0..4)
            .map(|n| sealed_record(&format!("d{n}"), n, &chain))
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
        assert!(untouched.by_session.is_empty());
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
        let (mut forged, _) = sealed_record("forged", 9, &chain);
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
        let mut lines = found.by_session["s"].clone();
        lines.sort();
        assert_eq!(
            lines,
            [
                "deleted: d2".to_owned(),
                format!("modified: i/d1 (differs from seal {chain}/0)"),
                "moved: d3 to i/elsewhere".to_owned(),
            ]
        );
        assert!(!found.accounted.contains("forged"), "inserted: in no seal");

        let gap = check_seals(vec![seal_doc(s0, 0), seal_doc(s2, 2)], &docs, &v, 5);
        assert!(!gap.chain_lines[0].0);
        assert_eq!(
            gap.chain_lines[1].1,
            "  seal_missing: seals 1..1 (between seals/0 and seals/2)"
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
        assert_eq!(ranges(&[1, 3, 4, 5, 9]), "1, 3..5, 9");
        assert_eq!(ranges(&[7]), "7");
    }
}
