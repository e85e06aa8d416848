//! Normalization of one Claude log record (SPEC sections 2 and 4), driven by
//! the tables in [`super::tables`].

use super::content::{ContentClass, EMITTER_REDACTED, Marks};
use super::tables::{Conv, EventClass, INPUT_EXTRACTS, MCP_PARAMETERS, PARAMETER_EXTRACTS, Target};
use super::value::{self, string, string_array};
use super::{AttributeLookup, AttributeRule, Emitter, Rules, gateway};
use crate::otlp::{self, AnyValue, KeyValue, LogRecord, Value};
use serde_json::{Map, Value as Json};

/// `ecs.version` written on every Claude record (SPEC section 2).
pub const ECS_VERSION: &str = "9.3.0";
/// Tag added when `event.original` is kept (the Elastic convention).
const PRESERVE_ORIGINAL_TAG: &str = "preserve_original_event";
/// Tag of a record whose claimed `organization.id` its sender may not claim.
const ORGANIZATION_MISMATCH_TAG: &str = "organization_mismatch";

/// The authenticated sender of a batch.
#[derive(Debug)]
pub(crate) struct Tenant<'a> {
    /// As the receiver's authenticator established it.
    pub(crate) identity: &'a str,
    /// The identity as a data stream namespace (`None`: nothing usable).
    pub(crate) namespace: Option<String>,
}

/// What the transform found about a record before mapping it: problems
/// that mark it `pipeline_error` (each becomes part of `error.message`) and
/// tags to add.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub(crate) errors: Vec<String>,
    pub(crate) tags: Vec<String>,
}

/// The output attributes of one record under construction.
struct Out<'r> {
    attrs: Vec<KeyValue>,
    errors: Vec<String>,
    tags: Vec<String>,
    marks: Marks,
    rules: &'r Rules,
}

impl Out<'_> {
    /// [`Out::put`] through the content policy of `class` (SPEC 5).
    fn put_content(&mut self, class: Option<ContentClass>, key: impl Into<String>, v: Value) {
        let key = key.into();
        if self.attrs.iter().any(|a| a.key == key) {
            return; // first writer wins, as in put; do not count its secrets twice
        }
        let v = match class {
            Some(class) => self.rules.content.apply_value(class, v, &mut self.marks),
            None => Some(v),
        };
        if let Some(v) = v {
            self.put(key, v);
        }
    }

    /// Adds `key` unless the value is empty (SPEC 2) or `key` is already set
    /// (the first writer wins; the table order makes that deterministic).
    fn put(&mut self, key: impl Into<String>, mut v: Value) {
        let key = key.into();
        if value::prune_empty(&mut v) || self.attrs.iter().any(|a| a.key == key) {
            return;
        }
        self.attrs.push(KeyValue {
            key,
            value: Some(AnyValue { value: Some(v) }),
            ..KeyValue::default()
        });
    }

    fn error(&mut self, attribute: &str, why: impl std::fmt::Display) {
        self.errors.push(format!("attribute {attribute:?}: {why}"));
    }
}

/// Value of the first input attribute named `key`, if it has one.
fn get<'a>(input: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    input
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// Text of a scalar input attribute.
fn get_text(input: &[KeyValue], key: &str) -> Option<String> {
    get(input, key)
        .and_then(value::scalar_text)
        .filter(|s| !s.is_empty())
}

/// SPEC section 1: the record's `event_name`, else the `event.name`
/// attribute, else the body with its `claude_code.` prefix removed.
pub(crate) fn event_name(record: &LogRecord, input: &[KeyValue]) -> String {
    if !record.event_name.is_empty() {
        return record.event_name.clone();
    }
    if let Some(name) = get_text(input, "event.name") {
        return name;
    }
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(body)) => {
            body.strip_prefix("claude_code.").unwrap_or(body).to_owned()
        }
        _ => String::new(),
    }
}

