"""The AI cost views over the CUR 2.0 table, written once as SQL for DuckDB and Athena (Trino).

Pure strings and parameters: no engine, no AWS SDK. `CostDataExport` stores each view as an Athena
named query; `aifinops report --cur` runs the same text on DuckDB, `--athena` on Athena.

Only one fragment differs between the engines: reading a key of the `resource_tags` map that may be
absent (`map_extract_value` in DuckDB, `element_at` in Trino; both give NULL for a missing key).

Tag keys. AWS Data Exports writes an activated user tag `Project` as the map key `user_Project` (the
key's own case, with the `user_` prefix). The billing console and Cost Explorer call the same tag
`user:Project`, and the legacy CUR's Athena columns lowercased it (`resource_tags_user_project`).
Copies made by other tools carry any of the three, so every lookup tries all of them.

Cost basis. "unblended" is what each line was billed. "amortized" spreads reservations and Savings
Plans over the usage they cover: covered usage at its effective cost, the unused part of a commitment
on its fee line, and upfront fees and Savings Plan negations at zero (AWS's amortised-cost rules).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Mapping, Optional, Sequence

from . import catalog

DUCKDB = "duckdb"
ATHENA = "athena"
DIALECTS = (DUCKDB, ATHENA)
UNBLENDED = "unblended"
AMORTIZED = "amortized"
COST_BASES = (UNBLENDED, AMORTIZED)
TABLE_NAME = "cost_and_usage_report"  # the CUR 2.0 table's name in Data Exports (COST_AND_USAGE_REPORT)
PARTITION_COLUMN = "billing_period"  # Data Exports' folders: BILLING_PERIOD=YYYY-MM
TAG_KEY_PATTERN = re.compile(r"^(?!aws:)[\w.:/=+\-@ ]{1,128}$")
IDENTIFIER_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,254}$")

# The CUR 2.0 columns the views read, with their Glue/Athena types. The export selects exactly these.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("bill_billing_period_start_date", "timestamp"),
    ("bill_billing_period_end_date", "timestamp"),
    ("bill_payer_account_id", "string"),
    ("line_item_usage_account_id", "string"),
    ("line_item_line_item_type", "string"),
    ("line_item_usage_start_date", "timestamp"),
    ("line_item_usage_end_date", "timestamp"),
    ("line_item_product_code", "string"),
    ("line_item_usage_type", "string"),
    ("line_item_operation", "string"),
    ("line_item_resource_id", "string"),
    ("line_item_usage_amount", "double"),
    ("line_item_unblended_cost", "double"),
    ("line_item_currency_code", "string"),
    ("line_item_line_item_description", "string"),
    ("product_instance_type", "string"),
    ("product_region_code", "string"),
    ("pricing_term", "string"),
    ("pricing_unit", "string"),
    ("reservation_reservation_a_r_n", "string"),
    ("reservation_effective_cost", "double"),
    ("reservation_unused_amortized_upfront_fee_for_billing_period", "double"),
    ("reservation_unused_recurring_fee", "double"),
    ("savings_plan_savings_plan_a_r_n", "string"),
    ("savings_plan_savings_plan_effective_cost", "double"),
    ("savings_plan_total_commitment_to_date", "double"),
    ("savings_plan_used_commitment", "double"),
    ("resource_tags", "map<string,string>"),
)
COLUMN_NAMES = tuple(name for name, _ in COLUMNS)
# Line types a tag can be put on: usage. Tax, credits, refunds and fees carry no resource tags.
TAGGABLE_LINE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")

# Each view's result columns and their types (what the Athena result parser converts to).
VIEW_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "daily_cost_by_product": (("usage_date", "date"), ("product_code", "varchar"), ("cost", "double")),
    "cost_by_model_version": (("model_version", "varchar"), ("cost", "double"), ("training_runs", "bigint")),
    "cost_by_training_run": (("training_run", "varchar"), ("model_version", "varchar"), ("cost", "double"),
                             ("gpu_hours", "double"), ("spot_cost", "double")),
    "untagged_spend": (("tag_key", "varchar"), ("untagged_cost", "double"), ("taggable_cost", "double"),
                       ("total_cost", "double")),
    "inference_cost_by_model": (("model_version", "varchar"), ("cost", "double")),
    "cost_by_tag": (("tag_value", "varchar"), ("cost", "double")),
    "tag_values": (("tag_value", "varchar"), ("cost", "double")),
}
VIEWS = tuple(VIEW_COLUMNS)
DASHBOARD_VIEWS = ("daily_cost_by_product", "cost_by_model_version", "cost_by_training_run", "untagged_spend",
                   "inference_cost_by_model")


def tag_key_spellings(key: str) -> tuple[str, ...]:
    """The map keys a user tag may be stored under: Data Exports', lowercased, and the billing console's."""
    return tuple(dict.fromkeys((f"user_{key}", f"user_{key.lower()}", f"user:{key}")))


def quote(value: str) -> str:
    """A SQL string literal (the same rule in both engines)."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Window:
    """Line items from `start` up to, not including, `end`: SQL expressions of a date.

    Either literal days (`Window.days`) or relative to the day a query runs (`Window.recent_months`,
    what the named queries use). The billing-period bounds let both engines skip whole partitions.
    """

    start: str
    end: str
    first_period: str
    last_period: str

    @classmethod
    def days(cls, start: date, end: date) -> "Window":
        if not isinstance(start, date) or not isinstance(end, date) or end <= start:
            raise ValueError(f"window: expected a start date before the end date, got {start!r} to {end!r}")
        last_day = date.fromordinal(end.toordinal() - 1)
        return cls(f"DATE '{start.isoformat()}'", f"DATE '{end.isoformat()}'",
                   quote(start.strftime("%Y-%m")), quote(last_day.strftime("%Y-%m")))

    @classmethod
    def recent_months(cls, months: int) -> "Window":
        """From the first day of the month `months - 1` months back to the end of today."""
        if isinstance(months, bool) or not isinstance(months, int) or months < 1:
            raise ValueError(f"months: expected a whole number of months >= 1, got {months!r}")
        start = f"date_trunc('month', current_date) - INTERVAL '{months - 1}' MONTH"
        # The partition value is the month as YYYY-MM; CAST(date AS VARCHAR) is ISO in both engines.
        return cls(start, "current_date + INTERVAL '1' DAY", f"substr(CAST(CAST({start} AS DATE) AS VARCHAR), 1, 7)",
                   "substr(CAST(current_date AS VARCHAR), 1, 7)")

    def where(self) -> str:
        return (f"{PARTITION_COLUMN} BETWEEN {self.first_period} AND {self.last_period}\n"
                f"    AND line_item_usage_start_date >= CAST({self.start} AS TIMESTAMP)\n"
                f"    AND line_item_usage_start_date < CAST({self.end} AS TIMESTAMP)")


