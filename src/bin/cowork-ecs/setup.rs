//! `cowork-ecs setup`: installs, idempotently, what Elasticsearch needs to
//! take every document the processor writes (as `filebeat setup` does for
//! Beats), in a cluster that may also hold Elastic's `claude_code` /
//! `claude_cowork` integration assets and Elasticsearch's built-in OTel
//! templates:
//! - four component templates (files in `collector-config/elasticsearch/`):
//!   `cowork-ecs@settings`, `cowork-ecs@mappings` (the ECS documents),
//!   `cowork-ecs@otel-mappings` (spans and span events, written in the
//!   exporter's OTel mode) and `cowork-ecs@metrics-tsdb` (metrics);
//! - one index template per data stream the processor routes to, named
//!   `cowork-ecs-<type>-<dataset>` (never the name Fleet gives the
//!   package's own, `<type>-<dataset>`), at [`PRIORITY`]: above the
//!   package's templates (Fleet installs them at 200, with the package's
//!   ingest pipeline as `index.default_pipeline`) and the built-in
//!   `logs-*.otel-*` / `traces-*.otel-*` (120) and `logs-*-*` (100) ones, so
//!   that neither the package's pipeline nor another template's mappings
//!   touch the already normalized documents:
//!   - `logs-<dataset>-*` for the log records of each emitter, with the
//!     emitter's vendor object (`claude_code.events`, `claude_cowork.events`)
//!     as a `passthrough` object, so that the bare attribute names Elastic's
//!     dashboards filter on (`decision_source`, `success`, `session.id`, …)
//!     answer as they do in an OTel data stream's `attributes`;
//!   - `traces-<product>.otel-*` for Claude spans and `logs-<product>.otel-*`
//!     for their span events;
//!   - `metrics-<product>.metrics-*` for Claude metrics, in time-series mode
//!     (`cowork-ecs@metrics-tsdb`: a replayed data point is refused as a
//!     duplicate), with the
//!     `double_metrics` / `summary_metrics` dynamic templates the exporter's
//!     ECS mode names for metric values.
//!
//! After installing, [`report`] reads the cluster's index templates, says
//! which others match each data stream (the package's templates and their
//! default pipelines); a template that would win over this one is an error.

use crate::elasticsearch::Client;
use cowork_ecs::data_stream;
use serde_json::{Value, json};

/// The settings component template (shipped file).
const SETTINGS: &str =
    include_str!("../../../collector-config/elasticsearch/cowork-ecs@settings.json");
/// The ECS mappings component template (shipped file).
const MAPPINGS: &str =
    include_str!("../../../collector-config/elasticsearch/cowork-ecs@mappings.json");
/// The OTel-shape mappings component template (shipped file).
const OTEL_MAPPINGS: &str =
    include_str!("../../../collector-config/elasticsearch/cowork-ecs@otel-mappings.json");

/// The time-series component template of the metrics data streams (shipped file).
const METRICS_TSDB: &str =
    include_str!("../../../collector-config/elasticsearch/cowork-ecs@metrics-tsdb.json");

/// Priority of the index templates: above the templates Fleet installs for
/// Elastic's integration packages (200), Elasticsearch's built-in OTel
/// templates (120) and `logs-*-*` (100).
pub const PRIORITY: u64 = 250;

/// Priority of the vendor object's `passthrough` (below the `attributes`
/// objects of Elasticsearch's OTel templates, 20 to 40, which these data
/// streams never carry).
pub const PASSTHROUGH_PRIORITY: u64 = 10;

/// Prefix of every index template `setup` installs.
pub const TEMPLATE_PREFIX: &str = "cowork-ecs-";

/// What to install (the cluster is the [`Client`]'s).
pub struct Setup {
    /// The processor's `claude_code.dataset`.
    pub claude_code_dataset: String,
    /// The processor's `cowork.dataset`.
    pub cowork_dataset: String,
    /// Data stream lifecycle retention (e.g. `90d`); `None` keeps data until
    /// deleted by hand (an audit trail's default).
    pub retention: Option<String>,
}

/// One data stream pattern `setup` installs an index template for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// `logs`, `traces` or `metrics`.
    pub kind: &'static str,
    /// The full dataset of the data stream names (`claude_code.otel` for
    /// spans: the exporter's OTel mode appends `.otel`).
    pub dataset: String,
    /// The component templates it is composed of.
    pub composed_of: &'static [&'static str],
    /// The emitter's vendor object made `passthrough` (ECS log records).
    pub passthrough: Option<&'static str>,
}

