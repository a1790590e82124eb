"""Handler settings survive the trip through Lambda environment variables, and only the variables set
override the defaults."""
from __future__ import annotations

from aifinops.core.automation_settings import GuardSettings, ReaperSettings, from_env, to_env


def test_reaper_settings_round_trip():
    settings = ReaperSettings(idle_threshold_percent=2.5, idle_minutes=120, grace_minutes=0, notify="always",
                              metric_name="DCGM_FI_DEV_GPU_UTIL", dry_run=False,
                              summary_topic_arn="arn:aws:sns:us-east-1:123456789012:reports")
    env = to_env(settings)
    assert env["AIFINOPS_DRY_RUN"] == "false" and env["AIFINOPS_IDLE_MINUTES"] == "120"
    assert from_env(ReaperSettings, env) == settings


def test_guard_settings_round_trip_with_lists_and_mappings():
    settings = GuardSettings(cost_tags={"Project": ("llm", "eval"), "Environment": "dev"}, budget_names=("team",),
                             alert_types=("ACTUAL", "FORECASTED"), stop_training_jobs=False)
    env = to_env(settings)
    assert env["AIFINOPS_COST_TAGS"] == '{"Environment": ["dev"], "Project": ["llm", "eval"]}'
    assert from_env(GuardSettings, env) == settings


def test_unset_variables_keep_their_defaults_and_others_are_ignored():
    loaded = from_env(ReaperSettings, {"AIFINOPS_IDLE_MINUTES": "30", "AWS_REGION": "us-east-1", "PATH": "/bin"})
    assert loaded == ReaperSettings(idle_minutes=30)
    assert loaded.dry_run is True and "AIFINOPS_SUMMARY_TOPIC_ARN" not in to_env(loaded)
