//! Traces and metrics (issue 9): Claude Code's spans and metrics go through
//! the same emitters, content policy, identity policy, tenant and routing
//! mapping as its log records, so a gateway that forwards all three signals
//! stores no prompt, command, command output or identity that the policy
//! keeps out of the logs.
//!
//! Unlike logs ([`super::walk`]), these requests are decoded into their
//! `opentelemetry-proto` types, changed in place and encoded again: they are
//! a small share of the volume (a span per interaction, LLM request or tool
//! call; a metric point per export interval), so the simpler path is kept.
//!
//! What a Claude resource gets:
//! - **routing** (the gateway's, [`gateway::ROUTING_ATTRIBUTES`]): whatever
//!   the sender set at any level is removed (and kept in
//!   [`gateway::REQUESTED_ROUTING_FIELD`], tagged `routing_overridden`); each
//!   scope gets `elastic.mapping.mode` (`otel` for spans: the shape Elastic's
//!   Traces Overview reads, in `traces-<product>.otel-*`; `ecs` for
//!   metrics), `data_stream.dataset` (`<product>`, to which the exporter's
//!   OTel mode adds `.otel`; `<product>.metrics`) and `data_stream.namespace`
//!   (the tenant's, else the configured one). The exporter reads a record's
//!   routing from its own attributes, then its scope's, then its resource's.
//! - **content and identity policy** on resource, span, span event and data
//!   point attributes, by the same key → class table as logs
//!   ([`super::tables::CONTENT_ATTRIBUTES`]): `user_prompt` (prompts),
//!   `full_command` / `bash_command` (tool_details), `output` of
//!   `tool.output` (tool_output), `system_prompt_preview` /
//!   `user_system_prompt` / `tools` (api_bodies), `user.email` /
//!   `user.account_uuid` / `user.account_id` (identity).
//! - **ECS fields on spans**, beside the span's own attributes, which stay
//!   ([`super::tables::SPAN_CLASSES`], [`super::tables::SPAN_RENAMES`]):
//!   `event.kind`, `event.category`,
//!   `event.type`, `event.provider`, `event.outcome` (from `success`),
//!   `gen_ai.usage.*`, `process.command_line`, `event.duration`,
//!   `related.user`, `labels.tenant`, and a deterministic
//!   `elasticsearch.document_id` (a replayed span is a conflict on the
//!   existing document, with the exporter's `traces_dynamic_id`).
//!
//! Another sender's resource is left as it is, except that under an
//! authenticated tenant its routing is the gateway's (namespace = the
//! tenant's), and a mapping mode the exporter would refuse is removed.

use super::content::Redactions;
use super::record::{ORGANIZATION_MISMATCH_TAG, Tenant};
use super::tables::{self, Conversion, EventClass};
use super::value::{InValue, OutValue, convert, to_bool};
use super::{Emitter, Transformed, Transformer, gateway};
use crate::error::Result;
use crate::otlp::wire;
use crate::otlp::{
    AnyValue, ArrayValue, ExportMetricsServiceRequest, ExportTraceServiceRequest,
    InstrumentationScope, KeyValue, MetricData, Resource, Signal, Value,
};
use prost::Message;
use sha2::{Digest, Sha256};

/// What one traces or metrics transform did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalOutcome {
    /// Spans or data points under a Claude resource.
    pub claude_items: usize,
    /// Spans or data points of other senders the gateway changed (routing).
    pub other_items_changed: usize,
}

/// The request-wide context: configuration and the batch's tenant.
struct Ctx<'a> {
    t: &'a Transformer,
    tenant: Option<Tenant<'a>>,
}

impl<'a> Ctx<'a> {
    fn new(t: &'a Transformer, tenant: Option<&'a str>) -> Self {
        Ctx {
            t,
            tenant: Tenant::new(tenant),
        }
    }

