//! Configuration: the JSON form of the Go processor's `Config` (minus the
//! Go-only `error_mode`), also read by the CLI's `--config`.
//!
//! ```json
//! {
//!   "cowork":      {"service_names": ["cowork"],      "dataset": "claude_cowork.events"},
//!   "claude_code": {"service_names": ["claude-code"], "dataset": "claude_code.events"},
//!   "namespace": "default",
//!   "preserve_original": false,
//!   "content": {"prompts": "redact_secrets", "responses": "redact_secrets",
//!               "tool_details": "redact_secrets", "api_bodies": "redact_secrets",
//!               "tool_output": "redact_secrets",
//!               "hmac_key": null, "hmac_key_file": null},
//!   "identity": "keep",
//!   "tenant": {"set_namespace": true, "set_label": true},
//!   "tenants": {"team-a": ["<organization.id>", "..."]}
//! }
//! ```
//! Every key is optional; the defaults are SPEC sections 1 and 2. Unknown keys
//! are refused, so a typo fails at collector start instead of being ignored.

use crate::ecs::ContentAction;
use crate::ecs::content::ContentClass;
use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
    /// Content policy (SPEC section 5).
    pub content: ContentConfig,
    /// Identity policy: what happens to `user.email`, `user.account_uuid`
    /// and `user.account_id` in logs, traces and metrics (`hash` uses
    /// `content.hmac_key`).
    pub identity: IdentityAction,
    /// What the sender's authenticated identity (passed with each batch by
    /// the caller, never read from the telemetry) sets.
    pub tenant: TenantConfig,
    /// Optional: identity → the `organization.id` values that sender may
    /// claim. A record claiming another one is tagged `organization_mismatch`
    /// (and still delivered). Empty: no check.
    pub tenants: BTreeMap<String, Vec<String>>,
}

/// Minimum HMAC key length for `hash`, in bytes (the SHA-256 block is 64;
/// below 32 bytes a key is guessable).
pub const MIN_HMAC_KEY_BYTES: usize = 32;

/// Content policy per class (SPEC section 5). Default: `redact_secrets`.
#[derive(Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentConfig {
    /// `prompt` / `prompt_text`.
    pub prompts: ContentAction,
    /// `response` of `assistant_response`.
    pub responses: ContentAction,
    /// `tool_parameters`, `tool_input` and the fields derived from them.
    pub tool_details: ContentAction,
    /// `body` of `api_request_body` / `api_response_body`, the system prompt
    /// and the tool definitions (`system_prompt`, `tool` events and their
    /// span attributes): all parts of an API request body.
    pub api_bodies: ContentAction,
    /// A tool's output (the `output` of the `tool.output` span event).
    pub tool_output: ContentAction,
    /// HMAC key for `hash` (at least [`MIN_HMAC_KEY_BYTES`] bytes).
    pub hmac_key: Option<String>,
    /// File holding the HMAC key (trailing newline ignored), instead of `hmac_key`.
    pub hmac_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for ContentConfig {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentConfig")
            .field("prompts", &self.prompts)
            .field("responses", &self.responses)
            .field("tool_details", &self.tool_details)
            .field("api_bodies", &self.api_bodies)
            .field("tool_output", &self.tool_output)
            .field("hmac_key", &self.hmac_key.as_ref().map(|_| "<set>"))
            .field("hmac_key_file", &self.hmac_key_file)
            .finish()
    }
}

