"""TagCompliance: the required cost tags, held in the account after the PR check.

- AWS Config rules with AWS's managed `REQUIRED_TAGS` rule (six keys per rule, so more keys make more
  rules), built from the same definition the `required-cost-tags` policy checks at preview
  (`aifinops.core.required_tags.RequiredTags`): flag untagged resources continuously. Or the same rules
  as one conformance pack, for accounts that manage rules that way.
- Optionally the region's AWS Config configuration recorder (rules evaluate nothing without one).
- Auto-tagging at launch: an EventBridge rule on the CloudTrail management events that create resources
  (`AUTO_TAGGED_EVENTS`) invokes the `aifinops.automation.auto_tagging_handler` Lambda, which adds the
  tags a resource lacks from a DynamoDB mapping table (by creator) or static defaults, and never changes
  or removes a tag. EventBridge sees these events only where a CloudTrail trail records management events.
- Optionally an AWS Organizations tag policy (deployed from the management account) with the keys, their
  case, their allowed values and the resource types to enforce on.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws
import yaml

from aifinops.core import argument_checks as checks
from aifinops.core.automation_settings import (
    AUTO_TAGGED_EVENTS,
    MAPPING_KEY_ATTRIBUTE,
    TAGGED_BY_TAG,
    AutoTaggingSettings,
    to_env,
)
from aifinops.core.required_tags import (
    CONFIG_RULE_IDENTIFIER,
    REQUIRED_TAGS_RESOURCE_TYPES,
    RequiredTags,
    validate_config_resource_types,
    validate_tag_policy_types,
)

from .automation_lambda import (
    AccountScope,
    FunctionSettings,
    account_scope,
    declare_checkov_exceptions,
    deploy_handler,
)
from .checkov_suppressions import suppress_checkov
from .gpu_instance import validate_tags

TYPE_TOKEN = "aifinops:governance:TagCompliance"
HANDLER = "aifinops.automation.auto_tagging_handler.handler"
declare_checkov_exceptions(TYPE_TOKEN)
suppress_checkov(component_type=TYPE_TOKEN, resource_type="aws:cfg/recorder:Recorder", check_id="CKV2_AWS_48",
                 reason="the recorder records only the resource types the tag rules evaluate: recording every "
                        "supported type costs $0.003 per configuration item for items no rule here reads")
DEPLOYMENTS = ("rules", "conformance-pack")
CONFIG_ROLE_POLICY = "arn:{partition}:iam::aws:policy/service-role/AWS_ConfigRole"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ORG_TARGET = re.compile(r"^(r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|\d{12})$")


@dataclass
class RecorderArgs:
    """The region's configuration recorder, for accounts that have none (an account has one per region;
    AWS Control Tower and most landing zones already run it: then leave `recorder` unset).

    - delivery_bucket_name: required; an existing bucket (with a bucket policy that lets AWS Config write
      under AWSLogs/) where Config delivers configuration history and snapshots.
    - record_all_supported: default False: record only the resource types the rules evaluate
      ($0.003 per configuration item recorded); True records every supported type.
    """

    delivery_bucket_name: str = ""
    record_all_supported: bool = False

    def validate(self) -> "RecorderArgs":
        checks.text("recorder.delivery_bucket_name", self.delivery_bucket_name, _BUCKET, "an S3 bucket name")
        checks.flag("recorder.record_all_supported", self.record_all_supported)
        return self


@dataclass
class AutoTaggingArgs:
    """The auto-tagging Lambda.

    - settings: AutoTaggingSettings (default: no default tags, dry run). The component sets its
      `tag_keys` to required_tags' keys and its `mapping_table` from `mapping_table` below.
    - mapping_table: True creates the DynamoDB mapping table (on-demand, encrypted with the function's
      key, point-in-time recovery, deletion protection); a table name uses an existing table in this
      account and region; default False: defaults only.
    - function: timeout (default 60 s), memory, log retention (default 30 days) and KMS key.
    """

    settings: AutoTaggingSettings = field(default_factory=AutoTaggingSettings)
    mapping_table: Any = False
    function: FunctionSettings = field(default_factory=lambda: FunctionSettings(timeout_seconds=60))


@dataclass
class TagPolicyArgs:
    """An AWS Organizations tag policy; deploy it with the management account's (or a delegated
    administrator's) credentials.

    - target_ids: the root (r-...), OUs (ou-...) or account ids to attach it to (default none: the policy
      is created and attached to nothing).
    - enforced_for: resource types (`ec2:instance`, `s3:bucket`, `<service>:ALL_SUPPORTED`) on which
      non-compliant tagging operations are refused; default none: non-compliance is only reported.
    """

    target_ids: Sequence[str] = ()
    enforced_for: Sequence[str] = ()


@dataclass
class TagComplianceArgs:
    """Arguments of TagCompliance; none is required.

    - required_tags: the keys and allowed values (default CostCenter, Project, Environment, any value),
      the same definition as the `required-cost-tags` policy. Or give `policy_config_file`.
    - policy_config_file: a `--policy-pack-config` file; its `required-cost-tags` settings are used, so the
      PR check and the account check read one file. Not with required_tags.
    - resource_types: what the rules evaluate (default every type REQUIRED_TAGS supports).
    - deployment: 'rules' (default: one Config rule per six keys) or 'conformance-pack' (the same rules
      in one conformance pack).
    - recorder: RecorderArgs to create the region's configuration recorder; default none: the account's
      own recorder is used (the rules report nothing in a region without one).
    - auto_tagging: AutoTaggingArgs (default: on, defaults only, dry run); None: no Lambda.
    - tag_policy: TagPolicyArgs for an Organizations tag policy; default none.
    - tags: extra tags (the stack's cost tags are added by the cost-tag transform).
    """

    required_tags: Optional[RequiredTags] = None
    policy_config_file: Optional[str] = None
    resource_types: Sequence[str] = REQUIRED_TAGS_RESOURCE_TYPES
    deployment: str = "rules"
    recorder: Optional[RecorderArgs] = None
    auto_tagging: Optional[AutoTaggingArgs] = field(default_factory=AutoTaggingArgs)
    tag_policy: Optional[TagPolicyArgs] = None
    tags: Mapping[str, str] = field(default_factory=dict)


def resource_name_prefix(name: str) -> str:
    """Config rule, conformance pack, table and policy names are per account: keep stacks apart."""
    return f"aifinops-{pulumi.get_project()}-{pulumi.get_stack()}-{name}"


def conformance_pack_template(rule_names: Sequence[str], parameters: Sequence[Mapping[str, str]],
                              resource_types: Sequence[str]) -> str:
    resources = {f"RequiredTags{number}": {"Type": "AWS::Config::ConfigRule", "Properties": {
        "ConfigRuleName": rule_name, "Description": "aifinops: resources carry the required cost tags",
        "Source": {"Owner": "AWS", "SourceIdentifier": CONFIG_RULE_IDENTIFIER},
        "InputParameters": dict(rule_parameters), "Scope": {"ComplianceResourceTypes": list(resource_types)}}}
        for number, (rule_name, rule_parameters) in enumerate(zip(rule_names, parameters), start=1)}
    return yaml.safe_dump({"Resources": resources}, sort_keys=False)


def auto_tagging_statements(scope: AccountScope, tag_keys: Sequence[str], table_arn: Optional[str]) -> list[dict[str, Any]]:
    """Read the created resources and their tags; add only the allowed keys; read the mapping and team tags."""
    region = f"{scope.region}:{scope.account_id}"
    writable = {"ForAllValues:StringEquals": {"aws:TagKeys": [*tag_keys, TAGGED_BY_TAG]}}
    sagemaker = [f"arn:{scope.partition}:sagemaker:{region}:{kind}/*"
                 for kind in ("training-job", "endpoint", "notebook-instance")]
    file_systems = f"arn:{scope.partition}:elasticfilesystem:{region}:file-system/*"
    statements: list[dict[str, Any]] = [
        {"Sid": "ReadInstancesAndVolumes", "Effect": "Allow", "Action": ["ec2:DescribeInstances", "ec2:DescribeVolumes"],
         "Resource": "*"},
        {"Sid": "TagInstancesAndVolumes", "Effect": "Allow", "Action": "ec2:CreateTags",
         "Resource": [f"arn:{scope.partition}:ec2:{region}:instance/*", f"arn:{scope.partition}:ec2:{region}:volume/*"],
         "Condition": writable},
        # PutBucketTagging replaces a bucket's set, so the role reads it first and writes it back whole.
        {"Sid": "TagBuckets", "Effect": "Allow", "Action": ["s3:GetBucketTagging", "s3:PutBucketTagging"],
         "Resource": f"arn:{scope.partition}:s3:::*"},
        {"Sid": "ReadSageMakerTags", "Effect": "Allow", "Action": "sagemaker:ListTags", "Resource": sagemaker},
        {"Sid": "TagSageMaker", "Effect": "Allow", "Action": "sagemaker:AddTags", "Resource": sagemaker,
         "Condition": writable},
        {"Sid": "ReadFileSystemTags", "Effect": "Allow", "Action": "elasticfilesystem:ListTagsForResource",
         "Resource": file_systems},
        {"Sid": "TagFileSystems", "Effect": "Allow", "Action": "elasticfilesystem:TagResource",
         "Resource": file_systems, "Condition": writable},
        {"Sid": "ReadCreatorTeamTags", "Effect": "Allow", "Action": ["iam:ListRoleTags", "iam:ListUserTags"],
         "Resource": [f"arn:{scope.partition}:iam::{scope.account_id}:role/*",
                      f"arn:{scope.partition}:iam::{scope.account_id}:user/*"]},
    ]
    if table_arn:
        statements.append({"Sid": "ReadMapping", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": table_arn})
    return statements


def creation_event_pattern() -> str:
    """CloudTrail management events that create a resource the handler tags, as EventBridge matches them."""
    sources = sorted({source for source, _ in AUTO_TAGGED_EVENTS})
    return json.dumps({
        "source": [f"aws.{source.split('.')[0]}" for source in sources],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": sources, "eventName": sorted({name for _, name in AUTO_TAGGED_EVENTS})},
    })


class TagCompliance(pulumi.ComponentResource):
    """Config rules for the required tags, auto-tagging at launch, and an optional Organizations tag policy."""

    rule_names: pulumi.Output[list[str]]
    function_name: Optional[pulumi.Output[str]]
    mapping_table_name: Optional[pulumi.Output[str]]
    tag_policy_id: Optional[pulumi.Output[str]]

    def __init__(self, name: str, args: Optional[TagComplianceArgs] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        args = TagComplianceArgs() if args is None else args
        if not isinstance(args, TagComplianceArgs):
            raise ValueError(f"args: expected TagComplianceArgs, got {type(args).__name__}")
        required = self._required_tags(args)
        rule_parameters = required.config_rule_parameters()
        resource_types = validate_config_resource_types("resource_types", args.resource_types)
        checks.one_of("deployment", args.deployment, DEPLOYMENTS)
        recorder = self._checked(args.recorder, RecorderArgs, "recorder")
        tagging = self._checked(args.auto_tagging, AutoTaggingArgs, "auto_tagging")
        settings, table_name, function_settings = self._auto_tagging(name, tagging, required) if tagging else (None, None, None)
        tag_policy = self._checked(args.tag_policy, TagPolicyArgs, "tag_policy")
        policy_document = None
        if tag_policy is not None:
            for target in tag_policy.target_ids if not isinstance(tag_policy.target_ids, str) else [tag_policy.target_ids]:
                checks.text("tag_policy.target_ids", target, _ORG_TARGET, "a root (r-...), OU (ou-...-...) or account id")
            policy_document = required.tag_policy(validate_tag_policy_types("tag_policy.enforced_for",
                                                                           tag_policy.enforced_for))
        tags = validate_tags("tags", args.tags)

        super().__init__(TYPE_TOKEN, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        prefix = resource_name_prefix(name)
        recording = self._recorder(name, recorder, resource_types, tags) if recorder else None
        after_recorder = pulumi.ResourceOptions(parent=self, depends_on=[recording] if recording else None)
        rule_names = [f"{prefix}-required-tags-{n}" for n in range(1, len(rule_parameters) + 1)]
        if args.deployment == "rules":
            for number, (rule_name, parameters) in enumerate(zip(rule_names, rule_parameters), start=1):
                aws.cfg.Rule(f"{name}-required-tags-{number}", name=rule_name,
                             description=f"aifinops: resources carry {', '.join(parameters[k] for k in parameters if k.endswith('Key'))}",
                             source={"owner": "AWS", "source_identifier": CONFIG_RULE_IDENTIFIER},
                             input_parameters=json.dumps(parameters), scope={"compliance_resource_types": list(resource_types)},
                             tags=tags or None, opts=after_recorder)
        else:
            # Conformance pack names take letters, digits and hyphens only (project and stack names may hold more).
            aws.cfg.ConformancePack(f"{name}-required-tags", name=re.sub(r"[^A-Za-z0-9-]", "-", f"{prefix}-required-tags"),
                                    template_body=conformance_pack_template(rule_names, rule_parameters, resource_types),
                                    opts=after_recorder)

        self.function_name = self.mapping_table_name = self.tag_policy_id = None
        outputs: dict[str, Any] = {"ruleNames": rule_names, "requiredTags": list(required.keys),
                                   "recorderManaged": recording is not None}
        if settings is not None:
            outputs.update(self._deploy_auto_tagging(name, settings, table_name, tagging, function_settings, tags))
        if policy_document is not None:
            policy = aws.organizations.Policy(f"{name}-tag-policy", name=f"{prefix}-required-tags", type="TAG_POLICY",
                                              description="aifinops: the required cost tags, their case and values",
                                              content=policy_document, tags=tags or None, opts=child)
            targets = [tag_policy.target_ids] if isinstance(tag_policy.target_ids, str) else list(tag_policy.target_ids)
            for target in targets:
                aws.organizations.PolicyAttachment(f"{name}-tag-policy-{target}", policy_id=policy.id, target_id=target,
                                                   opts=child)
            self.tag_policy_id = policy.id
            outputs["tagPolicyId"] = policy.id
        self.rule_names = pulumi.Output.from_input(rule_names)
        self.register_outputs(outputs)

    @staticmethod
    def _required_tags(args: TagComplianceArgs) -> RequiredTags:
        if args.required_tags is not None and args.policy_config_file is not None:
            raise ValueError("policy_config_file: give required_tags or policy_config_file, not both")
        if args.policy_config_file is not None:
            return RequiredTags.from_policy_config_file(checks.text("policy_config_file", args.policy_config_file))
        if args.required_tags is None:
            return RequiredTags()
        if not isinstance(args.required_tags, RequiredTags):
            raise ValueError(f"required_tags: expected RequiredTags, got {args.required_tags!r}")
        return RequiredTags(args.required_tags.keys, args.required_tags.allowed_values)  # validates again

    @staticmethod
    def _checked(value: Any, kind: type, argument: str) -> Any:
        if value is not None and not isinstance(value, kind):
            raise ValueError(f"{argument}: expected {kind.__name__} or None, got {value!r}")
        return value.validate() if isinstance(value, RecorderArgs) else value

    @staticmethod
    def _auto_tagging(name: str, tagging: AutoTaggingArgs,
                      required: RequiredTags) -> tuple[AutoTaggingSettings, Optional[str], FunctionSettings]:
        if not isinstance(tagging.settings, AutoTaggingSettings):
            raise ValueError(f"auto_tagging.settings: expected AutoTaggingSettings, got {tagging.settings!r}")
        given = tagging.settings
        if given.mapping_table is not None:
            raise ValueError(f"auto_tagging.settings.mapping_table: set auto_tagging.mapping_table (True or a table "
                             f"name), got {given.mapping_table!r} in settings")
        table = tagging.mapping_table
        if table is True:
            table_name: Optional[str] = f"{resource_name_prefix(name)}-tag-mapping"
        elif table is False or table is None:
            table_name = None
        else:
            table_name = checks.text("auto_tagging.mapping_table", table, re.compile(r"^[A-Za-z0-9_.-]{3,255}$"),
                                     "True, False or a DynamoDB table name")
        try:
            settings = AutoTaggingSettings(**{**vars(given), "tag_keys": required.keys, "mapping_table": table_name})
        except ValueError as error:
            raise ValueError(f"auto_tagging.settings.{error}") from None
        unknown = {k: v for k, v in given.default_tags.items() if k in required.allowed_values
                   and v not in required.allowed_values[k]}
        if unknown:
            raise ValueError(f"auto_tagging.settings.default_tags: {unknown!r} is not an allowed value "
                             f"({dict(required.allowed_values)!r}); the rules would flag what the defaults tag")
        return settings, table_name, FunctionSettings.checked("auto_tagging.function", tagging.function)

    def _recorder(self, name: str, recorder: RecorderArgs, resource_types: Sequence[str],
                  tags: Mapping[str, str]) -> pulumi.Resource:
        """Role, recorder, delivery channel and recorder status (the rules depend on the last)."""
        child = pulumi.ResourceOptions(parent=self)
        scope = account_scope(self)
        role = aws.iam.Role(f"{name}-recorder-role", description=f"aifinops TagCompliance {name}: AWS Config recorder",
                            assume_role_policy=scope.apply(lambda s: json.dumps({"Version": "2012-10-17", "Statement": [{
                                "Effect": "Allow", "Principal": {"Service": "config.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                                "Condition": {"StringEquals": {"aws:SourceAccount": s.account_id}}}]})),
                            tags=tags or None, opts=child)
        aws.iam.RolePolicyAttachment(f"{name}-recorder-read", role=role.name,
                                     policy_arn=scope.apply(lambda s: CONFIG_ROLE_POLICY.format(partition=s.partition)),
                                     opts=child)
        bucket = recorder.delivery_bucket_name
        delivery = aws.iam.RolePolicy(f"{name}-recorder-delivery", role=role.id, policy=scope.apply(
            lambda s: json.dumps({"Version": "2012-10-17", "Statement": [
                {"Sid": "DeliverSnapshots", "Effect": "Allow", "Action": "s3:PutObject",
                 "Resource": f"arn:{s.partition}:s3:::{bucket}/AWSLogs/{s.account_id}/Config/*",
                 "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
                {"Sid": "CheckBucketAcl", "Effect": "Allow", "Action": "s3:GetBucketAcl",
                 "Resource": f"arn:{s.partition}:s3:::{bucket}"}]})), opts=child)
        group = {"all_supported": True, "include_global_resource_types": False} if recorder.record_all_supported else {
            "all_supported": False, "resource_types": list(resource_types),
            "recording_strategies": [{"use_only": "INCLUSION_BY_RESOURCE_TYPES"}]}
        configuration_recorder = aws.cfg.Recorder(f"{name}-recorder", role_arn=role.arn, recording_group=group,
                                                  opts=pulumi.ResourceOptions(parent=self, depends_on=[delivery]))
        channel = aws.cfg.DeliveryChannel(f"{name}-delivery", s3_bucket_name=bucket,
                                          opts=pulumi.ResourceOptions(parent=self, depends_on=[configuration_recorder]))
        return aws.cfg.RecorderStatus(f"{name}-recorder-status", name=configuration_recorder.name, is_enabled=True,
                                      opts=pulumi.ResourceOptions(parent=self, depends_on=[channel]))

    def _deploy_auto_tagging(self, name: str, settings: AutoTaggingSettings, table_name: Optional[str],
                             tagging: AutoTaggingArgs, function_settings: FunctionSettings,
                             tags: Mapping[str, str]) -> dict[str, Any]:
        child = pulumi.ResourceOptions(parent=self)
        scope = account_scope(self)
        table_arn = scope.apply(lambda s: f"arn:{s.partition}:dynamodb:{s.region}:{s.account_id}:table/{table_name}") \
            if table_name else None
        statements = pulumi.Output.all(scope, table_arn).apply(
            lambda v: auto_tagging_statements(v[0], settings.writable_keys, v[1]))
        deployed = deploy_handler(f"{name}-auto-tagging", self, description=f"aifinops TagCompliance {name}: auto-tagging",
                                  handler=HANDLER, environment=to_env(settings), statements=statements,
                                  settings=function_settings, tags=tags)
        outputs: dict[str, Any] = {"functionName": deployed.function.name, "autoTaggingDryRun": settings.dry_run}
        self.function_name = deployed.function.name
        if tagging.mapping_table is True:
            table = aws.dynamodb.Table(
                f"{name}-tag-mapping", name=table_name, billing_mode="PAY_PER_REQUEST", hash_key=MAPPING_KEY_ATTRIBUTE,
                attributes=[{"name": MAPPING_KEY_ATTRIBUTE, "type": "S"}],
                server_side_encryption={"enabled": True, "kms_key_arn": deployed.key_arn},
                point_in_time_recovery={"enabled": True}, deletion_protection_enabled=True, tags=tags or None,
                opts=child)
            self.mapping_table_name = table.name
            outputs["mappingTableName"] = table.name
        rule = aws.cloudwatch.EventRule(f"{name}-creations", description=f"aifinops TagCompliance {name}: resources "
                                        "created through any API, as CloudTrail records them",
                                        event_pattern=creation_event_pattern(), tags=tags or None, opts=child)
        aws.cloudwatch.EventTarget(f"{name}-creations", rule=rule.name, arn=deployed.function.arn, opts=child)
        aws.lambda_.Permission(f"{name}-creations", action="lambda:InvokeFunction", function=deployed.function.name,
                               principal="events.amazonaws.com", source_arn=rule.arn, opts=child)
        return outputs
