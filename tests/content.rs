//! Content policy (mapping.md §5) and trusted tenant, on whole records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::Transformer;
use cowork_ecs::ecs::SECRET_PATTERNS;
use cowork_ecs::otlp::{self, ExportLogsServiceRequest, Value};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

const KEY: &str = "0123456789abcdef0123456789abcdef-test-key";

/// One Claude Code request holding every content class once.
fn request(prompt: &str, response: &str, command: &str, body: &str) -> ExportLogsServiceRequest {
    let params =
        json!({"bash_command": "x", "full_command": command, "description": "d"}).to_string();
    let input = json!({"command": command, "description": "d"}).to_string();
    let rec = |name: &str, attrs: Json| {
        let mut a = vec![json!({"key": "event.name", "value": {"stringValue": name}})];
        for (k, v) in attrs.as_object().unwrap() {
            a.push(json!({"key": k, "value": v}));
        }
        json!({"body": {"stringValue": format!("claude_code.{name}")}, "attributes": a})
    };
    let req = json!({"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
    "scopeLogs": [{"logRecords": [
        rec("user_prompt", json!({"prompt": {"stringValue": prompt}, "prompt_length": {"intValue": prompt.len()}, "organization.id": {"stringValue": "org-1"}})),
        rec("assistant_response", json!({"response": {"stringValue": response}, "response_length": {"intValue": response.len()}})),
        rec("tool_result", json!({"tool_name": {"stringValue": "Bash"}, "tool_parameters": {"stringValue": params}, "tool_input": {"stringValue": input}})),
        rec("api_request_body", json!({"body": {"stringValue": body}, "body_length": {"stringValue": body.len().to_string()}})),
    ]}]}]});
    otlp::from_json(req.to_string().as_bytes()).unwrap()
}

fn transform(config: Json, req: &mut ExportLogsServiceRequest, tenant: Option<&str>) {
    let t = Transformer::from_json_config(config.to_string().as_bytes()).unwrap();
    t.transform_logs_request(req, tenant);
}

/// Every string anywhere in the output records (values of maps and arrays included).
fn all_strings(req: &ExportLogsServiceRequest) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::StringValue(s) => out.push(s.clone()),
            Value::ArrayValue(a) => a
                .values
                .iter()
                .filter_map(|x| x.value.as_ref())
                .for_each(|x| walk(x, out)),
            Value::KvlistValue(kv) => kv
                .values
                .iter()
                .filter_map(|x| x.value.as_ref().and_then(|v| v.value.as_ref()))
                .for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for r in records(req) {
        for kv in &r.attributes {
            if let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                walk(v, &mut out);
            }
        }
    }
    out
}

const PROMPT: &str = "canary-prompt-7f3a please deploy with password=Hunter2Canary";
const RESPONSE: &str = "canary-response-91bc done";
const COMMAND: &str = "curl -H 'Authorization: Bearer canaryBearerToken123' https://admin:CanaryPassw0rd@db.example.com";
const BODY: &str = r#"{"messages":[{"content":"canary-body-55de AKIAFAKEFAKEFAKE1234"}]}"#;

fn policy(action: &str) -> Json {
    json!({"preserve_original": true, "content": {
        "prompts": action, "responses": action, "tool_details": action, "api_bodies": action, "hmac_key": KEY}})
}

#[test]
fn keep_keeps_everything() {
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(policy("keep"), &mut req, None);
    let text = all_strings(&req).join("\n");
    for canary in [
        "canary-prompt-7f3a",
        "Hunter2Canary",
        "canary-response-91bc",
        "canaryBearerToken123",
        "CanaryPassw0rd",
        "AKIAFAKEFAKEFAKE1234",
    ] {
        assert!(text.contains(canary), "{canary} missing under keep");
    }
    assert!(
        records(&req)
            .iter()
            .all(|r| !flat_attributes(r).contains_key("claude_code.events.redacted"))
    );
}