/// Rewrites `record` in place, given its event name ([`event_name`], found
/// once by the caller) and what the transform already noted about it.
/// Returns whether it was marked `pipeline_error`.
pub(crate) fn normalize(
    record: &mut LogRecord,
    name: &str,
    emitter: &Emitter,
    rules: &Rules,
    tenant: Option<&Tenant<'_>>,
    notes: &Notes,
) -> bool {
    let input = std::mem::take(&mut record.attributes);
    let class = rules.event_class(name);
    let mut out = Out {
        attrs: Vec::with_capacity(input.len() + 16),
        errors: Vec::new(),
        tags: Vec::new(),
        marks: Marks::default(),
        rules,
    };

    put_fixed_fields(&mut out, name, class, emitter, rules, tenant);
    for kv in &input {
        let Some(v) = kv.value.as_ref().and_then(|v| v.value.as_ref()) else {
            continue; // an absent value is an empty value (SPEC 2)
        };
        map_attribute(&mut out, emitter, &input, &kv.key, v);
    }
    put_tool_fields(&mut out, emitter, &input);
    put_related_user(&mut out, &input);
    put_tenant_fields(&mut out, &input, tenant);
    out.put("event.outcome", string(outcome(&input, class)));
    out.errors.extend(notes.errors.iter().cloned());
    for tag in &notes.tags {
        if !out.tags.contains(tag) {
            out.tags.push(tag.clone());
        }
    }

    let failed = !out.errors.is_empty();
    if failed {
        let message = out.errors.join("; ");
        out.put("error.message", string(message));
        out.put("event.kind", string("pipeline_error"));
    } else {
        out.put("event.kind", string("event"));
    }
    if failed || rules.preserve_original {
        // The original goes through the same content policy: under hash or
        // drop its text appears nowhere in the output (SPEC 5).
        record.attributes = original_attributes(&input, rules);
        let original = otlp::record_to_json(record);
        out.put("event.original", string(original));
        out.tags.insert(0, PRESERVE_ORIGINAL_TAG.to_owned());
    }
    let classes = out.marks.classes();
    if !classes.is_empty() {
        out.put(
            format!("{}redacted", emitter.vendor_prefix),
            string_array(classes),
        );
    }
    if out.marks.secrets > 0 {
        let count = i64::try_from(out.marks.secrets).unwrap_or(i64::MAX);
        out.put(
            format!("{}redacted_secrets", emitter.vendor_prefix),
            Value::IntValue(count),
        );
    }
    if !out.tags.is_empty() {
        let tags = std::mem::take(&mut out.tags);
        out.put("tags", string_array(tags));
    }
    record.attributes = out.attrs;
    failed
}

/// The input attributes with the content policy applied, for `event.original`.
fn original_attributes(input: &[KeyValue], rules: &Rules) -> Vec<KeyValue> {
    let mut scratch = Marks::default();
    input
        .iter()
        .filter_map(|kv| {
            let Some(class) = rules.attribute(&kv.key).class else {
                return Some(kv.clone());
            };
            let v = kv.value.as_ref()?.value.clone()?;
            let v = rules.content.apply_value(class, v, &mut scratch)?;
            Some(KeyValue {
                key: kv.key.clone(),
                value: Some(AnyValue { value: Some(v) }),
                ..KeyValue::default()
            })
        })
        .collect()
}

/// `labels.tenant` and the `organization.id` check (issue: trusted tenant).
fn put_tenant_fields(out: &mut Out<'_>, input: &[KeyValue], tenant: Option<&Tenant<'_>>) {
    let rules = out.rules;
    if let Some(t) = tenant.filter(|_| rules.tenant.set_label) {
        out.put("labels.tenant", string(t.identity));
    }
    if rules.tenants.is_empty() {
        return;
    }
    let Some(claimed) = get_text(input, "organization.id") else {
        return;
    };
    let allowed = tenant
        .and_then(|t| rules.tenants.get(t.identity))
        .is_some_and(|orgs| orgs.contains(&claimed));
    if !allowed {
        out.tags.push(ORGANIZATION_MISMATCH_TAG.to_owned());
    }
}

