//! The OTLP → ECS mapping: safe, pure, and shared by the C ABI, the CLI and
//! the tests.
//!
//! A [`Transformer`] is built once from a validated [`Config`] and is then
//! immutable, `Send + Sync`, and used concurrently without locks.

mod content;
mod record;
mod tables;
mod value;

pub use content::{ContentAction, SECRET_PATTERNS};

use crate::config::{Config, TenantConfig};
use crate::error::{Error, Result};
use crate::otlp::{
    self, AnyValue, ExportLogsServiceRequest, InstrumentationScope, KeyValue, Resource, ScopeLogs,
    Value,
};
use content::{ContentClass, ContentPolicy};
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
    /// Records left untouched (not under a Claude resource, SPEC section 3).
    pub other_records: usize,
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
        let tenant = tenant
            .filter(|t| !t.trim().is_empty())
            .map(|identity| record::Tenant {
                identity,
                namespace: sanitize_namespace(identity),
            });
        let mut outcome = Outcome::default();
        for resource_logs in &mut request.resource_logs {
            let Some(emitter) = self.emitter_of(resource_logs.resource.as_ref()) else {
                outcome.other_records += (resource_logs.scope_logs.iter())
                    .map(|s| s.log_records.len())
                    .sum::<usize>();
                continue;
            };
            for scope_logs in &mut resource_logs.scope_logs {
                mark_ecs_mapping_mode(scope_logs);
                for record in &mut scope_logs.log_records {
                    outcome.claude_records += 1;
                    if record::normalize(record, emitter, &self.rules, tenant.as_ref()) {
                        outcome.pipeline_errors += 1;
                    }
                }
            }
        }
        outcome
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
        let mut request = otlp::decode(bytes)?;
        let outcome = self.transform_request_as(&mut request, tenant);
        Ok((outcome.claude_records > 0).then(|| otlp::encode(&request)))
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

/// Scope attribute the collector's `elasticsearch` exporter reads to pick its
/// document mapping per scope (its `mapping::mode` setting is ignored since
/// exporter v0.145.0). Claude scopes get `ecs`, so their records become ECS
/// documents routed to `logs-<dataset>-<namespace>`, while other telemetry
/// in the same gateway keeps the exporter's default mode.
pub const MAPPING_MODE_ATTRIBUTE: &str = "elastic.mapping.mode";

fn mark_ecs_mapping_mode(scope_logs: &mut ScopeLogs) {
    let scope = scope_logs
        .scope
        .get_or_insert_with(InstrumentationScope::default);
    let value = Some(AnyValue {
        value: Some(Value::StringValue("ecs".to_owned())),
    });
    match scope
        .attributes
        .iter_mut()
        .find(|kv| kv.key == MAPPING_MODE_ATTRIBUTE)
    {
        Some(kv) => kv.value = value,
        None => scope.attributes.push(KeyValue {
            key: MAPPING_MODE_ATTRIBUTE.to_owned(),
            value,
            ..KeyValue::default()
        }),
    }
}

// The C ABI hands one transformer to many threads at once.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Transformer>();
};
