//! Where verify reads from, a page at a time: the [`Source`] trait, its
//! Elasticsearch reader [`Elastic`], and the [`Doc`] each page holds.

use super::{SEAL_INDEX, Verify};
use crate::elasticsearch::Client;
use cowork_ecs::seal;
use cowork_ecs::signature::{self, FIELD_TIMESTAMP};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Where a document's session id is (ECS documents: under the emitter's
/// vendor object; the first present wins).
pub(super) const SESSION_FIELDS: &[&str] = &[
    "claude_code.events.session.id",
    "claude_cowork.events.session.id",
    "session.id",
    "attributes.session.id",
];

/// Documents read per scroll page.
pub(super) const PAGE: usize = 1000;
/// Seals read per scroll page (a seal's items can be ~110 KB).
pub(super) const SEAL_PAGE: usize = 10;

/// The session of a document or seal entry that names none.
pub(super) const NO_SESSION: &str = "(no session)";

/// One stored document.
#[derive(Clone)]
pub(super) struct Doc {
    /// `<index>/<_id>`.
    pub(super) name: String,
    pub(super) id: String,
    pub(super) fields: BTreeMap<String, Value>,
}

impl Doc {
    /// A document as verify reads it: `@timestamp` as integer nanoseconds
    /// (how a digest and a signature read it), the rest as stored.
    pub(super) fn read(name: String, id: String, mut fields: BTreeMap<String, Value>) -> Doc {
        if let Some(Value::String(ts)) = fields.get(FIELD_TIMESTAMP) {
            if let Some(ns) = signature::parse_timestamp(ts) {
                fields.insert(FIELD_TIMESTAMP.to_owned(), Value::from(ns));
            }
        }
        Doc { name, id, fields }
    }
}

/// A page of documents handed to a reader.
pub(super) type Pages<'f> = &'f mut dyn FnMut(Vec<Doc>) -> Result<(), String>;

/// Where verify reads from, a page at a time: Elasticsearch ([`Elastic`]),
/// or documents in memory (tests).
pub(super) trait Source {
    /// The seals of the window.
    fn seals(&self, f: Pages<'_>) -> Result<(), String>;
    /// The documents of the window (and of `--session`).
    fn documents(&self, f: Pages<'_>) -> Result<(), String>;
    /// The documents that name one of `refs` as their seal
    /// ([`seal::FIELD_SEAL_ID`]), whatever their time.
    fn naming(&self, refs: &[&str], f: Pages<'_>) -> Result<(), String>;
    /// The documents with one of these ids, whatever their time.
    fn with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String>;
    /// The seals with one of these ids, whatever their time.
    fn seals_with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String>;
}

/// [`Source`] of a cluster: scrolls over `v.index` and [`SEAL_INDEX`].
pub(super) struct Elastic<'a> {
    pub(super) client: &'a Client,
    pub(super) v: &'a Verify,
    /// The window's range filters.
    pub(super) window: Vec<Value>,
}

impl Elastic<'_> {
    /// Every hit of `query` in `index`, `size` at a time, with a scroll.
    fn scroll(&self, index: &str, query: Value, size: usize, f: Pages<'_>) -> Result<(), String> {
        let body = json!({"size": size, "sort": ["_doc"], "query": query});
        let path =
            format!("{index}/_search?scroll=5m&ignore_unavailable=true&allow_no_indices=true");
        let (status, mut page) = self.client.call("POST", &path, Some(&body))?;
        if status != 200 {
            return Err(format!("search {index}: HTTP {status}: {}", clip(&page)));
        }
        let mut read = || -> Result<(), String> {
            loop {
                let hits = match page["hits"]["hits"].take() {
                    Value::Array(hits) => hits,
                    _ => Vec::new(),
                };
                if hits.is_empty() {
                    return Ok(());
                }
                f(hits.into_iter().filter_map(doc_of).collect())?;
                let Some(scroll_id) = page["_scroll_id"].as_str().map(str::to_owned) else {
                    return Ok(());
                };
                let (status, next) = self.client.call(
                    "POST",
                    "_search/scroll",
                    Some(&json!({"scroll": "5m", "scroll_id": scroll_id})),
                )?;
                if status != 200 {
                    return Err(format!("scroll: HTTP {status}: {}", clip(&next)));
                }
                page = next;
            }
        };
        let result = read();
        if let Some(scroll_id) = page["_scroll_id"].as_str() {
            let _ = self.client.call(
                "DELETE",
                "_search/scroll",
                Some(&json!({"scroll_id": scroll_id})),
            );
        }
        result
    }
}

/// A search hit as a [`Doc`] (its `_source` flattened).
fn doc_of(mut hit: Value) -> Option<Doc> {
    let (Some(index), Some(id)) = (hit["_index"].as_str(), hit["_id"].as_str()) else {
        return None;
    };
    // A data point's signature binds no id: the processor cannot know the
    // one time-series mode derives from its dimensions.
    let metrics = index.starts_with("metrics-") || index.starts_with(".ds-metrics-");
    let name = format!("{index}/{id}");
    let id = if metrics {
        String::new()
    } else {
        id.to_owned()
    };
    Some(Doc::read(
        name,
        id,
        signature::flatten(hit["_source"].take()),
    ))
}

impl Source for Elastic<'_> {
    fn seals(&self, f: Pages<'_>) -> Result<(), String> {
        let query = json!({"bool": {"filter": self.window}});
        self.scroll(SEAL_INDEX, query, SEAL_PAGE, f)
    }

    fn documents(&self, f: Pages<'_>) -> Result<(), String> {
        let mut filter = self.window.clone();
        if let Some(session) = &self.v.session {
            let should: Vec<Value> = SESSION_FIELDS
                .iter()
                .map(|f| json!({"term": {*f: session}}))
                .collect();
            filter.push(json!({"bool": {"should": should, "minimum_should_match": 1}}));
        }
        let query = json!({"bool": {"filter": filter}});
        self.scroll(&self.v.index, query, PAGE, f)
    }

    fn naming(&self, refs: &[&str], f: Pages<'_>) -> Result<(), String> {
        let query = json!({"bool": {"filter": [{"terms": {seal::FIELD_SEAL_ID: refs}}]}});
        self.scroll(&self.v.index, query, PAGE, f)
    }

    fn with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
        self.scroll(&self.v.index, json!({"ids": {"values": ids}}), PAGE, f)
    }

    fn seals_with_ids(&self, ids: &[&str], f: Pages<'_>) -> Result<(), String> {
        let query = json!({"ids": {"values": ids}});
        self.scroll(SEAL_INDEX, query, SEAL_PAGE, f)
    }
}

/// A document's session (`(no session)`: none).
pub(super) fn session_of(fields: &BTreeMap<String, Value>) -> String {
    first(fields, SESSION_FIELDS)
        .and_then(Value::as_str)
        .unwrap_or(NO_SESSION)
        .to_owned()
}

pub(super) fn first<'a>(fields: &'a BTreeMap<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| fields.get(*n))
}

pub(super) fn clip(v: &Value) -> String {
    v.to_string().chars().take(1000).collect()
}
