//! The mapping as data (mapping.md §1–2, §5–6): events and span types
//! ([`EVENT_CLASSES`], [`SPAN_CLASSES`]), where each attribute goes
//! ([`RENAMES`], [`VENDOR_TYPES`], [`SPAN_RENAMES`]), the fields extracted
//! from tool arguments ([`PARAMETER_EXTRACTS`], [`INPUT_EXTRACTS`]) and the
//! content attributes ([`CONTENT_ATTRIBUTES`]). A new event type or
//! attribute is one line in one of them; `record.rs` only interprets them
//! and applies the few rules that combine several attributes, and
//! `reference.rs` renders them as `docs/mapping.md`.

pub(crate) use crate::ecs::model::value::Conversion;
use crate::policy::ContentClass;

/// ECS categorization of one event name (mapping.md §1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventClass {
    /// `event.category` (one value) and `event.type` (one value), or `None`
    /// for events that get `event.kind` only.
    pub(crate) category_type: Option<(&'static str, &'static str)>,
    /// The event itself reports a failure (`event.outcome: failure`).
    pub(crate) failure: bool,
}

const fn class(category: &'static str, event_type: &'static str) -> EventClass {
    EventClass {
        category_type: Some((category, event_type)),
        failure: false,
    }
}

const fn failure(category: &'static str, event_type: &'static str) -> EventClass {
    EventClass {
        category_type: Some((category, event_type)),
        failure: true,
    }
}

const KIND_ONLY: EventClass = EventClass {
    category_type: None,
    failure: false,
};

/// Categorization of every event name mapping.md §1 lists.
pub(crate) const EVENT_CLASSES: &[(&str, EventClass)] = &[
    ("tool_result", class("process", "info")),
    ("tool_decision", class("iam", "info")),
    ("api_request", class("api", "info")),
    ("api_error", failure("api", "info")),
    ("api_retries_exhausted", failure("api", "info")),
    ("api_refusal", class("api", "denied")),
    ("auth", class("authentication", "info")),
    ("permission_mode_changed", class("configuration", "change")),
    ("mcp_server_connection", class("network", "connection")),
    ("hook_registered", class("configuration", "info")),
    ("hook_execution_start", class("process", "start")),
    ("hook_execution_complete", class("process", "end")),
    ("plugin_loaded", class("library", "start")),
    ("plugin_installed", class("package", "info")),
    ("managed_settings_resolved", class("configuration", "info")),
    ("api_request_body", class("api", "info")),
    ("api_response_body", class("api", "info")),
    ("subagent_completed", class("process", "end")),
    ("internal_error", failure("host", "error")),
    ("user_prompt", KIND_ONLY),
    ("skill_activated", KIND_ONLY),
    ("assistant_response", KIND_ONLY),
    // An `@` mention reads a file (or a resource) into the context.
    ("at_mention", class("file", "access")),
    // The conversation is summarized: the session goes on, shorter.
    ("compaction", class("session", "info")),
    // Timing and counts of hooks that plugins contribute.
    ("hook_plugin_metrics", class("library", "info")),
    // A user's answer to a survey: nothing ECS categorizes.
    ("feedback_survey", KIND_ONLY),
    // Old transcripts and files removed by the retention policy.
    ("retention_sweep", class("file", "deletion")),
    // The system prompt sent (its text is content: api_bodies).
    ("system_prompt", KIND_ONLY),
    // Sandbox violations and classifier decisions (2.1.330, undocumented):
    // the event a security team alerts on; the sandbox or the classifier
    // stopped something.
    ("safety_event", class("intrusion_detection", "denied")),
    // A tool's definition as offered to the model (2.1.330, undocumented).
    ("tool", class("configuration", "info")),
];

/// ECS categorization of Claude Code's span types (the `span.type`
/// attribute, else the span name without `claude_code.`), in line with
/// Elastic's `claude_code` 0.3.0 traces data stream.
pub(crate) const SPAN_CLASSES: &[(&str, EventClass)] = &[
    // A user's turn, from prompt to answer.
    ("interaction", class("session", "info")),
    // One Messages API call.
    ("llm_request", class("api", "info")),
    // A tool call, and the run of its command.
    ("tool", class("process", "info")),
    ("tool.execution", class("process", "info")),
    // Waiting for a permission decision.
    ("tool.blocked_on_user", class("iam", "info")),
    ("hook", class("process", "info")),
];

