//! The shape limits under which Elasticsearch never refuses a document
//! (README "Bounds"): [`bound_attributes`] moves attributes it would refuse
//! (deeper than [`MAX_FIELD_DEPTH`], or beyond [`MAX_FIELDS`]) into one
//! JSON text field, so the document is indexed and marked instead.

use crate::ecs::model::attrs::Attr;
use crate::ecs::model::value::{self, InValue};
use crate::otlp::wire::{self, AnyRef, Malformed};

/// Tag of a record with values moved or rewritten to fit Elasticsearch.
pub const BOUNDED_TAG: &str = "value_bounded";

/// Tag of a record with text that was not valid UTF-8 (read lossily, U+FFFD).
pub const INVALID_UTF8_TAG: &str = "invalid_utf8";

/// Deepest field path Elasticsearch maps: `index.mapping.depth.limit` and a
/// `flattened` field's `depth_limit` both default to 20. Depth counts path
/// segments (`a.b.c` is 3; dots in keys count, as Elasticsearch expands them).
pub const MAX_FIELD_DEPTH: usize = 20;

/// Most fields one record may add to a document (map leaves count one each);
/// the shipped templates allow 5,000 per index and ignore dynamic fields
/// beyond that, so no single record can exhaust them.
pub const MAX_FIELDS: usize = 1000;

/// Path segments the exporter puts above an item's attributes at most
/// (`resource.attributes.`, `scope.attributes.` in its OTel mode; the vendor
/// prefix `<product>.events.` on a Claude record): the depth bounds count
/// them (`bound_attributes`).
pub const ATTRIBUTE_PREFIX_DEPTH: usize = 2;

/// Key of the attribute that holds, as one JSON object text, the attributes
/// `bound_attributes` moved (under the vendor prefix on Claude records).
pub const OVERFLOW_ATTRIBUTE: &str = "attributes_overflow";

/// Message levels an attribute value may nest below its `AnyValue` (a map
/// costs three, an array two). What the transform writes must stay readable
/// by `prost`, which stops at 100 levels from the request; a record's
/// attribute value starts 6 levels down.
pub const MAX_VALUE_MESSAGES: usize = 60;

/// Number of path segments of a dotted key.
fn segments(key: &str) -> usize {
    key.bytes().filter(|&b| b == b'.').count() + 1
}

/// What a value adds to a document, found in one walk: the deepest path
/// below it in segments (a scalar adds none; a map adds its keys' segments;
/// an array adds nothing of its own), its fields (one per leaf; an empty
/// map or array one), its message nesting, and whether any text in it was
/// not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    pub(crate) depth: usize,
    pub(crate) leaves: usize,
    pub(crate) messages: usize,
    pub(crate) bad_text: bool,
}

const SCALAR: Shape = Shape {
    depth: 0,
    leaves: 1,
    messages: 0,
    bad_text: false,
};

/// The [`Shape`] of a value.
///
/// # Errors
/// [`Malformed`] when a nested value is not protobuf.
pub(crate) fn shape(v: &InValue<'_>) -> Result<Shape, Malformed> {
    match v {
        InValue::Array(raw) | InValue::Kvlist(raw) => shape_any(wire::any(raw)?, 0),
        _ => Ok(SCALAR),
    }
}

fn shape_any(v: AnyRef<'_>, level: usize) -> Result<Shape, Malformed> {
    if level > crate::otlp::MAX_VALUE_NESTING {
        return Err(Malformed("values nested too deep"));
    }
    let (list, map) = match v {
        AnyRef::Array(list) => (list, false),
        AnyRef::Kvlist(list) => (list, true),
        AnyRef::Str(b) => {
            return Ok(Shape {
                bad_text: std::str::from_utf8(b).is_err(),
                ..SCALAR
            });
        }
        _ => return Ok(SCALAR),
    };
    let mut total = Shape {
        messages: if map { 3 } else { 2 },
        ..Shape::default()
    };
    for item in wire::list_items(list) {
        let item = item?;
        let (segs, child) = if map {
            let kv = wire::key_value(item)?;
            let key = std::str::from_utf8(kv.key);
            total.bad_text |= key.is_err();
            let segs = key.map_or(1, segments);
            (segs, shape_any(kv.value, level + 1)?)
        } else {
            (0, shape_any(wire::any(item)?, level + 1)?)
        };
        total.depth = total.depth.max(segs + child.depth);
        total.leaves = if map {
            total.leaves + child.leaves
        } else {
            total.leaves.max(child.leaves)
        };
        total.messages = total.messages.max(if map { 3 } else { 2 } + child.messages);
        total.bad_text |= child.bad_text;
    }
    total.leaves = total.leaves.max(1);
    Ok(total)
}

