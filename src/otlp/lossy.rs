//! Reading what `prost` refuses but the collector's pdata accepts (fail
//! closed: a record is never passed on untransformed because the transform
//! could not read it).
//!
//! - Protobuf `string` fields must hold UTF-8 and `prost` refuses a message
//!   whose strings do not; pdata does not check, so a sender can put any
//!   bytes there.
//! - `prost` stops at 100 nested messages (a map in an attribute value costs
//!   three); pdata has no such limit.
//!
//! [`repair`] walks the `ExportLogsServiceRequest` wire bytes with the OTLP
//! logs schema (only the fields that are `string` or messages holding them),
//! replaces each invalid UTF-8 sequence by U+FFFD, writes an attribute value
//! nested deeper than [`DEEP_VALUE_NESTING`] as its JSON text, and says where
//! it did either, so the transform can mark those records.

use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};

/// What [`repair`] did at a [`RepairSite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// Text that was not valid UTF-8 now holds U+FFFD.
    InvalidUtf8,
    /// A value nested too deep is now its JSON text.
    TooDeep,
}

/// Where a repair happened: its `ResourceLogs` index, and, when it was
/// below it, the `ScopeLogs` index and the `LogRecord` index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepairSite {
    /// What was repaired.
    pub repair: Repair,
    /// Index in `resource_logs`.
    pub resource: usize,
    /// Index in `scope_logs`, when the string was in a scope or a record.
    pub scope: Option<usize>,
    /// Index in `log_records`, when the string was in a record.
    pub record: Option<usize>,
}

impl RepairSite {
    /// Whether the record at `(scope, record)` of this site's resource is
    /// affected (a site at resource or scope level covers every record below).
    pub fn covers(&self, scope: usize, record: usize) -> bool {
        self.scope.is_none_or(|s| s == scope) && self.record.is_none_or(|r| r == record)
    }
}

/// Bytes that are not a protobuf message (what is wrong with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl From<prost::DecodeError> for Malformed {
    fn from(_: prost::DecodeError) -> Self {
        Malformed("invalid protobuf")
    }
}

/// The OTLP logs messages, as far as strings are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Request,
    ResourceLogs,
    Resource,
    EntityRef,
    ScopeLogs,
    Scope,
    LogRecord,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
}

/// What a length-delimited field of a message is.
enum Field {
    Text,
    Message(Msg),
    Bytes,
}

/// The schema: `opentelemetry/proto/{collector/logs,logs,common,resource}/v1`.
fn field(msg: Msg, tag: u32) -> Field {
    use Field::{Bytes, Message, Text};
    match (msg, tag) {
        (Msg::Request, 1) => Message(Msg::ResourceLogs),
        (Msg::ResourceLogs, 1) => Message(Msg::Resource),
        (Msg::ResourceLogs, 2) => Message(Msg::ScopeLogs),
        (Msg::ResourceLogs, 3) => Text,
        (Msg::Resource, 1) => Message(Msg::KeyValue),
        (Msg::Resource, 3) => Message(Msg::EntityRef),
        (Msg::EntityRef, 1..=4) => Text,
        (Msg::ScopeLogs, 1) => Message(Msg::Scope),
        (Msg::ScopeLogs, 2) => Message(Msg::LogRecord),
        (Msg::ScopeLogs, 3) => Text,
        (Msg::Scope, 1 | 2) => Text,
        (Msg::Scope, 3) => Message(Msg::KeyValue),
        (Msg::LogRecord, 3 | 12) => Text,
        (Msg::LogRecord, 5) => Message(Msg::AnyValue),
        (Msg::LogRecord, 6) => Message(Msg::KeyValue),
        (Msg::KeyValue, 1) => Text,
        (Msg::KeyValue, 2) => Message(Msg::AnyValue),
        (Msg::AnyValue, 1) => Text,
        (Msg::AnyValue, 5) => Message(Msg::ArrayValue),
        (Msg::AnyValue, 6) => Message(Msg::KeyValueList),
        (Msg::ArrayValue, 1) => Message(Msg::AnyValue),
        (Msg::KeyValueList, 1) => Message(Msg::KeyValue),
        _ => Bytes,
    }
}

/// Message nesting (from the request) beyond which an attribute value or body
/// is written as JSON text, so that `prost` (limit 100) can read the result.
pub const DEEP_VALUE_NESTING: usize = 60;

/// The repaired request bytes and where they were repaired.
pub type Repaired = (Vec<u8>, Vec<RepairSite>);

/// Deepest nesting read at all: beyond it the bytes are [`Malformed`].
const MAX_NESTING: usize = 2000;

