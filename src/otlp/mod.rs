//! The only module that imports `opentelemetry-proto` (STYLE 1.4): when the
//! upstream module paths move, this is the one file to edit.
//!
//! Wire formats handled here:
//! - protobuf `ExportLogsServiceRequest` (what the collector hands the
//!   processor, and what `http/protobuf` emitters send);
//! - OTLP/JSON, as real emitters write it: 64-bit integers as JSON numbers or
//!   as decimal strings, hex trace/span ids, `eventName` (OTLP ≥ 1.5).

use crate::error::{Error, Result};
use prost::Message;

pub mod wire;
use wire::{AnyRef, Malformed, tag};

pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
pub use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};

pub use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
pub use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
pub use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
pub use opentelemetry_proto::tonic::metrics::v1::metric::Data as MetricData;
pub use opentelemetry_proto::tonic::resource::v1::Resource;

/// Serialized form of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Protobuf `ExportLogsServiceRequest` bytes.
    Protobuf,
    /// OTLP/JSON text.
    Json,
}

impl Format {
    /// Tells the two encodings apart by the first non-blank byte: OTLP/JSON is
    /// an object (`{`), while a protobuf `ExportLogsServiceRequest` can never
    /// start with `{` (0x7B would be field 15 with the deprecated group wire
    /// type, which the message does not have). Empty input is protobuf (the
    /// empty request).
    pub fn detect(bytes: &[u8]) -> Format {
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => Format::Json,
            _ => Format::Protobuf,
        }
    }
}

/// Decodes protobuf `ExportLogsServiceRequest` bytes.
///
/// # Errors
/// [`Error::Decode`] when the bytes are not such a message.
pub fn decode(bytes: &[u8]) -> Result<ExportLogsServiceRequest> {
    Ok(ExportLogsServiceRequest::decode(bytes)?)
}

/// Deepest nesting of values [`value`] reads (arrays and maps inside one
/// another); beyond it the bytes count as [`Malformed`].
pub const MAX_VALUE_NESTING: usize = 2000;

/// An `AnyValue`'s wire bytes as an owned value (`None` when it holds
/// none), text read lossily ([`wire::text`]).
///
/// # Errors
/// [`Malformed`] when the bytes are not protobuf or nest deeper than
/// [`MAX_VALUE_NESTING`].
pub fn value(raw: &[u8]) -> std::result::Result<Option<Value>, Malformed> {
    value_at(wire::any(raw)?, 0)
}

fn value_at(v: AnyRef<'_>, depth: usize) -> std::result::Result<Option<Value>, Malformed> {
    if depth > MAX_VALUE_NESTING {
        return Err(Malformed("values nested too deep"));
    }
    let any = |raw: &[u8]| -> std::result::Result<AnyValue, Malformed> {
        Ok(AnyValue {
            value: value_at(wire::any(raw)?, depth + 1)?,
        })
    };
    Ok(Some(match v {
        AnyRef::Empty => return Ok(None),
        AnyRef::Str(b) => Value::StringValue(wire::text(b).0.into_owned()),
        AnyRef::Bool(b) => Value::BoolValue(b),
        AnyRef::Int(i) => Value::IntValue(i),
        AnyRef::Double(d) => Value::DoubleValue(d),
        AnyRef::Bytes(b) => Value::BytesValue(b.to_vec()),
        AnyRef::Array(list) => Value::ArrayValue(ArrayValue {
            values: wire::list_items(list)
                .map(|item| any(item?))
                .collect::<std::result::Result<_, _>>()?,
        }),
        AnyRef::Kvlist(list) => Value::KvlistValue(KeyValueList {
            values: wire::list_items(list)
                .map(|item| {
                    let kv = wire::key_value(item?)?;
                    Ok(KeyValue {
                        key: wire::text(kv.key).0.into_owned(),
                        value: Some(any(kv.value_raw)?),
                        ..KeyValue::default()
                    })
                })
                .collect::<std::result::Result<_, Malformed>>()?,
        }),
    }))
}

/// A `KeyValue`'s wire bytes as an owned attribute, text read lossily.
///
/// # Errors
/// As [`value`].
pub fn key_value(raw: &[u8]) -> std::result::Result<KeyValue, Malformed> {
    let kv = wire::key_value(raw)?;
    Ok(KeyValue {
        key: wire::text(kv.key).0.into_owned(),
        value: Some(AnyValue {
            value: value(kv.value_raw)?,
        }),
        ..KeyValue::default()
    })
}

/// A `LogRecord`'s wire bytes as an owned record, text read lossily (for
/// `event.original`, mapping.md §4).
///
/// # Errors
/// As [`value`].
pub fn log_record(raw: &[u8]) -> std::result::Result<LogRecord, Malformed> {
    let mut record = LogRecord::default();
    for field in wire::fields(raw) {
        let field = field?;
        let text = || field.bytes().map(|b| wire::text(b).0.into_owned());
        let varint = match field.payload {
            wire::Payload::Varint(v) => v,
            _ => 0,
        };
        let fixed32 = match field.payload {
            wire::Payload::Fixed(b) => <[u8; 4]>::try_from(b).map_or(0, u32::from_le_bytes),
            _ => 0,
        };
        match field.tag {
            tag::RECORD_TIME => record.time_unix_nano = field.fixed64().unwrap_or_default(),
            tag::RECORD_OBSERVED_TIME => {
                record.observed_time_unix_nano = field.fixed64().unwrap_or_default()
            }
            2 => record.severity_number = varint as i32,
            tag::RECORD_SEVERITY_TEXT => record.severity_text = text().unwrap_or_default(),
            tag::RECORD_BODY => {
                record.body = Some(AnyValue {
                    value: value(field.bytes().unwrap_or_default())?,
                })
            }
            tag::RECORD_ATTRIBUTES => record
                .attributes
                .push(key_value(field.bytes().unwrap_or_default())?),
            7 => record.dropped_attributes_count = varint as u32,
            8 => record.flags = fixed32,
            9 => record.trace_id = field.bytes().unwrap_or_default().to_vec(),
            10 => record.span_id = field.bytes().unwrap_or_default().to_vec(),
            tag::RECORD_EVENT_NAME => record.event_name = text().unwrap_or_default(),
            _ => {}
        }
    }
    Ok(record)
}

