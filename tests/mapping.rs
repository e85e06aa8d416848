//! The mapping's rules (docs/mapping.md) asserted field by field on the real captures and the Cowork
//! fixture (the golden files freeze the whole output; these say why it is right).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use cowork_ecs::ecs::reference::event_categorization;
use cowork_ecs::otlp::ExportLogsServiceRequest;
use cowork_ecs::{Config, Transformer};
use serde_json::{Map, Value as Json, json};

type Doc = Map<String, Json>;

/// How many distinct `event.action` values the documents have.
fn distinct_actions(docs: &[Doc]) -> usize {
    let actions: std::collections::BTreeSet<String> = (docs.iter())
        .filter_map(|d| d.get("event.action").map(Json::to_string))
        .collect();
    actions.len()
}

fn transformed(path: &str, config: &Config) -> (ExportLogsServiceRequest, Vec<Doc>) {
    let mut req = read_request(&testdata().join(path));
    Transformer::new(config)
        .unwrap()
        .transform_logs_request(&mut req, None);
    let docs = records(&req).iter().map(|r| flat_attributes(r)).collect();
    (req, docs)
}

fn docs(path: &str) -> Vec<Doc> {
    transformed(path, &Config::default()).1
}

fn by_action<'a>(docs: &'a [Doc], action: &str) -> Vec<&'a Doc> {
    let found: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.get("event.action") == Some(&json!(action)))
        .collect();
    assert!(!found.is_empty(), "no {action} record");
    found
}

#[test]
fn bash_ok_tool_decision_and_result() {
    let d = docs("captures/bash_ok/logs.json");
    let decision = by_action(&d, "tool_decision")[0];
    assert_eq!(decision["event.category"], json!(["iam"]));
    assert_eq!(decision["event.outcome"], json!("success"));
    assert_eq!(
        decision["claude_code.events.decision_source"],
        json!("config")
    );
    let result = by_action(&d, "tool_result")[0];
    assert_eq!(result["event.category"], json!(["process"]));
    assert_eq!(result["event.type"], json!(["info"]));
    assert_eq!(result["event.outcome"], json!("success"));
    assert_eq!(
        result["process.command_line"],
        json!("echo hello-from-mock")
    );
    assert_eq!(result["gen_ai.tool.name"], json!("Bash"));
    assert_eq!(
        result["gen_ai.tool.call.arguments.command"],
        json!("echo hello-from-mock")
    );
    assert_eq!(
        result["claude_code.events.tool_parameters_flattened.full_command"],
        json!("echo hello-from-mock")
    );
    // duration_ms arrives as the string "…" on tool_result: a long in ns, and removed.
    assert!(result["event.duration"].as_i64().unwrap() % 1_000_000 == 0);
    assert!(!result.contains_key("claude_code.events.duration_ms"));
    assert!(!result.contains_key("claude_code.events.tool_name"));
    assert!(result["claude_code.events.tool_input_size_bytes"].is_i64());
    assert_eq!(result["event.provider"], json!("claude-code"));
    assert_eq!(
        result["data_stream.dataset"],
        json!("claude_code.events.otel")
    );
    assert_eq!(result["data_stream.namespace"], json!("default"));
    assert_eq!(result["ecs.version"], json!("9.3.0"));
    // API-key auth: no email, so related.user is just the user.id hash.
    assert_eq!(result["related.user"], json!([result["user.id"].clone()]));
    let api = by_action(&d, "api_request")[0];
    assert!(api["gen_ai.usage.input_tokens"].is_i64());
    assert!(api["claude_code.events.cost_usd"].is_f64());
    assert_eq!(api["gen_ai.request.model"], api["gen_ai.response.model"]);
    assert_eq!(
        api["claude_code.events.anthropic.custom_base_url"],
        json!(true)
    );
    assert!(api["claude_code.events.event.sequence"].is_i64());
}

