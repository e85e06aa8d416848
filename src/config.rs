//! Configuration: the JSON form of the Go processor's `Config` (minus the
//! Go-only `error_mode`), also read by the CLI's `--config`.
//!
//! ```json
//! {
//!   "cowork":      {"service_names": ["cowork"],      "dataset": "claude_cowork.events"},
//!   "claude_code": {"service_names": ["claude-code"], "dataset": "claude_code.events"},
//!   "namespace": "default",
//!   "preserve_original": false
//! }
//! ```
//! Every key is optional; the defaults are SPEC sections 1 and 2. Unknown keys
//! are refused, so a typo fails at collector start instead of being ignored.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Default `service.name` of Claude Cowork (SPEC section 1).
pub const DEFAULT_COWORK_SERVICE_NAME: &str = "cowork";
/// Default `service.name` of Claude Code (SPEC section 1).
pub const DEFAULT_CLAUDE_CODE_SERVICE_NAME: &str = "claude-code";
/// Default `data_stream.dataset` of Cowork records (SPEC section 2).
pub const DEFAULT_COWORK_DATASET: &str = "claude_cowork.events";
/// Default `data_stream.dataset` of Claude Code records (SPEC section 2).
pub const DEFAULT_CLAUDE_CODE_DATASET: &str = "claude_code.events";
/// Default `data_stream.namespace` (SPEC section 2).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Processor configuration. See the module docs for the JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Claude Cowork (Claude Desktop) emitter.
    pub cowork: EmitterConfig,
    /// Claude Code (CLI) emitter.
    pub claude_code: EmitterConfig,
    /// `data_stream.namespace` of every Claude record.
    pub namespace: String,
    /// Set `event.original` (the record as OTLP/JSON) on every Claude record,
    /// not only on records with a mapping error (SPEC section 4).
    pub preserve_original: bool,
}

/// How one emitter is recognized and where its records are routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmitterConfig {
    /// Resource `service.name` values that identify this emitter.
    pub service_names: Vec<String>,
    /// `data_stream.dataset` of its records.
    pub dataset: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cowork: EmitterConfig {
                service_names: vec![DEFAULT_COWORK_SERVICE_NAME.to_owned()],
                dataset: DEFAULT_COWORK_DATASET.to_owned(),
            },
            claude_code: EmitterConfig {
                service_names: vec![DEFAULT_CLAUDE_CODE_SERVICE_NAME.to_owned()],
                dataset: DEFAULT_CLAUDE_CODE_DATASET.to_owned(),
            },
            namespace: DEFAULT_NAMESPACE.to_owned(),
            preserve_original: false,
        }
    }
}

