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
//!   [`signed_bytes`];
//! - [`FIELD_VERSION`]: the format, 2.
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

/// A seal's document id ([`FIELD_SEAL_ID`] on the records it lists):
/// `<chain>-<number>`.
pub fn seal_id(chain: &str, number: u64) -> String {
    format!("{chain}-{number}")
}

/// The data stream dataset of seals (`logs-cowork_ecs.seals-<namespace>`).
pub const SEAL_DATASET: &str = "cowork_ecs.seals";
/// The data stream dataset of `cowork-ecs verify --report-index`'s
/// findings (`logs-cowork_ecs.verify-<namespace>`).
pub const VERIFY_DATASET: &str = "cowork_ecs.verify";
/// A seal's chain (16 hex digits); on a sealed record, the reference to
/// its seals' chain.
pub const FIELD_CHAIN: &str = "cowork_ecs.seal.chain";
/// On a sealed record: the `_id` of its seal, `<chain>-<number>` (the
/// reference `cowork-ecs verify` follows from a record to its seal).
pub const FIELD_SEAL_ID: &str = "cowork_ecs.seal.id";
/// A seal's number in its chain (0, 1, …).
pub const FIELD_NUMBER: &str = "cowork_ecs.seal.number";
/// The seal format: 2 (none: the first release's, whose signature is over
/// [`seal_message`] itself).
pub const FIELD_VERSION: &str = "cowork_ecs.seal.version";
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
/// `<document id> <digest> <session index or -> <group index or ->` per
/// record, one line each, in one string ([`item_entries`]; seals of the
/// first release: an array of entries without the group).
pub const FIELD_ITEMS: &str = "cowork_ecs.seal.items";
/// The resource field groups of its records ([`item_digest`]): one string
/// per group, its field names sorted and joined by a space.
pub const FIELD_GROUPS: &str = "cowork_ecs.seal.groups";
/// The sessions its records belong to.
pub const FIELD_SESSIONS: &str = "cowork_ecs.seal.sessions";
/// The key's id ([`signature::key_id`]).
pub const FIELD_KEY_ID: &str = "cowork_ecs.seal.key_id";
/// The Ed25519 signature over [`signed_bytes`], standard base64.
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

const ITEM_DOMAIN_V1: &[u8] = b"cowork-ecs/item/v1\0";
const ITEM_DOMAIN: &[u8] = b"cowork-ecs/item/v2\0";
const SEAL_DOMAIN: &[u8] = b"cowork-ecs/seal/v1\0";
const SEAL_DOMAIN_V2: &[u8] = b"cowork-ecs/seal/v2\0";

/// A record in a seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedItem {
    /// Its document id (`_id`).
    pub id: String,
    /// [`item_digest`] of its stored form.
    pub digest: [u8; 32],
    /// Its session (`session.id`), if any.
    pub session: Option<String>,
    /// Its resource's field group: an index into the groups handed to
    /// [`Sealer::seal`] (none: its digest has no group).
    pub group: Option<usize>,
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

/// A record's digest: SHA-256 over a domain tag and the encoding of its
/// stored leaf fields (`stored`: dotted names, `@timestamp` as integer
/// nanoseconds), [`UNSEALED_FIELDS`] left out, in two parts:
/// - the fields of its resource's `group` ([`FIELD_GROUPS`]), in the
///   group's order, each [`encode_leaf`]d with its stored value or none;
/// - every other field, sorted by name: the SHA-256 of their names
///   ([`names_digest`]), then their values, each [`encode_value`]d.
///
/// The group puts what every record of a resource shares first, so the
/// processor hashes it once per resource; the names of the rest are the
/// same for every record of one kind, so it hashes them once per kind.
/// Per record it hashes only the record's own values. A verifier, which
/// sees the fields merged, learns from the seal which came first.
pub fn item_digest(stored: &BTreeMap<String, Value>, group: &[&str]) -> [u8; 32] {
    let mut sorted: Vec<&str> = group.to_vec();
    sorted.sort_unstable();
    let mut head = Vec::new();
    for name in group.iter().filter(|n| !UNSEALED_FIELDS.contains(n)) {
        encode_leaf(name, stored.get(*name), &mut head);
    }
    let rest = || {
        stored.iter().filter(|(name, _)| {
            !UNSEALED_FIELDS.contains(&name.as_str())
                && sorted.binary_search(&name.as_str()).is_err()
        })
    };
    let mut values = Vec::with_capacity(stored.len() * 32);
    for (_, value) in rest() {
        encode_value(value, &mut values);
    }
    let mut h = Sha256::new();
    h.update(ITEM_DOMAIN);
    h.update(&head);
    h.update(names_digest(rest().map(|(n, _)| n.as_str())));
    h.update(&values);
    h.finalize().into()
}