    /// The emitter of a resource, by its `service.name`.
    fn emitter(&self, resource: Option<&Resource>) -> Option<&'a Emitter> {
        let name = resource?
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())?;
        match name {
            Value::StringValue(s) => self.t.emitter_named(s),
            _ => None,
        }
    }

    /// The content and identity policy on one attribute list (every key
    /// the tables give a class). Returns what the policy did.
    fn apply_content(&self, attrs: &mut Vec<KeyValue>, marks: &mut Redactions) {
        let mapping = &self.t.mapping;
        attrs.retain_mut(|kv| {
            let Some(class) = mapping.lookup.attribute(&kv.key).class else {
                return true;
            };
            let Some(v) = kv.value.take().and_then(|v| v.value) else {
                return true;
            };
            match mapping.settings.content.apply_value(class, v, marks) {
                Some(v) => {
                    kv.value = Some(AnyValue { value: Some(v) });
                    true
                }
                None => false,
            }
        });
    }

    /// Routing on one level of a Claude resource (or a tenant's): the
    /// sender's removed and noted.
    fn take_routing(&self, attrs: &mut Vec<KeyValue>, level: &str, requested: &mut Vec<String>) {
        attrs.retain(|kv| {
            if !gateway::is_routing(&kv.key) {
                return true;
            }
            requested.push(gateway::requested_text(level, &kv.key, &text(kv)));
            false
        });
    }

    /// The scope a Claude resource's records are routed by.
    fn route_scope(
        &self,
        scope: &mut Option<InstrumentationScope>,
        emitter: &Emitter,
        signal: Signal,
        requested: &mut Vec<String>,
    ) {
        let scope = scope.get_or_insert_with(InstrumentationScope::default);
        self.take_routing(&mut scope.attributes, "scope", requested);
        let dataset = emitter.dataset(signal);
        scope.attributes.extend([
            kv(gateway::MAPPING_MODE_ATTRIBUTE, mapping_mode(signal)),
            kv("data_stream.dataset", dataset),
            kv(
                "data_stream.namespace",
                self.t.mapping.settings.namespace(self.tenant.as_ref()),
            ),
        ]);
    }

    /// Another sender's resource and scope: under a tenant the routing is
    /// the gateway's; else only a mapping mode the exporter would refuse
    /// goes. Returns the routing requested at these levels.
    fn route_other(
        &self,
        resource: &mut Option<Resource>,
        scopes: &mut [&mut Option<InstrumentationScope>],
    ) -> Vec<String> {
        let mut requested = Vec::new();
        if self.tenant.is_none() {
            for scope in scopes.iter_mut() {
                if let Some(scope) = scope.as_mut() {
                    scope.attributes.retain(|kv| {
                        let mode = text(kv);
                        let keep = kv.key != gateway::MAPPING_MODE_ATTRIBUTE
                            || gateway::sender_may_choose(&mode);
                        if !keep {
                            requested.push(gateway::requested_text("scope", &kv.key, &mode));
                        }
                        keep
                    });
                }
            }
            return requested;
        }
        let resource = resource.get_or_insert_with(Resource::default);
        self.take_routing(&mut resource.attributes, "resource", &mut requested);
        for scope in scopes.iter_mut() {
            if let Some(scope) = scope.as_mut() {
                self.take_routing(&mut scope.attributes, "scope", &mut requested);
            }
        }
        if let Some(ns) = self
            .t
            .mapping
            .settings
            .tenant_namespace(self.tenant.as_ref())
        {
            resource.attributes.push(kv("data_stream.namespace", ns));
        }
        requested
    }
}

/// The exporter's mapping mode for a Claude scope of `signal`: spans in
/// the OTel-native shape (attributes under `attributes.*`, `name`,
/// `duration` in ns), which is what Elastic's "[Claude Code] Traces
/// Overview" reads from `traces-<product>.otel-*`; metrics as ECS documents.
fn mapping_mode(signal: Signal) -> &'static str {
    match signal {
        Signal::Traces => "otel",
        _ => "ecs",
    }
}

/// A string attribute.
fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

