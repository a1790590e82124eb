"""SpotTrainingJobDefaults: the create_training_job arguments match botocore's SageMaker service model, spot
is on with a checkpoint and a long enough wait, and the budget guard finds jobs launched with them by tag."""
from __future__ import annotations

import botocore.session
import pytest
from botocore.validate import ParamValidator
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends

from aifinops.automation.aws_clients import AwsClients
from aifinops.automation.budget_alerts import budget_alerts
from aifinops.automation.budget_guard_handler import guard
from aifinops.core.automation_settings import GuardSettings
from aifinops.core.sagemaker_training import SpotTrainingJobDefaults
from tests.automation.moto_helpers import ACCOUNT_ID, REGION, budget_notification_event

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/sagemaker-training"
IMAGE = f"{ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/trainer@sha256:" + "ab" * 32
TEAM = {"CostCenter": "ml", "Project": "llm-finetune", "Environment": "dev"}


def defaults(**changes) -> SpotTrainingJobDefaults:
    return SpotTrainingJobDefaults(**{"role_arn": ROLE, "image_uri": IMAGE, "checkpoint_bucket": "team-checkpoints",
                                      "cost_tags": TEAM, **changes})


def service_model():
    return botocore.session.get_session().get_service_model("sagemaker")


def test_arguments_are_valid_for_the_real_create_training_job_api() -> None:
    arguments = defaults().create_training_job_arguments(
        "llm-ft-42", hyperparameters={"epochs": 3},
        input_data_config=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://team-data/train/"}}}])
    shape = service_model().operation_model("CreateTrainingJob").input_shape

    report = ParamValidator().validate(arguments, shape)

    assert not report.has_errors(), report.generate_report()
    assert "SpotInstanceCount" not in shape.members  # the seed's snippet used a field that does not exist
    instance_types = service_model().shape_for("TrainingInstanceType").enum
    assert arguments["ResourceConfig"]["InstanceType"] in instance_types


def test_spot_is_on_with_a_checkpoint_per_run_and_a_wait_at_least_the_runtime() -> None:
    arguments = defaults(max_runtime_seconds=7200).create_training_job_arguments("llm-ft-42", "run-2026-12-01")
    assert arguments["EnableManagedSpotTraining"] is True
    stopping = arguments["StoppingCondition"]
    assert stopping == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 14400}
    assert arguments["CheckpointConfig"] == {"S3Uri": "s3://team-checkpoints/checkpoints/run-2026-12-01/",
                                             "LocalPath": "/opt/ml/checkpoints"}
    assert arguments["OutputDataConfig"] == {"S3OutputPath": "s3://team-checkpoints/models/"}
    tags = {t["Key"]: t["Value"] for t in arguments["Tags"]}
    assert tags == {**TEAM, "training_run_id": "run-2026-12-01", "TrainingRun": "run-2026-12-01"}
    equal = defaults(max_runtime_seconds=3600, max_wait_seconds=3600).create_training_job_arguments("j")
    assert equal["StoppingCondition"]["MaxWaitTimeInSeconds"] == 3600


@pytest.mark.parametrize("changes, message", [
    (dict(max_runtime_seconds=7200, max_wait_seconds=3600), "max_wait_seconds: SageMaker requires at least "
                                                            "max_runtime_seconds (7200), got 3600"),
    (dict(instance_type="g5.xlarge"), "instance_type: expected a SageMaker instance type such as 'ml.g5.xlarge'"),
    (dict(instance_type="ml.p5en.48xlarge"), "instance_type: accelerated instance type 'ml.p5en.48xlarge' (8x NVIDIA "
                                             "H200, compared as 'p5en.48xlarge') is not approved"),
    (dict(checkpoint_bucket="s3://team-checkpoints"), "checkpoint_bucket: expected an S3 bucket name"),
    (dict(checkpoint_prefix="checkpoints"), "checkpoint_prefix: expected a key prefix ending in '/'"),
    (dict(role_arn="trainer"), "role_arn: expected an IAM role ARN"),
    (dict(cost_tags={"training_run_id": "x"}), "cost_tags: ['training_run_id'] are set per job"),
    (dict(max_runtime_seconds=0), "max_runtime_seconds: expected a whole number from 1 to 2419200 seconds"),
])
def test_bad_defaults_name_the_argument(changes, message) -> None:
    with pytest.raises(ValueError) as error:
        defaults(**changes)
    assert message in str(error.value)


def test_a_job_name_sagemaker_would_reject_is_refused() -> None:
    with pytest.raises(ValueError, match="job_name: expected 1-63 letters, digits and hyphens"):
        defaults().create_training_job_arguments("llm_ft_42")


def test_the_budget_guard_finds_jobs_launched_with_these_defaults_by_their_tags(monkeypatch) -> None:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    with mock_aws():
        clients = AwsClients(region=REGION)
        sagemaker = clients.client("sagemaker")
        ours = defaults(instance_type="ml.g4dn.xlarge")
        other_team = defaults(instance_type="ml.g4dn.xlarge", cost_tags={**TEAM, "Project": "search"})
        for job, spec in (("llm-ft-42", ours), ("search-7", other_team)):
            sagemaker.create_training_job(**spec.create_training_job_arguments(job))
            sagemaker_backends[ACCOUNT_ID][REGION].training_jobs[job].training_job_status = "InProgress"
        (alert,), _ = budget_alerts(budget_notification_event("llm-finetune-dev",
                                                              f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:alerts"))

        report = guard(clients, GuardSettings(cost_tags={"Project": "llm-finetune"}, stop_instances=False), alert)

    assert [(e.arn, e.outcome) for e in report.entries] == [
        (f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/llm-ft-42", "dry-run")]
