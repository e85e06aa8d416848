//! Normalization of one Claude log record (mapping.md §2 and §4), driven by
//! the tables in [`crate::ecs::rules::tables`].

use crate::ecs::map::marks::Notes;
use crate::ecs::model::attrs::{Attr, Attrs, Key};
use crate::ecs::model::value::{self, InValue, OutValue, string, string_array};
use crate::ecs::policy::bounds;
use crate::ecs::policy::content::{ContentClass, EMITTER_REDACTED, Redactions};
use crate::ecs::policy::routing::{ORGANIZATION_MISMATCH_TAG, Tenant};
use crate::ecs::rules::emitters::Emitter;
use crate::ecs::rules::lookup::{AttributeLookup, AttributeRule, Mapping};
use crate::ecs::rules::tables::{
    Conversion, EventClass, INPUT_EXTRACTS, MCP_PARAMETERS, PARAMETER_EXTRACTS, Slot, Target,
};
use crate::otlp::{self, AnyValue, KeyValue, Value, wire::Malformed};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

/// `ecs.version` written on every Claude record (mapping.md §2).
pub const ECS_VERSION: &str = "9.3.0";
/// Tag added when `event.original` is kept (the Elastic convention).
const PRESERVE_ORIGINAL_TAG: &str = "preserve_original_event";

/// A record's input attributes with their table rows, looked up once.
#[derive(Debug)]
pub(crate) struct Input<'r, 'a> {
    pub(crate) attrs: &'r [Attr<'a>],
    pub(crate) lookups: &'r [AttributeLookup],
    slots: [Option<u32>; Slot::ALL.len()],
}

impl<'r, 'a> Input<'r, 'a> {
    /// Indexes `attrs`, whose table rows are `lookups` (same order).
    pub(crate) fn new(attrs: &'r [Attr<'a>], lookups: &'r [AttributeLookup]) -> Self {
        let mut slots = [None; Slot::ALL.len()];
        for (i, lookup) in lookups.iter().enumerate() {
            if let Some(slot) = lookup.slot {
                let at = &mut slots[slot as usize];
                if at.is_none() {
                    *at = u32::try_from(i).ok();
                }
            }
        }
        Input {
            attrs,
            lookups,
            slots,
        }
    }

    /// Value of the first input attribute of `slot`, if it has one.
    pub(crate) fn get(&self, slot: Slot) -> Option<&'r InValue<'a>> {
        let v = &self.attrs[self.slots[slot as usize]? as usize].value;
        (!matches!(v, InValue::Empty)).then_some(v)
    }

    /// Text of a scalar input attribute (never empty).
    pub(crate) fn get_text(&self, slot: Slot) -> Option<Cow<'a, str>> {
        self.get(slot)
            .and_then(InValue::scalar_text)
            .filter(|s| !s.is_empty())
    }
}

/// The output attributes of one record under construction.
struct Output<'r, 'a> {
    attrs: &'r mut Attrs<'a>,
    errors: Vec<String>,
    tags: Vec<&'static str>,
    marks: Redactions,
    mapping: &'a Mapping,
    vendor: &'a str,
}

impl<'a> Output<'_, 'a> {
    /// [`Output::put`] through the content policy of `class` (mapping.md §5).
    fn put_content(&mut self, class: Option<ContentClass>, key: Key<'a>, v: OutValue<'a>) {
        let Some(class) = class else {
            self.attrs.put(key, v); // one lookup: put skips a key already set
            return;
        };
        if self.attrs.contains(&key) {
            return; // first writer wins, as in put; do not count its secrets twice
        }
        let v = (self.mapping.settings.content).apply_out(class, v, &mut self.marks);
        if let Some(v) = v {
            self.attrs.put(key, v);
        }
    }

    /// Adds `key` unless the value is empty (mapping.md §2) or `key` is already set
    /// (the first writer wins; the table order makes that deterministic).
    fn put(&mut self, key: &'static str, v: OutValue<'a>) {
        self.attrs.put(Key::plain(key), v);
    }

    /// A key in the vendor prefix.
    fn vendor(&self, name: impl Into<Cow<'a, str>>) -> Key<'a> {
        Key {
            prefix: self.vendor,
            name: name.into(),
        }
    }

    fn error(&mut self, attribute: &str, why: impl std::fmt::Display) {
        self.errors.push(format!("attribute {attribute:?}: {why}"));
    }

    fn tag(&mut self, tag: &'static str) {
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
    }
}

