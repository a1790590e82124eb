"""GpuInstance: one GPU or accelerator EC2 instance with cost tags and secure defaults.

The launch defaults (AMI lookup, IMDSv2, encrypted gp3 root volume, SSM-managed instance role) live
here as functions so that GpuFleet's launch template reuses them rather than copying them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from aifinops.core import catalog
from aifinops.core import gpu_agent_config
from aifinops.core.argument_checks import whole_number

from .gpu_metrics_agent import LowUtilisationAlarm, install_cloudwatch_agent, low_utilisation_alarm, validate_alarm

SSM_MANAGED_POLICY = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
# AWS Deep Learning AMIs, published by Amazon. The Neuron AMI carries the Trainium/Inferentia SDK.
DLAMI_NAME_GPU = "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04) *"
DLAMI_NAME_NEURON = "Deep Learning AMI Neuron (Ubuntu 22.04) *"
MIN_ROOT_VOLUME_GB, MAX_ROOT_VOLUME_GB = 8, 16384


@dataclass
class SpotOptions:
    """Run on spot capacity.

    max_price_fraction: the most to pay, as a fraction of the on-demand price (default 1.0: never more
    than on-demand). interruption_behavior: 'stop' (default) keeps the EBS root volume so training can
    resume from its checkpoint; 'hibernate' also keeps memory (the AMI and type must support it).
    """

    max_price_fraction: float = 1.0
    interruption_behavior: Literal["stop", "hibernate"] = "stop"


@dataclass
class GpuInstanceArgs:
    """Arguments of GpuInstance. Only `instance_type` is required.

    - ami_id: default, the latest AWS Deep Learning AMI for the accelerator (GPU or Neuron), looked up
      with aws.ec2.get_ami.
    - subnet_id / security_group_ids: default, the account's default VPC placement.
    - root_volume_gb: encrypted gp3 root volume size (default 200 GB: a DLAMI plus a dataset cache).
    - spot: None (default) runs on demand.
    - checkpoint_bucket_arn / checkpoint_prefix: grant the instance read/write on that prefix only.
    - associate_public_ip: default False. A GPU instance is reached through SSM, never directly.
    - detailed_monitoring: default True (1-minute metrics, which the idle-GPU reaper needs).
    - gpu_metrics: default True: the CloudWatch agent is installed and configured through SSM to publish
      nvidia_gpu metrics (utilisation, memory, power, temperature) per instance, and the role gets
      CloudWatchAgentServerPolicy. False for teams that ship their own agent. Neuron and Gaudi types get
      no agent (nothing reads their accelerators), with a warning.
    - low_utilisation_alarm: default LowUtilisationAlarm() (below 50% for 10 minutes); None for none.
      Created on NVIDIA types whenever GPU metrics are expected, i.e. also with gpu_metrics=False.
    - alert_topic_arn: where the alarm goes (the stack's alert topic); default none: the alarm only
      changes state (shown on a CostDashboard).
    """

    instance_type: str
    ami_id: Optional[pulumi.Input[str]] = None
    subnet_id: Optional[pulumi.Input[str]] = None
    security_group_ids: Optional[Sequence[pulumi.Input[str]]] = None
    root_volume_gb: int = 200
    kms_key_id: Optional[pulumi.Input[str]] = None
    spot: Optional[SpotOptions] = None
    checkpoint_bucket_arn: Optional[pulumi.Input[str]] = None
    checkpoint_prefix: str = "checkpoints/"
    associate_public_ip: bool = False
    detailed_monitoring: bool = True
    user_data: Optional[str] = None
    gpu_metrics: bool = True
    low_utilisation_alarm: Optional[LowUtilisationAlarm] = field(default_factory=LowUtilisationAlarm)
    alert_topic_arn: Optional[pulumi.Input[str]] = None
    tags: Mapping[str, str] = field(default_factory=dict)


def validate_root_volume(argument: str, size: Any) -> int:
    return whole_number(argument, size, MIN_ROOT_VOLUME_GB, MAX_ROOT_VOLUME_GB, "GB")


def validate_spot(argument: str, spot: Any) -> Optional[SpotOptions]:
    if spot is None:
        return None
    if not isinstance(spot, SpotOptions):
        raise ValueError(f"{argument}: expected SpotOptions or None, got {spot!r}")
    fraction = spot.max_price_fraction
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise ValueError(f"{argument}.max_price_fraction: expected a fraction of the on-demand price in (0, 1], "
                         f"got {fraction!r}")
    if spot.interruption_behavior not in ("stop", "hibernate"):
        raise ValueError(f"{argument}.interruption_behavior: expected 'stop' or 'hibernate', "
                         f"got {spot.interruption_behavior!r}")
    return spot


def validate_tags(argument: str, tags: Any) -> dict[str, str]:
    if not isinstance(tags, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError(f"{argument}: expected a mapping of string tag keys to string values, got {tags!r}")
    return dict(tags)


def validate_checkpoint_prefix(argument: str, prefix: Any) -> str:
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise ValueError(f"{argument}: expected a key prefix ending in '/', got {prefix!r}")
    return prefix


def dlami_name(spec: catalog.AcceleratorSpec) -> str:
    """The Deep Learning AMI name pattern for this accelerator kind (Neuron SDK or NVIDIA driver)."""
    return DLAMI_NAME_NEURON if spec.kind in ("trainium", "inferentia") else DLAMI_NAME_GPU


def deep_learning_ami(spec: catalog.AcceleratorSpec, opts: pulumi.InvokeOptions) -> pulumi.Output[str]:
    """The latest AWS Deep Learning AMI for this accelerator kind."""
    ami = aws.ec2.get_ami_output(most_recent=True, owners=["amazon"],
                                 filters=[{"name": "name", "values": [dlami_name(spec)]},
                                          {"name": "architecture", "values": ["x86_64"]}], opts=opts)
    return ami.id


def metadata_options() -> dict[str, Any]:
    """IMDSv2 only: blocks the SSRF credential theft that IMDSv1 allows."""
    return {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 2}


def root_volume(size_gb: int, kms_key_id: Optional[pulumi.Input[str]]) -> dict[str, Any]:
    return {"volume_type": "gp3", "volume_size": size_gb, "encrypted": True, "kms_key_id": kms_key_id,
            "delete_on_termination": True}


def launch_template_root_volume(size_gb: int, kms_key_id: Optional[pulumi.Input[str]],
                                device_name: str) -> dict[str, Any]:
    """root_volume() as a launch-template block device (whose EBS flags are the strings 'true'/'false')."""
    ebs = {key: ("true" if value is True else value) for key, value in root_volume(size_gb, kms_key_id).items()}
    return {"device_name": device_name, "ebs": ebs}


def instance_role(name: str, checkpoint_bucket_arn: Optional[pulumi.Input[str]], checkpoint_prefix: str,
                  parent: pulumi.Resource) -> aws.iam.InstanceProfile:
    # The profile's `role` output is the role's name, which the CloudWatch agent grant attaches to.
    """An instance profile with SSM access, plus read/write on the checkpoint prefix when given."""
    opts = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(f"{name}-role", assume_role_policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }), opts=opts)
    aws.iam.RolePolicyAttachment(f"{name}-ssm", role=role.name, policy_arn=SSM_MANAGED_POLICY, opts=opts)
    if checkpoint_bucket_arn is not None:
        aws.iam.RolePolicy(f"{name}-checkpoints", role=role.id, policy=pulumi.Output.from_input(
            checkpoint_bucket_arn).apply(lambda arn: checkpoint_policy(arn, checkpoint_prefix)), opts=opts)
    return aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=opts)


def checkpoint_policy(bucket_arn: str, prefix: str) -> str:
    """Least privilege: list the prefix, read and write objects under it; nothing else in the bucket."""
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn,
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
         "Resource": f"{bucket_arn}/{prefix}*"},
    ]})


def hourly_price(spec: catalog.AcceleratorSpec, spot: Optional[SpotOptions]) -> Optional[float]:
    """Estimated USD/hour: on-demand, or the typical spot price capped by the max price."""
    on_demand = catalog.on_demand_price(spec.instance_type)
    if on_demand is None:
        return None
    if spot is None:
        return on_demand
    typical = on_demand * (1 - catalog.spot_discount(spec.instance_type))
    return round(min(typical, on_demand * spot.max_price_fraction), 4)


class GpuInstance(pulumi.ComponentResource):
    """One accelerated EC2 instance: IMDSv2, encrypted gp3 root, no public IP, SSM access, cost tags."""

    instance_id: pulumi.Output[str]
    arn: pulumi.Output[str]
    instance_type: str
    hourly_price_usd: Optional[float]
    gpu_metrics_collected: bool
    low_utilisation_alarm_arn: Optional[pulumi.Output[str]]
    gpu_metrics_expected: bool
    alarm_threshold_percent: Optional[float]

    def __init__(self, name: str, args: GpuInstanceArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # Validate everything before registering anything.
        if not isinstance(args, GpuInstanceArgs):
            raise ValueError(f"args: expected GpuInstanceArgs, got {type(args).__name__}")
        spec = catalog.require_accelerated("instance_type", args.instance_type)
        root_gb = validate_root_volume("root_volume_gb", args.root_volume_gb)
        spot = validate_spot("spot", args.spot)
        tags = validate_tags("tags", args.tags)
        if spot and spot.interruption_behavior == "hibernate" and root_gb < (spec.memory_gib or 0):
            raise ValueError(f"root_volume_gb: hibernation writes RAM to the root volume; {args.instance_type} has "
                             f"{spec.memory_gib} GiB of memory, got {root_gb} GB")
        validate_checkpoint_prefix("checkpoint_prefix", args.checkpoint_prefix)
        if not isinstance(args.gpu_metrics, bool):
            raise ValueError(f"gpu_metrics: expected true or false, got {args.gpu_metrics!r}")
        alarm = validate_alarm("low_utilisation_alarm", args.low_utilisation_alarm)
        collects = gpu_agent_config.collects_gpu_metrics(spec)

        super().__init__("aifinops:compute:GpuInstance", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        profile = instance_role(name, args.checkpoint_bucket_arn, args.checkpoint_prefix, self)
        ami = args.ami_id if args.ami_id is not None else deep_learning_ami(spec, pulumi.InvokeOptions(parent=self))
        on_demand = catalog.on_demand_price(spec.instance_type)
        market = None
        if spot is not None:
            market = {"market_type": "spot", "spot_options": {
                "spot_instance_type": "persistent",  # stop/hibernate needs a persistent request
                "instance_interruption_behavior": spot.interruption_behavior,
                "max_price": f"{on_demand * spot.max_price_fraction:.4f}" if on_demand else None}}
        instance = aws.ec2.Instance(
            f"{name}",
            instance_type=spec.instance_type,
            ami=ami,
            subnet_id=args.subnet_id,
            vpc_security_group_ids=args.security_group_ids,
            iam_instance_profile=profile.name,
            associate_public_ip_address=args.associate_public_ip,
            monitoring=args.detailed_monitoring,
            ebs_optimized=True,
            metadata_options=metadata_options(),
            root_block_device=root_volume(root_gb, args.kms_key_id),
            instance_market_options=market,
            hibernation=spot is not None and spot.interruption_behavior == "hibernate",
            user_data=args.user_data,
            tags={"Name": name, **tags},
            opts=child,
        )
        self.gpu_metrics_collected = args.gpu_metrics and collects
        if self.gpu_metrics_collected:
            install_cloudwatch_agent(name, profile.role, {"key": "InstanceIds", "values": [instance.id]},
                                     fleet=False, parent=self)
        elif args.gpu_metrics:
            pulumi.log.warn(gpu_agent_config.not_collected_warning(name, [spec]), resource=self)
        self.gpu_metrics_expected = collects  # NVIDIA GPUs: from this agent or the team's own
        self.alarm_threshold_percent = alarm.threshold_percent if alarm is not None and collects else None
        self.low_utilisation_alarm_arn = None
        if alarm is not None and collects:
            self.low_utilisation_alarm_arn = low_utilisation_alarm(
                name, alarm, gpu_agent_config.INSTANCE_DIMENSION, instance.id, args.alert_topic_arn, self).arn
        self.instance_id = instance.id
        self.arn = instance.arn
        self.instance_type = spec.instance_type
        self.hourly_price_usd = hourly_price(spec, spot)
        self.register_outputs({"instanceId": instance.id, "arn": instance.arn,
                               "hourlyPriceUsd": self.hourly_price_usd,
                               "gpuMetricsCollected": self.gpu_metrics_collected,
                               "lowUtilisationAlarmArn": self.low_utilisation_alarm_arn})
