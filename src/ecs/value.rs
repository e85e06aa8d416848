//! Conversions between OTLP `AnyValue`s, typed ECS values and JSON.

use super::tables::Conv;
use crate::otlp::{AnyValue, ArrayValue, KeyValue, KeyValueList, Value};

/// A string value.
pub(crate) fn string(s: impl Into<String>) -> Value {
    Value::StringValue(s.into())
}

/// An array of strings.
pub(crate) fn string_array<I: IntoIterator<Item = String>>(items: I) -> Value {
    Value::ArrayValue(ArrayValue {
        values: items
            .into_iter()
            .map(|s| AnyValue {
                value: Some(Value::StringValue(s)),
            })
            .collect(),
    })
}

/// The value's OTLP type name, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::StringValue(_) => "string",
        Value::BoolValue(_) => "bool",
        Value::IntValue(_) => "int",
        Value::DoubleValue(_) => "double",
        Value::ArrayValue(_) => "array",
        Value::KvlistValue(_) => "map",
        Value::BytesValue(_) => "bytes",
        Value::StringValueStrindex(_) => "string table index",
    }
}

/// SPEC section 2: "Empty values (empty string, empty array, empty object)
/// are removed from the output, wherever they are". Removes empty members of
/// arrays and maps in place, then tells whether what is left is empty.
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

/// Text of a scalar value: strings as they are, numbers and bools as their
/// canonical text. `None` for arrays, maps and bytes.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::StringValue(s) => Some(s.clone()),
        Value::BoolValue(b) => Some(b.to_string()),
        Value::IntValue(i) => Some(i.to_string()),
        Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// Parses a long from text or a double without a fraction.
fn to_long(v: &Value) -> Option<i64> {
    match v {
        Value::IntValue(i) => Some(*i),
        Value::DoubleValue(d) => double_to_long(*d),
        Value::StringValue(s) => {
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

fn to_double(v: &Value) -> Option<f64> {
    match v {
        Value::IntValue(i) => Some(*i as f64),
        Value::DoubleValue(d) => d.is_finite().then_some(*d),
        Value::StringValue(s) => s.trim().parse::<f64>().ok().filter(|d| d.is_finite()),
        _ => None,
    }
}

fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::BoolValue(b) => Some(*b),
        Value::IntValue(0) => Some(false),
        Value::IntValue(1) => Some(true),
        Value::DoubleValue(d) if *d == 0.0 => Some(false),
        Value::DoubleValue(d) if *d == 1.0 => Some(true),
        Value::StringValue(s) => {
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
pub(crate) fn convert(v: &Value, conv: Conv) -> Result<Value, String> {
    let fail = |what: &str| format!("{} value cannot be read as {what}", type_name(v));
    match conv {
        Conv::Keep => Ok(v.clone()),
        Conv::Keyword => scalar_text(v)
            .map(Value::StringValue)
            .ok_or_else(|| fail("a keyword")),
        Conv::Long => to_long(v)
            .map(Value::IntValue)
            .ok_or_else(|| fail("a long")),
        Conv::Double => to_double(v)
            .map(Value::DoubleValue)
            .ok_or_else(|| fail("a double")),
        Conv::Bool => to_bool(v)
            .map(Value::BoolValue)
            .ok_or_else(|| fail("a boolean")),
        Conv::BoolKeyword => to_bool(v)
            .map(|b| string(if b { "true" } else { "false" }))
            .ok_or_else(|| fail("\"true\" or \"false\"")),
        Conv::NanosFromMillis => {
            let nanos = match v {
                Value::DoubleValue(_) | Value::StringValue(_) if to_long(v).is_none() => {
                    to_double(v)
                        .map(|ms| ms * 1e6)
                        .and_then(|ns| double_to_long(ns.round()))
                }
                _ => to_long(v).and_then(|ms| ms.checked_mul(1_000_000)),
            };
            nanos
                .map(Value::IntValue)
                .ok_or_else(|| fail("milliseconds"))
        }
        Conv::JsonText => match v {
            Value::StringValue(s) => Ok(string(s.clone())),
            Value::KvlistValue(_) | Value::ArrayValue(_) => Ok(string(to_json(v).to_string())),
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

    fn s(x: &str) -> Value {
        string(x)
    }

    #[test]
    fn long_accepts_every_scalar_type() {
        for v in [
            s("62"),
            s(" 62 "),
            Value::IntValue(62),
            Value::DoubleValue(62.0),
            s("62.0"),
        ] {
            assert_eq!(convert(&v, Conv::Long), Ok(Value::IntValue(62)), "{v:?}");
        }
        for v in [
            s("6x"),
            Value::DoubleValue(1.5),
            Value::BoolValue(true),
            s(""),
        ] {
            assert!(convert(&v, Conv::Long).is_err(), "{v:?}");
        }
        assert!(convert(&Value::DoubleValue(1e300), Conv::Long).is_err());
    }

    #[test]
    fn bool_and_bool_keyword() {
        for v in [
            s("true"),
            s("TRUE"),
            Value::BoolValue(true),
            Value::IntValue(1),
        ] {
            assert_eq!(convert(&v, Conv::Bool), Ok(Value::BoolValue(true)));
            assert_eq!(convert(&v, Conv::BoolKeyword), Ok(s("true")));
        }
        assert_eq!(
            convert(&Value::BoolValue(false), Conv::BoolKeyword),
            Ok(s("false"))
        );
        assert!(convert(&s("yes"), Conv::Bool).is_err());
    }

    #[test]
    fn double_and_keyword() {
        assert_eq!(
            convert(&s("0.25"), Conv::Double),
            Ok(Value::DoubleValue(0.25))
        );
        assert_eq!(
            convert(&Value::IntValue(2), Conv::Double),
            Ok(Value::DoubleValue(2.0))
        );
        assert!(convert(&s("NaN"), Conv::Double).is_err());
        assert_eq!(convert(&Value::IntValue(7), Conv::Keyword), Ok(s("7")));
        assert_eq!(
            convert(&Value::BoolValue(false), Conv::Keyword),
            Ok(s("false"))
        );
        let map = Value::KvlistValue(KeyValueList::default());
        assert!(convert(&map, Conv::Keyword).is_err());
    }

    #[test]
    fn duration_millis_to_nanos() {
        assert_eq!(
            convert(&s("62"), Conv::NanosFromMillis),
            Ok(Value::IntValue(62_000_000))
        );
        assert_eq!(
            convert(&Value::IntValue(2), Conv::NanosFromMillis),
            Ok(Value::IntValue(2_000_000))
        );
        assert_eq!(
            convert(&Value::DoubleValue(1.5), Conv::NanosFromMillis),
            Ok(Value::IntValue(1_500_000))
        );
        assert_eq!(
            convert(&s("0.25"), Conv::NanosFromMillis),
            Ok(Value::IntValue(250_000))
        );
        assert!(convert(&Value::IntValue(i64::MAX), Conv::NanosFromMillis).is_err());
        assert!(convert(&s("soon"), Conv::NanosFromMillis).is_err());
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
