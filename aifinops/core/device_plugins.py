"""Kubernetes extended-resource names of accelerators, as their device plugins advertise them.

A pod asks for accelerators by these names (`nvidia.com/gpu: 1`), and a Karpenter NodePool caps them in
`limits`; the catalog says which manufacturer builds each instance type's accelerator.
"""
from __future__ import annotations

from typing import Optional

from .catalog import AcceleratorSpec

# manufacturer (catalog) -> resource name (NVIDIA and AMD device plugins, AWS Neuron, Habana, Qualcomm AIC).
RESOURCE_BY_MANUFACTURER = {
    "NVIDIA": "nvidia.com/gpu",
    "AMD": "amd.com/gpu",
    "AWS": "aws.amazon.com/neuron",
    "Habana": "habana.ai/gaudi",
    "Qualcomm": "qualcomm.com/qaic",
}
NVIDIA_GPU = RESOURCE_BY_MANUFACTURER["NVIDIA"]
# Other names the same plugins can advertise (Neuron cores, MIG slices use the nvidia.com/ prefix).
EXTRA_RESOURCES = ("aws.amazon.com/neuroncore", "aws.amazon.com/neurondevice")


def resource_for(spec: AcceleratorSpec) -> Optional[str]:
    return RESOURCE_BY_MANUFACTURER.get(spec.manufacturer)


def is_accelerator_resource(name: str) -> bool:
    """True for any accelerator resource name, MIG profiles such as `nvidia.com/mig-1g.10gb` included."""
    return name in RESOURCE_BY_MANUFACTURER.values() or name in EXTRA_RESOURCES or name.startswith("nvidia.com/mig-")
