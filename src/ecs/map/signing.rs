//! What proves a Claude item as the exporter stores it (README "Tamper
//! evidence"), after every rule of the mapping (the content policy
//! included: what is proven is what is stored): a log record's seal entry
//! (`Walk::seal_record`, [`crate::seal::item_digest`] over its whole stored
//! form, ECS mode), and the signature ([`crate::signature`]) of the items
//! not sealed yet:
//! - a span (OTel mode): its attributes under `attributes.`, `name`,
//!   `trace_id`, `span_id`, `@timestamp` (its start) and `duration`;
//! - a span event (OTel mode, its own document): its attributes under
//!   `attributes.`, `event_name`, its span's `trace_id` and `span_id`, and
//!   `@timestamp`;
//! - a data point (ECS mode): its attributes, `@timestamp` and, for a
//!   number, its value under the metric's name. It has no document id (the
//!   signature binds the empty one).

use crate::ecs::map::sealing::{SESSION_FIELDS, SealResource, SealScratch, Shape, Took};
use crate::ecs::map::walk::Walk;
use crate::ecs::model::attrs::{Attrs, Key};
use crate::ecs::model::value::{OutValue, string, string_array};
use crate::ecs::policy::identity::lower_hex;
use crate::ecs::policy::routing::{DOCUMENT_ID_ATTRIBUTE, ROUTING_ATTRIBUTES};
use crate::seal::{self, SealedItem};
use crate::signature;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// How the exporter's ECS mode stores a resource attribute whose name it
/// changes (elasticsearchexporter `model.go`, `resourceAttrsConversionMap`,
/// v0.157.0).
enum Conversion {
    /// Stored under this name instead.
    To(&'static str),
    /// Not stored.
    Skip,
    /// Stored under this name too, unless the resource has that attribute
    /// itself (`host.name`).
    AlsoUnlessPresent(&'static str),
}

/// [`Conversion`]s of resource attributes, ECS mode (v0.157.0).
const ECS_RESOURCE_CONVERSIONS: &[(&str, Conversion)] = &[
    ("service.instance.id", Conversion::To("service.node.name")),
    (
        "deployment.environment",
        Conversion::To("service.environment"),
    ),
    (
        "deployment.environment.name",
        Conversion::To("service.environment"),
    ),
    ("telemetry.sdk.name", Conversion::Skip),
    (
        "telemetry.sdk.language",
        Conversion::To("service.language.name"),
    ),
    (
        "telemetry.sdk.version",
        Conversion::To("service.language.version"),
    ),
    ("telemetry.distro.name", Conversion::Skip),
    ("telemetry.distro.version", Conversion::Skip),
    ("cloud.platform", Conversion::To("cloud.service.name")),
    (
        "container.image.tags",
        Conversion::To("container.image.tag"),
    ),
    ("host.name", Conversion::AlsoUnlessPresent("host.hostname")),
    ("host.arch", Conversion::To("host.architecture")),
    ("process.parent_pid", Conversion::To("process.parent.pid")),
    ("process.executable.name", Conversion::To("process.title")),
    (
        "process.executable.path",
        Conversion::To("process.executable"),
    ),
    ("process.command_line", Conversion::To("process.args")),
    (
        "process.runtime.name",
        Conversion::To("service.runtime.name"),
    ),
    (
        "process.runtime.version",
        Conversion::To("service.runtime.version"),
    ),
    ("os.name", Conversion::To("host.os.name")),
    ("os.type", Conversion::To("host.os.platform")),
    ("os.description", Conversion::To("host.os.full")),
    ("os.version", Conversion::To("host.os.version")),
    ("client.address", Conversion::To("client.ip")),
    ("source.address", Conversion::To("source.ip")),
    (
        "k8s.deployment.name",
        Conversion::To("kubernetes.deployment.name"),
    ),
    ("k8s.namespace.name", Conversion::To("kubernetes.namespace")),
    ("k8s.node.name", Conversion::To("kubernetes.node.name")),
    ("k8s.pod.name", Conversion::To("kubernetes.pod.name")),
    ("k8s.pod.uid", Conversion::To("kubernetes.pod.uid")),
    ("k8s.job.name", Conversion::To("kubernetes.job.name")),
    (
        "k8s.cronjob.name",
        Conversion::To("kubernetes.cronjob.name"),
    ),
    (
        "k8s.statefulset.name",
        Conversion::To("kubernetes.statefulset.name"),
    ),
    (
        "k8s.replicaset.name",
        Conversion::To("kubernetes.replicaset.name"),
    ),
    (
        "k8s.daemonset.name",
        Conversion::To("kubernetes.daemonset.name"),
    ),
    (
        "k8s.container.name",
        Conversion::To("kubernetes.container.name"),
    ),
    (
        "k8s.cluster.name",
        Conversion::To("orchestrator.cluster.name"),
    ),
    ("faas.instance", Conversion::To("faas.id")),
    ("faas.trigger", Conversion::To("faas.trigger.type")),
];

/// The stored fields of a Claude resource's attributes in the exporter's
/// ECS mode (its [`ECS_RESOURCE_CONVERSIONS`] applied), for the digest of
/// each record below it.
pub(crate) fn ecs_resource_leaves(attrs: &Attrs<'_>) -> BTreeMap<String, Value> {
    let mut leaves = BTreeMap::new();
    let names: Vec<String> = attrs
        .iter()
        .map(|a| format!("{}{}", a.key.prefix, a.key.name))
        .collect();
    for (a, name) in attrs.iter().zip(&names) {
        let Some(value) = a.value.stored_json() else {
            continue;
        };
        match ECS_RESOURCE_CONVERSIONS
            .iter()
            .find(|(from, _)| from == name)
        {
            None => signature::flatten_into(name, value, &mut leaves),
            Some((_, Conversion::Skip)) => {}
            Some((_, Conversion::To(to))) => signature::flatten_into(to, value, &mut leaves),
            Some((_, Conversion::AlsoUnlessPresent(to))) => {
                if !names.iter().any(|n| n == to) {
                    signature::flatten_into(to, value.clone(), &mut leaves);
                }
                signature::flatten_into(name, value, &mut leaves);
            }
        }
    }
    leaves
}

/// The stored fields of a scope's attributes (ECS mode: as they are).
pub(crate) fn scope_leaves(attrs: &Attrs<'_>) -> BTreeMap<String, Value> {
    let mut leaves = BTreeMap::new();
    for a in attrs.iter() {
        if let Some(value) = a.value.stored_json() {
            let name = format!("{}{}", a.key.prefix, a.key.name);
            signature::flatten_into(&name, value, &mut leaves);
        }
    }
    leaves
}

/// What the exporter stores of an item besides its attributes.
pub(crate) enum Stored<'x> {
    /// A log record (ECS mode).
    LogRecord {
        /// Nanoseconds (`time_unix_nano`, else the observed time).
        time: u64,
        /// Its body, when a string.
        message: Option<&'x str>,
        /// `event.severity` (none when 0).
        severity_number: u64,
        /// `log.level` (none when empty).
        severity_text: &'x str,
        /// `trace.id`, `span.id` (none when empty or all zero).
        trace_id: &'x [u8],
        span_id: &'x [u8],
    },
    /// A span (OTel mode).
    Span {
        name: &'x str,
        trace_id: &'x [u8],
        span_id: &'x [u8],
        start: u64,
        end: u64,
    },
    /// A span event (OTel mode), with its span's ids.
    SpanEvent {
        name: &'x str,
        trace_id: &'x [u8],
        span_id: &'x [u8],
        time: u64,
    },
    /// A data point (ECS mode: its attributes at the top, its value under
    /// its metric's name). Its signature's attributes differ from every
    /// other point's, so the exporter, which merges the points of a batch
    /// that share attributes and time into one document, writes it alone.
    DataPoint {
        metric: &'x str,
        time: u64,
        /// A number point's value (histograms and summaries: none signed).
        value: Option<&'x Value>,
    },
}

impl Walk<'_> {
    /// With a signing key configured, signs an item mapped into `out` as
    /// `stored` says the exporter stores it, bound to the document id
    /// already in `out` (none for a data point), and adds the signature's
    /// three fields to `out`. The exporter's control attributes
    /// ([`ROUTING_ATTRIBUTES`]: routing, mapping mode, document id) are not
    /// stored as they are, so they are not signed.
    pub(crate) fn sign(&self, stored: &Stored<'_>, out: &mut Attrs<'_>) {
        let Some(signer) = &self.mapping.settings.signer else {
            return;
        };
        let signed = {
            let doc_id = (out.get(&Key::plain(DOCUMENT_ID_ATTRIBUTE)))
                .and_then(OutValue::scalar_text)
                .unwrap_or_default();
            let mut fields: Vec<(String, Value)> = stored_fields(stored, out).into_iter().collect();
            signer.sign(&doc_id, &mut fields)
        };
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
}

impl<'a> Walk<'a> {
    /// With sealing on, starts a resource: a Claude one's stored fields
    /// (`attrs`, ECS mode) become the group its records' digests start
    /// with, listed once per request.
    pub(crate) fn begin_seal_resource(&mut self, claude: bool) {
        if self.sealing.is_none() {
            return;
        }
        let leaves = if claude {
            ecs_resource_leaves(&self.attrs)
        } else {
            BTreeMap::new()
        };
        let (group, rest) = seal::Group::new(leaves);
        let index = (!group.names().is_empty()).then(|| {
            match self.seal_groups.iter().position(|g| g == group.listed()) {
                Some(i) => i,
                None => {
                    self.seal_groups.push(group.listed().to_owned());
                    self.seal_groups.len() - 1
                }
            }
        });
        self.seal_resource = Some(SealResource { group, index, rest });
        self.seal_scratch.shapes.clear();
    }