/// Rewrites `input` with every invalid UTF-8 sequence in a `string` field
/// replaced by U+FFFD. Returns `None` when every string was valid (nothing to
/// do), else the repaired bytes and the places repaired.
///
/// # Errors
/// [`Malformed`] when the bytes are not protobuf (truncated, a group, a bad
/// wire type, nesting beyond 100).
pub fn repair(input: &[u8]) -> Result<Option<Repaired>, Malformed> {
    let mut walk = Walk {
        sites: Vec::new(),
        at: RepairSite {
            repair: Repair::InvalidUtf8,
            resource: 0,
            scope: None,
            record: None,
        },
    };
    let mut out = Vec::with_capacity(input.len());
    walk.message(Msg::Request, input, &mut out, 0)?;
    Ok((!walk.sites.is_empty()).then_some((out, walk.sites)))
}

struct Walk {
    sites: Vec<RepairSite>,
    at: RepairSite,
}

impl Walk {
    fn message(
        &mut self,
        msg: Msg,
        mut buf: &[u8],
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), Malformed> {
        if depth > MAX_NESTING {
            return Err(Malformed("recursion limit reached"));
        }
        let mut counts = [0usize; 2]; // ResourceLogs/ScopeLogs/LogRecord children seen
        while !buf.is_empty() {
            match next_field(&mut buf)? {
                (tag, Payload::Varint(v)) => {
                    encode_key(tag, WireType::Varint, out);
                    encode_varint(v, out);
                }
                (tag, Payload::Fixed(raw)) => {
                    let wire = if raw.len() == 8 {
                        WireType::SixtyFourBit
                    } else {
                        WireType::ThirtyTwoBit
                    };
                    encode_key(tag, wire, out);
                    out.extend_from_slice(raw);
                }
                (tag, Payload::Bytes(body)) => {
                    self.length_delimited(msg, tag, body, out, depth, &mut counts)?;
                }
            }
        }
        Ok(())
    }

    fn length_delimited(
        &mut self,
        msg: Msg,
        tag: u32,
        body: &[u8],
        out: &mut Vec<u8>,
        depth: usize,
        counts: &mut [usize; 2],
    ) -> Result<(), Malformed> {
        encode_key(tag, WireType::LengthDelimited, out);
        match field(msg, tag) {
            Field::Bytes => write_bytes(body, out),
            Field::Text => match std::str::from_utf8(body) {
                Ok(_) => write_bytes(body, out),
                Err(_) => {
                    write_bytes(String::from_utf8_lossy(body).as_bytes(), out);
                    self.note(Repair::InvalidUtf8);
                }
            },
            Field::Message(Msg::AnyValue) if depth + 1 > DEEP_VALUE_NESTING => {
                let json = render_any(body, 0)?.to_string();
                let mut inner = Vec::with_capacity(json.len() + 8);
                encode_key(1, WireType::LengthDelimited, &mut inner);
                write_bytes(json.as_bytes(), &mut inner);
                write_bytes(&inner, out);
                self.note(Repair::TooDeep);
            }
            Field::Message(child) => {
                let saved = self.at;
                match (msg, child) {
                    (Msg::Request, Msg::ResourceLogs) => {
                        self.at = RepairSite {
                            repair: Repair::InvalidUtf8,
                            resource: counts[0],
                            scope: None,
                            record: None,
                        };
                        counts[0] += 1;
                    }
                    (Msg::ResourceLogs, Msg::ScopeLogs) => {
                        self.at.scope = Some(counts[0]);
                        counts[0] += 1;
                    }
                    (Msg::ScopeLogs, Msg::LogRecord) => {
                        self.at.record = Some(counts[0]);
                        counts[0] += 1;
                    }
                    _ => {}
                }
                let mut inner = Vec::with_capacity(body.len());
                self.message(child, body, &mut inner, depth + 1)?;
                write_bytes(&inner, out);
                if msg != Msg::Request {
                    self.at = saved; // leave the child's scope / record
                }
            }
        }
        Ok(())
    }
}

impl Walk {
    fn note(&mut self, repair: Repair) {
        let site = RepairSite { repair, ..self.at };
        if !self.sites.contains(&site) {
            self.sites.push(site);
        }
    }
}

/// One field of a message: its tag and its payload.
enum Payload<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire types 1 and 5: the 8 or 4 little-endian bytes.
    Fixed(&'a [u8]),
    /// Wire type 2.
    Bytes(&'a [u8]),
}

fn next_field<'a>(buf: &mut &'a [u8]) -> Result<(u32, Payload<'a>), Malformed> {
    let (tag, wire) = decode_key(buf)?;
    let payload = match wire {
        WireType::Varint => Payload::Varint(decode_varint(buf)?),
        WireType::SixtyFourBit | WireType::ThirtyTwoBit => {
            let n = if wire == WireType::SixtyFourBit { 8 } else { 4 };
            if buf.len() < n {
                return Err(Malformed("buffer underflow"));
            }
            let (raw, rest) = buf.split_at(n);
            *buf = rest;
            Payload::Fixed(raw)
        }
        WireType::LengthDelimited => {
            let len =
                usize::try_from(decode_varint(buf)?).map_err(|_| Malformed("length overflow"))?;
            if buf.len() < len {
                return Err(Malformed("buffer underflow"));
            }
            let (body, rest) = buf.split_at(len);
            *buf = rest;
            Payload::Bytes(body)
        }
        WireType::StartGroup | WireType::EndGroup => return Err(Malformed("groups are not OTLP")),
    };
    Ok((tag, payload))
}

