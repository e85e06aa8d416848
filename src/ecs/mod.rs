//! The OTLP → ECS mapping: safe, pure, and shared by the C ABI, the CLI and
//! the tests.
//!
//! A [`Transformer`] is built once from a validated [`Config`] and is then
//! immutable, `Send + Sync`, and used concurrently without locks.

mod content;
pub mod gateway;
mod record;
mod tables;
mod value;

pub use content::{ContentAction, SECRET_PATTERNS};

use crate::config::{Config, TenantConfig};
use crate::error::{Error, Result};
use crate::otlp::{
    self, ExportLogsServiceRequest, InstrumentationScope, KeyValue, RepairSite, Resource,
    ResourceLogs, Value,
};
use content::{ContentClass, ContentPolicy};
use gateway::{BOUNDED_TAG, INVALID_UTF8_TAG};
use std::collections::BTreeMap;
use std::collections::HashMap;
use tables::{Conv, EventClass, Target};

pub use record::ECS_VERSION;

/// A recognized emitter (SPEC section 1, first table).
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    /// `event.provider`.
    provider: &'static str,
    /// `<product>.events.`: prefix of every attribute left in the vendor namespace.
    vendor_prefix: &'static str,
    /// `data_stream.dataset`.
    dataset: String,
    /// Resource `service.name` values that identify it.
    service_names: Vec<String>,
}

/// How one attribute key is mapped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttributeRule {
    /// A row of [`tables::RENAMES`].
    Targets(&'static [Target]),
    /// Kept under the vendor namespace with this conversion.
    Vendor(Conv),
}

/// Everything the tables say about one attribute key, found with one lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttributeLookup {
    /// Where its value goes.
    pub(crate) rule: AttributeRule,
    /// Its content class, if it carries content (SPEC 5).
    pub(crate) class: Option<ContentClass>,
}

/// An attribute no table names: kept as sent under the vendor namespace.
const UNLISTED: AttributeLookup = AttributeLookup {
    rule: AttributeRule::Vendor(Conv::Keep),
    class: None,
};

/// The tables indexed for lookup, plus the per-configuration settings.
#[derive(Debug)]
pub(crate) struct Rules {
    events: HashMap<&'static str, EventClass>,
    attributes: HashMap<&'static str, AttributeLookup>,
    content: ContentPolicy,
    namespace: String,
    preserve_original: bool,
    tenant: TenantConfig,
    tenants: BTreeMap<String, Vec<String>>,
}

impl Rules {
    fn new(config: &Config) -> Result<Rules> {
        let mut attributes: HashMap<&'static str, AttributeLookup> = HashMap::new();
        let rules =
            (tables::VENDOR_TYPES.iter()).map(|&(k, conv)| (k, AttributeRule::Vendor(conv)));
        let renames = (tables::RENAMES.iter()).map(|&(k, t)| (k, AttributeRule::Targets(t)));
        for (key, rule) in rules.chain(renames) {
            attributes.insert(key, AttributeLookup { rule, class: None });
        }
        for &(key, class) in tables::CONTENT_ATTRIBUTES {
            attributes.entry(key).or_insert(UNLISTED).class = Some(class);
        }
        let content = ContentPolicy::new(config.content.actions(), config.content.hmac_key()?)
            .map_err(|e| Error::config("content", format!("secret patterns: {e}")))?;
        Ok(Rules {
            events: tables::EVENT_CLASSES.iter().copied().collect(),
            attributes,
            content,
            namespace: config.namespace.clone(),
            preserve_original: config.preserve_original,
            tenant: config.tenant.clone(),
            tenants: config.tenants.clone(),
        })
    }

    fn event_class(&self, name: &str) -> EventClass {
        self.events
            .get(name)
            .copied()
            .unwrap_or(tables::OTHER_EVENT)
    }

    fn attribute(&self, key: &str) -> AttributeLookup {
        self.attributes.get(key).copied().unwrap_or(UNLISTED)
    }
}

/// What one call of [`Transformer::transform_request`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records normalized (those under a Claude resource).
    pub claude_records: usize,
    /// Of those, records marked `event.kind: pipeline_error` (SPEC section 4).
    pub pipeline_errors: usize,
    /// Records not under a Claude resource (SPEC section 3): left as they
    /// are unless the gateway had to re-route or bound them.
    pub other_records: usize,
    /// Of those, records the gateway changed: routing a sender may not set
    /// removed (tenant namespace set), values bounded, or text that was not
    /// UTF-8 read lossily ([`gateway`]).
    pub other_records_changed: usize,
}

/// The configured mapping. Immutable after [`Transformer::new`]; share it
/// freely across threads.
#[derive(Debug)]
pub struct Transformer {
    cowork: Emitter,
    claude_code: Emitter,
    rules: Rules,
}

