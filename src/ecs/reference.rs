//! The field reference, `docs/mapping.md`, rendered from the mapping's own
//! tables (`tables`, [`crate::policy`], [`super::gateway`]) so it
//! cannot drift from the code: a test fails when the committed file differs
//! from [`markdown`]. Code comments cite its sections as `mapping.md §N`.
//!
//! The same tables answer the tests that check the transform applies them
//! ([`event_categorization`]), so a category change is one table line plus
//! regenerated goldens and reference.

use crate::config::Config;
use crate::data_stream;
use crate::ecs::policy::bounds::BOUNDED_TAG;
use crate::ecs::policy::bounds::INVALID_UTF8_TAG;
use crate::ecs::policy::content::SECRET_PATTERNS;
use crate::ecs::policy::routing::REQUESTED_ROUTING_FIELD;
use crate::ecs::policy::routing::ROUTING_ATTRIBUTES;
use crate::ecs::policy::routing::ROUTING_OVERRIDDEN_TAG;
use crate::ecs::rules::tables::{self, Conversion, EventClass, Target};
use crate::policy::ContentClass;
use std::fmt::Write;

/// How a table row categorizes an event: `event.category` and `event.type`
/// (`None`: the event gets `event.kind` only) and whether the event itself
/// reports a failure (`event.outcome: failure`). An event name no table
/// lists gets the default row (`host` / `info`).
pub fn event_categorization(event_name: &str) -> (Option<(&'static str, &'static str)>, bool) {
    let class = (tables::EVENT_CLASSES.iter())
        .find(|(name, _)| *name == event_name)
        .map_or(tables::OTHER_EVENT, |(_, class)| *class);
    (class.category_type, class.failure)
}

/// Every event name the mapping categorizes, in table order.
pub fn event_names() -> Vec<&'static str> {
    tables::EVENT_CLASSES
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

/// The type a conversion writes, as the reference names it.
fn conv(c: Conversion) -> &'static str {
    match c {
        Conversion::Keep => "as sent",
        Conversion::Keyword => "keyword",
        Conversion::Long => "long",
        Conversion::Double => "double",
        Conversion::Bool => "boolean",
        Conversion::BoolKeyword => "keyword `\"true\"`/`\"false\"`",
        Conversion::NanosFromMillis => "long, nanoseconds (from milliseconds)",
        Conversion::JsonText => "keyword, JSON text",
    }
}

fn category(class: &EventClass) -> String {
    let (cat_type, failure) = (class.category_type, class.failure);
    let mut s = match cat_type {
        Some((c, t)) => format!("| {c} | {t} |"),
        None => "| — | — |".to_owned(),
    };
    s.push_str(if failure { " failure |" } else { " |" });
    s
}