impl ContentConfig {
    /// The HMAC key, read from `hmac_key` or `hmac_key_file`; `None` when
    /// nothing uses `hash` (`uses_hash`: a class or the identity policy does).
    ///
    /// # Errors
    /// [`Error::ConfigInvalid`] when something uses `hash` and the key is
    /// missing, unreadable or shorter than [`MIN_HMAC_KEY_BYTES`], or both
    /// sources are set.
    fn hmac_key(&self, uses_hash: bool) -> Result<Option<Vec<u8>>> {
        let key = match (&self.hmac_key, &self.hmac_key_file) {
            (Some(_), Some(_)) => {
                return Err(Error::config(
                    "content.hmac_key",
                    "set hmac_key or hmac_key_file, not both",
                ));
            }
            (Some(k), None) => Some(k.as_bytes().to_vec()),
            (None, Some(path)) => {
                let mut bytes = std::fs::read(path).map_err(|e| {
                    Error::config(
                        "content.hmac_key_file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?;
                while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    bytes.pop();
                }
                Some(bytes)
            }
            (None, None) => None,
        };
        if !uses_hash {
            return Ok(key);
        }
        match key {
            None => Err(Error::config(
                "content.hmac_key",
                "a class or identity uses hash: set hmac_key (e.g. ${env:COWORK_ECS_HMAC_KEY}) or hmac_key_file",
            )),
            Some(k) if k.len() < MIN_HMAC_KEY_BYTES => Err(Error::config(
                "content.hmac_key",
                format!(
                    "is {} bytes; hash needs at least {MIN_HMAC_KEY_BYTES}",
                    k.len()
                ),
            )),
            Some(k) => Ok(Some(k)),
        }
    }
}

/// What happens to the user's identity (`user.email`, `user.account_uuid`,
/// `user.account_id`) in every signal; `related.user` follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityAction {
    /// Stored as sent. The default.
    #[default]
    Keep,
    /// Replaced by its HMAC-SHA256 under `content.hmac_key` (lowercase hex):
    /// equal users stay joinable, e.g. for cost per person.
    Hash,
    /// Removed.
    Drop,
}

impl IdentityAction {
    /// The same action as a content action.
    pub(crate) fn as_content(self) -> ContentAction {
        match self {
            IdentityAction::Keep => ContentAction::Keep,
            IdentityAction::Hash => ContentAction::Hash,
            IdentityAction::Drop => ContentAction::Drop,
        }
    }
}

/// What a batch's sender identity sets on its records.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TenantConfig {
    /// Route to `data_stream.namespace` = the identity, sanitized to
    /// Elasticsearch's naming rules.
    pub set_namespace: bool,
    /// Set `labels.tenant` = the identity.
    pub set_label: bool,
}

impl Default for TenantConfig {
    fn default() -> Self {
        TenantConfig {
            set_namespace: true,
            set_label: true,
        }
    }
}

/// How one emitter is recognized and where its records are routed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
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
            content: ContentConfig::default(),
            identity: IdentityAction::default(),
            tenant: TenantConfig::default(),
            tenants: BTreeMap::new(),
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
        let config = Config::parse(bytes)?;
        config.validate()?;
        Ok(config)
    }

    /// [`Config::from_json`] without [`Config::validate`].
    pub(crate) fn parse(bytes: &[u8]) -> Result<Config> {
        Ok(match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => Config::default(),
            // serde would also read a struct from a JSON array; only objects are configs.
            Some(b'{') => serde_json::from_slice(bytes).map_err(Error::ConfigSyntax)?,
            Some(_) => {
                return Err(Error::config(
                    "(root)",
                    "the configuration must be a JSON object",
                ));
            }
        })
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
        validate_data_stream_part("namespace", &self.namespace)?;
        if let Some(identity) = self.tenants.keys().find(|k| k.trim().is_empty()) {
            return Err(Error::config(
                "tenants",
                format!("{identity:?} is not an identity"),
            ));
        }
        self.hmac_key().map(|_| ())
    }

    /// The HMAC key of `hash`, for the content classes and the identity
    /// policy ([`ContentConfig::hmac_key`]).
    ///
    /// # Errors
    /// As [`ContentConfig::hmac_key`].
    pub(crate) fn hmac_key(&self) -> Result<Option<Vec<u8>>> {
        let uses_hash = (ContentClass::ALL.iter()).any(|&c| self.action(c) == ContentAction::Hash);
        self.content.hmac_key(uses_hash)
    }

    /// The configured action of one content class (the identity policy is
    /// the class `identity`): the one place a class meets its key.
    pub(crate) fn action(&self, class: ContentClass) -> ContentAction {
        let c = &self.content;
        match class {
            ContentClass::Prompts => c.prompts,
            ContentClass::Responses => c.responses,
            ContentClass::ToolDetails => c.tool_details,
            ContentClass::ApiBodies => c.api_bodies,
            ContentClass::ToolOutput => c.tool_output,
            ContentClass::Identity => self.identity.as_content(),
        }
    }
}

