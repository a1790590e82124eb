"""Dependencies point one way: the import-linter contracts in pyproject.toml, on the installed layout.

The repository keeps components/, policies/ and automation/ at the top and maps them onto the
`aifinops` namespace (pyproject's package-dir). import-linter reads a package from one folder, so the
test lays the package out as the wheel does, in a temporary folder, and runs `lint-imports` on it.
"""
from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# Where each part of the namespace lives in the repository (pyproject.toml [tool.setuptools] package-dir).
PACKAGE_DIRS = {"aifinops": "aifinops", "aifinops/components": "components", "aifinops/policies": "policies",
                "aifinops/automation": "automation"}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def installed_layout(root: Path) -> Path:
    for target, source in PACKAGE_DIRS.items():
        shutil.copytree(REPO_ROOT / source, root / target, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.json", "*.yaml", "*.txt", "*.sh"))
    shutil.copy(REPO_ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_layout(tmp_path_factory.mktemp("layout"))


def test_the_contracts_hold(layout: Path) -> None:
    result = lint_imports(layout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize("module, offending, contract", [
    ("aifinops/core/catalog.py", "import aifinops.components.gpu_instance", "the command -> components"),
    ("aifinops/core/lifecycle.py", "import pulumi", "the core imports no Pulumi SDK"),
    ("aifinops/automation/tag_audit.py", "import aifinops.policies.preview_values", "the command -> components"),
    ("aifinops/components/gpu_instance.py", "import aifinops.preview", "the command -> components"),
    ("aifinops/automation/tag_rules.py", "import pulumi_aws", "the Lambda handlers import no Pulumi SDK"),
])
def test_a_new_cycle_or_sdk_import_breaks_a_contract(tmp_path: Path, module: str, offending: str,
                                                     contract: str) -> None:
    root = installed_layout(tmp_path)
    path = root / module
    path.write_text(path.read_text() + f"\n{offending}  # added by the test\n")
    result = lint_imports(root)
    assert result.returncode == 1, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[1]
    assert contract in broken and offending.split()[-1] in broken


def test_a_module_without_a_layer_is_refused(tmp_path: Path) -> None:
    root = installed_layout(tmp_path)
    (root / "aifinops" / "helpers.py").write_text("X = 1\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert "aifinops.helpers" in result.stdout + result.stderr


def test_nothing_imports_a_bare_components_policies_or_automation_package() -> None:
    """Installed, only `aifinops` exists: a bare `components` would be some other project's package."""
    offenders = []
    for path in sorted(REPO_ROOT.rglob("*.py")):
        if any(part.startswith(".") for part in path.relative_to(REPO_ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else []
            offenders += [f"{path.relative_to(REPO_ROOT)}:{node.lineno} {name}" for name in names
                          if name.split(".")[0] in ("components", "policies", "automation")]
    assert offenders == []
