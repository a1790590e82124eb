"""S3 lifecycle rules: what S3 accepts, and what a rule costs over an object's life.

Pure Python, no Pulumi: TieredBucket validates its rules here, and the cost estimator models a
bucket's steady-state storage with the same functions.

- `Transition`, `LifecycleRule`: a rule for current objects under a key prefix.
- `DEFAULT_TIERS`, `PRESETS`, `preset_rules(names, checkpoint_retention_days)`: ready-made rules.
- `validate_rules(rules, argument, reserved_ids)`: raises ValueError for anything S3 would reject.
- `object_path(rule, arrival_class)`: the storage classes an object passes through as it ages (`Stay`s).
- `rules_for_arrival(rules, arrival_class)`: the rules as they act on copies arriving colder (replicas).
- `rules_from_inputs(raw)`: LifecycleRules read back from a recorded BucketLifecycleConfiguration.
- `path_cost(stays, objects_per_gb, horizon_day)`: USD per GB written, over its life (`PathCost`).
- `monthly_cost(rule, monthly_ingest_gb, average_object_mb, months, arrival_class)`: the bucket's monthly
  bill once `months` of data (or the whole life of expiring data) are stored (`StorageEstimate`).
- `cost_warnings(rules, monthly_ingest_gb, average_object_mb, arrival_class, label)`: legal rules that cost
  more than they save (`CostWarning`s, each naming the rule and the extra USD a month).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Sequence

from .argument_checks import one_of, whole_number

DATA_FILE = Path(__file__).parent / "data" / "s3_storage_prices.json"
STANDARD = "STANDARD"
IA_CLASSES = ("STANDARD_IA", "ONEZONE_IA")
# S3's waterfall: the classes lifecycle can move an object to from each class.
ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    STANDARD: ("STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"),
    "STANDARD_IA": ("INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"),
    "INTELLIGENT_TIERING": ("ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"),
    "ONEZONE_IA": ("GLACIER", "DEEP_ARCHIVE"),
    "GLACIER_IR": ("GLACIER", "DEEP_ARCHIVE"),
    "GLACIER": ("DEEP_ARCHIVE",),
    "DEEP_ARCHIVE": (),
}
TRANSITION_TARGETS = ALLOWED_TRANSITIONS[STANDARD]
# S3 rejects a transition to an IA class before day 30, and a next transition less than 30 days later.
IA_MINIMUM_DAYS = 30
MAX_RULES = 1000  # per bucket lifecycle configuration
MAX_PREFIX_LENGTH = 1024  # an S3 key's maximum length
MAX_RULE_ID_LENGTH = 255
CHECKPOINT_PREFIX = "checkpoints/"
MODEL_ARTIFACT_PREFIX = "models/"
MODEL_ARTIFACTS_HOT_DAYS = 60
COMPARISON_DAYS = 365  # how long a transition with no end is given to pay for itself
MB_PER_GB = 1024


@dataclass
class Transition:
    """Move current objects to `storage_class` `days` after they were written."""

    days: int
    storage_class: str


def default_tiers() -> list[Transition]:
    """The usual path for training data: STANDARD_IA at 30 days, GLACIER_IR at 90, DEEP_ARCHIVE at 365."""
    return [Transition(30, "STANDARD_IA"), Transition(90, "GLACIER_IR"), Transition(365, "DEEP_ARCHIVE")]


DEFAULT_TIERS = tuple(default_tiers())


@dataclass
class LifecycleRule:
    """A lifecycle rule for current objects whose keys start with `prefix` ("" = the whole bucket).

    transitions: default, the training-data path (`default_tiers()`); give [] for a rule that only expires.
    expiration_days: default None, objects are kept; else they are deleted (a delete marker in a versioned
    bucket: the bucket's noncurrent-version expiry then removes the data).
    """

    id: str
    prefix: str = ""
    transitions: list[Transition] = field(default_factory=default_tiers)
    expiration_days: Optional[int] = None


def _training_data(_: int) -> LifecycleRule:
    return LifecycleRule("training-data")


def _intelligent_tiering(_: int) -> LifecycleRule:
    return LifecycleRule("intelligent-tiering", transitions=[Transition(0, "INTELLIGENT_TIERING")])


def _checkpoints(retention_days: int) -> LifecycleRule:
    # Checkpoints stay in STANDARD (a spot restart reads the latest one at once) and expire when old.
    return LifecycleRule("checkpoints", prefix=CHECKPOINT_PREFIX, transitions=[], expiration_days=retention_days)


def _model_artifacts(_: int) -> LifecycleRule:
    # S3 lifecycle acts on age, not on version numbers: with a release every month or so, the latest two
    # versions are under 60 days old and stay in STANDARD; older ones move to GLACIER_IR, which still
    # serves them in milliseconds for a rollback (at a retrieval fee), and nothing is ever deleted.
    return LifecycleRule("model-artifacts", prefix=MODEL_ARTIFACT_PREFIX,
                         transitions=[Transition(MODEL_ARTIFACTS_HOT_DAYS, "GLACIER_IR")])


PRESETS = {"training-data": _training_data, "intelligent-tiering": _intelligent_tiering, "checkpoints": _checkpoints,
           "model-artifacts": _model_artifacts}


def preset_rules(names: Any, checkpoint_retention_days: int, argument: str = "presets") -> list[LifecycleRule]:
    """The rules of the named presets, in order."""
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ValueError(f"{argument}: expected a list of preset names ({', '.join(PRESETS)}), got {names!r}")
    rules = []
    for index, name in enumerate(names):
        one_of(f"{argument}[{index}]", name, PRESETS)
        if name in names[:index]:
            raise ValueError(f"{argument}[{index}]: preset {name!r} is listed twice")
        rules.append(PRESETS[name](checkpoint_retention_days))
    return rules


# -- prices -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StorageClass:
    name: str
    usd_per_gb_month: float
    minimum_days: int
    transition_usd_per_1000: float  # lifecycle transition requests into this class
    usd_per_gb_month_by_days_idle: tuple[tuple[int, float], ...]  # one tier, except Intelligent-Tiering
    monitoring_usd_per_1000_objects_month: float = 0.0

    def storage_usd_per_gb(self, days: float) -> float:
        """What one GB costs to keep here for `days` (Intelligent-Tiering steps down as data stays idle)."""
        tiers = self.usd_per_gb_month_by_days_idle
        total = 0.0
        for index, (start, price) in enumerate(tiers):
            end = tiers[index + 1][0] if index + 1 < len(tiers) else math.inf
            total += max(0.0, min(days, end) - start) * price / days_per_month()
        return total


@lru_cache(maxsize=1)
def _price_data() -> dict[str, Any]:
    return json.loads(DATA_FILE.read_text())


def days_per_month() -> int:
    return int(_price_data()["daysPerMonth"])


def price_source() -> tuple[str, str, str]:
    """(source, as-of, region) of the storage price table."""
    data = _price_data()
    return data["source"], data["asOf"], data["region"]


@lru_cache(maxsize=1)
def storage_classes() -> dict[str, StorageClass]:
    classes = {}
    for name, raw in _price_data()["storageClasses"].items():
        tiers = tuple((int(d), float(p)) for d, p in raw.get("usdPerGbMonthByDaysIdle", [[0, raw["usdPerGbMonth"]]]))
        classes[name] = StorageClass(name, float(raw["usdPerGbMonth"]), int(raw["minimumDays"]),
                                     float(raw["transitionUsdPer1000"]), tiers,
                                     float(raw.get("monitoringUsdPer1000ObjectsMonth", 0.0)))
    return classes


# -- validation: what S3 would reject ----------------------------------------------------------------

def validate_rules(rules: Any, argument: str = "rules", reserved_ids: Sequence[str] = ()) -> list[LifecycleRule]:
    """Check rules against S3's lifecycle rules; the first problem raises ValueError naming the rule."""
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence):
        raise ValueError(f"{argument}: expected a list of LifecycleRule, got {rules!r}")
    if len(rules) + len(reserved_ids) > MAX_RULES:
        raise ValueError(f"{argument}: S3 allows at most {MAX_RULES} lifecycle rules per bucket "
                         f"({len(reserved_ids)} taken by the component), got {len(rules)}")
    seen: dict[str, str] = {rule_id: "the component" for rule_id in reserved_ids}
    for index, rule in enumerate(rules):
        where = f"{argument}[{index}]"
        if not isinstance(rule, LifecycleRule):
            raise ValueError(f"{where}: expected a LifecycleRule, got {rule!r}")
        if not isinstance(rule.id, str) or not rule.id.strip() or len(rule.id) > MAX_RULE_ID_LENGTH:
            raise ValueError(f"{where}.id: expected a rule name of 1 to {MAX_RULE_ID_LENGTH} characters, "
                             f"got {rule.id!r}")
        if rule.id in seen:
            raise ValueError(f"{where}.id: rule ids must be unique; {rule.id!r} is already used by {seen[rule.id]}")
        seen[rule.id] = where
        _validate_rule(rule, where)
    return list(rules)