#[test]
fn failure_paths_are_failures() {
    let d = docs("captures/bash_fail/logs.json");
    let result = by_action(&d, "tool_result")[0];
    assert_eq!(result["event.outcome"], json!("failure"));
    assert_eq!(result["event.reason"], json!("Shell command failed"));
    assert_eq!(result["error.type"], json!("ShellError"));
    assert_eq!(result["process.command_line"], json!("ls /nonexistent-dir"));

    let d = docs("captures/tool_rejected/logs.json");
    let decision = by_action(&d, "tool_decision")[0];
    assert_eq!(decision["event.outcome"], json!("failure"));
    assert_eq!(decision["claude_code.events.decision"], json!("reject"));

    let d = docs("captures/api_error/logs.json");
    for action in ["api_error", "api_retries_exhausted", "internal_error"] {
        let r = by_action(&d, action)[0];
        assert_eq!(r["event.outcome"], json!("failure"), "{action}");
    }
    let err = by_action(&d, "api_error")[0];
    assert_eq!(err["event.reason"], json!("Internal server error"));
    assert_eq!(err["claude_code.events.status_code"], json!(500));
    assert_eq!(
        by_action(&d, "internal_error")[0]["event.category"],
        json!(["host"])
    );

    let d = docs("captures/mcp_failed/logs.json");
    let failed = by_action(&d, "mcp_server_connection")
        .into_iter()
        .find(|r| r["claude_code.events.status"] == json!("failed"))
        .unwrap();
    assert_eq!(failed["error.code"], json!("CONNECTION_CLOSED"));
    assert_eq!(failed["event.reason"], json!("Connection closed"));
    assert_eq!(failed["event.type"], json!(["connection"]));
    assert!(!failed.contains_key("related.hosts"));

    let d = docs("captures/api_refusal/logs.json");
    let refusal = by_action(&d, "api_refusal");
    assert_eq!(refusal.len(), 3);
    assert_eq!(refusal[0]["event.type"], json!(["denied"]));
    assert_eq!(refusal[0]["claude_code.events.has_category"], json!(true));
}

#[test]
fn claude_code_mcp_names_come_from_tool_parameters() {
    let d = docs("captures/mcp/logs.json");
    let result = by_action(&d, "tool_result")[0];
    assert_eq!(result["gen_ai.tool.name"], json!("lookup_ticket"));
    assert_eq!(
        result["claude_code.events.mcp_server_name"],
        json!("tickets")
    );
    assert_eq!(
        result["claude_code.events.mcp_tool_name"],
        json!("lookup_ticket")
    );
    assert_eq!(
        result["claude_code.events.mcp_server_scope"],
        json!("dynamic")
    );
}

#[test]
fn file_tools_take_file_path_from_tool_input() {
    let d = docs("captures/file_tools/logs.json");
    let results = by_action(&d, "tool_result");
    assert_eq!(results.len(), 2);
    for r in results {
        assert!(
            r["file.path"].as_str().unwrap().ends_with("mock-notes.txt"),
            "{r:?}"
        );
        assert!(!r.contains_key("claude_code.events.tool_parameters"));
    }
}

#[test]
fn prompts_and_redacted_content() {
    let d = docs("captures/bash_ok/logs.json");
    let prompt = by_action(&d, "user_prompt")[0];
    assert_eq!(
        prompt["claude_code.events.prompt_text"],
        json!("say hello using bash")
    );
    assert!(!prompt.contains_key("claude_code.events.prompt"));
    assert!(
        prompt.get("event.category").is_none(),
        "user_prompt gets event.kind only"
    );
    assert!(prompt["claude_code.events.prompt_length"].is_i64());
    let d = docs("captures/redacted_default/logs.json");
    assert_eq!(
        by_action(&d, "user_prompt")[0]["claude_code.events.prompt_text"],
        json!("<REDACTED>")
    );
    assert_eq!(
        by_action(&d, "assistant_response")[0]["claude_code.events.response"],
        json!("<REDACTED>")
    );
    assert!(
        by_action(&d, "tool_result")[0]
            .get("gen_ai.tool.call.arguments")
            .is_none()
    );
}

