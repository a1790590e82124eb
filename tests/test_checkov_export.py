"""The Terraform-plan and manifest export, read back as data (no checkov run here; see test_checkov_scan)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from aifinops.checkov.export import KUBERNETES, PLAN_FILE, TERRAFORM, export_graph
from aifinops.graph import Resource, ResourceGraph
from tests.conftest import tagged_config


# This module reads what components render from ids and ARNs (IAM and resource policies, references),
# so the `preview` fixture gives AWS-shaped values here, as `aifinops preview --mock-outputs` does.
PREVIEW_MOCK_OUTPUTS = True


STORAGE = """
import pulumi, pulumi_aws as aws
key = aws.kms.Key("key", enable_key_rotation=True)
bucket = aws.s3.Bucket("data", tags={"Team": "ml"})
aws.s3.BucketPublicAccessBlock("data", bucket=bucket.id, block_public_acls=True)
aws.s3.BucketServerSideEncryptionConfiguration("data", bucket=bucket.id, rules=[
    {"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn}}])
aws.s3.BucketLifecycleConfiguration("data", bucket=bucket.id, rules=[{
    "id": "tier", "status": "Enabled", "filter": {"prefix": "raw/"},
    "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}, {"days": 90, "storage_class": "GLACIER_IR"}],
    "noncurrent_version_transitions": [{"noncurrent_days": 30, "storage_class": "GLACIER_IR"}]}])
"""


def export(preview, tmp_path: Path, program: str, config: dict[str, Any] | None = None):
    graph = preview(program, config if config is not None else tagged_config())
    exported = export_graph(graph, tmp_path / "scan")
    plan_path = exported.directory / PLAN_FILE
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else {}
    planned = {r["address"]: r for r in plan.get("planned_values", {}).get("root_module", {}).get("resources", [])}
    configured = {r["address"]: r for r in plan.get("configuration", {}).get("root_module", {}).get("resources", [])}
    return graph, exported, plan, planned, configured


def test_plan_has_the_fields_checkov_needs_for_every_resource(preview, tmp_path):
    _, exported, plan, planned, configured = export(preview, tmp_path, STORAGE)
    assert plan["terraform_version"].startswith("1.")
    assert set(planned) == set(configured) == {r.address for r in exported.resources}
    for address, resource in planned.items():
        assert resource["mode"] == "managed" and address == f"{resource['type']}.{resource['name']}"
        assert isinstance(resource["values"], dict)
    assert exported.expected_count(TERRAFORM) == 5 and exported.expected_count(KUBERNETES) == 0


def test_attributes_get_terraform_names_and_list_blocks_are_singular_again(preview, tmp_path):
    _, _, _, planned, _ = export(preview, tmp_path, STORAGE)
    rule = planned["aws_s3_bucket_lifecycle_configuration.data"]["values"]["rule"]
    assert len(rule) == 1 and rule[0]["id"] == "tier"
    assert [t["storage_class"] for t in rule[0]["transition"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert rule[0]["noncurrent_version_transition"] == [{"noncurrent_days": 30, "storage_class": "GLACIER_IR"}]
    assert rule[0]["filter"] == [{"prefix": "raw/"}]  # a nested object is a one-element block list
    assert planned["aws_kms_key.key"]["values"]["enable_key_rotation"] is True


def test_tag_keys_stay_verbatim_and_tags_all_adds_the_provider_default_tags(preview, tmp_path):
    config = tagged_config({"aws:defaultTags": {"tags": {"Owner": "platform", "Team": "default"}}})
    _, _, _, planned, _ = export(preview, tmp_path, STORAGE, config)
    values = planned["aws_s3_bucket.data"]["values"]
    assert values["tags"] == {"Team": "ml"}
    assert values["tags_all"] == {"Owner": "platform", "Team": "ml"}  # the resource's own tag wins
    assert "tags_all" not in planned["aws_s3_bucket_public_access_block.data"]["values"]  # not taggable


def test_a_value_from_another_resource_is_a_reference_in_the_configuration(preview, tmp_path):
    _, _, _, planned, configured = export(preview, tmp_path, STORAGE)
    block = "aws_s3_bucket_public_access_block.data"
    assert planned[block]["values"]["bucket"] is None  # like a plan: known after apply, given by the expression
    assert configured[block]["expressions"]["bucket"] == {"references": ["aws_s3_bucket.data.id", "aws_s3_bucket.data"]}
    encryption = "aws_s3_bucket_server_side_encryption_configuration.data"
    default = configured[encryption]["expressions"]["rule"][0]["apply_server_side_encryption_by_default"][0]
    assert default["kms_master_key_id"] == {"references": ["aws_kms_key.key.arn", "aws_kms_key.key"]}
    assert configured["aws_kms_key.key"]["expressions"] == {}


def test_references_inside_lists_of_ids_and_json_documents(preview, tmp_path):
    program = """
import json, pulumi, pulumi_aws as aws
group = aws.ec2.SecurityGroup("sg", description="none in", egress=[])
bucket = aws.s3.Bucket("data")
aws.ec2.Instance("box", ami="ami-123", instance_type="t3.micro", vpc_security_group_ids=[group.id, "sg-fixed"])
aws.s3.BucketPolicy("data", bucket=bucket.id, policy=bucket.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": [arn, arn + "/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})))
"""
    _, _, _, planned, configured = export(preview, tmp_path, program)
    assert planned["aws_instance.box"]["values"]["vpc_security_group_ids"] == [None, "sg-fixed"]
    assert configured["aws_instance.box"]["expressions"]["vpc_security_group_ids"] == {
        "references": ["aws_security_group.sg.id", "aws_security_group.sg"]}
    policy = json.loads(planned["aws_s3_bucket_policy.data"]["values"]["policy"])  # kept: checks read it
    assert policy["Statement"][0]["Resource"][0].startswith("arn:aws:s3:::")
    assert configured["aws_s3_bucket_policy.data"]["expressions"]["policy"] == {
        "references": ["aws_s3_bucket.data.id", "aws_s3_bucket.data"]}


def test_a_policy_given_as_an_object_becomes_the_json_string_terraform_holds(tmp_path):
    # The SDK accepts a PolicyDocument dict; the mock runtime cannot echo one, so build the graph directly.
    document = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    graph = ResourceGraph("proj", "dev", {})
    graph.add(Resource("urn:pulumi:dev::proj::aws:iam/role:Role::role", "aws:iam/role:Role", "role", True,
                       inputs={"assumeRolePolicy": document, "maxSessionDuration": 3600}))
    exported = export_graph(graph, tmp_path)
    values = json.loads((tmp_path / PLAN_FILE).read_text())["planned_values"]["root_module"]["resources"][0]["values"]
    assert json.loads(values["assume_role_policy"]) == document
    assert values["max_session_duration"] == 3600 and exported.expected_count(TERRAFORM) == 1


def test_unknown_values_are_left_out_but_unknown_tag_values_keep_their_key(preview, tmp_path):
    program = """