def _validate_rule(rule: LifecycleRule, where: str) -> None:
    if not isinstance(rule.prefix, str) or len(rule.prefix) > MAX_PREFIX_LENGTH:
        raise ValueError(f"{where}.prefix: expected a key prefix of at most {MAX_PREFIX_LENGTH} characters "
                         f"('' for the whole bucket), got {rule.prefix!r}")
    transitions = rule.transitions
    if isinstance(transitions, (str, bytes)) or not isinstance(transitions, Sequence):
        raise ValueError(f"{where}.transitions: expected a list of Transition, got {transitions!r}")
    current, last_day = STANDARD, None
    for index, transition in enumerate(transitions):
        at = f"{where}.transitions[{index}]"
        if not isinstance(transition, Transition):
            raise ValueError(f"{at}: expected a Transition(days, storage_class), got {transition!r}")
        if transition.storage_class == STANDARD:
            raise ValueError(f"{at}.storage_class: S3 cannot transition objects to STANDARD; expected one of "
                             f"{', '.join(TRANSITION_TARGETS)}")
        one_of(f"{at}.storage_class", transition.storage_class, TRANSITION_TARGETS)
        days = whole_number(f"{at}.days", transition.days, 0, unit="days")
        target = transition.storage_class
        if target in IA_CLASSES and days < IA_MINIMUM_DAYS:
            raise ValueError(f"{at}.days: S3 moves objects to {target} only after {IA_MINIMUM_DAYS} days, got {days}")
        if last_day is not None and days <= last_day:
            raise ValueError(f"{at}.days: transitions must move down the tiers in time order; got day {days} "
                             f"for {target} after day {last_day} for {current}")
        if target not in ALLOWED_TRANSITIONS[current]:
            allowed = ", ".join(ALLOWED_TRANSITIONS[current]) or "nothing"
            raise ValueError(f"{at}.storage_class: S3 cannot move objects from {current} to {target}; from "
                             f"{current} it can move them to {allowed}")
        if current in IA_CLASSES and last_day is not None and days < last_day + IA_MINIMUM_DAYS:
            raise ValueError(f"{at}.days: objects must stay {IA_MINIMUM_DAYS} days in {current} before S3 moves "
                             f"them on; got day {days} after {current} at day {last_day} (expected "
                             f"{last_day + IA_MINIMUM_DAYS} or later)")
        current, last_day = target, days
    if rule.expiration_days is not None:
        expiry = whole_number(f"{where}.expiration_days", rule.expiration_days, 1, unit="days")
        if last_day is not None and expiry <= last_day:
            raise ValueError(f"{where}.expiration_days: S3 requires expiration after the last transition "
                             f"({current} at day {last_day}), got {expiry}")
    elif not transitions:
        raise ValueError(f"{where}: expected at least one transition or an expiration_days; a rule with "
                         f"neither does nothing")