#[test]
fn redact_secrets_masks_credentials_and_keeps_the_rest() {
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(policy("redact_secrets"), &mut req, None);
    let text = all_strings(&req).join("\n");
    for secret in [
        "Hunter2Canary",
        "canaryBearerToken123",
        "CanaryPassw0rd",
        "AKIAFAKEFAKEFAKE1234",
    ] {
        assert!(!text.contains(secret), "{secret} survived:\n{text}");
    }
    for readable in [
        "canary-prompt-7f3a",
        "canary-response-91bc",
        "canary-body-55de",
        "db.example.com",
    ] {
        assert!(text.contains(readable), "{readable} lost");
    }
    let docs: Vec<_> = records(&req).iter().map(|r| flat_attributes(r)).collect();
    assert_eq!(docs[0]["claude_code.events.redacted"], json!(["prompts"]));
    assert_eq!(docs[0]["claude_code.events.redacted_secrets"], json!(1));
    assert_eq!(
        docs[1].get("claude_code.events.redacted"),
        None,
        "no secret in the response: untouched"
    );
    assert_eq!(
        docs[2]["claude_code.events.redacted"],
        json!(["tool_details"])
    );
    assert!(
        docs[2]["process.command_line"]
            .as_str()
            .unwrap()
            .contains("[REDACTED:authorization]")
    );
    assert_eq!(
        docs[3]["claude_code.events.redacted"],
        json!(["api_bodies"])
    );
}

#[test]
fn hash_replaces_with_joinable_hmac() {
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(policy("hash"), &mut req, None);
    let text = all_strings(&req).join("\n");
    for canary in [
        "canary-prompt-7f3a",
        "canary-response-91bc",
        "canary-body-55de",
        "canaryBearerToken123",
        "db.example.com",
    ] {
        assert!(!text.contains(canary), "{canary} survived under hash");
    }
    let docs: Vec<_> = records(&req).iter().map(|r| flat_attributes(r)).collect();
    let prompt = docs[0]["claude_code.events.prompt_text"].as_str().unwrap();
    assert_eq!(prompt.len(), 64);
    // The same command from another record (or user) hashes the same: joinable.
    let mut again = request("other", "other", COMMAND, "{}");
    transform(policy("hash"), &mut again, None);
    let again_docs: Vec<_> = records(&again).iter().map(|r| flat_attributes(r)).collect();
    assert_eq!(
        docs[2]["process.command_line"],
        again_docs[2]["process.command_line"]
    );
    assert_eq!(
        docs[2]["gen_ai.tool.call.arguments.command"],
        docs[2]["process.command_line"]
    );
    assert_eq!(docs[0]["claude_code.events.redacted"], json!(["prompts"]));
    assert_eq!(
        docs[0]["claude_code.events.prompt_length"],
        json!(PROMPT.len())
    );
}

#[test]
fn drop_removes_values_and_keeps_lengths() {
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(policy("drop"), &mut req, None);
    let text = all_strings(&req).join("\n");
    for canary in [
        "canary-prompt-7f3a",
        "canary-response-91bc",
        "canary-body-55de",
        "curl",
        "db.example.com",
    ] {
        assert!(!text.contains(canary), "{canary} survived under drop");
    }
    let docs: Vec<_> = records(&req).iter().map(|r| flat_attributes(r)).collect();
    assert!(!docs[0].contains_key("claude_code.events.prompt_text"));
    assert_eq!(
        docs[0]["claude_code.events.prompt_length"],
        json!(PROMPT.len())
    );
    assert!(
        !docs[2]
            .keys()
            .any(|k| k.starts_with("gen_ai.tool.call.arguments") || k == "process.command_line")
    );
    assert_eq!(
        docs[2]["gen_ai.tool.name"],
        json!("Bash"),
        "not content: stays"
    );
    assert_eq!(docs[3]["claude_code.events.body_length"], json!(BODY.len()));
    // event.original is there (preserve_original) but holds none of it.
    assert!(
        docs[3]["event.original"]
            .as_str()
            .unwrap()
            .contains("body_length")
    );
}

#[test]
fn per_class_choices_are_independent() {
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(
        json!({"content": {"prompts": "keep", "responses": "drop", "tool_details": "hash", "api_bodies": "redact_secrets", "hmac_key": KEY}}),
        &mut req,
        None,
    );
    let docs: Vec<_> = records(&req).iter().map(|r| flat_attributes(r)).collect();
    assert_eq!(docs[0]["claude_code.events.prompt_text"], json!(PROMPT));
    assert!(!docs[1].contains_key("claude_code.events.response"));
    assert_eq!(docs[2]["process.command_line"].as_str().unwrap().len(), 64);
    assert!(
        docs[3]["claude_code.events.body"]
            .as_str()
            .unwrap()
            .contains("canary-body-55de")
    );
}

