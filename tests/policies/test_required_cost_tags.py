"""required-cost-tags through the real gRPC path."""
import pytest

from aifinops.core.errors import PolicyPackError
from tests.conftest import DEFAULT_COST_TAGS, tagged_config

POLICY = "required-cost-tags"
REGION = {"aws:region": "us-east-1"}
TAGS = dict(DEFAULT_COST_TAGS)


def test_missing_and_empty_tags_are_named(check_policies):
    program = f"""
import pulumi_aws as aws
aws.s3.Bucket("untagged")
aws.s3.Bucket("partial", tags={{"CostCenter": "ml"}})
aws.s3.Bucket("blank", tags={{**{TAGS!r}, "Project": "  "}})
aws.s3.Bucket("complete", tags={TAGS!r})
"""
    result = check_policies(program, REGION)
    assert result.names(POLICY) == {"untagged", "partial", "blank"}
    by_name = {result.graph.resources[v.urn].name: v.detail for v in result.of(POLICY)}
    assert by_name["untagged"].startswith("missing required tags CostCenter, Project, Environment")
    assert by_name["partial"].startswith("missing required tags Project, Environment")
    assert by_name["blank"].startswith("tag Project is empty")
    assert all(v.is_mandatory for v in result.of(POLICY))


def test_the_cost_tag_stack_transform_satisfies_it(check_policies):
    program = """
import pulumi
import pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags
if pulumi.Config().get_object("costTags"):
    register_cost_tags(pulumi.Config().require_object("costTags"))
aws.s3.Bucket("data")
aws.ec2.LaunchTemplate("lt", instance_type="g5.xlarge")
aws.autoscaling.Group("asg", min_size=0, max_size=1, launch_template={"id": "lt-1"})
"""
    assert check_policies(program, tagged_config()).of(POLICY) == []
    assert check_policies(program, REGION).names(POLICY) == {"data", "lt", "asg"}


def test_provider_default_tags_count(check_policies):
    program = """
import pulumi
import pulumi_aws as aws
aws.s3.Bucket("via-default-provider", tags={"Project": "override"})
tagged = aws.Provider("tagged", region="us-east-1", default_tags={"tags": {"CostCenter": "ml", "Project": "p"}})
aws.s3.Bucket("via-explicit-provider", tags={"Environment": "dev"}, opts=pulumi.ResourceOptions(provider=tagged))
aws.s3.Bucket("explicit-provider-incomplete", opts=pulumi.ResourceOptions(provider=tagged))
"""
    config = {**REGION, "aws:defaultTags": {"tags": {"CostCenter": "ml", "Environment": "dev"}}}
    result = check_policies(program, config)
    assert result.names(POLICY) == {"explicit-provider-incomplete"}
    assert result.messages(POLICY)[0].startswith("missing required tag Environment")
    # without the stack's defaultTags, the default-provider bucket lacks two keys
    result = check_policies(program, REGION)
    assert "via-default-provider" in result.names(POLICY)


def test_auto_scaling_groups_count_propagated_and_launch_template_tags(check_policies):
    program = f"""
import pulumi_aws as aws
TAGS = {TAGS!r}
blocks = lambda propagate: [{{"key": k, "value": v, "propagate_at_launch": propagate}} for k, v in TAGS.items()]
lt = aws.ec2.LaunchTemplate("lt", tags=TAGS, tag_specifications=[{{"resource_type": "instance", "tags": TAGS}}])
bare_lt = aws.ec2.LaunchTemplate("bare-lt", tags=TAGS)
aws.autoscaling.Group("propagated", min_size=0, max_size=1, launch_template={{"id": bare_lt.id}}, tags=blocks(True))
aws.autoscaling.Group("not-propagated", min_size=0, max_size=1, launch_template={{"id": bare_lt.id}}, tags=blocks(False))
aws.autoscaling.Group("from-template", min_size=0, max_size=1, launch_template={{"id": lt.id}})
aws.autoscaling.Group("from-template-mixed", min_size=0, max_size=1, mixed_instances_policy={{"launch_template": {{
    "launch_template_specification": {{"launch_template_id": lt.id}}}}}})
"""
    # provider defaultTags do not reach auto scaling groups (the AWS provider documents the exception)
    config = {**REGION, "aws:defaultTags": {"tags": TAGS}}
    result = check_policies(program, config)
    assert result.names(POLICY) == {"not-propagated"}
    assert "propagateAtLaunch: true" in result.messages(POLICY)[0]


