//! Attribute values: as read from the wire ([`InValue`], borrowed), as written
//! ([`OutValue`]), their typed conversions (mapping.md §2), and JSON.

use crate::otlp::wire::{self, AnyRef, Malformed};
use crate::otlp::{AnyValue, ArrayValue, KeyValue, KeyValueList, Value};
use std::borrow::Cow;

/// How an attribute value is converted (mapping.md §2).
/// Every conversion accepts string, int, double and bool inputs; a value that
/// does not convert is kept as it came and the record is marked (mapping.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// Kept with its OTLP type (arrays and maps included).
    Keep,
    /// A keyword string; ints, doubles and bools become their text.
    Keyword,
    /// A 64-bit integer (`"62"`, `62`, `62.0` all give 62).
    Long,
    /// A double (`"0.5"`, `0.5`, `1` all convert).
    Double,
    /// A boolean (`true`, `"true"`, `"TRUE"`, `1` / `false`, `"false"`, `0`).
    Bool,
    /// The keyword strings `"true"` / `"false"` (dashboards filter on them).
    BoolKeyword,
    /// Milliseconds in, nanoseconds out, as a long (`event.duration`).
    NanosFromMillis,
    /// JSON text (tool arguments): a string is kept as sent, a map is written
    /// as compact JSON so the field always has one type.
    JsonText,
}

