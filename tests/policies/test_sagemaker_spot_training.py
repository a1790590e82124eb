"""sagemaker-spot-training through the real gRPC path: training jobs, pipeline steps (also inside
Condition steps) and lifecycle scripts that train on demand are flagged, advisory by default."""
import base64
import json

from tests.conftest import tagged_config

POLICY = "sagemaker-spot-training"
ROLE = "arn:aws:iam::123456789012:role/trainer"


def b64(script: str) -> str:
    return base64.b64encode(script.encode()).decode()


def training_step(name: str, spot) -> dict:
    arguments = {"AlgorithmSpecification": {"TrainingImage": "trainer:1", "TrainingInputMode": "File"},
                 "ResourceConfig": {"InstanceType": "ml.g5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 50}}
    if spot is not None:
        arguments["EnableManagedSpotTraining"] = spot
    return {"Name": name, "Type": "Training", "Arguments": arguments}


DEFINITION = {"Version": "2020-12-01", "Steps": [
    training_step("spot", True),
    training_step("on-demand", None),
    training_step("parameterised", {"Get": "Parameters.UseSpot"}),
    {"Name": "check", "Type": "Condition", "Arguments": {
        "IfSteps": [training_step("retrain", False)], "ElseSteps": []}},
    {"Name": "tune", "Type": "Tuning", "Arguments": {"TrainingJobDefinition": {"EnableManagedSpotTraining": True}}},
]}
SPOT_SCRIPT = "python - <<EOF\nimport boto3\nboto3.client('sagemaker').create_training_job(EnableManagedSpotTraining=True)\nEOF\n"
PROGRAM = f"""
import pulumi
import pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
aws.sagemaker.Pipeline("pipeline", pipeline_name="train", pipeline_display_name="train", role_arn="{ROLE}",
                       pipeline_definition={json.dumps(json.dumps(DEFINITION))})
aws.sagemaker.Pipeline("pipeline-in-s3", pipeline_name="train-s3", pipeline_display_name="train-s3", role_arn="{ROLE}",
                       pipeline_definition_s3_location={{"bucket": "defs", "object_key": "train.json"}})
aws.sagemaker.NotebookInstanceLifecycleConfiguration("on-demand-notebook",
    on_start={b64("aws sagemaker create-training-job --training-job-name nightly")!r})
aws.sagemaker.NotebookInstanceLifecycleConfiguration("spot-notebook", on_create={b64(SPOT_SCRIPT)!r},
    on_start={b64("pip install -U sagemaker")!r})
aws.sagemaker.StudioLifecycleConfig("studio", studio_lifecycle_config_name="estimator",
    studio_lifecycle_config_app_type="JupyterLab",
    studio_lifecycle_config_content={b64("estimator.fit({'train': 's3://data/train'})")!r})
"""


def test_training_that_the_stack_launches_on_demand_is_flagged(check_policies):
    result = check_policies(PROGRAM, tagged_config())
    assert result.names(POLICY) == {"pipeline", "pipeline-in-s3", "on-demand-notebook", "studio"}
    by_name: dict = {}
    for violation in result.of(POLICY):
        by_name.setdefault(result.graph.resources[violation.urn].name, []).append(violation.detail)
    assert [m.split(". ")[0] for m in by_name["pipeline"]] == [
        "Training step 'on-demand' trains on demand (EnableManagedSpotTraining is None)",
        "Training step 'retrain' trains on demand (EnableManagedSpotTraining is False)"]
    assert by_name["pipeline-in-s3"][0].startswith("The pipeline definition is in S3, so its training steps cannot")
    assert by_name["on-demand-notebook"][0].startswith("The onStart script launches training without asking for")
    assert by_name["studio"][0].startswith("The studioLifecycleConfigContent script launches training")
    assert all("SpotTrainingJobDefaults" in m for messages in by_name.values() for m in messages)
    assert not [v for v in result.of(POLICY) if v.is_mandatory]  # advisory by default


def test_training_jobs_must_enable_managed_spot(check_policies):
    program = f"""
import pulumi_aws as aws
for name, spot in (("spot", True), ("on-demand", None)):
    aws.sagemaker.TrainingJob(name, training_job_name=name, role_arn="{ROLE}", enable_managed_spot_training=spot,
                              tags={{"CostCenter": "ml", "Project": "test", "Environment": "dev"}})
"""
    result = check_policies(program, tagged_config(), policy_config={POLICY: "mandatory"})
    assert result.names(POLICY) == {"on-demand"}
    assert result.of(POLICY)[0].is_mandatory  # a stack may make it mandatory
