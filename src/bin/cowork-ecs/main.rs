//! `cowork-ecs`: replay an OTLP logs, traces or metrics request through the
//! mapping without a collector.
//!
//! ```text
//! cowork-ecs transform [--config FILE] [--signal logs|traces|metrics] [--tenant ID]
//!                      [--output json|proto] < request > transformed
//! ```
//! Reads one OTLP request on stdin and writes the transformed request on
//! stdout. OTLP/JSON is told by its top-level key (`resourceLogs`,
//! `resourceSpans`, `resourceMetrics`); protobuf is read as `--signal`
//! (default `logs`). A request of any other shape, or of another signal
//! than `--signal` says, is an error. Bad input: a message on stderr and
//! exit status 1 (2 for bad usage), never a panic trace and never an empty
//! output.
//!
//! ```text
//! cowork-ecs setup --elasticsearch URL [--api-key K | --username U --password P]
//! ```
//! Installs the index and component templates the documents need (see
//! [`setup`]).
//!
//! ```text
//! cowork-ecs emitter-settings claude-code|cowork --endpoint URL ...
//! ```
//! Prints the settings an organization deploys to its emitters (see
//! [`emitter_settings`]); bad input exits 2.

mod chunks;
mod elasticsearch;
mod emitter_settings;
mod setup;
mod verify;

use clap::{Parser, Subcommand, ValueEnum};
use cowork_ecs::otlp::Signal;
use cowork_ecs::{Transformer, otlp};
use prost::Message;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    version,
    about = "Claude Cowork / Claude Code OTLP logs, traces and metrics to ECS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transform one OTLP request read on stdin (OTLP/JSON or protobuf).
    Transform {
        /// JSON configuration (the processor's keys; see README). Defaults apply without it.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The request's signal: required to read protobuf traces or
        /// metrics (protobuf is read as logs without it); checked against
        /// the top-level key of OTLP/JSON.
        #[arg(long, value_parser = parse_signal)]
        signal: Option<Signal>,
        /// The sender's authenticated identity, as the gateway would pass it.
        #[arg(long)]
        tenant: Option<String>,
        /// Output encoding.
        #[arg(long, value_enum, default_value_t = Output::Json)]
        output: Output,
    },
    /// Re-encode one OTLP request read on stdin, unchanged (e.g. OTLP/JSON to protobuf).
    Convert {
        /// The request's signal (as for transform).
        #[arg(long, value_parser = parse_signal)]
        signal: Option<Signal>,
        /// Output encoding.
        #[arg(long, value_enum, default_value_t = Output::Json)]
        output: Output,
    },
    /// Install (idempotently) the index and component templates of every
    /// data stream the processor routes to, with a data stream lifecycle,
    /// above Elastic's package and built-in templates; report what else
    /// matches those data streams.
    Setup {
        #[command(flatten)]
        connection: elasticsearch::ConnectionArgs,
        /// The processor's claude_code.dataset (Claude Code log records).
        #[arg(long, default_value = cowork_ecs::config::DEFAULT_CLAUDE_CODE_DATASET)]
        claude_code_dataset: String,
        /// The processor's cowork.dataset (Cowork log records).
        #[arg(long, default_value = cowork_ecs::config::DEFAULT_COWORK_DATASET)]
        cowork_dataset: String,
        /// Data stream lifecycle retention, e.g. 365d (default: keep until deleted).
        #[arg(long)]
        retention: Option<String>,
    },
    /// Read the stored Claude log records and the seals of the gateways,
    /// spans, span events and data points back and check them (README
    /// "Tamper evidence"). Prints one line per chain of seals and per
    /// session (intact, or its problems); exits 1 when anything is wrong or
    /// nothing matched.
    Verify {
        #[command(flatten)]
        connection: elasticsearch::ConnectionArgs,
        /// Public key (PEM) whose signatures are good; repeat for keys still
        /// in use after a rotation.
        #[arg(long = "public-key", value_name = "FILE", required = true)]
        public_keys: Vec<PathBuf>,
        /// Public key (PEM) of a revoked key: documents it signed are reported.
        #[arg(long = "revoked-key", value_name = "FILE")]
        revoked_keys: Vec<PathBuf>,
        /// Only this session (session.id).
        #[arg(long)]
        session: Option<String>,
        /// Only documents at or after this time, e.g. 2026-11-30T00:00:00Z or now-1d.
        #[arg(long)]
        since: Option<String>,
        /// Only documents and seals at or before this time, e.g.
        /// 2026-11-30T00:00:00Z or now. Default: now-20s, two seal
        /// intervals of the shipped gateway (10 s), so that records and
        /// seals still being written are left to the next run; pass `now`
        /// to read up to this moment.
        #[arg(long, default_value = verify::DEFAULT_UNTIL)]
        until: String,
        /// Index pattern(s) to read.
        #[arg(long, default_value = verify::DEFAULT_INDEX)]
        index: String,
        /// Also write every finding as a document here (e.g.
        /// logs-cowork_ecs.verify-default), for the tamper-finding rule.
        #[arg(long = "report-index", value_name = "INDEX")]
        report_index: Option<String>,
    },
    /// Print what an organization deploys so that every Claude Code and
    /// Cowork sends its telemetry to the gateway (README "Rolling out").
    EmitterSettings {
        #[command(subcommand)]
        emitter: emitter_settings::Emitter,
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
    /// Protobuf Export{Logs,Trace,Metrics}ServiceRequest bytes.
    Proto,
}

