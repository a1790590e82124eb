"""The aifinops-security baseline through the real gRPC path: passing and failing cases per policy."""
import pytest

from aifinops.core.errors import PolicyPackError

REGION = {"aws:region": "us-east-1"}
SSE = "s3-bucket-server-side-encryption"
PAB = "s3-bucket-public-access-block"
EBS = "ebs-volumes-encrypted"
IMDS = "imdsv2-required"
PUBLIC_IP = "gpu-instance-no-public-ip"

BUCKETS = """
import pulumi_aws as aws

def full_block(name, bucket):
    return aws.s3.BucketPublicAccessBlock(name, bucket=bucket, block_public_acls=True, block_public_policy=True,
                                          ignore_public_acls=True, restrict_public_buckets=True)

def encryption(name, bucket, algorithm="aws:kms"):
    return aws.s3.BucketServerSideEncryptionConfiguration(name, bucket=bucket, rules=[
        {"apply_server_side_encryption_by_default": {"sse_algorithm": algorithm}}])

good = aws.s3.Bucket("good")
encryption("good-sse", good.id)
full_block("good-pab", good.id)

by_name = aws.s3.Bucket("by-name", bucket="my-named-bucket")   # referred to by a literal name, no dependency
encryption("by-name-sse", "my-named-bucket", "AES256")
full_block("by-name-pab", "my-named-bucket")

bare = aws.s3.Bucket("bare")

partial = aws.s3.Bucket("partial")
encryption("partial-sse", partial.id)
aws.s3.BucketPublicAccessBlock("partial-pab", bucket=partial.id, block_public_acls=True, block_public_policy=True)

inline = aws.s3.Bucket("inline", server_side_encryption_configuration={
    "rule": {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}})
full_block("inline-pab", inline.id)
"""


def test_s3_buckets_need_encryption_and_a_full_public_access_block(check_policies):
    result = check_policies(BUCKETS, REGION)
    assert result.names(SSE) == {"bare"}
    assert result.messages(SSE) == ["No BucketServerSideEncryptionConfiguration refers to the bucket."]
    assert result.names(PAB) == {"bare", "partial"}
    partial = next(v.detail for v in result.of(PAB) if result.graph.resources[v.urn].name == "partial")
    assert "leaves ignorePublicAcls, restrictPublicBuckets not true" in partial
    assert all(v.is_mandatory for v in result.of(SSE) + result.of(PAB))


def test_s3_encryption_algorithms_are_configurable(check_policies):
    result = check_policies(BUCKETS, REGION, {SSE: {"allowedAlgorithms": ["aws:kms"]}})
    assert result.names(SSE) == {"bare", "by-name", "inline"}
    assert any("uses AES256, expected one of aws:kms" in m for m in result.messages(SSE))
    with pytest.raises(PolicyPackError, match="allowedAlgorithms"):
        check_policies(BUCKETS, REGION, {SSE: {"allowedAlgorithms": ["rot13"]}})


def test_an_account_public_access_block_covers_every_bucket(check_policies):
    program = BUCKETS + """
aws.s3.AccountPublicAccessBlock("account", block_public_acls=True, block_public_policy=True,
                                ignore_public_acls=True, restrict_public_buckets=True)
"""
    assert check_policies(program, REGION).of(PAB) == []


def test_unknown_s3_settings_are_not_failures(check_policies):
    program = """
import pulumi_aws as aws
src = aws.ec2.Instance("src", instance_type="t3.micro", ami="ami-1")
flag = src.public_dns.apply(lambda _: True)
b = aws.s3.Bucket("b")
aws.s3.BucketPublicAccessBlock("pab", bucket=b.id, block_public_acls=flag, block_public_policy=True,
                               ignore_public_acls=True, restrict_public_buckets=True)
aws.s3.BucketServerSideEncryptionConfiguration("sse", bucket=b.id, rules=[
    {"apply_server_side_encryption_by_default": {"sse_algorithm": src.public_dns}}])
"""
    result = check_policies(program, REGION)
    assert result.of(PAB) == [] and result.of(SSE) == []
    assert [v for v in result.advisory if v.policy in (SSE, PAB)] == []  # no "can't run policy during preview"


