"""The accelerated-type catalog: specs from moto's DescribeInstanceTypes data, dated prices."""
from __future__ import annotations

import pytest

from aifinops import catalog_specs
from aifinops.core import catalog


def test_vendored_specs_match_the_current_moto_data():
    """The vendored file is exactly what the generator makes from the installed moto."""
    built = catalog_specs.build()["instanceTypes"]
    vendored = catalog._load("accelerated_instance_types.json")["instanceTypes"]
    assert vendored == built


@pytest.mark.parametrize("instance_type, kind, model, count", [
    ("p4d.24xlarge", "gpu", "A100", 8), ("p5.48xlarge", "gpu", "H100", 8), ("g5.xlarge", "gpu", "A10G", 1),
    ("trn1.32xlarge", "trainium", "Trainium", 16), ("inf2.xlarge", "inferentia", "Inferentia2", 1),
    ("dl1.24xlarge", "gaudi", "Gaudi", 8), ("p3.2xlarge", "gpu", "V100", 1), ("ml.g5.2xlarge", "gpu", "A10G", 1),
])
def test_accelerated_types_are_known_with_their_accelerators(instance_type, kind, model, count):
    spec = catalog.lookup(instance_type)
    assert (spec.kind, spec.model, spec.count) == (kind, model, count)


@pytest.mark.parametrize("instance_type", ["m5.large", "c7g.xlarge", "t3.micro", "gpu.fake", ""])
def test_cpu_and_unknown_types_are_not_accelerated(instance_type):
    assert not catalog.is_accelerated(instance_type)


def test_prices_carry_source_and_date_and_cover_the_default_approved_set():
    table = catalog.price_table()
    assert "Price List API" in table.source and table.as_of == "2026-11"
    assert catalog.on_demand_price("p4d.24xlarge") == 21.958
    assert all(catalog.on_demand_price(t) for t in catalog.DEFAULT_APPROVED_INSTANCE_TYPES)
    assert all(catalog.is_accelerated(t) for t in catalog.DEFAULT_APPROVED_INSTANCE_TYPES)
    assert 0 < catalog.spot_discount("p5en.48xlarge") < 1


def test_require_accelerated_names_argument_value_and_expectation():
    with pytest.raises(ValueError, match=r"instance_type: 'm5.large' is not an accelerated .* expected one of"):
        catalog.require_accelerated("instance_type", "m5.large")


def test_approval_problem_names_type_accelerator_and_location():
    approved = ["g5.xlarge", "ml.p4d.24xlarge"]
    assert catalog.approval_problem("g5.xlarge", approved) == ""
    assert catalog.approval_problem("ml.p4d.24xlarge", approved) == ""  # ml. names compare without the prefix
    assert catalog.approval_problem("m5.large", approved) == ""  # CPU types are not this policy's business
    assert catalog.approval_problem("ml.p5.48xlarge", approved, where="productionVariants[0].instanceType") == (
        "accelerated instance type 'ml.p5.48xlarge' (8x NVIDIA H100, compared as 'p5.48xlarge') "
        "at productionVariants[0].instanceType is not approved")
    assert catalog.approval_problem("p4d", approved, is_family=True) == ""  # every p4d size is approved
    assert "g5.2xlarge" in catalog.approval_problem("g5", approved, is_family=True)


@pytest.mark.parametrize("instance_type, local_storage", [
    ("ml.g5.xlarge", True), ("p4d.24xlarge", True), ("inf2.xlarge", False), ("p3.2xlarge", None)])
def test_local_instance_storage_is_known_from_aws_records(instance_type, local_storage):
    """SageMaker rejects a volume KMS key on types with local NVMe storage; the supplement does not say."""
    assert catalog.lookup(instance_type).has_local_storage is local_storage


