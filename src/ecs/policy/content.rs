//! Content policy (mapping.md §5): what happens to prompts, responses, tool
//! details and API bodies before anything is persisted.
//!
//! Per class the configuration picks one [`ContentAction`]. A value the
//! emitter already replaced by the literal `<REDACTED>` is left as it is.
//! The secret patterns are one table, [`SECRET_PATTERNS`], each row with a
//! real-looking but fake example that the tests check.

use crate::ecs::model::value::OutValue;
use crate::ecs::policy::identity;
use crate::otlp::{AnyValue, Value};
pub(crate) use crate::policy::{Actions, ContentAction, ContentClass};
use hmac::{Hmac, KeyInit, Mac};
use regex::{Regex, RegexSet};
use sha2::Sha256;
use std::borrow::Cow;

/// Literal the emitters put in place of content when capture is off.
pub(crate) const EMITTER_REDACTED: &str = "<REDACTED>";

/// Credential patterns: `(name, regex, fake example)`. When the regex has a
/// group named `secret`, only that group is masked (the key or scheme in
/// front stays readable); otherwise the whole match is. A mask reads
/// `[REDACTED:<name>]`.
pub const SECRET_PATTERNS: &[(&str, &str, &str)] = &[
    (
        "private_key",
        r"-----BEGIN[A-Z ]*PRIVATE KEY-----[\s\S]*?-----END[A-Z ]*PRIVATE KEY-----",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7fakefakefake\n-----END RSA PRIVATE KEY-----",
    ),
    (
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmYWtlLXVzZXIifQ.c2lnbmF0dXJlLWZha2UtdmFsdWU",
    ),
    (
        "anthropic_api_key",
        r"\bsk-ant-[A-Za-z0-9_-]{20,}",
        "sk-ant-api03-FAKEfakeFAKEfakeFAKEfake0123456789-abcdEF",
    ),
    (
        "openai_api_key",
        r"\bsk-(?:proj-|svcacct-)?[A-Za-z0-9_-]{32,}",
        "sk-proj-FAKEfakeFAKEfakeFAKEfakeFAKE0123456789ab",
    ),
    (
        "aws_access_key_id",
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        "AKIAFAKEFAKEFAKE1234",
    ),
    (
        "github_token",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})",
        "ghp_FAKEfakeFAKEfakeFAKEfakeFAKEfake1234",
    ),
    (
        "gitlab_token",
        r"\bglpat-[A-Za-z0-9_-]{20,}",
        "glpat-FAKEfakeFAKEfake1234",
    ),
    (
        "slack_token",
        r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
        "xoxb-123456789012-FAKEfakeFAKE",
    ),
    (
        "slack_webhook",
        r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,}",
        "https://hooks.slack.com/services/T00000000/B00000000/FAKEfakeFAKEfakeFAKE",
    ),
    (
        "authorization",
        r"(?i)\b(?:bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
        "Authorization: Bearer fAkE.tOkEn-0123456789",
    ),
    (
        "url_password",
        r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]+:(?P<secret>[^@\s/]+)@",
        "postgres://admin:FakePassw0rd@db.example.com:5432/app",
    ),
    (
        "assignment",
        // Quotes may arrive JSON-escaped (`\"`) when JSON is nested in a string.
        r#"(?i)(?:--[\w-]*(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential)[\w-]*(?:\s+|=)|[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential)[\w.-]*\\?["']?\s*[:=]\s*\\?["']?)(?P<secret>[^\s"'\\&,;})\]]*[A-Za-z][^\s"'\\&,;})\]]*)"#,
        "mysql -u root --password FakeSecret99 && export API_TOKEN=FakeTok3n",
    ),
];

/// Redactions of what the policy did to one record (`<product>.events.redacted`).
#[derive(Debug, Default)]
pub(crate) struct Redactions {
    classes: [bool; ContentClass::ALL.len()],
    /// Credentials masked under `redact_secrets`.
    pub(crate) secrets: usize,
}

impl Redactions {
    /// The class names touched, in a fixed order.
    pub(crate) fn classes(&self) -> Vec<String> {
        ContentClass::ALL
            .iter()
            .filter(|c| self.classes[c.index()])
            .map(|c| c.name().to_owned())
            .collect()
    }
}