@dataclass(frozen=True)
class ViewParameters:
    """What every view is rendered with. Defaults match the components' tags.

    - table: the table as SQL (Athena: `"database"."table"`; DuckDB: a view over the Parquet files).
    - window: the line items' time window.
    - tag_filter: (key, value) to keep only spend carrying that tag, e.g. ("Project", "LLM-FineTune");
      default None, all spend. The untagged-spend view ignores it (filtered spend is tagged by definition).
    - model_tag / run_tag: the tag keys naming the model version and the training run.
    - group_tag: the tag key `cost_by_tag` (and `tag_values`) groups by; default the tag filter's key,
      else Project.
    - required_tags: the keys untagged spend is counted for.
    - cost_basis: "unblended" (default) or "amortized".
    - gpus_per_instance: instance type -> accelerators, for GPU-hours (both `p5.48xlarge` and
      `ml.p5.48xlarge` forms); a type not listed counts no GPU-hours.
    """

    table: str
    window: Window
    tag_filter: Optional[tuple[str, str]] = None
    model_tag: str = "ModelVersion"
    run_tag: str = "TrainingRun"
    group_tag: Optional[str] = None
    required_tags: Sequence[str] = ("CostCenter", "Project", "Environment")
    cost_basis: str = UNBLENDED
    gpus_per_instance: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        keys = [("model_tag", self.model_tag), ("run_tag", self.run_tag)]
        if self.group_tag is not None:
            keys.append(("group_tag", self.group_tag))
        if self.tag_filter is not None:
            if not (isinstance(self.tag_filter, tuple) and len(self.tag_filter) == 2
                    and isinstance(self.tag_filter[1], str) and self.tag_filter[1]):
                raise ValueError(f"tag_filter: expected (tag key, non-empty value), got {self.tag_filter!r}")
            keys.append(("tag_filter", self.tag_filter[0]))
        if isinstance(self.required_tags, str) or not self.required_tags:
            raise ValueError(f"required_tags: expected a non-empty list of tag keys, got {self.required_tags!r}")
        keys += [(f"required_tags[{i}]", k) for i, k in enumerate(self.required_tags)]
        for argument, key in keys:
            if not isinstance(key, str) or not TAG_KEY_PATTERN.match(key):
                raise ValueError(f"{argument}: expected a user tag key of 1 to 128 characters (letters, digits, spaces "
                                 f"and _ . : / = + - @, not starting with 'aws:'), got {key!r}")
        if self.cost_basis not in COST_BASES:
            raise ValueError(f"cost_basis: expected one of {', '.join(COST_BASES)}, got {self.cost_basis!r}")
        for instance_type, count in self.gpus_per_instance.items():
            if not isinstance(instance_type, str) or isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ValueError(f"gpus_per_instance: expected instance type -> accelerator count >= 1, "
                                 f"got {instance_type!r}: {count!r}")