impl Transformer {
    /// Builds a transformer from a configuration, validating it first.
    ///
    /// # Errors
    /// [`crate::Error::ConfigInvalid`] when [`Config::validate`] refuses it.
    pub fn new(config: &Config) -> Result<Transformer> {
        config.validate()?;
        Ok(Transformer {
            cowork: Emitter {
                provider: "claude-cowork",
                vendor_prefix: "claude_cowork.events.",
                dataset: config.cowork.dataset.clone(),
                service_names: config.cowork.service_names.clone(),
            },
            claude_code: Emitter {
                provider: "claude-code",
                vendor_prefix: "claude_code.events.",
                dataset: config.claude_code.dataset.clone(),
                service_names: config.claude_code.service_names.clone(),
            },
            rules: Rules::new(config)?,
        })
    }

    /// Builds a transformer from the JSON configuration ([`Config::from_json`]).
    ///
    /// # Errors
    /// As [`Config::from_json`].
    pub fn from_json_config(config: &[u8]) -> Result<Transformer> {
        // Transformer::new validates; parse without validating twice.
        Transformer::new(&Config::parse(config)?)
    }

    /// The emitter a resource belongs to, by its `service.name` (SPEC 1).
    fn emitter_of(&self, resource: Option<&Resource>) -> Option<&Emitter> {
        let service = resource?
            .attributes
            .iter()
            .find(|kv| kv.key == "service.name")?;
        let Some(Value::StringValue(name)) = service.value.as_ref()?.value.as_ref() else {
            return None;
        };
        [&self.cowork, &self.claude_code]
            .into_iter()
            .find(|e| e.service_names.iter().any(|s| s == name))
    }

    /// Normalizes every Claude record of the request in place (SPEC 2 and 4)
    /// and leaves every other record as it is (SPEC 3). Never drops a record
    /// and never fails: problems inside a record mark that record.
    pub fn transform_request(&self, request: &mut ExportLogsServiceRequest) -> Outcome {
        self.transform_request_as(request, None)
    }

    /// [`Transformer::transform_request`] for a batch whose sender was
    /// authenticated as `tenant` (the identity the receiver established, never
    /// a value from the telemetry). Per the `tenant` configuration the
    /// identity sets `data_stream.namespace` (sanitized) and `labels.tenant`,
    /// and `tenants` checks the `organization.id` the records claim.
    pub fn transform_request_as(
        &self,
        request: &mut ExportLogsServiceRequest,
        tenant: Option<&str>,
    ) -> Outcome {
        self.transform_request_at(request, tenant, &[])
    }

    /// [`Transformer::transform_request_as`], with the places the decoder
    /// repaired ([`otlp::decode_lossy`]: text that was not UTF-8, values
    /// nested too deep): those Claude records are marked `pipeline_error`,
    /// others tagged.
    fn transform_request_at(
        &self,
        request: &mut ExportLogsServiceRequest,
        tenant: Option<&str>,
        repairs: &[RepairSite],
    ) -> Outcome {
        let tenant = tenant
            .filter(|t| !t.trim().is_empty())
            .map(|identity| record::Tenant {
                identity,
                namespace: sanitize_namespace(identity),
            });
        let mut outcome = Outcome::default();
        for (index, resource_logs) in request.resource_logs.iter_mut().enumerate() {
            let sites: Vec<RepairSite> = (repairs.iter())
                .filter(|s| s.resource == index)
                .copied()
                .collect();
            match self.emitter_of(resource_logs.resource.as_ref()) {
                Some(emitter) => {
                    self.transform_claude(
                        resource_logs,
                        emitter,
                        tenant.as_ref(),
                        &sites,
                        &mut outcome,
                    );
                }
                None => self.guard_other(resource_logs, tenant.as_ref(), &sites, &mut outcome),
            }
        }
        outcome
    }

