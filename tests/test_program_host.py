"""The program runs in the project's own virtualenv (runtime.options.virtualenv), as the Pulumi CLI runs it."""
from __future__ import annotations

import json
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from aifinops import program_host
from aifinops.cli import main
from aifinops.project import load_project
from tests.conftest import REPO_ROOT, tagged_config

PROGRAM = """
import sys
import pulumi, pulumi_aws as aws
import acme_naming  # only in the project's virtualenv

aws.s3.Bucket("data", bucket=acme_naming.bucket_name("data"),
              tags={"CostCenter": "ml", "Project": "p", "Environment": "dev"})
print("naming with", acme_naming.__name__)
pulumi.export("prefix", sys.prefix)
"""


def make_venv(path: Path) -> Path:
    """A virtualenv with a package of its own (acme_naming); pulumi and pulumi_aws come from the test
    interpreter's site-packages through a .pth file, so no download is needed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    packages = next(path.glob("lib/python*/site-packages"))
    (packages / "aifinops-base.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    (packages / "acme_naming").mkdir()
    (packages / "acme_naming" / "__init__.py").write_text("def bucket_name(name):\n    return 'acme-' + name\n")
    return packages


def make_project(root: Path, runtime: dict, program: str = PROGRAM) -> Path:
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump({"name": "team", "runtime": runtime, "main": "stacks/",
                                                      "stackConfigDir": "stacks"}))
    (root / "stacks" / "__main__.py").write_text(textwrap.dedent(program))
    (root / "stacks" / "Pulumi.dev.yaml").write_text(yaml.safe_dump({"config": tagged_config(project="team")}))
    return root


def preview_json(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:
    code = main(["preview", "--cwd", str(root), "--json", "--skip-policy-packs"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {}), captured.err


def test_the_program_sees_the_packages_of_the_virtualenv_pulumi_yaml_names(tmp_path, capsys):
    make_venv(tmp_path / "project" / "venv")
    root = make_project(tmp_path / "project", {"name": "python", "options": {"virtualenv": "venv"}})
    code, digest, err = preview_json(root, capsys)
    assert code == 0, err
    bucket = next(s for s in digest["steps"] if s["urn"].endswith("::data"))
    assert bucket["newState"]["inputs"]["bucket"] == "acme-data"
    assert Path(digest["steps"][0]["newState"]["outputs"]["prefix"]).resolve() == (root / "venv").resolve()
    # The program's print is an info diagnostic, as under the CLI, and stays out of the JSON's structure.
    assert {"message": "naming with acme_naming\n", "severity": "info"} in digest["diagnostics"]


def test_without_a_virtualenv_the_program_runs_in_this_interpreter(tmp_path, capsys):
    root = make_project(tmp_path / "project", {"name": "python"})
    code, _, err = preview_json(root, capsys)
    assert code == 2 and "No module named 'acme_naming'" in err


def test_uv_keeps_the_virtualenv_in_dot_venv(tmp_path, capsys):
    make_venv(tmp_path / "project" / ".venv")
    root = make_project(tmp_path / "project", {"name": "python", "options": {"toolchain": "uv"}})
    assert load_project(root).python == (root / ".venv" / "bin" / "python").absolute()
    code, digest, err = preview_json(root, capsys)
    assert code == 0, err


def test_a_virtualenv_that_does_not_exist_is_a_clear_error(tmp_path, capsys):
    root = make_project(tmp_path / "project", {"name": "python", "options": {"virtualenv": "venv"}})
    code, _, err = preview_json(root, capsys)
    assert code == 2
    assert "runtime.options.virtualenv is 'venv'" in err and "does not appear to be a virtualenv" in err


def test_an_unsupported_toolchain_is_refused(tmp_path, capsys):
    root = make_project(tmp_path / "project", {"name": "python", "options": {"toolchain": "poetry"}})
    code, _, err = preview_json(root, capsys)
    assert code == 2 and "runtime.options.toolchain is 'poetry'" in err


@pytest.mark.parametrize("distribution, version, message", [
    ("pulumi", "3.100.0", r"has pulumi 3\.100\.0; the offline engine of aifinops \S+ supports pulumi >=3\.\d+\.0,<"),
    ("aifinops", "9.9.9", r"has aifinops 9\.9\.9, this preview is aifinops"),
])
def test_a_virtualenv_with_versions_the_engine_cannot_run_is_refused(tmp_path, capsys, distribution, version,
                                                                     message):
    # A distribution's metadata in the project's own site-packages is what that virtualenv reports
    # (it comes before the .pth-added packages), which is what the check reads.
    packages = make_venv(tmp_path / "project" / "venv")
    info = packages / f"{distribution}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    root = make_project(tmp_path / "project", {"name": "python", "options": {"virtualenv": "venv"}})
    code, _, err = preview_json(root, capsys)
    assert code == 2
    assert __import__("re").search(message, err), err


def test_the_pinned_sdk_is_supported_and_matches_pyproject():
    pinned = next(line for line in (REPO_ROOT / "pyproject.toml").read_text().splitlines() if '"pulumi==' in line)
    assert f'"pulumi=={program_host.PINNED_PULUMI}"' in pinned
    program_host.check_pulumi_sdk(program_host.PINNED_PULUMI, "this interpreter")


def test_a_hanging_program_in_the_virtualenv_is_stopped_at_its_timeout(tmp_path, capsys):
    """The host enforces --timeout in the project's interpreter, naming the line; nothing is left running."""
    make_venv(tmp_path / "project" / "venv")
    program = PROGRAM + "import time\ntime.sleep(300)\n"
    root = make_project(tmp_path / "project", {"name": "python", "options": {"virtualenv": "venv"}}, program)
    code = main(["preview", "--cwd", str(root), "--skip-policy-packs", "--timeout", "2s"])
    err = capsys.readouterr().err
    line = textwrap.dedent(program).splitlines().index("time.sleep(300)") + 1
    assert code == 2
    assert f"the program did not finish within 2s; it was running stacks/__main__.py:{line}" in err