/// mapping.md §1: the record's `event_name`, else the `event.name`
/// attribute, else the body with its `claude_code.` prefix removed.
pub(crate) fn event_name<'a>(
    record_event_name: Cow<'a, str>,
    input: &Input<'_, 'a>,
    body: &InValue<'a>,
) -> Cow<'a, str> {
    if !record_event_name.is_empty() {
        return record_event_name;
    }
    if let Some(name) = input.get_text(Slot::EventName) {
        return name;
    }
    match body {
        InValue::Str(Cow::Borrowed(b)) => {
            Cow::Borrowed(b.strip_prefix("claude_code.").unwrap_or(b))
        }
        InValue::Str(Cow::Owned(b)) => {
            Cow::Owned(b.strip_prefix("claude_code.").unwrap_or(b).to_owned())
        }
        _ => Cow::Borrowed(""),
    }
}

/// A record as the mapping reads it.
pub(crate) struct Record<'r, 'a> {
    /// Its input attributes (after the gateway's bounds).
    pub(crate) input: &'r Input<'r, 'a>,
    /// Its event name ([`event_name`], found once by the caller).
    pub(crate) name: &'r Cow<'a, str>,
    /// Its bytes as received, for `event.original`.
    pub(crate) raw: &'a [u8],
    /// What the transform already noted about it.
    pub(crate) notes: &'r Notes,
}

/// Writes the output attributes of a Claude record into `out` (empty on
/// entry). Returns whether it was marked `pipeline_error`.
///
/// # Errors
/// [`Malformed`] when a value it must read is not protobuf.
pub(crate) fn normalize<'a>(
    record: &Record<'_, 'a>,
    emitter: &'a Emitter,
    mapping: &'a Mapping,
    tenant: Option<&'a Tenant<'a>>,
    out: &mut Attrs<'a>,
) -> Result<bool, Malformed> {
    let input = record.input;
    let class = mapping.lookup.event_class(record.name);
    let mut out = Output {
        attrs: out,
        errors: Vec::new(),
        tags: Vec::new(),
        marks: Redactions::default(),
        mapping,
        vendor: emitter.vendor_prefix,
    };

    put_fixed_fields(
        &mut out,
        record.name.clone(),
        class,
        emitter,
        mapping,
        tenant,
    );
    for (attr, lookup) in input.attrs.iter().zip(input.lookups) {
        if matches!(attr.value, InValue::Empty) {
            continue; // an absent value is an empty value (mapping.md §2)
        }
        map_attribute(&mut out, input, attr, *lookup);
    }
    put_tool_fields(&mut out, input)?;
    put_related_user(&mut out, input);
    put_tenant_fields(&mut out, input, tenant);
    out.put("event.outcome", string(outcome(input, class)));
    out.errors.extend(record.notes.errors.iter().cloned());
    for tag in &record.notes.tags {
        out.tag(tag);
    }

    let failed = !out.errors.is_empty();
    if failed {
        let message = out.errors.join("; ");
        out.put("error.message", string(message));
        out.put("event.kind", string("pipeline_error"));
    } else {
        out.put("event.kind", string("event"));
    }
    if failed || mapping.settings.config.preserve_original {
        // The original goes through the same content policy: under hash or
        // drop its text appears nowhere in the output (mapping.md §5).
        let mut original = otlp::log_record(record.raw)?;
        original.attributes = original_attributes(input, mapping)?;
        out.put("event.original", string(otlp::record_to_json(&original)));
        out.tags.insert(0, PRESERVE_ORIGINAL_TAG);
    }
    let classes = out.marks.classes();
    if !classes.is_empty() {
        let key = out.vendor("redacted");
        out.attrs.put(key, string_array(classes));
    }
    if out.marks.secrets > 0 {
        let count = i64::try_from(out.marks.secrets).unwrap_or(i64::MAX);
        let key = out.vendor("redacted_secrets");
        out.attrs.put(key, OutValue::Int(count));
    }
    if !out.tags.is_empty() {
        let tags = std::mem::take(&mut out.tags);
        out.put("tags", string_array(tags));
    }
    Ok(failed)
}

