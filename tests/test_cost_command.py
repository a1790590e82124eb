"""`aifinops cost` end to end on the example stack, and its HTML report rendered by headless Chromium."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from aifinops.cli import main
from tests.conftest import REPO_ROOT

STACK = ["--cwd", str(REPO_ROOT), "--stack", "training-dev"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def cost_json(tmp_path_factory) -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["cost", *STACK, "--json"]) == 0
    return json.loads(out.getvalue())


def test_json_totals_add_up(cost_json):
    (project,) = cost_json["projects"]
    resources = project["breakdown"]["resources"]
    priced = [r for r in resources if r["status"] == "priced"]
    total = float(cost_json["totalMonthlyCost"])
    assert total == pytest.approx(sum(float(r["monthlyCost"]) for r in priced), abs=0.02)
    assert project["breakdown"]["totalMonthlyCost"] == cost_json["totalMonthlyCost"]
    assert float(cost_json["savingsMonthlyCost"]) == pytest.approx(
        float(cost_json["naiveTotalMonthlyCost"]) - total, abs=0.01)
    # the spot trainer is what the naive (all on-demand) equivalent loses
    assert float(cost_json["savingsMonthlyCost"]) > 0
    assert {c["component"] for c in cost_json["byComponent"]} >= {"notebook", "trainer"}
    assert set(cost_json["byTag"]) == {"CostCenter", "Project", "Environment"}
    components = [c for r in priced for c in r["costComponents"]]
    assert components and all(c["source"] and c["asOf"] for c in components)


def test_table_shows_lines_totals_and_sources(capsys):
    assert main(["cost", *STACK]) == 0
    out = capsys.readouterr().out
    # the spot trainer all month: 730 h x $1.861 x (1 - 0.6) = $0.7444/h -> $543.41
    assert re.search(r"g6e\.xlarge spot\s+730\.00 instance-hours\s+\$0\.7444\s+\$543\.41", out)
    # the notebook at the stack's costUsage: 220 h x $1.006 = $221.32
    assert re.search(r"g5\.xlarge on-demand\s+220\.00 instance-hours\s+\$1\.006\s+\$221\.32", out)
    assert "Savings vs naive:" in out and "By Project: llm-finetune" in out
    assert re.search(r"\[\d\] AWS Price List API .*, as of 2026-11", out)


def test_usage_file_changes_the_estimate(tmp_path, capsys):
    usage = tmp_path / "usage.yaml"
    usage.write_text(yaml.safe_dump({"version": 1, "resources": {"notebook": {"monthlyHours": 100}}}))
    assert main(["cost", *STACK, "--json", "--usage", str(usage)]) == 0
    result = json.loads(capsys.readouterr().out)
    notebook = next(r for r in result["projects"][0]["breakdown"]["resources"] if r["name"] == "notebook")
    assert notebook["costComponents"][0]["monthlyQuantity"] == "100" and result["usageSource"] == str(usage)


def test_bad_usage_file_exits_2(tmp_path, capsys):
    usage = tmp_path / "usage.yaml"
    usage.write_text("resources: {notebook: {hours: 3}}\n")
    assert main(["cost", *STACK, "--usage", str(usage)]) == 2
    assert "hours" in capsys.readouterr().err


def test_preview_has_a_cost_section(capsys):
    assert main(["preview", *STACK, "--policy-pack", str(REPO_ROOT / "policies" / "cost")]) == 0
    out = capsys.readouterr().out
    assert "Cost estimate (details: aifinops cost):" in out and "Savings vs naive:" in out


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed to check the HTML cost report: run scripts/bootstrap "
                    "(apt-get install chromium)")
    return found


def test_html_report_renders_its_charts_in_chromium(tmp_path, capsys):
    from PIL import Image

    page = tmp_path / "cost.html"
    assert main(["cost", *STACK, "--html", str(page)]) == 0
    html = page.read_text()
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "https://" not in html  # no network
    bars = html.count('class="bar"')
    profile = tmp_path / "profile"
    dom = subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=2000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    # the page's own script counts the bars the browser laid out with a non-zero width
    assert re.search(r'data-charts="(\d+)"', dom).group(1) == "5"  # naive, component, 3 cost tags
    assert int(re.search(r'data-bars-drawn="(\d+)"', dom).group(1)) == bars
    shot = tmp_path / "cost.png"
    subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1300,1400",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    pixels = Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 20)
    counts = {colour: n for n, colour in pixels}
    # the chart colours are really painted: naive grey, as-written blue, the second component's orange
    assert counts.get((0xb8, 0xbf, 0xc9), 0) > 1000
    assert counts.get((0x2f, 0x6f, 0xde), 0) > 5000
    assert counts.get((0xe8, 0x83, 0x3a), 0) > 1000
