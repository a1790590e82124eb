"""Shared fixtures: write a throwaway Pulumi project and preview it with the offline engine."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
import yaml

from aifinops.engine import run_program
from aifinops.graph import ResourceGraph
from aifinops.project import load_project

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COST_TAGS = {"CostCenter": "ml", "Project": "test", "Environment": "dev"}


def write_project(root: Path, program: str, config: Optional[dict[str, Any]] = None, *,
                  project: str = "testproj", stack: str = "dev") -> Path:
    """A project in `root` whose stacks/__main__.py is `program` and whose stack config is `config`.

    It names no virtualenv, so the program runs in the interpreter running the tests."""
    (root / "stacks").mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(yaml.safe_dump(
        {"name": project, "runtime": "python",
         "main": "stacks/", "stackConfigDir": "stacks"}))
    (root / "stacks" / "__main__.py").write_text(textwrap.dedent(program))
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config or {}}))
    return root


@pytest.fixture
def price_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """price_tables(region, **fields): a copy of the vendored data dir with `region`'s EC2 table written.

    The table starts as the vendored us-east-1 one with `fields` replaced, as `aifinops catalog refresh`
    would leave it; the estimate reads it for that region until the test ends.
    """
    import shutil

    from aifinops.core import catalog

    data = tmp_path / "price-data"
    shutil.copytree(catalog.DATA_DIR, data)
    monkeypatch.setattr(catalog, "DATA_DIR", data)
    catalog.regional_price_table.cache_clear()

    def write(region: str, **fields: Any) -> Path:
        table = {**json.loads((data / "ec2_prices.json").read_text()), "region": region, **fields}
        path = catalog.regional_price_file(region)
        path.write_text(json.dumps(table))
        catalog.regional_price_table.cache_clear()
        return path

    yield write
    catalog.regional_price_table.cache_clear()


@pytest.fixture
def preview(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., ResourceGraph]:
    """preview(program_source, config=None, **kw) -> ResourceGraph, run in-process with the offline engine.

    As `aifinops preview`: ids and computed outputs unknown; `mock_outputs=True` as `--mock-outputs`, the
    default in a test module that sets PREVIEW_MOCK_OUTPUTS = True."""
    module_default = getattr(request.module, "PREVIEW_MOCK_OUTPUTS", False)

    def run(program: str, config: Optional[dict[str, Any]] = None, *, stack: str = "dev",
            project: str = "testproj", mock_outputs: bool = module_default) -> ResourceGraph:
        root = write_project(tmp_path / "project", program, config, project=project, stack=stack)
        loaded = load_project(root)
        return run_program(loaded, loaded.load_stack(stack), mock_outputs=mock_outputs)

    return run


def tagged_config(extra: Optional[dict[str, Any]] = None, project: str = "testproj") -> dict[str, Any]:
    """Stack config with the default cost tags plus `extra` (keys without a namespace get the project's)."""
    config: dict[str, Any] = {f"{project}:costTags": DEFAULT_COST_TAGS, "aws:region": "us-east-1"}
    for key, value in (extra or {}).items():
        config[key if ":" in key else f"{project}:{key}"] = value
    return config


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def only(graph: ResourceGraph, type_token: str) -> Any:
    """The one resource of `type_token` in the graph; fails naming what is there if there are none or several."""
    resources = graph.of_type(type_token)
    assert len(resources) == 1, f"expected one {type_token}, got {[r.name for r in resources]}"
    return resources[0]


def warnings_of(graph: ResourceGraph) -> list[str]:
    """What the program logged with pulumi.log.warn (the preview's warning diagnostics)."""
    return [d["message"] for d in graph.diagnostics if d["severity"] == "warning"]


def example_stack_config(stack: str) -> dict[str, Any]:
    """The config of one of this repository's example stacks (stacks/Pulumi.<stack>.yaml)."""
    return yaml.safe_load((REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]


@pytest.fixture
def preview_stack_program(preview) -> Callable[..., ResourceGraph]:
    """preview_stack_program(config, stack="dev") -> the graph of this repository's stacks/__main__.py."""
    program = (REPO_ROOT / "stacks" / "__main__.py").read_text()
    return lambda config, stack="dev": preview(program, config, project="aifinops", stack=stack)


def run_example_stack(stack: str) -> tuple[ResourceGraph, list[str]]:
    """One in-process run of an example stack of this repository: its graph and the warnings it logged."""
    project = load_project(REPO_ROOT)
    graph = run_program(project, project.load_stack(stack))
    return graph, warnings_of(graph)


@pytest.fixture(scope="session")
def policy_packs():
    """Every pack in policies/ running as its own process for the whole session (see policy_harness.py)."""
    from tests.policy_harness import PolicyHarness

    harness = PolicyHarness()
    yield harness
    harness.close()


@pytest.fixture
def check_policies(preview, policy_packs):
    """check_policies(program, config=None, policy_config=None) -> PolicyCheck, through the real gRPC path."""

    def run(program: str, config: Optional[dict[str, Any]] = None,
            policy_config: Optional[dict[str, Any]] = None, **preview_options: Any):
        return policy_packs.check(preview(program, config, **preview_options), policy_config)

    return run
