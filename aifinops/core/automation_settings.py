"""The automation handlers' settings, shared by the components that deploy them and the handlers.

Settings travel as Lambda environment variables: one variable per field, `AIFINOPS_<FIELD>`.

The components that deploy a handler build its settings dataclass (which validates every field) and
write it out with `to_env`; the handler reads it back with `from_env`. One definition, both sides.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, TypeVar

from . import argument_checks as checks
from .tags import DEFAULT_REQUIRED_TAGS, TAG_VALUE, user_tag_key

ENV_PREFIX = "AIFINOPS_"
T = TypeVar("T")


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def to_env(settings: Any) -> dict[str, str]:
    """Every field that is not None, as strings; sequences and mappings as JSON."""
    env = {}
    for item in dataclasses.fields(settings):
        value = getattr(settings, item.name)
        if value is None:
            continue
        if isinstance(value, bool):
            env[env_name(item.name)] = "true" if value else "false"
        elif isinstance(value, (tuple, list, dict)):
            env[env_name(item.name)] = json.dumps(value, sort_keys=True)
        else:
            env[env_name(item.name)] = str(value)
    return env


def from_env(settings_class: type[T], environ: Mapping[str, str]) -> T:
    """Build `settings_class` from the variables present; absent ones keep their defaults."""
    hints = typing.get_type_hints(settings_class)
    values = {}
    for item in dataclasses.fields(settings_class):
        name = env_name(item.name)
        if name in environ:
            values[item.name] = _decode(hints[item.name], environ[name], name)
    return settings_class(**values)


def _decode(hint: Any, raw: str, name: str) -> Any:
    kinds = [a for a in typing.get_args(hint) if a is not type(None)] if typing.get_origin(hint) is typing.Union \
        else [hint]
    kind = kinds[0]
    origin = typing.get_origin(kind) or kind
    if kind is bool:
        if raw.strip().lower() not in ("true", "false"):
            raise ValueError(f"{name}: expected 'true' or 'false', got {raw!r}")
        return raw.strip().lower() == "true"
    if kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            raise ValueError(f"{name}: expected {'a whole number' if kind is int else 'a number'}, got {raw!r}") from None
    if origin in (tuple, dict):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{name}: expected JSON ({'a list' if origin is tuple else 'an object'}), got {raw!r}") \
                from None
        if origin is tuple:
            return tuple(value) if isinstance(value, list) else value
        if isinstance(value, dict):
            return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        return value
    return raw


# Tags and attributes the handlers read and write, and the components grant permissions on.
OPT_OUT_TAG = "aifinops:keep-running"  # never stopped
STOPPED_BY_TAG = "aifinops:stopped-by"
STOPPED_AT_TAG = "aifinops:stopped-at"
# Set on every summary we publish, so a handler subscribed to the same topic can ignore its own messages.
SOURCE_ATTRIBUTE = "aifinops-source"

NVIDIA_SMI_METRIC = ("CWAgent", "nvidia_smi_utilization_gpu")
DCGM_METRIC = ("CWAgent", "DCGM_FI_DEV_GPU_UTIL")


@dataclass(frozen=True)
class GpuMetric:
    namespace: str = NVIDIA_SMI_METRIC[0]
    name: str = NVIDIA_SMI_METRIC[1]
    instance_dimension: str = "InstanceId"



# -- the idle-GPU reaper ------------------------------------------------------------------------------
NOTIFY_CHOICES = ("changes", "always")
_NAME = re.compile(r"^[A-Za-z0-9_.:/@+=-]{1,255}$")


@dataclass
class ReaperSettings:
    """How the reaper decides; every default is what a deployment gets unless it says otherwise.

    - idle_threshold_percent: GPU utilisation below this counts as idle (default 5).
    - idle_minutes: how long it must stay below (default 60).
    - grace_minutes: instances (re)started less than this long ago are skipped (default 60).
    - period_seconds: metric period (default 300); min_coverage: share of periods that must have data
      (default 0.8), else the instance is reported for too little data.
    - opt_out_tag: instances carrying this tag key are never stopped (default `aifinops:keep-running`).
    - metric_namespace / metric_name / metric_instance_dimension: default the CloudWatch agent's
      nvidia_smi_utilization_gpu aggregated on InstanceId; use DCGM_FI_DEV_GPU_UTIL for DCGM.
    - summary_topic_arn: SNS topic for a summary (default none: log only); notify: 'changes' (default:
      only when something was stopped, would be, or failed) or 'always'.
    - dry_run: default True: decide and report, stop nothing.
    """

    idle_threshold_percent: float = 5.0
    idle_minutes: int = 60
    grace_minutes: int = 60
    period_seconds: int = 300
    min_coverage: float = 0.8
    opt_out_tag: str = OPT_OUT_TAG
    metric_namespace: str = GpuMetric.namespace
    metric_name: str = GpuMetric.name
    metric_instance_dimension: str = GpuMetric.instance_dimension
    summary_topic_arn: Optional[str] = None
    notify: str = "changes"
    dry_run: bool = True

    def __post_init__(self) -> None:
        self.idle_threshold_percent = checks.number_in_range(
            "idle_threshold_percent", self.idle_threshold_percent, 0, 100, low_inclusive=False)
        self.idle_minutes = checks.whole_number("idle_minutes", self.idle_minutes, 5, 7 * 24 * 60, "minutes")
        self.grace_minutes = checks.whole_number("grace_minutes", self.grace_minutes, 0, 7 * 24 * 60, "minutes")
        self.period_seconds = checks.whole_number("period_seconds", self.period_seconds, 60, 3600, "seconds")
        if self.period_seconds % 60:
            raise ValueError(f"period_seconds: expected a multiple of 60 (CloudWatch periods), got {self.period_seconds!r}")
        if self.period_seconds > self.idle_minutes * 60:
            raise ValueError(f"period_seconds: expected at most idle_minutes x 60 = {self.idle_minutes * 60}, "
                             f"got {self.period_seconds!r}")
        self.min_coverage = checks.number_in_range("min_coverage", self.min_coverage, 0, 1, low_inclusive=False)
        for name in ("opt_out_tag", "metric_namespace", "metric_name", "metric_instance_dimension"):
            checks.text(name, getattr(self, name), _NAME, "a tag key or CloudWatch name (1-255 characters, no spaces)")
        if self.summary_topic_arn is not None:
            checks.arn_in_region("summary_topic_arn", self.summary_topic_arn, "sns", None)
        checks.one_of("notify", self.notify, NOTIFY_CHOICES)
        checks.flag("dry_run", self.dry_run)

    @property
    def metric(self) -> GpuMetric:
        return GpuMetric(self.metric_namespace, self.metric_name, self.metric_instance_dimension)

    @property
    def expected_periods(self) -> int:
        return math.ceil(self.idle_minutes * 60 / self.period_seconds)


# -- the budget guard -----------------------------------------------------------------------------------
ALERT_TYPES = ("ACTUAL", "FORECASTED")


@dataclass
class GuardSettings:
    """What the guard acts on; every default is what a deployment gets unless it says otherwise.

    - cost_tags: tag key -> accepted values; a resource must match every key. Default empty: read them
      from the budget's own filter (TagKeyValue cost filters or a Tags filter expression); a budget with
      neither is refused, never taken to mean "everything in the account".
    - budget_names: act only on alerts of these budgets (default empty: any budget).
    - topic_arns: accept alerts only from these SNS topics (default empty: any).
    - alert_types: default ACTUAL only; add FORECASTED to stop on forecasts too.
    - min_threshold_percent: act only on alerts whose threshold is at least this share of the budget
      (default 100: the 50% and 80% early warnings a budget also sends stop nothing). An alert that does
      not state its threshold is acted on only when this is 0.
    - summary_topic_arn: where the summary goes (default: the topic the alert came from; the summary
      carries an attribute that the guard, and its subscription's filter policy, ignore).
    - opt_out_tag: never stopped (default `aifinops:keep-running`).
    - stop_instances / stop_training_jobs: which kinds to stop (default both).
    - dry_run: default True: find and report, stop nothing.
    """

    cost_tags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    budget_names: tuple[str, ...] = ()
    topic_arns: tuple[str, ...] = ()
    alert_types: tuple[str, ...] = ("ACTUAL",)
    min_threshold_percent: float = 100.0
    summary_topic_arn: Optional[str] = None
    opt_out_tag: str = OPT_OUT_TAG
    stop_instances: bool = True
    stop_training_jobs: bool = True
    dry_run: bool = True

    def __post_init__(self) -> None:
        self.cost_tags = validate_tag_filter("cost_tags", self.cost_tags)
        self.budget_names = tuple(checks.string_list("budget_names", list(self.budget_names)))
        self.topic_arns = tuple(checks.string_list("topic_arns", list(self.topic_arns)))
        for index, arn in enumerate(self.topic_arns):
            checks.arn_in_region(f"topic_arns[{index}]", arn, "sns", None)
        self.alert_types = tuple(checks.string_list("alert_types", list(self.alert_types), min_items=1))
        for alert_type in self.alert_types:
            checks.one_of("alert_types", alert_type, ALERT_TYPES)
        self.min_threshold_percent = checks.number_in_range("min_threshold_percent", self.min_threshold_percent, 0, 1000)
        if self.summary_topic_arn is not None:
            checks.arn_in_region("summary_topic_arn", self.summary_topic_arn, "sns", None)
        checks.text("opt_out_tag", self.opt_out_tag)
        for name in ("stop_instances", "stop_training_jobs", "dry_run"):
            checks.flag(name, getattr(self, name))


def validate_tag_filter(argument: str, value: Any) -> dict[str, tuple[str, ...]]:
    """{key: value or [values]} -> {key: (values,)}; keys and values non-empty strings."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{argument}: expected a mapping of tag keys to a value or a list of values, got {value!r}")
    result = {}
    for key, values in value.items():
        listed = [values] if isinstance(values, str) else values
        if not isinstance(key, str) or not key:
            raise ValueError(f"{argument}: expected non-empty tag keys, got {key!r}")
        result[key] = tuple(checks.string_list(f"{argument}.{key}", listed, min_items=1))
    return result