/// The input attributes with the content policy applied, for `event.original`.
fn original_attributes(
    input: &Input<'_, '_>,
    mapping: &Mapping,
) -> Result<Vec<KeyValue>, Malformed> {
    let mut scratch = Redactions::default();
    let mut out = Vec::with_capacity(input.attrs.len());
    for (attr, lookup) in input.attrs.iter().zip(input.lookups) {
        let v = attr.value.to_value()?;
        let v = match (lookup.class, v) {
            (None, v) => v,
            (Some(_), None) => continue,
            (Some(class), Some(v)) => {
                match mapping.settings.content.apply_value(class, v, &mut scratch) {
                    Some(v) => Some(v),
                    None => continue,
                }
            }
        };
        out.push(KeyValue {
            key: attr.key.clone().into_owned(),
            value: Some(AnyValue { value: v }),
            ..KeyValue::default()
        });
    }
    Ok(out)
}

/// `labels.tenant` and the `organization.id` check (issue: trusted tenant).
fn put_tenant_fields<'a>(
    out: &mut Output<'_, 'a>,
    input: &Input<'_, 'a>,
    tenant: Option<&'a Tenant<'a>>,
) {
    let mapping = out.mapping;
    if let Some(t) = tenant.filter(|_| mapping.settings.config.tenant.set_label) {
        out.put("labels.tenant", string(t.identity));
    }
    let claimed = input.get_text(Slot::OrganizationId);
    if claimed.is_some_and(|org| !mapping.settings.may_claim(tenant, &org)) {
        out.tag(ORGANIZATION_MISMATCH_TAG);
    }
}

/// Fields every Claude record gets (mapping.md §2, first table).
fn put_fixed_fields<'a>(
    out: &mut Output<'_, 'a>,
    name: Cow<'a, str>,
    class: EventClass,
    emitter: &'a Emitter,
    mapping: &'a Mapping,
    tenant: Option<&'a Tenant<'a>>,
) {
    out.put("ecs.version", string(ECS_VERSION));
    out.put("event.action", string(name));
    if let Some((category, event_type)) = class.category_type {
        out.put("event.category", string_array([category]));
        out.put("event.type", string_array([event_type]));
    }
    out.put("event.provider", string(emitter.provider));
    out.put("gen_ai.provider.name", string("anthropic"));
    out.put("data_stream.type", string("logs"));
    out.put("data_stream.dataset", string(emitter.dataset.as_str()));
    out.put(
        "data_stream.namespace",
        string(mapping.settings.namespace(tenant)),
    );
}

