//! `cowork-ecs emitter-settings` (issue 26): the Claude Code managed-settings
//! document and the Cowork admin console values, and exit status 2 with a
//! clear message for bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// Runs `cowork-ecs emitter-settings <args>`: (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cowork-ecs"))
        .arg("emitter-settings")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file in a fresh temporary directory holding `text`.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cowork-ecs-emitter-settings-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn env_of(stdout: &str) -> serde_json::Map<String, serde_json::Value> {
    let doc: serde_json::Value = serde_json::from_str(stdout).unwrap();
    doc["env"].as_object().unwrap().clone()
}

#[test]
fn claude_code_settings_pin_the_telemetry() {
    let token = file("token", "tok-123\n");
    let (code, out, err) = run(&[
        "claude-code",
        "--endpoint",
        "https://gw.example.com:4318/",
        "--token-file",
        token.to_str().unwrap(),
        "--ca-file",
        "/etc/ssl/gw-ca.pem",
        "--signals",
        "logs,traces",
        "--resource-attributes",
        "department=finance, cost_center=42",
        "--content",
        "prompts=on,tool_details=off",
    ]);
    assert_eq!(code, 0, "{err}");
    let env = env_of(&out);
    let get = |k: &str| env.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    assert_eq!(get("CLAUDE_CODE_ENABLE_TELEMETRY"), "1");
    assert_eq!(
        get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "https://gw.example.com:4318"
    );
    assert_eq!(get("OTEL_EXPORTER_OTLP_PROTOCOL"), "http/protobuf");
    assert_eq!(
        get("OTEL_EXPORTER_OTLP_HEADERS"),
        "Authorization=Bearer tok-123"
    );
    assert_eq!(get("NODE_EXTRA_CA_CERTS"), "/etc/ssl/gw-ca.pem");
    assert_eq!(
        (
            get("OTEL_LOGS_EXPORTER"),
            get("OTEL_METRICS_EXPORTER"),
            get("OTEL_TRACES_EXPORTER")
        ),
        ("otlp", "none", "otlp")
    );
    assert_eq!(get("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"), "1");
    assert_eq!(
        get("OTEL_RESOURCE_ATTRIBUTES"),
        "department=finance,cost_center=42"
    );
    assert_eq!(get("OTEL_LOG_USER_PROMPTS"), "1");
    assert_eq!(get("OTEL_LOG_TOOL_DETAILS"), "0");
    // Classes not named are pinned to their defaults, so a user cannot turn them on.
    assert_eq!(get("OTEL_LOG_RAW_API_BODIES"), "0");
    assert!(env.values().all(serde_json::Value::is_string), "{out}");
    assert!(!out.contains("otelHeadersHelper"));
}

