"""The S3 lifecycle model: S3's rules, presets, the cost of a path, and the cost warnings."""
from __future__ import annotations

import pytest

from aifinops.core import lifecycle
from aifinops.core.lifecycle import LifecycleRule, Transition

PRICES = lifecycle.storage_classes()
MONTH = lifecycle.days_per_month()


def price(storage_class: str) -> float:
    return PRICES[storage_class].usd_per_gb_month


def test_price_table_matches_the_checked_facts_and_names_its_source():
    # shared/FACTS.md: per GB-month and minimum durations, us-east-1.
    assert {name: (c.usd_per_gb_month, c.minimum_days) for name, c in PRICES.items() if name != "INTELLIGENT_TIERING"} == {
        "STANDARD": (0.023, 0), "STANDARD_IA": (0.0125, 30), "ONEZONE_IA": (0.01, 30), "GLACIER_IR": (0.004, 90),
        "GLACIER": (0.0036, 90), "DEEP_ARCHIVE": (0.00099, 180)}
    source, as_of, region = lifecycle.price_source()
    assert "pricing" in source and as_of and region == "us-east-1"


def test_default_rule_follows_the_training_data_path_and_raises_no_warning():
    rule = LifecycleRule("data")
    assert [(s.storage_class, s.start_day, s.end_day) for s in lifecycle.object_path(rule)] == [
        ("STANDARD", 0, 30), ("STANDARD_IA", 30, 90), ("GLACIER_IR", 90, 365), ("DEEP_ARCHIVE", 365, None)]
    assert lifecycle.validate_rules([rule]) == [rule]
    assert lifecycle.cost_warnings([rule], 1000, 64) == []


@pytest.mark.parametrize("rule, message", [
    (LifecycleRule("r", transitions=[Transition(29, "STANDARD_IA")]),
     r"rules\[0\].transitions\[0\].days: S3 moves objects to STANDARD_IA only after 30 days, got 29"),
    (LifecycleRule("r", transitions=[Transition(10, "ONEZONE_IA")]), "ONEZONE_IA only after 30 days, got 10"),
    (LifecycleRule("r", transitions=[Transition(30, "STANDARD")]), "S3 cannot transition objects to STANDARD"),
    (LifecycleRule("r", transitions=[Transition(30, "REDUCED_REDUNDANCY")]),
     r"storage_class: expected one of 'STANDARD_IA'.*got 'REDUCED_REDUNDANCY'"),
    (LifecycleRule("r", transitions=[Transition(-1, "GLACIER")]), "days: expected a whole number of at least 0 days, got -1"),
    (LifecycleRule("r", transitions=[Transition(1.5, "GLACIER")]), "got 1.5"),
    (LifecycleRule("r", transitions=[Transition(True, "GLACIER")]), "got True"),
    (LifecycleRule("r", transitions=[Transition(90, "GLACIER_IR"), Transition(30, "STANDARD_IA")]),
     r"transitions\[1\].days: transitions must move down the tiers in time order; got day 30 for STANDARD_IA "
     r"after day 90 for GLACIER_IR"),
    (LifecycleRule("r", transitions=[Transition(90, "GLACIER_IR"), Transition(90, "DEEP_ARCHIVE")]), "time order"),
    (LifecycleRule("r", transitions=[Transition(0, "GLACIER"), Transition(60, "GLACIER_IR")]),
     r"transitions\[1\].storage_class: S3 cannot move objects from GLACIER to GLACIER_IR; from GLACIER it can "
     r"move them to DEEP_ARCHIVE"),
    (LifecycleRule("r", transitions=[Transition(30, "ONEZONE_IA"), Transition(60, "GLACIER_IR")]),
     "cannot move objects from ONEZONE_IA to GLACIER_IR"),
    (LifecycleRule("r", transitions=[Transition(0, "INTELLIGENT_TIERING"), Transition(30, "STANDARD_IA")]),
     "cannot move objects from INTELLIGENT_TIERING to STANDARD_IA"),
    (LifecycleRule("r", transitions=[Transition(30, "STANDARD_IA"), Transition(45, "GLACIER")]),
     r"transitions\[1\].days: objects must stay 30 days in STANDARD_IA before S3 moves them on; got day 45 after "
     r"STANDARD_IA at day 30 \(expected 60 or later\)"),
    (LifecycleRule("r", transitions=[Transition(90, "GLACIER")], expiration_days=90),
     r"expiration_days: S3 requires expiration after the last transition \(GLACIER at day 90\), got 90"),
    (LifecycleRule("r", transitions=[], expiration_days=0), "expiration_days: expected a whole number of at least 1"),
    (LifecycleRule("r", transitions=[]), r"rules\[0\]: expected at least one transition or an expiration_days"),
    (LifecycleRule("", transitions=[], expiration_days=5), r"rules\[0\].id: expected a rule name of 1 to 255"),
    (LifecycleRule("x" * 256, transitions=[], expiration_days=5), "rule name of 1 to 255 characters"),
    (LifecycleRule("r", prefix="k" * 1025, transitions=[], expiration_days=5), "prefix: expected a key prefix of at most 1024"),
    (LifecycleRule("r", prefix=None, transitions=[], expiration_days=5), "prefix: expected a key prefix"),
    (LifecycleRule("r", transitions="GLACIER"), "transitions: expected a list of Transition, got 'GLACIER'"),
    (LifecycleRule("r", transitions=[{"days": 30, "storage_class": "GLACIER"}]),
     r"transitions\[0\]: expected a Transition\(days, storage_class\)"),
])
def test_rules_s3_would_reject_are_errors_naming_the_rule_and_value(rule, message):
    with pytest.raises(ValueError, match=message):
        lifecycle.validate_rules([rule])