impl Config {
    /// Parses and validates the JSON configuration. Empty input (or `{}`)
    /// gives the defaults.
    ///
    /// # Errors
    /// [`Error::ConfigSyntax`] for bad JSON or unknown keys,
    /// [`Error::ConfigInvalid`] for a value that breaks a rule of [`Config::validate`].
    pub fn from_json(bytes: &[u8]) -> Result<Config> {
        let config: Config = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => Config::default(),
            // serde would also read a struct from a JSON array; only objects are configs.
            Some(b'{') => serde_json::from_slice(bytes).map_err(Error::ConfigSyntax)?,
            Some(_) => {
                return Err(Error::config(
                    "(root)",
                    "the configuration must be a JSON object",
                ));
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every rule:
    /// - each emitter has at least one non-empty service name, and no name is
    ///   claimed by both emitters;
    /// - datasets and the namespace follow Elasticsearch's data stream naming
    ///   (lowercase; no `-`, space, `\ / * ? " < > | , #` or `:`; not starting
    ///   with `_`, `+` or `.`; dataset ≤ 100 bytes, namespace ≤ 100 bytes), so
    ///   `logs-<dataset>-<namespace>` is always a valid data stream name.
    ///
    /// # Errors
    /// [`Error::ConfigInvalid`] naming the first offending key.
    pub fn validate(&self) -> Result<()> {
        for (name, emitter) in [("cowork", &self.cowork), ("claude_code", &self.claude_code)] {
            if emitter.service_names.is_empty() {
                return Err(Error::config(
                    format!("{name}.service_names"),
                    "must list at least one service.name",
                ));
            }
            if emitter.service_names.iter().any(|s| s.trim().is_empty()) {
                return Err(Error::config(
                    format!("{name}.service_names"),
                    "must not contain an empty name",
                ));
            }
            validate_data_stream_part(&format!("{name}.dataset"), &emitter.dataset)?;
        }
        if let Some(shared) = self
            .cowork
            .service_names
            .iter()
            .find(|s| self.claude_code.service_names.contains(s))
        {
            return Err(Error::config(
                "service_names",
                format!("{shared:?} is listed for both cowork and claude_code"),
            ));
        }
        validate_data_stream_part("namespace", &self.namespace)
    }
}

/// Elasticsearch data stream naming rules for one part of
/// `<type>-<dataset>-<namespace>`.
fn validate_data_stream_part(field: &str, value: &str) -> Result<()> {
    const FORBIDDEN: &[char] = &[
        '-', ' ', '\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':',
    ];
    if value.is_empty() {
        return Err(Error::config(field, "must not be empty"));
    }
    if value.len() > 100 {
        return Err(Error::config(field, "must be at most 100 bytes"));
    }
    if value.chars().any(|c| c.is_uppercase()) {
        return Err(Error::config(field, format!("{value:?} must be lowercase")));
    }
    if let Some(c) = value.chars().find(|c| FORBIDDEN.contains(c)) {
        return Err(Error::config(
            field,
            format!("{value:?} must not contain {c:?} (Elasticsearch data stream naming)"),
        ));
    }
    if value.starts_with(['_', '+', '.']) {
        return Err(Error::config(
            field,
            format!("{value:?} must not start with '_', '+' or '.'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_braces_give_defaults() {
        assert_eq!(Config::from_json(b"").unwrap(), Config::default());
        assert_eq!(Config::from_json(b" {} ").unwrap(), Config::default());
    }

    #[test]
    fn partial_config_keeps_other_defaults() {
        let c = Config::from_json(br#"{"namespace":"prod","preserve_original":true}"#).unwrap();
        assert_eq!(c.namespace, "prod");
        assert!(c.preserve_original);
        assert_eq!(c.cowork, Config::default().cowork);
    }

    #[test]
    fn rejects_bad_values() {
        let cases: &[(&str, &str)] = &[
            (r#"{"namespace":"Prod"}"#, "namespace"),
            (r#"{"namespace":"a-b"}"#, "namespace"),
            (r#"{"namespace":""}"#, "namespace"),
            (r#"{"namespace":"_x"}"#, "namespace"),
            (
                r#"{"claude_code":{"service_names":[],"dataset":"x"}}"#,
                "claude_code.service_names",
            ),
            (
                r#"{"cowork":{"service_names":[" "],"dataset":"x"}}"#,
                "cowork.service_names",
            ),
            (
                r#"{"cowork":{"service_names":["a"],"dataset":"a b"}}"#,
                "cowork.dataset",
            ),
            (
                r#"{"cowork":{"service_names":["claude-code"],"dataset":"x"}}"#,
                "service_names",
            ),
        ];
        for (json, field) in cases {
            match Config::from_json(json.as_bytes()) {
                Err(Error::ConfigInvalid { field: f, .. }) => assert_eq!(&f, field, "{json}"),
                other => panic!("{json}: expected ConfigInvalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn rejects_unknown_keys_and_bad_json() {
        assert!(matches!(
            Config::from_json(b"[]"),
            Err(Error::ConfigInvalid { .. })
        ));
        for json in [r#"{"namespcae":"x"}"#, r#"{"namespace":1}"#, "{"] {
            assert!(
                matches!(
                    Config::from_json(json.as_bytes()),
                    Err(Error::ConfigSyntax(_))
                ),
                "{json}"
            );
        }
    }
}
