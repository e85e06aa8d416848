//! The report: a line per chain and per session, each problem after it,
//! and the problems as `--report-index` findings.

use super::Verify;
use super::sequence::Sequence;
use super::window::now_ns;
use cowork_ecs::signature;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a chain check needs of a seal read in the window.
pub(super) struct Head {
    pub(super) name: String,
    pub(super) number: u64,
    pub(super) closing: bool,
    pub(super) time: i64,
    pub(super) interval: i64,
    pub(super) previous: Option<[u8; 32]>,
    pub(super) predecessor: Option<String>,
    pub(super) digest: [u8; 32],
    pub(super) items: u64,
    /// It lists a record of `--session` (always, without one).
    pub(super) in_scope: bool,
}

/// One session's documents, folded one at a time.
#[derive(Default)]
pub(super) struct Summary {
    pub(super) documents: u64,
    /// The numbers of the documents that hold their place: signed by a
    /// trusted key (or sealed) with their number unchanged.
    pub(super) sequence: Sequence,
    /// A document's own problem: its number, its name, the line.
    pub(super) findings: Vec<(Option<i64>, String, String)>,
}

/// Per chain of seals read in the window: a line, `intact` or `problems`,
/// and each problem on an indented line after it (`false`: a problem).
/// With `--session`, only the chains that list its records or that its
/// documents name (`named`). `now`: the window's end.
pub(super) fn chain_report(
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
pub(super) fn session_report(
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
pub(super) fn findings<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<Value> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
}