# -- the cost model ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stay:
    """Objects of one rule sit in `storage_class` from `start_day` to `end_day` (None: for good)."""

    storage_class: str
    start_day: int
    end_day: Optional[int]
    left_by: str  # "transition", "expiration" or "nothing" (kept)


def object_path(rule: LifecycleRule, arrival_class: str = STANDARD) -> tuple[Stay, ...]:
    """Where an object under the rule lives as it ages (rule already validated)."""
    classes = [arrival_class] + [t.storage_class for t in rule.transitions]
    starts = [0] + [int(t.days) for t in rule.transitions]
    stays = []
    for index, (storage_class, start) in enumerate(zip(classes, starts)):
        if index + 1 < len(starts):
            end, left_by = starts[index + 1], "transition"
        elif rule.expiration_days is not None:
            end, left_by = int(rule.expiration_days), "expiration"
        else:
            end, left_by = None, "nothing"
        if end is None or end > start:
            stays.append(Stay(storage_class, start, end, left_by))
    return tuple(stays)


@dataclass(frozen=True)
class PathCost:
    """USD per GB written, over the object's life (or up to a horizon)."""

    storage: float = 0.0
    early_deletion: float = 0.0  # minimum-duration charges for days not stored
    transitions: float = 0.0  # lifecycle transition requests
    monitoring: float = 0.0  # Intelligent-Tiering's per-object fee

    @property
    def total(self) -> float:
        return self.storage + self.early_deletion + self.transitions + self.monitoring


def objects_per_gb(average_object_mb: float) -> float:
    return MB_PER_GB / average_object_mb


def early_deletion_days(stay: Stay) -> int:
    """Days of the class's minimum duration that S3 bills although the object left."""
    if stay.end_day is None or stay.left_by == "nothing":
        return 0
    return max(0, storage_classes()[stay.storage_class].minimum_days - (stay.end_day - stay.start_day))


