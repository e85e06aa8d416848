"""Facts about Elastic's own Kibana assets for Claude: the 13 dashboards of
the `claude_code` (0.3.0) and `claude_cowork` (0.1.0) integration packages
(elastic/integrations, packages/claude_code/kibana/dashboard/*.json,
packages/claude_cowork/kibana/dashboard/*.json) and the index templates
Fleet installs for those packages. Standard library only.

Each dashboard: its id and title, the index pattern it reads (`logs-*` data
view, or the ES|QL `FROM`), its dashboard-level filter, and its panels with
each panel's own filter and the fields it reads, with the type the panel
needs ("keyword" for terms / unique count / match_phrase, "number" for sum /
median / percentiles / max, "boolean" for `== true`). A Lens panel filter is
written as Kibana runs it (its `match_phrase`, which for some panels is the
bare attribute name even where `meta.field` names the namespaced one). ES|QL
panels are translated to query DSL (the test distribution has no ES|QL):
`WHERE` becomes the panel filter, `STATS`/`BY` fields the fields read.

`ABSENT` lists the fields our documents do not carry, with the reason; the
dashboard test asserts they are absent, so a change that fills one shows.
"""


def phrase(field, value):
    return {"match_phrase": {field: value}}


def any_of(*queries):
    return {"bool": {"should": list(queries), "minimum_should_match": 1}}


def exists(field):
    return {"exists": {"field": field}}


CC = "claude_code.events.otel"
CW = "claude_cowork.events.otel"
K, N, B = "keyword", "number", "boolean"


def lens(dashboard_id, title, filters, panels, package):
    return {"id": dashboard_id, "title": title, "index": "logs-*", "filter": {"bool": {"filter": filters}},
            "panels": panels, "package": package}


def panel(title, fields, where=None):
    """fields: {field: type}; where: the panel's own filter (query DSL)."""
    return {"title": title, "fields": fields, "where": where}


CLAUDE_CODE_PACKAGE = "claude_code 0.3.0"
CLAUDE_COWORK_PACKAGE = "claude_cowork 0.1.0"
ACTION = "event.action"

