"""The CUR views on real DuckDB over generated CUR 2.0 Parquet, each checked against totals worked out in
plain Python from the generated rows (tests/cur_parquet.py), never by the same SQL."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from aifinops.core import cur_views
from aifinops.core.cur_views import AMORTIZED, DUCKDB, ViewParameters, Window, render
from aifinops.cur_duckdb import open_local_cur
from tests.cur_parquet import day_of, sample_lines, tag_of, write_export

START, END = date(2026, 10, 1), date(2026, 12, 1)  # two of the three generated months
GPUS = {"p5.48xlarge": 8, "g5.xlarge": 1, "ml.g5.xlarge": 1}


@pytest.fixture(scope="module")
def rows():
    return sample_lines()


@pytest.fixture(scope="module")
def lake(rows, tmp_path_factory):
    root = tmp_path_factory.mktemp("cur")
    write_export(root / "cur" / "export" / "data", rows, rows_per_file=500)
    local = open_local_cur(root)
    yield local
    local.close()


def in_window(row) -> bool:
    return START <= day_of(row) < END


def params(**overrides) -> ViewParameters:
    values = dict(table=cur_views.TABLE_NAME, window=Window.days(START, END), gpus_per_instance=GPUS)
    values.update(overrides)
    return ViewParameters(**values)


def run(lake, view: str, **overrides):
    return lake.query(render(view, params(**overrides), DUCKDB))


def test_the_generator_writes_every_kind_of_line_and_all_three_key_spellings(rows):
    kinds = {r["line_item_line_item_type"] for r in rows}
    assert {"Usage", "Tax", "Credit", "SavingsPlanCoveredUsage", "SavingsPlanNegation"} <= kinds
    keys = {k for r in rows for k in r["resource_tags"]}
    assert {"user_Project", "user_project", "user:Project"} <= keys
    assert any(not r["resource_tags"] for r in rows)


def test_daily_cost_per_product_for_a_tag_value(lake, rows):
    expected = defaultdict(float)
    for row in rows:
        if in_window(row) and tag_of(row, "Project") == "LLM-FineTune":
            expected[(day_of(row), row["line_item_product_code"])] += row["line_item_unblended_cost"]
    got = {(r["usage_date"], r["product_code"]): r["cost"]
           for r in run(lake, "daily_cost_by_product", tag_filter=("Project", "LLM-FineTune"))}
    assert set(got) == set(expected) and len(got) == 61 * 2  # EC2 and S3 on each of 61 days
    assert all(got[k] == pytest.approx(v) for k, v in expected.items())


def test_every_key_spelling_is_found(lake, rows):
    # Lines tagged under each spelling all count: the total equals the Python total over all spellings.
    by_spelling = defaultdict(float)
    for row in rows:
        if in_window(row):
            for key in ("user_Project", "user_project", "user:Project"):
                if row["resource_tags"].get(key) == "LLM-FineTune":
                    by_spelling[key] += row["line_item_unblended_cost"]
    assert all(by_spelling[k] > 0 for k in ("user_Project", "user_project", "user:Project"))
    got = sum(r["cost"] for r in run(lake, "daily_cost_by_product", tag_filter=("Project", "LLM-FineTune")))
    assert got == pytest.approx(sum(by_spelling.values()))


def test_cost_per_model_version_with_distinct_training_runs(lake, rows):
    cost, runs = defaultdict(float), defaultdict(set)
    for row in rows:
        model = tag_of(row, "ModelVersion")
        if in_window(row) and model:
            cost[model] += row["line_item_unblended_cost"]
            if tag_of(row, "TrainingRun"):
                runs[model].add(tag_of(row, "TrainingRun"))
    got = {r["model_version"]: r for r in run(lake, "cost_by_model_version")}
    assert set(got) == {"v1", "v2"}
    for model in got:
        assert got[model]["cost"] == pytest.approx(cost[model])
        assert got[model]["training_runs"] == len(runs[model]) == 2


def test_configurable_tag_names(lake):
    # With the run tag named ModelVersion no line has a separate run: every model counts itself once.
    got = {r["model_version"]: r["training_runs"] for r in run(lake, "cost_by_model_version", run_tag="ModelVersion")}
    assert got == {"v1": 1, "v2": 1}


def test_cost_per_training_run_with_gpu_hours_and_spot_share(lake, rows):
    cost, gpu_hours, spot = defaultdict(float), defaultdict(float), defaultdict(float)
    for row in rows:
        run_id = tag_of(row, "TrainingRun")
        if in_window(row) and run_id:
            cost[run_id] += row["line_item_unblended_cost"]
            gpu_hours[run_id] += row["line_item_usage_amount"] * GPUS.get(row["product_instance_type"], 0)
            if row["pricing_term"] == "Spot":
                spot[run_id] += row["line_item_unblended_cost"]
    got = {r["training_run"]: r for r in run(lake, "cost_by_training_run")}
    assert set(got) == {"run-a", "run-b", "run-c", "run-d"}
    for run_id, row in got.items():
        assert row["cost"] == pytest.approx(cost[run_id])
        assert row["gpu_hours"] == pytest.approx(gpu_hours[run_id])
        assert row["spot_cost"] == pytest.approx(spot[run_id])
    assert got["run-b"]["spot_cost"] == pytest.approx(got["run-b"]["cost"]) and got["run-a"]["spot_cost"] == 0


def test_untagged_spend_and_its_share(lake, rows):
    taggable = {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"}
    window = [r for r in rows if in_window(r)]
    got = {r["tag_key"]: r for r in run(lake, "untagged_spend", tag_filter=("Project", "LLM-FineTune"))}
    assert set(got) == {"CostCenter", "Project", "Environment"}
    for key in got:
        untagged = sum(r["line_item_unblended_cost"] for r in window
                       if r["line_item_line_item_type"] in taggable and not tag_of(r, key))
        assert got[key]["untagged_cost"] == pytest.approx(untagged) and untagged > 0
        assert got[key]["taggable_cost"] == pytest.approx(
            sum(r["line_item_unblended_cost"] for r in window if r["line_item_line_item_type"] in taggable))
        # Tax and credits are in the total but never "untagged": no tag policy can fix them.
        assert got[key]["total_cost"] == pytest.approx(sum(r["line_item_unblended_cost"] for r in window))
    assert got["Project"]["untagged_cost"] > got["CostCenter"]["untagged_cost"]  # the box with cost tags, no Project


def test_inference_cost_is_the_model_tag_without_a_run_tag(lake, rows):
    expected = defaultdict(float)
    for row in rows:
        if in_window(row) and tag_of(row, "ModelVersion") and not tag_of(row, "TrainingRun"):
            expected[tag_of(row, "ModelVersion")] += row["line_item_unblended_cost"]
    got = {r["model_version"]: r["cost"] for r in run(lake, "inference_cost_by_model")}
    assert got == pytest.approx(dict(expected)) and set(got) == {"v1", "v2"}


def amortized(row) -> float:
    """AWS's amortised cost of one line, as the test reads the rules (no SQL)."""
    kind = row["line_item_line_item_type"]
    if kind == "SavingsPlanCoveredUsage":
        return row["savings_plan_savings_plan_effective_cost"]
    if kind == "SavingsPlanRecurringFee":
        return row["savings_plan_total_commitment_to_date"] - row["savings_plan_used_commitment"]
    if kind == "SavingsPlanNegation":
        return 0.0
    return row["line_item_unblended_cost"]


