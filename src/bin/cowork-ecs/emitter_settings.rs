//! `emitter-settings`: what an organization deploys so that every Claude
//! Code and Cowork sends its telemetry to the gateway (README "Rolling out").
//!
//! ```text
//! cowork-ecs emitter-settings claude-code --endpoint https://gw:4318 (--token-file F | --headers-helper PATH)
//!     [--protocol http/protobuf|grpc] [--ca-file PEM] [--signals logs,metrics,traces]
//!     [--resource-attributes k=v,...] [--content prompts=on|off,...] [--insecure-plaintext]
//! cowork-ecs emitter-settings cowork --endpoint https://gw:4318 (--token-file F | --basic-auth-file F)
//!     [--protocol http/protobuf|http/json|grpc] [--output text|json]
//! ```
//!
//! `claude-code` prints a Claude Code managed-settings document: the file an
//! MDM profile, the Claude.ai admin console or a file deployment puts at
//! `/etc/claude-code/managed-settings.json` (Linux), also valid as one file
//! of `managed-settings.d/`. Its `env` block is the only telemetry
//! configuration the CLI needs, and a user's own settings cannot change it.
//! `cowork` prints the three values an admin enters in the Claude admin
//! console (Admin settings > Cowork). Bad input: a message and exit status 2.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Which emitter to print settings for.
#[derive(Subcommand)]
pub enum Emitter {
    /// Claude Code managed settings (JSON) for MDM, the admin console or
    /// /etc/claude-code/managed-settings.json (or a managed-settings.d/ file).
    ClaudeCode(ClaudeCodeArgs),
    /// What an admin enters for Cowork in the Claude admin console
    /// (Admin settings > Cowork): OTLP endpoint, protocol and headers.
    Cowork(CoworkArgs),
}

/// `emitter-settings claude-code`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("credential").required(true).multiple(false))]
pub struct ClaudeCodeArgs {
    /// The gateway's OTLP endpoint, the base URL (https://gateway.example.com:4318;
    /// the emitter appends /v1/logs, ...).
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// OTLP protocol: http/protobuf (port 4318) or grpc (port 4317).
    #[arg(long, value_enum, default_value_t = ClaudeProtocol::HttpProtobuf)]
    protocol: ClaudeProtocol,
    /// File holding the gateway's bearer token (COWORK_ECS_INGEST_TOKEN):
    /// written into the settings as OTEL_EXPORTER_OTLP_HEADERS, the same for every machine.
    #[arg(long, value_name = "FILE", group = "credential")]
    token_file: Option<PathBuf>,
    /// Absolute path, on the users' machines, of a script printing the user's
    /// own headers as a JSON object (otelHeadersHelper; e.g.
    /// collector-config/otel-headers-helper.sh for the multi-tenant gateway).
    #[arg(long, value_name = "PATH", group = "credential")]
    headers_helper: Option<String>,
    /// Absolute path, on the users' machines, of the PEM CA that signed the
    /// gateway's certificate (NODE_EXTRA_CA_CERTS: what Claude Code trusts).
    #[arg(long, value_name = "PATH")]
    ca_file: Option<String>,
    /// Signals to export; the others are switched off (traces: the beta
    /// enhanced telemetry).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "logs,metrics"
    )]
    signals: Vec<SignalName>,
    /// OTEL_RESOURCE_ATTRIBUTES, k=v pairs separated by commas (e.g.
    /// department=finance,cost_center=42); values percent-encoded as OTel says.
    #[arg(long, value_name = "K=V,...")]
    resource_attributes: Option<String>,
    /// What content the emitter sends, class=on|off separated by commas:
    /// prompts (OTEL_LOG_USER_PROMPTS), responses (OTEL_LOG_ASSISTANT_RESPONSES),
    /// tool_details (OTEL_LOG_TOOL_DETAILS), tool_output (OTEL_LOG_TOOL_CONTENT),
    /// api_bodies (OTEL_LOG_RAW_API_BODIES). Every class is pinned; unnamed
    /// ones take the default: tool_details on (the detection rules read it), the rest off.
    #[arg(long, value_name = "CLASS=on|off,...")]
    content: Option<String>,
    /// Allow an http:// endpoint (a gateway on loopback, or behind a
    /// TLS-terminating proxy on the same host). Tokens and prompts cross in clear.
    #[arg(long)]
    insecure_plaintext: bool,
}

