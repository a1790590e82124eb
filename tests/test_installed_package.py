"""aifinops as another team uses it: the wheel, installed into a fresh virtualenv outside this repository.

The team's project has a `components` package of its own and imports ours from `aifinops.components`.
It is previewed with the built-in packs, with a pack written by `aifinops policy new`, with --checkov,
and costed. Nothing of this repository is on the path: only the wheel (its dependencies come from the
test interpreter's site-packages through a .pth file, so nothing is downloaded).
"""
from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import textwrap
import zipfile

import pytest
import yaml

from tests.conftest import DEFAULT_COST_TAGS, REPO_ROOT

TEAM_PROGRAM = """
import pulumi
from aifinops.components import CostBudget, CostBudgetArgs, GpuInstance, GpuInstanceArgs, register_cost_tags
from components.naming import resource_name  # the team's own package, also called `components`

config = pulumi.Config()
register_cost_tags(config.require_object("costTags"))
GpuInstance(resource_name("trainer"), GpuInstanceArgs(instance_type=config.require("instanceType")))
CostBudget(resource_name("budget"), CostBudgetArgs(amount_usd=2000, tag_filters={"Project": "test"}))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("installed")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(root / "dist"), str(REPO_ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("aifinops-*.whl")
    team = root / "team"
    (team / "components").mkdir(parents=True)
    (team / "components" / "__init__.py").write_text("")
    (team / "components" / "naming.py").write_text("def resource_name(name):\n    return 'team-' + name\n")
    venv = team / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    packages = next(venv.glob("lib/python*/site-packages"))
    (packages / "aifinops-dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps",
                                "--disable-pip-version-check", str(wheel)], capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    # The usual layout of a Python project: the program and its packages at the root.
    (team / "Pulumi.yaml").write_text(yaml.safe_dump({
        "name": "team", "runtime": {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}}))
    (team / "__main__.py").write_text(textwrap.dedent(TEAM_PROGRAM))
    # The budget's alert topic costs by usage: stated, so the budget gate can prove the stack within budget.
    config = {"team:costTags": DEFAULT_COST_TAGS, "team:instanceType": "g5.xlarge", "aws:region": "us-east-1",
              "team:costUsage": {"defaults": {"aws:sns/topic:Topic": {"monthlyPublishes": 10}}}}
    (team / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": config}))
    return {"wheel": wheel, "team": team, "venv": venv}


def aifinops(installed: dict, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    """Run the installed command from the team's project, with nothing of this repository on the path."""
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AIFINOPS_CHECKOV")}
    environment["PATH"] = f"{installed['venv'] / 'bin'}{os.pathsep}/usr/bin:/bin"
    return subprocess.run([str(installed["venv"] / "bin" / "aifinops"), *args], cwd=installed["team"],
                          capture_output=True, text=True, timeout=600, env={**environment, **(env or {})})


def test_the_wheel_has_one_top_level_package_and_its_data(installed):
    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert {name.split("/")[0] for name in names} == {"aifinops", installed["wheel"].name.split("-py3")[0]
                                                       .replace(".whl", "") + ".dist-info"}
    for shipped in ("aifinops/core/data/ec2_prices.json", "aifinops/core/data/aws_tag_shapes.json",
                    "aifinops/checkov/mapping.json", "aifinops/policies/cost/PulumiPolicy.yaml",
                    "aifinops/policies/security/__main__.py", "aifinops/policies/checkov_checks/required_cost_tags.py",
                    "aifinops/automation/idle_gpu_reaper_handler.py", "aifinops/components/data/checkpoint_watcher.sh"):
        assert shipped in names


def test_preview_runs_the_built_in_packs(installed):
    result = aifinops(installed, "preview", "--stack", "dev", "--json")
    assert result.returncode == 0, result.stderr
    digest = json.loads(result.stdout)
    urns = [step["urn"] for step in digest["steps"]]
    assert any(urn.endswith("GpuInstance::team-trainer") for urn in urns)
    assert {pack["name"] for pack in digest["policyPacks"]} == {"aifinops-cost", "aifinops-security"}


def test_a_non_approved_type_fails_the_built_in_cost_pack(installed):
    config_file = installed["team"] / "only-g6.json"
    config_file.write_text(json.dumps({"approved-gpu-instance-types": {"approvedInstanceTypes": ["g6.xlarge"]}}))
    result = aifinops(installed, "preview", "--stack", "dev", "--policy-pack-config", str(config_file))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "approved-gpu-instance-types" in result.stdout and "g5.xlarge" in result.stdout
    # The violation points at the team's program line, never into the virtualenv that holds aifinops.
    assert "at __main__.py:8" in result.stdout and "site-packages" not in result.stdout


def test_a_pack_made_by_policy_new_runs(installed):
    made = aifinops(installed, "policy", "new", "team-policies", "--pack", "cost", "--name", "team-cost")
    assert made.returncode == 0, made.stderr
    requirements = (installed["team"] / "team-policies" / "requirements.txt").read_text()
    assert requirements.strip() == f"aifinops=={installed['wheel'].name.split('-')[1]}"
    result = aifinops(installed, "preview", "--stack", "dev", "--json", "--policy-pack", "team-policies")
    assert result.returncode == 0, result.stderr
    assert [pack["name"] for pack in json.loads(result.stdout)["policyPacks"]] == ["team-cost"]


def test_checkov_is_found_through_the_documented_setting_or_said_missing(installed):
    missing = aifinops(installed, "preview", "--stack", "dev", "--checkov", "--skip-policy-packs")
    assert missing.returncode == 2
    assert "pipx install checkov==" in missing.stderr and "Traceback" not in missing.stderr
    checkov = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
    found = aifinops(installed, "preview", "--stack", "dev", "--checkov", "--skip-policy-packs",
                     env={"AIFINOPS_CHECKOV": str(checkov)})
    assert found.returncode == 0, found.stderr
    assert "checkov" in found.stdout and "CKV_AIFINOPS" not in found.stdout.split("failed")[0][-0:]


def test_cost_prices_the_stack(installed):
    result = aifinops(installed, "cost", "--stack", "dev", "--json")
    assert result.returncode == 0, result.stderr
    estimate = json.loads(result.stdout)
    assert json.dumps(estimate).count("g5.xlarge") >= 1