# -- the DDoS cost response ---------------------------------------------------------------------------
NON_ESSENTIAL_TAG = "aifinops:non-essential"
# Where the response keeps what it changed, on the resource itself: restoring needs nothing else.
PREVIOUS_CAPACITY_TAG = "aifinops:ddos-previous-capacity"
DDOS_NAMESPACE = "AWS/DDoSProtection"
DDOS_DETECTED_METRIC = "DDoSDetected"
_EVENT_BUS = re.compile(r"^(arn:aws[\w-]*:events:[\w-]+:\d{12}:event-bus/)?[A-Za-z0-9._/-]{1,256}$")


@dataclass
class DdosResponseSettings:
    """What the DDoS cost response scales down while Shield reports an attack; every default is what a
    deployment gets unless it says otherwise.

    - non_essential_tag / non_essential_value: only resources tagged so are scaled down (default
      `aifinops:non-essential` = `true`); nothing untagged is ever touched.
    - alarm_names: act only on these DDoSDetected alarms (default empty: any alarm on
      AWS/DDoSProtection DDoSDetected). When set, an OK restores only once none of them is still in ALARM.
    - scale_auto_scaling_groups / scale_sagemaker_endpoints: which kinds to scale (default both).
    - kubernetes_event_bus: the Kubernetes hook: an EventBridge bus (name or ARN) that receives one
      `aifinops DDoS scale-down` / `aifinops DDoS restore` event per alarm, for a controller in the
      cluster to act on. Default None: no event.
    - summary_topic_arn: SNS topic for a summary of each run that changed something (default none: log only).
    - dry_run: default True: decide and report, change nothing.
    """

    non_essential_tag: str = NON_ESSENTIAL_TAG
    non_essential_value: str = "true"
    alarm_names: tuple[str, ...] = ()
    scale_auto_scaling_groups: bool = True
    scale_sagemaker_endpoints: bool = True
    kubernetes_event_bus: Optional[str] = None
    summary_topic_arn: Optional[str] = None
    dry_run: bool = True

    def __post_init__(self) -> None:
        checks.text("non_essential_tag", self.non_essential_tag, _NAME, "a tag key (1-255 characters, no spaces)")
        checks.text("non_essential_value", self.non_essential_value)
        self.alarm_names = tuple(checks.string_list("alarm_names", self.alarm_names))
        for name in ("scale_auto_scaling_groups", "scale_sagemaker_endpoints", "dry_run"):
            checks.flag(name, getattr(self, name))
        if self.kubernetes_event_bus is not None:
            checks.text("kubernetes_event_bus", self.kubernetes_event_bus, _EVENT_BUS,
                        "an EventBridge bus name or ARN such as 'default'")
        if self.summary_topic_arn is not None:
            checks.arn_in_region("summary_topic_arn", self.summary_topic_arn, "sns", None)