/// Encodes a request as protobuf bytes (infallible: the buffer grows as needed).
pub fn encode(request: &ExportLogsServiceRequest) -> Vec<u8> {
    request.encode_to_vec()
}

/// Decodes OTLP/JSON text.
///
/// # Errors
/// [`Error::DecodeJson`] when the text is not an OTLP/JSON logs request.
pub fn from_json(bytes: &[u8]) -> Result<ExportLogsServiceRequest> {
    serde_json::from_slice(bytes).map_err(Error::DecodeJson)
}

/// Decodes either encoding, as told by [`Format::detect`] (text that looks
/// like JSON but is not is tried as protobuf).
///
/// # Errors
/// As [`decode`] or [`from_json`].
pub fn decode_any(bytes: &[u8]) -> Result<(ExportLogsServiceRequest, Format)> {
    match Format::detect(bytes) {
        // A protobuf request can start like JSON text (a newline, then `{`
        // as the length 123): what is not JSON may still be protobuf.
        Format::Json => match from_json(bytes) {
            Ok(request) => Ok((request, Format::Json)),
            Err(json) => decode(bytes)
                .map(|r| (r, Format::Protobuf))
                .map_err(|_| json),
        },
        Format::Protobuf => Ok((decode(bytes)?, Format::Protobuf)),
    }
}

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `ExportLogsServiceRequest`.
    Logs,
    /// `ExportTraceServiceRequest`.
    Traces,
    /// `ExportMetricsServiceRequest`.
    Metrics,
}

/// Every signal (a free constant: cbindgen would export an associated one).
const SIGNALS: [Signal; 3] = [Signal::Logs, Signal::Traces, Signal::Metrics];

impl Signal {
    /// `logs`, `traces` or `metrics`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// The top-level key of its OTLP/JSON request (`resourceLogs`, ...).
    fn json_key(self) -> &'static str {
        match self {
            Signal::Logs => "resourceLogs",
            Signal::Traces => "resourceSpans",
            Signal::Metrics => "resourceMetrics",
        }
    }

    /// The signal named `name` ([`Signal::name`]).
    pub fn from_name(name: &str) -> Option<Signal> {
        SIGNALS.into_iter().find(|s| s.name() == name)
    }

    /// The signal of an OTLP/JSON request object, by its top-level key
    /// (`resourceLogs`, `resourceSpans`, `resourceMetrics`).
    ///
    /// # Errors
    /// [`Error::Decode`] when the object has none of those keys, or more
    /// than one.
    pub fn of_json(object: &serde_json::Map<String, serde_json::Value>) -> Result<Signal> {
        let found: Vec<Signal> = (SIGNALS.into_iter())
            .filter(|s| object.contains_key(s.json_key()))
            .collect();
        match found[..] {
            [signal] => Ok(signal),
            [] => Err(Error::Decode(format!(
                "an OTLP/JSON request has one of resourceLogs, resourceSpans or resourceMetrics; this object has {}",
                if object.is_empty() {
                    "no key".to_owned()
                } else {
                    format!("only {:?}", object.keys().collect::<Vec<_>>())
                }
            ))),
            _ => Err(Error::Decode(
                "an OTLP/JSON request has one of resourceLogs, resourceSpans or resourceMetrics, not several".to_owned(),
            )),
        }
    }
}

/// Decodes an OTLP/JSON traces request.
///
/// # Errors
/// [`Error::DecodeJson`] when the text is not one.
pub fn traces_from_json(bytes: &[u8]) -> Result<ExportTraceServiceRequest> {
    serde_json::from_slice(bytes).map_err(Error::DecodeJson)
}

/// Decodes an OTLP/JSON metrics request.
///
/// # Errors
/// [`Error::DecodeJson`] when the text is not one.
pub fn metrics_from_json(bytes: &[u8]) -> Result<ExportMetricsServiceRequest> {
    serde_json::from_slice(bytes).map_err(Error::DecodeJson)
}

/// Writes any request as pretty OTLP/JSON (64-bit integers as strings).
///
/// # Errors
/// [`Error::Encode`] if serialization fails (not expected for these types).
pub fn any_to_json<T: serde::Serialize>(request: &T) -> Result<String> {
    serde_json::to_string_pretty(request).map_err(|e| Error::Encode(e.to_string()))
}

/// Writes a request as pretty OTLP/JSON (64-bit integers as strings, as the
/// OTLP/JSON spec asks).
///
/// # Errors
/// [`Error::Encode`] if serialization fails (not expected for these types).
pub fn to_json(request: &ExportLogsServiceRequest) -> Result<String> {
    serde_json::to_string_pretty(request).map_err(|e| Error::Encode(e.to_string()))
}

/// One log record as compact OTLP/JSON, for `event.original` (mapping.md §4).
pub fn record_to_json(record: &LogRecord) -> String {
    // Serializing these plain data types cannot fail; fall back to a marker
    // rather than panic if a future upstream version ever makes it fail.
    serde_json::to_string(record)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}