EC2 = """
import pulumi_aws as aws
SECURE = dict(metadata_options={"http_tokens": "required", "http_endpoint": "enabled"},
              root_block_device={"encrypted": True, "volume_size": 100})

aws.ec2.Instance("secure", instance_type="g5.xlarge", ami="ami-1", **SECURE)
aws.ec2.Instance("imds-optional", instance_type="m5.large", ami="ami-1",
                 metadata_options={"http_tokens": "optional"}, root_block_device={"encrypted": True})
aws.ec2.Instance("no-root-device", instance_type="m5.large", ami="ami-1",
                 metadata_options={"http_tokens": "required"})
aws.ec2.Instance("plain-data-disk", instance_type="m5.large", ami="ami-1", **SECURE,
                 ebs_block_devices=[{"device_name": "/dev/sdf", "volume_size": 10, "encrypted": True},
                                    {"device_name": "/dev/sdg", "volume_size": 10}])
aws.ec2.Instance("gpu-public", instance_type="p5.48xlarge", ami="ami-1", associate_public_ip_address=True, **SECURE)
aws.ec2.Instance("cpu-public", instance_type="c5.large", ami="ami-1", associate_public_ip_address=True, **SECURE)
aws.ec2.Instance("from-template", ami="ami-1", launch_template={"id": "lt-1"})
aws.ec2.SpotInstanceRequest("spot-open", instance_type="g5.xlarge", ami="ami-1", root_block_device={"encrypted": True})

aws.ec2.LaunchTemplate("lt-secure", instance_type="g6.xlarge",
    metadata_options={"http_tokens": "required"},
    block_device_mappings=[{"device_name": "/dev/sda1", "ebs": {"encrypted": "true", "volume_size": 100}}],
    network_interfaces=[{"associate_public_ip_address": "false"}])
aws.ec2.LaunchTemplate("lt-open", instance_type="g6.xlarge",
    block_device_mappings=[{"device_name": "/dev/sda1", "ebs": {"volume_size": 100}}],
    network_interfaces=[{"associate_public_ip_address": "true"}])
aws.ec2.LaunchTemplate("lt-no-mappings", metadata_options={"http_tokens": "required"})
aws.ebs.Volume("vol-plain", availability_zone="us-east-1a", size=10)
aws.ebs.Volume("vol-encrypted", availability_zone="us-east-1a", size=10, encrypted=True)
"""


def test_ebs_volumes_must_be_encrypted(check_policies):
    result = check_policies(EC2, REGION)
    assert result.names(EBS) == {"no-root-device", "plain-data-disk", "lt-open", "lt-no-mappings", "vol-plain"}
    messages = " | ".join(result.messages(EBS))
    assert "ebsBlockDevices[1] (/dev/sdg) is not encrypted" in messages
    assert "blockDeviceMappings[0] (/dev/sda1) is not encrypted" in messages
    assert "no blockDeviceMappings" in messages


def test_imdsv2_is_required(check_policies):
    result = check_policies(EC2, REGION)
    assert result.names(IMDS) == {"imds-optional", "spot-open", "lt-open"}
    assert "httpTokens is 'optional'" in " ".join(result.messages(IMDS))


def test_gpu_instances_get_no_public_ip(check_policies):
    result = check_policies(EC2, REGION)
    assert result.names(PUBLIC_IP) == {"gpu-public", "lt-open"}
    assert "Accelerated instance type 'p5.48xlarge' gets a public IP" in " ".join(result.messages(PUBLIC_IP))


def test_the_gpu_instance_component_passes_the_whole_baseline(check_policies):
    program = """
from aifinops.components.gpu_instance import GpuInstance, GpuInstanceArgs
GpuInstance("box", GpuInstanceArgs(instance_type="g5.xlarge"))
"""
    result = check_policies(program, REGION)
    security = {v.policy for v in result.violations if v.policy_pack == "aifinops-security"}
    assert security == set()