DASHBOARDS = [
    # ---- claude_code 0.3.0 ------------------------------------------------
    lens("claude_code-permission-decisions", "[Claude Code] Permission Decisions",
         [phrase("data_stream.dataset", CC), phrase(ACTION, "tool_decision")], [
             panel("Total Decisions", {}),
             panel("Accept vs Reject", {"claude_code.events.decision": K}),
             panel("Permanent Auto-Approvals", {}, phrase("decision_source", "user_permanent")),
             panel("Config Auto-Approvals", {}, phrase("decision_source", "config")),
             panel("Decision Sources Over Time", {"@timestamp": "date", "claude_code.events.decision_source": K}),
             panel("Rejected Tools Over Time", {"@timestamp": "date", "gen_ai.tool.name": K}, phrase("decision", "reject")),
             panel("Decisions by Tool", {"gen_ai.tool.name": K, "claude_code.events.decision": K}),
             panel("Decision Source by Tool", {"gen_ai.tool.name": K, "claude_code.events.decision_source": K}),
             panel("User Decision Summary", {"user.email": K, "claude_code.events.decision_source": K,
                                             "claude_code.events.decision": K}),
         ], CLAUDE_CODE_PACKAGE),
    lens("claude_code-cost-usage", "[Claude Code] Cost & Usage",
         [any_of(phrase("data_stream.dataset", CC), phrase("data_stream.dataset", CW)), phrase(ACTION, "api_request")], [
             panel("Total Cost (USD)", {"claude_code.events.cost_usd": N}),
             panel("Total API Requests", {}),
             panel("Input Tokens", {"gen_ai.usage.input_tokens": N}),
             panel("Output Tokens", {"gen_ai.usage.output_tokens": N}),
             panel("Cost by User", {"user.email": K, "claude_code.events.cost_usd": N}),
             panel("Cost by Model", {"gen_ai.response.model": K, "claude_code.events.cost_usd": N}),
             panel("API Latency (p50 / p95)", {"event.duration": N}),
             panel("Cache Hit Ratio", {"gen_ai.usage.cache_read.input_tokens": N, "gen_ai.usage.input_tokens": N}),
         ], CLAUDE_CODE_PACKAGE),
    lens("claude_code-mcp-server-access", "[Claude Code] MCP Server Access",
         [phrase("data_stream.dataset", CC)], [
             panel("MCP Connections", {}, phrase(ACTION, "mcp_server_connection")),
             panel("Connection Failures", {}, {"bool": {"filter": [phrase(ACTION, "mcp_server_connection"),
                                                                   phrase("status", "failed")]}}),
             panel("Unique MCP Servers", {"server_name": K}, phrase(ACTION, "mcp_server_connection")),
             panel("MCP Tool Calls", {}, {"bool": {"filter": [phrase(ACTION, "tool_result"), phrase("tool_name", "mcp_tool")]}}),
             panel("Connection Status by Server", {"server_name": K, "status": K}, phrase(ACTION, "mcp_server_connection")),
             panel("Connections by User", {"user.email": K, "server_name": K}, phrase(ACTION, "mcp_server_connection")),
             panel("Failed Connection Details", {"server_name": K, "error_code": K, "transport_type": K, "user.email": K},
                   {"bool": {"filter": [phrase(ACTION, "mcp_server_connection"), phrase("status", "failed")]}}),
         ], CLAUDE_CODE_PACKAGE),
    lens("claude_code-security-overview", "[Claude Code] Security Overview",
         [any_of(phrase("data_stream.dataset", CC), phrase("data_stream.dataset", CW))], [
             panel("Total Events", {}),
             panel("Unique Users", {"user.email": K}),
             panel("Unique Sessions", {"session.id": K}),
             panel("Tool Rejections", {}, {"bool": {"filter": [phrase(ACTION, "tool_decision"), phrase("decision", "reject")]}}),
             panel("Event Types Over Time", {ACTION: K}),
             panel("Permission Mode Changes", {"to_mode": K}, phrase(ACTION, "permission_mode_changed")),
             panel("Tool Decision Sources", {"decision_source": K}, phrase(ACTION, "tool_decision")),
             panel("MCP Connection Status", {"server_name": K, "status": K}, phrase(ACTION, "mcp_server_connection")),
             panel("User Activity Summary", {"user.email": K, "session.id": K}),
             panel("Security Event Log", {ACTION: K, "user.email": K, "decision": K, "decision_source": K,
                                          "tool_name": K},
                   any_of(phrase(ACTION, "permission_mode_changed"),
                          {"bool": {"filter": [phrase(ACTION, "tool_decision"), phrase("decision", "reject")]}},
                          {"bool": {"filter": [phrase(ACTION, "mcp_server_connection"), phrase("status", "failed")]}})),
         ], CLAUDE_CODE_PACKAGE),
    lens("claude_code-session-timeline", "[Claude Code] Session Timeline",
         [phrase("data_stream.dataset", CC)], [
             panel("Session Events", {}),
             panel("Max Event Sequence", {"event.sequence": N}),
             panel("Unique Tools Used", {"tool_name": K}, exists("tool_name")),
             panel("Session Cost (USD)", {"cost_usd": N}, phrase(ACTION, "api_request")),
             panel("Events Over Time", {ACTION: K}),
             panel("Event Detail Log (tool calls)", {ACTION: K, "tool_name": K, "decision": K, "decision_source": K,
                                                     "event.sequence": N}, phrase(ACTION, "tool_decision")),
             panel("Event Detail Log (API requests)", {"model": K, "cost_usd": N}, phrase(ACTION, "api_request")),
             panel("Event Detail Log (results)", {"success": K}, phrase(ACTION, "tool_result")),
         ], CLAUDE_CODE_PACKAGE),
    lens("claude_code-tool-call-analysis", "[Claude Code] Tool Call Analysis",
         [phrase("data_stream.dataset", CC), any_of(phrase(ACTION, "tool_result"), phrase(ACTION, "tool_decision"))], [
             panel("Total Tool Calls", {}, phrase(ACTION, "tool_result")),
             panel("Success Rate", {}, {"bool": {"filter": [phrase(ACTION, "tool_result"), phrase("success", "true")]}}),
             panel("Failures", {}, {"bool": {"filter": [phrase(ACTION, "tool_result"), phrase("success", "false")]}}),
             panel("Median Duration", {"event.duration": N}, phrase(ACTION, "tool_result")),
             panel("Tool Calls Over Time", {"gen_ai.tool.name": K}, phrase(ACTION, "tool_result")),
             panel("Decision Sources", {"claude_code.events.decision_source": K}, phrase(ACTION, "tool_decision")),
             panel("Failed Call Details", {"gen_ai.tool.name": K, "event.duration": N, "user.email": K},
                   {"bool": {"filter": [phrase(ACTION, "tool_result"), phrase("success", "false")]}}),
         ], CLAUDE_CODE_PACKAGE),
    # ---- claude_cowork 0.1.0 ----------------------------------------------
    lens("claude_cowork-permission-decisions", "[Claude Cowork] Permission Decisions",
         [phrase("data_stream.dataset", CW), phrase(ACTION, "tool_decision")], [
             panel("Total Decisions", {}),
             panel("Accept vs Reject", {"claude_cowork.events.decision": K}),
             panel("Config Auto-Approvals", {}, phrase("source", "config")),
             panel("Decision Sources Over Time", {"claude_cowork.events.source": K}),
             panel("Rejected Tools Over Time", {"gen_ai.tool.name": K}, phrase("decision", "reject")),
             panel("User Decision Summary", {"user.email": K, "claude_cowork.events.source": K,
                                             "claude_cowork.events.decision": K}),
         ], CLAUDE_COWORK_PACKAGE),
    lens("claude_cowork-cost-usage", "[Claude Cowork] Cost & Usage",
         [phrase("data_stream.dataset", CW), phrase(ACTION, "api_request")], [
             panel("Total Cost (USD)", {"claude_cowork.events.cost_usd": N}),
             panel("Input / Output Tokens", {"gen_ai.usage.input_tokens": N, "gen_ai.usage.output_tokens": N}),
             panel("Cost by User", {"user.email": K}),
             panel("Cost by Model", {"gen_ai.response.model": K}),
             panel("API Latency", {"event.duration": N}),
             panel("Cache Hit Ratio", {"gen_ai.usage.cache_read.input_tokens": N}),
         ], CLAUDE_COWORK_PACKAGE),
    lens("claude_cowork-mcp-server-access", "[Claude Cowork] MCP Server Access",
         [phrase("data_stream.dataset", CW)], [
             panel("MCP Connections", {}, phrase(ACTION, "mcp_server_connection")),
             panel("Connection Failures", {}, {"bool": {"filter": [phrase(ACTION, "mcp_server_connection"),
                                                                   phrase("status", "failed")]}}),
             panel("Connection Status by Server", {"claude_cowork.events.server_name": K, "claude_cowork.events.status": K},
                   phrase(ACTION, "mcp_server_connection")),
             panel("MCP Tool Calls", {"claude_cowork.events.mcp_server.name": K, "gen_ai.tool.name": K, "event.duration": N},
                   {"bool": {"filter": [phrase(ACTION, "tool_result"), exists("claude_cowork.events.mcp_server.name")]}}),
             panel("Failed Connection Details", {"claude_cowork.events.server_name": K, "claude_cowork.events.transport_type": K},
                   {"bool": {"filter": [phrase(ACTION, "mcp_server_connection"), phrase("status", "failed")]}}),
         ], CLAUDE_COWORK_PACKAGE),
    lens("claude_cowork-security-overview", "[Claude Cowork] Security Overview",
         [phrase("data_stream.dataset", CW)], [
             panel("Total Events", {}),
             panel("Unique Users", {"user.email": K}),
             panel("Unique Sessions", {"claude_cowork.events.session.id": K}),
             panel("Tool Rejections", {}, {"bool": {"filter": [phrase(ACTION, "tool_decision"), phrase("decision", "reject")]}}),
             panel("Event Types Over Time", {ACTION: K}),
             panel("Tool Decision Sources", {"claude_cowork.events.source": K}, phrase(ACTION, "tool_decision")),
         ], CLAUDE_COWORK_PACKAGE),
    lens("claude_cowork-session-timeline", "[Claude Cowork] Session Timeline",
         [phrase("data_stream.dataset", CW)], [
             panel("Total Events", {}),
             panel("Max Event Sequence", {"event.sequence": N}),
             panel("Unique Tools Used", {"gen_ai.tool.name": K}, exists("gen_ai.tool.name")),
             panel("Session Cost", {"claude_cowork.events.cost_usd": N}, phrase(ACTION, "api_request")),
             panel("Event Detail Log", {ACTION: K, "gen_ai.tool.name": K, "claude_cowork.events.success": K,
                                        "event.duration": N}, phrase(ACTION, "tool_result")),
         ], CLAUDE_COWORK_PACKAGE),
    lens("claude_cowork-tool-call-analysis", "[Claude Cowork] Tool Call Analysis",
         [phrase("data_stream.dataset", CW), any_of(phrase(ACTION, "tool_result"), phrase(ACTION, "tool_decision"))], [
             panel("Total Tool Calls", {}, phrase(ACTION, "tool_result")),
             panel("Success Rate", {}, {"bool": {"filter": [phrase(ACTION, "tool_result"), phrase("success", "true")]}}),
             panel("Median Duration", {"event.duration": N}, phrase(ACTION, "tool_result")),
             panel("Tool Call Volume", {"gen_ai.tool.name": K}, phrase(ACTION, "tool_result")),
             panel("Decision Sources", {"claude_cowork.events.source": K}, phrase(ACTION, "tool_decision")),
         ], CLAUDE_COWORK_PACKAGE),
    # ---- the ES|QL dashboard (claude_code 0.3.0, traces data stream) -------
    {"id": "claude_code-traces-overview", "title": "[Claude Code] Traces Overview",
     "index": "traces-claude_code.otel-*", "filter": {"match_all": {}}, "package": CLAUDE_CODE_PACKAGE, "panels": [
         panel("LLM Request Count", {}, phrase("span.name", "claude_code.llm_request")),
         panel("Tool Execution Count", {}, phrase("span.name", "claude_code.tool.execution")),
         panel("Success rate percentage", {"attributes.success": B},
               {"terms": {"span.name": ["claude_code.llm_request", "claude_code.tool.execution"]}}),
         panel("Span Count and Average Duration by Span Name", {"span.name": K, "duration": N}),
         panel("Total tokens / tokens by model", {"attributes.input_tokens": N, "attributes.output_tokens": N,
                                                  "attributes.cache_read_tokens": N, "attributes.cache_creation_tokens": N,
                                                  "attributes.gen_ai.request.model": K},
               phrase("span.name", "claude_code.llm_request")),
         panel("Average LLM Request Duration", {"attributes.duration_ms": N}, phrase("span.name", "claude_code.llm_request")),
         panel("LLM Request Count by Stop Reason", {"attributes.stop_reason": K}, phrase("span.name", "claude_code.llm_request")),
         panel("Top 10 Tool Names / Average Tool Duration", {"attributes.tool_name": K, "attributes.duration_ms": N},
               phrase("span.name", "claude_code.tool")),
         panel("Tool Success Rate / Average Tool Execution Duration", {"attributes.success": B, "attributes.duration_ms": N},
               phrase("span.name", "claude_code.tool.execution")),
     ]},
]

