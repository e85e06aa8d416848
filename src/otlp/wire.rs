//! OTLP protobuf read and written in place, without building the message
//! tree (STYLE: otel-arrow's way of working on OTLP bytes). The transform
//! walks a request's wire bytes with these: fields are read as borrowed
//! slices, what the mapping does not change is copied byte for byte, and
//! new fields are written with `prost`'s encoding primitives.
//!
//! Text is read lossily: protobuf `string` fields must hold UTF-8 and `prost`
//! refuses a message whose strings do not, but the collector's pdata does not
//! check, so a sender can put any bytes there. [`text`] reads them with
//! U+FFFD in place of each invalid sequence and says so.

use prost::encoding::{WireType, decode_varint};
use std::borrow::Cow;

/// Bytes that are not a protobuf message (what is wrong with them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl From<prost::DecodeError> for Malformed {
    fn from(_: prost::DecodeError) -> Self {
        Malformed("invalid protobuf")
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Field numbers of the OTLP messages the transform reads, all three
/// signals (`opentelemetry/proto/{collector/*,logs,trace,metrics,common,resource}/v1`):
/// the one place they are written down. `ResourceLogs`, `ResourceSpans` and
/// `ResourceMetrics` share their numbers (1 resource, 2 scopes, 3
/// schema_url), as do `ScopeLogs`, `ScopeSpans` and `ScopeMetrics` (1 scope,
/// 2 items, 3 schema_url), so one walk serves every signal down to its items.
pub mod tag {
    /// `Export{Logs,Trace,Metrics}ServiceRequest.resource_{logs,spans,metrics}`.
    pub const REQUEST_RESOURCES: u32 = 1;
    /// `Resource{Logs,Spans,Metrics}.resource`.
    pub const RESOURCE_ITEMS_RESOURCE: u32 = 1;
    /// `Resource{Logs,Spans,Metrics}.scope_{logs,spans,metrics}`.
    pub const RESOURCE_ITEMS_SCOPES: u32 = 2;
    /// `Resource{Logs,Spans,Metrics}.schema_url` and
    /// `Scope{Logs,Spans,Metrics}.schema_url`.
    pub const SCHEMA_URL: u32 = 3;
    /// `Resource.attributes`.
    pub const RESOURCE_ATTRIBUTES: u32 = 1;
    /// `Resource.entity_refs`.
    pub const RESOURCE_ENTITY_REFS: u32 = 3;
    /// `Scope{Logs,Spans,Metrics}.scope`.
    pub const SCOPE_ITEMS_SCOPE: u32 = 1;
    /// `ScopeLogs.log_records`, `ScopeSpans.spans`, `ScopeMetrics.metrics`.
    pub const SCOPE_ITEMS_ITEMS: u32 = 2;
    /// `InstrumentationScope.name`.
    pub const SCOPE_NAME: u32 = 1;
    /// `InstrumentationScope.version`.
    pub const SCOPE_VERSION: u32 = 2;
    /// `InstrumentationScope.attributes`.
    pub const SCOPE_ATTRIBUTES: u32 = 3;
    /// `LogRecord.time_unix_nano` (fixed64).
    pub const RECORD_TIME: u32 = 1;
    /// `LogRecord.severity_number` (varint).
    pub const RECORD_SEVERITY_NUMBER: u32 = 2;
    /// `LogRecord.severity_text`.
    pub const RECORD_SEVERITY_TEXT: u32 = 3;
    /// `LogRecord.trace_id`.
    pub const RECORD_TRACE_ID: u32 = 9;
    /// `LogRecord.span_id`.
    pub const RECORD_SPAN_ID: u32 = 10;
    /// `LogRecord.body` (`AnyValue`).
    pub const RECORD_BODY: u32 = 5;
    /// `LogRecord.attributes`.
    pub const RECORD_ATTRIBUTES: u32 = 6;
    /// `LogRecord.observed_time_unix_nano` (fixed64).
    pub const RECORD_OBSERVED_TIME: u32 = 11;
    /// `LogRecord.event_name`.
    pub const RECORD_EVENT_NAME: u32 = 12;
    /// `KeyValue.key`.
    pub const KV_KEY: u32 = 1;
    /// `KeyValue.value` (`AnyValue`).
    pub const KV_VALUE: u32 = 2;
    /// `AnyValue.string_value`.
    pub const ANY_STRING: u32 = 1;
    /// `AnyValue.bool_value`.
    pub const ANY_BOOL: u32 = 2;
    /// `AnyValue.int_value`.
    pub const ANY_INT: u32 = 3;
    /// `AnyValue.double_value`.
    pub const ANY_DOUBLE: u32 = 4;
    /// `AnyValue.array_value` (`ArrayValue`, whose field 1 is `values`).
    pub const ANY_ARRAY: u32 = 5;
    /// `AnyValue.kvlist_value` (`KeyValueList`, whose field 1 is `values`).
    pub const ANY_KVLIST: u32 = 6;
    /// `AnyValue.bytes_value`.
    pub const ANY_BYTES: u32 = 7;
    /// `ArrayValue.values` and `KeyValueList.values`.
    pub const LIST_VALUES: u32 = 1;

    /// `Span.trace_id`.
    pub const SPAN_TRACE_ID: u32 = 1;
    /// `Span.span_id`.
    pub const SPAN_SPAN_ID: u32 = 2;
    /// `Span.trace_state`.
    pub const SPAN_TRACE_STATE: u32 = 3;
    /// `Span.name`.
    pub const SPAN_NAME: u32 = 5;
    /// `Span.start_time_unix_nano` (fixed64).
    pub const SPAN_START_TIME: u32 = 7;
    /// `Span.end_time_unix_nano` (fixed64).
    pub const SPAN_END_TIME: u32 = 8;
    /// `Span.attributes`.
    pub const SPAN_ATTRIBUTES: u32 = 9;
    /// `Span.events`.
    pub const SPAN_EVENTS: u32 = 11;
    /// `Span.links`.
    pub const SPAN_LINKS: u32 = 13;
    /// `Span.status`.
    pub const SPAN_STATUS: u32 = 15;
    /// `Span.Event.time_unix_nano` (fixed64).
    pub const EVENT_TIME: u32 = 1;
    /// `Span.Event.name`.
    pub const EVENT_NAME: u32 = 2;
    /// `Span.Event.attributes`.
    pub const EVENT_ATTRIBUTES: u32 = 3;
    /// `Span.Link.attributes`.
    pub const LINK_ATTRIBUTES: u32 = 4;
    /// `Status.code` (varint).
    pub const STATUS_CODE: u32 = 3;
    /// `Metric.metadata` (`KeyValue`s).
    pub const METRIC_METADATA: u32 = 12;
    /// `Gauge`, `Sum`, `Histogram`, `ExponentialHistogram` and
    /// `Summary`: `data_points`.
    pub const DATA_POINTS: u32 = 1;
    /// `Exemplar.filtered_attributes`.
    pub const EXEMPLAR_ATTRIBUTES: u32 = 7;
    /// `Metric.name`.
    pub const METRIC_NAME: u32 = 1;
    /// Every data point type's `time_unix_nano` (fixed64).
    pub const POINT_TIME: u32 = 3;
    /// `NumberDataPoint.as_double` (fixed64 double).
    pub const NUMBER_AS_DOUBLE: u32 = 4;
    /// `NumberDataPoint.as_int` (sfixed64).
    pub const NUMBER_AS_INT: u32 = 6;
}

/// One field's payload.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire types 1 and 5: the 8 or 4 little-endian bytes.
    Fixed(&'a [u8]),
    /// Wire type 2.
    Bytes(&'a [u8]),
}

/// One field of a message: its number, its payload, and its whole encoding
/// (key included), for copying it verbatim.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The field number.
    pub tag: u32,
    /// The payload.
    pub payload: Payload<'a>,
    /// The field's bytes as they came (key, length and payload).
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The payload of a length-delimited field; `None` for another wire type.
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.payload {
            Payload::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// A fixed64 payload as an integer (`None` for another wire type).
    pub fn fixed64(&self) -> Option<u64> {
        match self.payload {
            Payload::Fixed(raw) => <[u8; 8]>::try_from(raw).ok().map(u64::from_le_bytes),
            _ => None,
        }
    }
}

/// The fields of a message, in wire order. Yields an error (and then
/// nothing) at the first byte that is not protobuf.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    buf: &'a [u8],
}

/// The fields of the message encoded in `buf`.
pub fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, Malformed>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let start = self.buf;
        match next_field(&mut self.buf) {
            Ok((tag, payload)) => {
                let raw = &start[..start.len() - self.buf.len()];
                Some(Ok(Field { tag, payload, raw }))
            }
            Err(e) => {
                self.buf = &[];
                Some(Err(e))
            }
        }
    }
}

