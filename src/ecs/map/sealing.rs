//! The space a walk reuses for the digests of the Claude log records it
//! seals ([`crate::seal::item_digest`]; `signing` fills it): each record's
//! own fields, pushed one by one, the shapes of the kinds of record seen,
//! and the resource's group.

use crate::ecs::model::value::{InValue, OutValue};
use crate::seal;
use serde_json::Value;
use std::collections::BTreeMap;

/// Where a record's session is among its stored fields (the first found).
pub(crate) const SESSION_FIELDS: [&str; 3] = [
    "session.id",
    "claude_code.events.session.id",
    "claude_cowork.events.session.id",
];

/// Reused space for the digests of a request's records: each record's
/// own fields, pushed one by one (names and [`seal::encode_value`]d
/// values), then their values in name order.
#[derive(Default)]
pub(crate) struct SealScratch {
    /// The fields' names, one after the other.
    pub(crate) names: String,
    /// Their encoded values, one after the other.
    pub(crate) values: Vec<u8>,
    /// Per field: its name's and its value's range, in the order pushed
    /// (the last of a name wins).
    pub(crate) leaves: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)>,
    /// The values in name order ([`seal::Group::digest`]'s input).
    pub(crate) sorted: Vec<u8>,
    /// A number's canonical text.
    pub(crate) number: String,
    /// The shapes of this resource's records seen last.
    pub(crate) shapes: Vec<Shape>,
    /// The shape replaced next when [`SHAPES`] are kept.
    pub(crate) evict: usize,
}

/// How many record shapes a walk keeps per resource (records of one kind
/// share one; Claude Code has a few dozen kinds of event).
const SHAPES: usize = 64;

/// The field names of a kind of record, pushed in one order, and what
/// follows from them alone: the order their values are hashed in, the
/// digest of their names ([`seal::names_digest`]), whether the resource's
/// group names any of them, and which is the session.
pub(crate) struct Shape {
    /// The names, one after the other, as pushed.
    pub(crate) names: String,
    /// Where each name ends in `names`.
    pub(crate) ends: Vec<usize>,
    /// The fields hashed, in name order: for a name pushed twice the last,
    /// [`seal::UNSEALED_FIELDS`] left out.
    pub(crate) order: Vec<usize>,
    /// [`seal::names_digest`] of the names in `order`.
    pub(crate) names_digest: [u8; 32],
    /// None of the names is one of the resource's group.
    pub(crate) apart: bool,
    /// The fields holding each of [`SESSION_FIELDS`], if any.
    pub(crate) session: [Option<usize>; SESSION_FIELDS.len()],
}

/// How [`SealScratch::push_out`] took a value.
pub(crate) enum Took {
    /// Appended.
    Encoded,
    /// Not stored (`null`, an empty array).
    Nothing,
    /// A value that is not a leaf (a map), or one kind not encoded here.
    Json(Value),
}

impl SealScratch {
    pub(crate) fn clear(&mut self) {
        self.names.clear();
        self.values.clear();
        self.leaves.clear();
        self.sorted.clear();
    }

    /// Ends a field whose name is `names[name_start..]` and whose value was
    /// just appended from `value_start`.
    pub(crate) fn end(&mut self, name_start: usize, value_start: usize) {
        self.leaves
            .push((name_start..self.names.len(), value_start..self.values.len()));
    }

    pub(crate) fn push_json(&mut self, name: &str, value: &Value) {
        let (n, v) = (self.names.len(), self.values.len());
        self.names.push_str(name);
        seal::encode_value(value, &mut self.values);
        self.end(n, v);
    }

    pub(crate) fn push_str(&mut self, name: &str, value: &str) {
        let (n, v) = (self.names.len(), self.values.len());
        self.names.push_str(name);
        seal::encode_str(value, &mut self.values);
        self.end(n, v);
    }

    pub(crate) fn push_u64(&mut self, name: &str, value: u64) {
        use std::fmt::Write as _;
        let (n, v) = (self.names.len(), self.values.len());
        self.names.push_str(name);
        self.number.clear();
        let _ = write!(self.number, "{value}");
        seal::encode_number_text(&self.number, &mut self.values);
        self.end(n, v);
    }