impl Stream {
    /// The index template's name.
    pub fn template_name(&self) -> String {
        format!("{TEMPLATE_PREFIX}{}-{}", self.kind, self.dataset)
    }

    /// A data stream this template applies to (namespace `default`).
    pub fn example_data_stream(&self) -> String {
        format!("{}-{}-default", self.kind, self.dataset)
    }
}

/// Field aliases on the log data streams: the bare attribute names
/// Elastic's dashboards read (`tool_name`, `model`, `error_code`) for the
/// ECS / GenAI fields the mapping moved them to (mapping.md §2).
pub const DASHBOARD_ALIASES: &[(&str, &str)] = &[
    ("tool_name", "gen_ai.tool.name"),
    ("model", "gen_ai.response.model"),
    ("error_code", "error.code"),
];

const ECS: &[&str] = &["cowork-ecs@settings", "cowork-ecs@mappings"];
const OTEL: &[&str] = &["cowork-ecs@settings", "cowork-ecs@otel-mappings"];
/// Metrics: time-series mode, every string a dimension (a replayed data
/// point is a duplicate of its first copy, which Elasticsearch refuses).
const METRICS: &[&str] = &["cowork-ecs@settings", "cowork-ecs@metrics-tsdb"];

/// Every data stream pattern the processor routes to.
pub fn streams(setup: &Setup) -> Vec<Stream> {
    let mut out = Vec::new();
    for (dataset, vendor, traces, metrics) in [
        (
            &setup.claude_code_dataset,
            "claude_code",
            data_stream::CLAUDE_CODE_TRACES_DATASET,
            data_stream::CLAUDE_CODE_METRICS_DATASET,
        ),
        (
            &setup.cowork_dataset,
            "claude_cowork",
            data_stream::COWORK_TRACES_DATASET,
            data_stream::COWORK_METRICS_DATASET,
        ),
    ] {
        out.push(Stream {
            kind: "logs",
            dataset: dataset.clone(),
            composed_of: ECS,
            passthrough: Some(vendor),
        });
        let otel = format!("{traces}{}", data_stream::OTEL_SUFFIX);
        out.push(Stream {
            kind: "traces",
            dataset: otel.clone(),
            composed_of: OTEL,
            passthrough: None,
        });
        out.push(Stream {
            kind: "logs",
            dataset: otel,
            composed_of: OTEL,
            passthrough: None,
        });
        out.push(Stream {
            kind: "metrics",
            dataset: metrics.to_owned(),
            composed_of: METRICS,
            passthrough: None,
        });
    }
    // The seals of every gateway, and what `verify --report-index` finds
    // (README "Tamper evidence").
    for dataset in [
        cowork_ecs::seal::SEAL_DATASET,
        cowork_ecs::seal::VERIFY_DATASET,
    ] {
        out.push(Stream {
            kind: "logs",
            dataset: dataset.to_owned(),
            composed_of: ECS,
            passthrough: None,
        });
    }
    out
}