import pulumi, pulumi_aws as aws
first = aws.ec2.Instance("first", ami="ami-1", instance_type="t3.micro")  # the mock computes no host_id
aws.ec2.Instance("second", ami="ami-1", instance_type="t3.micro", host_id=first.host_id,
                 tags={"PairedWith": first.host_id, "Team": "ml"})
"""
    _, _, _, planned, _ = export(preview, tmp_path, program)
    values = planned["aws_instance.second"]["values"]
    assert "host_id" not in values
    assert values["tags"] == {"PairedWith": "(known after apply)", "Team": "ml"}


def test_secrets_never_reach_the_exported_files(preview, tmp_path):
    program = """
import pulumi, pulumi_aws as aws
aws.ec2.Instance("box", ami="ami-1", instance_type="t3.micro", user_data=pulumi.Output.secret("TOKEN=hunter2"))
"""
    _, exported, _, planned, _ = export(preview, tmp_path, program)
    assert planned["aws_instance.box"]["values"]["user_data"] == "[secret]"
    assert "hunter2" not in (exported.directory / PLAN_FILE).read_text()


def test_addresses_are_valid_and_unique_when_pulumi_names_collide(preview, tmp_path):
    program = """
import pulumi, pulumi_aws as aws
class Alerts(pulumi.ComponentResource):  # same child name in two component types: two different URNs
    def __init__(self, kind, name):
        super().__init__(f"test:index:{kind}", name)
        aws.sns.Topic("alerts", opts=pulumi.ResourceOptions(parent=self))
Alerts("Budget", "a"); Alerts("Anomaly", "b")
aws.sns.Topic("7 alerts/prod")
"""
    graph, exported, _, planned, _ = export(preview, tmp_path, program)
    assert set(planned) == {"aws_sns_topic.alerts", "aws_sns_topic.alerts_2", "aws_sns_topic.r_7_alerts_prod"}
    assert len({r.urn for r in exported.resources}) == 3 == len(graph.of_type("aws:sns/topic:Topic"))


def test_unmapped_types_are_reported_as_not_scanned(preview, tmp_path):
    program = """
import pulumi, pulumi_aws as aws, pulumi_kubernetes as k8s
aws.ssm.Document("setting", document_type="Command", content="{}")
k8s.core.v1.Endpoints("legacy", metadata={"namespace": "apps"})
k8s.helm.v3.Release("monitoring", chart="kube-prometheus-stack")
aws.sns.Topic("alerts")
"""
    graph, exported, _, planned, _ = export(preview, tmp_path, program)
    assert list(planned) == ["aws_sns_topic.alerts"]
    skipped = {s.type: s.reason for s in exported.not_scanned}
    assert set(skipped) == {"aws:ssm/document:Document", "kubernetes:core/v1:Endpoints",
                            "kubernetes:helm.sh/v3:Release"}
    assert "mapping.json" in skipped["aws:ssm/document:Document"]
    assert "checkov --framework helm" in skipped["kubernetes:helm.sh/v3:Release"]
    assert {s.urn for s in exported.not_scanned} <= set(graph.resources)


def test_kubernetes_resources_become_one_manifest_file_each(preview, tmp_path):
    program = """
import pulumi, pulumi_kubernetes as k8s
ns = k8s.core.v1.Namespace("serving", metadata={"name": "serving"})
k8s.apps.v1.Deployment("llm", metadata={"namespace": ns.metadata.name},
    spec={"selector": {"matchLabels": {"app": "llm"}}, "template": {"metadata": {"labels": {"app": "llm"}},
          "spec": {"containers": [{"name": "llm", "image": "vllm/vllm-openai:v0.6.3"}]}}})
"""
    graph, exported, _, planned, _ = export(preview, tmp_path, program)
    assert planned == {}
    files = {r.urn.rsplit("::", 1)[1]: r for r in exported.resources}
    assert all(r.framework == KUBERNETES for r in files.values())
    deployment = yaml.safe_load((exported.directory / files["llm"].file).read_text())
    assert deployment["kind"] == "Deployment" and deployment["metadata"]["namespace"] == "serving"
    assert deployment["metadata"]["name"] == graph.get(files["llm"].urn).outputs["metadata"]["name"]
    assert files["llm"].expected_count == 2  # checkov counts the pod template too
    assert files["serving"].expected_count == 1
    assert exported.expected_count(KUBERNETES) == 3