/// An input attribute value, borrowed from the request bytes. Text is
/// already read (lossily when it was not UTF-8); arrays and maps stay as
/// their wire bytes until a rule needs them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InValue<'a> {
    /// No value (an absent or empty `AnyValue`).
    Empty,
    /// A string.
    Str(Cow<'a, str>),
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A double.
    Double(f64),
    /// An array: the `AnyValue` message bytes.
    Array(&'a [u8]),
    /// A map: the `AnyValue` message bytes.
    Kvlist(&'a [u8]),
    /// Bytes.
    Bytes(&'a [u8]),
}

impl<'a> InValue<'a> {
    /// An owned scalar value seen as input, so the mapping's conversions
    /// ([`convert`], [`to_bool`]) read it (`None` for arrays, maps and bytes).
    pub(crate) fn of_scalar(v: &'a Value) -> Option<InValue<'a>> {
        Some(match v {
            Value::StringValue(s) => InValue::Str(Cow::Borrowed(s)),
            Value::BoolValue(b) => InValue::Bool(*b),
            Value::IntValue(i) => InValue::Int(*i),
            Value::DoubleValue(d) => InValue::Double(*d),
            _ => return None,
        })
    }

    /// Reads a value, given its `AnyValue` bytes; the `bool` tells whether
    /// its text (this level only) was not UTF-8.
    pub(crate) fn read(any: AnyRef<'a>, raw: &'a [u8]) -> (InValue<'a>, bool) {
        match any {
            AnyRef::Empty => (InValue::Empty, false),
            AnyRef::Str(b) => {
                let (s, repaired) = wire::text(b);
                (InValue::Str(s), repaired)
            }
            AnyRef::Bool(b) => (InValue::Bool(b), false),
            AnyRef::Int(i) => (InValue::Int(i), false),
            AnyRef::Double(d) => (InValue::Double(d), false),
            AnyRef::Array(_) => (InValue::Array(raw), false),
            AnyRef::Kvlist(_) => (InValue::Kvlist(raw), false),
            AnyRef::Bytes(b) => (InValue::Bytes(b), false),
        }
    }

    /// The value as an owned OTLP value (`None` when empty).
    ///
    /// # Errors
    /// [`Malformed`] when a nested value is not protobuf.
    pub(crate) fn to_value(&self) -> Result<Option<Value>, Malformed> {
        Ok(Some(match self {
            InValue::Empty => return Ok(None),
            InValue::Str(s) => Value::StringValue(s.clone().into_owned()),
            InValue::Bool(b) => Value::BoolValue(*b),
            InValue::Int(i) => Value::IntValue(*i),
            InValue::Double(d) => Value::DoubleValue(*d),
            InValue::Bytes(b) => Value::BytesValue(b.to_vec()),
            InValue::Array(raw) | InValue::Kvlist(raw) => return crate::otlp::value(raw),
        }))
    }

    /// The OTLP type name, for error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            InValue::Empty => "empty",
            InValue::Str(_) => "string",
            InValue::Bool(_) => "bool",
            InValue::Int(_) => "int",
            InValue::Double(_) => "double",
            InValue::Array(_) => "array",
            InValue::Kvlist(_) => "map",
            InValue::Bytes(_) => "bytes",
        }
    }

    /// Text of a scalar value: strings as they are, numbers and bools as
    /// their canonical text. `None` for arrays, maps, bytes and nothing.
    pub(crate) fn scalar_text(&self) -> Option<Cow<'a, str>> {
        match self {
            InValue::Str(s) => Some(s.clone()),
            InValue::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            InValue::Int(i) => Some(Cow::Owned(i.to_string())),
            InValue::Double(d) => Some(Cow::Owned(d.to_string())),
            _ => None,
        }
    }

    /// The value as JSON (maps as objects, bytes as arrays of numbers).
    pub(crate) fn to_json(&self) -> Result<serde_json::Value, Malformed> {
        Ok(self
            .to_value()?
            .map_or(serde_json::Value::Null, |v| to_json(&v)))
    }
}

/// An output attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OutValue<'a> {
    /// A string (borrowed from the input or the configuration when it can be).
    Str(Cow<'a, str>),
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A double.
    Double(f64),
    /// An array of strings.
    Strings(Vec<Cow<'a, str>>),
    /// Any other value, owned.
    Value(Value),
    /// An `AnyValue` copied as it came (bytes already checked).
    Raw(&'a [u8]),
}

impl OutValue<'_> {
    /// A scalar value as input, so the mapping's conversions
    /// ([`convert`], [`to_bool`]) read it; a value copied as it came is
    /// read. `None` for arrays, maps, bytes and nothing.
    pub(crate) fn as_in(&self) -> Option<InValue<'_>> {
        let v = match self {
            OutValue::Str(s) => InValue::Str(Cow::Borrowed(s)),
            OutValue::Bool(b) => InValue::Bool(*b),
            OutValue::Int(i) => InValue::Int(*i),
            OutValue::Double(d) => InValue::Double(*d),
            OutValue::Strings(_) => return None,
            OutValue::Value(v) => return InValue::of_scalar(v),
            OutValue::Raw(raw) => InValue::read(wire::any(raw).ok()?, raw).0,
        };
        matches!(
            v,
            InValue::Str(_) | InValue::Bool(_) | InValue::Int(_) | InValue::Double(_)
        )
        .then_some(v)
    }

    /// Text of a scalar value ([`InValue::scalar_text`]).
    pub(crate) fn scalar_text(&self) -> Option<Cow<'_, str>> {
        self.as_in()?.scalar_text()
    }

    /// The value as an owned OTLP value (`None`: an `AnyValue` that holds
    /// nothing or cannot be read).
    /// The value as the exporter stores it in JSON ([`to_json`] of
    /// [`OutValue::into_value`]), copying a string once.
    pub(crate) fn stored_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            OutValue::Str(s) => serde_json::Value::String(s.to_string()),
            OutValue::Bool(b) => serde_json::Value::Bool(*b),
            OutValue::Int(i) => serde_json::Value::from(*i),
            OutValue::Double(d) => serde_json::Value::from(*d),
            OutValue::Strings(items) => serde_json::Value::Array(
                items
                    .iter()
                    .map(|s| serde_json::Value::String(s.to_string()))
                    .collect(),
            ),
            OutValue::Value(v) => to_json(v),
            OutValue::Raw(_) => to_json(&self.clone().into_value()?),
        })
    }

    pub(crate) fn into_value(self) -> Option<Value> {
        Some(match self {
            OutValue::Str(s) => Value::StringValue(s.into_owned()),
            OutValue::Bool(b) => Value::BoolValue(b),
            OutValue::Int(i) => Value::IntValue(i),
            OutValue::Double(d) => Value::DoubleValue(d),
            OutValue::Strings(items) => Value::ArrayValue(ArrayValue {
                values: (items.into_iter())
                    .map(|s| AnyValue {
                        value: Some(Value::StringValue(s.into_owned())),
                    })
                    .collect(),
            }),
            OutValue::Value(v) => v,
            OutValue::Raw(raw) => crate::otlp::value(raw).ok()??,
        })
    }

    /// mapping.md §2: "Empty values (empty string, empty array, empty
    /// object) are removed from the output, wherever they are". Removes
    /// empty members in place, then tells whether what is left is empty.
    pub(crate) fn prune_empty(&mut self) -> bool {
        match self {
            OutValue::Str(s) => s.is_empty(),
            OutValue::Strings(items) => {
                items.retain(|s| !s.is_empty());
                items.is_empty()
            }
            OutValue::Value(v) => prune_empty(v),
            OutValue::Bool(_) | OutValue::Int(_) | OutValue::Double(_) | OutValue::Raw(_) => false,
        }
    }
}