def test_rule_ids_must_be_unique_and_not_reserved():
    rule = LifecycleRule("tmp", prefix="tmp/", transitions=[], expiration_days=7)
    with pytest.raises(ValueError, match=r"rules\[1\].id: rule ids must be unique; 'tmp' is already used by rules\[0\]"):
        lifecycle.validate_rules([rule, rule])
    with pytest.raises(ValueError, match="'tmp' is already used by the component"):
        lifecycle.validate_rules([rule], reserved_ids=("tmp",))
    with pytest.raises(ValueError, match=r"rules\[0\]: expected a LifecycleRule"):
        lifecycle.validate_rules([{"id": "x"}])
    with pytest.raises(ValueError, match="at most 1000 lifecycle rules"):
        lifecycle.validate_rules([LifecycleRule(f"r{i}", transitions=[], expiration_days=9) for i in range(1000)],
                                 reserved_ids=("housekeeping",))


def test_model_artifacts_stay_hot_for_two_monthly_releases_then_archive_and_are_kept():
    models, = lifecycle.preset_rules(["model-artifacts"], 30)
    lifecycle.validate_rules([models])
    assert (models.prefix, models.expiration_days) == ("models/", None)  # a model is never deleted
    path = lifecycle.object_path(models)
    assert [(s.storage_class, s.start_day) for s in path][:2] == [("STANDARD", 0), ("GLACIER_IR", 60)]
    assert not lifecycle.cost_warnings([models], monthly_ingest_gb=50, average_object_mb=2048)