def athena_table(database: str, table: str) -> str:
    """`"database"."table"`, after checking both are Glue names (lowercase letters, digits, underscores)."""
    for argument, value in (("database", database), ("table", table)):
        if not isinstance(value, str) or not IDENTIFIER_PATTERN.match(value):
            raise ValueError(f"{argument}: expected a Glue name of lowercase letters, digits and underscores, "
                             f"got {value!r}")
    return f'"{database}"."{table}"'


def tag_value(key: str, dialect: str) -> str:
    """The tag's value on a line, whichever spelling its key was stored under; NULL when absent."""
    function = {DUCKDB: "map_extract_value", ATHENA: "element_at"}[dialect]
    lookups = [f"{function}(resource_tags, {quote(spelling)})" for spelling in tag_key_spellings(key)]
    return f"coalesce({', '.join(lookups)}, '')"


def cost_expression(basis: str) -> str:
    if basis == UNBLENDED:
        return "line_item_unblended_cost"
    return """CASE line_item_line_item_type
        WHEN 'SavingsPlanCoveredUsage' THEN coalesce(savings_plan_savings_plan_effective_cost, 0)
        WHEN 'SavingsPlanRecurringFee' THEN coalesce(savings_plan_total_commitment_to_date, 0)
                                            - coalesce(savings_plan_used_commitment, 0)
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'SavingsPlanUpfrontFee' THEN 0
        WHEN 'DiscountedUsage' THEN coalesce(reservation_effective_cost, 0)
        WHEN 'RIFee' THEN coalesce(reservation_unused_amortized_upfront_fee_for_billing_period, 0)
                          + coalesce(reservation_unused_recurring_fee, 0)
        WHEN 'Fee' THEN CASE WHEN coalesce(reservation_reservation_a_r_n, '') <> '' THEN 0
                             ELSE line_item_unblended_cost END
        ELSE line_item_unblended_cost END"""


# The tag columns each view reads: the CTE computes only those (map lookups are most of a view's work).
VIEW_TAGS: dict[str, tuple[str, ...]] = {
    "daily_cost_by_product": (), "cost_by_model_version": ("model_version", "training_run"),
    "cost_by_training_run": ("model_version", "training_run"), "untagged_spend": ("required",),
    "inference_cost_by_model": ("model_version", "training_run"), "cost_by_tag": ("group_value",),
    "tag_values": ("group_value",),
}


def _lines(view: str, params: ViewParameters, dialect: str) -> str:
    """The CTE every view reads: one row per line item in the window, with the tags the view needs."""
    group_tag = params.group_tag or (params.tag_filter[0] if params.tag_filter else "Project")
    tag_columns = {"model_version": [(params.model_tag, "model_version")],
                   "training_run": [(params.run_tag, "training_run")],
                   "group_value": [(group_tag, "group_value")],
                   "required": [(key, f"required_{index}") for index, key in enumerate(params.required_tags)]}
    tags = "".join(f",\n    {tag_value(key, dialect)} AS {alias}"
                   for kind in VIEW_TAGS[view] for key, alias in tag_columns[kind])
    where = params.window.where()
    # Filtered spend is tagged by definition, so the untagged view ignores the filter; tag_values lists
    # what the filter's key holds.
    if params.tag_filter is not None and view not in ("untagged_spend", "tag_values"):
        where += f"\n    AND {tag_value(params.tag_filter[0], dialect)} = {quote(params.tag_filter[1])}"
    return f"""WITH lines AS (
  SELECT
    CAST(line_item_usage_start_date AS DATE) AS usage_date,
    line_item_product_code AS product_code,
    line_item_line_item_type AS line_item_type,
    coalesce(product_instance_type, '') AS instance_type,
    coalesce(pricing_unit, '') AS pricing_unit,
    coalesce(pricing_term, '') AS pricing_term,
    coalesce(line_item_usage_type, '') AS usage_type,
    coalesce(line_item_usage_amount, 0) AS usage_amount,
    {cost_expression(params.cost_basis)} AS cost{tags}
  FROM {params.table}
  WHERE {where}
)"""


