//! Configuration: the JSON form of the Go processor's `Config` (minus the
//! Go-only `error_mode`), also read by the CLI's `--config`.
//!
//! ```json
//! {
//!   "cowork":      {"service_names": ["cowork"],      "dataset": "claude_cowork.events.otel"},
//!   "claude_code": {"service_names": ["claude-code"], "dataset": "claude_code.events.otel"},
//!   "namespace": "default",
//!   "preserve_original": false,
//!   "content": {"prompts": "redact_secrets", "responses": "redact_secrets",
//!               "tool_details": "redact_secrets", "api_bodies": "redact_secrets",
//!               "tool_output": "redact_secrets",
//!               "hmac_key": null, "hmac_key_file": null},
//!   "identity": "keep",
//!   "tenant": {"set_namespace": true, "set_label": true},
//!   "tenants": {"team-a": ["<organization.id>", "..."]},
//!   "signing": {"key_file": null}
//! }
//! ```
//! Every key is optional; the defaults are mapping.md §1–2. Unknown keys
//! are refused, so a typo fails at collector start instead of being ignored.
//! A list or map sent as `null` is empty (Go marshals an unset slice so).
//!
//! This is the one schema: the Go processor's `Config` carries the same JSON
//! keys on its own fields (its Go-only settings are `json:"-"`), takes its
//! defaults from [`Config::default`] through `cowork_ecs_config_defaults`,
//! and `testdata/config/default.json` pins both sides to the same document.

use crate::data_stream;
use crate::error::{Error, Result};
use crate::policy::{Actions, ContentAction, ContentClass, IdentityAction};
use serde::de::{self, Deserializer, MapAccess};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Default `service.name` of Claude Cowork (mapping.md §1).
pub const DEFAULT_COWORK_SERVICE_NAME: &str = "cowork";
/// Default `service.name` of Claude Code (mapping.md §1).
pub const DEFAULT_CLAUDE_CODE_SERVICE_NAME: &str = "claude-code";
/// Default `data_stream.dataset` of Cowork records (mapping.md §2): the
/// dataset Elastic's `claude_cowork` dashboards filter on
/// (`data_stream.dataset: "claude_cowork.events.otel"`), so its records
/// land in `logs-claude_cowork.events.otel-<namespace>`.
pub const DEFAULT_COWORK_DATASET: &str = "claude_cowork.events.otel";
/// Default `data_stream.dataset` of Claude Code records (mapping.md §2):
/// the dataset Elastic's `claude_code` dashboards filter on.
pub const DEFAULT_CLAUDE_CODE_DATASET: &str = "claude_code.events.otel";
/// Default `data_stream.namespace` (mapping.md §2).
pub const DEFAULT_NAMESPACE: &str = "default";

/// Processor configuration. See the module docs for the JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Claude Cowork (Claude Desktop) emitter.
    pub cowork: EmitterConfig,
    /// Claude Code (CLI) emitter.
    pub claude_code: EmitterConfig,
    /// `data_stream.namespace` of every Claude record.
    pub namespace: String,
    /// Set `event.original` (the record as OTLP/JSON) on every Claude record,
    /// not only on records with a mapping error (mapping.md §4).
    pub preserve_original: bool,
    /// Content policy (mapping.md §5).
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
    #[serde(deserialize_with = "null_is_empty")]
    pub tenants: BTreeMap<String, Vec<String>>,
    /// Tamper evidence (README "Tamper evidence"): sign every Claude log
    /// record with this key.
    pub signing: SigningConfig,
}

/// Tamper evidence: the Ed25519 key that signs every Claude log record
/// ([`crate::signature`]).
///
/// ```json
/// {"key_file": "/etc/cowork-ecs/signing.pem"}
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningConfig {
    /// A PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm
    /// ed25519`). Unset or empty: records are not signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Where the seal chain's state is kept ([`crate::seal::STATE_FILE`]),
    /// so the chain of the next start names the last seal of this one (the
    /// gateways: the persistent queue's directory). Unset: a new chain
    /// names none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_directory: Option<PathBuf>,
    /// A seal is written at least this often, in milliseconds, even when
    /// no record passes (a heartbeat). Unset: 10,000 (10 s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seal_interval_ms: Option<u64>,
}

/// The default seal interval, in milliseconds (README "Tamper evidence").
pub const DEFAULT_SEAL_INTERVAL_MS: u64 = 10_000;

