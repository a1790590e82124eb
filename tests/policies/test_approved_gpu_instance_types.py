"""approved-gpu-instance-types through the real gRPC path: every place an instance type can be set."""
import pytest

from aifinops.core import catalog
from aifinops.core.errors import PolicyPackError

POLICY = "approved-gpu-instance-types"

# One resource per place an instance type can be set; {t} is the type under test ({ml} for SageMaker).
EVERY_PLACE = """
import pulumi_aws as aws
import pulumi_kubernetes as k8s

T, ML, FAMILY = "{t}", "ml.{t}", "{family}"
aws.ec2.Instance("instance", instance_type=T, ami="ami-1")
aws.ec2.LaunchTemplate("launch-template", instance_type=T)
aws.ec2.SpotInstanceRequest("spot-request", instance_type=T, ami="ami-1")
aws.ec2.SpotFleetRequest("spot-fleet-spec", iam_fleet_role="arn:aws:iam::123456789012:role/f", target_capacity=1,
    launch_specifications=[{{"instance_type": "m5.large", "ami": "ami-1"}}, {{"instance_type": T, "ami": "ami-1"}}])
aws.ec2.SpotFleetRequest("spot-fleet-override", iam_fleet_role="arn:aws:iam::123456789012:role/f", target_capacity=1,
    launch_template_configs=[{{"launch_template_specification": {{"id": "lt-1", "version": "1"}},
                              "overrides": [{{"instance_type": T}}]}}])
aws.ec2.Fleet("ec2-fleet", target_capacity_specification={{"default_target_capacity_type": "spot", "total_target_capacity": 1}},
    launch_template_configs=[{{"launch_template_specification": {{"launch_template_id": "lt-1", "version": "1"}},
                              "overrides": [{{"instance_type": "c5.large"}}, {{"instance_type": T}}]}}])
aws.autoscaling.Group("asg", min_size=0, max_size=2, mixed_instances_policy={{
    "launch_template": {{"launch_template_specification": {{"launch_template_id": "lt-1"}},
                        "overrides": [{{"instance_type": T}}]}}}})
aws.eks.NodeGroup("node-group", cluster_name="c", node_role_arn="arn:aws:iam::123456789012:role/n",
    subnet_ids=["subnet-1"], scaling_config={{"desired_size": 1, "max_size": 1, "min_size": 0}}, instance_types=[T])
aws.batch.ComputeEnvironment("batch", type="MANAGED", compute_resources={{
    "type": "EC2", "max_vcpus": 16, "subnets": ["subnet-1"], "security_group_ids": ["sg-1"],
    "instance_role": "arn:aws:iam::123456789012:instance-profile/b", "instance_types": ["optimal", T]}})
aws.batch.ComputeEnvironment("batch-family", type="MANAGED", compute_resources={{
    "type": "EC2", "max_vcpus": 16, "subnets": ["subnet-1"], "security_group_ids": ["sg-1"],
    "instance_role": "arn:aws:iam::123456789012:instance-profile/b", "instance_types": [FAMILY]}})
aws.sagemaker.EndpointConfiguration("endpoint-config", production_variants=[{{
    "model_name": "m", "variant_name": "a", "instance_type": ML, "initial_instance_count": 1}}])
aws.sagemaker.EndpointConfiguration("endpoint-shadow", production_variants=[{{
    "model_name": "m", "variant_name": "a", "instance_type": "ml.m5.large", "initial_instance_count": 1}}],
    shadow_production_variants=[{{"model_name": "m", "variant_name": "b", "instance_type": ML,
                                 "initial_instance_count": 1}}])
aws.sagemaker.NotebookInstance("notebook", instance_type=ML, role_arn="arn:aws:iam::123456789012:role/s")
aws.sagemaker.Domain("domain", auth_mode="IAM", domain_name="d", subnet_ids=["subnet-1"], vpc_id="vpc-1",
    default_user_settings={{"execution_role": "arn:aws:iam::123456789012:role/s",
                           "jupyter_server_app_settings": {{"default_resource_spec": {{"instance_type": "system"}}}},
                           "kernel_gateway_app_settings": {{"default_resource_spec": {{"instance_type": ML}}}}}})
k8s.apiextensions.CustomResource("nodepool", api_version="karpenter.sh/v1", kind="NodePool", spec={{
    "template": {{"spec": {{"requirements": [
        {{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}},
        {{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [T]}}]}}}}}})
k8s.apiextensions.CustomResource("nodepool-family", api_version="karpenter.sh/v1", kind="NodePool", spec={{
    "template": {{"spec": {{"requirements": [
        {{"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": [FAMILY]}}]}}}}}})
"""
PLACES = {  # resource name -> where the message must say the type was found
    "instance": "at instanceType", "launch-template": "at instanceType", "spot-request": "at instanceType",
    "spot-fleet-spec": "at launchSpecifications[1].instanceType",
    "spot-fleet-override": "at launchTemplateConfigs[0].overrides[0].instanceType",
    "ec2-fleet": "at launchTemplateConfigs[0].overrides[1].instanceType",
    "asg": "at mixedInstancesPolicy.launchTemplate.overrides[0].instanceType",
    "node-group": "at instanceTypes[0]", "batch": "at computeResources.instanceTypes[1]",
    "batch-family": "at computeResources.instanceTypes[0]",
    "endpoint-config": "at productionVariants[0].instanceType",
    "endpoint-shadow": "at shadowProductionVariants[0].instanceType",
    "notebook": "at instanceType",
    "domain": "at defaultUserSettings.kernelGatewayAppSettings.defaultResourceSpec.instanceType",
    "nodepool": "at spec.template.spec.requirements[1].values[0]",
    "nodepool-family": "at spec.template.spec.requirements[0].values[0]",
}
REGION = {"aws:region": "us-east-1"}


