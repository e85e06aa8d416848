//! The emitters the mapping recognizes (mapping.md §1, first table), as
//! rows of one table: a new emitter is one row here and its configuration
//! (`Config::emitters`: `dataset`, `service_names`).

use crate::config::Config;
use crate::data_stream::{
    CLAUDE_CODE_METRICS_DATASET, CLAUDE_CODE_TRACES_DATASET, COWORK_METRICS_DATASET,
    COWORK_TRACES_DATASET,
};
use crate::otlp::Signal;

/// One emitter as the table writes it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EmitterRow {
    /// `event.provider`.
    pub(crate) provider: &'static str,
    /// `<product>.events.`: prefix of every attribute left in the vendor prefix.
    pub(crate) vendor_prefix: &'static str,
    /// `data_stream.dataset` of its spans (the exporter's OTel mode adds `.otel`).
    pub(crate) traces_dataset: &'static str,
    /// `data_stream.dataset` of its metrics.
    pub(crate) metrics_dataset: &'static str,
    /// Its key in the configuration ([`Config::emitters`]).
    pub(crate) key: &'static str,
}

/// Every emitter, in the order a `service.name` is matched.
pub(crate) const EMITTERS: &[EmitterRow] = &[
    EmitterRow {
        provider: "claude-cowork",
        vendor_prefix: "claude_cowork.events.",
        traces_dataset: COWORK_TRACES_DATASET,
        metrics_dataset: COWORK_METRICS_DATASET,
        key: "cowork",
    },
    EmitterRow {
        provider: "claude-code",
        vendor_prefix: "claude_code.events.",
        traces_dataset: CLAUDE_CODE_TRACES_DATASET,
        metrics_dataset: CLAUDE_CODE_METRICS_DATASET,
        key: "claude_code",
    },
];

/// A recognized emitter, configured: its row and what the configuration
/// says of it.
#[derive(Debug, Clone)]
pub(crate) struct Emitter {
    /// `event.provider`.
    pub(crate) provider: &'static str,
    /// `<product>.events.`: prefix of every attribute left in the vendor prefix.
    pub(crate) vendor_prefix: &'static str,
    /// `data_stream.dataset` of its log records.
    pub(crate) dataset: String,
    /// `data_stream.dataset` of its spans.
    pub(crate) traces_dataset: &'static str,
    /// `data_stream.dataset` of its metrics.
    pub(crate) metrics_dataset: &'static str,
    /// Resource `service.name` values that identify it.
    pub(crate) service_names: Vec<String>,
}

impl Emitter {
    /// Every emitter of [`EMITTERS`], configured by `config`.
    pub(crate) fn all(config: &Config) -> Vec<Emitter> {
        let configured = config.emitters();
        (EMITTERS.iter())
            .filter_map(|row| {
                let own = configured.iter().find(|(key, _)| *key == row.key)?.1;
                Some(Emitter {
                    provider: row.provider,
                    vendor_prefix: row.vendor_prefix,
                    dataset: own.dataset.clone(),
                    traces_dataset: row.traces_dataset,
                    metrics_dataset: row.metrics_dataset,
                    service_names: own.service_names.clone(),
                })
            })
            .collect()
    }

    /// `data_stream.dataset` of its data of one signal.
    pub(crate) fn dataset(&self, signal: Signal) -> &str {
        match signal {
            Signal::Logs => &self.dataset,
            Signal::Traces => self.traces_dataset,
            Signal::Metrics => self.metrics_dataset,
        }
    }
}
