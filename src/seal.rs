//! Seals (README "Tamper evidence"): instead of a signature per record, the
//! processor lists every Claude log record of a request in one **seal**, a
//! record of its own in the data stream `logs-cowork_ecs.seals-<namespace>`,
//! signed once with the Ed25519 key. A seal carries:
//! - [`FIELD_CHAIN`], [`FIELD_NUMBER`]: the chain (one per gateway instance
//!   and start) and its number in it, from 0 without a gap;
//! - [`FIELD_PREVIOUS`]: the digest ([`seal_digest`]) of the seal before it
//!   in its chain; on a chain's seal 0, [`FIELD_PREDECESSOR`] names the last
//!   seal the previous chain of the same state directory wrote
//!   (`<chain>/<number>/<digest>`), so a restart is followed;
//! - [`FIELD_KIND`]: `batch` (a request's records), `heartbeat` (written
//!   every [`FIELD_INTERVAL`] nanoseconds when nothing else was) or
//!   `closing` (the last one of a graceful stop);
//! - [`FIELD_START`], [`FIELD_END`]: the time range of its records, in
//!   nanoseconds since the epoch (a seal without records: its own time);
//! - [`FIELD_ITEMS`]: one entry per record, `<document id> <digest>
//!   <session>`, the digest ([`item_digest`]) over the record's whole
//!   stored form and the session an index into [`FIELD_SESSIONS`] (`-`:
//!   none);
//! - [`FIELD_KEY_ID`], [`FIELD_SIGNATURE`]: the key and the signature over
//!   [`seal_message`].
//!
//! A sealed record carries only [`FIELD_CHAIN`] (16 hex digits) as the
//! reference to its seals' chain. Both the processor and `cowork-ecs
//! verify` compute a record's digest here, from its stored fields as
//! [`crate::signature::flatten`] reads them, leaving out only
//! [`UNSEALED_FIELDS`].

use crate::signature::{self, Signer, hex};
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The data stream dataset of seals (`logs-cowork_ecs.seals-<namespace>`).
pub const SEAL_DATASET: &str = "cowork_ecs.seals";
/// The data stream dataset of `cowork-ecs verify --report-index`'s
/// findings (`logs-cowork_ecs.verify-<namespace>`).
pub const VERIFY_DATASET: &str = "cowork_ecs.verify";
/// A seal's chain (16 hex digits); on a sealed record, the reference to
/// its seals' chain.
pub const FIELD_CHAIN: &str = "cowork_ecs.seal.chain";
/// A seal's number in its chain (0, 1, …).
pub const FIELD_NUMBER: &str = "cowork_ecs.seal.number";
/// The previous seal's digest (64 hex digits; none on seal 0).
pub const FIELD_PREVIOUS: &str = "cowork_ecs.seal.previous";
/// On seal 0: the previous chain's last seal, `<chain>/<number>/<digest>`.
pub const FIELD_PREDECESSOR: &str = "cowork_ecs.seal.predecessor";
/// `batch`, `heartbeat` or `closing`.
pub const FIELD_KIND: &str = "cowork_ecs.seal.kind";
/// The seal interval of its gateway, in nanoseconds.
pub const FIELD_INTERVAL: &str = "cowork_ecs.seal.interval";
/// The earliest record time it covers, in nanoseconds.
pub const FIELD_START: &str = "cowork_ecs.seal.start";
/// The latest record time it covers, in nanoseconds.
pub const FIELD_END: &str = "cowork_ecs.seal.end";
/// `<document id> <digest> <session index or ->` per record.
pub const FIELD_ITEMS: &str = "cowork_ecs.seal.items";
/// The sessions its records belong to.
pub const FIELD_SESSIONS: &str = "cowork_ecs.seal.sessions";
/// The key's id ([`signature::key_id`]).
pub const FIELD_KEY_ID: &str = "cowork_ecs.seal.key_id";
/// The Ed25519 signature over [`seal_message`], standard base64.
pub const FIELD_SIGNATURE: &str = "cowork_ecs.seal.signature";
/// Fields of a stored record left out of its digest: what the exporter
/// takes as instructions (it stores some of them, some not, depending on
/// its version), and what Elasticsearch's own ingest pipelines add.
pub const UNSEALED_FIELDS: &[&str] = &[
    "elasticsearch.index",
    "elastic.mapping.mode",
    "elasticsearch.document_id",
    "elasticsearch.ingest_pipeline",
    "elasticsearch.mapping.hints",
    "event.ingested",
];
/// The name of the chain state file in the state directory.
pub const STATE_FILE: &str = "cowork-ecs-seal-chain";