/// An attribute of any value.
fn kv_value(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// A string array attribute.
fn kv_strings(key: &str, values: &[String]) -> KeyValue {
    let values = (values.iter())
        .map(|s| AnyValue {
            value: Some(Value::StringValue(s.clone())),
        })
        .collect();
    kv_value(key, Value::ArrayValue(ArrayValue { values }))
}

/// An attribute's value as text (scalars as themselves, else as JSON).
fn text(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        None => String::new(),
        Some(v) => {
            super::value::scalar_text(v).unwrap_or_else(|| super::value::to_json(v).to_string())
        }
    }
}

fn find<'v>(attrs: &'v [KeyValue], key: &str) -> Option<&'v Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

/// A deterministic document id: SHA-256 of the parts, hex.
fn document_id(parts: &[&[u8]]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    gateway::lower_hex(&hash.finalize())
}

/// The per-record fields the gateway adds to a Claude span, span event or
/// data point: tenant label, the organization check, the routing the
/// sender asked for, and what the content policy did.
fn put_gateway_fields(
    ctx: &Ctx<'_>,
    emitter: &Emitter,
    attrs: &mut Vec<KeyValue>,
    requested: &[String],
    marks: &Redactions,
) {
    let mapping = &ctx.t.mapping;
    let tenant = ctx.tenant.as_ref();
    if let Some(t) = tenant.filter(|_| mapping.settings.config.tenant.set_label) {
        attrs.push(kv("labels.tenant", t.identity));
    }
    if let Some(Value::StringValue(claimed)) = find(attrs, "organization.id") {
        if !mapping.settings.may_claim(tenant, claimed) {
            add_tag(attrs, ORGANIZATION_MISMATCH_TAG);
        }
    }
    mark_overridden(attrs, requested);
    let classes = marks.classes();
    if !classes.is_empty() {
        let key = format!("{}redacted", emitter.vendor_prefix);
        attrs.push(kv_strings(&key, &classes));
    }
    if marks.secrets > 0 {
        let key = format!("{}redacted_secrets", emitter.vendor_prefix);
        let count = i64::try_from(marks.secrets).unwrap_or(i64::MAX);
        attrs.push(kv_value(&key, Value::IntValue(count)));
    }
}

/// Redactions a span, span event or data point whose routing the gateway
/// overrode ([`gateway::mark_overridden`] for these types): the requested
/// routing and the tag. Nothing when `requested` is empty.
fn mark_overridden(attrs: &mut Vec<KeyValue>, requested: &[String]) {
    if requested.is_empty() {
        return;
    }
    attrs.push(kv_strings(gateway::REQUESTED_ROUTING_FIELD, requested));
    add_tag(attrs, gateway::ROUTING_OVERRIDDEN_TAG);
}

/// Adds `tag` to the `tags` attribute, keeping what a sender put there
/// (a scalar becomes the first element), as [`gateway::add_tag`] does.
fn add_tag(attrs: &mut Vec<KeyValue>, tag: &str) {
    let tag = || AnyValue {
        value: Some(Value::StringValue(tag.to_owned())),
    };
    let Some(existing) = attrs.iter_mut().find(|kv| kv.key == "tags") else {
        attrs.push(kv_value(
            "tags",
            Value::ArrayValue(ArrayValue {
                values: vec![tag()],
            }),
        ));
        return;
    };
    let mut values = match existing.value.take().and_then(|v| v.value) {
        Some(Value::ArrayValue(a)) => a.values,
        Some(other) => vec![AnyValue { value: Some(other) }],
        None => Vec::new(),
    };
    let new = tag();
    if !values.contains(&new) {
        values.push(new);
    }
    existing.value = Some(AnyValue {
        value: Some(Value::ArrayValue(ArrayValue { values })),
    });
}