/// Any other span type: categorized `host` / `info`.
pub(crate) const OTHER_SPAN: EventClass = class("host", "info");

/// Span attributes moved to ECS / OTel GenAI fields: `(attribute, field,
/// conversion)`. An attribute whose field the span already has stays as it
/// is (`gen_ai.*` attributes the emitter sets itself win).
pub(crate) const SPAN_RENAMES: &[(&str, &str, Conversion)] = &[
    (
        "input_tokens",
        "gen_ai.usage.input_tokens",
        Conversion::Long,
    ),
    (
        "output_tokens",
        "gen_ai.usage.output_tokens",
        Conversion::Long,
    ),
    (
        "cache_read_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        Conversion::Long,
    ),
    (
        "cache_creation_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        Conversion::Long,
    ),
    ("full_command", "process.command_line", Conversion::Keep),
    ("duration_ms", "event.duration", Conversion::NanosFromMillis),
];

/// Any other event name: never dropped, categorized `host` / `info`.
pub(crate) const OTHER_EVENT: EventClass = class("host", "info");

/// Typed conversions of attributes that stay under the vendor prefix
/// `<product>.events.` (mapping.md §2). Keys not listed here or in
/// [`RENAMES`] are kept as sent ([`Conversion::Keep`]).
pub(crate) const VENDOR_TYPES: &[(&str, Conversion)] = &[
    ("event.sequence", Conversion::Long),
    ("tool_input_size_bytes", Conversion::Long),
    ("tool_result_size_bytes", Conversion::Long),
    ("cost_usd_micros", Conversion::Long),
    ("prompt_length", Conversion::Long),
    ("response_length", Conversion::Long),
    ("num_hooks", Conversion::Long),
    ("num_success", Conversion::Long),
    ("num_blocking", Conversion::Long),
    ("num_non_blocking_error", Conversion::Long),
    ("num_cancelled", Conversion::Long),
    ("total_duration_ms", Conversion::Long),
    ("agent_path_count", Conversion::Long),
    ("command_path_count", Conversion::Long),
    ("skill_path_count", Conversion::Long),
    ("status_code", Conversion::Long),
    ("attempt", Conversion::Long),
    ("ttft_ms", Conversion::Long),
    ("cache_creation_5m_tokens", Conversion::Long),
    ("cache_creation_1h_tokens", Conversion::Long),
    ("body_length", Conversion::Long),
    ("stdout_chars", Conversion::Long),
    ("additional_context_chars", Conversion::Long),
    ("system_message_chars", Conversion::Long),
    ("total_attempts", Conversion::Long),
    ("total_retry_duration_ms", Conversion::Long),
    ("total_tokens", Conversion::Long),
    ("total_tool_uses", Conversion::Long),
    ("cost_usd", Conversion::Double),
    ("is_plugin", Conversion::Bool),
    ("has_hooks", Conversion::Bool),
    ("has_mcp", Conversion::Bool),
    ("host_owned_mcp", Conversion::Bool),
    ("is_built_in", Conversion::Bool),
    ("is_async", Conversion::Bool),
    ("model_swapped", Conversion::Bool),
    ("server_fallback_hop", Conversion::Bool),
    ("has_category", Conversion::Bool),
    ("has_explanation", Conversion::Bool),
    ("anthropic.custom_base_url", Conversion::Bool),
    ("sandbox_violation_count", Conversion::Long),
    ("sandbox_enabled", Conversion::Bool),
    ("system_prompt_length", Conversion::Long),
    ("user_prompt_length", Conversion::Long),
    ("classifier_category", Conversion::Keyword),
    ("tool_hash", Conversion::Keyword),
    ("system_prompt_hash", Conversion::Keyword),
    ("message.uuid", Conversion::Keyword),
    ("ccr.session.id", Conversion::Keyword),
    ("client_request_id", Conversion::Keyword),
    ("identity.source", Conversion::Keyword),
    ("app.entrypoint", Conversion::Keyword),
    // Attribution of an api_request. ECS `agent.*` is the shipper, so
    // Claude's agent stays under the vendor prefix.
    ("agent.name", Conversion::Keyword),
    ("skill.name", Conversion::Keyword),
    ("plugin.name", Conversion::Keyword),
    ("marketplace.name", Conversion::Keyword),
    ("final_model", Conversion::Keyword),
    ("success", Conversion::BoolKeyword),
    ("managed_only", Conversion::BoolKeyword),
    ("safe_mode", Conversion::BoolKeyword),
];