const ITEM_DOMAIN: &[u8] = b"cowork-ecs/item/v1\0";
const SEAL_DOMAIN: &[u8] = b"cowork-ecs/seal/v1\0";

/// A record in a seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedItem {
    /// Its document id (`_id`).
    pub id: String,
    /// [`item_digest`] of its stored form.
    pub digest: [u8; 32],
    /// Its session (`session.id`), if any.
    pub session: Option<String>,
    /// Its time, nanoseconds since the epoch.
    pub time: u64,
}

/// What a seal is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealKind {
    /// The records of one request.
    Batch,
    /// Nothing else was sealed for an interval.
    Heartbeat,
    /// The last seal of a chain, on a graceful stop.
    Closing,
}

impl SealKind {
    /// Its [`FIELD_KIND`] value.
    pub fn as_str(self) -> &'static str {
        match self {
            SealKind::Batch => "batch",
            SealKind::Heartbeat => "heartbeat",
            SealKind::Closing => "closing",
        }
    }
}

/// A record's digest: SHA-256 over a domain tag and the canonical JSON
/// ([`signature::canonical`]) of its stored leaf fields (`stored`, dotted
/// names, `@timestamp` as integer nanoseconds), [`UNSEALED_FIELDS`] left
/// out.
pub fn item_digest(stored: &BTreeMap<String, Value>) -> [u8; 32] {
    let mut text = String::with_capacity(stored.len() * 48);
    text.push('{');
    let mut first = true;
    for (name, value) in stored {
        if UNSEALED_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if !first {
            text.push(',');
        }
        first = false;
        signature::write_string(name, &mut text);
        text.push(':');
        signature::write_canonical(value, &mut text);
    }
    text.push('}');
    let mut h = Sha256::new();
    h.update(ITEM_DOMAIN);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// The signed message of a seal: a domain tag and the canonical JSON of
/// its `cowork_ecs.seal.*` fields but the signature, and `@timestamp`
/// (integer nanoseconds).
pub fn seal_message(fields: &BTreeMap<String, Value>) -> Vec<u8> {
    let signed: serde_json::Map<String, Value> = fields
        .iter()
        .filter(|(k, _)| is_seal_field(k) && k.as_str() != FIELD_SIGNATURE)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = SEAL_DOMAIN.to_vec();
    out.extend_from_slice(signature::canonical(&Value::Object(signed)).as_bytes());
    out
}

/// Whether a stored field is part of a seal's signed message.
fn is_seal_field(name: &str) -> bool {
    name == signature::FIELD_TIMESTAMP || name.starts_with("cowork_ecs.seal.")
}

/// A seal's digest (what the next seal names as [`FIELD_PREVIOUS`]):
/// SHA-256 of its [`seal_message`] and its signature, as 64 hex digits.
pub fn seal_digest(fields: &BTreeMap<String, Value>) -> String {
    let mut h = Sha256::new();
    h.update(seal_message(fields));
    if let Some(s) = fields.get(FIELD_SIGNATURE).and_then(Value::as_str) {
        h.update(s.as_bytes());
    }
    hex(&h.finalize())
}

/// Why a stored seal does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealProblem {
    /// No signature, or one that is not 64 bytes of base64.
    Unsigned,
    /// Signed by a key the verifier does not know (its id).
    UnknownKey(String),
    /// The signature does not hold: the seal was edited or forged.
    BadSignature,
}

/// Checks a stored seal's signature under the key its [`FIELD_KEY_ID`]
/// names among `keys`; returns that key id.
///
/// # Errors
/// [`SealProblem`].
pub fn verify_seal<'k>(
    fields: &BTreeMap<String, Value>,
    keys: impl Fn(&str) -> Option<&'k VerifyingKey>,
) -> Result<String, SealProblem> {
    use base64::Engine;
    let key_id = fields
        .get(FIELD_KEY_ID)
        .and_then(Value::as_str)
        .unwrap_or("");
    let sig = (fields.get(FIELD_SIGNATURE).and_then(Value::as_str))
        .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or(SealProblem::Unsigned)?;
    let key = keys(key_id).ok_or_else(|| SealProblem::UnknownKey(key_id.to_owned()))?;
    key.verify(&seal_message(fields), &sig)
        .map_err(|_| SealProblem::BadSignature)?;
    Ok(key_id.to_owned())
}

/// One parsed [`FIELD_ITEMS`] entry: id, digest (hex), session index.
pub fn parse_item(entry: &str) -> Option<(&str, &str, Option<usize>)> {
    let mut parts = entry.split(' ');
    let (id, digest, session) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || digest.len() != 64 {
        return None;
    }
    Some((id, digest, session.parse().ok()))
}