/// The compiled policy: one action per class, the HMAC key, the patterns.
#[derive(Debug)]
pub(crate) struct ContentPolicy {
    actions: Actions,
    hmac_key: Option<Vec<u8>>,
    any: RegexSet,
    patterns: Vec<(&'static str, Regex)>,
}

impl ContentPolicy {
    /// Compiles the policy. The patterns are constants checked by the tests,
    /// so compiling them cannot fail at run time; should it ever, the error
    /// is returned rather than panicking.
    pub(crate) fn new(
        actions: Actions,
        hmac_key: Option<Vec<u8>>,
    ) -> Result<ContentPolicy, regex::Error> {
        let any = RegexSet::new(SECRET_PATTERNS.iter().map(|p| p.1))?;
        let patterns = SECRET_PATTERNS
            .iter()
            .map(|&(name, re, _)| Regex::new(re).map(|r| (name, r)))
            .collect::<Result<_, _>>()?;
        Ok(ContentPolicy {
            actions,
            hmac_key,
            any,
            patterns,
        })
    }

    pub(crate) fn action(&self, class: ContentClass) -> ContentAction {
        self.actions[class.index()]
    }

    /// Masks every credential in `text`. Returns the new text and the count.
    #[cfg(test)]
    pub(crate) fn redact_secrets(&self, text: &str) -> (String, usize) {
        self.redact_secrets_in(text)
            .unwrap_or_else(|| (text.to_owned(), 0))
    }

    /// `ContentPolicy::redact_secrets`, or `None` when `text` holds no
    /// credential (the common case, which then allocates nothing).
    fn redact_secrets_in(&self, text: &str) -> Option<(String, usize)> {
        if !self.any.is_match(text) {
            return None;
        }
        let mut count = 0;
        let mut out = text.to_owned();
        for (name, re) in &self.patterns {
            if !re.is_match(&out) {
                continue;
            }
            out = re
                .replace_all(&out, |caps: &regex::Captures<'_>| {
                    count += 1;
                    let mask = format!("[REDACTED:{name}]");
                    let (Some(whole), Some(secret)) = (caps.get(0), caps.name("secret")) else {
                        return mask;
                    };
                    let start = secret.start() - whole.start();
                    let end = secret.end() - whole.start();
                    format!(
                        "{}{mask}{}",
                        &whole.as_str()[..start],
                        &whole.as_str()[end..]
                    )
                })
                .into_owned();
        }
        Some((out, count))
    }

    fn hmac_hex(&self, text: &str) -> String {
        // The key is checked at configuration time; without one (never when
        // an action is Hash) fall back to an empty key rather than panic.
        let key = self.hmac_key.as_deref().unwrap_or_default();
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else {
            return String::new();
        };
        mac.update(text.as_bytes());
        identity::lower_hex(&mac.finalize().into_bytes())
    }

