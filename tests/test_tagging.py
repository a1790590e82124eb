"""Cost tags: taggability read from pulumi-aws, and the stack transform that applies them."""
from __future__ import annotations

import pytest

from aifinops.core import tags
from aifinops.core.errors import ProgramError
from aifinops.engine import run_program
from aifinops.project import load_project
from tests.conftest import DEFAULT_COST_TAGS, REPO_ROOT, tagged_config

TAGGED_PROGRAM = """
import pulumi, pulumi_aws as aws
from aifinops.components.tagging import register_cost_tags
register_cost_tags(pulumi.Config().require_object("costTags"))
lt = aws.ec2.LaunchTemplate("lt", instance_type="g5.xlarge",
    tag_specifications=[{"resource_type": "instance", "tags": {"Environment": "explicit"}}])
aws.autoscaling.Group("asg", max_size=1, min_size=0, availability_zones=["us-east-1a"],
    launch_template={"id": lt.id}, tags=[{"key": "Project", "value": "mine", "propagate_at_launch": False}])
aws.s3.Bucket("data", tags={"CostCenter": "override"})
aws.iam.RolePolicyAttachment("attach", role="r", policy_arn="arn:aws:iam::aws:policy/ReadOnlyAccess")
"""


def test_taggability_comes_from_the_sdk_classes():
    assert tags.tags_shape("aws:s3/bucket:Bucket") == "map"
    assert tags.tags_shape("aws:ec2/instance:Instance") == "map"
    assert tags.tags_shape("aws:autoscaling/group:Group") == "asg"
    assert tags.tags_shape("aws:iam/rolePolicyAttachment:RolePolicyAttachment") is None
    assert tags.tags_shape("aws:s3/bucketPolicy:BucketPolicy") is None
    # `tags` there is a filter object, not a key/value map: not a cost-tag target.
    assert tags.tags_shape("aws:devopsguru/resourceCollection:ResourceCollection") is None
    assert tags.tags_shape("aws:nosuch/thing:Thing") is None
    # Its args class is BucketVersioningInitArgs: BucketVersioningArgs is a nested block's type.
    assert tags.tags_shape("aws:s3/bucketVersioning:BucketVersioning") is None


def test_transform_tags_maps_asg_blocks_and_launch_template_specs_with_explicit_tags_winning(preview):
    graph = preview(TAGGED_PROGRAM, tagged_config())
    bucket = graph.of_type("aws:s3/bucket:Bucket")[0]
    assert bucket.inputs["tags"] == {**DEFAULT_COST_TAGS, "CostCenter": "override"}
    asg_tags = {b["key"]: b for b in graph.of_type("aws:autoscaling/group:Group")[0].inputs["tags"]}
    assert asg_tags["Project"] == {"key": "Project", "value": "mine", "propagateAtLaunch": False}
    assert asg_tags["CostCenter"] == {"key": "CostCenter", "value": "ml", "propagateAtLaunch": True}
    launch_template = graph.of_type("aws:ec2/launchTemplate:LaunchTemplate")[0].inputs
    specs = {s["resourceType"]: s["tags"] for s in launch_template["tagSpecifications"]}
    assert specs["instance"] == {**DEFAULT_COST_TAGS, "Environment": "explicit"}
    assert specs["volume"] == DEFAULT_COST_TAGS
    assert launch_template["tags"] == DEFAULT_COST_TAGS
    assert "tags" not in graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")[0].inputs


def test_every_taggable_resource_of_the_example_stack_is_tagged_and_no_other():
    project = load_project(REPO_ROOT)
    stack = project.load_stack("training-dev")
    graph = run_program(project, stack)
    cost_tags = graph.stack_outputs["costTags"]
    aws_resources = [r for r in graph.custom_resources() if r.type.startswith("aws:")]
    assert aws_resources
    for resource in aws_resources:
        shape = tags.tags_shape(resource.type)
        if shape == "map":
            assert cost_tags.items() <= resource.inputs["tags"].items(), resource.urn
        elif shape == "asg":
            keys = {b["key"] for b in resource.inputs["tags"] if b.get("propagateAtLaunch")}
            assert set(cost_tags) <= keys, resource.urn
        else:
            assert "tags" not in resource.inputs, resource.urn


@pytest.mark.parametrize("tags, message", [
    ({"CostCenter": "a", "Project": "b"}, "Environment missing or empty"),
    ({"CostCenter": "a", "Project": "", "Environment": "c"}, "Project missing or empty"),
    (["team-a"], "expected a mapping"),
])
def test_bad_cost_tags_are_rejected_before_anything_is_registered(preview, tags, message):
    with pytest.raises(ProgramError, match=message):
        preview("import pulumi\nfrom aifinops.components.tagging import register_cost_tags\n"
                "register_cost_tags(pulumi.Config().require_object('costTags'))\n",
                {"testproj:costTags": tags})


def test_required_tag_keys_are_configurable():
    assert tags.validate_cost_tags({"Team": "x"}, ["Team"]) == {"Team": "x"}
    with pytest.raises(ValueError, match="CostCenter, Project missing"):
        tags.validate_cost_tags({"Environment": "dev"}, None)  # no requiredTags config: the defaults
    with pytest.raises(ValueError, match="requiredTags: expected a list of tag keys"):
        tags.validate_cost_tags({"Team": "x"}, "Team")


def test_the_taggability_table_is_what_the_pinned_sdk_says():
    """core/data/aws_tag_shapes.json is read from pulumi-aws's classes (python -m aifinops.taggable_types)."""
    import json

    from aifinops.taggable_types import read_tag_shapes

    assert json.loads(tags.TAG_SHAPES_FILE.read_text()) == read_tag_shapes()
    assert tags.is_known_aws_type("aws:s3/bucket:Bucket") and not tags.is_known_aws_type("aws:made/up:Thing")