#[test]
fn live_only_events_are_categorized() {
    let d = docs("captures/content_all/logs.json");
    assert_eq!(
        by_action(&d, "managed_settings_resolved")[0]["event.category"],
        json!(["configuration"])
    );
    let body = by_action(&d, "api_request_body")[0];
    assert_eq!(body["event.category"], json!(["api"]));
    assert!(body["claude_code.events.body_length"].is_i64());
    assert!(
        by_action(&d, "assistant_response")[0]
            .get("event.category")
            .is_none()
    );
    let d = docs("captures/subagent/logs.json");
    let sub = by_action(&d, "subagent_completed")[0];
    assert_eq!(sub["event.type"], json!(["end"]));
    assert_eq!(sub["claude_code.events.is_built_in"], json!(true));
    let d = docs("captures/hooks/logs.json");
    let complete = by_action(&d, "hook_execution_complete");
    assert!(
        complete
            .iter()
            .any(|c| c["claude_code.events.num_non_blocking_error"] == json!(1))
    );
    assert_eq!(complete[0]["claude_code.events.safe_mode"], json!("false"));
    let d = docs("captures/skill/logs.json");
    assert_eq!(
        by_action(&d, "skill_activated")[0]["claude_code.events.skill.name"],
        json!("dataviz")
    );
}

#[test]
fn traces_keep_trace_context() {
    let (req, _) = transformed("captures/traces/logs.json", &Config::default());
    let with_trace = records(&req)
        .into_iter()
        .filter(|r| !r.trace_id.is_empty())
        .count();
    assert!(
        with_trace > 0,
        "records inside an interaction keep their trace ids"
    );
}

#[test]
fn cowork_fixture_every_event_type() {
    let d = docs("cowork/events.otlp.json");
    // The categories are the table's (docs/mapping.md §1); the outcomes
    // depend on each record's data.
    let expect: &[(&str, &str)] = &[
        ("tool_result", "success"),
        ("tool_decision", "success"),
        ("api_request", "unknown"),
        ("api_error", "failure"),
        ("api_retries_exhausted", "failure"),
        ("api_refusal", "unknown"),
        ("auth", "success"),
        ("permission_mode_changed", "unknown"),
        ("mcp_server_connection", "unknown"),
        ("hook_registered", "unknown"),
        ("hook_execution_start", "unknown"),
        ("hook_execution_complete", "unknown"),
        ("plugin_loaded", "unknown"),
        ("plugin_installed", "unknown"),
        ("managed_settings_resolved", "unknown"),
        ("api_request_body", "unknown"),
        ("api_response_body", "unknown"),
        ("subagent_completed", "unknown"),
        ("internal_error", "failure"),
        ("user_prompt", "unknown"),
        ("skill_activated", "unknown"),
        ("assistant_response", "unknown"),
        ("compaction", "success"),
    ];
    assert_eq!(
        expect.len(),
        distinct_actions(&d),
        "every event of the fixture"
    );
    for (action, outcome) in expect {
        let r = by_action(&d, action)[0];
        match event_categorization(action).0 {
            Some((c, t)) => {
                assert_eq!(r["event.category"], json!([c]), "{action}");
                assert_eq!(r["event.type"], json!([t]), "{action}");
            }
            None => assert!(
                !r.contains_key("event.category") && !r.contains_key("event.type"),
                "{action}"
            ),
        }
        assert_eq!(r["event.outcome"], json!(outcome), "{action}");
        assert_eq!(r["event.provider"], json!("claude-cowork"), "{action}");
        assert_eq!(
            r["data_stream.dataset"],
            json!("claude_cowork.events.otel"),
            "{action}"
        );
        assert_eq!(
            r["related.user"],
            json!(["dana@example.org", r["user.id"].clone()]),
            "{action}"
        );
        assert_eq!(
            r["claude_cowork.events.terminal.type"],
            json!("non-interactive"),
            "{action}"
        );
        assert_eq!(
            r["claude_cowork.events.claude.deployment_mode"],
            json!("1p"),
            "{action}"
        );
    }
    // Dotted MCP attributes on tool_decision / tool_result.
    let mcp = &by_action(&d, "tool_result")[0];
    assert_eq!(mcp["gen_ai.tool.name"], json!("lookup_ticket"));
    assert_eq!(
        mcp["claude_cowork.events.mcp_server.name"],
        json!("tickets")
    );
    assert_eq!(mcp["event.duration"], json!(87_000_000));
    // Host paths stay an array.
    let prompt = by_action(&d, "user_prompt")[0];
    assert_eq!(
        prompt["claude_cowork.events.workspace.host_paths"],
        json!(["/Users/dana/Documents/Reports", "/Users/dana/Downloads"])
    );
    // Tool-detail capture on: Bash command and a Read path.
    let results = by_action(&d, "tool_result");
    assert!(results.iter().any(|r| r.get("process.command_line") == Some(&json!("ls /sessions/demo/mnt/Reports"))));
    assert!(
        results
            .iter()
            .any(|r| r.get("file.path") == Some(&json!("/sessions/demo/mnt/Reports/q3.md")))
    );
    // A double duration (12.5 ms).
    assert!(
        results
            .iter()
            .any(|r| r.get("event.duration") == Some(&json!(12_500_000)))
    );
    // Named only by LogRecord.event_name.
    assert!(
        by_action(&d, "tool_decision")
            .iter()
            .any(|r| r["gen_ai.tool.name"] == json!("Write"))
    );
    // Strings that are booleans / numbers got their types.
    assert_eq!(
        by_action(&d, "plugin_loaded")[0]["claude_cowork.events.has_mcp"],
        json!(true)
    );
    assert_eq!(
        by_action(&d, "api_error")[0]["claude_cowork.events.status_code"],
        json!(529)
    );
}