/// Characters Elasticsearch's data stream naming forbids in a dataset or
/// namespace (the separator `-` included): the one list that validation,
/// [`crate::ecs::sanitize_namespace`] and `cowork-ecs setup` use.
pub const DATA_STREAM_FORBIDDEN: &[char] = &[
    '-', ' ', '\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':',
];

/// Elasticsearch data stream naming rules for one part of
/// `<type>-<dataset>-<namespace>`.
/// Checks a `data_stream.dataset` / `namespace` value against
/// Elasticsearch's data stream naming rules; `field` names it in the error.
///
/// # Errors
/// [`crate::Error::ConfigInvalid`] naming `field` and the broken rule.
pub fn validate_data_stream_part(field: &str, value: &str) -> Result<()> {
    if value.is_empty() {
        return Err(Error::config(field, "must not be empty"));
    }
    if value.len() > 100 {
        return Err(Error::config(field, "must be at most 100 bytes"));
    }
    if value.chars().any(|c| c.is_uppercase()) {
        return Err(Error::config(field, format!("{value:?} must be lowercase")));
    }
    if let Some(c) = value.chars().find(|c| DATA_STREAM_FORBIDDEN.contains(c)) {
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
    fn content_policy_and_hmac_key() {
        let c =
            Config::from_json(br#"{"content":{"prompts":"keep","api_bodies":"drop"}}"#).unwrap();
        assert_eq!(c.content.prompts, ContentAction::Keep);
        assert_eq!(c.content.responses, ContentAction::RedactSecrets);
        let err = |json: &str| match Config::from_json(json.as_bytes()) {
            Err(Error::ConfigInvalid { field, reason }) => format!("{field}: {reason}"),
            other => panic!("{json}: {other:?}"),
        };
        assert!(err(r#"{"content":{"prompts":"hash"}}"#).contains("content.hmac_key"));
        assert!(
            err(r#"{"content":{"prompts":"hash","hmac_key":"short"}}"#).contains("at least 32")
        );
        let ok =
            r#"{"content":{"tool_details":"hash","hmac_key":"0123456789abcdef0123456789abcdef"}}"#;
        assert!(Config::from_json(ok.as_bytes()).is_ok());
        assert!(matches!(
            Config::from_json(br#"{"content":{"prompts":"shred"}}"#),
            Err(Error::ConfigSyntax(_))
        ));
        let dir = std::env::temp_dir().join(format!("cowork-ecs-key-{}", std::process::id()));
        std::fs::write(&dir, "0123456789abcdef0123456789abcdef\n").unwrap();
        let with_file = format!(
            r#"{{"content":{{"prompts":"hash","hmac_key_file":{:?}}}}}"#,
            dir
        );
        let c = Config::from_json(with_file.as_bytes()).unwrap();
        assert_eq!(c.hmac_key().unwrap().unwrap().len(), 32, "newline stripped");
        std::fs::remove_file(&dir).unwrap();
        assert!(err(&with_file).contains("cannot read"));
        assert!(!format!("{:?}", Config::from_json(ok.as_bytes()).unwrap()).contains("0123456789"));
    }

    #[test]
    fn identity_hash_needs_the_key() {
        let c = Config::from_json(br#"{"identity":"drop"}"#).unwrap();
        assert_eq!(c.identity, IdentityAction::Drop);
        assert!(matches!(
            Config::from_json(br#"{"identity":"hash"}"#),
            Err(Error::ConfigInvalid { field, .. }) if field == "content.hmac_key"
        ));
        let ok = r#"{"identity":"hash","content":{"hmac_key":"0123456789abcdef0123456789abcdef"}}"#;
        assert!(Config::from_json(ok.as_bytes()).is_ok());
        assert!(matches!(
            Config::from_json(br#"{"identity":"redact_secrets"}"#),
            Err(Error::ConfigSyntax(_))
        ));
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