def test_presets():
    checkpoints, = lifecycle.preset_rules(["checkpoints"], checkpoint_retention_days=14)
    assert (checkpoints.prefix, checkpoints.transitions, checkpoints.expiration_days) == ("checkpoints/", [], 14)
    # Recent checkpoints stay hot: STANDARD for their whole (short) life.
    assert [s.storage_class for s in lifecycle.object_path(checkpoints)] == ["STANDARD"]
    training, tiering = lifecycle.preset_rules(["training-data", "intelligent-tiering"], 30)
    assert training.transitions == list(lifecycle.DEFAULT_TIERS) and training.prefix == ""
    assert tiering.transitions == [Transition(0, "INTELLIGENT_TIERING")]
    lifecycle.validate_rules([checkpoints, training, tiering])
    with pytest.raises(ValueError, match=r"presets\[0\]: expected one of 'training-data', 'intelligent-tiering', "
                                         r"'checkpoints', 'model-artifacts', got 'ckpt'"):
        lifecycle.preset_rules(["ckpt"], 30)
    with pytest.raises(ValueError, match=r"presets\[1\]: preset 'checkpoints' is listed twice"):
        lifecycle.preset_rules(["checkpoints", "checkpoints"], 30)
    with pytest.raises(ValueError, match="presets: expected a list of preset names"):
        lifecycle.preset_rules("checkpoints", 30)


def test_expiring_before_the_minimum_duration_warns_with_the_fee():
    rule = LifecycleRule("short", transitions=[Transition(30, "STANDARD_IA"), Transition(90, "GLACIER_IR")],
                         expiration_days=150)
    warning, = lifecycle.cost_warnings([rule], monthly_ingest_gb=1000, average_object_mb=64)
    # 60 of GLACIER_IR's 90 days: the other 30 are billed anyway, for every GB written each month.
    fee = 1000 * (90 - 60) * price("GLACIER_IR") / MONTH
    assert warning.rule_id == "short" and warning.extra_usd_per_month == pytest.approx(fee)
    assert f"${fee:,.2f} a month" in warning.message
    assert "lifecycle rule 'short': expiring objects at day 150" in warning.message
    assert "Expire at day 180 or later" in warning.message


def test_a_transition_that_costs_more_than_it_saves_warns_with_the_difference():
    rule = LifecycleRule("archive", expiration_days=400)  # DEEP_ARCHIVE at 365, then gone 35 days later
    warning, = lifecycle.cost_warnings([rule], 1000, 64)
    objects = 1024 / 64
    with_archive = (180 * price("DEEP_ARCHIVE") / MONTH  # 35 days stored + 145 billed early
                    + objects * PRICES["DEEP_ARCHIVE"].transition_usd_per_1000 / 1000)
    staying_in_glacier_ir = 35 * price("GLACIER_IR") / MONTH
    assert warning.extra_usd_per_month == pytest.approx(1000 * (with_archive - staying_in_glacier_ir))
    assert "lifecycle rule 'archive': moving objects to DEEP_ARCHIVE at day 365 costs $" in warning.message
    assert "35 of DEEP_ARCHIVE's 180 minimum days" in warning.message
    # Only one warning: the early expiry is the same cost, already explained.


def test_small_objects_make_transition_requests_outweigh_the_savings():
    # 30 days in STANDARD_IA (its minimum, so no early fee) save little; each object's transition is billed.
    rule = LifecycleRule("thumbnails", transitions=[Transition(30, "STANDARD_IA")], expiration_days=60)
    assert lifecycle.cost_warnings([rule], 1000, average_object_mb=64) == []
    warning, = lifecycle.cost_warnings([rule], 1000, average_object_mb=0.25)
    objects = 1024 / 0.25
    requests = objects * PRICES["STANDARD_IA"].transition_usd_per_1000 / 1000
    saving = 30 * (price("STANDARD") - price("STANDARD_IA")) / MONTH
    assert warning.extra_usd_per_month == pytest.approx(1000 * (requests - saving))
    assert "transition requests" in warning.message and "larger objects" in warning.message


