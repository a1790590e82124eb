"""`aifinops report --cur`: DuckDB over generated CUR 2.0 Parquet, table/JSON/Markdown/HTML, the forecast
against budgets, and a clear message for each kind of bad input."""
from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aifinops.cli import main
from aifinops.core.errors import EXIT_ERROR, EXIT_OK
from tests.conftest import REPO_ROOT
from tests.cur_parquet import SCHEMA, day_of, sample_lines, tag_of, write_export
from tests.test_cost_command import CHROMIUM_FLAGS, chromium

WINDOW = ["--from", "2026-09-01", "--to", "2026-11-21"]


@pytest.fixture(scope="module")
def rows():
    return sample_lines()


@pytest.fixture(scope="module")
def export(rows, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    write_export(root, rows)
    return root


def report_json(capsys, *args) -> dict:
    assert main(["report", *args, "--json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_json_report_over_a_folder_of_billing_periods(export, rows, capsys):
    data = report_json(capsys, "--cur", str(export), "--tag", "Project=LLM-FineTune", *WINDOW)
    tagged = [r for r in rows if str(day_of(r)) < "2026-11-21" and tag_of(r, "Project") == "LLM-FineTune"]
    assert data["total"] == pytest.approx(sum(r["line_item_unblended_cost"] for r in tagged), abs=0.01)
    runs = {r["trainingRun"]: r for r in data["costPerTrainingRun"]}
    assert runs["run-b"]["spotShare"] == 1.0 and runs["run-a"]["spotShare"] == 0.0
    assert {m["modelVersion"]: m["trainingRuns"] for m in data["costPerModelVersion"]} == {"v1": 2, "v2": 2}
    assert data["forecast"]["available"] is True and data["forecast"]["lastDay"] == "2026-11-20"
    assert data["source"].endswith("(DuckDB, 3 Parquet file(s))")


def test_one_parquet_file_works_too(export, capsys):
    one = next(export.glob("BILLING_PERIOD=2026-10/*.parquet"))
    data = report_json(capsys, "--cur", str(one), "--from", "2026-10-01", "--to", "2026-11-01", "--group-by",
                       "ModelVersion")
    assert {r["date"] for r in data["dailyCost"]} == {f"2026-10-{d:02d}" for d in range(1, 32)}
    assert {v["value"] for v in data["costByTag"]["values"]} == {"v1", "v2", ""}


def test_markdown_weekly_report_and_untagged_share(export, rows, capsys):
    assert main(["report", "--cur", str(export), *WINDOW, "--markdown"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "## Untagged spend" in text and "## Cost per training run" in text and "## Forecast" in text
    window = [r for r in rows if str(day_of(r)) < "2026-11-21"]
    taggable = [r for r in window if r["line_item_line_item_type"] in ("Usage", "SavingsPlanCoveredUsage")]
    share = sum(r["line_item_unblended_cost"] for r in taggable if not tag_of(r, "Project")) / sum(
        r["line_item_unblended_cost"] for r in taggable)
    assert re.search(rf"\| Project \| \$[\d,.]+ \| {share:.1%} \|", text)


def test_forecast_is_compared_with_the_stacks_budgets(export, capsys, tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: lab\nruntime: python\n")
    (tmp_path / "Pulumi.dev.yaml").write_text(
        "config:\n  lab:costBudgets:\n    - name: tiny\n      amountUsd: 1000\n    - name: huge\n      amountUsd: 900000\n")
    data = report_json(capsys, "--cur", str(export), *WINDOW, "--stack", "dev", "--cwd", str(tmp_path))
    status = {(b["budget"], b["month"]): b["status"] for b in data["forecast"]["budgets"]}
    assert status[("tiny", "2026-11")] == "overrun likely" and status[("huge", "2026-12")] == "within budget"


def test_stack_budgets_for_other_spend_are_not_compared(export, capsys):
    # data-platform's only budget filters Project=foundation-models, which this spend is not.
    assert main(["report", "--cur", str(export), *WINDOW, "--stack", "data-platform", "--cwd", str(REPO_ROOT)]) == 2
    assert "these filter other spend: foundation-models-storage (Project=foundation-models)" in capsys.readouterr().err


def test_cost_per_thousand_inferences_needs_invocations(export, capsys):
    data = report_json(capsys, "--cur", str(export), *WINDOW)
    assert all(r["costPerThousand"] is None for r in data["costPerThousandInferences"])
    assert any("--invocations" in note for note in data["notes"])


def test_html_dashboard_renders_its_charts_in_chromium(export, tmp_path, capsys):
    from PIL import Image

    page = tmp_path / "cur.html"
    assert main(["report", "--cur", str(export), *WINDOW, "--tag", "Project=LLM-FineTune", "--budget",
                 "training=60000", "--html", str(page)]) == EXIT_OK
    html = page.read_text()
    assert "https://" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert 'class="forecast"' in html and 'class="band"' in html
    bars = html.count('class="bar"')
    profile = tmp_path / "profile"
    dom = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=2000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    # daily spend + forecast, model versions, training runs, untagged share
    assert re.search(r'data-charts="(\d+)"', dom).group(1) == "4"
    assert int(re.search(r'data-bars-drawn="(\d+)"', dom).group(1)) == bars > 81
    shot = tmp_path / "cur.png"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1300,1400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    counts = {colour: n for n, colour in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)}
    assert counts.get((0x2f, 0x6f, 0xde), 0) > 5000  # the daily columns
    assert counts.get((0xf6, 0xd5, 0xbb), 0) > 1000  # the forecast interval band


def test_a_missing_folder(tmp_path, capsys):
    assert main(["report", "--cur", str(tmp_path / "nowhere"), *WINDOW]) == EXIT_ERROR
    assert "does not exist; expected a folder of BILLING_PERIOD=YYYY-MM/*.parquet" in capsys.readouterr().err


def test_an_empty_folder(tmp_path, capsys):
    assert main(["report", "--cur", str(tmp_path), *WINDOW]) == EXIT_ERROR
    assert "no .parquet files under" in capsys.readouterr().err


def test_files_outside_billing_period_folders(tmp_path, capsys):
    (tmp_path / "2026-10").mkdir()
    (tmp_path / "2026-10" / "part.parquet").write_bytes(b"x")
    assert main(["report", "--cur", str(tmp_path), *WINDOW]) == EXIT_ERROR
    assert "is not in a BILLING_PERIOD=YYYY-MM folder (found '2026-10')" in capsys.readouterr().err


def test_a_file_that_is_not_parquet(tmp_path, capsys):
    folder = tmp_path / "BILLING_PERIOD=2026-10"
    folder.mkdir()
    (folder / "part.parquet").write_text("line_item_usage_start_date,cost\n")
    assert main(["report", "--cur", str(tmp_path), *WINDOW]) == EXIT_ERROR
    assert "cannot read" in capsys.readouterr().err


def test_a_missing_column(rows, tmp_path, capsys):
    table = pa.Table.from_pylist([{**r, "resource_tags": list(r["resource_tags"].items())} for r in rows[:50]],
                                 schema=SCHEMA).drop_columns(["line_item_unblended_cost", "pricing_term"])
    pq.write_table(table, tmp_path / "one.parquet")
    assert main(["report", "--cur", str(tmp_path / "one.parquet"), *WINDOW]) == EXIT_ERROR
    assert "lacks CUR 2.0 column(s) line_item_unblended_cost, pricing_term" in capsys.readouterr().err


def test_a_tag_value_that_never_occurs(export, capsys):
    assert main(["report", "--cur", str(export), *WINDOW, "--tag", "Project=Nope"]) == EXIT_ERROR
    assert "has Project='Nope'; values seen: 'LLM-FineTune', 'LLM-Serving'" in capsys.readouterr().err


def test_a_tag_key_that_never_occurs(export, capsys):
    assert main(["report", "--cur", str(export), *WINDOW, "--tag", "Team=x"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "carries the tag key 'Team' (looked for resource_tags keys user_Team, user_team, user:Team)" in err


def test_a_model_tag_that_never_occurs_is_noted(export, capsys):
    data = report_json(capsys, "--cur", str(export), *WINDOW, "--model-tag", "Model")
    assert data["costPerModelVersion"] == []
    assert any("carries the tag 'Model'" in note for note in data["notes"])


@pytest.mark.parametrize("args, message", [
    (["--tag", "Project"], "expected KEY=VALUE"),
    (["--budget", "x=-5"], "expected NAME=USD with a positive amount"),
])
def test_malformed_flags_are_usage_errors(export, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--cur", str(export), *args])
    assert exit_info.value.code == EXIT_ERROR and message in capsys.readouterr().err


def test_a_window_that_ends_before_it_starts(export, capsys):
    assert main(["report", "--cur", str(export), "--from", "2026-11-01", "--to", "2026-10-01"]) == EXIT_ERROR
    assert "expected --from before --to, got 2026-11-01 to 2026-10-01" in capsys.readouterr().err


def test_daily_totals_match_an_independent_sum(export, rows, capsys):
    data = report_json(capsys, "--cur", str(export), "--from", "2026-11-01", "--to", "2026-11-08")
    expected = defaultdict(float)
    for row in rows:
        if "2026-11-01" <= str(day_of(row)) < "2026-11-08":
            expected[str(day_of(row))] += row["line_item_unblended_cost"]
    got = defaultdict(float)
    for line in data["dailyCost"]:
        got[line["date"]] += line["cost"]
    assert got == pytest.approx(dict(expected), abs=0.01)
    assert data["forecast"] == {"available": False, "reason": "7 day(s) of history; a weekly season needs at least 14"}
