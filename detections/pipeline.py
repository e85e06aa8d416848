"""The project's pySigma processing pipeline: Sigma logsources to the data
streams cowork-ecs writes, Sigma field names to the ECS and vendor fields
the processor writes (docs/mapping.md), and the values the user sets in
detections/config.yml (allow-lists, thresholds) into the rules.

Field names in the rules are the telemetry's own attribute names
(`permission_mode`, `decision`, `cost_usd`, ...), plus Sigma's taxonomy
names for what the processor derives from tool arguments (`CommandLine`,
`TargetFilename`) and ECS names where the processor writes ECS.
"""

from dataclasses import dataclass
from pathlib import Path

import yaml
from sigma.processing.conditions import ExcludeFieldCondition, IncludeFieldCondition, LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    DetectionItemFailureTransformation,
    FieldMappingTransformation,
    SetStateTransformation,
    ValueListPlaceholderTransformation,
)
from sigma.processing.transformations.base import ValueTransformation
from sigma.types import SigmaCompareExpression, SigmaNumber

CONFIG = Path(__file__).resolve().parent / "config.yml"

# Sigma logsource product -> (index patterns, vendor prefixes); `claude` is both emitters.
PRODUCTS = {
    "claude_code": (["logs-claude_code.events.otel-*"], ["claude_code.events."]),
    "claude_cowork": (["logs-claude_cowork.events.otel-*"], ["claude_cowork.events."]),
    "claude": (["logs-claude_code.events.otel-*", "logs-claude_cowork.events.otel-*"],
               ["claude_code.events.", "claude_cowork.events."]),
}
# `cowork-ecs verify --report-index` findings (fields as written, ECS and cowork_ecs.*).
VERIFY_INDEX = ["logs-cowork_ecs.verify-*"]

# Sigma field -> the ECS field the processor writes (the same for both emitters).
ECS_FIELDS = {
    "event.name": "event.action",
    "tool_name": "gen_ai.tool.name",
    "CommandLine": "process.command_line",
    "TargetFilename": "file.path",
    "url": "url.full",
    "session.id": "gen_ai.conversation.id",
}
# Sigma fields kept under the vendor prefix (`<product>.events.<name>`).
VENDOR_FIELDS = [
    "decision", "decision_source", "permission_mode", "from_mode", "to_mode", "trigger",
    "server_name", "status", "transport_type", "cost_usd", "redacted_secrets",
    "marketplace.name", "plugin.name", "mcp_server.name", "hook_source",
]


@dataclass
class ThresholdTransformation(ValueTransformation):
    """Replaces the number of a `|gt` / `|gte` comparison with a value of config.yml."""

    value: float = 0.0

    def apply_value(self, field, val):
        if isinstance(val, SigmaCompareExpression):
            return SigmaCompareExpression(SigmaNumber(self.value), val.op)
        return None


def load_config(path=CONFIG):
    return yaml.safe_load(Path(path).read_text())


def cowork_ecs_pipeline(config=None):
    config = load_config() if config is None else config
    items = [
        ProcessingItem(identifier="allow_lists", transformation=ValueListPlaceholderTransformation()),
        ProcessingItem(identifier="cost_threshold",
                       transformation=ThresholdTransformation(value=float(config["cost_threshold_usd"])),
                       field_name_conditions=[IncludeFieldCondition(fields=["cost_usd"])]),
    ]
    for product, (indices, prefixes) in PRODUCTS.items():
        mapping = dict(ECS_FIELDS)
        for name in VENDOR_FIELDS:
            mapping[name] = [p + name for p in prefixes] if len(prefixes) > 1 else prefixes[0] + name
        def logsource(product=product):  # a condition object belongs to one item
            return LogsourceCondition(product=product, service="events")

        items += [
            ProcessingItem(identifier=f"{product}_unknown_field",
                           transformation=DetectionItemFailureTransformation(
                               "a field the pipeline does not map (detections/pipeline.py: ECS_FIELDS, VENDOR_FIELDS)"),
                           rule_conditions=[logsource()],
                           field_name_conditions=[ExcludeFieldCondition(fields=[*ECS_FIELDS, *VENDOR_FIELDS])]),
            ProcessingItem(identifier=f"{product}_index", transformation=SetStateTransformation("index", indices),
                           rule_conditions=[logsource()]),
            ProcessingItem(identifier=f"{product}_fields", transformation=FieldMappingTransformation(mapping),
                           rule_conditions=[logsource()]),
        ]
    items.append(ProcessingItem(identifier="verify_index", transformation=SetStateTransformation("index", VERIFY_INDEX),
                                rule_conditions=[LogsourceCondition(product="cowork_ecs", service="verify")]))
    vars_ = {k: v for k, v in config.items() if isinstance(v, list)}
    return ProcessingPipeline(name="cowork-ecs", priority=20, items=items, vars=vars_)