# -- auto-tagging at launch -----------------------------------------------------------------------------
TAGGED_BY_TAG = "aifinops:tagged-by"
# The CloudTrail management events the auto-tagger handles: (event source, event name) -> what it tags.
# The component subscribes to exactly these; the handler ignores (and counts) anything else.
AUTO_TAGGED_EVENTS: dict[tuple[str, str], str] = {
    ("ec2.amazonaws.com", "RunInstances"): "EC2 instances and their EBS volumes",
    ("ec2.amazonaws.com", "CreateVolume"): "an EBS volume",
    ("s3.amazonaws.com", "CreateBucket"): "an S3 bucket",
    ("sagemaker.amazonaws.com", "CreateTrainingJob"): "a SageMaker training job",
    ("sagemaker.amazonaws.com", "CreateEndpoint"): "a SageMaker endpoint",
    ("sagemaker.amazonaws.com", "CreateNotebookInstance"): "a SageMaker notebook instance",
    ("elasticfilesystem.amazonaws.com", "CreateFileSystem"): "an EFS file system",
}
MAPPING_KEY_ATTRIBUTE = "principal"  # the mapping table's partition key
MAPPING_TAGS_ATTRIBUTE = "tags"  # a map of tag key -> value
TEAM_PREFIX = "team:"  # mapping items keyed by a team tag value: "team:<value>"
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@dataclass
class AutoTaggingSettings:
    """What the auto-tagger writes; every default is what a deployment gets unless it says otherwise.

    - tag_keys: the keys it fills in: default the required cost tags (CostCenter, Project, Environment).
      It writes only these, the keys of default_tags and `aifinops:tagged-by` (its role may write no
      other); mapping entries for other keys are ignored.
    - default_tags: key -> value for a creator the mapping does not know, and for keys its entry lacks
      (default none: such a resource is reported, not tagged).
    - mapping_table: DynamoDB table of creators -> tags (default none: defaults only). Items are keyed by
      `principal`: the caller's ARN, its role's ARN, or `team:<value>` of the caller's team tag; the first
      found wins. Each item has a map attribute `tags`.
    - team_tag: the IAM user's or role's tag that names its team (default `Team`).
    - dry_run: default True: decide and log, tag nothing.
    """

    tag_keys: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    default_tags: dict[str, str] = field(default_factory=dict)
    mapping_table: Optional[str] = None
    team_tag: str = "Team"
    dry_run: bool = True

    def __post_init__(self) -> None:
        self.tag_keys = tuple(checks.string_list("tag_keys", list(self.tag_keys), min_items=1))
        for key in (*self.tag_keys, self.team_tag):
            if not user_tag_key(key):
                raise ValueError(f"tag_keys: expected tag keys of 1-128 letters, digits, spaces and _.:/=+-@, not "
                                 f"starting with aws:, got {key!r}")
        if TAGGED_BY_TAG in self.tag_keys:
            raise ValueError(f"tag_keys: {TAGGED_BY_TAG} is written by the handler itself; got it in {self.tag_keys!r}")
        if not isinstance(self.default_tags, Mapping):
            raise ValueError(f"default_tags: expected a mapping of tag keys to values, got {self.default_tags!r}")
        for key, value in self.default_tags.items():
            if not user_tag_key(key) or key == TAGGED_BY_TAG:
                raise ValueError(f"default_tags: expected tag keys of 1-128 letters, digits, spaces and _.:/=+-@, not "
                                 f"starting with aws: and not {TAGGED_BY_TAG}, got {key!r}")
            if not isinstance(value, str) or not value.strip() or not TAG_VALUE.match(value):
                raise ValueError(f"default_tags.{key}: expected a non-empty tag value of up to 256 letters, digits, "
                                 f"spaces and _.:/=+-@, got {value!r}")
        self.default_tags = dict(self.default_tags)
        if self.mapping_table is not None:
            checks.text("mapping_table", self.mapping_table, _TABLE, "a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)")
        checks.text("team_tag", self.team_tag)
        checks.flag("dry_run", self.dry_run)

    @property
    def writable_keys(self) -> tuple[str, ...]:
        """The keys it may write, in order: tag_keys, then any other key the defaults give."""
        return tuple(dict.fromkeys([*self.tag_keys, *self.default_tags]))
