//! The signature of a Claude log record as the exporter stores it
//! ([`crate::signature`]; README "Tamper evidence"): its attributes under
//! their stored names, `@timestamp` and `message`, after every rule of the
//! mapping (the content policy included: what is signed is what is stored).

use crate::ecs::model::attrs::{Attrs, Key};
use crate::ecs::model::value::{string, string_array, to_json};
use crate::ecs::policy::routing;
use crate::signature::{self, Signer};
use serde_json::Value;
use std::collections::BTreeMap;

/// Signs a record mapped into `out` (its document id `doc_id`, its time in
/// nanoseconds, its body when a string) and adds the signature's three
/// fields to `out`.
pub(crate) fn sign_record(
    signer: &Signer,
    doc_id: &str,
    time: u64,
    message: Option<&str>,
    out: &mut Attrs<'_>,
) {
    let mut leaves = BTreeMap::new();
    for a in out.iter() {
        let name = format!("{}{}", a.key.prefix, a.key.name);
        if name == routing::DOCUMENT_ID_ATTRIBUTE {
            continue;
        }
        let name = (signature::ECS_LOG_RENAMES.iter())
            .find(|(from, _)| *from == name)
            .map_or(name, |(_, to)| (*to).to_owned());
        if let Some(value) = a.value.clone().into_value() {
            signature::flatten_into(&name, &to_json(&value), &mut leaves);
        }
    }
    leaves.insert(
        signature::FIELD_TIMESTAMP.to_owned(),
        Value::from(i64::try_from(time).unwrap_or(i64::MAX)),
    );
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        leaves.insert(signature::FIELD_MESSAGE.to_owned(), Value::from(m));
    }
    let mut fields: Vec<(String, Value)> = leaves.into_iter().collect();
    let signed = signer.sign(doc_id, &mut fields);
    out.set(
        Key::plain(signature::FIELD_SIGNATURE),
        string(signed.signature),
    );
    out.set(Key::plain(signature::FIELD_KEY_ID), string(signed.key_id));
    out.set(
        Key::plain(signature::FIELD_FIELDS),
        string_array(signed.fields),
    );
}