/// `--signal`: logs, traces or metrics.
fn parse_signal(name: &str) -> Result<Signal, String> {
    Signal::from_name(name).ok_or_else(|| format!("{name:?}: use logs, traces or metrics"))
}

/// One request of any signal.
enum Request {
    Logs(otlp::ExportLogsServiceRequest),
    Traces(otlp::ExportTraceServiceRequest),
    Metrics(otlp::ExportMetricsServiceRequest),
}

/// Reads a request as `signal` from protobuf.
fn decode_protobuf(bytes: &[u8], signal: Signal) -> Result<Request, String> {
    let e = |e: prost::DecodeError| format!("not a protobuf {} request: {e}", signal.name());
    Ok(match signal {
        Signal::Logs => Request::Logs(otlp::decode(bytes).map_err(|e| e.to_string())?),
        Signal::Traces => {
            Request::Traces(otlp::ExportTraceServiceRequest::decode(bytes).map_err(e)?)
        }
        Signal::Metrics => {
            Request::Metrics(otlp::ExportMetricsServiceRequest::decode(bytes).map_err(e)?)
        }
    })
}

/// Reads a request from an OTLP/JSON object (parsed once), by its
/// top-level key.
fn decode_json(
    object: serde_json::Map<String, serde_json::Value>,
    asked: Option<Signal>,
) -> Result<Request, String> {
    let signal = Signal::of_json(&object).map_err(|e| e.to_string())?;
    if let Some(asked) = asked.filter(|a| *a != signal) {
        return Err(format!(
            "--signal {} but the request is OTLP/JSON {}",
            asked.name(),
            signal.name()
        ));
    }
    let object = serde_json::Value::Object(object);
    let e = |e: serde_json::Error| format!("not an OTLP/JSON {} request: {e}", signal.name());
    Ok(match signal {
        Signal::Logs => Request::Logs(serde_json::from_value(object).map_err(e)?),
        Signal::Traces => Request::Traces(serde_json::from_value(object).map_err(e)?),
        Signal::Metrics => Request::Metrics(serde_json::from_value(object).map_err(e)?),
    })
}

/// Protobuf carries no signal: when bytes that are not logs read as
/// traces or metrics, says to pass `--signal`.
fn hint_signal(bytes: &[u8]) -> Option<String> {
    let traces = otlp::ExportTraceServiceRequest::decode(bytes).ok();
    let spans = traces.is_some_and(|r| {
        (r.resource_spans.iter())
            .flat_map(|rs| &rs.scope_spans)
            .any(|ss| !ss.spans.is_empty())
    });
    let metrics = otlp::ExportMetricsServiceRequest::decode(bytes).ok();
    let points = metrics.is_some_and(|r| {
        (r.resource_metrics.iter())
            .flat_map(|rm| &rm.scope_metrics)
            .any(|sm| !sm.metrics.is_empty())
    });
    let signal = match (spans, points) {
        (true, false) => "traces",
        (false, true) => "metrics",
        (true, true) => "traces|metrics",
        (false, false) => return None,
    };
    Some(format!(
        "this protobuf request is not logs; it reads as {signal}: pass --signal {signal}"
    ))
}

