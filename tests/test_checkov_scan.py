"""checkov itself over exported stacks. Each checkov run costs ~3 s, so the cases share runs:
one scan of a program of known-bad and known-good resources (AWS, Kubernetes, our own checks, both kinds
of suppression) and one run that proves references connect and that a silently skipped resource is an
error. Every example stack: test_checkov_stacks.py."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aifinops.checkov.export import PLAN_FILE, CheckovExport, ExportedResource, export_graph
from aifinops.checkov.run import (
    FAILED,
    PASSED,
    SUPPRESSED,
    CheckovError,
    find_checkov,
    findings_from_reports,
    finish_checkov,
    scan_graph,
    start_checkov,
)
from aifinops.engine import run_program
from aifinops.project import load_project
from tests.conftest import tagged_config, write_project

KNOWN_BAD_AND_GOOD = """
import pulumi, pulumi_aws as aws, pulumi_kubernetes as k8s
from aifinops.components.checkov_suppressions import suppress_checkov
from aifinops.components.tagging import register_cost_tags

register_cost_tags(pulumi.Config().require_object("costTags"))
owner = {"Owner": "ml-platform"}
role = aws.iam.Role("role", assume_role_policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
                    '"Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}', tags=owner)
profile = aws.iam.InstanceProfile("profile", role=role.name, tags=owner)
aws.ec2.Instance("bad-box", ami="ami-1", instance_type="g6.xlarge", associate_public_ip_address=True,
                 metadata_options={"http_tokens": "optional"}, root_block_device={"encrypted": False})
aws.ec2.Instance("good-box", ami="ami-1", instance_type="g5.xlarge", monitoring=True, ebs_optimized=True,
                 iam_instance_profile=profile.name, associate_public_ip_address=False,
                 metadata_options={"http_endpoint": "enabled", "http_tokens": "required"},
                 root_block_device={"encrypted": True, "volume_type": "gp3"}, tags=owner)
aws.ec2.Instance("cpu-box", ami="ami-1", instance_type="t3.micro", tags=owner)