def _gpu_table(params: ViewParameters) -> str:
    rows = dict(params.gpus_per_instance) or {"": 0}  # VALUES needs a row; "" matches no instance line
    values = ", ".join(f"({quote(t)}, {int(n)})" for t, n in sorted(rows.items()))
    return f"(VALUES {values}) AS gpus(instance_type, gpu_count)"


def render(view: str, params: ViewParameters, dialect: str) -> str:
    """The SQL of one view for one engine."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect: expected one of {', '.join(DIALECTS)}, got {dialect!r}")
    if view not in VIEW_COLUMNS:
        raise ValueError(f"view: expected one of {', '.join(VIEWS)}, got {view!r}")
    if view == "untagged_spend":
        taggable = ", ".join(quote(t) for t in TAGGABLE_LINE_TYPES)
        parts = [f"""SELECT {quote(key)} AS tag_key,
  coalesce(sum(CASE WHEN line_item_type IN ({taggable}) AND required_{index} = '' THEN cost ELSE 0 END), 0)
    AS untagged_cost,
  coalesce(sum(CASE WHEN line_item_type IN ({taggable}) THEN cost ELSE 0 END), 0) AS taggable_cost,
  coalesce(sum(cost), 0) AS total_cost
FROM lines""" for index, key in enumerate(params.required_tags)]
        return _lines(view, params, dialect) + "\n" + "\nUNION ALL\n".join(parts) + "\nORDER BY tag_key"
    body = {
        "daily_cost_by_product": """SELECT usage_date, product_code, sum(cost) AS cost
FROM lines
GROUP BY usage_date, product_code
ORDER BY usage_date, product_code""",
        "cost_by_model_version": """SELECT model_version, sum(cost) AS cost,
  count(DISTINCT CASE WHEN training_run <> '' THEN training_run END) AS training_runs
FROM lines
WHERE model_version <> ''
GROUP BY model_version
ORDER BY cost DESC, model_version""",
        "cost_by_training_run": f"""SELECT training_run, max(model_version) AS model_version, sum(cost) AS cost,
  sum(CASE WHEN lines.pricing_unit = 'Hrs' THEN usage_amount * coalesce(gpus.gpu_count, 0) ELSE 0 END) AS gpu_hours,
  sum(CASE WHEN pricing_term = 'Spot' OR usage_type LIKE '%SpotUsage%' THEN cost ELSE 0 END) AS spot_cost
FROM lines LEFT JOIN {_gpu_table(params)} ON lines.instance_type = gpus.instance_type
WHERE training_run <> ''
GROUP BY training_run
ORDER BY cost DESC, training_run""",
        # Serving spend: the model tag without a run tag (training resources carry both).
        "inference_cost_by_model": """SELECT model_version, sum(cost) AS cost
FROM lines
WHERE model_version <> '' AND training_run = ''
GROUP BY model_version
ORDER BY model_version""",
        "cost_by_tag": """SELECT group_value AS tag_value, sum(cost) AS cost
FROM lines
GROUP BY group_value
ORDER BY cost DESC, tag_value""",
        "tag_values": """SELECT group_value AS tag_value, sum(cost) AS cost
FROM lines
WHERE group_value <> ''
GROUP BY group_value
ORDER BY cost DESC, tag_value
LIMIT 20""",
    }[view]
    return _lines(view, params, dialect) + "\n" + body


def gpus_per_instance(specs: Mapping[str, int]) -> dict[str, int]:
    """EC2 type -> count, also under SageMaker's `ml.` names (CUR's product_instance_type uses both)."""
    table = {}
    for instance_type, count in specs.items():
        if count:
            table[instance_type] = count
            table[f"ml.{instance_type}"] = count
    return table


def catalog_gpus_per_instance() -> dict[str, int]:
    """GPUs per instance for every GPU type in the catalog (Trainium and Inferentia count no GPU-hours)."""
    counts = {t: spec.count for t in catalog.accelerated_types()
              if (spec := catalog.lookup(t)) is not None and spec.kind == "gpu"}
    return gpus_per_instance(counts)
