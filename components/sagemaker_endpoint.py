"""SageMakerEndpoint: a SageMaker model behind an endpoint that scales with its traffic and keeps its bill in check.

Three kinds of variant, one per endpoint:
- instances (the default): an approved instance type, an Application Auto Scaling target and a
  target-tracking policy on SageMakerVariantInvocationsPerInstance (or a custom metric), with cooldowns
  long enough for GPU models, which take minutes to load;
- serverless (`serverless`): billed per request, nothing to scale or approve;
- asynchronous (`async_inference`): requests queue in S3 and the variant scales to zero instances when the
  queue is empty (a backlog alarm scales it back out from zero): the batch-inference savings.

Secure by default: the model runs with network isolation, the storage volume and async outputs are
encrypted with a customer managed key, and data capture is off unless asked.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import argument_checks as checks
from aifinops.core import catalog
from aifinops.core.automation_settings import NON_ESSENTIAL_TAG

from .checkov_suppressions import suppress_checkov
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:ml:SageMakerEndpoint"
VARIANT_NAME = "AllTraffic"
SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
INVOCATIONS_METRIC = "SageMakerVariantInvocationsPerInstance"
BACKLOG_METRIC = "ApproximateBacklogSizePerInstance"
BACKLOG_WITHOUT_CAPACITY_METRIC = "HasBacklogWithoutCapacity"
# Why these cooldowns: a GPU instance takes 5-10 minutes to start and load a model, so a scale-out
# cooldown of 5 minutes keeps one burst from adding several instances before the first serves, and a
# 15-minute scale-in cooldown keeps a short lull from dropping an instance that takes 10 to bring back.
DEFAULT_SCALE_OUT_COOLDOWN = 300
DEFAULT_SCALE_IN_COOLDOWN = 900
# Invocations per instance per minute (the metric's unit): one request a second, about what a GPU
# serving a generative model sustains per instance; measure yours and set it.
DEFAULT_INVOCATIONS_TARGET = 60
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")

suppress_checkov(
    component_type=TYPE_TOKEN, resource_type="aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    check_id="CKV_AWS_98",
    reason="GPU instance types with local NVMe storage (g4dn, g5, g6, p4d, p5...) have it encrypted in hardware "
           "and SageMaker rejects a KmsKeyId for them; the component sets its key for every other instance type, "
           "and serverless variants take none")


@dataclass
class EndpointAutoscaling:
    """Scaling of an instance variant (Application Auto Scaling).

    - min_capacity / max_capacity: instances, default 1 to 4 (async variants: min 0, scale to zero).
    - target_invocations_per_instance: the target of SageMakerVariantInvocationsPerInstance, invocations
      per instance per minute (default 60: see DEFAULT_INVOCATIONS_TARGET).
    - custom_metric_name / custom_metric_namespace / custom_metric_statistic: track a CloudWatch metric of
      your own instead (dimensions EndpointName and VariantName), with target `custom_metric_target`.
    - scale_out_cooldown_seconds: default 300; scale_in_cooldown_seconds: default 900 (GPU models load slowly).
    """

    min_capacity: int = 1
    max_capacity: int = 4
    target_invocations_per_instance: float = DEFAULT_INVOCATIONS_TARGET
    custom_metric_name: Optional[str] = None
    custom_metric_namespace: Optional[str] = None
    custom_metric_statistic: Literal["Average", "Maximum", "Minimum", "Sum", "SampleCount"] = "Average"
    custom_metric_target: Optional[float] = None
    scale_out_cooldown_seconds: int = DEFAULT_SCALE_OUT_COOLDOWN
    scale_in_cooldown_seconds: int = DEFAULT_SCALE_IN_COOLDOWN


@dataclass
class ServerlessInference:
    """A serverless variant: memory_size_mb 1024-6144 in 1 GB steps (default 2048), max_concurrency 1-200
    (default 5: it also caps the bill per second), provisioned_concurrency (default None: none, pay only per
    request, with cold starts)."""

    memory_size_mb: int = 2048
    max_concurrency: int = 5
    provisioned_concurrency: Optional[int] = None


@dataclass
class AsyncInference:
    """An asynchronous variant: requests queue, results land in `output_s3_uri` (required), failures in
    `failure_s3_uri` (default: output_s3_uri + 'failures/'). max_concurrent_invocations_per_instance:
    default 4. success_topic_arn / error_topic_arn: notifications (default none).
    backlog_per_instance: the queued requests per instance autoscaling aims for (default 5); the variant
    scales to zero when the queue is empty."""

    output_s3_uri: str
    failure_s3_uri: Optional[str] = None
    max_concurrent_invocations_per_instance: int = 4
    success_topic_arn: Optional[pulumi.Input[str]] = None
    error_topic_arn: Optional[pulumi.Input[str]] = None
    backlog_per_instance: float = 5.0


@dataclass
class DataCapture:
    """Capture requests and responses to `destination_s3_uri` (sampling_percentage default 10)."""

    destination_s3_uri: str
    sampling_percentage: int = 10


@dataclass
class SageMakerEndpointArgs:
    """Arguments of SageMakerEndpoint. Required: `image_uri` and `execution_role_arn` (what the model may
    read is the deployment's to decide).

    - model_data_url: the model artifact (s3://.../model.tar.gz; a TieredBucket with the "model-artifacts"
      preset keeps older versions cheap). Default None: the image carries the model.
    - environment: the container's environment variables (default none).
    - instance_type: default ml.g5.xlarge; an accelerated type must be on approved_instance_types (default
      the catalog's approved set; `ml.` is compared without the prefix, as the approved-gpu-instance-types
      policy does) and every type must be one SageMaker offers (botocore's model). initial_instance_count:
      default autoscaling.min_capacity (1).
    - autoscaling: default EndpointAutoscaling() for instance variants; None: a fixed instance count.
    - serverless / async_inference: make the variant serverless or asynchronous instead (default neither).
    - volume_kms_key_arn: encrypts the storage volume (where the type has no local NVMe storage, which is
      hardware-encrypted and takes no key) and async outputs; default a new key with rotation ($1/month).
    - data_capture: default None: no request or response is stored.
    - network_isolation: default True: the model container makes no network calls.
    - non_essential: default False; True tags the endpoint `aifinops:non-essential=true`, so a
      DdosCostResponse scales it to its minimum during an attack.
    - tags: extra tags (cost tags come from the stack's cost-tag transform).
    """

    image_uri: str
    execution_role_arn: pulumi.Input[str]
    model_data_url: Optional[str] = None
    environment: Mapping[str, str] = field(default_factory=dict)
    instance_type: str = "ml.g5.xlarge"
    initial_instance_count: Optional[int] = None
    autoscaling: Optional[EndpointAutoscaling] = field(default_factory=EndpointAutoscaling)
    serverless: Optional[ServerlessInference] = None
    async_inference: Optional[AsyncInference] = None
    approved_instance_types: Sequence[str] = catalog.DEFAULT_APPROVED_INSTANCE_TYPES
    volume_kms_key_arn: Optional[pulumi.Input[str]] = None
    data_capture: Optional[DataCapture] = None
    network_isolation: bool = True
    non_essential: bool = False
    tags: Mapping[str, str] = field(default_factory=dict)


@lru_cache(maxsize=1)
def endpoint_instance_types() -> tuple[str, ...]:
    """The instance types SageMaker endpoints take, from AWS's own SageMaker API model in botocore."""
    import botocore.session

    return tuple(botocore.session.get_session().get_service_model("sagemaker").shape_for(
        "ProductionVariantInstanceType").enum)


def s3_uri(argument: str, value: Any) -> str:
    return checks.text(argument, value, _S3_URI, "an s3://bucket/key URI")


def validate_autoscaling(scaling: Any, is_async: bool) -> EndpointAutoscaling:
    if not isinstance(scaling, EndpointAutoscaling):
        raise ValueError(f"autoscaling: expected EndpointAutoscaling or None, got {scaling!r}")
    lowest = 0 if is_async else 1
    checks.whole_number("autoscaling.min_capacity", scaling.min_capacity, lowest, unit="instances")
    checks.whole_number("autoscaling.max_capacity", scaling.max_capacity, max(1, scaling.min_capacity), unit="instances")
    checks.positive_number("autoscaling.target_invocations_per_instance", scaling.target_invocations_per_instance)
    if (scaling.custom_metric_name is None) != (scaling.custom_metric_namespace is None) or \
            (scaling.custom_metric_name is None) != (scaling.custom_metric_target is None):
        raise ValueError("autoscaling.custom_metric_name: give custom_metric_name, custom_metric_namespace and "
                         f"custom_metric_target together, got {scaling.custom_metric_name!r}, "
                         f"{scaling.custom_metric_namespace!r}, {scaling.custom_metric_target!r}")
    if scaling.custom_metric_target is not None:
        checks.positive_number("autoscaling.custom_metric_target", scaling.custom_metric_target)
        checks.one_of("autoscaling.custom_metric_statistic", scaling.custom_metric_statistic,
                      ("Average", "Maximum", "Minimum", "Sum", "SampleCount"))
    checks.whole_number("autoscaling.scale_out_cooldown_seconds", scaling.scale_out_cooldown_seconds, 0, unit="seconds")
    checks.whole_number("autoscaling.scale_in_cooldown_seconds", scaling.scale_in_cooldown_seconds, 0, unit="seconds")
    return scaling


def validate_serverless(serverless: Any) -> ServerlessInference:
    if not isinstance(serverless, ServerlessInference):
        raise ValueError(f"serverless: expected ServerlessInference, got {serverless!r}")
    if serverless.memory_size_mb not in SERVERLESS_MEMORY_MB or isinstance(serverless.memory_size_mb, bool):
        raise ValueError(f"serverless.memory_size_mb: expected one of {', '.join(map(str, SERVERLESS_MEMORY_MB))}, "
                         f"got {serverless.memory_size_mb!r}")
    checks.whole_number("serverless.max_concurrency", serverless.max_concurrency, 1, 200)
    if serverless.provisioned_concurrency is not None:
        checks.whole_number("serverless.provisioned_concurrency", serverless.provisioned_concurrency, 1,
                            serverless.max_concurrency)
    return serverless


def validate_async(config: Any) -> AsyncInference:
    if not isinstance(config, AsyncInference):
        raise ValueError(f"async_inference: expected AsyncInference, got {config!r}")
    s3_uri("async_inference.output_s3_uri", config.output_s3_uri)
    if config.failure_s3_uri is not None:
        s3_uri("async_inference.failure_s3_uri", config.failure_s3_uri)
    checks.whole_number("async_inference.max_concurrent_invocations_per_instance",
                        config.max_concurrent_invocations_per_instance, 1, 1000)
    checks.arn_in_region("async_inference.success_topic_arn", config.success_topic_arn, "sns", None)
    checks.arn_in_region("async_inference.error_topic_arn", config.error_topic_arn, "sns", None)
    checks.positive_number("async_inference.backlog_per_instance", config.backlog_per_instance)
    return config


def volume_key_policy(partition: str, account_id: str) -> str:
    """The account administers the key; SageMaker uses it through the account's own principals."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountAdministersKey", "Effect": "Allow",
         "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"}, "Action": "kms:*", "Resource": "*"}]})


class SageMakerEndpoint(pulumi.ComponentResource):
    """A model, an endpoint configuration with one variant, an endpoint, and its autoscaling."""

    endpoint_name: pulumi.Output[str]
    endpoint_arn: pulumi.Output[str]
    model_name: pulumi.Output[str]
    variant_kind: str

    def __init__(self, name: str, args: SageMakerEndpointArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        if not isinstance(args, SageMakerEndpointArgs):
            raise ValueError(f"args: expected SageMakerEndpointArgs, got {type(args).__name__}")
        checks.text("image_uri", args.image_uri)
        if isinstance(args.execution_role_arn, str):
            checks.text("execution_role_arn", args.execution_role_arn, _ROLE_ARN, "an IAM role ARN")
        elif not isinstance(args.execution_role_arn, pulumi.Output):
            raise ValueError(f"execution_role_arn: expected an IAM role ARN, got {args.execution_role_arn!r}")
        if args.model_data_url is not None:
            s3_uri("model_data_url", args.model_data_url)
        if not isinstance(args.environment, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in args.environment.items()):
            raise ValueError(f"environment: expected a mapping of variable names to strings, got {args.environment!r}")
        if args.serverless is not None and args.async_inference is not None:
            raise ValueError("serverless: a variant is serverless or asynchronous, not both; got both")
        serverless = validate_serverless(args.serverless) if args.serverless is not None else None
        async_config = validate_async(args.async_inference) if args.async_inference is not None else None
        self.variant_kind = "serverless" if serverless else "async" if async_config else "instances"
        scaling = None
        spec = None
        if serverless is None:
            catalog.require_approved_sagemaker_type("instance_type", args.instance_type, args.approved_instance_types,
                                                    endpoint_instance_types())
            spec = catalog.lookup(args.instance_type)
            if args.autoscaling is not None:
                scaling = validate_autoscaling(args.autoscaling, async_config is not None)
                if async_config is not None and args.autoscaling == EndpointAutoscaling():
                    scaling = EndpointAutoscaling(min_capacity=0)  # the default for async: scale to zero
        elif args.autoscaling not in (None, EndpointAutoscaling()):
            raise ValueError("autoscaling: a serverless variant scales itself (max_concurrency); got autoscaling "
                             f"{args.autoscaling!r}")
        count = args.initial_instance_count
        if count is None:
            count = max(1, scaling.min_capacity) if scaling else 1
        checks.whole_number("initial_instance_count", count, 1, unit="instances")
        if scaling and not scaling.min_capacity <= count <= scaling.max_capacity and scaling.min_capacity > 0:
            raise ValueError(f"initial_instance_count: expected {scaling.min_capacity} to {scaling.max_capacity} "
                             f"(autoscaling's range), got {count}")
        checks.arn_in_region("volume_kms_key_arn", args.volume_kms_key_arn, "kms", None)
        capture = args.data_capture
        if capture is not None:
            if not isinstance(capture, DataCapture):
                raise ValueError(f"data_capture: expected DataCapture or None, got {capture!r}")
            s3_uri("data_capture.destination_s3_uri", capture.destination_s3_uri)
            checks.whole_number("data_capture.sampling_percentage", capture.sampling_percentage, 1, 100, "percent")
        isolation = checks.flag("network_isolation", args.network_isolation)
        non_essential = checks.flag("non_essential", args.non_essential)
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Types with local NVMe storage are hardware-encrypted, and SageMaker rejects a key for them; a type
        # the catalog does not know (CPU types) gets the key.
        volume_takes_key = serverless is None and not (spec is not None and spec.has_local_storage)
        key_arn: Optional[pulumi.Input[str]] = args.volume_kms_key_arn
        if key_arn is None and (volume_takes_key or async_config is not None or capture is not None):
            invoke = pulumi.InvokeOptions(parent=self)
            policy = pulumi.Output.all(aws.get_partition_output(opts=invoke).partition,
                                       aws.get_caller_identity_output(opts=invoke).account_id).apply(
                lambda v: volume_key_policy(v[0], v[1]))
            key_arn = aws.kms.Key(f"{name}-key", description=f"aifinops SageMakerEndpoint {name}: storage and outputs",
                                  enable_key_rotation=True, deletion_window_in_days=30, policy=policy,
                                  tags=tags or None, opts=child).arn

        container: dict[str, Any] = {"image": args.image_uri}
        if args.model_data_url:
            container["model_data_url"] = args.model_data_url
        if args.environment:
            container["environment"] = dict(args.environment)
        model = aws.sagemaker.Model(f"{name}-model", execution_role_arn=args.execution_role_arn,
                                    primary_container=container, enable_network_isolation=isolation,
                                    tags=tags or None, opts=child)
        variant: dict[str, Any] = {"variant_name": VARIANT_NAME, "model_name": model.name}
        if serverless is not None:
            variant["serverless_config"] = {
                "memory_size_in_mb": serverless.memory_size_mb, "max_concurrency": serverless.max_concurrency,
                **({"provisioned_concurrency": serverless.provisioned_concurrency}
                   if serverless.provisioned_concurrency else {})}
        else:
            variant.update(instance_type=args.instance_type, initial_instance_count=count, initial_variant_weight=1.0)
        config_args: dict[str, Any] = {"production_variants": [variant]}
        if volume_takes_key:
            config_args["kms_key_arn"] = key_arn
        if async_config is not None:
            failure = async_config.failure_s3_uri or async_config.output_s3_uri.rstrip("/") + "/failures/"
            notification = {k: v for k, v in (("success_topic", async_config.success_topic_arn),
                                              ("error_topic", async_config.error_topic_arn)) if v is not None}
            config_args["async_inference_config"] = {
                "client_config": {"max_concurrent_invocations_per_instance":
                                  async_config.max_concurrent_invocations_per_instance},
                "output_config": {"s3_output_path": async_config.output_s3_uri, "s3_failure_path": failure,
                                  "kms_key_id": key_arn, **({"notification_config": notification} if notification else {})}}
        if capture is not None:
            config_args["data_capture_config"] = {
                "enable_capture": True, "initial_sampling_percentage": capture.sampling_percentage,
                "destination_s3_uri": capture.destination_s3_uri, "kms_key_id": key_arn,
                "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}]}
        endpoint_config = aws.sagemaker.EndpointConfiguration(f"{name}-config", **config_args, tags=tags or None,
                                                              opts=child)
        endpoint_tags = {**tags, **({NON_ESSENTIAL_TAG: "true"} if non_essential else {})}
        endpoint = aws.sagemaker.Endpoint(f"{name}-endpoint", endpoint_config_name=endpoint_config.name,
                                          tags=endpoint_tags or None, opts=child)
        if scaling is not None:
            self._autoscaling(name, endpoint, scaling, async_config)

        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.model_name = model.name
        self.register_outputs({"endpointName": endpoint.name, "endpointArn": endpoint.arn, "modelName": model.name,
                               "variantKind": self.variant_kind})

    def _autoscaling(self, name: str, endpoint: aws.sagemaker.Endpoint, scaling: EndpointAutoscaling,
                     async_config: Optional[AsyncInference]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        target = aws.appautoscaling.Target(
            f"{name}-scaling", service_namespace="sagemaker", scalable_dimension=SCALABLE_DIMENSION,
            resource_id=endpoint.name.apply(lambda n: f"endpoint/{n}/variant/{VARIANT_NAME}"),
            min_capacity=scaling.min_capacity, max_capacity=scaling.max_capacity, opts=child)
        tracking: dict[str, Any] = {"scale_in_cooldown": scaling.scale_in_cooldown_seconds,
                                    "scale_out_cooldown": scaling.scale_out_cooldown_seconds}
        if scaling.custom_metric_name is not None:
            tracking.update(target_value=scaling.custom_metric_target, customized_metric_specification={
                "metric_name": scaling.custom_metric_name, "namespace": scaling.custom_metric_namespace,
                "statistic": scaling.custom_metric_statistic,
                "dimensions": [{"name": "EndpointName", "value": endpoint.name},
                               {"name": "VariantName", "value": VARIANT_NAME}]})
        elif async_config is not None:
            tracking.update(target_value=async_config.backlog_per_instance, customized_metric_specification={
                "metric_name": BACKLOG_METRIC, "namespace": "AWS/SageMaker", "statistic": "Average",
                "dimensions": [{"name": "EndpointName", "value": endpoint.name}]})
        else:
            tracking.update(target_value=scaling.target_invocations_per_instance,
                            predefined_metric_specification={"predefined_metric_type": INVOCATIONS_METRIC})
        scaling_ids = {"service_namespace": target.service_namespace, "scalable_dimension": target.scalable_dimension,
                       "resource_id": target.resource_id}
        aws.appautoscaling.Policy(f"{name}-target-tracking", policy_type="TargetTrackingScaling",
                                  target_tracking_scaling_policy_configuration=tracking, **scaling_ids, opts=child)
        if async_config is not None and scaling.min_capacity == 0:
            # Target tracking cannot leave zero (no instance reports a backlog per instance): a step policy
            # adds one instance when requests wait with no capacity at all.
            from_zero = aws.appautoscaling.Policy(
                f"{name}-scale-from-zero", policy_type="StepScaling", step_scaling_policy_configuration={
                    "adjustment_type": "ChangeInCapacity", "cooldown": scaling.scale_out_cooldown_seconds,
                    "metric_aggregation_type": "Maximum",
                    "step_adjustments": [{"metric_interval_lower_bound": "0", "scaling_adjustment": 1}]},
                **scaling_ids, opts=child)
            aws.cloudwatch.MetricAlarm(
                f"{name}-backlog-without-capacity",
                alarm_description=f"aifinops SageMakerEndpoint {name}: requests wait and no instance serves them",
                namespace="AWS/SageMaker", metric_name=BACKLOG_WITHOUT_CAPACITY_METRIC,
                dimensions={"EndpointName": endpoint.name}, statistic="Average", period=60, evaluation_periods=2,
                threshold=1, comparison_operator="GreaterThanOrEqualToThreshold", treat_missing_data="missing",
                actions_enabled=True, alarm_actions=[from_zero.arn], opts=child)