#[test]
fn broken_tool_parameters_is_a_pipeline_error_that_keeps_everything() {
    let (req, d) = transformed("cowork/events.otlp.json", &Config::default());
    let broken: Vec<&Doc> = d
        .iter()
        .filter(|r| r.get("event.kind") == Some(&json!("pipeline_error")))
        .collect();
    assert_eq!(broken.len(), 1);
    let r = broken[0];
    assert!(
        r["error.message"]
            .as_str()
            .unwrap()
            .contains("tool_parameters"),
        "{r:?}"
    );
    assert_eq!(r["tags"], json!(["preserve_original_event"]));
    let original: Json = serde_json::from_str(r["event.original"].as_str().unwrap()).unwrap();
    let keys: Vec<&str> = original["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kv| kv["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"tool_parameters") && keys.contains(&"duration_ms"),
        "{keys:?}"
    );
    // Still normalized as far as possible, raw text kept.
    assert_eq!(r["gen_ai.tool.name"], json!("WebFetch"));
    assert_eq!(r["event.duration"], json!(450_000_000));
    assert!(
        r["claude_cowork.events.tool_parameters"]
            .as_str()
            .unwrap()
            .starts_with("{\"url\"")
    );
    // Nothing dropped: every record is still there.
    assert_eq!(records(&req).len(), 30);
}

#[test]
fn non_claude_records_are_untouched() {
    let before = read_request(&testdata().join("cowork/events.otlp.json"));
    let (after, _) = transformed("cowork/events.otlp.json", &Config::default());
    assert_eq!(before.resource_logs[1], after.resource_logs[1]);
    assert_eq!(
        before.resource_logs[0].resource,
        after.resource_logs[0].resource
    );
}

#[test]
fn configured_names_route_and_recognize() {
    let config = Config::from_json(
        br#"{"cowork":{"service_names":["billing-api"],"dataset":"billing.events"},"namespace":"prod","preserve_original":true}"#,
    )
    .unwrap();
    let (_, d) = transformed("cowork/events.otlp.json", &config);
    // The cowork resource is no longer recognized: its records are untouched.
    assert!(d[0].get("event.action").is_none());
    let billing = d.last().unwrap();
    assert_eq!(billing["data_stream.dataset"], json!("billing.events"));
    assert_eq!(billing["data_stream.namespace"], json!("prod"));
    assert_eq!(billing["event.duration"], json!(12_000_000));
    assert!(
        billing.contains_key("event.original"),
        "preserve_original sets it on every record"
    );
    assert_eq!(billing["event.kind"], json!("event"));
}