/// Length of a length-delimited field of `n` bytes with a one-byte key.
fn field_len(n: usize) -> usize {
    1 + wire::varint_len(n) + n
}

impl wire::AnyValueBytes for OutValue<'_> {
    fn encoded_len(&self) -> usize {
        match self {
            OutValue::Str(s) => field_len(s.len()),
            OutValue::Bool(_) => 2,
            OutValue::Int(i) => 1 + prost::encoding::encoded_len_varint(*i as u64),
            OutValue::Double(_) => 9,
            OutValue::Strings(items) => {
                field_len(items.iter().map(|s| field_len(field_len(s.len()))).sum())
            }
            OutValue::Value(v) => v.encoded_len(),
            OutValue::Raw(raw) => raw.len(),
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        use wire::tag;
        match self {
            OutValue::Str(s) => wire::put_bytes(out, tag::ANY_STRING, s.as_bytes()),
            OutValue::Bool(b) => wire::put_varint(out, tag::ANY_BOOL, u64::from(*b)),
            OutValue::Int(i) => wire::put_varint(out, tag::ANY_INT, *i as u64),
            OutValue::Double(d) => wire::put_fixed64(out, tag::ANY_DOUBLE, d.to_le_bytes()),
            OutValue::Strings(items) => {
                let len = items
                    .iter()
                    .map(|s| field_len(field_len(s.len())))
                    .sum::<usize>();
                wire::encode_key(
                    tag::ANY_ARRAY,
                    prost::encoding::WireType::LengthDelimited,
                    out,
                );
                wire::encode_varint(len as u64, out);
                for s in items {
                    wire::encode_key(
                        tag::LIST_VALUES,
                        prost::encoding::WireType::LengthDelimited,
                        out,
                    );
                    wire::encode_varint(field_len(s.len()) as u64, out);
                    wire::put_bytes(out, tag::ANY_STRING, s.as_bytes());
                }
            }
            OutValue::Value(v) => v.encode(out),
            OutValue::Raw(raw) => out.extend_from_slice(raw),
        }
    }
}

/// A string value.
pub(crate) fn string<'a>(s: impl Into<Cow<'a, str>>) -> OutValue<'a> {
    OutValue::Str(s.into())
}

/// An array of strings.
pub(crate) fn string_array<'a, I, S>(items: I) -> OutValue<'a>
where
    I: IntoIterator<Item = S>,
    S: Into<Cow<'a, str>>,
{
    OutValue::Strings(items.into_iter().map(Into::into).collect())
}

/// Text of a scalar owned value: strings as they are, numbers and bools as
/// their canonical text ([`InValue::scalar_text`] for input values).
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::StringValue(s) => Some(s.clone()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// [`OutValue::prune_empty`] of an owned value.
pub(crate) fn prune_empty(v: &mut Value) -> bool {
    match v {
        Value::StringValue(s) => s.is_empty(),
        Value::BytesValue(b) => b.is_empty(),
        Value::ArrayValue(a) => {
            a.values
                .retain_mut(|item| item.value.as_mut().is_some_and(|v| !prune_empty(v)));
            a.values.is_empty()
        }
        Value::KvlistValue(kv) => {
            kv.values.retain_mut(|item| {
                item.value
                    .as_mut()
                    .and_then(|v| v.value.as_mut())
                    .is_some_and(|v| !prune_empty(v))
            });
            kv.values.is_empty()
        }
        Value::BoolValue(_)
        | Value::IntValue(_)
        | Value::DoubleValue(_)
        | Value::StringValueStrindex(_) => false,
    }
}

/// Parses a long from text or a double without a fraction.
fn to_long(v: &InValue<'_>) -> Option<i64> {
    match v {
        InValue::Int(i) => Some(*i),
        InValue::Double(d) => double_to_long(*d),
        InValue::Str(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(double_to_long))
        }
        _ => None,
    }
}

fn double_to_long(d: f64) -> Option<i64> {
    // 2^63, exactly representable; i64::MAX as f64 would round up to it.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (d.is_finite() && d.fract() == 0.0 && (-LIMIT..LIMIT).contains(&d)).then_some(d as i64)
}

fn to_double(v: &InValue<'_>) -> Option<f64> {
    match v {
        InValue::Int(i) => Some(*i as f64),
        InValue::Double(d) => d.is_finite().then_some(*d),
        InValue::Str(s) => s.trim().parse::<f64>().ok().filter(|d| d.is_finite()),
        _ => None,
    }
}