#[test]
fn broken_tool_json_under_hash_keeps_no_original_text() {
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    // Break tool_parameters of the tool_result record.
    let rec = &mut req.resource_logs[0].scope_logs[0].log_records[2];
    for kv in &mut rec.attributes {
        if kv.key == "tool_parameters" {
            kv.value = Some(otlp::AnyValue {
                value: Some(Value::StringValue(format!(
                    "{{\"full_command\": \"{COMMAND}"
                ))),
            });
        }
    }
    transform(
        json!({"content": {"tool_details": "hash", "hmac_key": KEY}}),
        &mut req,
        None,
    );
    let r = flat_attributes(records(&req)[2]);
    assert_eq!(r["event.kind"], json!("pipeline_error"));
    for field in ["event.original", "error.message"] {
        let v = r[field].as_str().unwrap();
        assert!(
            !v.contains("db.example.com") && !v.contains("curl"),
            "{field} leaks: {v}"
        );
    }
}

#[test]
fn emitter_redacted_values_are_left_alone() {
    let mut req = request("<REDACTED>", "<REDACTED>", COMMAND, BODY);
    transform(policy("hash"), &mut req, None);
    let docs: Vec<_> = records(&req).iter().map(|r| flat_attributes(r)).collect();
    assert_eq!(
        docs[0]["claude_code.events.prompt_text"],
        json!("<REDACTED>")
    );
    assert_eq!(docs[1]["claude_code.events.response"], json!("<REDACTED>"));
    assert!(!docs[0].contains_key("claude_code.events.redacted"));
}

#[test]
fn tenant_sets_namespace_label_and_checks_organization() {
    let config = json!({"tenants": {"Team-A": ["org-1"], "team-b": ["org-2"]}});
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(config.clone(), &mut req, Some("Team-A"));
    let docs: Vec<_> = records(&req).iter().map(|r| flat_attributes(r)).collect();
    assert_eq!(docs[0]["data_stream.namespace"], json!("team_a"));
    assert_eq!(docs[0]["labels.tenant"], json!("Team-A"));
    assert!(!docs[0].contains_key("tags"), "org-1 is allowed for Team-A");

    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(config.clone(), &mut req, Some("team-b"));
    let doc = flat_attributes(records(&req)[0]);
    assert_eq!(doc["data_stream.namespace"], json!("team_b"));
    assert_eq!(
        doc["tags"],
        json!(["organization_mismatch"]),
        "team-b may not claim org-1"
    );
    assert!(
        !flat_attributes(records(&req)[1]).contains_key("tags"),
        "no organization.id claimed"
    );

    // No identity: configured namespace, no label; the claim cannot be allowed.
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(config, &mut req, None);
    let doc = flat_attributes(records(&req)[0]);
    assert_eq!(doc["data_stream.namespace"], json!("default"));
    assert!(!doc.contains_key("labels.tenant"));
    assert_eq!(doc["tags"], json!(["organization_mismatch"]));

    // Configurable off.
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    transform(
        json!({"tenant": {"set_namespace": false, "set_label": false}}),
        &mut req,
        Some("team-c"),
    );
    let doc = flat_attributes(records(&req)[0]);
    assert_eq!(doc["data_stream.namespace"], json!("default"));
    assert!(!doc.contains_key("labels.tenant") && !doc.contains_key("tags"));
}

#[test]
fn telemetry_cannot_choose_its_tenant() {
    // Attributes named like the outputs are just vendor data.
    let mut req = request(PROMPT, RESPONSE, COMMAND, BODY);
    let rec = &mut req.resource_logs[0].scope_logs[0].log_records[0];
    for (k, v) in [
        ("data_stream.namespace", "victim"),
        ("labels.tenant", "victim"),
    ] {
        rec.attributes.push(otlp::KeyValue {
            key: k.into(),
            value: Some(otlp::AnyValue {
                value: Some(Value::StringValue(v.into())),
            }),
            ..Default::default()
        });
    }
    transform(json!({}), &mut req, Some("team-a"));
    let doc = flat_attributes(records(&req)[0]);
    assert_eq!(doc["data_stream.namespace"], json!("team_a"));
    assert_eq!(doc["labels.tenant"], json!("team-a"));
    assert_eq!(
        doc["claude_code.events.data_stream.namespace"],
        json!("victim")
    );
}

