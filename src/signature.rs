//! Tamper evidence (README "Tamper evidence"): the processor signs each
//! Claude log record it writes with an Ed25519 key, over a canonical form of
//! the fields it stores; `cowork-ecs verify` recomputes that form from the
//! document Elasticsearch returns and checks it.
//!
//! Both sides meet here, on JSON values: the processor converts what it
//! writes to the JSON the exporter stores, the verifier flattens the stored
//! `_source` ([`flatten`]). A document carries three fields:
//! - [`FIELD_SIGNATURE`]: the Ed25519 signature (64 bytes, standard base64)
//!   over [`message`];
//! - [`FIELD_KEY_ID`]: which key signed ([`key_id`]: 16 hex digits of the
//!   SHA-256 of the public key), so keys can rotate;
//! - [`FIELD_FIELDS`]: the signed fields, each `name:digest` ([`field_digest`],
//!   8 hex digits of the SHA-256 of the name and canonical value), sorted by
//!   name. The names are signed (they are in the message); the digests only
//!   tell a verifier *which* field changed.
//!
//! The message binds the document id (`_id`), so a signed document cannot be
//! stored again under another id unnoticed; the session's `session.id` and
//! `event.sequence` are among the signed fields, so a verifier sees a gap or
//! a second document for one number.

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The signature (standard base64 of the 64-byte Ed25519 signature).
pub const FIELD_SIGNATURE: &str = "cowork_ecs.signature.value";
/// The signing key's id ([`key_id`]).
pub const FIELD_KEY_ID: &str = "cowork_ecs.signature.key_id";
/// The signed fields, `name:digest`, sorted by name.
pub const FIELD_FIELDS: &str = "cowork_ecs.signature.fields";
/// The record's time, signed as integer nanoseconds since the epoch (the
/// exporter stores it as `2006-01-02T15:04:05.000000000Z`).
pub const FIELD_TIMESTAMP: &str = "@timestamp";
/// The record's body when it is a string (the exporter's ECS mode stores it so).
pub const FIELD_MESSAGE: &str = "message";
/// Domain separation: what this message is, and its version.
const DOMAIN: &[u8] = b"cowork-ecs/signature/v1";

/// The exporter's ECS-mode renames of log record attributes
/// (elasticsearchexporter `model.go`, `logRecordAttrsConversionMap`, v0.157.0):
/// an attribute written as the first is stored as the second, so it is
/// signed under the stored name.
pub const ECS_LOG_RENAMES: &[(&str, &str)] = &[
    ("event.name", "event.action"),
    ("exception.message", "error.message"),
    ("exception.stacktrace", "error.stacktrace"),
    ("exception.type", "error.type"),
    ("exception.escaped", "event.error.exception.handled"),
    ("http.response.body.size", "http.response.encoded_body_size"),
];

/// A signing key and its id.
pub struct Signer {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// What a signature adds to a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// [`FIELD_SIGNATURE`].
    pub signature: String,
    /// [`FIELD_KEY_ID`].
    pub key_id: String,
    /// [`FIELD_FIELDS`].
    pub fields: Vec<String>,
}

impl Signer {
    /// A signer from a PKCS#8 PEM Ed25519 private key (`openssl genpkey
    /// -algorithm ed25519`).
    ///
    /// # Errors
    /// The text is not such a key (the reason, never the key).
    pub fn from_pem(pem: &str) -> Result<Signer, String> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("not a PKCS#8 PEM Ed25519 private key ({e})"))?;
        let key_id = key_id(&key.verifying_key());
        Ok(Signer { key, key_id })
    }

    /// A signer from the 32-byte Ed25519 secret key itself.
    pub fn from_secret(secret: &[u8; 32]) -> Signer {
        let key = SigningKey::from_bytes(secret);
        let key_id = key_id(&key.verifying_key());
        Signer { key, key_id }
    }

    /// The public half of this key.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The id of this key ([`key_id`] of its public key).
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Signs `message` as it is: the 64-byte Ed25519 signature, standard
    /// base64 (seals: [`crate::seal`]).
    pub fn sign_bytes(&self, message: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key.sign(message).to_bytes())
    }

    /// Signs a document: `doc_id` its `_id`, `fields` its signed fields
    /// (any order; names unique).
    pub fn sign(&self, doc_id: &str, fields: &mut [(String, Value)]) -> Signed {
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        // Each value's canonical text once, for the message and its digest.
        let texts: Vec<String> = fields.iter().map(|(_, v)| canonical(v)).collect();
        let mut out = message_head(&self.key_id, doc_id, fields.len());
        for ((name, _), text) in fields.iter().zip(&texts) {
            put(&mut out, name.as_bytes());
            put(&mut out, text.as_bytes());
        }
        let signature = self.key.sign(&out);
        Signed {
            signature: base64::engine::general_purpose::STANDARD.encode(signature.to_bytes()),
            key_id: self.key_id.clone(),
            fields: (fields.iter().zip(&texts))
                .map(|((name, _), text)| format!("{name}:{}", digest_of(name, text)))
                .collect(),
        }
    }
}