#[test]
fn unconvertible_values_are_kept_and_marked() {
    let json_req = br#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"claude-code"}}]},
      "scopeLogs":[{"logRecords":[{"body":{"stringValue":"claude_code.api_request"},"attributes":[
        {"key":"input_tokens","value":{"stringValue":"many"}},
        {"key":"event.sequence","value":{"kvlistValue":{"values":[{"key":"a","value":{"intValue":"1"}}]}}},
        {"key":"duration_ms","value":{"boolValue":true}},
        {"key":"tool_input","value":{"stringValue":"[1,2]"}},
        {"key":"cost_usd","value":{"stringValue":"0.5"}}]}]}]}]}"#;
    let mut req = cowork_ecs::otlp::from_json(json_req).unwrap();
    Transformer::new(&Config::default())
        .unwrap()
        .transform_logs_request(&mut req, None);
    let r = flat_attributes(records(&req)[0]);
    assert_eq!(r["event.kind"], json!("pipeline_error"));
    assert_eq!(r["claude_code.events.input_tokens"], json!("many"));
    assert_eq!(r["claude_code.events.event.sequence.a"], json!(1));
    assert_eq!(r["claude_code.events.duration_ms"], json!(true));
    assert_eq!(r["claude_code.events.cost_usd"], json!(0.5));
    let message = r["error.message"].as_str().unwrap();
    for key in [
        "input_tokens",
        "event.sequence",
        "duration_ms",
        "tool_input",
    ] {
        assert!(message.contains(key), "{key} missing from {message}");
    }
    assert!(!r.contains_key("gen_ai.usage.input_tokens"));
    assert_eq!(r["event.action"], json!("api_request"));
}

#[test]
fn claude_scopes_ask_the_exporter_for_ecs_mapping() {
    let (req, _) = transformed("cowork/events.otlp.json", &Config::default());
    let mode = |rl: &cowork_ecs::otlp::ResourceLogs| {
        rl.scope_logs[0].scope.as_ref().and_then(|s| {
            s.attributes
                .iter()
                .find(|kv| kv.key == cowork_ecs::ecs::MAPPING_MODE_ATTRIBUTE)
                .and_then(|kv| kv.value.clone())
        })
    };
    assert_eq!(
        format!("{:?}", mode(&req.resource_logs[0])),
        r#"Some(AnyValue { value: Some(StringValue("ecs")) })"#
    );
    assert_eq!(
        mode(&req.resource_logs[1]),
        None,
        "non-Claude scopes keep the exporter's default"
    );
}

/// Every log event Claude Code's monitoring documentation (2026-10) lists.
const DOCUMENTED_EVENTS: &[&str] = &[
    "user_prompt",
    "tool_result",
    "api_request",
    "api_error",
    "api_refusal",
    "api_retries_exhausted",
    "api_request_body",
    "api_response_body",
    "tool_decision",
    "assistant_response",
    "auth",
    "permission_mode_changed",
    "mcp_server_connection",
    "hook_registered",
    "hook_execution_start",
    "hook_execution_complete",
    "hook_plugin_metrics",
    "plugin_loaded",
    "plugin_installed",
    "skill_activated",
    "subagent_completed",
    "managed_settings_resolved",
    "internal_error",
    "at_mention",
    "compaction",
    "feedback_survey",
    "retention_sweep",
    "system_prompt",
];

/// Events the 2.1.330 binary emits that the documentation does not list.
const UNDOCUMENTED_EVENTS: &[&str] = &["safety_event", "tool"];