/// `related.user`: `user.email` (as the identity policy left it) and `user.id`.
fn put_related_user(attrs: &mut Vec<KeyValue>) {
    let mut users: Vec<String> = Vec::new();
    for key in ["user.email", "user.id"] {
        if let Some(Value::StringValue(u)) = find(attrs, key) {
            if !u.is_empty() && !users.contains(u) {
                users.push(u.clone());
            }
        }
    }
    if !users.is_empty() {
        attrs.push(kv_strings("related.user", &users));
    }
}

/// ECS fields of one Claude span ([`tables::SPAN_CLASSES`],
/// [`tables::SPAN_RENAMES`]).
fn put_span_fields(attrs: &mut Vec<KeyValue>, name: &str, status_unset: bool, emitter: &Emitter) {
    let span_type = match find(attrs, "span.type") {
        Some(Value::StringValue(s)) => s.clone(),
        _ => name.strip_prefix("claude_code.").unwrap_or(name).to_owned(),
    };
    let class: EventClass = (tables::SPAN_CLASSES.iter())
        .find(|(t, _)| *t == span_type)
        .map_or(tables::OTHER_SPAN, |(_, c)| *c);
    for &(from, to, conv) in tables::SPAN_RENAMES {
        if attrs.iter().any(|kv| kv.key == to) {
            continue;
        }
        // The source attribute stays as it came (the Traces Overview reads
        // `attributes.<source name>`); the ECS / GenAI field is a copy.
        let Some(value) = find(attrs, from) else {
            continue;
        };
        // The mapping's own conversions; a non-scalar is copied only as is.
        let converted = match InValue::of_scalar(value) {
            Some(scalar) => convert(&scalar, conv).ok().and_then(OutValue::into_value),
            None if conv == Conversion::Keep => Some(value.clone()),
            None => None,
        };
        if let Some(v) = converted {
            attrs.push(kv_value(to, v));
        }
    }
    let outcome = (find(attrs, "success").and_then(InValue::of_scalar)).and_then(|v| to_bool(&v));
    attrs.push(kv("ecs.version", super::ECS_VERSION));
    attrs.push(kv("event.kind", "event"));
    attrs.push(kv("event.action", &span_type));
    if let Some((category, event_type)) = class.category_type {
        attrs.push(kv_strings("event.category", &[category.to_owned()]));
        attrs.push(kv_strings("event.type", &[event_type.to_owned()]));
    }
    attrs.push(kv("event.provider", emitter.provider));
    if !attrs.iter().any(|kv| kv.key == "gen_ai.provider.name") {
        attrs.push(kv("gen_ai.provider.name", "anthropic"));
    }
    // The exporter writes event.outcome from a span's status when it has one.
    if status_unset {
        match outcome {
            Some(true) => attrs.push(kv("event.outcome", "success")),
            Some(false) => attrs.push(kv("event.outcome", "failure")),
            None if class.failure => attrs.push(kv("event.outcome", "failure")),
            None => {}
        }
    }
}

/// Transforms a protobuf `ExportTraceServiceRequest` ([`by_resource`]).
///
/// # Errors
/// [`crate::Error::Decode`] when `bytes` is not protobuf.
pub(crate) fn transform_traces(
    t: &Transformer,
    bytes: &[u8],
    tenant: Option<&str>,
) -> Result<Transformed> {
    by_resource(bytes, |resource_spans| {
        let mut request = ExportTraceServiceRequest { resource_spans };
        let outcome = traces_request(t, &mut request, tenant);
        (request.resource_spans, outcome)
    })
}