key = aws.kms.Key("key", enable_key_rotation=True, tags=owner)
aws.s3.Bucket("loose", tags=owner)
tidy = aws.s3.Bucket("tidy", tags=owner)
aws.s3.BucketPublicAccessBlock("tidy", bucket=tidy.id, block_public_acls=True, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketVersioning("tidy", bucket=tidy.id, versioning_configuration={"status": "Enabled"})
aws.s3.BucketServerSideEncryptionConfiguration("tidy", bucket=tidy.id, rules=[{
    "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key.arn},
    "bucket_key_enabled": True}])
aws.s3.BucketLifecycleConfiguration("tidy", bucket=tidy.id, rules=[{"id": "tier", "status": "Enabled", "filter": {},
    "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
    "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}]}])

suppress_checkov(component_type="test:index:Legacy", resource_type="aws:ec2/instance:Instance",
                 check_id="CKV_AWS_126", reason="legacy boxes report 5-minute metrics; 1-minute ones cost extra")
class Legacy(pulumi.ComponentResource):
    def __init__(self, name):
        super().__init__("test:index:Legacy", name)
        aws.ec2.Instance(name, ami="ami-1", instance_type="t3.micro", ebs_optimized=True, tags=owner,
                         metadata_options={"http_tokens": "required"}, root_block_device={"encrypted": True},
                         opts=pulumi.ResourceOptions(parent=self))
Legacy("old")

k8s.apps.v1.Deployment("plain", metadata={"namespace": "serving"},
    spec={"selector": {"matchLabels": {"app": "plain"}}, "template": {"metadata": {"labels": {"app": "plain"}},
          "spec": {"containers": [{"name": "web", "image": "nginx"}]}}})
k8s.apps.v1.Deployment("skips", metadata={"namespace": "serving",
    "annotations": {"checkov.io/skip1": "CKV_K8S_43=the image tag is immutable in our registry"}},
    spec={"selector": {"matchLabels": {"app": "skips"}}, "template": {"metadata": {"labels": {"app": "skips"}},
          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}})
def node_pool(name, requirements):
    k8s.apiextensions.CustomResource(name, api_version="karpenter.sh/v1", kind="NodePool", metadata={"name": name},
        spec={"template": {"spec": {"requirements": requirements, "nodeClassRef": {"name": "default"}}}})
node_pool("approved-pool", [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge"]}])
node_pool("wide-pool", [{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": ["g5.xlarge"]},
                        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["p4d"]}])
"""
POLICY_CONFIG = {"all": "mandatory",
                 "approved-gpu-instance-types": {"approvedInstanceTypes": ["g5.xlarge"]},
                 "required-cost-tags": {"requiredTags": ["CostCenter", "Owner"]}}


def program_graph(root: Path, program: str, config: dict):
    project = load_project(write_project(root, program, config))
    return run_program(project, project.load_stack("dev"))


@pytest.fixture(scope="module")
def mixed_scan(tmp_path_factory):
    root = tmp_path_factory.mktemp("mixed")
    graph = program_graph(root / "project", KNOWN_BAD_AND_GOOD, tagged_config())
    config = root / "policy-config.json"
    config.write_text(json.dumps(POLICY_CONFIG))
    return graph, scan_graph(graph, policy_config_files=[str(config)])


def statuses(scan, resource_name: str) -> dict[str, str]:
    """check id -> status for the resource with that Pulumi name."""
    return {f.check_id: f.status for f in scan.findings if f.urn.rsplit("::", 1)[1] == resource_name}


def test_known_bad_instance_fails_the_expected_checks_and_known_good_passes_them(mixed_scan):
    _, scan = mixed_scan
    bad, good = statuses(scan, "bad-box"), statuses(scan, "good-box")
    for check in ("CKV_AWS_79", "CKV_AWS_8", "CKV_AWS_88", "CKV_AWS_126", "CKV_AWS_135", "CKV2_AWS_41"):
        assert bad[check] == FAILED, check
        assert good[check] == PASSED, check


def test_known_bad_bucket_fails_and_one_configured_by_separate_resources_passes(mixed_scan):
    _, scan = mixed_scan
    loose, tidy = statuses(scan, "loose"), statuses(scan, "tidy")
    for check in ("CKV2_AWS_6", "CKV_AWS_21", "CKV2_AWS_61", "CKV_AWS_145"):
        assert loose[check] == FAILED, check
        assert tidy[check] == PASSED, check
    assert statuses(scan, "key")["CKV_AWS_7"] == PASSED


def test_kubernetes_manifests_are_checked_and_annotation_skips_show_with_their_reason(mixed_scan):
    _, scan = mixed_scan
    plain, skips = statuses(scan, "plain"), statuses(scan, "skips")
    assert plain["CKV_K8S_8"] == FAILED and plain["CKV_K8S_43"] == FAILED  # no probes, no image digest
    assert plain["CKV_K8S_21"] == PASSED  # a namespace is set
    assert skips["CKV_K8S_43"] == SUPPRESSED
    skipped = next(f for f in scan.findings if f.check_id == "CKV_K8S_43" and f.status == SUPPRESSED)
    assert skipped.suppression_reason == "the image tag is immutable in our registry"
    assert scan.scanned["kubernetes"] == 6  # two deployments, their pod templates, two node pools


def test_custom_checks_read_the_policy_pack_config_and_pass_and_fail(mixed_scan):
    _, scan = mixed_scan
    # g6.xlarge is approved by default but not by this config; g5.xlarge is; a CPU type always passes.
    assert statuses(scan, "bad-box")["CKV_AIFINOPS_2"] == FAILED
    assert statuses(scan, "good-box")["CKV_AIFINOPS_2"] == PASSED
    assert statuses(scan, "cpu-box")["CKV_AIFINOPS_2"] == PASSED
    assert "CKV_AIFINOPS_2" not in statuses(scan, "tidy")  # sets no instance type: not reported
    # The config requires Owner (not the default Project/Environment, which the stack's cost tags carry).
    assert statuses(scan, "bad-box")["CKV_AIFINOPS_1"] == FAILED
    assert statuses(scan, "good-box")["CKV_AIFINOPS_1"] == PASSED
    failure = next(f for f in scan.findings if f.check_id == "CKV_AIFINOPS_1" and f.status == FAILED)
    assert failure.details == ["missing required tag 'Owner'"]
    assert "CKV_AIFINOPS_1" not in statuses(scan, "plain")  # Kubernetes objects carry no AWS tags
    # Karpenter: a pool offering only approved types passes; a whole unapproved family fails.
    assert statuses(scan, "approved-pool")["CKV_AIFINOPS_3"] == PASSED
    assert statuses(scan, "wide-pool")["CKV_AIFINOPS_3"] == FAILED  # (checkov drops details of k8s checks)


def test_a_component_suppression_marks_only_its_own_resources_with_its_reason(mixed_scan):
    _, scan = mixed_scan
    inside = next(f for f in scan.findings if f.urn.endswith("test:index:Legacy$aws:ec2/instance:Instance::old")
                  and f.check_id == "CKV_AWS_126")
    assert inside.status == SUPPRESSED
    assert inside.suppression_reason == "legacy boxes report 5-minute metrics; 1-minute ones cost extra"
    assert statuses(scan, "bad-box")["CKV_AWS_126"] == FAILED  # same type, outside the component


def test_findings_carry_the_urn_and_the_program_line_that_made_the_resource(mixed_scan):
    graph, scan = mixed_scan
    finding = next(f for f in scan.findings if f.check_id == "CKV_AWS_79" and f.checkov_resource == "aws_instance.bad-box")
    assert finding.urn == next(r.urn for r in graph.custom_resources() if r.name == "bad-box")
    line = next(n for n, text in enumerate(KNOWN_BAD_AND_GOOD.splitlines(), 1) if '"bad-box"' in text)
    assert (finding.source.file, finding.source.line) == ("stacks/__main__.py", line)


def test_references_connect_cross_resource_checks_and_a_skipped_resource_is_an_error(tmp_path):
    graph = program_graph(tmp_path / "project", KNOWN_BAD_AND_GOOD, tagged_config())
    root = tmp_path / "scan"
    with_references = export_graph(graph, root / "with")
    # The same plan without its configuration section, and with one resource missing its `mode`.
    plan = json.loads((with_references.directory / PLAN_FILE).read_text())
    del plan["configuration"]
    del plan["planned_values"]["root_module"]["resources"][0]["mode"]
    (root / "without").mkdir()
    (root / "without" / PLAN_FILE).write_text(json.dumps(plan))
    shutil.rmtree(with_references.directory / "k8s")
    reports, _ = finish_checkov(start_checkov(find_checkov(), root, ["terraform_plan"]))

    without = CheckovExport(root / "without", [ExportedResource(r.urn, r.framework, r.file, r.address)
                                               for r in with_references.resources if r.file == PLAN_FILE])
    with_references.resources = [r for r in with_references.resources if r.file == PLAN_FILE]
    failed = {(r["file_path"].split("/")[1], r["resource"], r["check_id"]) for r in reports[0]["results"]["failed_checks"]}
    for check in ("CKV2_AWS_6", "CKV_AWS_21", "CKV2_AWS_61", "CKV_AWS_145"):
        assert ("without", "aws_s3_bucket.tidy", check) in failed, check
        assert ("with", "aws_s3_bucket.tidy", check) not in failed, check
    with pytest.raises(CheckovError, match=r"checkov scanned \d+ terraform_plan resources but \d+ were exported"):
        findings_from_reports(reports, [(with_references, graph), (without, graph)], root)
