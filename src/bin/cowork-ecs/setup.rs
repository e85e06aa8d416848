//! `cowork-ecs setup`: installs, idempotently, what Elasticsearch needs to
//! take every document the processor writes (as `filebeat setup` does for
//! Beats): two component templates (`cowork-ecs@settings`,
//! `cowork-ecs@mappings`, from `collector-config/elasticsearch/`) and one
//! index template per data stream the processor routes to, composed of
//! them, with a priority above the built-in `logs-*-*` / `traces-*-*` /
//! `metrics-*-*` templates (100) and a data stream lifecycle:
//! - `logs-<dataset>-*` for the log records of each configured dataset;
//! - `traces-<product>.traces-*` for Claude spans;
//! - `logs-apm.app.<service>-*` for their span events (the exporter's ECS
//!   mode writes each span event as a log document there);
//! - `metrics-<product>.metrics-*` for Claude metrics, with the
//!   `double_metrics` / `summary_metrics` dynamic templates the exporter's
//!   ECS mode names for metric values.

use cowork_ecs::data_stream;
use serde_json::{Value, json};
use std::time::Duration;

/// The settings component template (shipped file).
const SETTINGS: &str =
    include_str!("../../../collector-config/elasticsearch/cowork-ecs@settings.json");
/// The mappings component template (shipped file).
const MAPPINGS: &str =
    include_str!("../../../collector-config/elasticsearch/cowork-ecs@mappings.json");

/// Priority of the index templates: above Elasticsearch's built-in
/// `logs-*-*` (100) and `logs@*` templates.
pub const PRIORITY: u64 = 200;

/// What to install and where.
pub struct Setup {
    /// Base URL of the cluster, e.g. `https://es.example.com:9200`.
    pub url: String,
    /// `Authorization` header value (`ApiKey …` or `Basic …`), if any.
    pub authorization: Option<String>,
    /// Log datasets to create index templates for.
    pub datasets: Vec<String>,
    /// Emitters' `service.name` values: their span events go to
    /// `logs-apm.app.<service>-*`.
    pub service_names: Vec<String>,
    /// Data stream lifecycle retention (e.g. `90d`); `None` keeps data until
    /// deleted by hand (an audit trail's default).
    pub retention: Option<String>,
}

/// The requests `setup` makes, in order: `(path, body)`, each a `PUT`.
pub fn requests(setup: &Setup) -> Result<Vec<(String, Value)>, String> {
    let parse = |name: &str, text: &str| {
        serde_json::from_str::<Value>(text)
            .map_err(|e| format!("shipped template {name} is not JSON: {e}"))
    };
    let mut out = vec![
        (
            "_component_template/cowork-ecs@settings".to_owned(),
            parse("settings", SETTINGS)?,
        ),
        (
            "_component_template/cowork-ecs@mappings".to_owned(),
            parse("mappings", MAPPINGS)?,
        ),
    ];
    let mut lifecycle = json!({"enabled": true});
    if let Some(r) = &setup.retention {
        lifecycle["data_retention"] = json!(r);
    }
    let mut streams: Vec<(&str, String)> = (setup.datasets.iter())
        .map(|d| ("logs", d.clone()))
        .collect();
    for (traces, metrics) in [
        (
            data_stream::CLAUDE_CODE_TRACES_DATASET,
            data_stream::CLAUDE_CODE_METRICS_DATASET,
        ),
        (
            data_stream::COWORK_TRACES_DATASET,
            data_stream::COWORK_METRICS_DATASET,
        ),
    ] {
        streams.push(("traces", traces.to_owned()));
        streams.push(("metrics", metrics.to_owned()));
    }
    for service in &setup.service_names {
        streams.push(("logs", data_stream::span_event_dataset(service)));
    }
    for (kind, dataset) in &streams {
        if let Err(e) = data_stream::validate_part("dataset", dataset) {
            return Err(e.to_string());
        }
        let mut template = json!({"lifecycle": lifecycle});
        if *kind == "metrics" {
            // No match conditions: Elasticsearch applies them only where the
            // exporter names them (dynamic_templates of the bulk request).
            template["mappings"] = json!({"dynamic_templates": [
                {"double_metrics": {"mapping": {"type": "double"}}},
                // {sum, value_count} objects (histograms, summaries); an
                // aggregate_metric_double needs a module clusters may lack.
                {"summary_metrics": {"mapping": {"type": "object"}}},
            ]});
        }
        out.push((
            format!("_index_template/{kind}-{dataset}"),
            json!({
                "_meta": {"description": format!("cowork-ecs: data streams of {dataset} (installed by `cowork-ecs setup`)")},
                "index_patterns": [format!("{kind}-{dataset}-*")],
                "data_stream": {},
                "priority": PRIORITY,
                "composed_of": ["cowork-ecs@settings", "cowork-ecs@mappings"],
                "template": template,
            }),
        ));
    }
    Ok(out)
}