impl SigningConfig {
    /// The signer of `key_file`, read now; `None` when unset or empty.
    ///
    /// # Errors
    /// [`Error::ConfigInvalid`] (`signing.key_file`) when the file cannot be
    /// read or is not an Ed25519 key.
    pub fn signer(&self) -> Result<Option<crate::signature::Signer>> {
        let Some(path) = self.key_file.as_ref().filter(|p| !p.as_os_str().is_empty()) else {
            return Ok(None);
        };
        let pem = std::fs::read_to_string(path).map_err(|e| {
            Error::config(
                "signing.key_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        crate::signature::Signer::from_pem(&pem)
            .map(Some)
            .map_err(|e| Error::config("signing.key_file", format!("{}: {e}", path.display())))
    }

    /// The sealer of this configuration: a new chain under the key of
    /// `key_file`, starting `now` (nanoseconds); `None` without a key.
    ///
    /// # Errors
    /// As [`SigningConfig::signer`]; `signing.seal_interval_ms` 0;
    /// `signing.state_directory` that cannot be created.
    pub fn sealer(&self, now: u64) -> Result<Option<crate::seal::Sealer>> {
        let interval = self.seal_interval_ms.unwrap_or(DEFAULT_SEAL_INTERVAL_MS);
        if interval == 0 {
            return Err(Error::config(
                "signing.seal_interval_ms",
                "must be positive".to_owned(),
            ));
        }
        let dir = self
            .state_directory
            .as_deref()
            .filter(|d| !d.as_os_str().is_empty());
        let Some(signer) = self.signer()? else {
            return Ok(None);
        };
        if let Some(d) = dir {
            // The queue's directory may not exist before its first start.
            std::fs::create_dir_all(d).map_err(|e| {
                Error::config(
                    "signing.state_directory",
                    format!("cannot create {}: {e}", d.display()),
                )
            })?;
        }
        Ok(Some(crate::seal::Sealer::new(
            signer,
            interval.saturating_mul(1_000_000),
            dir,
            now,
        )))
    }
}

/// Reads `null` as the empty value (an unset Go slice or map marshals so).
fn null_is_empty<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> std::result::Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Minimum HMAC key length for `hash`, in bytes (the SHA-256 block is 64;
/// below 32 bytes a key is guessable).
pub const MIN_HMAC_KEY_BYTES: usize = 32;

/// Content policy: one action per class configured under `content` (its
/// key is [`ContentClass::name`], its default
/// [`ContentClass::default_action`]), and the HMAC key of `hash`.
///
/// ```json
/// {"prompts": "redact_secrets", "...": "...", "hmac_key": "...", "hmac_key_file": "..."}
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ContentConfig {
    /// The action of each class (the identity slot is unused: that policy
    /// is [`Config::identity`]).
    actions: Actions,
    /// HMAC key for `hash` (at least [`MIN_HMAC_KEY_BYTES`] bytes).
    pub hmac_key: Option<String>,
    /// File holding the HMAC key (trailing newline ignored), instead of `hmac_key`.
    pub hmac_key_file: Option<PathBuf>,
}

impl Default for ContentConfig {
    fn default() -> Self {
        ContentConfig {
            actions: ContentClass::ALL.map(ContentClass::default_action),
            hmac_key: None,
            hmac_key_file: None,
        }
    }
}

const HMAC_KEY: &str = "hmac_key";
const HMAC_KEY_FILE: &str = "hmac_key_file";

impl<'de> Deserialize<'de> for ContentConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> de::Visitor<'de> for Visitor {
            type Value = ContentConfig;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("the content policy: a class name or hmac_key / hmac_key_file per key")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut c = ContentConfig::default();
                while let Some(key) = map.next_key::<String>()? {
                    match (key.as_str(), ContentClass::from_name(&key)) {
                        (HMAC_KEY, _) => c.hmac_key = map.next_value()?,
                        (HMAC_KEY_FILE, _) => c.hmac_key_file = map.next_value()?,
                        (_, Some(class)) => c.actions[class.index()] = map.next_value()?,
                        (other, None) => {
                            let mut known: Vec<&str> = (ContentClass::ALL.iter())
                                .filter(|c| c.in_content())
                                .map(|c| c.name())
                                .collect();
                            known.extend([HMAC_KEY, HMAC_KEY_FILE]);
                            return Err(de::Error::custom(format_args!(
                                "unknown field `{other}`, expected one of {}",
                                known.join(", ")
                            )));
                        }
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(Visitor)
    }
}

impl Serialize for ContentConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for class in ContentClass::ALL.into_iter().filter(|c| c.in_content()) {
            map.serialize_entry(class.name(), &self.actions[class.index()])?;
        }
        if let Some(key) = &self.hmac_key {
            map.serialize_entry(HMAC_KEY, key)?;
        }
        if let Some(path) = &self.hmac_key_file {
            map.serialize_entry(HMAC_KEY_FILE, path)?;
        }
        map.end()
    }
}

impl std::fmt::Debug for ContentConfig {
    // Never print the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ContentConfig");
        for class in ContentClass::ALL.into_iter().filter(|c| c.in_content()) {
            d.field(class.name(), &self.actions[class.index()]);
        }
        d.field(HMAC_KEY, &self.hmac_key.as_ref().map(|_| "<set>"))
            .field(HMAC_KEY_FILE, &self.hmac_key_file)
            .finish()
    }
}

impl ContentConfig {
    /// The action configured for `class` (a class under `content`).
    pub fn action(&self, class: ContentClass) -> ContentAction {
        self.actions[class.index()]
    }

