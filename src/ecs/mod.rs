//! The OTLP → ECS mapping: safe, pure, and shared by the C ABI, the CLI and
//! the tests.
//!
//! A [`Transformer`] is built once from a validated [`Config`] and is then
//! immutable, `Send + Sync`, and used concurrently without locks.

mod attrs;
pub(crate) mod content;
pub mod gateway;
mod item;
mod log;
mod metric;
mod record;
pub mod reference;
mod span;
mod tables;
mod value;
mod walk;

pub use content::SECRET_PATTERNS;

use crate::config::Config;
use crate::data_stream::{
    CLAUDE_CODE_METRICS_DATASET, CLAUDE_CODE_TRACES_DATASET, COWORK_METRICS_DATASET,
    COWORK_TRACES_DATASET,
};
use crate::error::{Error, Result};
use crate::otlp::{self, ExportLogsServiceRequest};
use content::{ContentClass, ContentPolicy};
use hashbrown::HashMap;
use record::Tenant;
use tables::{Conversion, EventClass, Slot, Target};

pub use record::ECS_VERSION;

/// A recognized emitter (mapping.md §1, first table).
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    /// `event.provider`.
    provider: &'static str,
    /// `<product>.events.`: prefix of every attribute left in the vendor prefix.
    vendor_prefix: &'static str,
    /// `data_stream.dataset` of its log records.
    dataset: String,
    /// `data_stream.dataset` of its spans (`traces-<dataset>-<namespace>`).
    traces_dataset: &'static str,
    /// `data_stream.dataset` of its metrics (`metrics-<dataset>-<namespace>`).
    metrics_dataset: &'static str,
    /// Resource `service.name` values that identify it.
    service_names: Vec<String>,
}

impl Emitter {
    /// `data_stream.dataset` of its data of one signal.
    fn dataset(&self, signal: otlp::Signal) -> &str {
        match signal {
            otlp::Signal::Logs => &self.dataset,
            otlp::Signal::Traces => self.traces_dataset,
            otlp::Signal::Metrics => self.metrics_dataset,
        }
    }
}

/// How one attribute key is mapped.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AttributeRule {
    /// A row of [`tables::RENAMES`].
    Targets(&'static [Target]),
    /// Kept under the vendor prefix with this conversion.
    Vendor(Conversion),
}

/// Everything the tables say about one attribute key, found with one lookup.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttributeLookup {
    /// Where its value goes.
    pub(crate) rule: AttributeRule,
    /// Its content class, if it carries content (mapping.md §5).
    pub(crate) class: Option<ContentClass>,
    /// Its slot, when a rule reads it by name.
    pub(crate) slot: Option<Slot>,
    /// Whether the exporter reads it as routing ([`gateway::ROUTING_ATTRIBUTES`]).
    pub(crate) routing: bool,
}

/// An attribute no table names: kept as sent under the vendor prefix.
const UNLISTED: AttributeLookup = AttributeLookup {
    rule: AttributeRule::Vendor(Conversion::Keep),
    class: None,
    slot: None,
    routing: false,
};

/// The configured mapping: the tables indexed for lookup ([`Lookup`]) and
/// the per-configuration settings ([`Settings`]).
#[derive(Debug)]
pub(crate) struct Mapping {
    lookup: Lookup,
    settings: Settings,
}

/// The mapping's tables indexed for lookup: the same for every configuration.
#[derive(Debug)]
pub(crate) struct Lookup {
    events: HashMap<&'static str, EventClass>,
    attributes: HashMap<&'static str, AttributeLookup>,
}

/// What the configuration decides: the compiled content policy, and the
/// configuration itself (read where a rule uses a key, so a new key is no
/// edit here).
#[derive(Debug)]
pub(crate) struct Settings {
    content: ContentPolicy,
    config: Config,
}

impl Mapping {
    fn new(config: &Config, hmac_key: Option<Vec<u8>>) -> Result<Mapping> {
        let content = ContentPolicy::new(ContentClass::ALL.map(|c| config.action(c)), hmac_key)
            .map_err(|e| Error::config("content", format!("secret patterns: {e}")))?;
        Ok(Mapping {
            lookup: Lookup::new(),
            settings: Settings {
                content,
                config: config.clone(),
            },
        })
    }
}