#[test]
fn claude_code_settings_with_a_headers_helper() {
    let (code, out, err) = run(&[
        "claude-code",
        "--endpoint",
        "https://gw:4317",
        "--protocol",
        "grpc",
        "--headers-helper",
        "/usr/local/share/cowork-ecs/otel-headers-helper.sh",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["otelHeadersHelper"],
        "/usr/local/share/cowork-ecs/otel-headers-helper.sh"
    );
    let env = env_of(&out);
    assert!(!env.contains_key("OTEL_EXPORTER_OTLP_HEADERS"));
    assert_eq!(env["OTEL_EXPORTER_OTLP_PROTOCOL"], "grpc");
    // Default signals: logs and metrics.
    assert_eq!(env["OTEL_METRICS_EXPORTER"], "otlp");
    assert_eq!(env["OTEL_TRACES_EXPORTER"], "none");
    assert_eq!(env["OTEL_LOG_TOOL_DETAILS"], "1");
    assert_eq!(env["OTEL_LOG_USER_PROMPTS"], "0");
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let token = file("token2", "tok\n");
    let token = token.to_str().unwrap();
    let empty = file("empty", " \n");
    let empty = empty.to_str().unwrap();
    let spaced = file("spaced", "a b\n");
    let spaced = spaced.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "claude-code",
                "--endpoint",
                "http://gw:4318",
                "--token-file",
                token,
            ],
            "not https",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "gw:4318",
                "--token-file",
                token,
            ],
            "give a URL",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318/v1/logs",
                "--token-file",
                token,
            ],
            "base URL",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                "/nonexistent/token",
            ],
            "--token-file /nonexistent/token",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                empty,
            ],
            "the file is empty",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                spaced,
            ],
            "a space",
        ),
        (
            &["claude-code", "--endpoint", "https://gw:4318"],
            "the following required arguments were not provided",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--headers-helper",
                "/h.sh",
            ],
            "cannot be used with",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--signals",
                "logs,profiles",
            ],
            "invalid value 'profiles' for '--signals",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--headers-helper",
                "helper.sh",
            ],
            "absolute path",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--ca-file",
                "ca.pem",
            ],
            "absolute path",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--resource-attributes",
                "department",
            ],
            "is not key=value",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--resource-attributes",
                "service.name=x",
            ],
            "service.name",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--content",
                "prompts=yes",
            ],
            "prompts=on or off",
        ),
        (
            &[
                "claude-code",
                "--endpoint",
                "https://gw:4318",
                "--token-file",
                token,
                "--content",
                "thoughts=on",
            ],
            "unknown class",
        ),
        (
            &[
                "cowork",
                "--endpoint",
                "http://gw:4318",
                "--token-file",
                token,
            ],
            "not https",
        ),
        (
            &["cowork", "--endpoint", "https://gw:4318"],
            "required arguments",
        ),
        (
            &[
                "cowork",
                "--endpoint",
                "https://gw:4318",
                "--basic-auth-file",
                token,
            ],
            "user:password",
        ),
    ];
    for (args, message) in cases {
        let (code, out, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // Plaintext only when asked for.
    let (code, out, err) = run(&[
        "claude-code",
        "--endpoint",
        "http://127.0.0.1:4318",
        "--token-file",
        token,
        "--insecure-plaintext",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        env_of(&out)["OTEL_EXPORTER_OTLP_ENDPOINT"],
        "http://127.0.0.1:4318"
    );
}

#[test]
fn cowork_values_as_text_and_json() {
    let token = file("token3", "tok-9\n");
    let args = [
        "cowork",
        "--endpoint",
        "https://gw.example.com:4318",
        "--token-file",
        token.to_str().unwrap(),
    ];
    let (code, text, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    for line in [
        "Admin settings > Cowork",
        "OTLP endpoint  https://gw.example.com:4318",
        "OTLP protocol  http/protobuf",
        "OTLP headers   Authorization=Bearer tok-9",
        "allow          gw.example.com",
    ] {
        assert!(text.contains(line), "{text}");
    }
    let (code, out, err) = run(&[&args[..], &["--output", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["otlp_endpoint"], "https://gw.example.com:4318");
    assert_eq!(doc["otlp_protocol"], "http/protobuf");
    assert_eq!(doc["otlp_headers"], "Authorization=Bearer tok-9");
    assert_eq!(doc["network_egress_allow"], "gw.example.com");
    let basic = file("basic", "cowork:s3cret\n");
    let (code, out, err) = run(&[
        "cowork",
        "--endpoint",
        "https://gw:4318",
        "--basic-auth-file",
        basic.to_str().unwrap(),
        "--protocol",
        "http/json",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc["otlp_headers"],
        "Authorization=Basic Y293b3JrOnMzY3JldA=="
    );
    assert_eq!(doc["otlp_protocol"], "http/json");
    for (endpoint, host) in [("https://[::1]:4318", "[::1]"), ("https://[::1]", "[::1]")] {
        let (code, out, err) = run(&[
            "cowork",
            "--endpoint",
            endpoint,
            "--token-file",
            token.to_str().unwrap(),
            "--output",
            "json",
        ]);
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["network_egress_allow"], host, "{endpoint}");
    }
}
