"""The reference AI platform, built from the pack's components with their defaults:

- training: 8 x p4d.24xlarge (GpuFleet default: everything above a zero on-demand base is spot, across two
  types so spot capacity stays available), run 200 hours a month (usage file);
- inference: 4 x g5.xlarge around the clock, a reserved on-demand baseline of 2 with spot above it;
- data: 50 TB of mixed age in a TieredBucket on the default training-data path (usage file);
- a CostBudget per workload.
"""
import pulumi

from aifinops.components.cost_budget import CostBudget, CostBudgetArgs
from aifinops.components.gpu_fleet import GpuFleet, GpuFleetArgs, ReservedBaseline
from aifinops.components.tagging import register_cost_tags
from aifinops.components.tiered_bucket import TieredBucket, TieredBucketArgs

config = pulumi.Config()
register_cost_tags(config.require_object("costTags"))
GpuFleet("training", GpuFleetArgs(instance_types=["p4d.24xlarge", "p4de.24xlarge"], max_size=8, desired_capacity=8,
                                  tags={"Workload": "training"}))
GpuFleet("inference", GpuFleetArgs(instance_types=["g5.xlarge", "g6.xlarge"], min_size=4, max_size=8, desired_capacity=4,
                                   on_demand_base_capacity=2, reserved_baseline=ReservedBaseline(),
                                   tags={"Workload": "inference"}))
TieredBucket("datasets", TieredBucketArgs(tags={"Workload": "data"}))
CostBudget("platform", CostBudgetArgs(amount_usd=40000, tag_filters={"Project": "reference-platform"},
                                      emails=["finops@example.com"]))