/// One input attribute through its table row: renamed, copied, typed, or
/// kept under the vendor prefix. A failed conversion keeps the value as
/// it came, under the vendor prefix, and records why (mapping.md §4).
fn map_attribute<'a>(
    out: &mut Output<'_, 'a>,
    input: &Input<'_, 'a>,
    attr: &Attr<'a>,
    lookup: AttributeLookup,
) {
    let AttributeLookup { rule, class, .. } = lookup;
    let single;
    let targets = match rule {
        AttributeRule::Targets(targets) => targets,
        AttributeRule::Vendor(conv) => {
            single = [Target::Vendor(conv)];
            &single[..]
        }
    };
    for target in targets {
        let (key, conv) = match *target {
            Target::Ecs(field, conv) => (Key::plain(field), conv),
            Target::Vendor(conv) => (out.vendor(attr.key.clone()), conv),
            Target::VendorAs(slot, conv) => {
                if input.get(slot).is_some() {
                    continue;
                }
                (out.vendor(slot.key()), conv)
            }
        };
        match value::convert(&attr.value, conv) {
            Ok(converted) => out.put_content(class, key, converted),
            Err(why) => {
                out.error(&attr.key, why);
                let key = out.vendor(attr.key.clone());
                let kept = value::convert(&attr.value, Conversion::Keep)
                    .unwrap_or(OutValue::Raw(attr.value_raw));
                out.put_content(class, key, kept);
            }
        }
    }
}

/// Parses one tool-argument attribute (`tool_parameters` / `tool_input`).
/// `None` when absent, redacted by the emitter, or broken (then an error is
/// recorded: mapping.md §4, invalid JSON).
fn parse_arguments(
    out: &mut Output<'_, '_>,
    input: &Input<'_, '_>,
    slot: Slot,
) -> Result<Option<Map<String, Json>>, Malformed> {
    let key = slot.key();
    let Some(v) = input.get(slot) else {
        return Ok(None);
    };
    Ok(match v {
        InValue::Str(s) if s.is_empty() || s == EMITTER_REDACTED => None,
        InValue::Str(s) => match serde_json::from_str::<Json>(s) {
            Ok(Json::Object(map)) => Some(map),
            Ok(other) => {
                out.error(
                    key,
                    format!("expected a JSON object, found JSON {}", json_kind(&other)),
                );
                None
            }
            Err(e) => {
                out.error(key, format!("invalid JSON: {e}"));
                None
            }
        },
        kv @ InValue::Kvlist(_) => match kv.to_json()? {
            Json::Object(map) => Some(map),
            _ => None,
        },
        other => {
            out.error(
                key,
                format!("expected JSON text, found a {} value", other.type_name()),
            );
            None
        }
    })
}

fn json_kind(j: &Json) -> &'static str {
    match j {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn json_text<'a>(map: &'a Map<String, Json>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Json::as_str)
        .filter(|s| !s.is_empty())
}

/// The tool mapping of mapping.md §2: `gen_ai.tool.name`, the parsed
/// arguments, and the fields extracted from them.
fn put_tool_fields<'a>(out: &mut Output<'_, 'a>, input: &Input<'_, 'a>) -> Result<(), Malformed> {
    let params = parse_arguments(out, input, Slot::ToolParameters)?;
    let tool_input = parse_arguments(out, input, Slot::ToolInput)?;
    let tool_name = input.get_text(Slot::ToolName);

    // MCP tool name (Cowork's dotted attribute, Claude Code's parameter),
    // else tool_name.
    let mcp_tool = input.get_text(Slot::McpToolName).or_else(|| {
        params
            .as_ref()
            .and_then(|p| json_text(p, "mcp_tool_name"))
            .map(|s| Cow::Owned(s.to_owned()))
    });
    if let Some(name) = mcp_tool.or_else(|| tool_name.clone()) {
        out.put("gen_ai.tool.name", string(name));
    }

    if let Some(p) = &params {
        for (keys, field) in PARAMETER_EXTRACTS {
            if let Some(v) = keys.iter().find_map(|k| json_text(p, k)) {
                out.put_content(TOOL, Key::plain(*field), string(v.to_owned()));
            }
        }
        for key in MCP_PARAMETERS {
            if let Some(v) = json_text(p, key) {
                let key = out.vendor(*key);
                out.attrs.put(key, string(v.to_owned()));
            }
        }
    }
    if let Some(i) = &tool_input {
        for (key, field, only_for_tool) in INPUT_EXTRACTS {
            if only_for_tool.is_some_and(|t| tool_name.as_deref() != Some(t)) {
                continue;
            }
            if let Some(v) = json_text(i, key) {
                // A value from tool_parameters was put first and wins.
                out.put_content(TOOL, Key::plain(*field), string(v.to_owned()));
            }
        }
    }

    let tool_input = within_flattened_depth(out, Slot::ToolInput, tool_input);
    let params = within_flattened_depth(out, Slot::ToolParameters, params);
    let arguments =
        |map: &Map<String, Json>| OutValue::Value(Value::KvlistValue(value::map_from_json(map)));
    match (tool_input.filter(|i| !i.is_empty()), params) {
        (Some(i), params) => {
            out.put_content(
                TOOL,
                Key::plain("gen_ai.tool.call.arguments"),
                arguments(&i),
            );
            if let Some(p) = params {
                let key = out.vendor("tool_parameters_flattened");
                out.put_content(TOOL, key, arguments(&p));
            }
        }
        (None, Some(p)) => out.put_content(
            TOOL,
            Key::plain("gen_ai.tool.call.arguments"),
            arguments(&p),
        ),
        (None, None) => {}
    }
    Ok(())
}

