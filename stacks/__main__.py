"""The example AI platform: composes aifinops components from the stack's config.

Each config section (gpuInstances, ...) is a list of components of one kind, each with a `name` and
that component's settings in camelCase. Sections are built in order, so later ones can refer to
earlier components by name.
"""
import pulumi

from components.config_args import build_args
from components.gpu_instance import GpuInstance, GpuInstanceArgs
from components.tagging import register_cost_tags

config = pulumi.Config()
cost_tags = register_cost_tags(config.require_object("costTags"), config.get_object("requiredTags"))
built: dict[str, pulumi.ComponentResource] = {}


def entries(section: str) -> list[dict]:
    items = config.get_object(section) or []
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in items):
        raise ValueError(f"config {section}: expected a list of objects, each with a 'name'")
    return items


def settings(item: dict) -> dict:
    return {k: v for k, v in item.items() if k != "name"}


for i, item in enumerate(entries("gpuInstances")):
    args = build_args(GpuInstanceArgs, settings(item), f"gpuInstances[{i}]")
    built[item["name"]] = instance = GpuInstance(item["name"], args)
    pulumi.export(f"{item['name']}HourlyUsd", instance.hourly_price_usd)
    pulumi.export(f"{item['name']}InstanceId", instance.instance_id)

pulumi.export("costTags", cost_tags)