def test_unapproved_accelerated_type_is_rejected_everywhere_it_can_be_set(check_policies):
    assert "p3.2xlarge" not in catalog.DEFAULT_APPROVED_INSTANCE_TYPES and catalog.is_accelerated("p3.2xlarge")
    result = check_policies(EVERY_PLACE.format(t="p3.2xlarge", family="p3"), REGION)
    assert result.names(POLICY) == set(PLACES)
    for violation in result.of(POLICY):
        name = result.graph.resources[violation.urn].name
        assert PLACES[name] in violation.detail, (name, violation.detail)
        assert violation.is_mandatory
        # names the offending type and the approved list
        assert "'p3" in violation.detail and "approved types: " + ", ".join(catalog.DEFAULT_APPROVED_INSTANCE_TYPES) \
            in violation.detail


def test_approved_types_pass_everywhere(check_policies):
    family = "g5"  # every g5 size is in the default approved list except some: check the family rule too
    unapproved_g5 = [t for t in catalog.accelerated_types() if t.startswith("g5.")
                     and t not in catalog.DEFAULT_APPROVED_INSTANCE_TYPES]
    result = check_policies(EVERY_PLACE.format(t="g5.xlarge", family=family), REGION)
    expected_family_flags = {"batch-family", "nodepool-family"} if unapproved_g5 else set()
    assert result.names(POLICY) == expected_family_flags
    for violation in result.of(POLICY):
        assert "instance family 'g5'" in violation.detail and unapproved_g5[0] in violation.detail


def test_cpu_types_are_never_flagged(check_policies):
    result = check_policies(EVERY_PLACE.format(t="m5.large", family="m5"), REGION)
    assert result.of(POLICY) == []


def test_sagemaker_ml_prefix_is_compared_without_it(check_policies):
    program = """
import pulumi_aws as aws
aws.sagemaker.NotebookInstance("ok", instance_type="ml.g5.xlarge", role_arn="arn:aws:iam::123456789012:role/s")
aws.sagemaker.NotebookInstance("bad", instance_type="ml.p4de.24xlarge", role_arn="arn:aws:iam::123456789012:role/s")
"""
    result = check_policies(program, REGION)
    assert result.names(POLICY) == {"bad"}
    assert "'ml.p4de.24xlarge'" in result.messages(POLICY)[0]
    assert "compared as 'p4de.24xlarge'" in result.messages(POLICY)[0]
    # an approved list written with ml. names means the same types
    result = check_policies(program, REGION, {POLICY: {"approvedInstanceTypes": ["ml.p4de.24xlarge"]}})
    assert result.names(POLICY) == {"ok"}


def test_config_replaces_the_approved_list(check_policies):
    program = """
import pulumi_aws as aws
aws.ec2.Instance("a", instance_type="p5.48xlarge", ami="ami-1")
aws.ec2.Instance("b", instance_type="g5.xlarge", ami="ami-1")
"""
    assert check_policies(program, REGION).names(POLICY) == set()
    result = check_policies(program, REGION, {POLICY: {"approvedInstanceTypes": ["g5.xlarge"]}})
    assert result.names(POLICY) == {"a"}
    assert result.messages(POLICY)[0].endswith("approved types: g5.xlarge.")