def test_non_taggable_and_non_aws_resources_are_never_flagged(check_policies):
    program = """
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

class Team(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("aifinops:test:Team", name)
        aws.iam.RolePolicyAttachment(f"{name}-attach", role="r", policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
                                     opts=pulumi.ResourceOptions(parent=self))

Team("team")
aws.s3.BucketPublicAccessBlock("pab", bucket="b", block_public_acls=True)
aws.ec2.SecurityGroupRule("rule", type="ingress", from_port=443, to_port=443, protocol="tcp",
                          security_group_id="sg-1", cidr_blocks=["10.0.0.0/8"])
k8s.core.v1.Namespace("ns")
"""
    result = check_policies(program, REGION)
    assert result.of(POLICY) == []


def test_allowed_values_and_custom_required_tags(check_policies):
    program = """
import pulumi_aws as aws
aws.s3.Bucket("prod", tags={"CostCenter": "ml", "Project": "p", "Environment": "prod", "Team": "infra"})
aws.s3.Bucket("typo", tags={"CostCenter": "ml", "Project": "p", "Environment": "prd", "Team": "infra"})
aws.s3.Bucket("no-team", tags={"CostCenter": "ml", "Project": "p", "Environment": "dev"})
"""
    config = {POLICY: {"allowedValues": {"Environment": ["dev", "prod"]}}}
    result = check_policies(program, REGION, config)
    assert result.names(POLICY) == {"typo"}
    assert "tag Environment is 'prd', expected one of: dev, prod" in result.messages(POLICY)[0]
    result = check_policies(program, REGION, {POLICY: {"requiredTags": ["Team"]}})
    assert result.names(POLICY) == {"no-team"}


def test_unknown_tag_values_are_not_failures(check_policies):
    program = """
import pulumi_aws as aws
src = aws.ec2.Instance("src", instance_type="t3.micro", ami="ami-1",
                       tags={"CostCenter": "ml", "Project": "p", "Environment": "dev"})
aws.s3.Bucket("unknown-value", tags={"CostCenter": src.public_dns, "Project": "p", "Environment": "dev"})
aws.s3.Bucket("unknown-map", tags=src.public_dns.apply(lambda _: {}))
aws.s3.Bucket("unknown-but-incomplete", tags={"CostCenter": src.public_dns})
"""
    result = check_policies(program, REGION)
    assert result.names(POLICY) == {"unknown-but-incomplete"}
    assert result.messages(POLICY)[0].startswith("missing required tags Project, Environment")
    assert [v for v in result.advisory if v.policy == POLICY] == []


def test_invalid_required_tags_config(check_policies):
    with pytest.raises(PolicyPackError, match=r"validating policy config: aifinops-cost \S+  required-cost-tags: requiredTags\[0\]: String length must be greater than or equal to 1"):
        check_policies('import pulumi_aws as aws\naws.s3.Bucket("b")\n', REGION, {POLICY: {"requiredTags": [""]}})


def test_an_aws_type_the_table_does_not_know_fails_closed(check_policies):
    program = 'import pulumi\npulumi.CustomResource("aws:newservice/widget:Widget", "w", {"size": 1})\n'
    result = check_policies(program, REGION)
    assert result.names(POLICY) == {"w"}
    assert "aws:newservice/widget:Widget is not in aifinops's table of AWS resource types (pulumi-aws 7.51.1 " \
           "resource classes)" in result.messages(POLICY)[0]