/// The SHA-256 of field names, in the order given, each as a
/// little-endian `u32` byte length and its UTF-8 bytes ([`item_digest`]).
pub fn names_digest<'n>(names: impl Iterator<Item = &'n str>) -> [u8; 32] {
    let mut h = Sha256::new();
    for name in names {
        h.update(u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
        h.update(name.as_bytes());
    }
    h.finalize().into()
}

/// The digest of a record listed by a seal of the first release
/// (`cowork-ecs/item/v1`): SHA-256 over a domain tag and the canonical JSON
/// ([`signature::canonical`]) of its stored leaf fields,
/// [`UNSEALED_FIELDS`] left out.
pub fn item_digest_v1(stored: &BTreeMap<String, Value>) -> [u8; 32] {
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
    h.update(ITEM_DOMAIN_V1);
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Appends one field to a digest's input: its name (a little-endian `u32`
/// byte length, then its UTF-8 bytes), then its value ([`encode_value`];
/// none: `z`).
pub fn encode_leaf(name: &str, value: Option<&Value>, out: &mut Vec<u8>) {
    put_bytes(name.as_bytes(), out);
    match value {
        Some(v) => encode_value(v, out),
        None => out.push(b'z'),
    }
}

/// Appends a stored value, tagged by its type: `z` null, `t` / `f` a bool,
/// `n` a number (its canonical text, [`signature::write_canonical`], as
/// bytes), `s` a string (its bytes), `a` an array (its length as a
/// little-endian `u32`, then its items), `o` an object (its length, then
/// its members sorted by name, each name as bytes then its value). Bytes
/// are a little-endian `u32` length, then the bytes: nothing is escaped.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(b'z'),
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Number(_) => {
            let mut text = String::new();
            signature::write_canonical(value, &mut text);
            encode_number_text(&text, out);
        }
        Value::String(s) => encode_str(s, out),
        Value::Array(items) => {
            out.push(b'a');
            put_len(items.len(), out);
            for item in items {
                encode_value(item, out);
            }
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push(b'o');
            put_len(sorted.len(), out);
            for (k, v) in sorted {
                put_bytes(k.as_bytes(), out);
                encode_value(v, out);
            }
        }
    }
}

/// [`encode_value`] of a string.
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    out.push(b's');
    put_bytes(s.as_bytes(), out);
}

/// [`encode_value`] of a number, given its canonical text.
pub fn encode_number_text(text: &str, out: &mut Vec<u8>) {
    out.push(b'n');
    put_bytes(text.as_bytes(), out);
}

/// A length as a little-endian `u32` (lengths here are far below 4 GiB:
/// a request is).
pub fn put_len(len: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    put_len(bytes.len(), out);
    out.extend_from_slice(bytes);
}

/// The fields every record of one resource shares, hashed once
/// ([`item_digest`]'s group): the processor's side of a seal's
/// [`FIELD_GROUPS`] entry.
#[derive(Clone)]
pub struct Group {
    names: Vec<String>,
    values: Vec<Value>,
    prefix: Sha256,
    listed: String,
}