/// The chain of one transformer: its id, the next number, the previous
/// seal's digest, and the seal written but not yet settled.
#[derive(Debug)]
struct ChainState {
    next: u64,
    previous: Option<String>,
    predecessor: Option<String>,
    /// The seal handed out and not yet settled: its digest and kind.
    pending: Option<(String, SealKind)>,
    /// When the last seal was settled (nanoseconds).
    last: u64,
    closed: bool,
}

/// Seals the records of one gateway instance into a chain
/// ([`SealKind`]). A seal is handed out ([`Sealer::seal`]), written by the
/// caller with its records, and settled ([`Sealer::settle`]): written, it
/// becomes the previous seal of the next; not written, its number is used
/// again, so the chain has no gap the gateway made itself. One seal is
/// pending at a time: the caller serializes seal, write and settle.
#[derive(Debug)]
pub struct Sealer {
    signer: Signer,
    chain: String,
    interval: u64,
    state_file: Option<PathBuf>,
    state: Mutex<ChainState>,
}

impl Sealer {
    /// A new chain for `signer`, sealing at least every `interval`
    /// nanoseconds; with `state_dir`, its last seal is kept in
    /// [`STATE_FILE`] there (no fsync: it survives the process, not the
    /// machine) and the previous chain's is named by seal 0.
    pub fn new(signer: Signer, interval: u64, state_dir: Option<&Path>, now: u64) -> Sealer {
        let mut h = Sha256::new();
        h.update(signer.key_id().as_bytes());
        h.update(std::process::id().to_le_bytes());
        h.update(now.to_le_bytes());
        if let Some(d) = state_dir {
            h.update(d.as_os_str().as_encoded_bytes());
        }
        let chain = hex(&h.finalize()[..8]);
        let state_file = state_dir.map(|d| d.join(STATE_FILE));
        let predecessor = state_file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| s.split('/').count() == 3);
        Sealer {
            signer,
            chain,
            interval,
            state_file,
            state: Mutex::new(ChainState {
                next: 0,
                previous: None,
                predecessor,
                pending: None,
                last: now,
                closed: false,
            }),
        }
    }

    /// This chain's id (16 hex digits).
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The seal interval, in nanoseconds.
    pub fn interval(&self) -> u64 {
        self.interval
    }

    /// Whether no seal was settled for an interval (a heartbeat is due).
    pub fn due(&self, now: u64) -> bool {
        let state = self.lock();
        !state.closed && now.saturating_sub(state.last) >= self.interval
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChainState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next seal of the chain over `items`, as its stored fields
    /// (`cowork_ecs.seal.*` and `@timestamp` = `now`), pending until
    /// [`Sealer::settle`].
    ///
    /// # Errors
    /// Another seal is pending, or the chain was closed.
    pub fn seal(
        &self,
        items: &[SealedItem],
        kind: SealKind,
        now: u64,
    ) -> Result<BTreeMap<String, Value>, String> {
        let mut state = self.lock();
        if state.pending.is_some() {
            return Err("a seal is pending: settle it first".into());
        }
        if state.closed {
            return Err("the seal chain is closed".into());
        }
        let mut fields = BTreeMap::new();
        let mut put = |k: &str, v: Value| {
            fields.insert(k.to_owned(), v);
        };
        put(signature::FIELD_TIMESTAMP, Value::from(now));
        put(FIELD_CHAIN, Value::from(self.chain.as_str()));
        put(FIELD_NUMBER, Value::from(state.next));
        put(FIELD_KIND, Value::from(kind.as_str()));
        put(FIELD_INTERVAL, Value::from(self.interval));
        if let Some(p) = &state.previous {
            put(FIELD_PREVIOUS, Value::from(p.as_str()));
        }
        if let (0, Some(p)) = (state.next, &state.predecessor) {
            put(FIELD_PREDECESSOR, Value::from(p.as_str()));
        }
        let times = items.iter().map(|i| i.time);
        put(FIELD_START, Value::from(times.clone().min().unwrap_or(now)));
        put(FIELD_END, Value::from(times.max().unwrap_or(now)));
        let mut sessions: Vec<&str> = Vec::new();
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let session = match item.session.as_deref() {
                Some(s) => match sessions.iter().position(|x| *x == s) {
                    Some(i) => i.to_string(),
                    None => {
                        sessions.push(s);
                        (sessions.len() - 1).to_string()
                    }
                },
                None => "-".to_owned(),
            };
            entries.push(Value::from(format!(
                "{} {} {session}",
                item.id,
                hex(&item.digest)
            )));
        }
        if !entries.is_empty() {
            put(FIELD_ITEMS, Value::Array(entries));
        }
        if !sessions.is_empty() {
            put(FIELD_SESSIONS, Value::from(sessions));
        }
        put(FIELD_KEY_ID, Value::from(self.signer.key_id()));
        let signature = self.signer.sign_bytes(&seal_message(&fields));
        fields.insert(FIELD_SIGNATURE.to_owned(), Value::from(signature));
        state.pending = Some((seal_digest(&fields), kind));
        Ok(fields)
    }

    /// Settles the pending seal: `written` makes it the chain's last (and
    /// the state file's), else its number is handed out again. A closing
    /// seal written closes the chain.
    pub fn settle(&self, written: bool, now: u64) {
        let mut state = self.lock();
        let Some((digest, kind)) = state.pending.take() else {
            return;
        };
        if !written {
            return;
        }
        let number = state.next;
        state.next += 1;
        state.last = now;
        state.closed = kind == SealKind::Closing;
        if let Some(f) = &self.state_file {
            // Best effort: without it the next chain names no predecessor,
            // which a verifier reports as a chain it cannot follow.
            let _ = std::fs::write(f, format!("{}/{number}/{digest}\n", self.chain));
        }
        state.previous = Some(digest);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(id: &str, session: &str) -> SealedItem {
        SealedItem {
            id: id.into(),
            digest: [7; 32],
            session: Some(session.into()),
            time: 5,
        }
    }

    #[test]
    fn seals_chain_and_verify_and_an_edit_breaks_them() {
        let signer = Signer::from_secret(&[3; 32]);
        let public = signer.public_key();
        let sealer = Sealer::new(Signer::from_secret(&[3; 32]), 10, None, 1);
        let a = sealer
            .seal(&[item("x", "s1"), item("y", "s1")], SealKind::Batch, 2)
            .unwrap();
        assert!(
            sealer.seal(&[], SealKind::Heartbeat, 3).is_err(),
            "one pending"
        );
        sealer.settle(true, 2);
        let b = sealer.seal(&[], SealKind::Heartbeat, 3).unwrap();
        assert_eq!(b[FIELD_NUMBER], json!(1));
        assert_eq!(b[FIELD_PREVIOUS], json!(seal_digest(&a)));
        assert_eq!(a[FIELD_ITEMS][0], json!(format!("x {} 0", hex(&[7; 32]))));
        let keys = |id: &str| (id == signer.key_id()).then_some(&public);
        assert_eq!(verify_seal(&a, keys).unwrap(), signer.key_id());
        let mut edited = a.clone();
        edited.insert(
            FIELD_ITEMS.into(),
            json!([format!("x {} 0", hex(&[7; 32]))]),
        );
        assert_eq!(verify_seal(&edited, keys), Err(SealProblem::BadSignature));
        // Not written: the number is handed out again.
        sealer.settle(false, 3);
        let again = sealer.seal(&[], SealKind::Closing, 4).unwrap();
        assert_eq!(again[FIELD_NUMBER], json!(1));
        sealer.settle(true, 4);
        assert!(sealer.seal(&[], SealKind::Heartbeat, 5).is_err(), "closed");
    }

    #[test]
    fn a_restart_names_the_last_seal_of_the_previous_chain() {
        let dir = std::env::temp_dir().join(format!("seal-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = Sealer::new(Signer::from_secret(&[3; 32]), 10, Some(&dir), 1);
        let s0 = first.seal(&[], SealKind::Heartbeat, 2).unwrap();
        first.settle(true, 2);
        let second = Sealer::new(Signer::from_secret(&[3; 32]), 10, Some(&dir), 3);
        assert_ne!(first.chain(), second.chain());
        let t0 = second.seal(&[], SealKind::Heartbeat, 4).unwrap();
        assert_eq!(
            t0[FIELD_PREDECESSOR],
            json!(format!("{}/0/{}", first.chain(), seal_digest(&s0)))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_item_digest_covers_every_field_but_the_unsealed() {
        let base: BTreeMap<String, Value> = [
            ("a".to_owned(), json!(1)),
            ("elastic.mapping.mode".to_owned(), json!("ecs")),
        ]
        .into();
        let mut added = base.clone();
        added.insert("user.name".into(), json!("x"));
        assert_ne!(item_digest(&base), item_digest(&added));
        let mut control = base.clone();
        control.remove("elastic.mapping.mode");
        assert_eq!(item_digest(&base), item_digest(&control));
        assert_eq!(
            parse_item(&format!("id {} 3", hex(&[1; 32]))).unwrap().2,
            Some(3)
        );
        assert_eq!(
            parse_item(&format!("id {} -", hex(&[1; 32]))).unwrap().2,
            None
        );
        assert!(parse_item("id short 0").is_none());
    }
}
