//! The signature of a Claude item as the exporter stores it
//! ([`crate::signature`]; README "Tamper evidence"), after every rule of the
//! mapping (the content policy included: what is signed is what is stored):
//! - a log record (ECS mode): its attributes under their stored names,
//!   `@timestamp` and `message`;
//! - a span (OTel mode): its attributes under `attributes.`, `name`,
//!   `trace_id`, `span_id`, `@timestamp` (its start) and `duration`;
//! - a span event (OTel mode, its own document): its attributes under
//!   `attributes.`, `event_name`, its span's `trace_id` and `span_id`, and
//!   `@timestamp`;
//! - a data point (ECS mode): its attributes, `@timestamp` and, for a
//!   number, its value under the metric's name. It has no document id (the
//!   signature binds the empty one).

use crate::ecs::map::walk::Walk;
use crate::ecs::model::attrs::{Attrs, Key};
use crate::ecs::model::value::{OutValue, string, string_array};
use crate::ecs::policy::identity::lower_hex;
use crate::ecs::policy::routing::{DOCUMENT_ID_ATTRIBUTE, ROUTING_ATTRIBUTES};
use crate::seal::{self, SealedItem};
use crate::signature;
use serde_json::Value;
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

/// Where a record's session is among its stored fields (the first found).
const SESSION_FIELDS: &[&str] = &[
    "session.id",
    "claude_code.events.session.id",
    "claude_cowork.events.session.id",
];

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

impl Walk<'_> {
    /// With sealing on, marks a Claude log record mapped into `out` with
    /// its chain ([`seal::FIELD_CHAIN`]) and adds it to the request's seal:
    /// its document id, the digest of its whole stored form (its resource's
    /// and scope's fields, its own, `data_stream.*` and what `stored` says
    /// the exporter adds) and its session.
    pub(crate) fn seal_record(&mut self, stored: &Stored<'_>, out: &mut Attrs<'_>) {
        let Some(chain) = self.sealing else {
            return;
        };
        out.set(Key::plain(seal::FIELD_CHAIN), string(chain.to_owned()));
        // The record's own fields win over its scope's, which win over its
        // resource's (the exporter writes them in that order, the last kept).
        let mut leaves = stored_fields(stored, out);
        for (k, v) in self.seal_scope.iter().chain(&self.seal_resource) {
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
        let id = (out.get(&Key::plain(DOCUMENT_ID_ATTRIBUTE)))
            .and_then(OutValue::scalar_text)
            .unwrap_or_default()
            .into_owned();
        let session = SESSION_FIELDS
            .iter()
            .find_map(|f| leaves.get(*f))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let time = match *stored {
            Stored::LogRecord { time, .. }
            | Stored::SpanEvent { time, .. }
            | Stored::DataPoint { time, .. } => time,
            Stored::Span { start, .. } => start,
        };
        self.sealed.push(SealedItem {
            id,
            digest: seal::item_digest(&leaves),
            session,
            time,
        });
    }
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
    let mut put = |k: &str, v: Value| {
        leaves.insert(k.to_owned(), v);
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
            put(signature::FIELD_TIMESTAMP, Value::from(time));
            if let Some(m) = message.filter(|m| !m.is_empty()) {
                put(signature::FIELD_MESSAGE, Value::from(m));
            }
            for (k, id) in [("trace.id", trace_id), ("span.id", span_id)] {
                if id.iter().any(|b| *b != 0) {
                    put(k, Value::from(lower_hex(id)));
                }
            }
            if severity_number != 0 {
                put("event.severity", Value::from(severity_number));
            }
            if !severity_text.is_empty() {
                put("log.level", Value::from(severity_text));
            }
        }
        Stored::Span {
            name,
            trace_id,
            span_id,
            start,
            end,
        } => {
            put_otel(&mut put, ("name", name), trace_id, span_id, start);
            put("duration", Value::from(end.wrapping_sub(start)));
        }
        Stored::SpanEvent {
            name,
            trace_id,
            span_id,
            time,
        } => put_otel(&mut put, ("event_name", name), trace_id, span_id, time),
        Stored::DataPoint {
            metric,
            time,
            value,
        } => {
            put(signature::FIELD_TIMESTAMP, Value::from(time));
            if let Some(v) = value.filter(|v| !metric.is_empty() && v.is_number()) {
                put(metric, v.clone());
            }
        }
    }
    leaves
}

/// What the exporter's OTel mode writes of a span or span event besides
/// its attributes: `@timestamp`, its name (`name` / `event_name`, none when
/// empty), and `trace_id`, `span_id` as lowercase hex (none when empty).
fn put_otel(
    put: &mut impl FnMut(&str, Value),
    (name_field, name): (&str, &str),
    trace_id: &[u8],
    span_id: &[u8],
    time: u64,
) {
    put(signature::FIELD_TIMESTAMP, Value::from(time));
    if !name.is_empty() {
        put(name_field, Value::from(name));
    }
    for (k, id) in [("trace_id", trace_id), ("span_id", span_id)] {
        if id.iter().any(|b| *b != 0) {
            put(k, Value::from(lower_hex(id)));
        }
    }
}