/// Reads a varint; one- and two-byte values (almost every key and length
/// in OTLP) without a loop, the rest through `prost`.
#[inline(always)]
fn varint(buf: &mut &[u8]) -> Result<u64, Malformed> {
    let b: &[u8] = buf;
    match (b.first(), b.get(1)) {
        (Some(&b0), _) if b0 < 0x80 => {
            *buf = &b[1..];
            Ok(u64::from(b0))
        }
        (Some(&b0), Some(&b1)) if b1 < 0x80 => {
            *buf = &b[2..];
            Ok(u64::from(b0 & 0x7f) | u64::from(b1) << 7)
        }
        _ => Ok(decode_varint(buf)?),
    }
}

/// The OTLP messages the transform walks, for [`fields_of`] and
/// [`Message::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// `ExportLogsServiceRequest`, or the traces or metrics request: each
    /// has one field, 1, its repeated resources.
    Request,
    /// `ResourceLogs`, `ResourceSpans` or `ResourceMetrics` (same fields).
    ResourceItems,
    /// `Resource`.
    Resource,
    /// `ScopeLogs`, `ScopeSpans` or `ScopeMetrics` (same fields).
    ScopeItems,
    /// `InstrumentationScope`.
    Scope,
    /// `LogRecord`.
    LogRecord,
    /// `ArrayValue` and `KeyValueList`.
    List,
    /// `EntityRef` (in `Resource.entity_refs`).
    EntityRef,
    /// `Span`.
    Span,
    /// `Span.Event`.
    SpanEvent,
    /// `Span.Link`.
    SpanLink,
    /// `Status`.
    Status,
    /// `Metric`.
    Metric,
    /// `Gauge` and `Summary` (one field: their data points).
    Gauge,
    /// `Sum`.
    Sum,
    /// `Histogram` and `ExponentialHistogram` (data points, temporality).
    Histogram,
    /// `NumberDataPoint`.
    NumberDataPoint,
    /// `HistogramDataPoint`.
    HistogramDataPoint,
    /// `ExponentialHistogramDataPoint`.
    ExponentialHistogramDataPoint,
    /// `SummaryDataPoint`.
    SummaryDataPoint,
    /// `Exemplar`.
    Exemplar,
    /// `ExponentialHistogramDataPoint.Buckets`.
    Buckets,
    /// `SummaryDataPoint.ValueAtQuantile`.
    ValueAtQuantile,
}