/// `emitter-settings cowork`.
#[derive(Args)]
#[command(group = clap::ArgGroup::new("credential").required(true).multiple(false))]
pub struct CoworkArgs {
    /// The gateway's OTLP endpoint, the base URL (https://gateway.example.com:4318).
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// OTLP protocol as the admin console offers it.
    #[arg(long, value_enum, default_value_t = CoworkProtocol::HttpProtobuf)]
    protocol: CoworkProtocol,
    /// File holding the gateway's bearer token (gateway.yaml).
    #[arg(long, value_name = "FILE", group = "credential")]
    token_file: Option<PathBuf>,
    /// File holding `user:password` of the organization's Cowork tenant on the
    /// multi-tenant gateway (the admin console has one header for everyone).
    #[arg(long, value_name = "FILE", group = "credential")]
    basic_auth_file: Option<PathBuf>,
    /// Output: text for a person, json for a script.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Allow an http:// endpoint (tokens and prompts then cross in clear).
    #[arg(long)]
    insecure_plaintext: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum ClaudeProtocol {
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "grpc")]
    Grpc,
}

#[derive(Clone, Copy, ValueEnum)]
enum CoworkProtocol {
    #[value(name = "http/protobuf")]
    HttpProtobuf,
    #[value(name = "http/json")]
    HttpJson,
    #[value(name = "grpc")]
    Grpc,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SignalName {
    Logs,
    Metrics,
    Traces,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

/// The emitter's content switches: the gateway's content class (README
/// "Content policy"), the Claude Code variable, and whether it is on when
/// `--content` does not name it.
const CONTENT: [(&str, &str, bool); 5] = [
    ("prompts", "OTEL_LOG_USER_PROMPTS", false),
    ("responses", "OTEL_LOG_ASSISTANT_RESPONSES", false),
    ("tool_details", "OTEL_LOG_TOOL_DETAILS", true),
    ("tool_output", "OTEL_LOG_TOOL_CONTENT", false),
    ("api_bodies", "OTEL_LOG_RAW_API_BODIES", false),
];

/// Runs `emitter-settings`: the document on stdout and status 0, or a
/// message on stderr and status 2 (bad input).
pub fn run(emitter: &Emitter) -> ExitCode {
    let printed = match emitter {
        Emitter::ClaudeCode(args) => claude_code(args).and_then(|v| pretty(&v)),
        Emitter::Cowork(args) => cowork(args),
    };
    match printed {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("cowork-ecs: error: {message}");
            ExitCode::from(2)
        }
    }
}

fn pretty(value: &Value) -> Result<String, String> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}

