//! `cowork-ecs`: replay an OTLP logs request through the mapping without a
//! collector.
//!
//! ```text
//! cowork-ecs transform [--config FILE] [--output json|proto] < request > transformed
//! ```
//! Reads one `ExportLogsServiceRequest` on stdin, as OTLP/JSON or protobuf
//! (detected), and writes the transformed request on stdout. Bad input: a
//! message on stderr and exit status 1 (2 for bad usage), never a panic trace.
//!
//! ```text
//! cowork-ecs setup --elasticsearch URL [--api-key K | --username U --password P]
//! ```
//! Installs the index and component templates the documents need (see
//! [`setup`]).

mod setup;

use clap::{Parser, Subcommand, ValueEnum};
use cowork_ecs::{Transformer, otlp};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(version, about = "Claude Cowork / Claude Code OTLP logs to ECS")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transform one ExportLogsServiceRequest read on stdin (OTLP/JSON or protobuf).
    Transform {
        /// JSON configuration (the processor's keys; see README). Defaults apply without it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Output encoding.
        #[arg(long, value_enum, default_value_t = Output::Json)]
        output: Output,
    },
    /// Re-encode one ExportLogsServiceRequest read on stdin, unchanged (e.g. OTLP/JSON to protobuf).
    Convert {
        /// Output encoding.
        #[arg(long, value_enum, default_value_t = Output::Json)]
        output: Output,
    },
    /// Install (idempotently) the index and component templates for both
    /// datasets in Elasticsearch, with a data stream lifecycle.
    Setup {
        /// Elasticsearch URL, e.g. https://es.example.com:9200.
        #[arg(long, env = "ELASTICSEARCH_ENDPOINT")]
        elasticsearch: String,
        /// Encoded API key (needs manage_index_templates).
        #[arg(long, env = "ELASTICSEARCH_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// User for basic auth (instead of an API key).
        #[arg(long, env = "ELASTICSEARCH_USERNAME")]
        username: Option<String>,
        /// Password for basic auth.
        #[arg(long, env = "ELASTICSEARCH_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Datasets (the processor's cowork.dataset and claude_code.dataset).
        #[arg(long = "dataset", default_values_t = ["claude_code.events".to_owned(), "claude_cowork.events".to_owned()])]
        datasets: Vec<String>,
        /// Data stream lifecycle retention, e.g. 365d (default: keep until deleted).
        #[arg(long)]
        retention: Option<String>,
    },
    /// Check a JSON configuration file and exit 0 if it is valid.
    ValidateConfig {
        /// The configuration file.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    /// OTLP/JSON (pretty).
    Json,
    /// Protobuf ExportLogsServiceRequest bytes.
    Proto,
}

fn read_config(path: Option<&PathBuf>) -> Result<Transformer, String> {
    let bytes = match path {
        Some(p) => {
            std::fs::read(p).map_err(|e| format!("cannot read config {}: {e}", p.display()))?
        }
        None => Vec::new(),
    };
    Transformer::from_json_config(&bytes).map_err(|e| e.to_string())
}

fn read_request() -> Result<otlp::ExportLogsServiceRequest, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    otlp::decode_any(&input)
        .map(|(r, _)| r)
        .map_err(|e| e.to_string())
}

fn write_request(request: &otlp::ExportLogsServiceRequest, output: Output) -> Result<(), String> {
    let bytes = match output {
        Output::Json => {
            let mut s = otlp::to_json(request).map_err(|e| e.to_string())?;
            s.push('\n');
            s.into_bytes()
        }
        Output::Proto => otlp::encode(request),
    };
    std::io::stdout()
        .write_all(&bytes)
        .map_err(|e| format!("cannot write stdout: {e}"))
}

fn transform(config: Option<&PathBuf>, output: Output) -> Result<(), String> {
    let transformer = read_config(config)?;
    let mut request = read_request()?;
    let outcome = transformer.transform_request(&mut request);
    write_request(&request, output)?;
    eprintln!(
        "cowork-ecs: {} Claude record(s) normalized, {} with pipeline_error, {} other record(s) untouched",
        outcome.claude_records, outcome.pipeline_errors, outcome.other_records
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Transform { config, output } => transform(config.as_ref(), *output),
        Command::Convert { output } => read_request().and_then(|r| write_request(&r, *output)),
        Command::ValidateConfig { file } => read_config(Some(file)).map(|_| ()),
        Command::Setup {
            elasticsearch,
            api_key,
            username,
            password,
            datasets,
            retention,
        } => setup::run(&setup::Setup {
            url: elasticsearch.clone(),
            authorization: setup::authorization(
                api_key.as_deref(),
                username.as_deref(),
                password.as_deref(),
            ),
            datasets: datasets.clone(),
            retention: retention.clone(),
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cowork-ecs: error: {message}");
            ExitCode::FAILURE
        }
    }
}