#[test]
fn namespace_sanitizing() {
    use cowork_ecs::data_stream::sanitize_namespace;
    assert_eq!(sanitize_namespace("Team-A").as_deref(), Some("team_a"));
    assert_eq!(sanitize_namespace("_x:y/z*").as_deref(), Some("x_y_z_"));
    assert_eq!(sanitize_namespace("...").as_deref(), None);
    assert_eq!(
        sanitize_namespace(&"a".repeat(300)).map(|s| s.len()),
        Some(100)
    );
}

/// Fake secrets of every kind the patterns cover, generated.
fn secret() -> impl Strategy<Value = (String, String)> {
    let alnum = |n: usize| {
        proptest::collection::vec(
            prop_oneof![
                prop::char::range('a', 'z'),
                prop::char::range('A', 'Z'),
                prop::char::range('0', '9')
            ],
            n,
        )
        .prop_map(|v| v.into_iter().collect::<String>())
    };
    let with_letter = |n: usize| alnum(n).prop_map(|s| format!("Q{s}"));
    prop_oneof![
        proptest::collection::vec(
            prop_oneof![prop::char::range('A', 'Z'), prop::char::range('0', '9')],
            16
        )
        .prop_map(|v| {
            let s = format!("AKIA{}", v.into_iter().collect::<String>());
            (s.clone(), s)
        }),
        alnum(36).prop_map(|s| {
            let t = format!("ghp_{s}");
            (t.clone(), t)
        }),
        alnum(24).prop_map(|s| {
            let t = format!("glpat-{s}");
            (t.clone(), t)
        }),
        alnum(30).prop_map(|s| {
            let t = format!("sk-ant-api03-{s}");
            (t.clone(), t)
        }),
        alnum(40).prop_map(|s| {
            let t = format!("sk-proj-{s}");
            (t.clone(), t)
        }),
        alnum(20).prop_map(|s| {
            let t = format!("xoxb-1234-{s}");
            (t.clone(), t)
        }),
        (alnum(12), alnum(12), alnum(12)).prop_map(|(a, b, c)| {
            let t = format!("eyJ{a}.eyJ{b}.{c}");
            (t.clone(), t)
        }),
        with_letter(16).prop_map(|s| (format!("Authorization: Bearer {s}"), s)),
        with_letter(12).prop_map(|s| (format!("https://deploy:{s}@git.example.com/repo"), s)),
        with_letter(10).prop_map(|s| (format!("--password {s}"), s)),
        with_letter(10).prop_map(|s| (format!("DB_PASSWORD={s}"), s)),
        with_letter(10).prop_map(|s| (format!(r#""api_key": "{s}""#), s)),
        alnum(20).prop_map(|s| (
            format!("-----BEGIN PRIVATE KEY-----\n{s}\n-----END PRIVATE KEY-----"),
            s
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Under the default policy (redact_secrets for every class), no secret
    /// placed in any content field survives in any output field, event.original included.
    #[test]
    fn no_secret_survives_redact_secrets(
        (text, needle) in secret(),
        field in 0usize..4,
        prefix in "[a-z ]{0,12}",
        suffix in "[a-z ]{0,12}",
    ) {
        let carrier = format!("{prefix} {text} {suffix}");
        let (mut p, mut r, mut c, mut b) = ("hi".to_owned(), "ok".to_owned(), "ls".to_owned(), "{}".to_owned());
        match field {
            0 => p = carrier,
            1 => r = carrier,
            2 => c = carrier,
            _ => b = json!({"messages": [{"content": carrier}]}).to_string(),
        }
        let mut req = request(&p, &r, &c, &b);
        transform(json!({"preserve_original": true}), &mut req, None);
        for s in all_strings(&req) {
            prop_assert!(!s.contains(&needle), "{} survived in {}", needle, s);
        }
    }
}

#[test]
fn the_pattern_table_is_what_the_property_covers() {
    // Each pattern name appears in a mask when its own example is redacted.
    let mut req = request(
        &SECRET_PATTERNS
            .iter()
            .map(|p| p.2)
            .collect::<Vec<_>>()
            .join(" | "),
        "ok",
        "ls",
        "{}",
    );
    transform(json!({}), &mut req, None);
    let prompt = flat_attributes(records(&req)[0])["claude_code.events.prompt_text"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, _, _) in SECRET_PATTERNS {
        assert!(
            prompt.contains(&format!("[REDACTED:{name}]")),
            "{name}: {prompt}"
        );
    }
}