/// A Claude Code request with one record per `(event name, extra attributes)`.
fn claude_code_request(records: &[(&str, Json)]) -> ExportLogsServiceRequest {
    let records: Vec<Json> = records
        .iter()
        .map(|(name, extra)| {
            let mut attributes = vec![
                json!({"key": "event.name", "value": {"stringValue": name}}),
                json!({"key": "session.id", "value": {"stringValue": "s-1"}}),
            ];
            for (k, v) in extra.as_object().unwrap() {
                attributes.push(json!({"key": k, "value": v}));
            }
            json!({"timeUnixNano": "1795291644359000000", "body": {"stringValue": format!("claude_code.{name}")}, "attributes": attributes})
        })
        .collect();
    let req = json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code"}, "logRecords": records}]
    }]});
    cowork_ecs::otlp::from_json(req.to_string().as_bytes()).unwrap()
}

fn transform_docs(req: &mut ExportLogsServiceRequest, config: &Config) -> Vec<Doc> {
    Transformer::new(config)
        .unwrap()
        .transform_logs_request(req, None);
    records(req).iter().map(|r| flat_attributes(r)).collect()
}

#[test]
fn every_documented_event_is_categorized() {
    let mut names: Vec<(&str, Json)> = (DOCUMENTED_EVENTS.iter())
        .chain(UNDOCUMENTED_EVENTS)
        .map(|n| (*n, json!({})))
        .collect();
    names.push(("a_future_event", json!({})));
    let mut req = claude_code_request(&names);
    let mut docs = transform_docs(&mut req, &Config::default());
    assert_eq!(docs.len(), names.len());
    // An unknown name is still delivered, with the default category.
    let future = docs.pop().unwrap();
    assert_eq!(future["event.category"], json!(["host"]));
    assert_eq!(future["event.type"], json!(["info"]));
    for doc in &docs {
        let name = doc["event.action"].as_str().unwrap();
        let default = doc.get("event.category") == Some(&json!(["host"]))
            && doc.get("event.type") == Some(&json!(["info"]));
        assert!(!default, "{name} falls to the host/info default");
        assert_eq!(doc["event.kind"], json!("event"), "{name}");
        // What the table says is what the document gets.
        let (category, failure) = event_categorization(name);
        match category {
            Some((c, t)) => {
                assert_eq!(doc["event.category"], json!([c]), "{name}");
                assert_eq!(doc["event.type"], json!([t]), "{name}");
            }
            None => assert!(!doc.contains_key("event.category"), "{name}"),
        }
        if failure {
            assert_eq!(doc["event.outcome"], json!("failure"), "{name}");
        }
    }
}

#[test]
fn new_attributes_are_typed_and_placed() {
    let mut req = claude_code_request(&[
        (
            "safety_event",
            json!({"tool_name": {"stringValue": "Bash"}, "classifier_category": {"stringValue": "network"},
                   "tool_use_id": {"stringValue": "toolu_1"}, "sandbox_violation_count": {"stringValue": "3"},
                   "sandbox_enabled": {"stringValue": "true"}}),
        ),
        (
            "api_request",
            json!({"agent.name": {"stringValue": "Explore"}, "skill.name": {"stringValue": "dataviz"},
                   "vcs.repository.url.full": {"stringValue": "https://github.com/acme/app"},
                   "vcs.ref.head.name": {"stringValue": "main"}, "workflow.run_id": {"stringValue": "42"},
                   "user.groups": {"arrayValue": {"values": [{"stringValue": "eng"}]}},
                   "final_model": {"stringValue": "claude-opus-5-5"}}),
        ),
    ]);
    let docs = transform_docs(&mut req, &Config::default());
    let safety = by_action(&docs, "safety_event")[0];
    assert_eq!(safety["gen_ai.tool.name"], json!("Bash"));
    assert_eq!(safety["gen_ai.tool.call.id"], json!("toolu_1"));
    assert_eq!(
        safety["claude_code.events.sandbox_violation_count"],
        json!(3)
    );
    assert_eq!(safety["claude_code.events.sandbox_enabled"], json!(true));
    assert_eq!(
        safety["claude_code.events.classifier_category"],
        json!("network")
    );
    let api = by_action(&docs, "api_request")[0];
    // ECS agent.* is the shipper: Claude's agent stays under the vendor prefix.
    assert_eq!(api["claude_code.events.agent.name"], json!("Explore"));
    assert!(!api.contains_key("agent.name"));
    assert_eq!(
        api["vcs.repository.url.full"],
        json!("https://github.com/acme/app")
    );
    assert_eq!(api["vcs.ref.head.name"], json!("main"));
    assert_eq!(api["cicd.pipeline.run.id"], json!("42"));
    assert_eq!(api["user.group.name"], json!(["eng"]));
}