impl Group {
    /// The group of a resource's stored fields (dotted names). Fields a
    /// group cannot name (with a space in the name) are left out of it and
    /// returned, to be hashed with each record's own.
    pub fn new(leaves: BTreeMap<String, Value>) -> (Group, BTreeMap<String, Value>) {
        let mut rest = BTreeMap::new();
        let (mut names, mut values) = (Vec::new(), Vec::new());
        let mut buf = Vec::new();
        for (name, value) in leaves {
            if UNSEALED_FIELDS.contains(&name.as_str()) {
                continue;
            }
            if name.contains(' ') || name.is_empty() {
                rest.insert(name, value);
                continue;
            }
            encode_leaf(&name, Some(&value), &mut buf);
            names.push(name);
            values.push(value);
        }
        let mut prefix = Sha256::new();
        prefix.update(ITEM_DOMAIN);
        prefix.update(&buf);
        let listed = names.join(" ");
        (
            Group {
                names,
                values,
                prefix,
                listed,
            },
            rest,
        )
    }

    /// Its field names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Its fields and their stored values, in name order.
    pub fn fields(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.names.iter().zip(&self.values)
    }

    /// Whether it names `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    /// The stored value of a field it names.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.names.binary_search_by(|n| n.as_str().cmp(name)).ok()?;
        self.values.get(i)
    }

    /// Its [`FIELD_GROUPS`] entry.
    pub fn listed(&self) -> &str {
        &self.listed
    }

    /// [`item_digest`] of a record of this resource whose other fields,
    /// none of them named by the group, have the [`names_digest`] `names`
    /// and the values `values` (each [`encode_value`]d, in name order).
    pub fn digest(&self, names: &[u8; 32], values: &[u8]) -> [u8; 32] {
        let mut h = self.prefix.clone();
        h.update(names);
        h.update(values);
        h.finalize().into()
    }
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").field("names", &self.names).finish()
    }
}

/// The signed message of a seal: a domain tag and the canonical JSON of
/// its `cowork_ecs.seal.*` fields but the signature, and `@timestamp`
/// (integer nanoseconds).
pub fn seal_message(fields: &BTreeMap<String, Value>) -> Vec<u8> {
    // `fields` is already in name order: its canonical JSON is written as
    // it stands, no copy of the seal's (large) items.
    let mut text = String::from("{");
    let signed = fields
        .iter()
        .filter(|(k, _)| is_seal_field(k) && k.as_str() != FIELD_SIGNATURE);
    for (i, (k, v)) in signed.enumerate() {
        if i > 0 {
            text.push(',');
        }
        signature::write_string(k, &mut text);
        text.push(':');
        signature::write_canonical(v, &mut text);
    }
    text.push('}');
    let mut out = SEAL_DOMAIN.to_vec();
    out.extend_from_slice(text.as_bytes());
    out
}

/// Whether a stored field is part of a seal's signed message.
fn is_seal_field(name: &str) -> bool {
    name == signature::FIELD_TIMESTAMP || name.starts_with("cowork_ecs.seal.")
}

/// What a seal's signature is over: for a seal of [`FIELD_VERSION`] 2, a
/// domain tag and the SHA-256 of its [`seal_message`] (Ed25519 then hashes
/// 51 bytes, not a list of a thousand records, twice); for the first
/// release's, the [`seal_message`] itself.
pub fn signed_bytes(fields: &BTreeMap<String, Value>) -> Vec<u8> {
    let message = seal_message(fields);
    if fields.get(FIELD_VERSION).and_then(Value::as_u64) == Some(2) {
        let mut out = SEAL_DOMAIN_V2.to_vec();
        out.extend_from_slice(&Sha256::digest(&message));
        out
    } else {
        message
    }
}

/// A seal's digest (what the next seal names as [`FIELD_PREVIOUS`]):
/// SHA-256 of its [`signed_bytes`] and its signature, as 64 hex digits.
pub fn seal_digest(fields: &BTreeMap<String, Value>) -> String {
    let signature = fields.get(FIELD_SIGNATURE).and_then(Value::as_str);
    digest_of(&signed_bytes(fields), signature.unwrap_or(""))
}

fn digest_of(signed: &[u8], signature: &str) -> String {
    let mut h = Sha256::new();
    h.update(signed);
    h.update(signature.as_bytes());
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
    check_seal(fields, keys).0
}

