//! The signature check of one unsealed document (spans, span events, data
//! points, and records from before seals).

use super::Verify;
use super::source::Doc;
use cowork_ecs::signature::{self, FIELD_FIELDS, FIELD_KEY_ID, FIELD_SIGNATURE};
use serde_json::Value;

/// Where the signature's fields are: at the top (ECS documents) or under
/// `attributes` (spans and span events, in the exporter's OTel mode).
const SIGNATURE_PREFIXES: &[&str] = &["", "attributes."];

/// What is wrong with one document.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Finding {
    Unsigned,
    UnknownKey(String),
    RevokedKey(String),
    Modified(Vec<String>),
    BadSignature,
}

/// Checks one unsealed document's signature; `None` when it holds under a
/// trusted key.
pub(super) fn check(doc: &Doc, v: &Verify) -> Option<Finding> {
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
        // (`@timestamp` is read as nanoseconds: `Doc::read`.)
        let value = match doc.fields.get(name) {
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
