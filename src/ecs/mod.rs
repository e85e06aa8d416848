//! The OTLP → ECS mapping: safe, pure, and shared by the C ABI, the CLI and
//! the tests. This file is its public front only: [`Transformer`], what a
//! transform returns ([`Transformed`], [`Outcome`]), and the constants a
//! caller may need ([`gateway`]).
//!
//! A [`Transformer`] is built once from a validated [`Config`] and is then
//! immutable, `Send + Sync`, and used concurrently without locks.
//!
//! Layers, each importing only those below it:
//! - `stream`: the walk of a request (any signal) down to its items;
//! - `map`: each kind of item (log record, span, data point) over the
//!   state of one walk, and the rules every item shares;
//! - `rules`: the mapping as data (tables, emitters) indexed with the
//!   configuration;
//! - `policy`: what the gateway decides (content, routing, bounds,
//!   identity);
//! - `model`: attributes and values as read and written.

mod map;
mod model;
mod policy;
pub mod reference;
mod rules;
mod seals;
mod stream;

pub use seals::SEAL_SERVICE_NAME;

pub use map::record::ECS_VERSION;
pub use policy::content::SECRET_PATTERNS;

use crate::config::Config;
use crate::error::Result;
use crate::otlp::{self, ExportLogsServiceRequest};
use rules::lookup::Mapping;

/// What the gateway owns whatever a sender writes, as constants a caller
/// may need (README "Delivery guarantee", "Routing is the gateway's",
/// "Bounds"): the routing attributes, the tags, the limits.
pub mod gateway {
    pub use super::policy::bounds::{
        ATTRIBUTE_PREFIX_DEPTH, BOUNDED_TAG, INVALID_UTF8_TAG, MAX_FIELD_DEPTH, MAX_FIELDS,
        MAX_VALUE_MESSAGES, OVERFLOW_ATTRIBUTE,
    };
    pub use super::policy::routing::{
        DOCUMENT_ID_ATTRIBUTE, MAPPING_MODE_ATTRIBUTE, REQUESTED_ROUTING_FIELD, ROUTING_ATTRIBUTES,
        ROUTING_OVERRIDDEN_TAG, SENDER_MAPPING_MODES,
    };
}

pub use map::outcome::Outcome;

/// The configured mapping. Immutable after [`Transformer::new`]; share it
/// freely across threads.
#[derive(Debug)]
pub struct Transformer {
    mapping: Mapping,
    /// With a signing key: the chain that seals the Claude log records of
    /// every logs request ([`crate::seal`]).
    sealer: Option<crate::seal::Sealer>,
}

impl Transformer {
    /// Builds a transformer from a configuration, validating it first.
    ///
    /// # Errors
    /// [`crate::Error::ConfigInvalid`] when [`Config::validate`] refuses it.
    pub fn new(config: &Config) -> Result<Transformer> {
        let hmac_key = config.validated_hmac_key()?;
        Ok(Transformer {
            mapping: Mapping::new(config, hmac_key, config.signing.signer()?)?,
            sealer: config.signing.sealer(now())?,
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
        match self.transform(signal, &bytes, tenant) {
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
    /// The Claude log records the request's seal lists (sealing on: a
    /// signing key and a logs request); the seal itself is at the end of
    /// [`Transformed::output`].
    pub sealed: Vec<crate::seal::SealedItem>,
    /// The field groups of the records' resources
    /// ([`crate::seal::FIELD_GROUPS`]), which [`crate::seal::SealedItem::group`]
    /// indexes.
    pub seal_groups: Vec<String>,
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
        let done = self.transform_unsettled(signal, bytes, tenant)?;
        self.settle_seal(true);
        Ok(done)
    }

    /// [`Transformer::transform`], leaving the request's seal (if it has
    /// one: sealing on and Claude log records in it) pending: the caller
    /// writes the output, then calls [`Transformer::settle_seal`] with
    /// whether it was written, before the next sealed request. The Go
    /// processor holds a lock from this call to the settlement.
    ///
    /// # Errors
    /// As [`Transformer::transform`]; [`crate::Error::Seal`] when a seal
    /// is still pending.
    pub fn transform_unsettled(
        &self,
        signal: otlp::Signal,
        bytes: &[u8],
        tenant: Option<&str>,
    ) -> Result<Transformed> {
        // Only logs requests are sealed (their seal is a log record).
        let seal_id = (self.sealer.as_ref())
            .filter(|_| signal == otlp::Signal::Logs)
            .map(crate::seal::Sealer::next_seal_id);
        let mut done = stream::transform(&self.mapping, signal, bytes, tenant, seal_id.as_deref())?;
        if let (Some(sealer), false) = (&self.sealer, done.sealed.is_empty()) {
            let groups: Vec<&str> = done.seal_groups.iter().map(String::as_str).collect();
            let fields = sealer
                .seal(&done.sealed, &groups, crate::seal::SealKind::Batch, now())
                .map_err(crate::Error::Seal)?;
            let output = done.output.get_or_insert_with(|| bytes.to_vec());
            // Two requests' bytes, one after the other, read as one whose
            // resources are both lists (protobuf's merge of a repeated field).
            output.extend_from_slice(&seals::seal_request(fields, self.seal_namespace()));
        }
        Ok(done)
    }

    /// A seal without records, pending like a request's
    /// ([`Transformer::transform_unsettled`]): a `Heartbeat` only when no
    /// seal was written for the seal interval, a `Closing` always; as an
    /// `ExportLogsServiceRequest`. `None`: no signing key, or not due.
    ///
    /// # Errors
    /// [`crate::Error::Seal`]: a seal is pending, or the chain is closed.
    pub fn seal_now(&self, kind: crate::seal::SealKind) -> Result<Option<Vec<u8>>> {
        let Some(sealer) = &self.sealer else {
            return Ok(None);
        };
        let now = now();
        if kind == crate::seal::SealKind::Heartbeat && !sealer.due(now) {
            return Ok(None);
        }
        let fields = sealer
            .seal(&[], &[], kind, now)
            .map_err(crate::Error::Seal)?;
        Ok(Some(seals::seal_request(fields, self.seal_namespace())))
    }

    /// Settles the pending seal, if any: `written` (the request holding it
    /// was handed on) makes it the chain's last; otherwise its number is
    /// used again by the next seal.
    pub fn settle_seal(&self, written: bool) {
        if let Some(sealer) = &self.sealer {
            sealer.settle(written, now());
        }
    }

    fn seal_namespace(&self) -> &str {
        &self.mapping.settings.config.namespace
    }
}

/// Now, in nanoseconds since the epoch.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Claude scopes get their mapping mode here ([`gateway::MAPPING_MODE_ATTRIBUTE`]),
/// so their items become the documents the gateway chose, while other
/// telemetry in the same gateway keeps the exporter's default mode.
pub use gateway::MAPPING_MODE_ATTRIBUTE;

// The C ABI hands one transformer to many threads at once.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Transformer>();
};