/// An `AnyValue`'s wire bytes as JSON (maps as objects, arrays as arrays,
/// bytes as lowercase hex, text read lossily).
fn render_any(mut buf: &[u8], depth: usize) -> Result<serde_json::Value, Malformed> {
    use serde_json::Value as Json;
    if depth > MAX_NESTING {
        return Err(Malformed("recursion limit reached"));
    }
    let mut out = Json::Null;
    while !buf.is_empty() {
        out = match next_field(&mut buf)? {
            (1, Payload::Bytes(b)) => Json::String(String::from_utf8_lossy(b).into_owned()),
            (2, Payload::Varint(v)) => Json::Bool(v != 0),
            (3, Payload::Varint(v)) => Json::from(v as i64),
            (4, Payload::Fixed(raw)) => match <[u8; 8]>::try_from(raw) {
                Ok(b) => Json::from(f64::from_le_bytes(b)),
                Err(_) => out,
            },
            (5, Payload::Bytes(mut b)) => {
                let mut items = Vec::new();
                while !b.is_empty() {
                    if let (1, Payload::Bytes(item)) = next_field(&mut b)? {
                        items.push(render_any(item, depth + 1)?);
                    }
                }
                Json::Array(items)
            }
            (6, Payload::Bytes(mut b)) => {
                let mut map = serde_json::Map::new();
                while !b.is_empty() {
                    if let (1, Payload::Bytes(mut kv)) = next_field(&mut b)? {
                        let (mut key, mut value) = (String::new(), Json::Null);
                        while !kv.is_empty() {
                            match next_field(&mut kv)? {
                                (1, Payload::Bytes(k)) => {
                                    key = String::from_utf8_lossy(k).into_owned()
                                }
                                (2, Payload::Bytes(v)) => value = render_any(v, depth + 1)?,
                                _ => {}
                            }
                        }
                        map.insert(key, value);
                    }
                }
                Json::Object(map)
            }
            (7, Payload::Bytes(b)) => Json::String(b.iter().map(|x| format!("{x:02x}")).collect()),
            _ => out,
        };
    }
    Ok(out)
}

fn write_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::otlp::{
        AnyValue, ExportLogsServiceRequest, KeyValue, LogRecord, Resource, ResourceLogs, ScopeLogs,
        Value,
    };
    use prost::Message;

    fn kv(key: &str, s: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(Value::StringValue(s.to_owned())),
            }),
            ..KeyValue::default()
        }
    }

    /// Two resources, two records each; the canary strings get a 0xFF byte.
    fn request() -> Vec<u8> {
        let rec = |v: &str| LogRecord {
            attributes: vec![kv("prompt", v)],
            ..LogRecord::default()
        };
        let rl = |svc: &str, a: &str, b: &str| ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", svc)],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![rec(a), rec(b)],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        };
        let req = ExportLogsServiceRequest {
            resource_logs: vec![rl("one", "ok", "ok"), rl("BADSVC", "ok", "BADREC")],
        };
        let mut bytes = req.encode_to_vec();
        for needle in [&b"BADSVC"[..], b"BADREC"] {
            let at = bytes
                .windows(needle.len())
                .position(|w| w == needle)
                .unwrap();
            bytes[at] = 0xFF;
        }
        bytes
    }

    #[test]
    fn invalid_strings_become_replacement_characters_and_are_located() {
        let bytes = request();
        assert!(ExportLogsServiceRequest::decode(&bytes[..]).is_err());
        let (fixed, sites) = repair(&bytes).unwrap().unwrap();
        let req = ExportLogsServiceRequest::decode(&fixed[..]).unwrap();
        assert_eq!(req.resource_logs.len(), 2);
        assert_eq!(
            sites,
            [
                RepairSite {
                    repair: Repair::InvalidUtf8,
                    resource: 1,
                    scope: None,
                    record: None
                },
                RepairSite {
                    repair: Repair::InvalidUtf8,
                    resource: 1,
                    scope: Some(0),
                    record: Some(1)
                },
            ]
        );
        let text = format!("{req:?}");
        assert!(text.contains("\u{FFFD}ADSVC") && text.contains("\u{FFFD}ADREC"));
        assert!(sites[0].covers(0, 0) && sites[1].covers(0, 1) && !sites[1].covers(0, 0));
    }

    #[test]
    fn valid_input_needs_no_repair_and_garbage_is_an_error() {
        let ok = ExportLogsServiceRequest::default().encode_to_vec();
        assert!(repair(&ok).unwrap().is_none());
        assert!(repair(&[0x0A, 0x05, 0x01]).is_err());
    }
}