impl Message {
    /// Whether field `field` of this message is a `string` (read with
    /// [`text`], repaired when it is not UTF-8). Strings inside attributes
    /// are read with the attributes.
    pub fn text(self, field: u32) -> bool {
        use Message::*;
        matches!(
            (self, field),
            (ResourceItems | ScopeItems, 3)
                | (Scope, 1 | 2)
                | (LogRecord, 3 | 12)
                | (Span, 3 | 5)
                | (SpanEvent, 2)
                | (SpanLink, 3)
                | (Status, 2)
                | (Metric, 1..=3)
        )
    }

    /// The field holding this message's attributes (`KeyValue`s), if it
    /// has one.
    pub fn attributes(self) -> Option<u32> {
        use Message::*;
        Some(match self {
            Resource => 1,
            Scope => 3,
            LogRecord => 6,
            Span => 9,
            SpanEvent => 3,
            SpanLink => 4,
            Metric => 12,
            NumberDataPoint | SummaryDataPoint | Exemplar => 7,
            HistogramDataPoint => 9,
            ExponentialHistogramDataPoint => 1,
            _ => return None,
        })
    }

    /// The message type of field `field`, when it is a message the walk
    /// descends into ([`Message::child`] of a metric's data: the data
    /// point type).
    pub fn child(self, field: u32) -> Option<Message> {
        use Message::*;
        Some(match (self, field) {
            (Span, 11) => SpanEvent,
            (Span, 13) => SpanLink,
            (Span, 15) => Status,
            (Metric, 5 | 11) => Gauge,
            (Metric, 7) => Sum,
            (Metric, 9 | 10) => Histogram,
            (NumberDataPoint, 5) | (HistogramDataPoint, 8) => Exemplar,
            (ExponentialHistogramDataPoint, 11) => Exemplar,
            (ExponentialHistogramDataPoint, 8 | 9) => Buckets,
            (SummaryDataPoint, 6) => ValueAtQuantile,
            _ => return None,
        })
    }