impl Lookup {
    fn new() -> Lookup {
        let mut attributes: HashMap<&'static str, AttributeLookup> = HashMap::new();
        let mapping =
            (tables::VENDOR_TYPES.iter()).map(|&(k, conv)| (k, AttributeRule::Vendor(conv)));
        let renames = (tables::RENAMES.iter()).map(|&(k, t)| (k, AttributeRule::Targets(t)));
        for (key, rule) in mapping.chain(renames) {
            attributes.insert(
                key,
                AttributeLookup {
                    rule,
                    class: None,
                    slot: None,
                    routing: false,
                },
            );
        }
        for &(key, class) in tables::CONTENT_ATTRIBUTES {
            attributes.entry(key).or_insert(UNLISTED).class = Some(class);
        }
        for slot in Slot::ALL {
            attributes.entry(slot.key()).or_insert(UNLISTED).slot = Some(slot);
        }
        for &key in gateway::ROUTING_ATTRIBUTES {
            attributes.entry(key).or_insert(UNLISTED).routing = true;
        }
        Lookup {
            events: tables::EVENT_CLASSES.iter().copied().collect(),
            attributes,
        }
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

impl Settings {
    /// The tenant's namespace, when the configuration routes by tenant.
    fn tenant_namespace<'t>(&self, tenant: Option<&'t Tenant<'_>>) -> Option<&'t str> {
        (tenant.filter(|_| self.config.tenant.set_namespace)).and_then(|t| t.namespace.as_deref())
    }

    /// `data_stream.namespace` of a Claude record: the tenant's, else the
    /// configured one.
    fn namespace<'s>(&'s self, tenant: Option<&'s Tenant<'_>>) -> &'s str {
        self.tenant_namespace(tenant)
            .unwrap_or(&self.config.namespace)
    }

    /// Whether `tenant` may claim `organization.id` `claimed` (always, when
    /// `tenants` is empty: no check).
    fn may_claim(&self, tenant: Option<&Tenant<'_>>, claimed: &str) -> bool {
        let tenants = &self.config.tenants;
        tenants.is_empty()
            || (tenant.and_then(|t| tenants.get(t.identity)))
                .is_some_and(|orgs| orgs.iter().any(|o| o == claimed))
    }
}

/// What one transform did, counted in items: log records, spans (their
/// events go with them) or metric data points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Items normalized (those under a Claude resource).
    pub claude_items: usize,
    /// Of those, items marked `event.kind: pipeline_error` (mapping.md §4:
    /// a value that did not convert, a bound, text that was not UTF-8).
    pub pipeline_errors: usize,
    /// Items not under a Claude resource (mapping.md §3): left as they
    /// are unless the gateway had to re-route or bound them.
    pub other_items: usize,
    /// Of those, items the gateway changed: routing a sender may not set
    /// removed (tenant namespace set), values bounded, or text that was not
    /// UTF-8 read lossily ([`gateway`]).
    pub other_items_changed: usize,
}

/// The configured mapping. Immutable after [`Transformer::new`]; share it
/// freely across threads.
#[derive(Debug)]
pub struct Transformer {
    cowork: Emitter,
    claude_code: Emitter,
    mapping: Mapping,
}