/// Where one input attribute goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Target {
    /// A top-level ECS / OTel GenAI field.
    Ecs(&'static str, Conversion),
    /// `<product>.events.<the same key>`.
    Vendor(Conversion),
    /// `<product>.events.<slot's key>`, unless the record already has that
    /// attribute of its own (which then wins and this copy is skipped).
    VendorAs(Slot, Conversion),
}

use Conversion::{JsonText, Keep, Keyword, Long, NanosFromMillis};
use Target::{Ecs, Vendor, VendorAs};

/// Attributes moved out of the vendor prefix or copied (mapping.md §2,
/// "Moved to ECS / OTel GenAI fields", and its exceptions). An empty target
/// list means the attribute is consumed by a rule in `record.rs` only.
pub(crate) const RENAMES: &[(&str, &[Target])] = &[
    ("user.email", &[Ecs("user.email", Keyword)]),
    ("user.id", &[Ecs("user.id", Keyword)]),
    ("organization.id", &[Ecs("organization.id", Keyword)]),
    ("error_code", &[Ecs("error.code", Keyword)]),
    ("error_type", &[Ecs("error.type", Keyword)]),
    (
        "model",
        &[
            Ecs("gen_ai.response.model", Keyword),
            Ecs("gen_ai.request.model", Keyword),
        ],
    ),
    ("request_id", &[Ecs("gen_ai.response.id", Keyword)]),
    // OTel GenAI semantic conventions (ECS RFC 0058; elastic/integrations
    // #20741): the session is the conversation. Kept under the vendor
    // prefix too, where Elastic's package has it.
    (
        "session.id",
        &[Vendor(Keyword), Ecs("gen_ai.conversation.id", Keyword)],
    ),
    ("input_tokens", &[Ecs("gen_ai.usage.input_tokens", Long)]),
    ("output_tokens", &[Ecs("gen_ai.usage.output_tokens", Long)]),
    (
        "cache_read_tokens",
        &[Ecs("gen_ai.usage.cache_read.input_tokens", Long)],
    ),
    (
        "cache_creation_tokens",
        &[Ecs("gen_ai.usage.cache_creation.input_tokens", Long)],
    ),
    ("query_source", &[Ecs("gen_ai.operation.name", Keyword)]),
    ("tool_use_id", &[Ecs("gen_ai.tool.call.id", Keyword)]),
    // gen_ai.tool.name is decided by the tool rule (MCP tool name first).
    ("tool_name", &[]),
    ("duration_ms", &[Ecs("event.duration", NanosFromMillis)]),
    ("error", &[Vendor(Keyword), Ecs("event.reason", Keyword)]),
    // `prompt` would collide with `prompt.id`; live Claude Code also sends
    // `prompt_text` with the same text, which then wins.
    ("prompt", &[VendorAs(Slot::PromptText, Keyword)]),
    // mapping.md §6: the dashboards read decision_source, the emitters send source.
    (
        "source",
        &[Vendor(Keyword), VendorAs(Slot::DecisionSource, Keyword)],
    ),
    ("tool_parameters", &[Vendor(JsonText)]),
    ("tool_input", &[Vendor(JsonText)]),
    // OTel semantic conventions, VCS registry (ECS has no VCS fields).
    (
        "vcs.repository.url.full",
        &[Ecs("vcs.repository.url.full", Keyword)],
    ),
    (
        "vcs.repository.name",
        &[Ecs("vcs.repository.name", Keyword)],
    ),
    ("vcs.owner.name", &[Ecs("vcs.owner.name", Keyword)]),
    ("vcs.provider.name", &[Ecs("vcs.provider.name", Keyword)]),
    ("vcs.ref.head.name", &[Ecs("vcs.ref.head.name", Keyword)]),
    (
        "vcs.ref.head.revision",
        &[Ecs("vcs.ref.head.revision", Keyword)],
    ),
    ("vcs.ref.head.type", &[Ecs("vcs.ref.head.type", Keyword)]),
    // OTel semantic conventions, CI/CD registry: the workflow a headless
    // run belongs to.
    ("workflow.run_id", &[Ecs("cicd.pipeline.run.id", Keyword)]),
    ("workflow.name", &[Ecs("cicd.pipeline.name", Keyword)]),
    // ECS user.group.name (an array of names).
    ("user.groups", &[Ecs("user.group.name", Keep)]),
];