#[test]
fn system_prompt_and_tool_definitions_are_content() {
    const CANARY: &str = "SYSTEM-PROMPT-CANARY-7731";
    let records = [
        (
            "system_prompt",
            json!({"system_prompt": {"stringValue": format!("You are {CANARY}")},
                   "system_prompt_hash": {"stringValue": "ab12"}, "system_prompt_length": {"intValue": "24"}}),
        ),
        (
            "tool",
            json!({"tool_name": {"stringValue": "Bash"}, "tool_hash": {"stringValue": "cd34"},
                   "tool": {"stringValue": format!("{{\"name\":\"Bash\",\"description\":\"{CANARY}\"}}")}}),
        ),
    ];
    for (action, absent) in [("drop", true), ("keep", false)] {
        let config = Config::from_json(
            format!(r#"{{"content":{{"api_bodies":"{action}"}},"preserve_original":true}}"#)
                .as_bytes(),
        )
        .unwrap();
        let docs = transform_docs(&mut claude_code_request(&records), &config);
        let text = serde_json::to_string(&docs).unwrap();
        assert_eq!(!text.contains(CANARY), absent, "api_bodies: {action}");
        let prompt = by_action(&docs, "system_prompt")[0];
        assert_eq!(prompt["claude_code.events.system_prompt_length"], json!(24));
        assert_eq!(
            prompt["claude_code.events.system_prompt_hash"],
            json!("ab12")
        );
    }
}

#[test]
fn identity_policy_hashes_or_drops_the_user() {
    const EMAIL: &str = "canary.user@example.com";
    let attrs = json!({"user.email": {"stringValue": EMAIL}, "user.account_uuid": {"stringValue": "acc-uuid-1"},
                       "user.account_id": {"stringValue": "acc-id-1"}, "user.id": {"stringValue": "u-hash"}});
    let key = "0123456789abcdef0123456789abcdef";
    for identity in ["keep", "hash", "drop"] {
        let config = Config::from_json(
            format!(r#"{{"identity":"{identity}","content":{{"hmac_key":"{key}"}},"preserve_original":true}}"#)
                .as_bytes(),
        )
        .unwrap();
        let mut req = claude_code_request(&[
            ("api_request", attrs.clone()),
            ("api_request", attrs.clone()),
        ]);
        // The identity on the resource too (as Cowork sends it).
        let resource = req.resource_logs[0].resource.as_mut().unwrap();
        resource.attributes.push(cowork_ecs::otlp::KeyValue {
            key: "user.email".into(),
            value: Some(cowork_ecs::otlp::AnyValue {
                value: Some(cowork_ecs::otlp::Value::StringValue(EMAIL.into())),
            }),
            ..Default::default()
        });
        let docs = transform_docs(&mut req, &config);
        let text = format!("{docs:?} {:?}", req.resource_logs[0].resource);
        assert_eq!(
            text.contains(EMAIL),
            identity == "keep",
            "identity: {identity}"
        );
        assert_eq!(
            text.contains("acc-uuid-1"),
            identity == "keep",
            "identity: {identity}"
        );
        let doc = &docs[0];
        match identity {
            "keep" => assert_eq!(doc["related.user"], json!([EMAIL, "u-hash"])),
            "hash" => {
                let hashed = doc["user.email"].as_str().unwrap();
                assert_eq!(hashed.len(), 64);
                assert_eq!(docs[1]["user.email"], json!(hashed), "joinable");
                assert_eq!(doc["related.user"], json!([hashed, "u-hash"]));
            }
            _ => {
                assert!(!doc.contains_key("user.email"));
                assert_eq!(doc["related.user"], json!(["u-hash"]));
            }
        }
    }
}