    /// Sets the action of `class` (a class under `content`).
    pub fn set_action(&mut self, class: ContentClass, action: ContentAction) {
        self.actions[class.index()] = action;
    }

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

/// What a batch's sender identity sets on its records.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EmitterConfig {
    /// Resource `service.name` values that identify this emitter.
    #[serde(deserialize_with = "null_is_empty")]
    pub service_names: Vec<String>,
    /// `data_stream.dataset` of its records.
    pub dataset: String,
}

impl Config {
    /// Every emitter's configuration, by its key: the one list a new
    /// emitter is added to (with its row in the mapping's emitter table).
    pub fn emitters(&self) -> [(&'static str, &EmitterConfig); 2] {
        [("cowork", &self.cowork), ("claude_code", &self.claude_code)]
    }
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
            signing: SigningConfig::default(),
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

    /// The configuration as JSON, every key present (the shape
    /// [`Config::from_json`] reads; `hmac_key` only when set).
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, lists and maps with string keys always serializes.
        serde_json::to_vec(self).unwrap_or_default()
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
        self.validated_hmac_key().map(|_| ())
    }

    /// [`Config::validate`], returning the HMAC key of `hash` (read once:
    /// from `content.hmac_key` or `content.hmac_key_file`), `None` when
    /// none is set.
    ///
    /// # Errors
    /// As [`Config::validate`].
    pub(crate) fn validated_hmac_key(&self) -> Result<Option<Vec<u8>>> {
        let emitters = self.emitters();
        for &(name, emitter) in &emitters {
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
            data_stream::validate_part(&format!("{name}.dataset"), &emitter.dataset)?;
        }
        for (i, &(a, first)) in emitters.iter().enumerate() {
            for &(b, second) in &emitters[i + 1..] {
                let shared =
                    (first.service_names.iter()).find(|s| second.service_names.contains(s));
                if let Some(shared) = shared {
                    return Err(Error::config(
                        "service_names",
                        format!("{shared:?} is listed for both {a} and {b}"),
                    ));
                }
            }
        }
        data_stream::validate_part("namespace", &self.namespace)?;
        if let Some(identity) = self.tenants.keys().find(|k| k.trim().is_empty()) {
            return Err(Error::config(
                "tenants",
                format!("{identity:?} is not an identity"),
            ));
        }
        self.signing.signer()?;
        if self.signing.seal_interval_ms == Some(0) {
            return Err(Error::config(
                "signing.seal_interval_ms",
                "must be positive",
            ));
        }
        let uses_hash = (ContentClass::ALL.iter()).any(|&c| self.action(c) == ContentAction::Hash);
        self.content.hmac_key(uses_hash)
    }

    /// The configured action of one content class (the identity policy is
    /// the class `identity`): the one place a class meets its key.
    pub fn action(&self, class: ContentClass) -> ContentAction {
        if class.in_content() {
            self.content.action(class)
        } else {
            self.identity.as_content()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_shared_document() {
        // testdata/config/default.json is the one schema's default: the Go
        // processor's default config marshals to exactly this too
        // (config_test.go).
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/config/default.json");
        if std::env::var_os("COWORK_ECS_UPDATE_GOLDEN").is_some() {
            assert!(std::env::var_os("CI").is_none(), "not rewritten under CI");
            let pretty = serde_json::to_value(Config::default()).unwrap();
            std::fs::write(path, serde_json::to_string_pretty(&pretty).unwrap() + "\n").unwrap();
        }
        let shared: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let ours: serde_json::Value = serde_json::from_slice(&Config::default().to_json()).unwrap();
        assert_eq!(ours, shared);
        assert_eq!(
            Config::from_json(&Config::default().to_json()).unwrap(),
            Config::default()
        );
        // null lists and maps (an unset Go slice) are empty, then validated.
        let nulls = br#"{"tenants":null,"cowork":{"service_names":null,"dataset":"x"}}"#;
        assert!(matches!(
            Config::from_json(nulls),
            Err(Error::ConfigInvalid { field, .. }) if field == "cowork.service_names"
        ));
    }

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
        assert_eq!(c.content.action(ContentClass::Prompts), ContentAction::Keep);
        assert_eq!(
            c.content.action(ContentClass::Responses),
            ContentAction::RedactSecrets
        );
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
        match Config::from_json(br#"{"content":{"prompt":"keep"}}"#) {
            Err(Error::ConfigSyntax(e)) => {
                assert!(e.to_string().contains("unknown field `prompt`"), "{e}");
                assert!(
                    e.to_string().contains("tool_output"),
                    "names the classes: {e}"
                );
            }
            other => panic!("{other:?}"),
        }
        let dir = std::env::temp_dir().join(format!("cowork-ecs-key-{}", std::process::id()));
        std::fs::write(&dir, "0123456789abcdef0123456789abcdef\n").unwrap();
        let with_file = format!(
            r#"{{"content":{{"prompts":"hash","hmac_key_file":{:?}}}}}"#,
            dir
        );
        let c = Config::from_json(with_file.as_bytes()).unwrap();
        assert_eq!(
            c.validated_hmac_key().unwrap().unwrap().len(),
            32,
            "newline stripped"
        );
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