    /// Normalizes every record of a Claude resource; the routing is the
    /// gateway's at every level ([`gateway`]).
    fn transform_claude(
        &self,
        resource_logs: &mut ResourceLogs,
        emitter: &Emitter,
        tenant: Option<&record::Tenant<'_>>,
        sites: &[RepairSite],
        outcome: &mut Outcome,
    ) {
        let ResourceLogs {
            resource,
            scope_logs,
            ..
        } = resource_logs;
        let resource = resource.get_or_insert_with(Resource::default);
        let mut requested = Vec::new();
        gateway::take_routing(&mut resource.attributes, "resource", &mut requested);
        let level_errors: Vec<String> = bound_level(&mut resource.attributes, "resource", 0)
            .into_iter()
            .collect();
        let id_base = gateway::document_id_base(emitter.provider, &resource.attributes);
        for (s, scope_logs) in scope_logs.iter_mut().enumerate() {
            let scope = scope_logs
                .scope
                .get_or_insert_with(InstrumentationScope::default);
            let mut scope_requested = requested.clone();
            gateway::take_routing(&mut scope.attributes, "scope", &mut scope_requested);
            let mut scope_errors = level_errors.clone();
            scope_errors.extend(bound_level(&mut scope.attributes, "scope", 0));
            gateway::set_attribute(
                &mut scope.attributes,
                MAPPING_MODE_ATTRIBUTE,
                value::string("ecs"),
            );
            for (r, record) in scope_logs.log_records.iter_mut().enumerate() {
                outcome.claude_records += 1;
                let mut record_requested = scope_requested.clone();
                gateway::note_routing(&record.attributes, "record", &mut record_requested);
                let name = record::event_name(record, &record.attributes);
                let id = gateway::document_id(&id_base, record, &name);
                let mut notes = record::Notes {
                    errors: scope_errors.clone(),
                    tags: Vec::new(),
                };
                let rules = &self.rules;
                let overflow = gateway::bound_attributes(&mut record.attributes, 2, |k| {
                    rules.attribute(k).class.is_some()
                });
                let overflow_field = (!overflow.is_empty())
                    .then(|| format!("{}{}", emitter.vendor_prefix, gateway::OVERFLOW_ATTRIBUTE));
                if let Some(field) = &overflow_field {
                    notes.errors.push(overflow.reason(field));
                    notes.tags.push(BOUNDED_TAG.to_owned());
                }
                if gateway::bound_body(record) {
                    notes.errors.push(format!(
                        "body nested deeper than {} levels kept as JSON text",
                        gateway::MAX_FIELD_DEPTH
                    ));
                    notes.tags.push(BOUNDED_TAG.to_owned());
                }
                for site in sites.iter().filter(|site| site.covers(s, r)) {
                    let (why, tag) = repair_note(site.repair);
                    if !notes.tags.iter().any(|t| t == tag) {
                        notes.errors.push(why.to_owned());
                        notes.tags.push(tag.to_owned());
                    }
                }
                if record::normalize(record, &name, emitter, &self.rules, tenant, &notes) {
                    outcome.pipeline_errors += 1;
                }
                if let Some(field) = &overflow_field {
                    let text = value::string(overflow.to_text());
                    gateway::set_attribute(&mut record.attributes, field, text);
                }
                gateway::mark_overridden(&mut record.attributes, &record_requested);
                gateway::set_attribute(
                    &mut record.attributes,
                    gateway::DOCUMENT_ID_ATTRIBUTE,
                    value::string(id),
                );
            }
        }
    }

    /// A resource that is not Claude's passes as it is, except what the
    /// gateway owns ([`gateway`]): under an authenticated tenant every
    /// routing attribute is removed and the tenant's namespace set; without
    /// one, only a scope mapping mode the exporter would refuse is removed.
    /// Values Elasticsearch would refuse are bounded.
    fn guard_other(
        &self,
        resource_logs: &mut ResourceLogs,
        tenant: Option<&record::Tenant<'_>>,
        sites: &[RepairSite],
        outcome: &mut Outcome,
    ) {
        let ResourceLogs {
            resource,
            scope_logs,
            ..
        } = resource_logs;
        let mut requested = Vec::new();
        let mut bounded = false;
        if let Some(resource) = resource.as_mut() {
            if let Some(t) = tenant {
                gateway::take_routing(&mut resource.attributes, "resource", &mut requested);
                let namespace = t
                    .namespace
                    .as_deref()
                    .filter(|_| self.rules.tenant.set_namespace);
                if let Some(ns) = namespace {
                    gateway::set_attribute(
                        &mut resource.attributes,
                        "data_stream.namespace",
                        value::string(ns),
                    );
                }
            }
            bounded |= bound_level(&mut resource.attributes, "resource", 2).is_some();
        }
        for (s, scope_logs) in scope_logs.iter_mut().enumerate() {
            let mut scope_requested = requested.clone();
            let mut scope_bounded = bounded;
            if let Some(scope) = scope_logs.scope.as_mut() {
                if tenant.is_some() {
                    gateway::take_routing(&mut scope.attributes, "scope", &mut scope_requested);
                } else {
                    gateway::take_unknown_mapping_mode(&mut scope.attributes, &mut scope_requested);
                }
                scope_bounded |= bound_level(&mut scope.attributes, "scope", 2).is_some();
            }
            for (r, record) in scope_logs.log_records.iter_mut().enumerate() {
                outcome.other_records += 1;
                let mut record_requested = scope_requested.clone();
                if tenant.is_some() {
                    gateway::take_routing(&mut record.attributes, "record", &mut record_requested);
                }
                let mut changed = tenant.is_some();
                let overflow = gateway::bound_attributes(&mut record.attributes, 2, |_| false);
                let record_bounded =
                    scope_bounded | gateway::bound_body(record) | !overflow.is_empty();
                if !overflow.is_empty() {
                    let field = format!("cowork_ecs.{}", gateway::OVERFLOW_ATTRIBUTE);
                    gateway::set_attribute(
                        &mut record.attributes,
                        &field,
                        value::string(overflow.to_text()),
                    );
                }
                if record_bounded {
                    gateway::add_tag(&mut record.attributes, BOUNDED_TAG);
                    changed = true;
                }
                for site in sites.iter().filter(|site| site.covers(s, r)) {
                    gateway::add_tag(&mut record.attributes, repair_note(site.repair).1);
                    changed = true;
                }
                if !record_requested.is_empty() {
                    gateway::mark_overridden(&mut record.attributes, &record_requested);
                    changed = true;
                }
                outcome.other_records_changed += usize::from(changed);
            }
        }
    }