/// The requests `setup` makes, in order: `(path, body)`, each a `PUT`.
///
/// # Errors
/// A dataset that breaks Elasticsearch's data stream naming, or a shipped
/// template that is not JSON.
pub fn requests(setup: &Setup) -> Result<Vec<(String, Value)>, String> {
    for (field, dataset) in [
        ("claude_code.dataset", &setup.claude_code_dataset),
        ("cowork.dataset", &setup.cowork_dataset),
    ] {
        data_stream::validate_part(field, dataset).map_err(|e| e.to_string())?;
    }
    if setup.claude_code_dataset == setup.cowork_dataset {
        return Err("the Claude Code and Cowork datasets must differ".to_owned());
    }
    let parse = |name: &str, text: &str| {
        serde_json::from_str::<Value>(text)
            .map_err(|e| format!("shipped template {name} is not JSON: {e}"))
    };
    let mappings = parse("mappings", MAPPINGS)?;
    let mut out = vec![
        (
            "_component_template/cowork-ecs@settings".to_owned(),
            parse("settings", SETTINGS)?,
        ),
        (
            "_component_template/cowork-ecs@mappings".to_owned(),
            mappings.clone(),
        ),
        (
            "_component_template/cowork-ecs@otel-mappings".to_owned(),
            parse("otel-mappings", OTEL_MAPPINGS)?,
        ),
        (
            "_component_template/cowork-ecs@metrics-tsdb".to_owned(),
            parse("metrics-tsdb", METRICS_TSDB)?,
        ),
    ];
    let mut lifecycle = json!({"enabled": true});
    if let Some(r) = &setup.retention {
        lifecycle["data_retention"] = json!(r);
    }
    for stream in streams(setup) {
        let mut template = json!({"lifecycle": lifecycle});
        if stream.kind == "metrics" {
            // No match conditions: Elasticsearch applies them only where the
            // exporter names them (dynamic_templates of the bulk request).
            template["mappings"] = json!({"dynamic_templates": [
                {"double_metrics": {"mapping": {"type": "double"}}},
                // {sum, value_count} objects (histograms, summaries); an
                // aggregate_metric_double needs a module clusters may lack.
                {"summary_metrics": {"mapping": {"type": "object"}}},
            ]});
        }
        if let Some(vendor) = stream.passthrough {
            // The index template's object replaces the component's, so it
            // carries the vendor fields' types itself.
            let fields = &mappings["template"]["mappings"]["properties"][vendor]["properties"]["events"]
                ["properties"];
            let mut properties = json!({vendor: {"properties": {"events": {
                // One passthrough object per index template, so one priority
                // serves (Elasticsearch refuses two of one priority in a mapping).
                "type": "passthrough", "priority": PASSTHROUGH_PRIORITY, "dynamic": true,
                "properties": fields,
            }}}});
            // Bare names the dashboards read that the mapping moved to
            // ECS / GenAI fields. Log records only: a metric data point
            // carries a `model` attribute of its own, and a document may
            // not write to an alias.
            for (alias, path) in DASHBOARD_ALIASES {
                properties[alias] = json!({"type": "alias", "path": path});
            }
            template["mappings"] = json!({ "properties": properties });
        }
        out.push((
            format!("_index_template/{}", stream.template_name()),
            json!({
                "_meta": {"description": format!(
                    "cowork-ecs: data streams {}-{}-* (installed by `cowork-ecs setup`); takes \
                     precedence over Elastic's package and built-in templates on the same pattern",
                    stream.kind, stream.dataset)},
                "index_patterns": [format!("{}-{}-*", stream.kind, stream.dataset)],
                "data_stream": {},
                "priority": PRIORITY,
                "composed_of": stream.composed_of,
                "template": template,
            }),
        ));
    }
    Ok(out)
}

/// Sends every request of [`requests`] (stops at the first one refused),
/// then [`report`]s what else matches the data streams.
///
/// # Errors
/// A refused request, or another index template that would take
/// precedence over this one.
pub fn run(client: &Client, setup: &Setup) -> Result<(), String> {
    for (path, body) in requests(setup)? {
        let (status, text) = client.call("PUT", &path, Some(&body))?;
        if !(200..300).contains(&status) {
            let text = text.to_string();
            return Err(format!(
                "PUT {path}: HTTP {status}: {}",
                text.chars().take(2000).collect::<String>()
            ));
        }
        eprintln!("cowork-ecs setup: {path} installed");
    }
    for line in report(client, setup)? {
        eprintln!("cowork-ecs setup: {line}");
    }
    Ok(())
}

/// For each data stream: the other index templates whose patterns match it
/// (with their priority and the default pipeline they resolve to), and
/// whether the installed one takes precedence.
///
/// # Errors
/// Another template of a priority at least [`PRIORITY`] on one of the data
/// streams (Elasticsearch would pick it, or refuse the tie), or a request
/// that fails.
fn report(client: &Client, setup: &Setup) -> Result<Vec<String>, String> {
    let (status, all) = client.call("GET", "_index_template", None)?;
    if status != 200 {
        return Err(format!("GET _index_template: HTTP {status}: {all}"));
    }
    let templates: Vec<(&str, u64, Vec<&str>)> = (all["index_templates"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let body = &t["index_template"];
            let patterns = body["index_patterns"].as_array()?;
            Some((
                t["name"].as_str()?,
                body["priority"].as_u64().unwrap_or(0),
                patterns.iter().filter_map(Value::as_str).collect(),
            ))
        })
        .collect();
    let mut lines = Vec::new();
    for stream in streams(setup) {
        let name = stream.example_data_stream();
        let ours = stream.template_name();
        for (other, priority, patterns) in &templates {
            if *other == ours || !patterns.iter().any(|p| wildcard_match(p, &name)) {
                continue;
            }
            if *priority >= PRIORITY {
                return Err(format!(
                    "{name}: index template {other} (priority {priority}) is at or above \
                     cowork-ecs's {ours} ({PRIORITY}); lower it or remove it"
                ));
            }
            let (_, resolved) =
                client.call("POST", &format!("_index_template/_simulate/{other}"), None)?;
            let pipeline = resolved["template"]["settings"]["index"]["default_pipeline"]
                .as_str()
                .map_or(String::new(), |p| format!(", default_pipeline {p}"));
            lines.push(format!(
                "{name}: also matched by index template {other} (priority {priority}{pipeline}); \
                 {ours} (priority {PRIORITY}) takes precedence: its mappings and pipeline do not apply"
            ));
        }
    }
    Ok(lines)
}