/// Fields extracted from parsed tool arguments (mapping.md §2, "Extracted
/// from the parsed tool_parameters"): `(argument keys in order of preference,
/// ECS field)`. From `tool_parameters` first; from `tool_input` when
/// `tool_parameters` lacks them ([`INPUT_EXTRACTS`]).
pub(crate) const PARAMETER_EXTRACTS: &[(&[&str], &str)] = &[
    (&["full_command"], "process.command_line"),
    (&["file_path", "path"], "file.path"),
    (&["url"], "url.full"),
];

/// Fields taken from `tool_input` when `tool_parameters` lacks them; the
/// third column restricts a row to one `tool_name`.
pub(crate) const INPUT_EXTRACTS: &[(&str, &str, Option<&str>)] = &[
    ("file_path", "file.path", None),
    ("url", "url.full", None),
    ("command", "process.command_line", Some("Bash")),
];

/// Attributes that carry content (mapping.md §5), by class. Their values,
/// wherever they end up (vendor field, `event.original`), go through the
/// content policy; so do the fields derived from tool details (see
/// `record.rs`).
pub(crate) const CONTENT_ATTRIBUTES: &[(&str, ContentClass)] = &[
    ("prompt", ContentClass::Prompts),
    ("prompt_text", ContentClass::Prompts),
    ("response", ContentClass::Responses),
    ("tool_parameters", ContentClass::ToolDetails),
    ("tool_input", ContentClass::ToolDetails),
    ("body", ContentClass::ApiBodies),
    // The system prompt and tool definitions are what an API request body
    // carries: the same class (system_prompt and tool events; llm_request
    // span attributes under detailed tracing).
    ("system_prompt", ContentClass::ApiBodies),
    ("system_prompt_preview", ContentClass::ApiBodies),
    ("user_system_prompt", ContentClass::ApiBodies),
    ("tool", ContentClass::ApiBodies),
    ("tools", ContentClass::ApiBodies),
    // Span attributes and span event attributes (traces).
    ("user_prompt", ContentClass::Prompts),
    ("full_command", ContentClass::ToolDetails),
    ("bash_command", ContentClass::ToolDetails),
    ("output", ContentClass::ToolOutput),
    // The identity policy (config `identity`).
    ("user.email", ContentClass::Identity),
    ("user.account_uuid", ContentClass::Identity),
    ("user.account_id", ContentClass::Identity),
];

/// MCP names inside Claude Code's `tool_parameters`, copied to the vendor
/// fields of the same name.
pub(crate) const MCP_PARAMETERS: &[&str] = &["mcp_server_name", "mcp_tool_name"];

/// Input attributes the rules read by name (besides mapping each one):
/// found in the one pass that looks every key up, then read in O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    EventName,
    SessionId,
    EventSequence,
    ToolParameters,
    ToolInput,
    ToolName,
    McpToolName,
    UserEmail,
    UserId,
    OrganizationId,
    Success,
    Decision,
    PromptText,
    DecisionSource,
}

impl Slot {
    /// Every slot, in declaration order.
    pub(crate) const ALL: [Slot; 14] = [
        Slot::EventName,
        Slot::SessionId,
        Slot::EventSequence,
        Slot::ToolParameters,
        Slot::ToolInput,
        Slot::ToolName,
        Slot::McpToolName,
        Slot::UserEmail,
        Slot::UserId,
        Slot::OrganizationId,
        Slot::Success,
        Slot::Decision,
        Slot::PromptText,
        Slot::DecisionSource,
    ];

    /// The attribute key.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Slot::EventName => "event.name",
            Slot::SessionId => "session.id",
            Slot::EventSequence => "event.sequence",
            Slot::ToolParameters => "tool_parameters",
            Slot::ToolInput => "tool_input",
            Slot::ToolName => "tool_name",
            Slot::McpToolName => "mcp_tool.name",
            Slot::UserEmail => "user.email",
            Slot::UserId => "user.id",
            Slot::OrganizationId => "organization.id",
            Slot::Success => "success",
            Slot::Decision => "decision",
            Slot::PromptText => "prompt_text",
            Slot::DecisionSource => "decision_source",
        }
    }
}
