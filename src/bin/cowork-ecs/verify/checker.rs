//! The checks of one run: the seals and the records they list, the
//! documents folded per session, and the seals the documents name.

use super::Verify;
use super::progress::Progress;
use super::report::{Head, Summary, chain_report, session_report};
use super::signed::{Finding, check};
use super::source::{Doc, NO_SESSION, SEAL_PAGE, Source, first, session_of};
use cowork_ecs::seal;
use cowork_ecs::signature::{self, FIELD_TIMESTAMP};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Where a document's number in its session is.
const SEQUENCE_FIELDS: &[&str] = &[
    "claude_code.events.event.sequence",
    "claude_cowork.events.event.sequence",
    "event.sequence",
];

/// Ids per lookup by id.
const BATCH: usize = 1000;

/// What verify found, ready to print.
pub(super) struct Outcome {
    /// A line per chain and per seal problem (`false`: a problem).
    pub(super) chain_lines: Vec<(bool, String)>,
    /// Per session a line, `intact` or its problems (each indented after it).
    pub(super) session_lines: Vec<String>,
    /// Whether every session is intact.
    pub(super) sessions_intact: bool,
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
}

/// Reads everything of `src` and checks it (`seals`: the seals too; `end`:
/// the window's end, for a chain's silence).
pub(super) fn verify_all(
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
        let fields = &doc.fields;
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        let chain = text(seal::FIELD_CHAIN).unwrap_or_else(|| "(no chain)".into());
        let in_scope = (v.session.as_deref())
            .is_none_or(|only| texts(fields, seal::FIELD_SESSIONS).contains(&only));
        let keys = |id: &str| v.trusted.get(id).or_else(|| v.revoked.get(id));
        let mut problem = None;
        let (verdict, digest) = seal::check_seal(fields, keys);
        let trusted = match verdict {
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
            // Its signature held (or it is out of scope): count its lines.
            let items = seal::item_entries(fields).len();
            let head = Head {
                name: doc.name.clone(),
                number: u64::try_from(number(seal::FIELD_NUMBER)).unwrap_or(0),
                closing: text(seal::FIELD_KIND).as_deref() == Some("closing"),
                time: number(FIELD_TIMESTAMP),
                interval: number(seal::FIELD_INTERVAL).max(1),
                previous: text(seal::FIELD_PREVIOUS).and_then(|p| unhex(&p)),
                predecessor: text(seal::FIELD_PREDECESSOR),
                digest: unhex(&digest).unwrap_or([0; 32]),
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
                if !in_session(v, session) {
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
                        if in_session(v, &session) {
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
                        for (s, entry) in &ways {
                            let digest = signature::hex(&seal::entry_digest(
                                &doc.fields,
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
                    if in_session(v, &session) {
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
        let (sessions_intact, session_lines) = session_report(self.sessions, self.by_session);
        Outcome {
            chain_lines,
            session_lines,
            sessions_intact,
        }
    }
}

/// Whether `session` is one this run checks (all, or `--session`'s).
fn in_session(v: &Verify, session: &str) -> bool {
    v.session.as_deref().is_none_or(|only| only == session)
}

/// The digest of a stored record as the seal `seal` lists it in `entry`.
fn stored_digest(
    fields: &BTreeMap<String, Value>,
    entry: &seal::ItemEntry<'_>,
    seal: &BTreeMap<String, Value>,
) -> String {
    signature::hex(&seal::entry_digest(fields, entry, seal))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::verify::DEFAULT_INDEX;
    use crate::verify::source::Pages;
    use cowork_ecs::signature::Signer;
    use cowork_ecs::signature::{FIELD_FIELDS, FIELD_KEY_ID, FIELD_SIGNATURE};
    use serde_json::json;

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
        Doc::read(format!("i/{id}"), id.into(), fields)
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
        let doc = Doc::read(format!("i/{id}"), id.into(), fields);
        let entry = seal::ItemEntry {
            id,
            digest: "",
            session: None,
            group: None,
            v1: false,
        };
        let item = seal::SealedItem {
            id: id.into(),
            digest: unhex(&stored_digest(&doc.fields, &entry, &BTreeMap::new())).unwrap(),
            session: Some("s".into()),
            group: None,
            time: 7,
        };
        (doc, item)
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