/// Fields every Claude record gets (SPEC section 2, first table).
fn put_fixed_fields(
    out: &mut Out<'_>,
    name: &str,
    class: EventClass,
    emitter: &Emitter,
    rules: &Rules,
    tenant: Option<&Tenant<'_>>,
) {
    out.put("ecs.version", string(ECS_VERSION));
    out.put("event.action", string(name));
    if let Some((category, kind_type)) = class.category_type {
        out.put("event.category", string_array([category.to_owned()]));
        out.put("event.type", string_array([kind_type.to_owned()]));
    }
    out.put("event.provider", string(emitter.provider));
    out.put("gen_ai.provider.name", string("anthropic"));
    out.put("data_stream.type", string("logs"));
    out.put("data_stream.dataset", string(emitter.dataset.as_str()));
    let tenant_namespace = tenant
        .filter(|_| rules.tenant.set_namespace)
        .and_then(|t| t.namespace.as_deref());
    out.put(
        "data_stream.namespace",
        string(tenant_namespace.unwrap_or(&rules.namespace)),
    );
}

/// One input attribute through its table row: renamed, copied, typed, or
/// kept under the vendor namespace. A failed conversion keeps the value as
/// it came, under the vendor namespace, and records why (SPEC section 4).
fn map_attribute(out: &mut Out<'_>, emitter: &Emitter, input: &[KeyValue], key: &str, v: &Value) {
    let vendor = |name: &str| format!("{}{name}", emitter.vendor_prefix);
    let AttributeLookup { rule, class } = out.rules.attribute(key);
    let single;
    let targets = match rule {
        AttributeRule::Targets(targets) => targets,
        AttributeRule::Vendor(conv) => {
            single = [Target::Vendor(conv)];
            &single[..]
        }
    };
    for target in targets {
        let (field, conv) = match *target {
            Target::Ecs(field, conv) => (field.to_owned(), conv),
            Target::Vendor(conv) => (vendor(key), conv),
            Target::VendorAs(name, conv) => {
                if get(input, name).is_some() {
                    continue;
                }
                (vendor(name), conv)
            }
        };
        match value::convert(v, conv) {
            Ok(converted) => out.put_content(class, field, converted),
            Err(why) => {
                out.error(key, why);
                out.put_content(class, vendor(key), v.clone());
            }
        }
    }
}