/// `docs/mapping.md`: every event with its category, every input attribute
/// with its output field and type, every content class with its attributes
/// and default action, and the routing rules.
pub fn markdown() -> String {
    let mut md = String::new();
    let d = Config::default();
    let w = &mut md;
    let _ = writeln!(
        w,
        "# cowork-ecs field reference\n\n\
         Generated from the mapping's tables (`src/ecs/reference.rs`); do not edit.\n\
         Regenerate with `COWORK_ECS_UPDATE_GOLDEN=1 cargo test --lib reference`.\n\
         Code comments cite the sections as `mapping.md §N`.\n"
    );

    let _ = writeln!(w, "## 1. Emitters and event types\n");
    let _ = writeln!(
        w,
        "A resource whose `service.name` is one of `cowork.service_names` (default {:?}) \
         is Claude Cowork's (`event.provider: claude-cowork`, vendor prefix \
         `claude_cowork.events.`); one of `claude_code.service_names` (default {:?}) is \
         Claude Code's (`claude-code`, `claude_code.events.`). Each record of such a \
         resource becomes an ECS document: `ecs.version`, `event.kind: event` \
         (`pipeline_error` on a mapping error, §4), `event.action` = the event name \
         without its product prefix, `event.provider`, `event.category` / `event.type` \
         from the table below, `event.outcome`, `data_stream.*` (§6) and a \
         deterministic `elasticsearch.document_id`.\n",
        d.cowork.service_names, d.claude_code.service_names
    );
    let _ = writeln!(
        w,
        "| event name | event.category | event.type | outcome |\n|---|---|---|---|"
    );
    for (name, class) in tables::EVENT_CLASSES {
        let _ = writeln!(w, "| `{name}` {}", category(class));
    }
    let _ = writeln!(w, "| any other name {}\n", category(&tables::OTHER_EVENT));
    let _ = writeln!(
        w,
        "`outcome` failure: the event itself reports one (`event.outcome: failure`); \
         otherwise `event.outcome` comes from the record's `success` attribute \
         (`success` / `failure`), else `unknown`.\n"
    );

    let _ = writeln!(w, "## 2. Attributes\n");
    let _ = writeln!(
        w,
        "Attributes moved to ECS / OTel fields (a record's own field of the same \
         name wins over a copy):\n\n| attribute | field (type) |\n|---|---|"
    );
    for (key, targets) in tables::RENAMES {
        let fields: Vec<String> = (targets.iter())
            .map(|t| match t {
                Target::Ecs(field, c) => format!("`{field}` ({})", conv(*c)),
                Target::Vendor(c) => format!("`<prefix>{key}` ({})", conv(*c)),
                Target::VendorAs(slot, c) => format!("`<prefix>{}` ({})", slot.key(), conv(*c)),
            })
            .collect();
        let fields = if fields.is_empty() {
            "read by a rule only".to_owned()
        } else {
            fields.join(", ")
        };
        let _ = writeln!(w, "| `{key}` | {fields} |");
    }
    let _ = writeln!(
        w,
        "\nAttributes kept under the vendor prefix (`claude_code.events.` / \
         `claude_cowork.events.`) with a type; any other attribute is kept there as \
         sent:\n\n| attribute | type |\n|---|---|"
    );
    for (key, c) in tables::VENDOR_TYPES {
        let _ = writeln!(w, "| `{key}` | {} |", conv(*c));
    }
    let _ = writeln!(
        w,
        "\nFields extracted from the parsed `tool_parameters` (first key present), \
         else from `tool_input`:\n\n| from | field |\n|---|---|"
    );
    for (keys, field) in tables::PARAMETER_EXTRACTS {
        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        let _ = writeln!(w, "| `tool_parameters` {} | `{field}` |", keys.join(" / "));
    }
    for (key, field, tool) in tables::INPUT_EXTRACTS {
        let only = tool.map_or(String::new(), |t| format!(" (tool `{t}` only)"));
        let _ = writeln!(w, "| `tool_input` `{key}`{only} | `{field}` |");
    }

    let _ = writeln!(w, "\n## 3. Other senders\n");
    let _ = writeln!(
        w,
        "A record under any other resource is left as it came, in the exporter's \
         OTel mode, except what the gateway owns: under an authenticated tenant \
         its routing is the gateway's (`data_stream.namespace` = the tenant's), \
         a routing attribute it may not set is removed and kept in \
         `{REQUESTED_ROUTING_FIELD}` (`tags: {ROUTING_OVERRIDDEN_TAG}`), values \
         Elasticsearch would refuse are bounded (`tags: {BOUNDED_TAG}`), and text \
         that is not UTF-8 is read with U+FFFD (`tags: {INVALID_UTF8_TAG}`). The \
         same holds on Claude records. The routing attributes:\n"
    );
    for key in ROUTING_ATTRIBUTES {
        let _ = writeln!(w, "- `{key}`");
    }

    let _ = writeln!(w, "\n## 4. Mapping errors\n");
    let _ = writeln!(
        w,
        "A value that does not convert to its type is kept as it came under the \
         vendor prefix and the record is marked: `event.kind: pipeline_error`, \
         `error.message` saying which attribute and why, and `event.original` \
         (the record as OTLP/JSON, after the content policy). No record is ever \
         dropped. `preserve_original: true` sets `event.original` on every \
         Claude record.\n"
    );

    let _ = writeln!(w, "## 5. Content classes\n");
    let _ = writeln!(
        w,
        "Each class has one action: `keep`, `redact_secrets` (credentials masked), \
         `hash` (HMAC-SHA256 under `content.hmac_key`, lowercase hex) or `drop`. \
         A touched record lists the classes in `<prefix>redacted`.\n\n\
         | class | configured as | default | attributes |\n|---|---|---|---|"
    );
    for class in ContentClass::ALL {
        let keys: Vec<String> = (tables::CONTENT_ATTRIBUTES.iter())
            .filter(|(_, c)| *c == class)
            .map(|(k, _)| format!("`{k}`"))
            .collect();
        let key = if class.in_content() {
            format!("`content.{}`", class.name())
        } else {
            format!("`{}`", class.name())
        };
        let action = serde_json::to_value(class.default_action()).unwrap_or_default();
        let action = action.as_str().unwrap_or_default().to_owned();
        let _ = writeln!(
            w,
            "| {} | {key} | `{action}` | {} |",
            class.name(),
            keys.join(", ")
        );
    }
    let _ = writeln!(
        w,
        "\nThe fields derived from tool details (`process.command_line`, `file.path`, \
         `url.full`, `gen_ai.tool.call.arguments`) follow `tool_details`. Credentials \
         `redact_secrets` masks:\n"
    );
    for (name, _, _) in SECRET_PATTERNS {
        let _ = writeln!(w, "- `{name}`");
    }

    let _ = writeln!(w, "\n## 6. Data streams, spans and metrics\n");
    let _ = writeln!(
        w,
        "| signal | Claude Code | Cowork |\n|---|---|---|\n\
         | logs | `logs-{}-<namespace>` | `logs-{}-<namespace>` |\n\
         | traces (spans, OTel mode) | `traces-{}{sfx}-<namespace>` | `traces-{}{sfx}-<namespace>` |\n\
         | metrics | `metrics-{}-<namespace>` | `metrics-{}-<namespace>` |\n\
         | span events (OTel mode) | `logs-{}{sfx}-<namespace>` | `logs-{}{sfx}-<namespace>` |\n\n\
         Log records and metrics are ECS documents (scope `elastic.mapping.mode: ecs`); \
         spans are written in the exporter's OTel mode (`elastic.mapping.mode: otel`, \
         which appends `{sfx}` to the dataset): `name`, `duration` (ns) and the span's \
         attributes under `attributes.*`, where Elastic's Traces Overview reads them.\n",
        d.claude_code.dataset,
        d.cowork.dataset,
        data_stream::CLAUDE_CODE_TRACES_DATASET,
        data_stream::COWORK_TRACES_DATASET,
        data_stream::CLAUDE_CODE_METRICS_DATASET,
        data_stream::COWORK_METRICS_DATASET,
        data_stream::CLAUDE_CODE_TRACES_DATASET,
        data_stream::COWORK_TRACES_DATASET,
        sfx = data_stream::OTEL_SUFFIX,
    );
    let _ = writeln!(
        w,
        "`<namespace>` is the tenant's (sanitized) under `tenant.set_namespace`, \
         else `namespace` (default `{}`).\n\nSpan types (`span.type`, else the span \
         name without `claude_code.`):\n\n\
         | span type | event.category | event.type | outcome |\n|---|---|---|---|",
        d.namespace
    );
    for (name, class) in tables::SPAN_CLASSES {
        let _ = writeln!(w, "| `{name}` {}", category(class));
    }
    let _ = writeln!(w, "| any other {}\n", category(&tables::OTHER_SPAN));
    let _ = writeln!(
        w,
        "Span attributes copied to ECS / OTel fields (the attribute itself stays, \
         as the Traces Overview reads it):\n\n| attribute | field (type) |\n|---|---|"
    );
    for (key, field, c) in tables::SPAN_RENAMES {
        let _ = writeln!(w, "| `{key}` | `{field}` ({}) |", conv(*c));
    }
    md.truncate(md.trim_end().len());
    md.push('\n');
    md
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_reference_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mapping.md");
        let fresh = markdown();
        if std::env::var_os("COWORK_ECS_UPDATE_GOLDEN").is_some() {
            assert!(std::env::var_os("CI").is_none(), "not rewritten under CI");
            std::fs::write(path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == fresh,
            "docs/mapping.md is stale: run COWORK_ECS_UPDATE_GOLDEN=1 cargo test --lib reference and commit it"
        );
    }

    #[test]
    fn every_table_row_is_in_the_reference() {
        let md = markdown();
        for name in event_names() {
            assert!(md.contains(&format!("| `{name}` |")), "{name}");
        }
        for (key, _) in tables::CONTENT_ATTRIBUTES {
            assert!(md.contains(&format!("`{key}`")), "{key}");
        }
        assert_eq!(
            event_categorization("a_future_event"),
            (Some(("host", "info")), false)
        );
    }
}