/// A key's id: the first 8 bytes of the SHA-256 of its 32-byte public key,
/// as 16 hex digits.
pub fn key_id(public: &VerifyingKey) -> String {
    hex(&Sha256::digest(public.as_bytes())[..8])
}

/// A public key from PEM: an SPKI public key (`openssl pkey -pubout`) or a
/// PKCS#8 private key (its public half).
///
/// # Errors
/// Neither.
pub fn public_key_from_pem(pem: &str) -> Result<VerifyingKey, String> {
    VerifyingKey::from_public_key_pem(pem)
        .or_else(|_| SigningKey::from_pkcs8_pem(pem).map(|k| k.verifying_key()))
        .map_err(|e| format!("not a PEM Ed25519 public or private key ({e})"))
}

/// Checks `signature` (standard base64) over the message of `doc_id` and
/// `fields` (sorted by name) under `public`.
pub fn verify(
    public: &VerifyingKey,
    doc_id: &str,
    fields: &[(String, Value)],
    signature: &str,
) -> bool {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&bytes) else {
        return false;
    };
    public
        .verify(&message(&key_id(public), doc_id, fields), &signature)
        .is_ok()
}

/// The signed message: [`DOMAIN`], the key id, the document id, then each
/// field (sorted by name) as its name and canonical value; every part
/// length-prefixed (decimal length, `:`), so no two field lists give one
/// message.
pub fn message(key_id: &str, doc_id: &str, fields: &[(String, Value)]) -> Vec<u8> {
    let mut out = message_head(key_id, doc_id, fields.len());
    for (name, value) in fields {
        put(&mut out, name.as_bytes());
        put(&mut out, canonical(value).as_bytes());
    }
    out
}

/// The message's first parts: [`DOMAIN`], the key id, the document id.
fn message_head(key_id: &str, doc_id: &str, fields: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + fields * 64);
    for part in [DOMAIN, key_id.as_bytes(), doc_id.as_bytes()] {
        put(&mut out, part);
    }
    out
}

fn put(out: &mut Vec<u8>, part: &[u8]) {
    out.extend_from_slice(part.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(part);
}

/// A field's digest: the first 4 bytes of SHA-256(name, 0, canonical value),
/// as 8 hex digits. It names the field that changed; the signature, not the
/// digest, is what proves.
pub fn field_digest(name: &str, value: &Value) -> String {
    digest_of(name, &canonical(value))
}

/// [`field_digest`] of a value's canonical text.
fn digest_of(name: &str, text: &str) -> String {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    hex(&h.finalize()[..4])
}

/// The canonical text of a JSON value: objects with sorted keys, no
/// whitespace, and numbers by value (an integral number, stored as `2` or
/// `2.0`, is written as an integer; others in the shortest form that reads
/// back the same double).
pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

/// [`canonical`], appended to `out`.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                let _ = write!(out, "{u}");
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                    let _ = write!(out, "{}", f as i64);
                } else {
                    out.push_str(&Value::from(f).to_string());
                }
            }
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
    }
}

/// A string as JSON, appended, escaped as serde_json escapes it: `"`,
/// `\\` and the control characters below U+0020 (`\b \t \n \f \r` by
/// name, the others as `\u00XX`); everything else as it is.
pub fn write_string(s: &str, out: &mut String) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(found) = bytes[start..]
        .iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
    {
        let i = start + found;
        let b = bytes[i];
        let named = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            _ => "",
        };
        out.push_str(&s[start..i]);
        if named.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(named);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A stored document as its leaf fields: objects are walked into dotted
/// names (`{"a": {"b": 1}}` and `{"a.b": 1}` both give `a.b`); arrays,
/// strings, numbers and bools are leaves. `null`, empty objects and empty
/// arrays are left out (the exporter writes none of them).
pub fn flatten(doc: Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten_into("", doc, &mut out);
    out
}

