//! Attribute lists as the transform reads and writes them: input attributes
//! borrowed from the request bytes ([`Attr`]), and an output list
//! ([`Attrs`]) that is encoded straight into the output message.

use crate::ecs::model::value::{InValue, OutValue};
use crate::otlp::wire::{self, Malformed};
use hashbrown::HashTable;
use std::borrow::Cow;

/// One input attribute, borrowed from the request bytes.
#[derive(Debug, Clone)]
pub(crate) struct Attr<'a> {
    /// The key (read lossily when it was not UTF-8).
    pub(crate) key: Cow<'a, str>,
    /// The value.
    pub(crate) value: InValue<'a>,
    /// The `AnyValue` bytes as they came (empty when absent).
    pub(crate) value_raw: &'a [u8],
    /// Whether text in the key or the value was not UTF-8 (the top level is
    /// checked by [`Attr::read`], nested values by the caller's shape walk).
    pub(crate) repaired: bool,
}

impl<'a> Attr<'a> {
    /// Reads one `KeyValue` message.
    ///
    /// # Errors
    /// [`Malformed`] when the bytes are not protobuf.
    pub(crate) fn read(raw: &'a [u8]) -> Result<Attr<'a>, Malformed> {
        let kv = wire::key_value(raw)?;
        let (key, bad_key) = wire::text(kv.key);
        let (value, bad_value) = InValue::read(kv.value, kv.value_raw);
        Ok(Attr {
            key,
            value,
            value_raw: kv.value_raw,
            repaired: bad_key || bad_value,
        })
    }

    /// The attribute as written back unchanged: its value copied as it came
    /// unless its text had to be repaired.
    pub(crate) fn kept(&self) -> Result<AttrOut<'a>, Malformed> {
        let value = match &self.value {
            _ if !self.repaired => OutValue::Raw(self.value_raw),
            InValue::Str(s) => OutValue::Str(s.clone()),
            other => other
                .to_value()?
                .map_or(OutValue::Raw(&[]), OutValue::Value),
        };
        Ok(AttrOut {
            key: Key::plain(self.key.clone()),
            value,
        })
    }
}

/// An output key: `prefix` followed by `name` (the vendor prefix
/// `<product>.events.` and an input key, or `""` and a whole field name), so
/// that a prefixed key is written without being built first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key<'a> {
    pub(crate) prefix: &'a str,
    pub(crate) name: Cow<'a, str>,
}

impl<'a> Key<'a> {
    /// A key without a prefix.
    pub(crate) fn plain(name: impl Into<Cow<'a, str>>) -> Key<'a> {
        Key {
            prefix: "",
            name: name.into(),
        }
    }
}

/// One output attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttrOut<'a> {
    pub(crate) key: Key<'a>,
    pub(crate) value: OutValue<'a>,
}

/// An output attribute list that finds a key in constant time whatever its
/// length: each key has a 64-bit fingerprint (length and edge bytes,
/// mixed); short lists are scanned by fingerprint, and past
/// [`INDEXED_FROM`] attributes a hash table over the fingerprints takes
/// over, so that adding, finding and replacing cost the same for 10
/// attributes or 100,000. Keys are compared as `(prefix, name)` pairs: the
/// transform never writes one key in two splits.
#[derive(Debug, Default)]
pub(crate) struct Attrs<'a> {
    items: Vec<AttrOut<'a>>,
    fingerprints: Vec<u64>,
    index: HashTable<u32>,
}

/// Length from which [`Attrs`] keeps a hash index.
const INDEXED_FROM: usize = 16;

/// A key's fingerprint: equal keys have equal fingerprints.
fn fingerprint(key: &Key<'_>) -> u64 {
    let name = key.name.as_bytes();
    let word = |b: &[u8]| {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        u64::from_le_bytes(w)
    };
    let n = name.len();
    let (head, tail) = if n >= 8 {
        (word(&name[..8]), word(&name[n - 8..]))
    } else {
        (word(name), 0)
    };
    let mixed = head ^ tail.rotate_left(29) ^ ((n as u64) << 48) ^ (key.prefix.len() as u64);
    mixed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (mixed >> 31)
}