    /// Applies the class's action to one string. `None` means drop it.
    pub(crate) fn apply_text<'a>(
        &self,
        class: ContentClass,
        text: Cow<'a, str>,
        marks: &mut Redactions,
    ) -> Option<Cow<'a, str>> {
        if text == EMITTER_REDACTED || text.is_empty() {
            return Some(text);
        }
        match self.action(class) {
            ContentAction::Keep => Some(text),
            ContentAction::RedactSecrets => match self.redact_secrets_in(&text) {
                Some((out, n)) if n > 0 => {
                    marks.secrets += n;
                    marks.classes[class.index()] = true;
                    Some(Cow::Owned(out))
                }
                _ => Some(text),
            },
            ContentAction::Hash => {
                marks.classes[class.index()] = true;
                Some(Cow::Owned(self.hmac_hex(&text)))
            }
            ContentAction::Drop => {
                marks.classes[class.index()] = true;
                None
            }
        }
    }

    /// [`ContentPolicy::apply_value`] for an output value.
    pub(crate) fn apply_out<'a>(
        &self,
        class: ContentClass,
        v: OutValue<'a>,
        marks: &mut Redactions,
    ) -> Option<OutValue<'a>> {
        match v {
            // Text, the common case, without leaving the borrowed input.
            OutValue::Str(s) => self.apply_text(class, s, marks).map(OutValue::Str),
            // An unreadable value passes nowhere.
            other => self
                .apply_value(class, other.into_value()?, marks)
                .map(OutValue::Value),
        }
    }

    /// joinable), except that `drop` removes the whole value.
    pub(crate) fn apply_value(
        &self,
        class: ContentClass,
        v: Value,
        marks: &mut Redactions,
    ) -> Option<Value> {
        let emitter_redacted = matches!(&v, Value::StringValue(s) if s == EMITTER_REDACTED);
        match self.action(class) {
            ContentAction::Keep => return Some(v),
            ContentAction::Drop if !emitter_redacted => {
                marks.classes[class.index()] = true;
                return None;
            }
            _ => {}
        }
        match v {
            Value::StringValue(s) => self
                .apply_text(class, Cow::Owned(s), marks)
                .map(|s| Value::StringValue(s.into_owned())),
            Value::ArrayValue(mut a) => {
                a.values = a
                    .values
                    .into_iter()
                    .filter_map(|item| self.apply_any(class, item, marks))
                    .collect();
                Some(Value::ArrayValue(a))
            }
            Value::KvlistValue(mut kv) => {
                kv.values = kv
                    .values
                    .into_iter()
                    .filter_map(|mut item| {
                        let inner = item.value.take()?;
                        item.value = Some(self.apply_any(class, inner, marks)?);
                        Some(item)
                    })
                    .collect();
                Some(Value::KvlistValue(kv))
            }
            other => Some(other), // numbers and bools carry no secret text
        }
    }

    fn apply_any(
        &self,
        class: ContentClass,
        v: AnyValue,
        marks: &mut Redactions,
    ) -> Option<AnyValue> {
        match v.value {
            None => Some(v),
            Some(inner) => self
                .apply_value(class, inner, marks)
                .map(|value| AnyValue { value: Some(value) }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn policy(action: ContentAction) -> ContentPolicy {
        ContentPolicy::new(
            [action; ContentClass::ALL.len()],
            Some(b"0123456789abcdef0123456789abcdef".to_vec()),
        )
        .unwrap()
    }

    #[test]
    fn every_pattern_masks_its_example_and_only_there() {
        let p = policy(ContentAction::RedactSecrets);
        for (name, _, example) in SECRET_PATTERNS {
            let text = format!("before {example} after");
            let (out, n) = p.redact_secrets(&text);
            assert!(n >= 1, "{name}: nothing masked in {text:?}");
            assert!(out.contains(&format!("[REDACTED:{name}]")), "{name}: {out}");
            assert!(
                out.starts_with("before ") && out.ends_with(" after"),
                "{name}: {out}"
            );
        }
    }

    #[test]
    fn the_secret_part_goes_the_readable_part_stays() {
        let p = policy(ContentAction::RedactSecrets);
        let cases = [
            (
                "postgres://admin:FakePassw0rd@db:5432/app",
                "FakePassw0rd",
                "postgres://admin:",
            ),
            (
                "curl -H 'Authorization: Bearer fAkE.tOkEn-0123456789' x",
                "fAkE.tOkEn",
                "Authorization: Bearer ",
            ),
            (
                r#"{"password": "hunter2hunter2", "user": "bob"}"#,
                "hunter2hunter2",
                r#""user": "bob""#,
            ),
            (
                "export AWS_SECRET_ACCESS_KEY=wJalrFAKEfakeFAKEfake",
                "wJalrFAKE",
                "export AWS_SECRET_ACCESS_KEY=",
            ),
            ("echo AKIAFAKEFAKEFAKE1234 > creds", "AKIAFAKE", "echo "),
        ];
        for (text, secret, kept) in cases {
            let (out, n) = p.redact_secrets(text);
            assert!(n >= 1, "{text}");
            assert!(!out.contains(secret), "{secret} survived in {out}");
            assert!(out.contains(kept), "{kept} lost from {out}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let p = policy(ContentAction::RedactSecrets);
        for text in [
            "ls -la /tmp && echo hello",
            r#"{"input_tokens": 120, "max_tokens": 32000, "model": "claude-sonnet-4-6"}"#,
            "summarize the quarterly report draft",
            "https://intranet.example.org/q3?page=2",
        ] {
            assert_eq!(p.redact_secrets(text), (text.to_owned(), 0), "{text}");
        }
    }

    #[test]
    fn hash_is_keyed_hmac_sha256_hex() {
        let mut marks = Redactions::default();
        let h = policy(ContentAction::Hash)
            .apply_text(ContentClass::Prompts, "hello".into(), &mut marks)
            .unwrap();
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        let again = policy(ContentAction::Hash)
            .apply_text(ContentClass::Prompts, "hello".into(), &mut marks)
            .unwrap();
        assert_eq!(h, again, "joinable");
        let other_key = ContentPolicy::new(
            [ContentAction::Hash; ContentClass::ALL.len()],
            Some(vec![7; 32]),
        )
        .unwrap();
        assert_ne!(
            h,
            other_key
                .apply_text(ContentClass::Prompts, "hello".into(), &mut marks)
                .unwrap()
        );
        assert_eq!(marks.classes(), vec!["prompts"]);
    }

    #[test]
    fn emitter_redacted_literal_is_untouched() {
        let mut marks = Redactions::default();
        for action in [
            ContentAction::Hash,
            ContentAction::Drop,
            ContentAction::RedactSecrets,
        ] {
            let out = policy(action).apply_text(
                ContentClass::Responses,
                EMITTER_REDACTED.into(),
                &mut marks,
            );
            assert_eq!(out.as_deref(), Some(EMITTER_REDACTED));
        }
        assert!(marks.classes().is_empty());
    }
}
