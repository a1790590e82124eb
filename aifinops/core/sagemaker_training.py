"""Managed spot training for SageMaker: the `create_training_job` arguments, right the first time.

Spot capacity costs up to 90% less than on-demand, and SageMaker's managed spot training resumes an
interrupted job from its last checkpoint on its own, so long jobs lose at most the work since then.
What it needs, in the API's own terms:

- `EnableManagedSpotTraining: True`;
- `StoppingCondition.MaxWaitTimeInSeconds` (time waiting for spot capacity plus training) at least
  `MaxRuntimeInSeconds`; SageMaker rejects the job otherwise;
- `CheckpointConfig.S3Uri`: where the training container's `/opt/ml/checkpoints` is synced, so a job
  resumed after an interruption starts from the newest checkpoint. It defaults to the TieredBucket
  `checkpoints/` prefix (the "checkpoints" lifecycle preset keeps it in S3 Standard and expires it).

There is no `SpotInstanceCount`: spot is a job-level flag, and every instance of the job is spot.
tests/test_sagemaker_training.py validates the arguments against botocore's SageMaker service model.

    from aifinops.core.sagemaker_training import SpotTrainingJobDefaults
    defaults = SpotTrainingJobDefaults(role_arn=..., image_uri=..., checkpoint_bucket="ckpt-bucket",
                                       cost_tags={"CostCenter": "ml", "Project": "llm", "Environment": "dev"})
    boto3.client("sagemaker").create_training_job(**defaults.create_training_job_arguments("llm-ft-42"))
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from . import argument_checks as checks
from . import catalog
from .lifecycle import CHECKPOINT_PREFIX

TRAINING_RUN_ID_TAG = "training_run_id"
# The spend report (`aifinops report`) groups training cost by this tag; it carries the same id.
TRAINING_RUN_REPORT_TAG = "TrainingRun"
LOCAL_CHECKPOINT_PATH = "/opt/ml/checkpoints"  # SageMaker's default; the training script writes here
MAX_RUNTIME_LIMIT_SECONDS = 28 * 24 * 3600  # SageMaker's longest training job
_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # CreateTrainingJob's TrainingJobName pattern
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_PREFIX = re.compile(r"^([A-Za-z0-9!_.*'()-]+/)*$")


@dataclass
class SpotTrainingJobDefaults:
    """What every spot training job of a team shares. Required: the role, the image and the checkpoint bucket.

    - role_arn: the SageMaker execution role; image_uri: the training image (ECR).
    - checkpoint_bucket: a bucket name (a TieredBucket with the "checkpoints" preset); checkpoint_prefix:
      default `checkpoints/`; each job checkpoints under `<prefix><training run id>/`.
    - output_s3_uri: where the model artifact goes; default `s3://<checkpoint_bucket>/models/`.
    - instance_type: default ml.g5.xlarge; an accelerated type must be in approved_instance_types (default
      the catalog's approved set, compared without the `ml.` prefix, as the approved-gpu-instance-types
      policy does). instance_count: default 1.
    - max_runtime_seconds: default 24 hours of training; max_wait_seconds: training plus waiting for spot
      capacity, default twice the runtime; never below it.
    - volume_size_gb: default 100. volume_kms_key_id / output_kms_key_id: default None, SageMaker's
      AWS-managed keys.
    - cost_tags: the cost-allocation tags (e.g. CostCenter, Project, Environment) every job carries, so the
      budget guard finds and stops them by their tags.
    """

    role_arn: str
    image_uri: str
    checkpoint_bucket: str
    checkpoint_prefix: str = CHECKPOINT_PREFIX
    output_s3_uri: Optional[str] = None
    instance_type: str = "ml.g5.xlarge"
    instance_count: int = 1
    max_runtime_seconds: int = 24 * 3600
    max_wait_seconds: Optional[int] = None
    volume_size_gb: int = 100
    volume_kms_key_id: Optional[str] = None
    output_kms_key_id: Optional[str] = None
    cost_tags: Mapping[str, str] = field(default_factory=dict)
    approved_instance_types: Sequence[str] = catalog.DEFAULT_APPROVED_INSTANCE_TYPES

    def __post_init__(self) -> None:
        checks.text("role_arn", self.role_arn, _ROLE_ARN, "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
        checks.text("image_uri", self.image_uri)
        checks.text("checkpoint_bucket", self.checkpoint_bucket, _BUCKET, "an S3 bucket name")
        checks.text("checkpoint_prefix", self.checkpoint_prefix, _PREFIX, "a key prefix ending in '/'")
        if self.output_s3_uri is not None:
            checks.text("output_s3_uri", self.output_s3_uri, re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/"),
                        "an s3://bucket/prefix/ URI")
        catalog.require_approved_sagemaker_type("instance_type", self.instance_type, self.approved_instance_types)
        self.instance_count = checks.whole_number("instance_count", self.instance_count, 1, 100, "instances")
        self.max_runtime_seconds = checks.whole_number("max_runtime_seconds", self.max_runtime_seconds, 1,
                                                       MAX_RUNTIME_LIMIT_SECONDS, "seconds")
        if self.max_wait_seconds is not None:
            self.max_wait_seconds = checks.whole_number("max_wait_seconds", self.max_wait_seconds, 1, unit="seconds")
            if self.max_wait_seconds < self.max_runtime_seconds:
                raise ValueError(f"max_wait_seconds: SageMaker requires at least max_runtime_seconds "
                                 f"({self.max_runtime_seconds}), got {self.max_wait_seconds}")
        self.volume_size_gb = checks.whole_number("volume_size_gb", self.volume_size_gb, 1, 16384, "GB")
        if not isinstance(self.cost_tags, Mapping) or not all(
                isinstance(k, str) and k and isinstance(v, str) and v for k, v in self.cost_tags.items()):
            raise ValueError(f"cost_tags: expected a mapping of tag keys to non-empty values, got {self.cost_tags!r}")
        reserved = {TRAINING_RUN_ID_TAG, TRAINING_RUN_REPORT_TAG} & set(self.cost_tags)
        if reserved:
            raise ValueError(f"cost_tags: {sorted(reserved)} are set per job from the training run id, not here")

    @property
    def max_wait(self) -> int:
        return self.max_wait_seconds if self.max_wait_seconds is not None else 2 * self.max_runtime_seconds

    def create_training_job_arguments(self, job_name: str, training_run_id: Optional[str] = None, *,
                                      hyperparameters: Optional[Mapping[str, str]] = None,
                                      input_data_config: Optional[Sequence[Mapping[str, Any]]] = None,
                                      ) -> dict[str, Any]:
        """Keyword arguments for boto3's `sagemaker.create_training_job`. training_run_id defaults to job_name."""
        checks.text("job_name", job_name, _JOB_NAME, "1-63 letters, digits and hyphens (a training job name)")
        run_id = job_name if training_run_id is None else checks.text("training_run_id", training_run_id)
        output_data: dict[str, Any] = {"S3OutputPath": self.output_s3_uri or f"s3://{self.checkpoint_bucket}/models/"}
        if self.output_kms_key_id:
            output_data["KmsKeyId"] = self.output_kms_key_id
        resources: dict[str, Any] = {"InstanceType": self.instance_type, "InstanceCount": self.instance_count,
                                     "VolumeSizeInGB": self.volume_size_gb}
        if self.volume_kms_key_id:
            resources["VolumeKmsKeyId"] = self.volume_kms_key_id
        tags = {**self.cost_tags, TRAINING_RUN_ID_TAG: run_id, TRAINING_RUN_REPORT_TAG: run_id}
        arguments: dict[str, Any] = {
            "TrainingJobName": job_name,
            "AlgorithmSpecification": {"TrainingImage": self.image_uri, "TrainingInputMode": "File"},
            "RoleArn": self.role_arn,
            "OutputDataConfig": output_data,
            "ResourceConfig": resources,
            "StoppingCondition": {"MaxRuntimeInSeconds": self.max_runtime_seconds,
                                  "MaxWaitTimeInSeconds": self.max_wait},
            "EnableManagedSpotTraining": True,
            "CheckpointConfig": {"S3Uri": f"s3://{self.checkpoint_bucket}/{self.checkpoint_prefix}{run_id}/",
                                 "LocalPath": LOCAL_CHECKPOINT_PATH},
            "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
        }
        if hyperparameters:
            arguments["HyperParameters"] = {str(k): str(v) for k, v in hyperparameters.items()}
        if input_data_config:
            arguments["InputDataConfig"] = [dict(channel) for channel in input_data_config]
        return arguments