/// [`verify_seal`] and [`seal_digest`] of a stored seal, its
/// [`signed_bytes`] (its items written out as canonical JSON) computed
/// once for both.
pub fn check_seal<'k>(
    fields: &BTreeMap<String, Value>,
    keys: impl Fn(&str) -> Option<&'k VerifyingKey>,
) -> (Result<String, SealProblem>, String) {
    let signed = signed_bytes(fields);
    let signature = fields.get(FIELD_SIGNATURE).and_then(Value::as_str);
    let digest = digest_of(&signed, signature.unwrap_or(""));
    (verify_signed(fields, &signed, keys), digest)
}

fn verify_signed<'k>(
    fields: &BTreeMap<String, Value>,
    signed: &[u8],
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
    key.verify(signed, &sig)
        .map_err(|_| SealProblem::BadSignature)?;
    Ok(key_id.to_owned())
}

/// One [`FIELD_ITEMS`] entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemEntry<'a> {
    /// The record's document id.
    pub id: &'a str,
    /// Its digest, 64 hex digits.
    pub digest: &'a str,
    /// Its session: an index into [`FIELD_SESSIONS`].
    pub session: Option<usize>,
    /// Its resource's group: an index into [`FIELD_GROUPS`].
    pub group: Option<usize>,
    /// An entry of the first release's seals: its digest is
    /// [`item_digest_v1`].
    pub v1: bool,
}

