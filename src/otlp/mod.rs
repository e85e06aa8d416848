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

pub mod lossy;
pub use lossy::{Repair, RepairSite};

pub use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
pub use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value,
};
pub use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
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

/// Decodes protobuf `ExportLogsServiceRequest` bytes, reading what `prost`
/// alone refuses ([`lossy::repair`]: text that is not valid UTF-8 as U+FFFD,
/// values nested too deep as JSON text); also returns where that happened
/// (empty when nothing needed it).
///
/// # Errors
/// [`Error::Decode`] when the bytes are not such a message at all.
pub fn decode_lossy(bytes: &[u8]) -> Result<(ExportLogsServiceRequest, Vec<RepairSite>)> {
    match ExportLogsServiceRequest::decode(bytes) {
        Ok(request) => Ok((request, Vec::new())),
        Err(first) => match lossy::repair(bytes) {
            Ok(Some((fixed, sites))) => Ok((ExportLogsServiceRequest::decode(&fixed[..])?, sites)),
            Ok(None) | Err(_) => Err(first.into()),
        },
    }
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

/// Decodes either encoding, as told by [`Format::detect`].
///
/// # Errors
/// As [`decode`] or [`from_json`].
pub fn decode_any(bytes: &[u8]) -> Result<(ExportLogsServiceRequest, Format)> {
    let format = Format::detect(bytes);
    let request = match format {
        Format::Json => from_json(bytes)?,
        Format::Protobuf => decode(bytes)?,
    };
    Ok((request, format))
}

/// Writes a request as pretty OTLP/JSON (64-bit integers as strings, as the
/// OTLP/JSON spec asks).
///
/// # Errors
/// [`Error::Encode`] if serialization fails (not expected for these types).
pub fn to_json(request: &ExportLogsServiceRequest) -> Result<String> {
    serde_json::to_string_pretty(request).map_err(|e| Error::Encode(e.to_string()))
}

/// One log record as compact OTLP/JSON, for `event.original` (SPEC section 4).
pub fn record_to_json(record: &LogRecord) -> String {
    // Serializing these plain data types cannot fail; fall back to a marker
    // rather than panic if a future upstream version ever makes it fail.
    serde_json::to_string(record)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string())
}
