"""Where an instance type can be set, in every resource type that launches or reserves instances.

AWS resources name the setting `instanceType` (one type) or `instanceTypes` (a list) at whatever depth
the resource nests it: EC2 Instance, LaunchTemplate and SpotInstanceRequest at the top; SpotFleetRequest
in `launchSpecifications[]` and `launchTemplateConfigs[].overrides[]`; ec2.Fleet in
`launchTemplateConfigs[].overrides[]`; an auto scaling group in
`mixedInstancesPolicy.launchTemplate.overrides[]`; eks.NodeGroup and batch.ComputeEnvironment as
`instanceTypes` lists; every SageMaker resource that takes one (endpoint production and shadow variants,
notebook instances, domain/user-profile/space/app resource specs, job definitions' cluster configs).
So the finder walks the whole property tree of AWS resources for those two names, which also covers
resource types added to the provider later. A Batch `instanceTypes` entry without a size (`p4d`) names a
whole instance family.

Karpenter NodePools (a Kubernetes CustomResource, `karpenter.sh/v1` or `v1beta1`) choose instances from
`spec.template.spec.requirements[]`: an `In` requirement on `node.kubernetes.io/instance-type` lists
types, one on `karpenter.k8s.aws/instance-family` lists families.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .preview_values import UNKNOWN, as_list, dig, plain

INSTANCE_TYPE_KEYS = ("instanceType", "instanceTypes")
KARPENTER_NODEPOOL_TYPES = ("kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool")
KARPENTER_TYPE_LABELS = ("node.kubernetes.io/instance-type", "beta.kubernetes.io/instance-type")
KARPENTER_FAMILY_LABEL = "karpenter.k8s.aws/instance-family"


@dataclass(frozen=True)
class InstanceTypeSetting:
    path: str  # where in the resource's properties, e.g. "launchTemplateConfigs[0].overrides[1].instanceType"
    value: Any  # the type (or family) name, or UNKNOWN during preview
    is_family: bool = False  # a whole family ("p4d"), as Batch and Karpenter accept


def instance_type_settings(resource_type: str, props: Any) -> list[InstanceTypeSetting]:
    """Every instance type (or family) the resource sets, in property order."""
    props = plain(props)
    if resource_type in KARPENTER_NODEPOOL_TYPES:
        return list(_karpenter_settings(props))
    if resource_type.startswith("aws:"):
        return list(_aws_settings(props, ""))
    return []


def _aws_settings(value: Any, path: str) -> Iterator[InstanceTypeSetting]:
    if isinstance(value, dict):
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if key == "instanceType" and (isinstance(item, str) or item is UNKNOWN):
                yield InstanceTypeSetting(here, item)
            elif key == "instanceTypes" and item is UNKNOWN:
                yield InstanceTypeSetting(here, UNKNOWN)
            elif key == "instanceTypes" and isinstance(item, list):
                for index, entry in enumerate(item):
                    if isinstance(entry, str) or entry is UNKNOWN:
                        yield InstanceTypeSetting(f"{here}[{index}]", entry, _is_family_name(entry))
            else:
                yield from _aws_settings(item, here)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _aws_settings(item, f"{path}[{index}]")


def _is_family_name(entry: Any) -> bool:
    return isinstance(entry, str) and "." not in entry


def _karpenter_settings(props: Any) -> Iterator[InstanceTypeSetting]:
    base = "spec.template.spec.requirements"
    for index, requirement in enumerate(as_list(dig(props, "spec", "template", "spec", "requirements"))):
        key, operator = dig(requirement, "key"), dig(requirement, "operator")
        if operator != "In" or key not in (*KARPENTER_TYPE_LABELS, KARPENTER_FAMILY_LABEL):
            continue
        values = dig(requirement, "values")
        if values is UNKNOWN:
            yield InstanceTypeSetting(f"{base}[{index}].values", UNKNOWN)
            continue
        for position, entry in enumerate(as_list(values)):
            yield InstanceTypeSetting(f"{base}[{index}].values[{position}]", entry, key == KARPENTER_FAMILY_LABEL)