/// The [`FIELD_ITEMS`] entries of a seal's stored fields: the lines of its
/// string, or (first release) the strings of its array.
pub fn item_entries(fields: &BTreeMap<String, Value>) -> Vec<&str> {
    match fields.get(FIELD_ITEMS) {
        Some(Value::String(lines)) => lines.split('\n').collect(),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Parses one [`FIELD_ITEMS`] entry (`None`: not one).
pub fn parse_item(entry: &str) -> Option<ItemEntry<'_>> {
    let parts: Vec<&str> = entry.split(' ').collect();
    let (id, digest, session, group) = match parts[..] {
        [id, digest, session] => (id, digest, session, None),
        [id, digest, session, group] => (id, digest, session, Some(group)),
        _ => return None,
    };
    if digest.len() != 64 {
        return None;
    }
    Some(ItemEntry {
        id,
        digest,
        session: session.parse().ok(),
        group: group.and_then(|g| g.parse().ok()),
        v1: group.is_none(),
    })
}

/// The digest of a stored record (`stored`, [`signature::flatten`]ed,
/// `@timestamp` as integer nanoseconds) as the seal whose stored fields
/// are `seal` lists it in `entry`.
pub fn entry_digest(
    stored: &BTreeMap<String, Value>,
    entry: &ItemEntry<'_>,
    seal: &BTreeMap<String, Value>,
) -> [u8; 32] {
    if entry.v1 {
        return item_digest_v1(stored);
    }
    let group = entry
        .group
        .and_then(|g| match seal.get(FIELD_GROUPS) {
            Some(Value::Array(a)) => a.get(g).and_then(Value::as_str),
            Some(Value::String(one)) if g == 0 => Some(one.as_str()),
            _ => None,
        })
        .map(|g| g.split(' ').filter(|n| !n.is_empty()).collect::<Vec<_>>())
        .unwrap_or_default();
    item_digest(stored, &group)
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

    /// The document id ([`FIELD_SEAL_ID`]) the next seal will have,
    /// `<chain>-<number>`: what the records it will seal carry. The caller
    /// serializes this, [`Sealer::seal`] and [`Sealer::settle`].
    pub fn next_seal_id(&self) -> String {
        seal_id(&self.chain, self.lock().next)
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
        groups: &[&str],
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
        put(FIELD_VERSION, Value::from(2));
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
        let mut entries = String::with_capacity(items.len() * 112);
        for item in items {
            use std::fmt::Write as _;
            if !entries.is_empty() {
                entries.push('\n');
            }
            entries.push_str(&item.id);
            entries.push(' ');
            entries.push_str(&hex(&item.digest));
            match item.session.as_deref() {
                Some(s) => match sessions.iter().position(|x| *x == s) {
                    Some(i) => _ = write!(entries, " {i}"),
                    None => {
                        sessions.push(s);
                        _ = write!(entries, " {}", sessions.len() - 1);
                    }
                },
                None => entries.push_str(" -"),
            }
            match item.group {
                Some(g) => _ = write!(entries, " {g}"),
                None => entries.push_str(" -"),
            }
        }
        if !entries.is_empty() {
            put(FIELD_ITEMS, Value::from(entries));
        }
        if !sessions.is_empty() {
            put(FIELD_SESSIONS, Value::from(sessions));
        }
        if !groups.is_empty() {
            put(FIELD_GROUPS, Value::from(groups.to_vec()));
        }
        put(FIELD_KEY_ID, Value::from(self.signer.key_id()));
        let signed = signed_bytes(&fields);
        let signature = self.signer.sign_bytes(&signed);
        state.pending = Some((digest_of(&signed, &signature), kind));
        fields.insert(FIELD_SIGNATURE.to_owned(), Value::from(signature));
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
            group: None,
            time: 5,
        }
    }

    #[test]
    fn seals_chain_and_verify_and_an_edit_breaks_them() {
        let signer = Signer::from_secret(&[3; 32]);
        let public = signer.public_key();
        let sealer = Sealer::new(Signer::from_secret(&[3; 32]), 10, None, 1);
        let a = sealer
            .seal(&[item("x", "s1"), item("y", "s1")], &[], SealKind::Batch, 2)
            .unwrap();
        assert!(
            sealer.seal(&[], &[], SealKind::Heartbeat, 3).is_err(),
            "one pending"
        );
        sealer.settle(true, 2);
        let b = sealer.seal(&[], &[], SealKind::Heartbeat, 3).unwrap();
        assert_eq!(b[FIELD_NUMBER], json!(1));
        assert_eq!(b[FIELD_PREVIOUS], json!(seal_digest(&a)));
        assert_eq!(
            item_entries(&a),
            [
                format!("x {} 0 -", hex(&[7; 32])),
                format!("y {} 0 -", hex(&[7; 32]))
            ]
        );
        let keys = |id: &str| (id == signer.key_id()).then_some(&public);
        assert_eq!(verify_seal(&a, keys).unwrap(), signer.key_id());
        let mut edited = a.clone();
        edited.insert(
            FIELD_ITEMS.into(),
            json!(format!("x {} 0 -", hex(&[7; 32]))),
        );
        assert_eq!(verify_seal(&edited, keys), Err(SealProblem::BadSignature));
        // Not written: the number is handed out again.
        sealer.settle(false, 3);
        let again = sealer.seal(&[], &[], SealKind::Closing, 4).unwrap();
        assert_eq!(again[FIELD_NUMBER], json!(1));
        sealer.settle(true, 4);
        assert!(
            sealer.seal(&[], &[], SealKind::Heartbeat, 5).is_err(),
            "closed"
        );
    }

    #[test]
    fn a_restart_names_the_last_seal_of_the_previous_chain() {
        let dir = std::env::temp_dir().join(format!("seal-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = Sealer::new(Signer::from_secret(&[3; 32]), 10, Some(&dir), 1);
        let s0 = first.seal(&[], &[], SealKind::Heartbeat, 2).unwrap();
        first.settle(true, 2);
        let second = Sealer::new(Signer::from_secret(&[3; 32]), 10, Some(&dir), 3);
        assert_ne!(first.chain(), second.chain());
        let t0 = second.seal(&[], &[], SealKind::Heartbeat, 4).unwrap();
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
        assert_ne!(item_digest(&base, &[]), item_digest(&added, &[]));
        assert_ne!(item_digest_v1(&base), item_digest_v1(&added));
        let mut control = base.clone();
        control.remove("elastic.mapping.mode");
        assert_eq!(item_digest(&base, &[]), item_digest(&control, &[]));
        assert_eq!(item_digest_v1(&base), item_digest_v1(&control));
        // A group's field gone from the record is a change too.
        assert_ne!(item_digest(&base, &["a"]), item_digest(&base, &["a", "b"]));
        let entry = format!("id {} 3 0", hex(&[1; 32]));
        let parsed = parse_item(&entry).unwrap();
        assert_eq!(
            (parsed.session, parsed.group, parsed.v1),
            (Some(3), Some(0), false)
        );
        let v1 = format!("id {} -", hex(&[1; 32]));
        let parsed = parse_item(&v1).unwrap();
        assert_eq!(
            (parsed.session, parsed.group, parsed.v1),
            (None, None, true)
        );
        assert!(parse_item("id short 0").is_none());
    }

    #[test]
    fn a_group_hashed_once_gives_the_digest_a_verifier_computes() {
        let resource: BTreeMap<String, Value> = [
            ("host.name".to_owned(), json!("h")),
            ("service.name".to_owned(), json!("claude-code")),
            ("odd name".to_owned(), json!("x")),
            ("elasticsearch.index".to_owned(), json!("i")),
        ]
        .into();
        let (group, rest) = Group::new(resource.clone());
        assert_eq!(group.listed(), "host.name service.name");
        assert_eq!(rest.len(), 1, "a name with a space is hashed per record");
        let record: BTreeMap<String, Value> = [
            ("@timestamp".to_owned(), json!(5)),
            ("event.name".to_owned(), json!("tool_result")),
            ("n".to_owned(), json!([1.5, "x", {"b": 1, "a": null}])),
        ]
        .into();
        let mut own = Vec::new();
        let mut mine = record.clone();
        mine.extend(rest);
        for v in mine.values() {
            encode_value(v, &mut own);
        }
        let own_names = names_digest(mine.keys().map(String::as_str));
        let mut stored = mine;
        stored.extend(resource);
        let names: Vec<&str> = group.names().iter().map(String::as_str).collect();
        let digest = group.digest(&own_names, &own);
        assert_eq!(digest, item_digest(&stored, &names));
        stored.insert("host.name".into(), json!("other"));
        assert_ne!(digest, item_digest(&stored, &names), "a resource field");
        stored.insert("host.name".into(), json!("h"));
        stored.insert("user.name".into(), json!("x"));
        assert_ne!(digest, item_digest(&stored, &names), "an added field");
    }

    #[test]
    fn a_seal_of_the_first_release_and_its_records_still_verify() {
        // The first release signed the seal's canonical JSON itself (no
        // version), listed items as an array of `<id> <digest> <session>`
        // and digested a record's canonical JSON (`item_digest_v1`).
        let signer = Signer::from_secret(&[5; 32]);
        let public = signer.public_key();
        let record: BTreeMap<String, Value> = [
            ("@timestamp".to_owned(), json!(7)),
            ("event.action".to_owned(), json!("tool_result")),
            (FIELD_CHAIN.to_owned(), json!("00000000000000aa")),
        ]
        .into();
        let mut seal: BTreeMap<String, Value> = [
            ("@timestamp".to_owned(), json!(8)),
            (FIELD_CHAIN.to_owned(), json!("00000000000000aa")),
            (FIELD_NUMBER.to_owned(), json!(0)),
            (FIELD_KIND.to_owned(), json!("batch")),
            (
                FIELD_ITEMS.to_owned(),
                json!([format!("d1 {} 0", hex(&item_digest_v1(&record)))]),
            ),
            (FIELD_SESSIONS.to_owned(), json!(["s"])),
            (FIELD_KEY_ID.to_owned(), json!(signer.key_id())),
        ]
        .into();
        // The message is the canonical JSON of the seal's fields.
        let object: serde_json::Map<String, Value> = seal.clone().into_iter().collect();
        let mut message = SEAL_DOMAIN.to_vec();
        message.extend_from_slice(signature::canonical(&Value::Object(object)).as_bytes());
        assert_eq!(seal_message(&seal), message);
        let signature = signer.sign_bytes(&message);
        seal.insert(FIELD_SIGNATURE.to_owned(), json!(signature));
        let keys = |id: &str| (id == signer.key_id()).then_some(&public);
        assert_eq!(verify_seal(&seal, keys), Ok(signer.key_id().to_owned()));
        let entries = item_entries(&seal);
        let entry = parse_item(entries[0]).unwrap();
        assert!(entry.v1);
        assert_eq!(hex(&entry_digest(&record, &entry, &seal)), entry.digest);
        let mut edited = record.clone();
        edited.insert("user.name".into(), json!("x"));
        assert_ne!(hex(&entry_digest(&edited, &entry, &seal)), entry.digest);
    }
}
