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
