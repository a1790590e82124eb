"""SageMakerEndpoint and ModelRegistry: model, endpoint config, endpoint; approved types only; KMS where
SageMaker takes it; autoscaling with GPU cooldowns; serverless and async (to zero) variants; the registry."""
from __future__ import annotations

import json

import pytest

from aifinops.components.sagemaker_endpoint import (
    AsyncInference,
    DataCapture,
    EndpointAutoscaling,
    SageMakerEndpoint,
    SageMakerEndpointArgs,
    ServerlessInference,
    endpoint_instance_types,
)
from aifinops.components.model_registry import ModelRegistry, ModelRegistryArgs
from tests.conftest import only, tagged_config

ROLE = "arn:aws:iam::123456789012:role/sagemaker-llm"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.4-tgi2.3-gpu-py311-cu124-ubuntu22.04"
PROGRAM = """
from aifinops.components.sagemaker_endpoint import *
SageMakerEndpoint("llm", SageMakerEndpointArgs(image_uri={image!r}, execution_role_arn={role!r}, {args}))
"""
CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"


def build(preview, args: str = ""):
    return preview(PROGRAM.format(image=IMAGE, role=ROLE, args=args), tagged_config())


def test_defaults_an_approved_gpu_endpoint_that_autoscales_with_gpu_cooldowns(preview):
    graph = build(preview, "model_data_url='s3://models/llm/v3/model.tar.gz'")
    model = only(graph, "aws:sagemaker/model:Model").inputs
    assert model["enableNetworkIsolation"] is True and model["executionRoleArn"] == ROLE
    assert model["primaryContainer"] == {"image": IMAGE, "modelDataUrl": "s3://models/llm/v3/model.tar.gz"}
    config = only(graph, CONFIG).inputs
    (variant,) = config["productionVariants"]
    assert (variant["instanceType"], variant["initialInstanceCount"], variant["variantName"]) == \
        ("ml.g5.xlarge", 1, "AllTraffic")
    assert "dataCaptureConfig" not in config  # off unless asked
    assert "kmsKeyArn" not in config  # g5 has local NVMe storage: hardware-encrypted, SageMaker rejects a key
    endpoint = only(graph, "aws:sagemaker/endpoint:Endpoint")
    assert endpoint.inputs["endpointConfigName"] == only(graph, CONFIG).outputs["name"]
    target = only(graph, "aws:appautoscaling/target:Target").inputs
    assert (target["minCapacity"], target["maxCapacity"], target["scalableDimension"]) == \
        (1, 4, "sagemaker:variant:DesiredInstanceCount")
    assert target["resourceId"] == f"endpoint/{endpoint.outputs['name']}/variant/AllTraffic"
    policy = only(graph, "aws:appautoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {"predefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
    assert (tracking["targetValue"], tracking["scaleOutCooldown"], tracking["scaleInCooldown"]) == (60, 300, 900)
    assert tracking["scaleInCooldown"] > tracking["scaleOutCooldown"]  # GPU models load slowly: shrink slowly


def test_the_volume_is_encrypted_with_a_new_key_where_sagemaker_takes_one(preview):
    graph = build(preview, "instance_type='ml.inf2.xlarge'")  # EBS-only storage
    key = only(graph, "aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert only(graph, CONFIG).inputs["kmsKeyArn"] == key.outputs["arn"]
    given = "arn:aws:kms:us-east-1:123456789012:key/1111"
    graph = build(preview, f"instance_type='ml.m5.xlarge', volume_kms_key_arn={given!r}")
    assert only(graph, CONFIG).inputs["kmsKeyArn"] == given and not graph.of_type("aws:kms/key:Key")


def test_async_inference_scales_to_zero_and_back_on_a_backlog(preview):
    graph = build(preview, "async_inference=AsyncInference('s3://llm-async/out/')")
    config = only(graph, CONFIG).inputs
    output = config["asyncInferenceConfig"]["outputConfig"]
    assert output["s3OutputPath"] == "s3://llm-async/out/" and output["s3FailurePath"] == "s3://llm-async/out/failures/"
    assert output["kmsKeyId"] == only(graph, "aws:kms/key:Key").outputs["arn"]
    assert config["asyncInferenceConfig"]["clientConfig"] == {"maxConcurrentInvocationsPerInstance": 4}
    assert only(graph, "aws:appautoscaling/target:Target").inputs["minCapacity"] == 0
    policies = {p.name: p.inputs for p in graph.of_type("aws:appautoscaling/policy:Policy")}
    backlog = policies["llm-target-tracking"]["targetTrackingScalingPolicyConfiguration"]
    assert backlog["customizedMetricSpecification"]["metricName"] == "ApproximateBacklogSizePerInstance"
    assert backlog["targetValue"] == 5
    step = policies["llm-scale-from-zero"]["stepScalingPolicyConfiguration"]
    assert step["stepAdjustments"] == [{"metricIntervalLowerBound": "0", "scalingAdjustment": 1}]
    alarm = only(graph, "aws:cloudwatch/metricAlarm:MetricAlarm").inputs
    assert alarm["metricName"] == "HasBacklogWithoutCapacity" and alarm["actionsEnabled"] is True
    from_zero = next(p for p in graph.of_type("aws:appautoscaling/policy:Policy") if p.name == "llm-scale-from-zero")
    assert alarm["alarmActions"] == [from_zero.outputs["arn"]]


def test_serverless_has_no_instances_to_scale_or_approve(preview):
    graph = build(preview, "serverless=ServerlessInference(memory_size_mb=4096, max_concurrency=10), autoscaling=None")
    (variant,) = only(graph, CONFIG).inputs["productionVariants"]
    assert variant["serverlessConfig"] == {"memorySizeInMb": 4096, "maxConcurrency": 10}
    assert "instanceType" not in variant and not graph.of_type("aws:appautoscaling/target:Target")


def test_data_capture_custom_metric_and_non_essential_when_asked(preview):
    graph = build(preview, "instance_type='ml.inf2.xlarge', data_capture=DataCapture('s3://capture/llm/', 5), "
                           "non_essential=True, autoscaling=EndpointAutoscaling(2, 6, custom_metric_name='GPUUtilization',"
                           " custom_metric_namespace='/aws/sagemaker/Endpoints', custom_metric_target=70)")
    capture = only(graph, CONFIG).inputs["dataCaptureConfig"]
    assert (capture["enableCapture"], capture["initialSamplingPercentage"], capture["destinationS3Uri"]) == \
        (True, 5, "s3://capture/llm/")
    assert only(graph, "aws:sagemaker/endpoint:Endpoint").inputs["tags"]["aifinops:non-essential"] == "true"
    tracking = only(graph, "aws:appautoscaling/policy:Policy").inputs["targetTrackingScalingPolicyConfiguration"]
    assert tracking["customizedMetricSpecification"]["metricName"] == "GPUUtilization" and tracking["targetValue"] == 70
    (variant,) = only(graph, CONFIG).inputs["productionVariants"]
    assert variant["initialInstanceCount"] == 2


def test_the_approved_gpu_policy_judges_the_endpoint_as_the_component_does(check_policies):
    program = ("import pulumi\nfrom aifinops.components.tagging import register_cost_tags\n"
               "register_cost_tags(pulumi.Config().require_object('costTags'))\n"
               + PROGRAM.format(image=IMAGE, role=ROLE, args="instance_type='ml.g6.xlarge'"))
    result = check_policies(program, tagged_config())
    assert result.of("approved-gpu-instance-types") == []
    # A narrower list in the pack flags the same endpoint config: ml. types are judged alike.
    strict = check_policies(program, tagged_config(),
                            policy_config={"approved-gpu-instance-types": {"approvedInstanceTypes": ["g5.xlarge"]}})
    assert strict.names("approved-gpu-instance-types") == {"llm-config"}


def test_instance_types_come_from_botocores_sagemaker_model():
    types = endpoint_instance_types()
    assert "ml.g5.xlarge" in types and "ml.p5.48xlarge" in types and "g5.xlarge" not in types


BASE = dict(image_uri=IMAGE, execution_role_arn=ROLE)


@pytest.mark.parametrize("changes, message", [
    (dict(instance_type="g5.xlarge"), "instance_type: expected a SageMaker instance type such as 'ml.g5.xlarge'"),
    (dict(instance_type="ml.p5en.48xlarge"), "instance_type: accelerated instance type 'ml.p5en.48xlarge'"),
    (dict(instance_type="ml.g9.xlarge"), "instance_type: 'ml.g9.xlarge' is not an instance type SageMaker offers"),
    (dict(execution_role_arn="sagemaker-llm"), "execution_role_arn: expected an IAM role ARN"),
    (dict(model_data_url="models/llm.tar.gz"), "model_data_url: expected an s3://bucket/key URI"),
    (dict(serverless=ServerlessInference(), async_inference=AsyncInference("s3://a/b/")),
     "serverless: a variant is serverless or asynchronous, not both"),
    (dict(serverless=ServerlessInference(memory_size_mb=1500)), "serverless.memory_size_mb: expected one of 1024"),
    (dict(serverless=ServerlessInference(max_concurrency=500)), "serverless.max_concurrency: expected a whole number from 1 to 200"),
    (dict(serverless=ServerlessInference(), autoscaling=EndpointAutoscaling(1, 8)), "autoscaling: a serverless variant"),
    (dict(autoscaling=EndpointAutoscaling(0, 4)), "autoscaling.min_capacity: expected a whole number of at least 1"),
    (dict(autoscaling=EndpointAutoscaling(3, 2)), "autoscaling.max_capacity: expected a whole number of at least 3"),
    (dict(autoscaling=EndpointAutoscaling(custom_metric_name="x")), "autoscaling.custom_metric_name: give"),
    (dict(initial_instance_count=9), r"initial_instance_count: expected 1 to 4 \(autoscaling's range\), got 9"),
    (dict(async_inference=AsyncInference("out/")), "async_inference.output_s3_uri: expected an s3://bucket/key URI"),
    (dict(data_capture=DataCapture("s3://capture/", 0)), "data_capture.sampling_percentage: expected a whole number from 1"),
    (dict(volume_kms_key_arn="arn:aws:s3:::k"), "volume_kms_key_arn: expected an ARN of the kms service"),
    (dict(environment={"TOKENS": 5}), "environment: expected a mapping of variable names to strings"),
    (dict(non_essential="yes"), "non_essential: expected true or false"),
])
def test_bad_arguments_fail_before_anything_is_registered(changes, message):
    with pytest.raises(ValueError, match=message):
        SageMakerEndpoint("llm", SageMakerEndpointArgs(**{**BASE, **changes}))


def test_model_registry_group_policy_and_tiered_artifact_bucket(preview):
    program = """
from aifinops.components.model_registry import ModelRegistry, ModelRegistryArgs
ModelRegistry("llm-models", ModelRegistryArgs(reader_account_ids=["210987654321"]))
"""
    graph = preview(program, tagged_config())
    group = only(graph, "aws:sagemaker/modelPackageGroup:ModelPackageGroup")
    assert group.inputs["modelPackageGroupName"] == "llm-models"
    policy = only(graph, "aws:sagemaker/modelPackageGroupPolicy:ModelPackageGroupPolicy").inputs
    assert policy["modelPackageGroupName"] == "llm-models"
    (statement,) = json.loads(policy["resourcePolicy"])["Statement"]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::123456789012:root", "arn:aws:iam::210987654321:root"]}
    assert not [a for a in statement["Action"] if not a.startswith(("sagemaker:Describe", "sagemaker:List"))]
    assert statement["Resource"] == ["arn:aws:sagemaker:us-east-1:123456789012:model-package-group/llm-models",
                                     "arn:aws:sagemaker:us-east-1:123456789012:model-package/llm-models/*"]
    lifecycle = only(graph, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs
    models = next(r for r in lifecycle["rules"] if r["id"] == "model-artifacts")
    assert models["filter"] == {"prefix": "models/"}
    assert models["transitions"] == [{"days": 60, "storageClass": "GLACIER_IR"}] and "expiration" not in models


@pytest.mark.parametrize("changes, message", [
    (dict(reader_account_ids=["prod"]), "reader_account_ids: expected 12-digit AWS account ids"),
    (dict(reader_account_ids="210987654321"), "reader_account_ids: expected a list"),
    (dict(artifact_bucket="yes"), "artifact_bucket: expected true or false"),
])
def test_model_registry_validation(changes, message):
    with pytest.raises(ValueError, match=message):
        ModelRegistry("llm-models", ModelRegistryArgs(**changes))
    with pytest.raises(ValueError, match="name: expected 1-63 letters, digits and hyphens"):
        ModelRegistry("llm_models")