# What our documents do not carry, and why (README "Elastic's dashboards").
ABSENT = {
    "duration_ms": "moved to event.duration in nanoseconds (mapping.md §2, as Elastic's own pipeline does); "
                   "an alias would show nanoseconds as milliseconds",
}
# Panel filters that match none of our documents, and why.
EMPTY_PANELS = {
    ("claude_code-mcp-server-access", "MCP Tool Calls"):
        "filters tool_name: \"mcp_tool\"; gen_ai.tool.name (which tool_name answers for) holds the MCP tool's own name",
}

# Panels whose events the test scenario does not contain (nothing to check).
NOT_IN_SCENARIO = {
    ("claude_code-permission-decisions", "Permanent Auto-Approvals"):
        "a user_permanent decision needs an interactive 'always allow' in a terminal",
}

# The index templates Fleet installs for the packages (name, pattern,
# priority 200, the package's ingest pipeline as default_pipeline): the
# coexistence stand-ins the suite installs before `cowork-ecs setup`.
PACKAGE_TEMPLATES = [
    ("logs-claude_code.events.otel", "logs-claude_code.events.otel-*", "logs-claude_code.events-0.3.0"),
    ("traces-claude_code.otel", "traces-claude_code.otel-*", "traces-claude_code-0.3.0"),
    ("logs-claude_cowork.events.otel", "logs-claude_cowork.events.otel-*", "logs-claude_cowork.events-0.1.0"),
]
PACKAGE_PRIORITY = 200


def dashboard_query(dashboard, panel_where=None, scope=None):
    """The query a panel runs: the dashboard filter, the panel's filter, and
    an optional scope (e.g. the test's own documents)."""
    parts = [dashboard["filter"]]
    if panel_where:
        parts.append(panel_where)
    if scope:
        parts.append(scope)
    return {"bool": {"filter": parts}}