/// Parses one tool-argument attribute (`tool_parameters` / `tool_input`).
/// `None` when absent, redacted by the emitter, or broken (then an error is
/// recorded: SPEC section 4, invalid JSON).
fn parse_arguments(out: &mut Out<'_>, input: &[KeyValue], key: &str) -> Option<Map<String, Json>> {
    match get(input, key)? {
        Value::StringValue(s) if s.is_empty() || s == EMITTER_REDACTED => None,
        Value::StringValue(s) => match serde_json::from_str::<Json>(s) {
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
        kv @ Value::KvlistValue(_) => match value::to_json(kv) {
            Json::Object(map) => Some(map),
            _ => None,
        },
        other => {
            out.error(
                key,
                format!(
                    "expected JSON text, found a {} value",
                    value::type_name(other)
                ),
            );
            None
        }
    }
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

/// The tool rules of SPEC section 2: `gen_ai.tool.name`, the parsed
/// arguments, and the fields extracted from them.
fn put_tool_fields(out: &mut Out<'_>, emitter: &Emitter, input: &[KeyValue]) {
    let params = parse_arguments(out, input, "tool_parameters");
    let tool_input = parse_arguments(out, input, "tool_input");
    let tool_name = get_text(input, "tool_name");

    // MCP tool name (Cowork's dotted attribute, Claude Code's parameter),
    // else tool_name.
    let mcp_tool = get_text(input, "mcp_tool.name").or_else(|| {
        params
            .as_ref()
            .and_then(|p| json_text(p, "mcp_tool_name"))
            .map(str::to_owned)
    });
    if let Some(name) = mcp_tool.or_else(|| tool_name.clone()) {
        out.put("gen_ai.tool.name", string(name));
    }

    if let Some(p) = &params {
        for (keys, field) in PARAMETER_EXTRACTS {
            if let Some(v) = keys.iter().find_map(|k| json_text(p, k)) {
                out.put_content(TOOL, *field, string(v));
            }
        }
        for key in MCP_PARAMETERS {
            if let Some(v) = json_text(p, key) {
                out.put(format!("{}{key}", emitter.vendor_prefix), string(v));
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
                out.put_content(TOOL, *field, string(v));
            }
        }
    }

    let tool_input = within_flattened_depth(out, emitter, "tool_input", tool_input);
    let params = within_flattened_depth(out, emitter, "tool_parameters", params);
    match (tool_input.filter(|i| !i.is_empty()), params) {
        (Some(i), params) => {
            out.put_content(
                TOOL,
                "gen_ai.tool.call.arguments",
                Value::KvlistValue(value::map_from_json(&i)),
            );
            if let Some(p) = params {
                let field = format!("{}tool_parameters_flattened", emitter.vendor_prefix);
                out.put_content(TOOL, field, Value::KvlistValue(value::map_from_json(&p)));
            }
        }
        (None, Some(p)) => out.put_content(
            TOOL,
            "gen_ai.tool.call.arguments",
            Value::KvlistValue(value::map_from_json(&p)),
        ),
        (None, None) => {}
    }
}

/// Parsed tool arguments deeper than a `flattened` field takes
/// ([`gateway::MAX_FIELD_DEPTH`]) are not written as one (Elasticsearch
/// would refuse the document): they stay as JSON text in the vendor field of
/// the attribute, and the record is marked.
fn within_flattened_depth(
    out: &mut Out<'_>,
    emitter: &Emitter,
    key: &str,
    args: Option<Map<String, Json>>,
) -> Option<Map<String, Json>> {
    let args = args?;
    let depth = 1 + args.values().map(gateway::json_depth).max().unwrap_or(0);
    if depth <= gateway::MAX_FIELD_DEPTH {
        return Some(args);
    }
    out.error(
        key,
        format!(
            "arguments nested {depth} levels deep, beyond the {} a flattened field takes: kept as JSON text in {}{key}",
            gateway::MAX_FIELD_DEPTH,
            emitter.vendor_prefix
        ),
    );
    if !out.tags.iter().any(|t| t == gateway::BOUNDED_TAG) {
        out.tags.push(gateway::BOUNDED_TAG.to_owned());
    }
    None
}

/// Fields derived from tool details carry their content class (SPEC 5).
const TOOL: Option<ContentClass> = Some(ContentClass::ToolDetails);

/// `related.user`: `user.email` and `user.id`, those present, no duplicates.
fn put_related_user(out: &mut Out<'_>, input: &[KeyValue]) {
    let mut users: Vec<String> = Vec::with_capacity(2);
    for key in ["user.email", "user.id"] {
        if let Some(u) = get_text(input, key) {
            if !users.contains(&u) {
                users.push(u);
            }
        }
    }
    if !users.is_empty() {
        out.put("related.user", string_array(users));
    }
}

/// `event.outcome` (SPEC section 2).
fn outcome(input: &[KeyValue], class: EventClass) -> &'static str {
    let success = get(input, "success").and_then(|v| value::convert(v, Conv::Bool).ok());
    match success {
        Some(Value::BoolValue(true)) => return "success",
        Some(Value::BoolValue(false)) => return "failure",
        _ => {}
    }
    if class.failure {
        return "failure";
    }
    match get_text(input, "decision").as_deref() {
        Some("accept") => "success",
        Some("reject") => "failure",
        _ => "unknown",
    }
}
