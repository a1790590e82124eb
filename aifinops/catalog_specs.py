"""Regenerates aifinops/core/data/accelerated_instance_types.json from moto's DescribeInstanceTypes data.

moto ships AWS's own DescribeInstanceTypes records (GpuInfo, NeuronInfo, InferenceAcceleratorInfo) for
~1,400 types, kept current with each moto release. We vendor the accelerated subset so components and
policy packs need no moto at run time. Types moto lacks (older generations) come from
aifinops/core/data/accelerated_supplement.json, which names its own source.

Run: python -m aifinops.catalog_specs
"""
from __future__ import annotations

import gzip
import json
import os
from typing import Any

from aifinops.core import catalog

SPECS_FILE = catalog.DATA_DIR / "accelerated_instance_types.json"


def moto_instance_types() -> dict[str, Any]:
    import moto  # a dev/test dependency only: this runs when refreshing the vendored file

    path = os.path.join(os.path.dirname(moto.__file__), "ec2", "resources", "instance_types.json.gz")
    with gzip.open(path) as handle:
        return json.load(handle)


def accelerator_record(record: dict[str, Any]) -> dict[str, Any] | None:
    """Reduce one DescribeInstanceTypes record to the accelerator facts we use, or None if not accelerated."""
    base = {
        "vcpus": record.get("VCpuInfo", {}).get("DefaultVCpus"),
        "memoryGiB": round(record.get("MemoryInfo", {}).get("SizeInMiB", 0) / 1024, 2),
        # Local NVMe instance storage (0: EBS only); SageMaker encrypts it in hardware and rejects a KMS key.
        "instanceStorageGB": record.get("InstanceStorageInfo", {}).get("TotalSizeInGB", 0),
    }
    if record.get("GpuInfo"):
        gpu = record["GpuInfo"]["Gpus"][0]
        return {**base, "kind": "gpu", "manufacturer": gpu["Manufacturer"], "model": gpu["Name"],
                "count": sum(g["Count"] for g in record["GpuInfo"]["Gpus"]),
                "memoryGiBPerAccelerator": round(gpu["MemoryInfo"]["SizeInMiB"] / 1024, 2)}
    if record.get("NeuronInfo"):
        device = record["NeuronInfo"]["NeuronDevices"][0]
        kind = "trainium" if "trainium" in device["Name"].lower() else "inferentia"
        return {**base, "kind": kind, "manufacturer": "AWS", "model": device["Name"],
                "count": sum(d["Count"] for d in record["NeuronInfo"]["NeuronDevices"]),
                "memoryGiBPerAccelerator": round(device["MemoryInfo"]["SizeInMiB"] / 1024, 2)}
    if record.get("InferenceAcceleratorInfo"):
        accelerator = record["InferenceAcceleratorInfo"]["Accelerators"][0]
        name = accelerator["Name"]
        kind = "inferentia" if "inferentia" in name.lower() else "gpu"
        memory = accelerator.get("MemoryInfo", {}).get("SizeInMiB", 0)
        return {**base, "kind": kind, "manufacturer": accelerator["Manufacturer"], "model": name,
                "count": sum(a["Count"] for a in record["InferenceAcceleratorInfo"]["Accelerators"]),
                "memoryGiBPerAccelerator": round(memory / 1024, 2)}
    return None


def build() -> dict[str, Any]:
    import moto

    types = {name: spec for name, record in sorted(moto_instance_types().items())
             if (spec := accelerator_record(record)) is not None}
    return {"source": f"moto {moto.__version__} ec2/resources/instance_types.json.gz (AWS DescribeInstanceTypes)",
            "instanceTypes": types}


def main() -> None:
    SPECS_FILE.write_text(json.dumps(build(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SPECS_FILE}")


if __name__ == "__main__":
    main()