def path_cost(stays: Sequence[Stay], objects_per_gb: float, horizon_day: float) -> PathCost:
    """The cost of one GB that follows `stays`, counting only what happens before `horizon_day`."""
    classes = storage_classes()
    storage = early = requests = monitoring = 0.0
    for stay in stays:
        if stay.start_day >= horizon_day:
            break
        storage_class = classes[stay.storage_class]
        end = horizon_day if stay.end_day is None else min(stay.end_day, horizon_day)
        days = end - stay.start_day
        storage += storage_class.storage_usd_per_gb(days)
        monthly_fee = objects_per_gb * storage_class.monitoring_usd_per_1000_objects_month / 1000
        monitoring += monthly_fee * days / days_per_month()
        if stay.start_day > 0 or stay.storage_class != STANDARD:
            requests += objects_per_gb * storage_class.transition_usd_per_1000 / 1000
        if stay.end_day is not None and stay.end_day <= horizon_day:
            early += early_deletion_days(stay) * storage_class.usd_per_gb_month / days_per_month()
    return PathCost(storage, early, requests, monitoring)


def rules_for_arrival(rules: Sequence[LifecycleRule], arrival_class: str) -> list[LifecycleRule]:
    """The rules as they apply to copies that arrive in `arrival_class` (a replica, say): transitions S3
    cannot make from there are dropped, and so are rules left with nothing to do."""
    adapted = []
    for rule in rules:
        current, kept = arrival_class, []
        for transition in rule.transitions:
            if transition.storage_class in ALLOWED_TRANSITIONS[current]:
                kept.append(transition)
                current = transition.storage_class
        if kept or rule.expiration_days is not None:
            adapted.append(LifecycleRule(rule.id, rule.prefix, kept, rule.expiration_days))
    return adapted


def rules_from_inputs(raw_rules: Any) -> list[LifecycleRule]:
    """LifecycleRules read back from a BucketLifecycleConfiguration's recorded inputs (wire names).

    Only enabled, day-based rules on current objects are kept (what the cost model prices); a rule
    filtered by tag or size is read by its prefix alone. The deprecated inline `aws.s3.Bucket`
    `lifecycleRules` (`enabled`, `prefix`) read the same way.
    """
    rules = []
    for index, raw in enumerate(raw_rules if isinstance(raw_rules, list) else []):
        if not isinstance(raw, dict) or not (raw.get("status") == "Enabled" or raw.get("enabled") is True):
            continue
        transitions = [Transition(int(t["days"]), t["storageClass"]) for t in raw.get("transitions") or []
                       if isinstance(t, dict) and isinstance(t.get("days"), (int, float)) and t.get("storageClass")]
        expiration = (raw.get("expiration") or {}).get("days") if isinstance(raw.get("expiration"), dict) else None
        if not transitions and not isinstance(expiration, (int, float)):
            continue
        filter_ = raw.get("filter") if isinstance(raw.get("filter"), dict) else {}
        prefix = filter_.get("prefix") or (filter_.get("and") or {}).get("prefix") or raw.get("prefix") or ""
        rules.append(LifecycleRule(str(raw.get("id") or f"rule-{index}"), prefix if isinstance(prefix, str) else "",
                                   transitions, int(expiration) if isinstance(expiration, (int, float)) else None))
    return rules


@dataclass(frozen=True)
class StorageEstimate:
    """A bucket's monthly bill for one rule's data, at a steady ingest rate."""

    gb_by_class: dict[str, float]
    storage_usd: float
    transition_usd: float
    early_deletion_usd: float
    monitoring_usd: float

    @property
    def total_usd(self) -> float:
        return self.storage_usd + self.transition_usd + self.early_deletion_usd + self.monitoring_usd


def monthly_cost(rule: LifecycleRule, monthly_ingest_gb: float, average_object_mb: float,
                 months: int = 12, arrival_class: str = STANDARD) -> StorageEstimate:
    """The monthly bill after `months` of writing `monthly_ingest_gb` a month under `rule`.

    Data that expires reaches a steady state once the oldest object expires; data kept for good grows,
    so the bill is the one of month `months`. Stored GB per class = ingest x days spent there / 30.
    """
    stays = object_path(rule, arrival_class)
    horizon = months * days_per_month()
    if rule.expiration_days is not None:
        horizon = min(horizon, int(rule.expiration_days))
    per_gb = path_cost(stays, objects_per_gb(average_object_mb), horizon)
    gb_by_class: dict[str, float] = {}
    for stay in stays:
        if stay.start_day >= horizon:
            break
        end = horizon if stay.end_day is None else min(stay.end_day, horizon)
        gb_by_class[stay.storage_class] = monthly_ingest_gb * (end - stay.start_day) / days_per_month()
    return StorageEstimate(gb_by_class, monthly_ingest_gb * per_gb.storage, monthly_ingest_gb * per_gb.transitions,
                           monthly_ingest_gb * per_gb.early_deletion, monthly_ingest_gb * per_gb.monitoring)