    /// The data point type of a metric's data field (`Metric` field 5
    /// gauge, 7 sum, 9 histogram, 10 exponential histogram, 11 summary).
    pub fn data_point(metric_field: u32) -> Option<Message> {
        use Message::*;
        Some(match metric_field {
            5 | 7 => NumberDataPoint,
            9 => HistogramDataPoint,
            10 => ExponentialHistogramDataPoint,
            11 => SummaryDataPoint,
            _ => return None,
        })
    }
}

/// Wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32) of a
/// known field; `None` for a field number the schema does not have (an
/// unknown field, copied as it came).
fn wire_type(message: Message, field: u32) -> Option<u8> {
    use Message::*;
    Some(match (message, field) {
        (Request, 1) | (ResourceItems, 1..=3) | (ScopeItems, 1..=3) => 2,
        (Resource, 1 | 3) | (Scope, 1..=3) | (List, 1) | (EntityRef, 1..=4) => 2,
        (Resource, 2) | (Scope, 4) => 0,
        (LogRecord, 1 | 11) => 1,
        (LogRecord, 2 | 7) => 0,
        (LogRecord, 3 | 5 | 6 | 9 | 10 | 12) => 2,
        (LogRecord, 8) => 5,
        (Span, 1..=5 | 9 | 11 | 13 | 15) => 2,
        (Span, 6 | 10 | 12 | 14) => 0,
        (Span, 7 | 8) => 1,
        (Span, 16) => 5,
        (SpanEvent, 1) => 1,
        (SpanEvent, 2 | 3) => 2,
        (SpanEvent, 4) => 0,
        (SpanLink, 1..=4) => 2,
        (SpanLink, 5) => 0,
        (SpanLink, 6) => 5,
        (Status, 2) => 2,
        (Status, 3) => 0,
        (Metric, 1..=3 | 5 | 7 | 9..=12) => 2,
        (Gauge | Sum | Histogram, 1) => 2,
        (Sum, 2 | 3) | (Histogram, 2) => 0,
        (NumberDataPoint, 5 | 7) => 2,
        (NumberDataPoint, 2..=4 | 6) => 1,
        (NumberDataPoint, 8) => 0,
        (HistogramDataPoint, 8 | 9) => 2,
        (HistogramDataPoint, 2..=5 | 11 | 12) => 1,
        (HistogramDataPoint, 10) => 0,
        (ExponentialHistogramDataPoint, 1 | 8 | 9 | 11) => 2,
        (ExponentialHistogramDataPoint, 2..=5 | 7 | 12..=14) => 1,
        (ExponentialHistogramDataPoint, 6 | 10) => 0,
        (SummaryDataPoint, 6 | 7) => 2,
        (SummaryDataPoint, 2..=5) => 1,
        (SummaryDataPoint, 8) => 0,
        (Exemplar, 4 | 5 | 7) => 2,
        (Exemplar, 2 | 3 | 6) => 1,
        (Buckets, 1) => 0,
        (ValueAtQuantile, 1 | 2) => 1,
        // Repeated scalars (bucket counts, bounds) may come packed or not:
        // both are protobuf, so neither is checked here.
        _ => return None,
    })
}

/// [`fields`], checking each known field's wire type against the OTLP
/// schema (as `prost` and pdata do): a mismatch is [`Malformed`], never
/// copied into the output.
pub fn fields_of(
    message: Message,
    buf: &[u8],
) -> impl Iterator<Item = Result<Field<'_>, Malformed>> {
    fields(buf).map(move |f| {
        let f = f?;
        let actual = match f.payload {
            Payload::Varint(_) => 0,
            Payload::Fixed(raw) if raw.len() == 8 => 1,
            Payload::Fixed(_) => 5,
            Payload::Bytes(_) => 2,
        };
        match wire_type(message, f.tag) {
            Some(expected) if expected != actual => Err(Malformed("field of the wrong wire type")),
            _ => Ok(f),
        }
    })
}