    /// With sealing on, marks a Claude log record mapped into `out` with
    /// its seal's id ([`seal::FIELD_SEAL_ID`]) and adds it to the request's
    /// seal: its document id, the digest ([`seal::item_digest`]) of its
    /// whole stored form (its resource's fields as the group, its scope's,
    /// its own, `data_stream.*` and what `stored` says the exporter adds)
    /// and its session.
    pub(crate) fn seal_record(&mut self, stored: &Stored<'_>, out: &mut Attrs<'a>) {
        let (Some(seal_id), Some(resource)) = (self.sealing, &self.seal_resource) else {
            return;
        };
        out.set(Key::plain(seal::FIELD_SEAL_ID), string(seal_id));
        let s = &mut self.seal_scratch;
        s.clear();
        // Lowest precedence first: the exporter writes the resource's
        // fields, then the scope's, then the record's (the last kept).
        s.push_str("data_stream.type", "logs");
        for (k, v) in resource.rest.iter().chain(&self.seal_scope) {
            s.push_json(k, v);
        }
        push_record_fields(s, stored, out);
        let shape = s.shape(&resource.group);
        s.sort(shape);
        let Shape {
            names_digest,
            apart,
            session,
            ..
        } = &s.shapes[shape];
        // The first of SESSION_FIELDS stored, the record's value first.
        let session = (session.iter().zip(SESSION_FIELDS))
            .find_map(|(leaf, f)| match leaf {
                Some(leaf) => Some(s.text(*leaf)),
                None => resource.group.get(f).map(Value::as_str),
            })
            .flatten()
            .map(str::to_owned);
        let slow = || {
            let mut leaves = stored_fields(stored, out);
            let resource_leaves = resource.group.fields().chain(&resource.rest);
            for (k, v) in self.seal_scope.iter().chain(resource_leaves) {
                if !leaves.contains_key(k) {
                    leaves.insert(k.clone(), v.clone());
                }
            }
            for k in [
                "data_stream.type",
                "data_stream.dataset",
                "data_stream.namespace",
            ] {
                if let Some(v) = out.get(&Key::plain(k)).and_then(OutValue::stored_json) {
                    leaves.insert(k.to_owned(), v);
                }
            }
            leaves
                .entry("data_stream.type".to_owned())
                .or_insert_with(|| Value::from("logs"));
            let names: Vec<&str> = resource.group.names().iter().map(String::as_str).collect();
            seal::item_digest(&leaves, &names)
        };
        // A record field the group names too (the record's value is
        // stored): the group's prefix does not hold; hash the whole form.
        let digest = if *apart {
            let fast = resource.group.digest(names_digest, &s.sorted);
            debug_assert_eq!(fast, slow(), "the fast digest is the verifier's");
            fast
        } else {
            slow()
        };
        let id = (out.get(&Key::plain(DOCUMENT_ID_ATTRIBUTE)))
            .and_then(OutValue::scalar_text)
            .unwrap_or_default()
            .into_owned();
        let time = match *stored {
            Stored::LogRecord { time, .. }
            | Stored::SpanEvent { time, .. }
            | Stored::DataPoint { time, .. } => time,
            Stored::Span { start, .. } => start,
        };
        self.sealed.push(SealedItem {
            id,
            digest,
            session,
            group: resource.index,
            time,
        });
    }
}

/// The first letters of every [`ROUTING_ATTRIBUTES`] and every renamed
/// [`signature::ECS_LOG_RENAMES`] name (a test keeps them so).
macro_rules! LISTED_INITIALS {
    () => {
        b'e' | b'd' | b'h'
    };
}

/// Pushes what [`stored_fields`] gives, in its order of precedence.
fn push_record_fields(s: &mut SealScratch, stored: &Stored<'_>, out: &Attrs<'_>) {
    for a in out.iter() {
        let start = s.names.len();
        s.names.push_str(a.key.prefix);
        s.names.push_str(&a.key.name);
        let name = &s.names[start..];
        // `data_stream.*` is stored as it is (over what the resource and
        // scope say: no record field has its name); the other routing
        // attributes are instructions.
        // (Every routing attribute and every renamed one starts with an
        // `e`, a `d` or an `h`: most names need no comparison.)
        let listed = matches!(name.as_bytes().first(), Some(LISTED_INITIALS!()));
        if (listed && ROUTING_ATTRIBUTES.contains(&name) && !name.starts_with("data_stream."))
            || (matches!(stored, Stored::SpanEvent { .. }) && name == "event.name")
        {
            s.names.truncate(start);
            continue;
        }
        match stored {
            Stored::Span { .. } | Stored::SpanEvent { .. } => {
                s.names.insert_str(start, "attributes.");
            }
            Stored::LogRecord { .. } if listed => {
                if let Some((_, to)) = signature::ECS_LOG_RENAMES
                    .iter()
                    .find(|(from, _)| *from == name)
                {
                    s.names.truncate(start);
                    s.names.push_str(to);
                }
            }
            Stored::LogRecord { .. } | Stored::DataPoint { .. } => {}
        }
        let value_start = s.values.len();
        match s.push_out(&a.value) {
            Took::Encoded => s.end(start, value_start),
            Took::Nothing => s.names.truncate(start),
            Took::Json(json) => {
                let name = s.names[start..].to_owned();
                s.names.truncate(start);
                let mut flat = BTreeMap::new();
                signature::flatten_into(&name, json, &mut flat);
                for (k, v) in &flat {
                    s.push_json(k, v);
                }
            }
        }
    }
    exporter_fields(stored, |k, v| match v {
        Extra::Text(t) => s.push_str(k, &t),
        Extra::Number(n) => s.push_u64(k, n),
        Extra::Json(v) => s.push_json(k, v),
    });
}

/// The item's stored fields, by their stored (dotted) names.
fn stored_fields(stored: &Stored<'_>, out: &Attrs<'_>) -> BTreeMap<String, Value> {
    let mut leaves = BTreeMap::new();
    for a in out.iter() {
        let name = format!("{}{}", a.key.prefix, a.key.name);
        // A span event's name is stored as its `event.name` (and `event_name`).
        if ROUTING_ATTRIBUTES.contains(&name.as_str())
            || (matches!(stored, Stored::SpanEvent { .. }) && name == "event.name")
        {
            continue;
        }
        let name = match stored {
            Stored::Span { .. } | Stored::SpanEvent { .. } => format!("attributes.{name}"),
            Stored::DataPoint { .. } => name,
            Stored::LogRecord { .. } => (signature::ECS_LOG_RENAMES.iter())
                .find(|(from, _)| *from == name)
                .map_or(name, |(_, to)| (*to).to_owned()),
        };
        if let Some(value) = a.value.stored_json() {
            signature::flatten_into(&name, value, &mut leaves);
        }
    }
    exporter_fields(stored, |k, v| {
        leaves.insert(k.to_owned(), v.into_json());
    });
    leaves
}

/// A field the exporter stores of an item besides its attributes.
enum Extra<'x> {
    Text(Cow<'x, str>),
    Number(u64),
    Json(&'x Value),
}

impl Extra<'_> {
    fn into_json(self) -> Value {
        match self {
            Extra::Text(t) => Value::from(t.into_owned()),
            Extra::Number(n) => Value::from(n),
            Extra::Json(v) => v.clone(),
        }
    }
}

/// Calls `put` with each field the exporter stores of `stored` besides its
/// attributes, by its stored name:
/// - a log record (ECS mode): `@timestamp`, `message` (none when empty),
///   `trace.id` and `span.id` (lowercase hex, none when all zero),
///   `event.severity` (none when 0), `log.level` (none when empty);
/// - a span or span event (OTel mode): `@timestamp`, its name (`name` /
///   `event_name`, none when empty), `trace_id`, `span_id` (lowercase
///   hex, none when empty), and a span's `duration`;
/// - a data point (ECS mode): `@timestamp` and a number's value under its
///   metric's name.
fn exporter_fields<'x>(stored: &Stored<'x>, mut put: impl FnMut(&'x str, Extra<'x>)) {
    // Trace and span ids as lowercase hex, none when all zero.
    let ids = |names: [&'x str; 2], ids: [&[u8]; 2], put: &mut dyn FnMut(&'x str, Extra<'x>)| {
        for (k, id) in names.into_iter().zip(ids) {
            if id.iter().any(|b| *b != 0) {
                put(k, Extra::Text(Cow::Owned(lower_hex(id))));
            }
        }
    };
    match *stored {
        Stored::LogRecord {
            time,
            message,
            severity_number,
            severity_text,
            trace_id,
            span_id,
        } => {
            put(signature::FIELD_TIMESTAMP, Extra::Number(time));
            if let Some(m) = message.filter(|m| !m.is_empty()) {
                put(signature::FIELD_MESSAGE, Extra::Text(Cow::Borrowed(m)));
            }
            ids(["trace.id", "span.id"], [trace_id, span_id], &mut put);
            if severity_number != 0 {
                put("event.severity", Extra::Number(severity_number));
            }
            if !severity_text.is_empty() {
                put("log.level", Extra::Text(Cow::Borrowed(severity_text)));
            }
        }
        Stored::Span {
            name,
            trace_id,
            span_id,
            start: time,
            ..
        }
        | Stored::SpanEvent {
            name,
            trace_id,
            span_id,
            time,
        } => {
            put(signature::FIELD_TIMESTAMP, Extra::Number(time));
            if !name.is_empty() {
                let field = match stored {
                    Stored::Span { .. } => "name",
                    _ => "event_name",
                };
                put(field, Extra::Text(Cow::Borrowed(name)));
            }
            ids(["trace_id", "span_id"], [trace_id, span_id], &mut put);
            if let Stored::Span { start, end, .. } = *stored {
                put("duration", Extra::Number(end.wrapping_sub(start)));
            }
        }
        Stored::DataPoint {
            metric,
            time,
            value,
        } => {
            put(signature::FIELD_TIMESTAMP, Extra::Number(time));
            if let Some(v) = value.filter(|v| !metric.is_empty() && v.is_number()) {
                put(metric, Extra::Json(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routing_and_renamed_name_starts_with_a_listed_initial() {
        let names = ROUTING_ATTRIBUTES
            .iter()
            .chain(signature::ECS_LOG_RENAMES.iter().map(|(from, _)| from));
        for name in names {
            assert!(
                matches!(name.as_bytes().first(), Some(LISTED_INITIALS!())),
                "{name}: add its initial to LISTED_INITIALS"
            );
        }
    }
}