/// The managed-settings document for Claude Code.
fn claude_code(a: &ClaudeCodeArgs) -> Result<Value, String> {
    let endpoint = endpoint(&a.endpoint, a.insecure_plaintext)?;
    let mut env = Map::new();
    let mut set = |k: &str, v: &str| env.insert(k.to_owned(), Value::from(v));
    set("CLAUDE_CODE_ENABLE_TELEMETRY", "1");
    let on = |s| {
        if a.signals.contains(&s) {
            "otlp"
        } else {
            "none"
        }
    };
    set("OTEL_LOGS_EXPORTER", on(SignalName::Logs));
    set("OTEL_METRICS_EXPORTER", on(SignalName::Metrics));
    set("OTEL_TRACES_EXPORTER", on(SignalName::Traces));
    if a.signals.contains(&SignalName::Traces) {
        // Claude Code exports spans only with its beta enhanced telemetry.
        set("CLAUDE_CODE_ENHANCED_TELEMETRY_BETA", "1");
    }
    set(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        match a.protocol {
            ClaudeProtocol::HttpProtobuf => "http/protobuf",
            ClaudeProtocol::Grpc => "grpc",
        },
    );
    set("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
    if let Some(file) = &a.token_file {
        set(
            "OTEL_EXPORTER_OTLP_HEADERS",
            &format!("Authorization=Bearer {}", token(file)?),
        );
    }
    if let Some(ca) = &a.ca_file {
        set("NODE_EXTRA_CA_CERTS", absolute("--ca-file", ca)?);
    }
    if let Some(attrs) = &a.resource_attributes {
        set("OTEL_RESOURCE_ATTRIBUTES", &resource_attributes(attrs)?);
    }
    for (variable, value) in content(a.content.as_deref())? {
        set(variable, if value { "1" } else { "0" });
    }
    let mut settings = Map::new();
    settings.insert("env".to_owned(), Value::Object(env));
    if let Some(helper) = &a.headers_helper {
        settings.insert(
            "otelHeadersHelper".to_owned(),
            Value::from(absolute("--headers-helper", helper)?),
        );
    }
    Ok(Value::Object(settings))
}

/// The admin console's values for Cowork, as text or JSON.
fn cowork(a: &CoworkArgs) -> Result<String, String> {
    let endpoint = endpoint(&a.endpoint, a.insecure_plaintext)?;
    let headers = match (&a.token_file, &a.basic_auth_file) {
        (Some(file), _) => format!("Authorization=Bearer {}", token(file)?),
        (None, Some(file)) => format!("Authorization=Basic {}", basic(file)?),
        (None, None) => return Err("give --token-file or --basic-auth-file".to_owned()),
    };
    let protocol = match a.protocol {
        CoworkProtocol::HttpProtobuf => "http/protobuf",
        CoworkProtocol::HttpJson => "http/json",
        CoworkProtocol::Grpc => "grpc",
    };
    let host = host_of(&endpoint);
    match a.output {
        Output::Json => pretty(&json!({
            "otlp_endpoint": endpoint,
            "otlp_protocol": protocol,
            "otlp_headers": headers,
            "network_egress_allow": host,
        })),
        Output::Text => Ok(format!(
            "Claude admin console, Admin settings > Cowork:\n\
             \x20 OTLP endpoint  {endpoint}\n\
             \x20 OTLP protocol  {protocol}\n\
             \x20 OTLP headers   {headers}\n\
             With network egress restricted, Admin settings > Capabilities > Network egress:\n\
             \x20 allow          {host}\n"
        )),
    }
}

/// The endpoint, checked: https (or http with `insecure`), a host, and the
/// base URL rather than a signal's path.
fn endpoint(url: &str, insecure: bool) -> Result<String, String> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://") {
        rest
    } else if let Some(rest) = lower.strip_prefix("http://") {
        if !insecure {
            return Err(format!(
                "--endpoint {url}: not https; prompts, commands and credentials would cross the network \
                 in clear (the shipped gateways serve TLS only). Use https://, or --insecure-plaintext \
                 for a gateway on loopback or behind a TLS-terminating proxy"
            ));
        }
        rest
    } else {
        return Err(format!(
            "--endpoint {url}: give a URL such as https://gateway.example.com:4318"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(format!("--endpoint {url}: no host in it"));
    }
    let path = rest[host.len()..].trim_end_matches('/');
    if ["/v1/logs", "/v1/metrics", "/v1/traces"]
        .iter()
        .any(|p| path.ends_with(p))
    {
        return Err(format!(
            "--endpoint {url}: give the base URL; the emitter appends /v1/logs, /v1/metrics and /v1/traces"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// `host[:port]` of a checked endpoint.
fn host_of(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.rsplit_once(':') {
        // A port after a name, an IPv4 address or a bracketed IPv6 one
        // (a bare IPv6 address has colons of its own and no port).
        Some((h, port))
            if (h.ends_with(']') || !h.contains(':'))
                && !port.is_empty()
                && port.chars().all(|c| c.is_ascii_digit()) =>
        {
            h.to_owned()
        }
        _ => host.to_owned(),
    }
}

/// A value read from a credential file: trimmed, non-empty, one line.
fn credential(flag: &str, file: &Path) -> Result<String, String> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("{flag} {}: {e}", file.display()))?;
    let value = text.trim();
    if value.is_empty() {
        return Err(format!("{flag} {}: the file is empty", file.display()));
    }
    if value.lines().count() > 1 {
        return Err(format!(
            "{flag} {}: more than one line; the file holds one credential",
            file.display()
        ));
    }
    Ok(value.to_owned())
}

/// A bearer token from its file, in a form OTEL_EXPORTER_OTLP_HEADERS
/// carries unchanged (no separators, no spaces).
fn token(file: &Path) -> Result<String, String> {
    let token = credential("--token-file", file)?;
    if !token.chars().all(|c| c.is_ascii_graphic() && c != ',') {
        return Err(format!(
            "--token-file {}: the token holds a space, a comma or a non-ASCII character, which a header \
             list (OTEL_EXPORTER_OTLP_HEADERS) cannot carry",
            file.display()
        ));
    }
    Ok(token)
}

/// `user:password` from its file, base64 for an Authorization: Basic header.
fn basic(file: &Path) -> Result<String, String> {
    use base64::Engine;
    let pair = credential("--basic-auth-file", file)?;
    match pair.split_once(':') {
        Some((user, password)) if !user.is_empty() && !password.is_empty() => {
            Ok(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()))
        }
        _ => Err(format!(
            "--basic-auth-file {}: give user:password on one line",
            file.display()
        )),
    }
}

/// A path on the users' machines: absolute, since Claude Code runs in
/// whatever folder a user opens (a relative helper would be looked up there).
fn absolute<'a>(flag: &str, path: &'a str) -> Result<&'a str, String> {
    let is_absolute = path.starts_with('/')
        || path.starts_with("\\\\")
        || (path.len() > 2
            && path.as_bytes()[1] == b':'
            && path.as_bytes()[0].is_ascii_alphabetic());
    if !is_absolute {
        return Err(format!(
            "{flag} {path}: give an absolute path on the users' machines (Claude Code runs in the folder a \
             user opens, where a relative path would name another file)"
        ));
    }
    Ok(path)
}