/// Sends every request of [`requests`]; stops at the first one refused.
pub fn run(setup: &Setup) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .build()
        .into();
    for (path, body) in requests(setup)? {
        let url = format!("{}/{path}", setup.url.trim_end_matches('/'));
        let mut req = agent.put(&url).header("content-type", "application/json");
        if let Some(auth) = &setup.authorization {
            req = req.header("authorization", auth);
        }
        let mut resp = req
            .send(body.to_string())
            .map_err(|e| format!("PUT {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            return Err(format!(
                "PUT {url}: HTTP {status}: {}",
                text.chars().take(2000).collect::<String>()
            ));
        }
        eprintln!("cowork-ecs setup: {path} installed");
    }
    Ok(())
}

/// The `Authorization` header from an API key (encoded, as Kibana shows
/// it) or a user and password.
pub fn authorization(
    api_key: Option<&str>,
    user: Option<&str>,
    password: Option<&str>,
) -> Option<String> {
    if let Some(k) = api_key.filter(|k| !k.is_empty()) {
        return Some(format!("ApiKey {k}"));
    }
    let user = user.filter(|u| !u.is_empty())?;
    use base64::Engine;
    let pair = format!("{user}:{}", password.unwrap_or(""));
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn basic_auth_is_base64() {
        assert_eq!(
            authorization(None, Some("elastic"), Some("changeme")).unwrap(),
            "Basic ZWxhc3RpYzpjaGFuZ2VtZQ=="
        );
        assert_eq!(
            authorization(Some("abc=="), Some("u"), None).unwrap(),
            "ApiKey abc=="
        );
        assert_eq!(authorization(None, None, None), None);
    }

    #[test]
    fn one_index_template_per_dataset_above_the_built_in_one() {
        let setup = Setup {
            url: "http://x".into(),
            authorization: None,
            datasets: vec!["claude_code.events".into(), "claude_cowork.events".into()],
            service_names: vec!["claude-code".into()],
            retention: Some("90d".into()),
        };
        let reqs = requests(&setup).unwrap();
        let paths: Vec<&str> = reqs.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths[2..],
            [
                "_index_template/logs-claude_code.events",
                "_index_template/logs-claude_cowork.events",
                "_index_template/traces-claude_code.traces",
                "_index_template/metrics-claude_code.metrics",
                "_index_template/traces-claude_cowork.traces",
                "_index_template/metrics-claude_cowork.metrics",
                "_index_template/logs-apm.app.claude_code",
            ]
        );
        let metrics = &reqs[5].1;
        assert_eq!(
            metrics["template"]["mappings"]["dynamic_templates"][0]["double_metrics"]["mapping"]["type"],
            json!("double")
        );
        let (path, body) = &reqs[2];
        assert_eq!(path, "_index_template/logs-claude_code.events");
        assert_eq!(body["index_patterns"], json!(["logs-claude_code.events-*"]));
        assert!(body["priority"].as_u64().unwrap() > 100);
        assert_eq!(
            body["template"]["lifecycle"]["data_retention"],
            json!("90d")
        );
        let bad = Setup {
            datasets: vec!["Bad-Name".into()],
            ..setup
        };
        assert!(requests(&bad).is_err());
    }
}