/// Reads one request: OTLP/JSON when it is a JSON object (a protobuf
/// request whose bytes happen to start like JSON, e.g. a newline and `{`,
/// is still read as protobuf), else protobuf as `asked` (default logs).
fn decode_request(bytes: &[u8], asked: Option<Signal>) -> Result<Request, String> {
    if otlp::Format::detect(bytes) == otlp::Format::Json {
        if let Ok(serde_json::Value::Object(object)) = serde_json::from_slice(bytes) {
            return decode_json(object, asked);
        }
    }
    let signal = asked.unwrap_or(Signal::Logs);
    let request = decode_protobuf(bytes, signal).map_err(|e| match asked {
        None => hint_signal(bytes).unwrap_or(e),
        Some(_) => e,
    })?;
    if asked.is_none() {
        // Protobuf carries no signal: a traces or metrics request read as
        // logs would come out empty. Say so instead.
        if let Request::Logs(r) = &request {
            let records: usize = (r.resource_logs.iter())
                .flat_map(|rl| &rl.scope_logs)
                .map(|sl| sl.log_records.len())
                .sum();
            if records == 0 && !r.resource_logs.is_empty() {
                return Err(
                    "this protobuf request holds no log record; if it is traces or metrics, pass --signal traces|metrics"
                        .to_owned(),
                );
            }
        }
    }
    Ok(request)
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

fn read_request(signal: Option<Signal>) -> Result<Request, String> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    decode_request(&input, signal)
}

fn write_request(request: &Request, output: Output) -> Result<(), String> {
    let json = |r: Result<String, cowork_ecs::Error>| {
        r.map(|mut s| {
            s.push('\n');
            s.into_bytes()
        })
        .map_err(|e| e.to_string())
    };
    let bytes = match (request, output) {
        (Request::Logs(r), Output::Json) => json(otlp::to_json(r))?,
        (Request::Traces(r), Output::Json) => json(otlp::any_to_json(r))?,
        (Request::Metrics(r), Output::Json) => json(otlp::any_to_json(r))?,
        (Request::Logs(r), Output::Proto) => otlp::encode(r),
        (Request::Traces(r), Output::Proto) => r.encode_to_vec(),
        (Request::Metrics(r), Output::Proto) => r.encode_to_vec(),
    };
    std::io::stdout()
        .write_all(&bytes)
        .map_err(|e| format!("cannot write stdout: {e}"))
}

/// A request's protobuf bytes: borrowed when it came as protobuf,
/// encoded once when it came as OTLP/JSON.
fn protobuf_of(request: &Request) -> Vec<u8> {
    match request {
        Request::Logs(r) => otlp::encode(r),
        Request::Traces(r) => r.encode_to_vec(),
        Request::Metrics(r) => r.encode_to_vec(),
    }
}

/// `transform`: protobuf in goes through the library's one walk over the
/// bytes and out as it writes them (memory: the input and the output);
/// OTLP/JSON in is converted to protobuf once, and for OTLP/JSON out the
/// transformed bytes are converted once.
fn transform(
    config: Option<&PathBuf>,
    asked: Option<Signal>,
    tenant: Option<&str>,
    output: Output,
) -> Result<(), String> {
    let transformer = read_config(config)?;
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    let json = match otlp::Format::detect(&input) {
        otlp::Format::Json => match serde_json::from_slice(&input) {
            Ok(serde_json::Value::Object(object)) => Some(object),
            _ => None,
        },
        otlp::Format::Protobuf => None,
    };
    let (signal, bytes) = match json {
        Some(object) => {
            let request = decode_json(object, asked)?;
            let signal = request.signal();
            input = protobuf_of(&request);
            (signal, input)
        }
        None => (asked.unwrap_or(Signal::Logs), input),
    };
    let hint = |e: String| match asked {
        None => hint_signal(&bytes).unwrap_or(e),
        Some(_) => e,
    };
    let mut stdout = std::io::stdout().lock();
    let mut write = |b: &[u8]| {
        stdout
            .write_all(b)
            .map_err(|e| format!("cannot write stdout: {e}"))
    };
    let (mut o, mut unread, mut streamed) = (cowork_ecs::Outcome::default(), Vec::new(), false);
    if matches!(output, Output::Proto) {
        // Each part transformed and written as soon as it is done.
        let mut written = Vec::new();
        let done = chunks::for_each(&bytes, |part| {
            let done = transformer
                .transform(signal, part.bytes(), tenant)
                .map_err(|e| format!("not a protobuf {} request: {e}", signal.name()))?;
            add(&mut o, done.outcome);
            unread.extend(done.unread);
            if o.claude_items + o.other_items == 0 {
                // Until an item shows the signal is right, nothing is written
                // (the request may be traces or metrics read as logs).
                written.push(done.output.unwrap_or_else(|| part.bytes().to_vec()));
                return Ok(());
            }
            written.drain(..).try_for_each(|b: Vec<u8>| write(&b))?;
            write(done.output.as_deref().unwrap_or(part.bytes()))
        });
        if let Some(done) = done {
            done.map_err(hint)?;
            no_record_check(asked, signal, &o, &unread, &bytes, hint)?;
            written.drain(..).try_for_each(|b| write(&b))?;
            streamed = true;
        }
    }
    if !streamed {
        let done = (transformer.transform(signal, &bytes, tenant))
            .map_err(|e| hint(format!("not a protobuf {} request: {e}", signal.name())))?;
        o = done.outcome;
        unread = done.unread;
        no_record_check(asked, signal, &o, &unread, &bytes, hint)?;
        let out = done.output.as_deref().unwrap_or(&bytes);
        match output {
            Output::Proto => write(out)?,
            Output::Json => {
                let request = decode_protobuf(out, signal)?;
                let mut text = match &request {
                    Request::Logs(r) => otlp::to_json(r),
                    Request::Traces(r) => otlp::any_to_json(r),
                    Request::Metrics(r) => otlp::any_to_json(r),
                }
                .map_err(|e| e.to_string())?;
                text.push('\n');
                write(text.as_bytes())?;
            }
        }
    }
    for unread in &unread {
        eprintln!("cowork-ecs: warning: copied as it came, not transformed: {unread}");
    }
    let summary = match signal {
        Signal::Logs => format!(
            "{} Claude record(s) normalized, {} with pipeline_error, {} other record(s) untouched",
            o.claude_items, o.pipeline_errors, o.other_items
        ),
        Signal::Traces => format!("{} Claude span(s) normalized", o.claude_items),
        Signal::Metrics => format!("{} Claude data point(s) normalized", o.claude_items),
    };
    eprintln!("cowork-ecs: {summary}");
    Ok(())
}