/// `k=v,...`, checked: each pair has a key, and `service.name` is left to
/// the emitter (the gateway recognizes Claude Code by it).
fn resource_attributes(attrs: &str) -> Result<String, String> {
    let mut pairs = Vec::new();
    for pair in attrs.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!("--resource-attributes: {pair:?} is not key=value"));
        };
        let key = key.trim();
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(format!(
                "--resource-attributes: {pair:?} needs a key without spaces"
            ));
        }
        if key == "service.name" {
            return Err(
                "--resource-attributes: service.name is the emitter's own (claude-code); the gateway \
                 recognizes Claude Code by it"
                    .to_owned(),
            );
        }
        pairs.push(format!("{key}={}", value.trim()));
    }
    if pairs.is_empty() {
        return Err("--resource-attributes: no key=value pair".to_owned());
    }
    Ok(pairs.join(","))
}

/// The content switches, every class pinned: `--content`'s values over the defaults.
fn content(spec: Option<&str>) -> Result<Vec<(&'static str, bool)>, String> {
    let mut values: Vec<(&str, &str, bool)> = CONTENT.to_vec();
    for item in spec
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let (class, value) = item.split_once('=').unwrap_or((item, ""));
        let on = match value.trim() {
            "on" => true,
            "off" => false,
            _ => return Err(format!("--content {item}: give {}=on or off", class.trim())),
        };
        let Some(row) = values.iter_mut().find(|(c, _, _)| *c == class.trim()) else {
            let known: Vec<_> = CONTENT.iter().map(|(c, _, _)| *c).collect();
            return Err(format!(
                "--content {item}: unknown class {:?} (known: {})",
                class.trim(),
                known.join(", ")
            ));
        };
        row.2 = on;
    }
    Ok(values.into_iter().map(|(_, v, on)| (v, on)).collect())
}