def test_monthly_cost_of_the_default_path_after_a_year():
    estimate = lifecycle.monthly_cost(LifecycleRule("data"), monthly_ingest_gb=1000, average_object_mb=64, months=12)
    # A year of 1,000 GB a month: 30 days' worth in STANDARD, 60 in IA, the other 270 in GLACIER_IR.
    assert estimate.gb_by_class == pytest.approx({"STANDARD": 1000, "STANDARD_IA": 2000, "GLACIER_IR": 9000})
    assert estimate.storage_usd == pytest.approx(1000 * 0.023 + 2000 * 0.0125 + 9000 * 0.004)
    assert estimate.transition_usd == pytest.approx(1000 * 16 * (0.01 + 0.02) / 1000)
    assert estimate.early_deletion_usd == 0 and estimate.monitoring_usd == 0
    assert estimate.total_usd == pytest.approx(estimate.storage_usd + estimate.transition_usd)
    # Kept for good: the bill keeps growing; DEEP_ARCHIVE appears after the first year.
    later = lifecycle.monthly_cost(LifecycleRule("data"), 1000, 64, months=24)
    assert later.gb_by_class["DEEP_ARCHIVE"] == pytest.approx(1000 * (24 * MONTH - 365) / MONTH)
    assert later.total_usd > estimate.total_usd


def test_expiring_data_reaches_a_steady_state():
    checkpoints, = lifecycle.preset_rules(["checkpoints"], 30)
    first_year = lifecycle.monthly_cost(checkpoints, 5000, 2048, months=12)
    assert first_year == lifecycle.monthly_cost(checkpoints, 5000, 2048, months=36)
    assert first_year.gb_by_class == {"STANDARD": 5000} and first_year.storage_usd == pytest.approx(5000 * 0.023)


def test_intelligent_tiering_steps_down_and_charges_monitoring():
    tiering = PRICES["INTELLIGENT_TIERING"]
    assert tiering.storage_usd_per_gb(120) == pytest.approx((30 * 0.023 + 60 * 0.0125 + 30 * 0.004) / MONTH)
    estimate = lifecycle.monthly_cost(lifecycle.preset_rules(["intelligent-tiering"], 30)[0], 1000, 1, months=1)
    assert estimate.monitoring_usd == pytest.approx(1000 * 1024 * tiering.monitoring_usd_per_1000_objects_month / 1000)


def test_rules_for_copies_arriving_colder_drop_impossible_transitions():
    rules = [LifecycleRule("data"), LifecycleRule("scratch", prefix="tmp/", transitions=[Transition(30, "STANDARD_IA")])]
    adapted = lifecycle.rules_for_arrival(rules, "GLACIER_IR")
    assert [(r.id, r.transitions) for r in adapted] == [("data", [Transition(365, "DEEP_ARCHIVE")])]
    lifecycle.validate_rules(adapted)
    assert [s.storage_class for s in lifecycle.object_path(adapted[0], "GLACIER_IR")] == ["GLACIER_IR", "DEEP_ARCHIVE"]


def test_rules_read_back_from_recorded_inputs():
    raw = [
        {"id": "data", "status": "Enabled", "filter": {},
         "transitions": [{"days": 30, "storageClass": "STANDARD_IA"}, {"days": 90, "storageClass": "GLACIER_IR"}]},
        {"id": "ckpt", "status": "Enabled", "filter": {"prefix": "checkpoints/"}, "expiration": {"days": 30}},
        {"id": "off", "status": "Disabled", "filter": {}, "expiration": {"days": 1}},
        {"id": "housekeeping", "status": "Enabled", "filter": {}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 7}},
    ]
    assert lifecycle.rules_from_inputs(raw) == [
        LifecycleRule("data", "", [Transition(30, "STANDARD_IA"), Transition(90, "GLACIER_IR")], None),
        LifecycleRule("ckpt", "checkpoints/", [], 30)]
    assert lifecycle.rules_from_inputs("unknown") == []
    inline = [{"enabled": True, "prefix": "raw/", "transitions": [{"days": 0, "storageClass": "GLACIER_IR"}]},
              {"enabled": False, "expiration": {"days": 1}}]
    assert lifecycle.rules_from_inputs(inline) == [LifecycleRule("rule-0", "raw/", [Transition(0, "GLACIER_IR")])]