/// A value read as a boolean (`true`, `"true"`, `"TRUE"`, `1` / `false`,
/// `"false"`, `0`).
pub(crate) fn to_bool(v: &InValue<'_>) -> Option<bool> {
    match v {
        InValue::Bool(b) => Some(*b),
        InValue::Int(0) => Some(false),
        InValue::Int(1) => Some(true),
        InValue::Double(d) if *d == 0.0 => Some(false),
        InValue::Double(d) if *d == 1.0 => Some(true),
        InValue::Str(s) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("true") {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Converts a value as `conv` asks. `Err` carries a reason for `error.message`.
pub(crate) fn convert<'a>(v: &InValue<'a>, conv: Conversion) -> Result<OutValue<'a>, String> {
    let fail = |what: &str| format!("{} value cannot be read as {what}", v.type_name());
    let malformed = |e: Malformed| format!("{} value is not protobuf: {e}", v.type_name());
    match conv {
        Conversion::Keep => match v {
            InValue::Str(s) => Ok(OutValue::Str(s.clone())),
            InValue::Bool(b) => Ok(OutValue::Bool(*b)),
            InValue::Int(i) => Ok(OutValue::Int(*i)),
            InValue::Double(d) => Ok(OutValue::Double(*d)),
            InValue::Empty => Ok(OutValue::Str(Cow::Borrowed(""))),
            _ => Ok(v
                .to_value()
                .map_err(malformed)?
                .map_or(OutValue::Str(Cow::Borrowed("")), OutValue::Value)),
        },
        Conversion::Keyword => v
            .scalar_text()
            .map(OutValue::Str)
            .ok_or_else(|| fail("a keyword")),
        Conversion::Long => to_long(v).map(OutValue::Int).ok_or_else(|| fail("a long")),
        Conversion::Double => to_double(v)
            .map(OutValue::Double)
            .ok_or_else(|| fail("a double")),
        Conversion::Bool => to_bool(v)
            .map(OutValue::Bool)
            .ok_or_else(|| fail("a boolean")),
        Conversion::BoolKeyword => to_bool(v)
            .map(|b| string(if b { "true" } else { "false" }))
            .ok_or_else(|| fail("\"true\" or \"false\"")),
        Conversion::NanosFromMillis => {
            let nanos = match v {
                InValue::Double(_) | InValue::Str(_) if to_long(v).is_none() => to_double(v)
                    .map(|ms| ms * 1e6)
                    .and_then(|ns| double_to_long(ns.round())),
                _ => to_long(v).and_then(|ms| ms.checked_mul(1_000_000)),
            };
            nanos.map(OutValue::Int).ok_or_else(|| fail("milliseconds"))
        }
        Conversion::JsonText => match v {
            InValue::Str(s) => Ok(OutValue::Str(s.clone())),
            InValue::Kvlist(_) | InValue::Array(_) => {
                Ok(string(v.to_json().map_err(malformed)?.to_string()))
            }
            _ => Err(fail("JSON text")),
        },
    }
}

/// A JSON value as an OTLP value: objects become maps, arrays arrays, numbers
/// ints when they fit in i64 (else doubles). `null` gives `None`.
pub(crate) fn from_json(j: &serde_json::Value) -> Option<Value> {
    Some(match j {
        serde_json::Value::Null => return None,
        serde_json::Value::Bool(b) => Value::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::IntValue(i),
            None => Value::DoubleValue(n.as_f64()?),
        },
        serde_json::Value::String(s) => Value::StringValue(s.clone()),
        serde_json::Value::Array(items) => Value::ArrayValue(ArrayValue {
            values: items
                .iter()
                .map(|i| AnyValue {
                    value: from_json(i),
                })
                .collect(),
        }),
        serde_json::Value::Object(map) => Value::KvlistValue(map_from_json(map)),
    })
}

/// A JSON object as an OTLP map, in the object's key order.
pub(crate) fn map_from_json(map: &serde_json::Map<String, serde_json::Value>) -> KeyValueList {
    KeyValueList {
        values: map
            .iter()
            .map(|(k, v)| KeyValue {
                key: k.clone(),
                value: Some(AnyValue {
                    value: from_json(v),
                }),
                ..KeyValue::default()
            })
            .collect(),
    }
}