    /// Transforms a protobuf `ExportLogsServiceRequest`. Returns `None` when
    /// the batch holds no Claude record (nothing changed: the caller keeps its
    /// input), else the transformed request as protobuf bytes.
    ///
    /// # Errors
    /// [`crate::Error::Decode`] when `bytes` is not such a protobuf.
    pub fn transform_protobuf(&self, bytes: &[u8]) -> Result<Option<Vec<u8>>> {
        self.transform_protobuf_as(bytes, None)
    }

    /// [`Transformer::transform_protobuf`] for a batch from an authenticated
    /// sender ([`Transformer::transform_request_as`]).
    ///
    /// # Errors
    /// [`crate::Error::Decode`] when `bytes` is not such a protobuf.
    pub fn transform_protobuf_as(
        &self,
        bytes: &[u8],
        tenant: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        let (mut request, repairs) = otlp::decode_lossy(bytes)?;
        let outcome = self.transform_request_at(&mut request, tenant, &repairs);
        let changed = outcome.claude_records > 0 || outcome.other_records_changed > 0;
        Ok((changed || !repairs.is_empty()).then(|| otlp::encode(&request)))
    }
}

/// An identity as a `data_stream.namespace`: lowercase, the characters
/// Elasticsearch forbids (`-`, space, `\ / * ? " < > | , # :`) replaced by
/// `_`, no leading `_ + .`, at most 100 bytes. `None` if nothing is left.
pub fn sanitize_namespace(identity: &str) -> Option<String> {
    let mut s: String = identity
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| {
            if "-\\/*?\"<>|,#: ".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = s.trim_start_matches(['_', '+', '.']).len();
    s.drain(..s.len() - trimmed);
    while s.len() > 100 {
        s.pop();
    }
    (!s.is_empty()).then_some(s)
}

/// Claude scopes get `ecs` here ([`gateway::MAPPING_MODE_ATTRIBUTE`]), so
/// their records become ECS documents routed to `logs-<dataset>-<namespace>`,
/// while other telemetry in the same gateway keeps the exporter's default mode.
pub use gateway::MAPPING_MODE_ATTRIBUTE;

/// `error.message` part and tag of a [`otlp::Repair`].
fn repair_note(repair: otlp::Repair) -> (&'static str, &'static str) {
    match repair {
        otlp::Repair::InvalidUtf8 => (
            "text that is not valid UTF-8 was read with U+FFFD replacement characters",
            INVALID_UTF8_TAG,
        ),
        otlp::Repair::TooDeep => (
            "a value nested deeper than the gateway reads was kept as JSON text",
            BOUNDED_TAG,
        ),
    }
}

/// Bounds a resource's or scope's attributes below a prefix of
/// `prefix_depth` segments (0: the top of an ECS document; 2:
/// `resource.attributes.` / `scope.attributes.` in the exporter's OTel
/// mode). What moved goes to `cowork_ecs.<level>_attributes_overflow`;
/// returns the reason, for the records below, when anything did.
fn bound_level(attrs: &mut Vec<KeyValue>, level: &str, prefix_depth: usize) -> Option<String> {
    let overflow = gateway::bound_attributes(attrs, prefix_depth, |_| false);
    if overflow.is_empty() {
        return None;
    }
    let field = format!("cowork_ecs.{level}_{}", gateway::OVERFLOW_ATTRIBUTE);
    gateway::set_attribute(attrs, &field, value::string(overflow.to_text()));
    Some(format!("{level}: {}", overflow.reason(&field)))
}

// The C ABI hands one transformer to many threads at once.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Transformer>();
};
