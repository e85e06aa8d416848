//! Attribute lists as the transform reads and writes them: input attributes
//! borrowed from the request bytes ([`Attr`]), and an output list
//! ([`Attrs`]) that is encoded straight into the output message.

use super::value::{In, Out};
use crate::otlp::wire::{self, Malformed};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::borrow::Cow;
use std::hash::BuildHasher;

/// One input attribute, borrowed from the request bytes.
#[derive(Debug, Clone)]
pub(crate) struct Attr<'a> {
    /// The key (read lossily when it was not UTF-8).
    pub(crate) key: Cow<'a, str>,
    /// The value.
    pub(crate) value: In<'a>,
    /// The `AnyValue` bytes as they came (empty when absent).
    pub(crate) value_raw: &'a [u8],
    /// The `KeyValue` bytes as they came.
    pub(crate) raw: &'a [u8],
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
        let (value, bad_value) = In::read(kv.value, kv.value_raw);
        Ok(Attr {
            key,
            value,
            value_raw: kv.value_raw,
            raw,
            repaired: bad_key || bad_value,
        })
    }

    /// The attribute as written back unchanged: its value copied as it came
    /// unless its text had to be repaired.
    pub(crate) fn kept(&self) -> Result<AttrOut<'a>, Malformed> {
        let value = match &self.value {
            _ if !self.repaired => Out::Raw(self.value_raw),
            In::Str(s) => Out::Str(s.clone()),
            other => other.to_value()?.map_or(Out::Raw(&[]), Out::Value),
        };
        Ok(AttrOut {
            key: Key::plain(self.key.clone()),
            value,
        })
    }
}

/// An output key: `prefix` followed by `name` (the vendor namespace
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
    pub(crate) value: Out<'a>,
}

/// An output attribute list with an index by key, so that adding, finding
/// and replacing an attribute costs the same for 10 attributes or 100,000.
/// Keys are compared as `(prefix, name)` pairs: the transform never writes
/// one key in two splits.
#[derive(Debug, Default)]
pub(crate) struct Attrs<'a> {
    items: Vec<AttrOut<'a>>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl<'a> Attrs<'a> {
    fn hash(&self, key: &Key<'_>) -> u64 {
        self.hasher.hash_one((key.prefix, &*key.name))
    }

    /// The position of `key`, if present (the first one when a sender's
    /// duplicates were kept with [`Attrs::push`]).
    pub(crate) fn position(&self, key: &Key<'_>) -> Option<usize> {
        let hash = self.hash(key);
        let items = &self.items;
        (self.index.find(hash, |&i| items[i as usize].key == *key)).map(|&i| i as usize)
    }

    /// Whether `key` is present.
    pub(crate) fn contains(&self, key: &Key<'_>) -> bool {
        self.position(key).is_some()
    }

    /// Appends an attribute whatever is already there (a sender's duplicate
    /// keys are kept as sent).
    pub(crate) fn push(&mut self, attr: AttrOut<'a>) {
        if !self.contains(&attr.key) {
            let hash = self.hash(&attr.key);
            let at = u32::try_from(self.items.len()).unwrap_or(u32::MAX);
            let (items, hasher) = (&self.items, &self.hasher);
            self.index.insert_unique(hash, at, |&i| {
                let k = &items[i as usize].key;
                hasher.hash_one((k.prefix, &*k.name))
            });
        }
        self.items.push(attr);
    }

    /// Adds `key` unless it is present (the first writer wins) or the value
    /// is empty (SPEC 2). Returns whether it was added.
    pub(crate) fn put(&mut self, key: Key<'a>, mut value: Out<'a>) -> bool {
        if self.contains(&key) || value.prune_empty() {
            return false;
        }
        self.push(AttrOut { key, value });
        true
    }

    /// Sets `key`, replacing the value of the first attribute with that key.
    pub(crate) fn set(&mut self, key: Key<'a>, value: Out<'a>) {
        match self.position(&key) {
            Some(i) => self.items[i].value = value,
            None => self.push(AttrOut { key, value }),
        }
    }

    /// The value of `key`, for changing it in place.
    pub(crate) fn get_mut(&mut self, key: &Key<'_>) -> Option<&mut Out<'a>> {
        let i = self.position(key)?;
        Some(&mut self.items[i].value)
    }

    /// Empties the list, keeping its memory for the next record.
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.index.clear();
    }

    /// Writes every attribute as a repeated `KeyValue` field `tag`.
    pub(crate) fn encode(&self, tag: u32, out: &mut Vec<u8>, scratch: &mut Vec<u8>) {
        for attr in &self.items {
            scratch.clear();
            attr.value.encode(scratch);
            wire::put_key_value(out, tag, attr.key.prefix, &attr.key.name, scratch);
        }
    }
}