/// Decodes each resource of a traces or metrics request (field 1 of both)
/// on its own, so that one prost refuses (e.g. text that is not UTF-8) is
/// skipped, copied as it came and reported, instead of failing the batch.
/// `transform` gets the readable ones as one request's list; the output
/// keeps every resource in its place. `output` is `None` when nothing
/// changed.
fn by_resource<R: Message + Default>(
    bytes: &[u8],
    transform: impl FnOnce(Vec<R>) -> (Vec<R>, SignalOutcome),
) -> Result<Transformed> {
    const RESOURCES: u32 = 1;
    let (mut readable, mut unread) = (Vec::new(), Vec::new());
    // Each top-level field: Ok(readable index) or Err(raw bytes).
    let mut fields: Vec<std::result::Result<usize, &[u8]>> = Vec::new();
    for field in wire::fields_of(wire::Message::Request, bytes) {
        let field = field?;
        let decoded = match (field.tag, field.payload) {
            (RESOURCES, wire::Payload::Bytes(body)) => match R::decode(body) {
                Ok(r) => Some(r),
                Err(e) => {
                    let position = unread.len() + readable.len() + 1;
                    unread.push(format!("resource {position}: {e}"));
                    None
                }
            },
            _ => None,
        };
        fields.push(match decoded {
            Some(r) => {
                readable.push(r);
                Ok(readable.len() - 1)
            }
            None => Err(field.raw),
        });
    }
    let (resources, outcome) = transform(readable);
    let output = (outcome != SignalOutcome::default()).then(|| {
        let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 4);
        for field in fields {
            match field {
                Ok(i) => prost::encoding::message::encode(RESOURCES, &resources[i], &mut out),
                Err(raw) => out.extend_from_slice(raw),
            }
        }
        out
    });
    Ok(Transformed { output, unread })
}

/// [`transform_traces`] on a decoded request, in place.
pub(crate) fn traces_request(
    t: &Transformer,
    request: &mut ExportTraceServiceRequest,
    tenant: Option<&str>,
) -> SignalOutcome {
    let ctx = Ctx::new(t, tenant);
    let mut outcome = SignalOutcome::default();
    for rs in &mut request.resource_spans {
        let Some(emitter) = ctx.emitter(rs.resource.as_ref()) else {
            let mut scopes: Vec<_> = rs.scope_spans.iter_mut().map(|s| &mut s.scope).collect();
            let requested = ctx.route_other(&mut rs.resource, &mut scopes);
            if ctx.tenant.is_some() || !requested.is_empty() {
                for span in rs.scope_spans.iter_mut().flat_map(|s| &mut s.spans) {
                    let mut r = requested.clone();
                    ctx.take_routing(&mut span.attributes, "span", &mut r);
                    for event in &mut span.events {
                        ctx.take_routing(&mut event.attributes, "event", &mut r);
                    }
                    mark_overridden(&mut span.attributes, &r);
                    outcome.other_items_changed += 1;
                }
            }
            continue;
        };
        let mut requested = Vec::new();
        let resource = rs.resource.get_or_insert_with(Resource::default);
        ctx.take_routing(&mut resource.attributes, "resource", &mut requested);
        let mut resource_marks = Redactions::default();
        ctx.apply_content(&mut resource.attributes, &mut resource_marks);
        for ss in &mut rs.scope_spans {
            let mut scope_requested = requested.clone();
            ctx.route_scope(&mut ss.scope, emitter, Signal::Traces, &mut scope_requested);
            for span in &mut ss.spans {
                outcome.claude_items += 1;
                let mut span_requested = scope_requested.clone();
                let mut marks = Redactions::default();
                ctx.take_routing(&mut span.attributes, "span", &mut span_requested);
                ctx.apply_content(&mut span.attributes, &mut marks);
                let status_unset = span.status.as_ref().is_none_or(|s| s.code == 0);
                put_span_fields(&mut span.attributes, &span.name, status_unset, emitter);
                put_related_user(&mut span.attributes);
                let id = document_id(&[
                    b"cowork-ecs/span/v1",
                    emitter.provider.as_bytes(),
                    &span.trace_id,
                    &span.span_id,
                ]);
                for (i, event) in span.events.iter_mut().enumerate() {
                    let mut event_requested = Vec::new();
                    let mut event_marks = Redactions::default();
                    ctx.take_routing(&mut event.attributes, "event", &mut event_requested);
                    ctx.apply_content(&mut event.attributes, &mut event_marks);
                    let event_id = document_id(&[
                        id.as_bytes(),
                        &(i as u64).to_le_bytes(),
                        &event.time_unix_nano.to_le_bytes(),
                        event.name.as_bytes(),
                    ]);
                    event
                        .attributes
                        .push(kv(gateway::DOCUMENT_ID_ATTRIBUTE, &event_id));
                    put_gateway_fields(
                        &ctx,
                        emitter,
                        &mut event.attributes,
                        &event_requested,
                        &event_marks,
                    );
                }
                span.attributes
                    .push(kv(gateway::DOCUMENT_ID_ATTRIBUTE, &id));
                put_gateway_fields(&ctx, emitter, &mut span.attributes, &span_requested, &marks);
            }
        }
    }
    outcome
}