#[inline]
fn next_field<'a>(buf: &mut &'a [u8]) -> Result<(u32, Payload<'a>), Malformed> {
    let key = varint(buf)?;
    // A key is a u32 and a tag at least 1, as prost and pdata read it.
    let key = u32::try_from(key).map_err(|_| Malformed("invalid key"))?;
    let tag = key >> 3;
    if tag == 0 {
        return Err(Malformed("invalid tag 0"));
    }
    let key = u64::from(key);
    let payload = match key & 7 {
        0 => Payload::Varint(varint(buf)?),
        1 | 5 => {
            let n = if key & 7 == 1 { 8 } else { 4 };
            if buf.len() < n {
                return Err(Malformed("buffer underflow"));
            }
            let (raw, rest) = buf.split_at(n);
            *buf = rest;
            Payload::Fixed(raw)
        }
        2 => {
            let len = usize::try_from(varint(buf)?).map_err(|_| Malformed("length overflow"))?;
            if buf.len() < len {
                return Err(Malformed("buffer underflow"));
            }
            let (body, rest) = buf.split_at(len);
            *buf = rest;
            Payload::Bytes(body)
        }
        3 | 4 => return Err(Malformed("groups are not OTLP")),
        _ => return Err(Malformed("invalid wire type")),
    };
    Ok((tag, payload))
}

/// Text of a `string` field: borrowed when it is valid UTF-8, else a copy
/// with U+FFFD in place of each invalid sequence (the `bool` says so).
pub fn text(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (String::from_utf8_lossy(bytes), true),
    }
}

/// An `AnyValue` read without copying: scalars decoded, strings and nested
/// values as their wire bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyRef<'a> {
    /// No value set (an empty `AnyValue`).
    Empty,
    /// `string_value`, as sent (maybe not UTF-8: read it with [`text`]).
    Str(&'a [u8]),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `array_value`: the `ArrayValue` message bytes.
    Array(&'a [u8]),
    /// `kvlist_value`: the `KeyValueList` message bytes.
    Kvlist(&'a [u8]),
    /// `bytes_value`.
    Bytes(&'a [u8]),
}

/// Reads an `AnyValue` message (the last `oneof` member set wins, as in
/// every protobuf decoder; unknown fields are skipped).
///
/// # Errors
/// [`Malformed`] when the bytes are not protobuf.
pub fn any(bytes: &[u8]) -> Result<AnyRef<'_>, Malformed> {
    // The common case, one string_value and nothing else, read directly.
    if let Some(text) = only_bytes_field(bytes, tag::ANY_STRING) {
        return Ok(AnyRef::Str(text));
    }
    let mut v = AnyRef::Empty;
    for field in fields(bytes) {
        let field = field?;
        v = match (field.tag, field.payload) {
            (tag::ANY_STRING, Payload::Bytes(b)) => AnyRef::Str(b),
            (tag::ANY_BOOL, Payload::Varint(x)) => AnyRef::Bool(x != 0),
            (tag::ANY_INT, Payload::Varint(x)) => AnyRef::Int(x as i64),
            (tag::ANY_DOUBLE, Payload::Fixed(raw)) => match <[u8; 8]>::try_from(raw) {
                Ok(b) => AnyRef::Double(f64::from_le_bytes(b)),
                Err(_) => return Err(Malformed("double_value is not 64-bit")),
            },
            (tag::ANY_ARRAY, Payload::Bytes(b)) => AnyRef::Array(b),
            (tag::ANY_KVLIST, Payload::Bytes(b)) => AnyRef::Kvlist(b),
            (tag::ANY_BYTES, Payload::Bytes(b)) => AnyRef::Bytes(b),
            // `string_value_strindex` (profiles only): checked, not read.
            (8, Payload::Varint(_)) => v,
            (1..=8, _) => return Err(Malformed("AnyValue field of the wrong wire type")),
            _ => v,
        };
    }
    Ok(v)
}

/// A `KeyValue` read without copying.
#[derive(Debug, Clone, Copy)]
pub struct KeyValueRef<'a> {
    /// The key's bytes (read them with [`text`]).
    pub key: &'a [u8],
    /// The value (`AnyRef::Empty` when absent).
    pub value: AnyRef<'a>,
    /// The `AnyValue` message bytes (empty when absent).
    pub value_raw: &'a [u8],
}

/// Reads a `KeyValue` message.
///
/// # Errors
/// [`Malformed`] when the bytes are not protobuf.
pub fn key_value(bytes: &[u8]) -> Result<KeyValueRef<'_>, Malformed> {
    // The common case, the key then the value and nothing else (how every
    // encoder writes a KeyValue), read directly.
    if let Some((key, rest)) = leading_bytes_field(bytes, tag::KV_KEY) {
        if let Some(value_raw) = only_bytes_field(rest, tag::KV_VALUE) {
            return Ok(KeyValueRef {
                key,
                value: any(value_raw)?,
                value_raw,
            });
        }
    }
    let mut kv = KeyValueRef {
        key: &[],
        value: AnyRef::Empty,
        value_raw: &[],
    };
    for field in fields(bytes) {
        let field = field?;
        match (field.tag, field.payload) {
            (tag::KV_KEY, Payload::Bytes(b)) => kv.key = b,
            (tag::KV_VALUE, Payload::Bytes(b)) => {
                kv.value = any(b)?;
                kv.value_raw = b;
            }
            // `key_strindex` (profiles only): checked, not read.
            (3, Payload::Varint(_)) => {}
            (1..=3, _) => return Err(Malformed("KeyValue field of the wrong wire type")),
            _ => {}
        }
    }
    Ok(kv)
}