/// Parsed tool arguments deeper than a `flattened` field takes
/// ([`bounds::MAX_FIELD_DEPTH`]), or nesting more message levels than
/// [`bounds::MAX_VALUE_MESSAGES`], are not written as one (Elasticsearch
/// would refuse the document): they stay as JSON text in the vendor field
/// of the attribute, and the record is marked.
fn within_flattened_depth(
    out: &mut Output<'_, '_>,
    slot: Slot,
    args: Option<Map<String, Json>>,
) -> Option<Map<String, Json>> {
    let args = args?;
    let depth = 1 + args.values().map(bounds::json_depth).max().unwrap_or(0);
    let messages = 3 + args.values().map(bounds::json_messages).max().unwrap_or(0);
    if depth <= bounds::MAX_FIELD_DEPTH && messages <= bounds::MAX_VALUE_MESSAGES {
        return Some(args);
    }
    let key = slot.key();
    out.error(
        key,
        format!(
            "arguments nested {depth} levels deep, beyond the {} a flattened field takes: kept as JSON text in {}{key}",
            bounds::MAX_FIELD_DEPTH,
            out.vendor
        ),
    );
    out.tag(bounds::BOUNDED_TAG);
    None
}

/// Fields derived from tool details carry their content class (mapping.md §5).
const TOOL: Option<ContentClass> = Some(ContentClass::ToolDetails);

/// `related.user`: `user.email` and `user.id`, those present, no duplicates.
fn put_related_user<'a>(out: &mut Output<'_, 'a>, input: &Input<'_, 'a>) {
    let mut users: Vec<Cow<'a, str>> = Vec::with_capacity(2);
    // `user.email` as the identity policy left it in the output (hashed,
    // dropped or as sent), so the policy runs once per record.
    let email = match out.attrs.get(&Key::plain("user.email")) {
        Some(OutValue::Str(s)) => Some(s.clone()),
        _ => None,
    };
    for user in [email, input.get_text(Slot::UserId)] {
        if let Some(u) = user.filter(|u| !u.is_empty()) {
            if !users.contains(&u) {
                users.push(u);
            }
        }
    }
    if !users.is_empty() {
        out.put("related.user", OutValue::Strings(users));
    }
}

/// `event.outcome` (mapping.md §2).
fn outcome(input: &Input<'_, '_>, class: EventClass) -> &'static str {
    match input.get(Slot::Success).and_then(value::to_bool) {
        Some(true) => return "success",
        Some(false) => return "failure",
        None => {}
    }
    if class.failure {
        return "failure";
    }
    match input.get_text(Slot::Decision).as_deref() {
        Some("accept") => "success",
        Some("reject") => "failure",
        _ => "unknown",
    }
}