def test_amortized_cost_moves_savings_plan_spend_onto_the_usage_it_covers(lake, rows):
    expected = {"unblended": defaultdict(float), AMORTIZED: defaultdict(float)}
    for row in rows:
        if in_window(row):
            expected["unblended"][tag_of(row, "Project")] += row["line_item_unblended_cost"]
            expected[AMORTIZED][tag_of(row, "Project")] += amortized(row)
    for basis, totals in expected.items():
        got = {r["tag_value"]: r["cost"] for r in run(lake, "cost_by_tag", group_tag="Project", cost_basis=basis)}
        assert got == pytest.approx(dict(totals))
    # Unblended, the covered usage and its negation cancel; amortised, serving carries the plan's effective cost.
    assert expected[AMORTIZED]["LLM-Serving"] - expected["unblended"]["LLM-Serving"] == pytest.approx(61 * 24 * 0.55)
    assert sum(expected[AMORTIZED].values()) == pytest.approx(sum(expected["unblended"].values()))


def test_cost_by_a_tag_key_includes_the_untagged_value(lake, rows):
    expected = defaultdict(float)
    for row in rows:
        if in_window(row):
            expected[tag_of(row, "Environment")] += row["line_item_unblended_cost"]
    got = {r["tag_value"]: r["cost"] for r in run(lake, "cost_by_tag", group_tag="Environment")}
    assert got == pytest.approx(dict(expected)) and "" in got


def test_the_window_and_its_billing_periods_bound_the_lines(lake, rows):
    november = Window.days(date(2026, 11, 10), date(2026, 11, 12))
    assert "billing_period BETWEEN '2026-11' AND '2026-11'" in november.where()
    got = lake.query(render("daily_cost_by_product", params(window=november), DUCKDB))
    assert {r["usage_date"] for r in got} == {date(2026, 11, 10), date(2026, 11, 11)}
    expected = sum(r["line_item_unblended_cost"] for r in rows if date(2026, 11, 10) <= day_of(r) < date(2026, 11, 12))
    assert sum(r["cost"] for r in got) == pytest.approx(expected)


def test_the_athena_text_differs_only_in_the_map_lookup():
    for view in cur_views.VIEWS:
        duck = render(view, params(tag_filter=("Project", "x")), DUCKDB)
        athena = render(view, params(tag_filter=("Project", "x")), cur_views.ATHENA)
        assert "map_extract_value(" in duck and "map_extract_value(" not in athena
        assert athena == duck.replace("map_extract_value(", "element_at(")


@pytest.mark.parametrize("overrides, message", [
    ({"model_tag": "aws:createdBy"}, r"model_tag: expected a user tag key .* got 'aws:createdBy'"),
    ({"tag_filter": ("Project", "")}, r"tag_filter: expected \(tag key, non-empty value\)"),
    ({"cost_basis": "blended"}, r"cost_basis: expected one of unblended, amortized, got 'blended'"),
    ({"required_tags": ()}, r"required_tags: expected a non-empty list"),
])
def test_bad_parameters_name_the_argument(overrides, message):
    with pytest.raises(ValueError, match=message):
        params(**overrides)


def test_quotes_in_values_cannot_break_out_of_the_literal(lake):
    assert run(lake, "daily_cost_by_product", tag_filter=("Project", "x' OR '1'='1")) == []
