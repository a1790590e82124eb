"""Karpenter NodePools (karpenter.sh/v1): the GPU nodes a pool launches for the pods that select it.

A NodePool has no size of its own: it launches nodes for pending pods. So it is priced at the pods that
select it (`nodeSelector: karpenter.sh/nodepool: <pool>`) at their desired replicas (an HPA's
minReplicas, else the Deployment's replicas), and at its maximum: the pool's `limits.nvidia.com/gpu`, the
most GPUs it will ever run (else the HPAs' maxReplicas). Nodes are the cheapest allowed type per GPU, on
spot when the pool allows spot (Karpenter prefers the cheapest capacity that fits). `instances` in the
usage file sets the desired node count instead.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from aifinops.core import catalog

from ..values import as_list, is_unknown
from .compute import hours_of, on_demand_line, spot_line, unpriced_types
from .context import PricingContext
from .model import PRICED, Priced, PriceLine, unpriced
from .view import CostResource

NODE_POOL_TYPES = ("kubernetes:karpenter.sh/v1:NodePool", "kubernetes:karpenter.sh/v1beta1:NodePool")
DEPLOYMENT_TYPES = ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")
HPA_TYPES = ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler")
NODE_POOL_LABEL = "karpenter.sh/nodepool"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
NVIDIA_GPU = "nvidia.com/gpu"


def _count(value: Any) -> Optional[float]:
    if value is None or isinstance(value, bool) or is_unknown(value):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _requirement(r: CostResource, key: str) -> list[str]:
    for requirement in as_list(r.get("spec", "template", "spec", "requirements")):
        if isinstance(requirement, dict) and requirement.get("key") == key and requirement.get("operator") == "In":
            return [v for v in as_list(requirement.get("values")) if isinstance(v, str) and not is_unknown(v)]
    return []


def _pod_gpus(workload: CostResource) -> float:
    containers = as_list(workload.get("spec", "template", "spec", "containers"))
    return sum(_count((c.get("resources") or {}).get("limits", {}).get(NVIDIA_GPU)) or 0.0
               for c in containers if isinstance(c, dict))


def _replicas(workload: CostResource, ctx: PricingContext) -> tuple[float, Optional[float], str]:
    """(desired, maximum or None, where they came from) for one Deployment."""
    name = workload.get("metadata", "name")
    for hpa in ctx.of_type(*HPA_TYPES):
        target = hpa.get("spec", "scaleTargetRef") or {}
        if isinstance(target, dict) and target.get("name") == name and name is not None:
            low = _count(hpa.get("spec", "minReplicas"))
            return (1.0 if low is None else low), _count(hpa.get("spec", "maxReplicas")), f"HPA {hpa.name}"
    replicas = _count(workload.get("spec", "replicas"))
    return (1.0 if replicas is None else replicas), None, f"Deployment {workload.name} replicas"


def price_node_pool(r: CostResource, ctx: PricingContext) -> Priced:
    types = [catalog.normalize_instance_type(t) for t in _requirement(r, INSTANCE_TYPE_LABEL)]
    if not types:
        return unpriced(f"no {INSTANCE_TYPE_LABEL} requirement: the types Karpenter may launch are unknown")
    problem = unpriced_types(ctx, types)
    unknown_gpus = [t for t in types if (catalog.lookup(t) is None or not catalog.lookup(t).count)]
    if problem or unknown_gpus:
        return unpriced(problem or f"GPU count unknown for {', '.join(unknown_gpus)}")
    spot = "spot" in _requirement(r, CAPACITY_TYPE_LABEL)

    def per_gpu_hour(instance_type: str) -> float:
        price = ctx.ec2.on_demand_usd(instance_type) or 0.0
        return price * ((1 - ctx.spot_discount(instance_type)) if spot else 1.0) / catalog.lookup(instance_type).count

    chosen = min(types, key=lambda t: (per_gpu_hour(t), t))
    gpus_per_node = catalog.lookup(chosen).count
    usage = ctx.usage_for(r)
    hours, hours_note = hours_of(usage, "each node")
    pool_name = r.get("metadata", "name")
    workloads = [w for w in ctx.of_type(*DEPLOYMENT_TYPES)
                 if pool_name is not None and w.get("spec", "template", "spec", "nodeSelector", NODE_POOL_LABEL) == pool_name]
    desired_gpus, hpa_max_gpus, sources = 0.0, 0.0, []
    for workload in workloads:
        low, high, source = _replicas(workload, ctx)
        gpus = _pod_gpus(workload)
        desired_gpus += low * gpus
        hpa_max_gpus = None if (high is None or hpa_max_gpus is None) else hpa_max_gpus + high * gpus
        sources.append(source)
    if "instances" in usage:
        desired_nodes = float(usage["instances"])
        desired_note = f"{desired_nodes:g} nodes (usage file)"
    else:
        desired_nodes = float(math.ceil(desired_gpus / gpus_per_node))
        desired_note = (f"{desired_nodes:g} nodes for {desired_gpus:g} GPUs of the pods that select it "
                        f"({', '.join(sources) or 'none'}; set instances in the usage file)")
    limit = _count(r.get("spec", "limits", NVIDIA_GPU))
    max_gpus = limit if limit is not None else (hpa_max_gpus if workloads else None)
    what = f"limits.{NVIDIA_GPU}" if limit is not None else "the HPAs' maxReplicas"

    def lines_for(nodes: float, note: str) -> list[PriceLine]:
        if nodes <= 0:
            return []
        assumption = f"{note}, {hours_note}; {chosen}: cheapest allowed type per GPU{' on spot' if spot else ''}"
        if spot:
            return [spot_line(ctx, [chosen], nodes * hours, None, assumption)]
        return [on_demand_line(ctx, chosen, nodes * hours, assumption)]

    priced = Priced(PRICED, lines=lines_for(desired_nodes, desired_note))
    if max_gpus is None:
        priced.note = (f"no maximum: the pool has no limits.{NVIDIA_GPU} and its pods no HPA maxReplicas, so "
                       f"Karpenter may launch GPU nodes without bound")
        priced.unbounded = True
        return priced
    max_nodes = float(math.floor(max_gpus / gpus_per_node))
    if max_nodes > desired_nodes:
        priced.max_lines = lines_for(max_nodes, f"{max_nodes:g} nodes ({what} {max_gpus:g} GPUs: the most it "
                                                f"will run)")
    return priced


PRICERS = {token: price_node_pool for token in NODE_POOL_TYPES}