/// Elasticsearch's index pattern matching: `*` matches any run of
/// characters, everything else itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn index_patterns_match_as_elasticsearch_matches_them() {
        for (pattern, name, want) in [
            (
                "logs-*.otel-*",
                "logs-claude_code.events.otel-default",
                true,
            ),
            ("logs-*-*", "logs-claude_code.otel-default", true),
            ("traces-*.otel-*", "logs-claude_code.otel-default", false),
            (
                "logs-claude_code.events.otel-*",
                "logs-claude_code.events.otel-default",
                true,
            ),
            (
                "logs-claude_code.events.otel-*",
                "logs-claude_code.events-default",
                false,
            ),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("a*b*b", "ab", false),
            ("*", "anything", true),
        ] {
            assert_eq!(wildcard_match(pattern, name), want, "{pattern} {name}");
        }
    }

    fn setup() -> Setup {
        Setup {
            claude_code_dataset: cowork_ecs::config::DEFAULT_CLAUDE_CODE_DATASET.into(),
            cowork_dataset: cowork_ecs::config::DEFAULT_COWORK_DATASET.into(),
            retention: Some("90d".into()),
        }
    }

    #[test]
    fn one_index_template_per_data_stream_above_the_package_ones() {
        let reqs = requests(&setup()).unwrap();
        let paths: Vec<&str> = reqs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths[4..],
            [
                "_index_template/cowork-ecs-logs-claude_code.events.otel",
                "_index_template/cowork-ecs-traces-claude_code.otel",
                "_index_template/cowork-ecs-logs-claude_code.otel",
                "_index_template/cowork-ecs-metrics-claude_code.metrics",
                "_index_template/cowork-ecs-logs-claude_cowork.events.otel",
                "_index_template/cowork-ecs-traces-claude_cowork.otel",
                "_index_template/cowork-ecs-logs-claude_cowork.otel",
                "_index_template/cowork-ecs-metrics-claude_cowork.metrics",
                "_index_template/cowork-ecs-logs-cowork_ecs.seals",
                "_index_template/cowork-ecs-logs-cowork_ecs.verify",
            ]
        );
        let metrics = &reqs[7].1;
        assert_eq!(
            metrics["template"]["mappings"]["dynamic_templates"][0]["double_metrics"]["mapping"]["type"],
            json!("double")
        );
        let (path, body) = &reqs[4];
        assert_eq!(
            path,
            "_index_template/cowork-ecs-logs-claude_code.events.otel"
        );
        assert_eq!(
            body["index_patterns"],
            json!(["logs-claude_code.events.otel-*"])
        );
        // Fleet installs a package's templates at 200.
        assert!(body["priority"].as_u64().unwrap() > 200);
        assert_eq!(
            body["template"]["mappings"]["properties"]["claude_code"]["properties"]["events"]["type"],
            json!("passthrough")
        );
        let events =
            &body["template"]["mappings"]["properties"]["claude_code"]["properties"]["events"];
        assert_eq!(
            events["properties"]["prompt_text"]["type"],
            json!("text"),
            "the vendor fields' types travel with the passthrough object"
        );
        assert_eq!(
            body["template"]["mappings"]["properties"]["model"]["path"],
            json!("gen_ai.response.model")
        );
        assert!(metrics["template"]["mappings"].get("properties").is_none());
        assert_eq!(metrics["composed_of"][1], json!("cowork-ecs@metrics-tsdb"));
        assert_eq!(
            body["template"]["lifecycle"]["data_retention"],
            json!("90d")
        );
        assert_eq!(
            reqs[5].1["composed_of"][1],
            json!("cowork-ecs@otel-mappings")
        );
        let bad = Setup {
            claude_code_dataset: "Bad-Name".into(),
            ..setup()
        };
        assert!(requests(&bad).is_err());
    }
}
