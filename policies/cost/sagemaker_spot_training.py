"""sagemaker-spot-training: SageMaker training the stack launches runs on managed spot capacity.

Advisory by default: some training (short jobs, strict deadlines) is right on demand. Where the stack
says how training is launched, the policy reads it:

- `sagemaker.TrainingJob`: `enableManagedSpotTraining` must be true;
- `sagemaker.Pipeline` with an inline `pipelineDefinition`: every Training step (`EnableManagedSpotTraining`
  in its arguments) and Tuning step (in `TrainingJobDefinition`/`TrainingJobDefinitions`), also inside
  Condition steps; a definition that cannot be read (in S3, or not JSON) is reported, not passed;
- notebook instance and Studio lifecycle configurations: a script (base64, as the API takes it) that
  launches training (`create_training_job`, `create-training-job`, an SDK estimator's `.fit(`) must
  ask for spot (`EnableManagedSpotTraining`, `--enable-managed-spot-training`, `use_spot_instances=True`).

What it cannot see at preview time: jobs started from notebooks by hand, from CI, or by code outside the
stack; pipeline definitions kept in S3 (reported as unreadable); a value that is unknown until deploy.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Iterator

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity

from ..preview_values import as_list, dig, is_unknown, plain

NAME = "sagemaker-spot-training"
TRAINING_JOB = "aws:sagemaker/trainingJob:TrainingJob"
PIPELINE = "aws:sagemaker/pipeline:Pipeline"
LIFECYCLE_SCRIPTS = {
    "aws:sagemaker/notebookInstanceLifecycleConfiguration:NotebookInstanceLifecycleConfiguration": ("onCreate", "onStart"),
    "aws:sagemaker/studioLifecycleConfig:StudioLifecycleConfig": ("studioLifecycleConfigContent",),
}
_LAUNCHES_TRAINING = re.compile(r"create_training_job|create-training-job|\.fit\(")
_ASKS_FOR_SPOT = re.compile(r"EnableManagedSpotTraining['\"]?\s*[:=]\s*True|--enable-managed-spot-training"
                            r"|use_spot_instances\s*=\s*True")
ADVICE = ("Managed spot training costs up to 90% less and resumes from the last checkpoint after an "
          "interruption: set EnableManagedSpotTraining, MaxWaitTimeInSeconds >= MaxRuntimeInSeconds and a "
          "CheckpointConfig (aifinops.core.sagemaker_training.SpotTrainingJobDefaults builds them).")


def _validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in (TRAINING_JOB, PIPELINE) and args.resource_type not in LIFECYCLE_SCRIPTS:
        return  # before converting the properties: the pack sees every resource of the stack
    props = plain(args.props)
    if args.resource_type == TRAINING_JOB:
        spot = dig(props, "enableManagedSpotTraining")
        if spot is not True and not is_unknown(spot):
            report_violation(f"The training job runs on demand (enableManagedSpotTraining is {spot!r}). {ADVICE}", None)
    elif args.resource_type == PIPELINE:
        for problem in pipeline_problems(props):
            report_violation(f"{problem}. {ADVICE}", None)
    elif args.resource_type in LIFECYCLE_SCRIPTS:
        for key in LIFECYCLE_SCRIPTS[args.resource_type]:
            problem = script_problem(key, dig(props, key))
            if problem:
                report_violation(f"{problem}. {ADVICE}", None)


def pipeline_problems(props: Any) -> list[str]:
    definition = dig(props, "pipelineDefinition")
    if is_unknown(definition):
        return []
    if definition is None:
        where = "in S3" if dig(props, "pipelineDefinitionS3Location") is not None else "not given"
        return [f"The pipeline definition is {where}, so its training steps cannot be checked at preview time"]
    try:
        document = json.loads(definition)
    except (TypeError, json.JSONDecodeError):
        return ["The pipeline definition is not JSON, so its training steps cannot be checked"]
    problems = []
    for step in _steps(as_list(dig(document, "Steps"))):
        name, kind, arguments = dig(step, "Name"), dig(step, "Type"), dig(step, "Arguments")
        if kind == "Training":
            jobs = [arguments]
        elif kind == "Tuning":
            jobs = [dig(arguments, "TrainingJobDefinition"), *as_list(dig(arguments, "TrainingJobDefinitions"))]
            jobs = [job for job in jobs if job is not None]
        else:
            continue
        for job in jobs:
            spot = dig(job, "EnableManagedSpotTraining")
            if spot is not True and not isinstance(spot, dict):  # a {"Get": ...} parameter is decided at run time
                problems.append(f"{kind} step {name!r} trains on demand (EnableManagedSpotTraining is {spot!r})")
    return problems


def _steps(steps: list[Any]) -> Iterator[Any]:
    for step in steps:
        yield step
        if dig(step, "Type") == "Condition":
            arguments = dig(step, "Arguments")
            yield from _steps(as_list(dig(arguments, "IfSteps")) + as_list(dig(arguments, "ElseSteps")))


def script_problem(key: str, encoded: Any) -> str:
    if encoded is None or is_unknown(encoded) or not isinstance(encoded, str):
        return ""
    try:
        script = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return f"{key} is not a base64-encoded script, so what it launches cannot be checked"
    if _LAUNCHES_TRAINING.search(script) and not _ASKS_FOR_SPOT.search(script):
        return f"The {key} script launches training without asking for managed spot"
    return ""


POLICY = ResourceValidationPolicy(
    name=NAME,
    description="SageMaker training launched by the stack uses managed spot training.",
    validate=_validate,
    enforcement_level=EnforcementLevel.ADVISORY,
    severity=Severity.MEDIUM,
    remediation_steps="Launch training with EnableManagedSpotTraining, MaxWaitTimeInSeconds >= MaxRuntimeInSeconds "
                      "and a CheckpointConfig (SpotTrainingJobDefaults.create_training_job_arguments), or set this "
                      "policy's enforcement level to disabled for stacks whose training must run on demand.",
)