/// Adds one part's outcome to the request's.
fn add(total: &mut cowork_ecs::Outcome, part: cowork_ecs::Outcome) {
    total.claude_items += part.claude_items;
    total.pipeline_errors += part.pipeline_errors;
    total.other_items += part.other_items;
    total.other_items_changed += part.other_items_changed;
}

/// Protobuf carries no signal: a traces or metrics request read as logs
/// holds no record. Says so instead of writing an empty output.
fn no_record_check(
    asked: Option<Signal>,
    signal: Signal,
    o: &cowork_ecs::Outcome,
    unread: &[String],
    bytes: &[u8],
    hint: impl Fn(String) -> String,
) -> Result<(), String> {
    if asked.is_some() || signal != Signal::Logs || o.claude_items + o.other_items > 0 {
        return Ok(());
    }
    let why = "this protobuf request holds no log record; if it is traces or metrics, pass --signal traces|metrics";
    if !unread.is_empty() || decode_protobuf(bytes, Signal::Logs).is_err() {
        return Err(hint(format!("{why} ({})", unread.join("; "))));
    }
    if resource_count(bytes) > 0 {
        return Err(hint(why.to_owned()));
    }
    Ok(())
}

/// How many resources a protobuf request holds (field 1 of every request).
fn resource_count(bytes: &[u8]) -> usize {
    use otlp::wire::{self, tag};
    wire::fields(bytes)
        .filter(|f| matches!(f, Ok(f) if f.tag == tag::REQUEST_RESOURCES))
        .count()
}

impl Request {
    fn signal(&self) -> Signal {
        match self {
            Request::Logs(_) => Signal::Logs,
            Request::Traces(_) => Signal::Traces,
            Request::Metrics(_) => Signal::Metrics,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Transform {
            config,
            signal,
            tenant,
            output,
        } => transform(config.as_ref(), *signal, tenant.as_deref(), *output),
        Command::Convert { signal, output } => {
            read_request(*signal).and_then(|r| write_request(&r, *output))
        }
        Command::ValidateConfig { file } => read_config(Some(file)).map(|_| ()),
        Command::EmitterSettings { emitter } => return emitter_settings::run(emitter),
        Command::Verify {
            connection,
            public_keys,
            revoked_keys,
            session,
            since,
            until,
            index,
            report_index,
        } => (|| {
            let v = verify::Verify {
                report_index: report_index.clone(),
                index: index.clone(),
                session: session.clone(),
                since: since.clone(),
                until: Some(until.clone()),
                trusted: verify::keys(public_keys)?,
                revoked: verify::keys(revoked_keys)?,
            };
            match verify::run(&elasticsearch::Client::new(connection)?, &v)? {
                true => Ok(()),
                false => Err("verify: not every session is intact (above)".to_owned()),
            }
        })(),
        Command::Setup {
            connection,
            claude_code_dataset,
            cowork_dataset,
            retention,
        } => elasticsearch::Client::new(connection).and_then(|client| {
            setup::run(
                &client,
                &setup::Setup {
                    claude_code_dataset: claude_code_dataset.clone(),
                    cowork_dataset: cowork_dataset.clone(),
                    retention: retention.clone(),
                },
            )
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