impl<'a> Attrs<'a> {
    /// The position of `key` (fingerprint `fp`), if present (the first one
    /// when a sender's duplicates were kept with [`Attrs::push`]).
    fn find(&self, key: &Key<'_>, fp: u64) -> Option<usize> {
        if self.items.len() >= INDEXED_FROM {
            let items = &self.items;
            return (self.index.find(fp, |&i| items[i as usize].key == *key)).map(|&i| i as usize);
        }
        (self.fingerprints.iter().enumerate())
            .find(|&(i, &f)| f == fp && self.items[i].key == *key)
            .map(|(i, _)| i)
    }

    /// Whether `key` is present.
    pub(crate) fn contains(&self, key: &Key<'_>) -> bool {
        self.find(key, fingerprint(key)).is_some()
    }

    fn push_found(&mut self, attr: AttrOut<'a>, fp: u64, present: bool) {
        let at = self.items.len();
        self.items.push(attr);
        self.fingerprints.push(fp);
        if at + 1 == INDEXED_FROM {
            // Index every first occurrence so far.
            let fingerprints = &self.fingerprints;
            for i in 0..at + 1 {
                let key = &self.items[i].key;
                let first = (self
                    .index
                    .find(fingerprints[i], |&j| self.items[j as usize].key == *key))
                .is_none();
                if first {
                    self.index
                        .insert_unique(fingerprints[i], i as u32, |&j| fingerprints[j as usize]);
                }
            }
        } else if at >= INDEXED_FROM && !present {
            let fingerprints = &self.fingerprints;
            self.index
                .insert_unique(fp, at as u32, |&j| fingerprints[j as usize]);
        }
    }

    /// The attributes, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &AttrOut<'a>> {
        self.items.iter()
    }

    /// Appends an attribute whatever is already there (a sender's duplicate
    /// keys are kept as sent).
    pub(crate) fn push(&mut self, attr: AttrOut<'a>) {
        let fp = fingerprint(&attr.key);
        let present = self.items.len() >= INDEXED_FROM && self.find(&attr.key, fp).is_some();
        self.push_found(attr, fp, present);
    }

    /// Adds `key` unless it is present (the first writer wins) or the value
    /// is empty (mapping.md §2). Returns whether it was added.
    pub(crate) fn put(&mut self, key: Key<'a>, mut value: OutValue<'a>) -> bool {
        let fp = fingerprint(&key);
        if self.find(&key, fp).is_some() || value.prune_empty() {
            return false;
        }
        self.push_found(AttrOut { key, value }, fp, false);
        true
    }

    /// Sets `key`, replacing the value of the first attribute with that key.
    pub(crate) fn set(&mut self, key: Key<'a>, value: OutValue<'a>) {
        let fp = fingerprint(&key);
        match self.find(&key, fp) {
            Some(i) => self.items[i].value = value,
            None => self.push_found(AttrOut { key, value }, fp, false),
        }
    }

    /// The value of `key`.
    pub(crate) fn get(&self, key: &Key<'_>) -> Option<&OutValue<'a>> {
        let i = self.find(key, fingerprint(key))?;
        Some(&self.items[i].value)
    }

    /// The value of `key`, for changing it in place.
    pub(crate) fn get_mut(&mut self, key: &Key<'_>) -> Option<&mut OutValue<'a>> {
        let i = self.find(key, fingerprint(key))?;
        Some(&mut self.items[i].value)
    }

    /// Empties the list, keeping its memory for the next record.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.fingerprints.clear();
        self.index.clear();
    }

    /// Writes every attribute as a repeated `KeyValue` field `tag`.
    pub(crate) fn encode(&self, tag: u32, out: &mut Vec<u8>) {
        for attr in &self.items {
            wire::put_key_value(out, tag, attr.key.prefix, &attr.key.name, &attr.value);
        }
    }
}

/// Attributes as the tests of the policies build them.
#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::unwrap_used)]
    use super::Attr;
    use crate::otlp::{AnyValue, KeyValue, Value};
    use prost::Message;

    /// A `KeyValue`'s bytes.
    pub(crate) fn kv(key: &str, v: Value) -> Vec<u8> {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(v) }),
            ..KeyValue::default()
        }
        .encode_to_vec()
    }

    /// Those bytes read as attributes.
    pub(crate) fn attrs(encoded: &[Vec<u8>]) -> Vec<Attr<'_>> {
        encoded.iter().map(|b| Attr::read(b).unwrap()).collect()
    }

    /// A string value.
    pub(crate) fn s(x: &str) -> Value {
        Value::StringValue(x.to_owned())
    }
}
