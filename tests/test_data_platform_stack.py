"""The data-platform example stack: datasets and checkpoints in TieredBuckets, covered by one BackupPlan."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aifinops.core import lifecycle
from aifinops.core.errors import ProgramError
from tests.conftest import REPO_ROOT, example_stack_config, only, run_example_stack, tagged_config

STACK = "data-platform"
OUR_POLICIES = {"s3-lifecycle-required", "s3-versioning-with-noncurrent-expiry", "backup-coverage"}


@pytest.fixture(scope="module")
def stack_run():
    """The example stack's graph, and what it logged, from one in-process run."""
    return run_example_stack(STACK)


def by_name(graph, type_token: str) -> dict:
    return {r.name: r for r in graph.of_type(type_token)}


def test_dataset_and_checkpoint_buckets_with_their_tiers(stack_run):
    graph, warnings = stack_run
    assert set(by_name(graph, "aifinops:storage:TieredBucket")) == {"datasets", "checkpoints", "cost-lake-data"}
    configs = by_name(graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    datasets = lifecycle.rules_from_inputs(configs["datasets-lifecycle"].inputs["rules"])
    assert datasets == [lifecycle.LifecycleRule("training-data")]
    checkpoints = {r.id: r for r in lifecycle.rules_from_inputs(configs["checkpoints-lifecycle"].inputs["rules"])}
    assert (checkpoints["checkpoints"].prefix, checkpoints["checkpoints"].expiration_days) == ("checkpoints/", 30)
    assert checkpoints["final-models"].prefix == "final/"
    housekeeping = next(r for r in configs["checkpoints-lifecycle"].inputs["rules"] if r["id"] == "housekeeping")
    assert housekeeping["noncurrentVersionExpiration"] == {"noncurrentDays": 7}
    replica = by_name(graph, "aws:s3/bucket:Bucket")["checkpoints-replica"]
    assert replica.inputs["region"] == "us-west-2"
    # The example's lifecycle is cheap at the volumes it declares: no cost warning.
    assert not [w for w in warnings if "lifecycle rule" in w]


def test_backup_plan_selects_exactly_the_data_buckets(stack_run):
    graph, _ = stack_run
    selection, = graph.of_type("aws:backup/selection:Selection")
    wanted = {(t["key"], t["value"]) for t in selection.inputs["selectionTags"]}
    buckets = by_name(graph, "aws:s3/bucket:Bucket")
    selected = {name for name, b in buckets.items() if wanted & set(b.inputs["tags"].items())}
    # not the replica, which is a copy already, nor the CUR bucket (AWS can re-export billing data)
    assert selected == {"datasets", "checkpoints"}
    assert all(b.inputs["tags"]["CostCenter"] == "ml-platform" for b in buckets.values())
    plan = graph.of_type("aws:backup/plan:Plan")[0]
    daily = next(r for r in plan.inputs["rules"] if r["ruleName"] == "daily")
    assert daily["enableContinuousBackup"] is True
    lock = graph.of_type("aws:backup/vaultLockConfiguration:VaultLockConfiguration")[0].inputs
    assert (lock["minRetentionDays"], lock["maxRetentionDays"]) == (7, 400) and "changeableForDays" not in lock


def test_the_cost_data_lake_exports_cur_into_its_bucket_with_the_seed_query(stack_run):
    graph, _ = stack_run
    export = only(graph, "aws:bcmdata/export:Export").inputs["export"]
    bucket = by_name(graph, "aws:s3/bucket:Bucket")["cost-lake-data"]
    assert export["destinationConfigurations"][0]["s3Destinations"][0]["s3Bucket"] == bucket.outputs["bucket"]
    workgroup = only(graph, "aws:athena/workgroup:Workgroup").inputs
    assert workgroup["name"] == "cost-lake-cur"
    seed = by_name(graph, "aws:athena/namedQuery:NamedQuery")["cost-lake-daily-cost-by-product"].inputs["query"]
    assert "= 'LLM-FineTune'" in seed and "GROUP BY usage_date, product_code" in seed
    activated = {r.inputs["tagKey"] for r in graph.of_type("aws:costexplorer/costAllocationTag:CostAllocationTag")}
    assert {"ModelVersion", "TrainingRun", "Project"} <= activated


def test_the_policy_packs_pass_it(stack_run, policy_packs):
    graph, _ = stack_run
    result = policy_packs.check(graph)
    assert result.mandatory == []
    assert not [v for v in result.violations if v.policy in OUR_POLICIES]


def test_without_the_backup_tag_backup_coverage_fails(preview_stack_program, policy_packs):
    config = example_stack_config(STACK)
    config["aifinops:tieredBuckets"][1]["tags"].pop("Backup")
    result = policy_packs.check(preview_stack_program(config, STACK))
    assert {v.policy for v in result.mandatory} == {"backup-coverage"}
    assert [result.graph.resources[v.urn].name for v in result.mandatory] == ["checkpoints"]


def test_aifinops_preview_passes_the_packs_on_it():
    result = subprocess.run([sys.executable, "-m", "aifinops", "preview", "--stack", STACK, "--json"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    types = [step["newState"]["type"] for step in digest["steps"]]
    assert types.count("aws:s3/bucket:Bucket") == 4 and "aws:backup/selection:Selection" in types
    assert "aws:bcmdata/export:Export" in types and "aws:athena/workgroup:Workgroup" in types


@pytest.mark.parametrize("section, entry, message", [
    ("tieredBuckets", {"name": "b", "lifecycle": []},
     r"tieredBuckets\[0\].lifecycle: unknown setting; expected one of bucketName"),
    ("tieredBuckets", {"name": "b", "rules": [{"id": "r", "transitions": [{"days": 5, "storageClass": "STANDARD_IA"}]}]},
     r"rules\[0\].transitions\[0\].days: S3 moves objects to STANDARD_IA only after 30 days, got 5"),
    ("backupPlans", {"name": "p", "resources": ["nowhere"]},
     r"backupPlans\[0\].resources\[0\]: expected an ARN or the name of a component built earlier \(none yet\), "
     r"got 'nowhere'"),
    ("backupPlans", {"name": "p", "rules": [{"name": "d", "schedule": "daily", "deleteAfterDays": 7}]},
     r"schedule: expected an AWS cron expression"),
])
def test_config_mistakes_name_the_setting(preview_stack_program, section, entry, message):
    with pytest.raises(ProgramError, match=message):
        preview_stack_program(tagged_config({section: [entry]}, project="aifinops"))


def test_backup_plan_resources_by_component_name(preview_stack_program):
    graph = preview_stack_program(tagged_config({"tieredBuckets": [{"name": "lake"}],
                                            "backupPlans": [{"name": "p", "selectionTags": {},
                                                             "resources": ["lake", "arn:aws:s3:::other"]}],
                                            },
                                           project="aifinops"))
    selection, = graph.of_type("aws:backup/selection:Selection")
    lake = by_name(graph, "aws:s3/bucket:Bucket")["lake"]
    assert selection.inputs["resources"] == [lake.outputs["arn"], "arn:aws:s3:::other"]