# -- cost warnings: legal, but costs more than it saves -------------------------------------------------

@dataclass(frozen=True)
class CostWarning:
    rule_id: str
    extra_usd_per_month: float
    message: str


def cost_warnings(rules: Sequence[LifecycleRule], monthly_ingest_gb: float, average_object_mb: float,
                  arrival_class: str = STANDARD, label: str = "lifecycle rule") -> list[CostWarning]:
    """Transitions that cost more than they save, and expirations that pay for days not stored.

    Each transition is priced against the same rule without it, over the object's life (or a year after
    the transition when objects are kept for good); the difference per GB x the monthly ingest is the
    extra cost a month once the bucket is in steady state.
    """
    per_gb_objects = objects_per_gb(average_object_mb)
    volume = f"at {monthly_ingest_gb:,.0f} GB written a month in {average_object_mb:g} MB objects"
    warnings = []
    for rule in rules:
        stays = object_path(rule, arrival_class)
        last_day = max([t.days for t in rule.transitions], default=0)
        horizon = rule.expiration_days if rule.expiration_days is not None else last_day + COMPARISON_DAYS
        with_all = path_cost(stays, per_gb_objects, horizon).total
        warned_last = False
        for index, transition in enumerate(rule.transitions):
            without = LifecycleRule(rule.id, rule.prefix, [t for i, t in enumerate(rule.transitions) if i != index],
                                    rule.expiration_days)
            without_cost = path_cost(object_path(without, arrival_class), per_gb_objects, horizon).total
            extra = (with_all - without_cost) * monthly_ingest_gb
            if round(extra, 2) <= 0:
                continue
            stay = next(s for s in stays
                        if s.start_day == transition.days and s.storage_class == transition.storage_class)
            warned_last = warned_last or index == len(rule.transitions) - 1
            warnings.append(CostWarning(rule.id, extra, (
                f"{label} '{rule.id}': moving objects to {transition.storage_class} at day {transition.days} "
                f"costs ${extra:,.2f} a month more than it saves ({volume}): {_why(stay, per_gb_objects)}")))
        if stays and stays[-1].left_by == "expiration" and not warned_last:
            final = stays[-1]
            short = early_deletion_days(final)
            if short:
                fee = short * storage_classes()[final.storage_class].usd_per_gb_month / days_per_month()
                extra = fee * monthly_ingest_gb
                minimum = storage_classes()[final.storage_class].minimum_days
                warnings.append(CostWarning(rule.id, extra, (
                    f"{label} '{rule.id}': expiring objects at day {final.end_day} adds an early-deletion "
                    f"fee of ${extra:,.2f} a month ({volume}): they spend {final.end_day - final.start_day} of "
                    f"{final.storage_class}'s {minimum} minimum days there and S3 bills the other {short}. "
                    f"Expire at day {final.start_day + minimum} or later for the same price, or transition later")))
    return warnings


def _why(stay: Stay, per_gb_objects: float) -> str:
    """Why a transition into `stay` does not pay, and what to change."""
    storage_class = storage_classes()[stay.storage_class]
    short = early_deletion_days(stay)
    if short:
        next_step = "expiring" if stay.left_by == "expiration" else "moving on"
        keep_until = stay.start_day + storage_class.minimum_days
        return (f"objects spend {stay.end_day - stay.start_day} of {stay.storage_class}'s "
                f"{storage_class.minimum_days} minimum days there before {next_step} at day {stay.end_day}, and S3 "
                f"bills the other {short} days as an early-deletion fee. Keep them there until day {keep_until} "
                f"or later, or drop the transition")
    stayed = f"{stay.end_day - stay.start_day} days" if stay.end_day is not None else f"{COMPARISON_DAYS} days"
    return (f"the transition requests (${storage_class.transition_usd_per_1000:g} per 1,000 objects, "
            f"{per_gb_objects:,.0f} objects per GB) and {stay.storage_class}'s prices outweigh what {stayed} there "
            f"save. Drop the transition, or store fewer, larger objects (requests are billed per object)")