def test_enforcement_level_from_config(check_policies):
    program = 'import pulumi_aws as aws\naws.ec2.Instance("a", instance_type="p3.2xlarge", ami="ami-1")\n'
    result = check_policies(program, REGION, {POLICY: "advisory"})
    assert [v.enforcement_level for v in result.of(POLICY)] == ["advisory"]
    assert check_policies(program, REGION, {POLICY: "disabled"}).of(POLICY) == []
    result = check_policies(program, REGION, {"all": "advisory"})
    assert result.mandatory == [] and result.of(POLICY)


@pytest.mark.parametrize("config, expected", [
    ({POLICY: {"approvedInstanceTypes": "g5.xlarge"}}, "approvedInstanceTypes: Invalid type. Expected: array, given: string"),
    ({POLICY: {"approvedInstanceTypes": [5]}}, "approvedInstanceTypes[0]: Invalid type. Expected: string, given: integer"),
    ({POLICY: {"approvedInstanceTypes": ["g5.xlarge", "g5.xlarge"]}}, "has non-unique elements"),
])
def test_invalid_config_is_an_error_naming_policy_and_property(check_policies, config, expected):
    with pytest.raises(PolicyPackError) as error:
        check_policies('import pulumi_aws as aws\naws.s3.Bucket("b")\n', REGION, config)
    assert str(error.value).startswith("validating policy config: aifinops-cost ")
    assert f"{POLICY}: " in str(error.value) and expected in str(error.value)


def test_unknown_instance_type_is_not_a_failure(check_policies):
    program = """
import pulumi_aws as aws
src = aws.ec2.Instance("src", instance_type="t3.micro", ami="ami-1")
aws.ec2.Instance("gpu", instance_type=src.public_dns.apply(lambda _: "p3.2xlarge"), ami="ami-1")
aws.eks.NodeGroup("ng", cluster_name="c", node_role_arn="arn:aws:iam::123456789012:role/n", subnet_ids=["s"],
    scaling_config={"desired_size": 1, "max_size": 1, "min_size": 0},
    instance_types=[src.public_dns.apply(lambda _: "p3.2xlarge"), "p3.8xlarge"])
"""
    result = check_policies(program, REGION)
    assert result.names(POLICY) == {"ng"}  # the known p3.8xlarge is still checked
    assert "'p3.8xlarge'" in result.messages(POLICY)[0]
    # no "can't run policy during preview" advisory: unknowns are handled, not tripped over
    assert [v for v in result.advisory if v.policy == POLICY] == []


def test_accelerated_type_the_catalog_lacks_is_judged_by_its_family(check_policies):
    """Issue 13: with only g5.xlarge approved, p6e-gb200 (now listed) and a future p7 (judged by family) fail."""
    assert catalog.lookup("p7.48xlarge") is None
    program = """
import pulumi_aws as aws
aws.ec2.Instance("gb200", instance_type="p6e-gb200.36xlarge", ami="ami-1")
aws.ec2.Instance("future", instance_type="p7.48xlarge", ami="ami-1")
aws.ec2.Instance("cpu", instance_type="c9i.large", ami="ami-1")
aws.ec2.Instance("approved", instance_type="g5.xlarge", ami="ami-1")
"""
    result = check_policies(program, REGION, {POLICY: {"approvedInstanceTypes": ["g5.xlarge"]}})
    assert result.names(POLICY) == {"gb200", "future"}
    by_name = {result.graph.resources[v.urn].name: v for v in result.of(POLICY)}
    assert "4x NVIDIA GB200" in by_name["gb200"].detail
    assert "not in the catalog; family p7 is of an accelerated series (p)" in by_name["future"].detail
    assert all(v.is_mandatory for v in by_name.values())


def test_type_that_cannot_be_classified_is_a_violation_until_approved_by_name(check_policies):
    program = """
import pulumi_aws as aws
aws.ec2.Instance("odd", instance_type="q9.8xlarge", ami="ami-1")
aws.ec2.Instance("garbled", instance_type="GPU-large", ami="ami-1")
"""
    result = check_policies(program, REGION, {POLICY: {"approvedInstanceTypes": ["g5.xlarge"]}})
    assert result.names(POLICY) == {"odd", "garbled"}
    assert all("cannot be classified as accelerated or not" in v.detail for v in result.of(POLICY))
    approved = check_policies(program, REGION, {POLICY: {"approvedInstanceTypes": ["g5.xlarge", "q9.8xlarge"]}})
    assert approved.names(POLICY) == {"garbled"}