/// An OTLP value as plain JSON: maps as objects, bytes as arrays of numbers.
pub(crate) fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::StringValue(s) => serde_json::Value::String(s.clone()),
        Value::BoolValue(b) => serde_json::Value::Bool(*b),
        Value::IntValue(i) => serde_json::Value::from(*i),
        Value::DoubleValue(d) => serde_json::Value::from(*d),
        Value::ArrayValue(a) => serde_json::Value::Array(
            a.values
                .iter()
                .map(|i| i.value.as_ref().map_or(serde_json::Value::Null, to_json))
                .collect(),
        ),
        Value::KvlistValue(kv) => serde_json::Value::Object(
            kv.values
                .iter()
                .map(|kv| {
                    let v = kv.value.as_ref().and_then(|v| v.value.as_ref());
                    (kv.key.clone(), v.map_or(serde_json::Value::Null, to_json))
                })
                .collect(),
        ),
        Value::BytesValue(b) => serde_json::Value::Array(b.iter().map(|x| (*x).into()).collect()),
        // Only meaningful inside OTLP profiles, never in logs.
        Value::StringValueStrindex(i) => serde_json::Value::from(*i),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn s(x: &str) -> InValue<'_> {
        InValue::Str(Cow::Borrowed(x))
    }

    fn out(x: &str) -> OutValue<'_> {
        string(x)
    }

    #[test]
    fn long_accepts_every_scalar_type() {
        for v in [
            s("62"),
            s(" 62 "),
            InValue::Int(62),
            InValue::Double(62.0),
            s("62.0"),
        ] {
            assert_eq!(
                convert(&v, Conversion::Long),
                Ok(OutValue::Int(62)),
                "{v:?}"
            );
        }
        for v in [s("6x"), InValue::Double(1.5), InValue::Bool(true), s("")] {
            assert!(convert(&v, Conversion::Long).is_err(), "{v:?}");
        }
        assert!(convert(&InValue::Double(1e300), Conversion::Long).is_err());
    }

    #[test]
    fn bool_and_bool_keyword() {
        for v in [s("true"), s("TRUE"), InValue::Bool(true), InValue::Int(1)] {
            assert_eq!(convert(&v, Conversion::Bool), Ok(OutValue::Bool(true)));
            assert_eq!(convert(&v, Conversion::BoolKeyword), Ok(out("true")));
        }
        assert_eq!(
            convert(&InValue::Bool(false), Conversion::BoolKeyword),
            Ok(out("false"))
        );
        assert!(convert(&s("yes"), Conversion::Bool).is_err());
    }

    #[test]
    fn double_and_keyword() {
        assert_eq!(
            convert(&s("0.25"), Conversion::Double),
            Ok(OutValue::Double(0.25))
        );
        assert_eq!(
            convert(&InValue::Int(2), Conversion::Double),
            Ok(OutValue::Double(2.0))
        );
        assert!(convert(&s("NaN"), Conversion::Double).is_err());
        assert_eq!(convert(&InValue::Int(7), Conversion::Keyword), Ok(out("7")));
        assert_eq!(
            convert(&InValue::Bool(false), Conversion::Keyword),
            Ok(out("false"))
        );
        assert!(convert(&InValue::Kvlist(&[]), Conversion::Keyword).is_err());
    }

    #[test]
    fn duration_millis_to_nanos() {
        assert_eq!(
            convert(&s("62"), Conversion::NanosFromMillis),
            Ok(OutValue::Int(62_000_000))
        );
        assert_eq!(
            convert(&InValue::Int(2), Conversion::NanosFromMillis),
            Ok(OutValue::Int(2_000_000))
        );
        assert_eq!(
            convert(&InValue::Double(1.5), Conversion::NanosFromMillis),
            Ok(OutValue::Int(1_500_000))
        );
        assert_eq!(
            convert(&s("0.25"), Conversion::NanosFromMillis),
            Ok(OutValue::Int(250_000))
        );
        assert!(convert(&InValue::Int(i64::MAX), Conversion::NanosFromMillis).is_err());
        assert!(convert(&s("soon"), Conversion::NanosFromMillis).is_err());
    }

    #[test]
    fn prune_removes_nested_empties() {
        let mut v = from_json(
            &serde_json::json!({"a": "", "b": [], "c": {"d": ""}, "e": [1, "", {}], "f": null}),
        )
        .unwrap();
        assert!(!prune_empty(&mut v));
        assert_eq!(to_json(&v), serde_json::json!({"e": [1]}));
        let mut all_empty = from_json(&serde_json::json!({"a": {"b": [""]}})).unwrap();
        assert!(prune_empty(&mut all_empty));
    }

    #[test]
    fn json_round_trip() {
        let j = serde_json::json!({"n": 1, "x": 1.5, "big": 18446744073709551615u64, "t": true, "s": "v", "a": [1, {"k": "v"}]});
        let v = from_json(&j).unwrap();
        let back = to_json(&v);
        assert_eq!(back["big"], serde_json::json!(18446744073709551615.0));
        assert_eq!(back["a"], j["a"]);
        assert_eq!(back["s"], j["s"]);
    }
}