/// A length-delimited field `field_tag` at the start of `bytes` (its key
/// in one byte): its payload and what follows; `None` for anything else
/// (the caller reads the bytes the general way).
#[inline(always)]
fn leading_bytes_field(bytes: &[u8], field_tag: u32) -> Option<(&[u8], &[u8])> {
    let (&key, mut rest) = bytes.split_first()?;
    if u32::from(key) != field_tag << 3 | 2 || field_tag > 15 {
        return None;
    }
    let len = usize::try_from(varint(&mut rest).ok()?).ok()?;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// `bytes` holding exactly one length-delimited field `field_tag`: its
/// payload.
#[inline(always)]
fn only_bytes_field(bytes: &[u8], field_tag: u32) -> Option<&[u8]> {
    match leading_bytes_field(bytes, field_tag)? {
        (payload, []) => Some(payload),
        _ => None,
    }
}

/// The `values` of an `ArrayValue` (each an `AnyValue`'s bytes) or of a
/// `KeyValueList` (each a `KeyValue`'s bytes).
pub fn list_items(list: &[u8]) -> impl Iterator<Item = Result<&[u8], Malformed>> {
    fields_of(Message::List, list).filter_map(|f| match f {
        Ok(Field {
            tag: tag::LIST_VALUES,
            payload: Payload::Bytes(b),
            ..
        }) => Some(Ok(b)),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    })
}

/// Writes a varint (one byte without a loop).
#[inline(always)]
pub fn encode_varint(v: u64, out: &mut Vec<u8>) {
    if v < 0x80 {
        out.push(v as u8);
    } else {
        prost::encoding::encode_varint(v, out);
    }
}

/// Writes a field key.
#[inline(always)]
pub fn encode_key(tag: u32, wire: WireType, out: &mut Vec<u8>) {
    encode_varint(u64::from(tag) << 3 | wire as u64, out);
}

/// Writes a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// A nested message being written ([`begin`] … [`end`]): where its length
/// goes and how many bytes were reserved for it.
#[derive(Debug, Clone, Copy)]
#[must_use = "a message begun must be ended"]
pub struct Open {
    at: usize,
    reserved: usize,
}

/// Starts a length-delimited field whose length is not known yet, reserving
/// room for a length of about `expected` bytes; [`end`] moves the message's
/// bytes only when the guess was off by a varint byte.
pub fn begin(out: &mut Vec<u8>, tag: u32, expected: usize) -> Open {
    encode_key(tag, WireType::LengthDelimited, out);
    let open = Open {
        at: out.len(),
        reserved: varint_len(expected),
    };
    out.resize(out.len() + open.reserved, 0);
    open
}

/// Ends a field started with [`begin`]: writes its length (minimal varint,
/// so the output is canonical protobuf).
pub fn end(out: &mut Vec<u8>, open: Open) {
    let Open { at, reserved } = open;
    let len = out.len() - at - reserved;
    let mut prefix = [0u8; 10];
    let mut p = &mut prefix[..];
    prost::encoding::encode_varint(len as u64, &mut p);
    let n = 10 - p.len();
    if n != reserved {
        let body = at + reserved;
        if n > reserved {
            out.splice(body..body, std::iter::repeat_n(0, n - reserved));
        } else {
            out.copy_within(body.., at + n);
            out.truncate(out.len() - (reserved - n));
        }
    }
    out[at..at + n].copy_from_slice(&prefix[..n]);
}

/// A value that writes itself as `AnyValue` message bytes, knowing their
/// length first (so that nested lengths are written without a copy).
pub trait AnyValueBytes {
    /// The length of the `AnyValue` message bytes.
    fn encoded_len(&self) -> usize;
    /// Appends the `AnyValue` message bytes.
    fn encode(&self, out: &mut Vec<u8>);
}

impl AnyValueBytes for [u8] {
    fn encoded_len(&self) -> usize {
        self.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

/// Writes a `KeyValue` (as field `tag`) whose key is `prefix` followed by
/// `name`.
pub fn put_key_value<V: AnyValueBytes + ?Sized>(
    out: &mut Vec<u8>,
    tag: u32,
    prefix: &str,
    name: &str,
    value: &V,
) {
    let len = key_value_len(prefix.len() + name.len(), value.encoded_len());
    out.reserve(len + 6);
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
    put_key_value_message(out, prefix, name, value);
}

/// Length of a `KeyValue` message with a key of `key_len` bytes and an
/// `AnyValue` of `value_len` bytes.
fn key_value_len(key_len: usize, value_len: usize) -> usize {
    1 + varint_len(key_len) + key_len + 1 + varint_len(value_len) + value_len
}

/// Writes the bytes of a `KeyValue` message (no field key or length in
/// front): its canonical encoding, as `prost` writes it.
pub fn put_key_value_message<V: AnyValueBytes + ?Sized>(
    out: &mut Vec<u8>,
    prefix: &str,
    name: &str,
    value: &V,
) {
    encode_key(tag::KV_KEY, WireType::LengthDelimited, out);
    encode_varint((prefix.len() + name.len()) as u64, out);
    out.extend_from_slice(prefix.as_bytes());
    out.extend_from_slice(name.as_bytes());
    encode_key(tag::KV_VALUE, WireType::LengthDelimited, out);
    encode_varint(value.encoded_len() as u64, out);
    value.encode(out);
}

/// Writes a message field whose bytes `value` writes.
pub fn put_message<V: AnyValueBytes + ?Sized>(out: &mut Vec<u8>, tag: u32, value: &V) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(value.encoded_len() as u64, out);
    value.encode(out);
}

/// Length of `v` as a varint.
pub fn varint_len(v: usize) -> usize {
    prost::encoding::encoded_len_varint(v as u64)
}

/// Writes a varint field.
pub fn put_varint(out: &mut Vec<u8>, tag: u32, v: u64) {
    encode_key(tag, WireType::Varint, out);
    encode_varint(v, out);
}

/// Writes a fixed64 field.
pub fn put_fixed64(out: &mut Vec<u8>, tag: u32, raw: [u8; 8]) {
    encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&raw);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn nested_lengths_are_minimal_whatever_the_size() {
        for size in [0usize, 1, 127, 128, 16_383, 16_384, 3_000_000] {
            let mut out = vec![9];
            let open = begin(&mut out, 2, 200);
            out.extend(std::iter::repeat_n(7u8, size));
            end(&mut out, open);
            let mut expected = vec![9];
            put_bytes(&mut expected, 2, &vec![7u8; size]);
            assert_eq!(out, expected, "size {size}");
        }
    }

    #[test]
    fn any_reads_every_member_and_refuses_garbage() {
        let mut s = Vec::new();
        put_bytes(&mut s, tag::ANY_STRING, b"x");
        assert_eq!(any(&s).unwrap(), AnyRef::Str(b"x"));
        let mut i = Vec::new();
        put_varint(&mut i, tag::ANY_INT, (-5i64) as u64);
        assert_eq!(any(&i).unwrap(), AnyRef::Int(-5));
        assert!(any(&[0x0a, 0x05, 1]).is_err(), "truncated");
        assert_eq!(text(b"a\xffb"), (Cow::Owned("a\u{fffd}b".into()), true));
    }
}