impl Transformer {
    /// Builds a transformer from a configuration, validating it first.
    ///
    /// # Errors
    /// [`crate::Error::ConfigInvalid`] when [`Config::validate`] refuses it.
    pub fn new(config: &Config) -> Result<Transformer> {
        let hmac_key = config.validated_hmac_key()?;
        Ok(Transformer {
            cowork: Emitter {
                provider: "claude-cowork",
                vendor_prefix: "claude_cowork.events.",
                dataset: config.cowork.dataset.clone(),
                traces_dataset: COWORK_TRACES_DATASET,
                metrics_dataset: COWORK_METRICS_DATASET,
                service_names: config.cowork.service_names.clone(),
            },
            claude_code: Emitter {
                provider: "claude-code",
                vendor_prefix: "claude_code.events.",
                dataset: config.claude_code.dataset.clone(),
                traces_dataset: CLAUDE_CODE_TRACES_DATASET,
                metrics_dataset: CLAUDE_CODE_METRICS_DATASET,
                service_names: config.claude_code.service_names.clone(),
            },
            mapping: Mapping::new(config, hmac_key)?,
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

    /// The emitter whose `service.name` this is (mapping.md §1).
    fn emitter_named(&self, service_name: &str) -> Option<&Emitter> {
        [&self.cowork, &self.claude_code]
            .into_iter()
            .find(|e| e.service_names.iter().any(|s| s == service_name))
    }

    /// Normalizes every Claude record of a logs request in place (mapping.md §2
    /// and 4) and leaves every other record as it is (mapping.md §3), for a batch
    /// whose sender was authenticated as `tenant` (`None`: no identity; the
    /// identity the receiver established, never a value from the
    /// telemetry). Per the `tenant` configuration the identity sets
    /// `data_stream.namespace` (sanitized) and `labels.tenant`, and
    /// `tenants` checks the `organization.id` the records claim. Never
    /// drops a record and never fails: problems inside a record mark that
    /// record.
    ///
    /// This is [`Transformer::transform`] on the request's encoding (the
    /// transform works on protobuf bytes), for callers holding decoded
    /// requests (OTLP/JSON, tests).
    pub fn transform_logs_request(
        &self,
        request: &mut ExportLogsServiceRequest,
        tenant: Option<&str>,
    ) -> Outcome {
        self.transform_decoded(otlp::Signal::Logs, request, tenant)
    }

    /// [`Transformer::transform`] of traces on a decoded request, in place.
    pub fn transform_traces_request(
        &self,
        request: &mut otlp::ExportTraceServiceRequest,
        tenant: Option<&str>,
    ) -> Outcome {
        self.transform_decoded(otlp::Signal::Traces, request, tenant)
    }

    /// [`Transformer::transform`] of metrics on a decoded request, in place.
    pub fn transform_metrics_request(
        &self,
        request: &mut otlp::ExportMetricsServiceRequest,
        tenant: Option<&str>,
    ) -> Outcome {
        self.transform_decoded(otlp::Signal::Metrics, request, tenant)
    }

    /// [`Transformer::transform`] on a decoded request of `signal`: encoded,
    /// transformed, decoded again in place.
    fn transform_decoded<R: prost::Message + Default>(
        &self,
        signal: otlp::Signal,
        request: &mut R,
        tenant: Option<&str>,
    ) -> Outcome {
        let bytes = request.encode_to_vec();
        // A request prost encoded is protobuf, and what the transform writes
        // prost reads (tests/gateway.rs): neither fallback is expected.
        match walk::transform(self, signal, &bytes, tenant) {
            Ok(done) => {
                if let Some(out) = done.output {
                    if let Ok(decoded) = R::decode(out.as_slice()) {
                        *request = decoded;
                    }
                }
                done.outcome
            }
            Err(_) => Outcome::default(),
        }
    }
}

/// What [`Transformer::transform`] made of one request.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transformed {
    /// The new request as protobuf bytes; `None` when nothing changed (no
    /// Claude item, nothing the gateway had to change): keep the input.
    pub output: Option<Vec<u8>>,
    /// The resources that could not be read, one line each (which one, and
    /// why). Each is in the output as it came; whether such a batch may pass
    /// is the caller's error policy (the Go processor's `error_mode`, and
    /// failing closed under a tenant or a content policy).
    pub unread: Vec<String>,
    /// What was done.
    pub outcome: Outcome,
}

impl Transformer {
    /// Transforms one protobuf request of `signal` (an
    /// `ExportLogsServiceRequest`, `ExportTraceServiceRequest` or
    /// `ExportMetricsServiceRequest`) from a sender authenticated as
    /// `tenant` (`None`: no identity), in one walk over its bytes (`walk`).
    /// A resource that cannot be read is skipped (copied as it came) and
    /// reported in [`Transformed::unread`].
    ///
    /// # Errors
    /// [`crate::Error::Decode`] when `bytes` is not a protobuf request at
    /// all (its resources cannot be told apart).
    pub fn transform(
        &self,
        signal: otlp::Signal,
        bytes: &[u8],
        tenant: Option<&str>,
    ) -> Result<Transformed> {
        Ok(walk::transform(self, signal, bytes, tenant)?)
    }
}

/// Claude scopes get `ecs` here ([`gateway::MAPPING_MODE_ATTRIBUTE`]), so
/// their records become ECS documents routed to `logs-<dataset>-<namespace>`,
/// while other telemetry in the same gateway keeps the exporter's default mode.
pub use gateway::MAPPING_MODE_ATTRIBUTE;

// The C ABI hands one transformer to many threads at once.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Transformer>();
};