    /// Appends `value` as [`seal::encode_value`] would its stored JSON
    /// ([`OutValue::stored_json`]), when it is a leaf of a kind encoded
    /// here.
    pub(crate) fn push_out(&mut self, value: &OutValue<'_>) -> Took {
        use std::fmt::Write as _;
        if let OutValue::Strings(items) = value {
            if items.is_empty() {
                return Took::Nothing;
            }
            self.values.push(b'a');
            seal::put_len(items.len(), &mut self.values);
            for item in items {
                seal::encode_str(item, &mut self.values);
            }
            return Took::Encoded;
        }
        // Strings, bools and numbers, whether mapped or copied as they came.
        match value.as_in() {
            Some(InValue::Str(s)) => seal::encode_str(&s, &mut self.values),
            Some(InValue::Bool(b)) => self.values.push(if b { b't' } else { b'f' }),
            Some(InValue::Int(i)) => {
                self.number.clear();
                let _ = write!(self.number, "{i}");
                seal::encode_number_text(&self.number, &mut self.values);
            }
            Some(InValue::Double(d)) if !d.is_finite() => return Took::Nothing,
            Some(InValue::Double(d)) if d.fract() == 0.0 && d.abs() < 9.0e15 => {
                self.number.clear();
                let _ = write!(self.number, "{}", d as i64);
                seal::encode_number_text(&self.number, &mut self.values);
            }
            _ => {
                return match value.stored_json() {
                    None | Some(Value::Null) => Took::Nothing,
                    Some(Value::Array(a)) if a.is_empty() => Took::Nothing,
                    Some(json) => Took::Json(json),
                };
            }
        }
        Took::Encoded
    }

    /// The shape of the fields pushed: one seen before, else a new one.
    pub(crate) fn shape(&mut self, group: &seal::Group) -> usize {
        let names = &self.names;
        let same = |shape: &Shape| {
            shape.ends.len() == self.leaves.len()
                && shape.names.len() == names.len()
                && (shape.ends.iter().zip(&self.leaves)).all(|(end, (name, _))| *end == name.end)
                && shape.names == *names
        };
        if let Some(i) = self.shapes.iter().position(same) {
            return i;
        }
        let mut sorted: Vec<usize> = (0..self.leaves.len()).collect();
        let name = |i: usize| &names[self.leaves[i].0.clone()];
        sorted.sort_by(|a, b| name(*a).cmp(name(*b)));
        let mut order = Vec::with_capacity(sorted.len());
        for (k, &i) in sorted.iter().enumerate() {
            let n = name(i);
            let again = sorted.get(k + 1).is_some_and(|&next| name(next) == n);
            if !again && !seal::UNSEALED_FIELDS.contains(&n) {
                order.push(i);
            }
        }
        let shape = Shape {
            names: names.clone(),
            ends: self.leaves.iter().map(|(n, _)| n.end).collect(),
            names_digest: seal::names_digest(order.iter().map(|&i| name(i))),
            apart: order.iter().all(|&i| !group.contains(name(i))),
            session: SESSION_FIELDS.map(|f| order.iter().copied().find(|&i| name(i) == f)),
            order,
        };
        if self.shapes.len() < SHAPES {
            self.shapes.push(shape);
            self.shapes.len() - 1
        } else {
            self.evict = (self.evict + 1) % SHAPES;
            self.shapes[self.evict] = shape;
            self.evict
        }
    }

    /// The values of `shape`'s fields, in its order, into `sorted`.
    pub(crate) fn sort(&mut self, shape: usize) {
        self.sorted.clear();
        for &i in &self.shapes[shape].order {
            self.sorted
                .extend_from_slice(&self.values[self.leaves[i].1.clone()]);
        }
    }

    /// The string value of field `leaf`.
    pub(crate) fn text(&self, leaf: usize) -> Option<&str> {
        let bytes = &self.values[self.leaves.get(leaf)?.1.clone()];
        (bytes.first() == Some(&b's'))
            .then(|| std::str::from_utf8(bytes.get(5..)?).ok())
            .flatten()
    }
}

/// The seal state of the resource being walked: its group and that
/// group's index among the request's ([`seal::FIELD_GROUPS`]; none when it
/// has no fields), and its fields a group cannot name.
pub(crate) struct SealResource {
    pub(crate) group: seal::Group,
    pub(crate) index: Option<usize>,
    pub(crate) rest: BTreeMap<String, Value>,
}