/// Nesting depth of a JSON value as a `flattened` field counts it: each
/// object is one level; keys are not split at dots.
pub(crate) fn json_depth(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Object(m) => 1 + m.values().map(json_depth).max().unwrap_or(0),
        serde_json::Value::Array(a) => a.iter().map(json_depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Message levels a JSON value takes as an OTLP value ([`MAX_VALUE_MESSAGES`]).
pub(crate) fn json_messages(j: &serde_json::Value) -> usize {
    match j {
        serde_json::Value::Object(m) => 3 + m.values().map(json_messages).max().unwrap_or(0),
        serde_json::Value::Array(a) => 2 + a.iter().map(json_messages).max().unwrap_or(0),
        _ => 0,
    }
}

/// What `bound_attributes` moved.
#[derive(Debug, Default)]
pub(crate) struct Overflow {
    /// The moved attributes as a JSON object (key → value as JSON).
    pub(crate) moved: serde_json::Map<String, serde_json::Value>,
    /// Of those, moved for depth.
    pub(crate) too_deep: usize,
    /// Of those, moved for the field count.
    pub(crate) too_many: usize,
}

impl Overflow {
    /// Whether nothing was moved.
    pub(crate) fn is_empty(&self) -> bool {
        self.moved.is_empty()
    }

    /// The content and identity policy on the moved attributes that carry
    /// content (`class_of` gives a key's class): a moved value is stored
    /// as text, never in clear because it moved.
    pub(crate) fn apply_content(
        &mut self,
        class_of: impl Fn(&str) -> Option<crate::ecs::policy::content::ContentClass>,
        policy: &crate::ecs::policy::content::ContentPolicy,
        marks: &mut crate::ecs::policy::content::Redactions,
    ) {
        self.moved.retain(|key, json| {
            let Some(class) = class_of(key) else {
                return true;
            };
            let Some(v) = value::from_json(json) else {
                return true;
            };
            match policy.apply_value(class, v, marks) {
                Some(v) => {
                    *json = value::to_json(&v);
                    true
                }
                None => false,
            }
        });
    }

    /// The moved attributes as one JSON text.
    pub(crate) fn to_text(&self) -> String {
        serde_json::to_string(&self.moved).unwrap_or_default()
    }

    /// Why, for `error.message`.
    pub(crate) fn reason(&self, field: &str) -> String {
        format!(
            "{} attribute(s) nested deeper than {MAX_FIELD_DEPTH} levels and {} beyond {MAX_FIELDS} fields per record kept as JSON text in {field}",
            self.too_deep, self.too_many
        )
    }
}

/// Moves out of `attrs` each attribute that would reach deeper than
/// [`MAX_FIELD_DEPTH`] below a prefix of `prefix_depth` segments (or nest
/// more than [`MAX_VALUE_MESSAGES`]), and every attribute once the record's
/// fields exceed [`MAX_FIELDS`]; keys for which `exempt` holds (written as
/// text by the mapping) are never moved. Order is kept. Redactions attributes
/// with text that is not UTF-8 deep inside as `repaired`. Returns what was
/// moved (empty when all fit).
///
/// # Errors
/// [`Malformed`] when a nested value is not protobuf.
pub(crate) fn bound_attributes(
    attrs: &mut Vec<Attr<'_>>,
    prefix_depth: usize,
    exempt: impl Fn(&str) -> bool,
) -> Result<Overflow, Malformed> {
    let mut overflow = Overflow::default();
    let mut fields = 0usize;
    let mut failed = None;
    attrs.retain_mut(|a| {
        let s = match shape(&a.value) {
            Ok(s) => s,
            Err(e) => {
                failed = Some(e);
                return true;
            }
        };
        a.repaired |= s.bad_text;
        let deep = prefix_depth + segments(&a.key) + s.depth > MAX_FIELD_DEPTH
            || s.messages > MAX_VALUE_MESSAGES;
        let many = !deep && fields + s.leaves > MAX_FIELDS;
        // The exemption is looked up only for an attribute that breaks a bound.
        if (!deep && !many) || exempt(&a.key) {
            fields += s.leaves;
            return true;
        }
        overflow.too_deep += usize::from(deep);
        overflow.too_many += usize::from(many);
        let json = a.value.to_json().unwrap_or(serde_json::Value::Null);
        overflow.moved.insert(a.key.clone().into_owned(), json);
        false
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(overflow),
    }
}

/// A structured body deeper than [`MAX_FIELD_DEPTH`] (the exporter writes it
/// as a `flattened` field), or nesting more than [`MAX_VALUE_MESSAGES`],
/// becomes its JSON text: returns that text (`None` when it fits), and the
/// body's [`Shape`].
///
/// # Errors
/// [`Malformed`] when the body is not protobuf.
pub(crate) fn bound_body(body: &InValue<'_>) -> Result<(Option<String>, Shape), Malformed> {
    let s = shape(body)?;
    // A map level is at least one segment, so a body within the depth in
    // segments fits; otherwise count its map levels (keys are not split).
    if s.messages <= MAX_VALUE_MESSAGES && s.depth <= MAX_FIELD_DEPTH {
        return Ok((None, s));
    }
    let json = body.to_json()?;
    if s.messages <= MAX_VALUE_MESSAGES && json_depth(&json) <= MAX_FIELD_DEPTH {
        return Ok((None, s));
    }
    Ok((Some(json.to_string()), s))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ecs::model::attrs::test_support::{attrs, kv, s};
    use crate::otlp::{AnyValue, ArrayValue, KeyValue, KeyValueList, Value};

    fn nested(depth: usize) -> Value {
        let mut v = s("leaf");
        for _ in 0..depth {
            v = Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(AnyValue { value: Some(v) }),
                    ..KeyValue::default()
                }],
            });
        }
        v
    }

    #[test]
    fn depth_counts_dots_and_maps() {
        let three = [kv("x", nested(3))];
        assert_eq!(shape(&attrs(&three)[0].value).unwrap().depth, 3);
        assert_eq!(shape(&InValue::Int(1)).unwrap(), SCALAR);
        let encoded = [
            kv("ok", nested(17)),
            kv("deep", nested(18)),
            kv("a.".repeat(18).trim_end_matches('.'), Value::IntValue(1)),
            kv("b.".repeat(19).trim_end_matches('.'), Value::IntValue(1)),
        ];
        let mut attrs = attrs(&encoded);
        let overflow = bound_attributes(&mut attrs, 2, |_| false).unwrap();
        let kept: Vec<_> = attrs.iter().map(|a| a.key.len()).collect();
        assert_eq!(kept, [2, 35], "a 20-segment path fits, 21 does not");
        assert_eq!(overflow.too_deep, 2);
        assert!(overflow.moved.contains_key("deep"));
    }

    #[test]
    fn nesting_beyond_what_prost_reads_is_bounded_even_in_arrays() {
        let mut v = s("leaf");
        for _ in 0..40 {
            v = Value::ArrayValue(ArrayValue {
                values: vec![AnyValue { value: Some(v) }],
            });
        }
        let encoded = [kv("arrays", v)];
        let mut attrs = attrs(&encoded);
        assert_eq!(
            shape(&attrs[0].value).unwrap().depth,
            0,
            "arrays add no path"
        );
        let overflow = bound_attributes(&mut attrs, 2, |_| false).unwrap();
        assert_eq!(overflow.too_deep, 1, "80 message levels are too many");
    }

    #[test]
    fn fields_beyond_the_limit_overflow_in_order() {
        let encoded: Vec<_> = (0..MAX_FIELDS + 5)
            .map(|i| kv(&format!("k{i}"), Value::IntValue(i as i64)))
            .collect();
        let mut attrs = attrs(&encoded);
        let overflow = bound_attributes(&mut attrs, 0, |k| k == "k1002").unwrap();
        assert_eq!(
            attrs.len(),
            MAX_FIELDS + 1,
            "the first 1,000 and the exempt one"
        );
        assert_eq!(overflow.too_many, 4);
        assert!(attrs.iter().any(|a| a.key == "k1002"), "exempt keys stay");
        assert!(overflow.moved.contains_key("k1004"));
    }
}