# -- types the catalog does not list: the family rule ------------------------------------------------
def test_issue_13_accelerated_types_are_listed_with_their_accelerators():
    for instance_type in ("p6-b200.48xlarge", "p6-b300.48xlarge", "p6e-gb200.36xlarge", "trn2.48xlarge",
                          "trn2u.48xlarge", "g6f.xlarge", "g7e.2xlarge"):
        spec = catalog.lookup(instance_type)
        # g6f sizes hold a fraction of an L4 (moto's record: Count 0, GpuPartitionSize < 1)
        assert spec is not None and spec.kind in ("gpu", "trainium") and spec.memory_gib_per_accelerator > 0, instance_type
    assert catalog.lookup("p6e-gb200.36xlarge").model == "GB200"


def test_every_accelerated_type_in_motos_data_is_in_the_catalog():
    """moto ships AWS's DescribeInstanceTypes records: none with a GPU, Neuron or inference accelerator is missing."""
    from aifinops.catalog_specs import moto_instance_types

    records = moto_instance_types()
    accelerated = {name for name, record in records.items()
                   if record.get("GpuInfo") or record.get("NeuronInfo") or record.get("InferenceAcceleratorInfo")}
    assert accelerated and accelerated <= set(catalog.accelerated_types())


def test_family_rule_classifies_every_ec2_type_botocore_names():
    """The rule knows every series in botocore's EC2 InstanceType enum, and agrees with the catalog on each type."""
    import botocore.session

    names = botocore.session.get_session().get_service_model("ec2").shape_for("InstanceType").enum
    assert len(names) > 1000
    unclassified = [name for name in names if catalog.classify(name).verdict == catalog.UNCLASSIFIED]
    assert unclassified == []
    by_rule = {name: catalog.series_verdict(name.split(".", 1)[0])[0] for name in names}
    listed = set(catalog.accelerated_types())
    assert [n for n in names if n in listed and by_rule[n] != catalog.ACCELERATED] == []
    # names the rule calls accelerated that the catalog lacks: only retired generations (g2, cg1)
    assert {n.split(".", 1)[0] for n in names if by_rule[n] == catalog.ACCELERATED and n not in listed} <= {"g2", "cg1"}


@pytest.mark.parametrize("value, verdict, ec2_name", [
    ("p7.48xlarge", "accelerated", "p7.48xlarge"), ("g8e.xlarge", "accelerated", "g8e.xlarge"),
    ("trn3.48xlarge", "accelerated", "trn3.48xlarge"), ("inf3.xlarge", "accelerated", "inf3.xlarge"),
    ("dl3.24xlarge", "accelerated", "dl3.24xlarge"), ("m9i.large", "not-accelerated", "m9i.large"),
    ("u-6tb1.112xlarge", "not-accelerated", "u-6tb1.112xlarge"), ("stream.graphics.g4dn.xlarge", "accelerated",
                                                                  "g4dn.xlarge"),
    ("r6g.large.search", "not-accelerated", "r6g.large"), ("optimal", "not-accelerated", "optimal"),
    ("q9.large", "unclassified", "q9.large"), ("GPU-large", "unclassified", ""), ("", "unclassified", ""),
])
def test_classify_reads_types_the_catalog_does_not_list_by_family(value, verdict, ec2_name):
    found = catalog.classify(value)
    assert (found.verdict, found.ec2_name) == (verdict, ec2_name)


def test_approval_problem_fails_closed_on_unlisted_and_unclassifiable_types():
    approved = ["g5.xlarge"]
    assert "not in the catalog; family p7 is of an accelerated series (p)" in catalog.approval_problem("p7.48xlarge",
                                                                                                       approved)
    assert catalog.approval_problem("p7.48xlarge", approved + ["p7.48xlarge"]) == ""
    assert "cannot be classified" in catalog.approval_problem("q9.large", approved)
    assert catalog.approval_problem("q9.large", approved + ["q9.large"]) == ""  # approved by name
    assert "accelerated types the catalog does not list" in catalog.approval_problem("p7", approved, is_family=True)
    assert "cannot be classified" in catalog.approval_problem("zz1", approved, is_family=True)
    assert catalog.approval_problem("optimal", approved, is_family=True) == ""  # Batch's CPU alias