/// [`flatten`] into `out`, under `prefix` (empty, or a name without its
/// dot); the leaves are moved, not copied.
pub fn flatten_into(prefix: &str, value: Value, out: &mut BTreeMap<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let name = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(&name, v, out);
            }
        }
        Value::Null => {}
        Value::Array(a) if a.is_empty() => {}
        leaf => {
            out.insert(prefix.to_owned(), leaf);
        }
    }
}

/// `@timestamp` as stored in nanoseconds since the epoch: RFC 3339 in UTC
/// (`Z`, up to 9 fraction digits; the exporter's ECS mode) or
/// `<milliseconds>.<nanoseconds within the millisecond>` (its OTel mode,
/// the second part not zero-padded); `None` for another form.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    if let Some((ms, ns)) = text.split_once('.').filter(|(ms, _)| !ms.contains('-')) {
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        if digits(ms) && digits(ns) {
            return ms
                .parse::<i64>()
                .ok()?
                .checked_mul(1_000_000)?
                .checked_add(ns.parse().ok()?);
        }
    }
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = text.get(19..)?.strip_suffix('Z')?;
    let nanos = match rest.strip_prefix('.') {
        None if rest.is_empty() => 0,
        Some(f) if !f.is_empty() && f.len() <= 9 && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<i64>().ok()? * 10i64.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3_600 + mi * 60 + s) * 1_000_000_000) + nanos)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 8032's test key 1, as PKCS#8 PEM.
    pub(crate) const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let signer = Signer::from_pem(TEST_KEY).unwrap();
        let mut fields = vec![
            ("process.command_line".to_owned(), json!("ls -la")),
            ("@timestamp".to_owned(), json!(1_700_000_000_123_456_789i64)),
            ("claude_code.events.event.sequence".to_owned(), json!(7)),
        ];
        let signed = signer.sign("doc-1", &mut fields);
        let public = public_key_from_pem(TEST_KEY).unwrap();
        assert_eq!(signed.key_id, key_id(&public));
        assert!(verify(&public, "doc-1", &fields, &signed.signature));
        assert!(
            !verify(&public, "doc-2", &fields, &signed.signature),
            "bound to its id"
        );
        let mut changed = fields.clone();
        changed[2].1 = json!("rm -rf /");
        assert!(!verify(&public, "doc-1", &changed, &signed.signature));
        assert!(
            !verify(&public, "doc-1", &fields[..2], &signed.signature),
            "a field removed"
        );
        assert_eq!(signed.fields.len(), 3);
        assert!(
            signed.fields[0].starts_with("@timestamp:"),
            "{:?}",
            signed.fields
        );
    }

    #[test]
    fn numbers_are_canonical_by_value_and_objects_by_sorted_key() {
        assert_eq!(canonical(&json!(2.0)), "2");
        assert_eq!(canonical(&json!(2)), "2");
        assert_eq!(canonical(&json!(0.1)), "0.1");
        assert_eq!(
            canonical(&json!({"b": 1, "a": [true, null, "x\n"]})),
            r#"{"a":[true,null,"x\n"],"b":1}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for text in [
            "plain",
            "quote \" and \\ back",
            "ctl \u{1}\u{8}\u{c}\n\r\t\u{1f}\u{7f}",
            "é → 😀 /",
        ] {
            let mut out = String::new();
            write_string(text, &mut out);
            assert_eq!(out, serde_json::to_string(text).unwrap());
        }
    }

    #[test]
    fn flatten_reads_nested_and_dotted_keys_alike() {
        let a = flatten(json!({"event": {"action": "x", "tags": []}, "n": null, "a.b": {"c": 1}}));
        assert_eq!(
            a,
            [
                ("a.b.c".to_owned(), json!(1)),
                ("event.action".to_owned(), json!("x"))
            ]
            .into()
        );
    }

    #[test]
    fn timestamps_parse_as_the_exporter_writes_them() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.000000001Z"), Some(1));
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20.123456789Z"),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500_000_000)
        );
        assert_eq!(parse_timestamp("2023-11-14 22:13:20Z"), None);
        assert_eq!(
            parse_timestamp("1700000000123.456789"),
            Some(1_700_000_000_123_456_789)
        );
        assert_eq!(
            parse_timestamp("1700000000123.5"),
            Some(1_700_000_000_123_000_005)
        );
    }
}