/// Transforms a protobuf `ExportMetricsServiceRequest` ([`by_resource`]).
///
/// # Errors
/// [`crate::Error::Decode`] when `bytes` is not protobuf.
pub(crate) fn transform_metrics(
    t: &Transformer,
    bytes: &[u8],
    tenant: Option<&str>,
) -> Result<Transformed> {
    by_resource(bytes, |resource_metrics| {
        let mut request = ExportMetricsServiceRequest { resource_metrics };
        let outcome = metrics_request(t, &mut request, tenant);
        (request.resource_metrics, outcome)
    })
}

/// The attribute lists of every data point of a metric.
fn data_point_attributes(data: &mut Option<MetricData>) -> Vec<&mut Vec<KeyValue>> {
    use MetricData as Data;
    match data {
        None => Vec::new(),
        Some(Data::Gauge(g)) => g
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::Sum(s)) => s
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::Histogram(h)) => h
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::ExponentialHistogram(h)) => h
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
        Some(Data::Summary(s)) => s
            .data_points
            .iter_mut()
            .map(|p| &mut p.attributes)
            .collect(),
    }
}

/// [`transform_metrics`] on a decoded request, in place.
pub(crate) fn metrics_request(
    t: &Transformer,
    request: &mut ExportMetricsServiceRequest,
    tenant: Option<&str>,
) -> SignalOutcome {
    let ctx = Ctx::new(t, tenant);
    let mut outcome = SignalOutcome::default();
    for rm in &mut request.resource_metrics {
        let Some(emitter) = ctx.emitter(rm.resource.as_ref()) else {
            let mut scopes: Vec<_> = rm.scope_metrics.iter_mut().map(|s| &mut s.scope).collect();
            let requested = ctx.route_other(&mut rm.resource, &mut scopes);
            if ctx.tenant.is_some() || !requested.is_empty() {
                for metric in rm.scope_metrics.iter_mut().flat_map(|s| &mut s.metrics) {
                    for attrs in data_point_attributes(&mut metric.data) {
                        let mut r = requested.clone();
                        ctx.take_routing(attrs, "data_point", &mut r);
                        mark_overridden(attrs, &r);
                        outcome.other_items_changed += 1;
                    }
                }
            }
            continue;
        };
        let mut requested = Vec::new();
        let resource = rm.resource.get_or_insert_with(Resource::default);
        ctx.take_routing(&mut resource.attributes, "resource", &mut requested);
        let mut resource_marks = Redactions::default();
        ctx.apply_content(&mut resource.attributes, &mut resource_marks);
        for sm in &mut rm.scope_metrics {
            let mut scope_requested = requested.clone();
            ctx.route_scope(
                &mut sm.scope,
                emitter,
                Signal::Metrics,
                &mut scope_requested,
            );
            for metric in &mut sm.metrics {
                for attrs in data_point_attributes(&mut metric.data) {
                    outcome.claude_items += 1;
                    let mut point_requested = scope_requested.clone();
                    let mut marks = Redactions::default();
                    ctx.take_routing(attrs, "data_point", &mut point_requested);
                    ctx.apply_content(attrs, &mut marks);
                    put_related_user(attrs);
                    put_gateway_fields(&ctx, emitter, attrs, &point_requested, &marks);
                }
            }
        }
    }
    outcome
}
