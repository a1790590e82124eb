"""aifinops/checkov/mapping.json, one test per mapped type: the Terraform type is one checkov knows, and
every list block and map the pulumi-aws SDK declares for the type is named in the mapping (so nothing
pluralised reaches checkov under a name its checks never read). No checkov CLI run: its resource-type
list is read from the checkov virtualenv once."""
from __future__ import annotations

import json
import subprocess
from functools import lru_cache

import pulumi_kubernetes
import pytest

from aifinops.checkov.export import load_mapping
from aifinops.checkov.run import find_checkov
from tests.checkov_schema import property_shapes

MAPPING = load_mapping()

CHECKOV_FACTS = """
import json
from checkov.common.checks_infra.resources_types import resources_types
from checkov.kubernetes.kubernetes_utils import SUPPORTED_POD_CONTAINERS_TYPES
print(json.dumps({"aws": resources_types["aws"], "pod_kinds": sorted(SUPPORTED_POD_CONTAINERS_TYPES)}))
"""


@lru_cache(maxsize=1)
def checkov_facts() -> dict:
    python = find_checkov().parent / "python"
    completed = subprocess.run([str(python), "-c", CHECKOV_FACTS], capture_output=True, text=True, check=True)
    return json.loads(completed.stdout)


@pytest.mark.parametrize("token", sorted(MAPPING.aws))
def test_aws_type_maps_to_a_terraform_type_checkov_knows(token: str) -> None:
    terraform = MAPPING.aws[token].terraform
    assert terraform in checkov_facts()["aws"], f"{token} -> {terraform}: not a Terraform type checkov knows"


@pytest.mark.parametrize("token", sorted(MAPPING.aws))
def test_aws_mapping_names_every_block_and_map_of_the_sdk_schema(token: str) -> None:
    mapping = MAPPING.aws[token]
    shapes = property_shapes(token, frozenset(mapping.json_attributes))
    unnamed_blocks = shapes.list_blocks - set(mapping.names)
    assert not unnamed_blocks, f"{token}: list blocks without a Terraform name in mapping.json: {unnamed_blocks}"
    undeclared_maps = shapes.maps - mapping.maps
    assert not undeclared_maps, f"{token}: maps whose keys would be renamed: {undeclared_maps}"
    stale = set(mapping.names) - shapes.names
    assert not stale, f"{token}: mapping.json names properties the SDK does not have: {stale}"


@pytest.mark.parametrize("token", sorted(MAPPING.kubernetes))
def test_kubernetes_kind_counts_its_pod_template_as_checkov_does(token: str) -> None:
    package, group_version, kind = token.split(":")
    assert package == "kubernetes" and "/" in group_version and kind
    assert MAPPING.kubernetes[token].pod_template == (kind in checkov_facts()["pod_kinds"])


# Kinds of CRDs (Karpenter, the Prometheus Operator) are apiextensions.CustomResource, not typed classes.
CUSTOM_RESOURCE_GROUPS = (":karpenter.sh/", ":monitoring.coreos.com/")


@pytest.mark.parametrize("token", sorted(t for t in MAPPING.kubernetes
                                         if not any(group in t for group in CUSTOM_RESOURCE_GROUPS)))
def test_kubernetes_kind_is_a_typed_pulumi_kubernetes_resource(token: str) -> None:
    _, group_version, kind = token.split(":")
    group, version = group_version.split("/")
    module = getattr(pulumi_kubernetes, group.split(".")[0].replace("-", "_"))
    assert hasattr(getattr(module, version), kind), f"{token}: pulumi_kubernetes has no such resource class"
