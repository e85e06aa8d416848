//! `cowork-ecs verify`: reads the stored Claude log documents back from
//! Elasticsearch and checks their signatures and each session's sequence
//! (README "Tamper evidence"). Per session it reports `intact`, or each
//! problem: a modified document (and which fields), missing sequence
//! numbers, an inserted document (unsigned, or a second one for a number),
//! a bad signature, a key it does not know, a key revoked.

use crate::elasticsearch::Client;
use cowork_ecs::signature::{self, FIELD_FIELDS, FIELD_KEY_ID, FIELD_SIGNATURE, FIELD_TIMESTAMP};
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    let docs = read(client, v)?;
    if docs.is_empty() {
        println!("no documents in {} match: nothing verified", v.index);
        return Ok(false);
    }
    let mut sessions: BTreeMap<String, Vec<Checked>> = BTreeMap::new();
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
    let mut intact = true;
    for (session, mut docs) in sessions {
        docs.sort_by_key(|(d, seq, _)| (*seq, d.name.clone()));
        let mut lines = Vec::new();
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
        let good: BTreeSet<i64> = seen.keys().copied().collect();
        for (seq, n) in &seen {
            if *n > 1 {
                lines.push(format!(
                    "inserted: {} signed documents for sequence {seq}",
                    n
                ));
            }
        }
        if let (Some(&lo), Some(&hi)) = (good.first(), good.last()) {
            let missing: Vec<i64> = (lo..=hi).filter(|s| !good.contains(s)).collect();
            if !missing.is_empty() {
                lines.push(format!("missing: sequence {}", ranges(&missing)));
            }
        }
        let span = match (good.first(), good.last()) {
            (Some(lo), Some(hi)) => format!(", sequence {lo}..{hi}"),
            _ => String::new(),
        };
        if lines.is_empty() {
            println!("session {session}: intact ({} documents{span})", docs.len());
        } else {
            intact = false;
            println!(
                "session {session}: {} problem(s) ({} documents{span})",
                lines.len(),
                docs.len()
            );
            for line in lines {
                println!("  {line}");
            }
        }
    }
    Ok(intact)
}

/// Checks one document's signature; `None` when it holds under a trusted key.
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

/// Every document of the query, read with a scroll.
fn read(client: &Client, v: &Verify) -> Result<Vec<Doc>, String> {
    let mut filter = Vec::new();
    if let Some(since) = &v.since {
        filter.push(json!({"range": {"@timestamp": {"gte": since}}}));
    }
    if let Some(session) = &v.session {
        let should: Vec<Value> = SESSION_FIELDS
            .iter()
            .map(|f| json!({"term": {*f: session}}))
            .collect();
        filter.push(json!({"bool": {"should": should, "minimum_should_match": 1}}));
    }
    let body = json!({"size": PAGE, "sort": ["_doc"], "query": {"bool": {"filter": filter}}});
    let path = format!(
        "{}/_search?scroll=1m&ignore_unavailable=true&allow_no_indices=true",
        v.index
    );
    let (status, mut page) = client.call("POST", &path, Some(&body))?;
    if status != 200 {
        return Err(format!(
            "search {}: HTTP {status}: {}",
            v.index,
            clip(&page)
        ));
    }
    let mut docs = Vec::new();
    loop {
        let hits = page["hits"]["hits"].as_array().cloned().unwrap_or_default();
        if hits.is_empty() {
            break;
        }
        for hit in hits {
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
                fields: signature::flatten(&hit["_source"]),
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
    use super::*;

    #[test]
    fn ranges_are_compact() {
        assert_eq!(ranges(&[1, 3, 4, 5, 9]), "1, 3..5, 9");
        assert_eq!(ranges(&[7]), "7");
    }
}
