"""Reading Pulumi.yaml and stack files like the CLI, with errors that name the file, key or line."""
from __future__ import annotations

from pathlib import Path

import pytest

from aifinops.core.errors import ProjectError
from aifinops.project import SECURE_PLACEHOLDER, load_project
from tests.conftest import write_project


def test_reads_name_main_stack_dir_and_project_config_defaults(tmp_path: Path):
    write_project(tmp_path, "import pulumi\n", {"testproj:size": 2})
    (tmp_path / "Pulumi.yaml").write_text(
        "name: testproj\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n"
        "config:\n  size:\n    type: integer\n    default: 1\n  region:\n    default: eu\n  aws:region: us-east-2\n")
    project = load_project(tmp_path)
    assert project.name == "testproj" and project.main == tmp_path / "stacks"
    stack = project.load_stack("dev")
    assert stack.values == {"testproj:size": "2", "testproj:region": "eu", "aws:region": "us-east-2"}


def test_stack_values_become_strings_and_secure_values_secrets(tmp_path: Path):
    write_project(tmp_path, "", {"testproj:obj": {"a": [1]}, "testproj:on": True, "testproj:pw": {"secure": "v1:x"}})
    stack = load_project(tmp_path).load_stack("dev")
    assert stack.values["testproj:obj"] == '{"a": [1]}' and stack.values["testproj:on"] == "true"
    assert stack.values["testproj:pw"] == SECURE_PLACEHOLDER and stack.secret_keys == ["testproj:pw"]


def test_the_only_stack_is_chosen_and_several_need_a_name(tmp_path: Path):
    write_project(tmp_path, "")
    assert load_project(tmp_path).select_stack(None) == "dev"
    (tmp_path / "stacks" / "Pulumi.prod.yaml").write_text("config: {}\n")
    with pytest.raises(ProjectError, match="more than one stack; choose one with --stack: dev, prod"):
        load_project(tmp_path).select_stack(None)
    assert load_project(tmp_path).select_stack("acme/testproj/prod") == "prod"


def test_unknown_stack_lists_the_stacks(tmp_path: Path):
    write_project(tmp_path, "")
    with pytest.raises(ProjectError, match=r"no stack named 'qa'.*stacks: dev"):
        load_project(tmp_path).select_stack("qa")


def test_malformed_pulumi_yaml_names_file_and_line(tmp_path: Path):
    (tmp_path / "Pulumi.yaml").write_text("name: x\nruntime: python\nmain: [unclosed\n")
    with pytest.raises(ProjectError, match=r"Pulumi.yaml:\d+: malformed YAML"):
        load_project(tmp_path)


@pytest.mark.parametrize("body, message", [
    ("runtime: python\n", "required key 'name'"),
    ("name: x\nruntime: nodejs\n", "key 'runtime' is 'nodejs'"),
    ("name: x\nruntime: python\nmain: nowhere/\n", "key 'main' points at"),
])
def test_invalid_pulumi_yaml_names_the_key(tmp_path: Path, body: str, message: str):
    (tmp_path / "Pulumi.yaml").write_text(body)
    with pytest.raises(ProjectError, match=message):
        load_project(tmp_path)


def test_missing_project_file(tmp_path: Path):
    with pytest.raises(ProjectError, match="no Pulumi.yaml project file found"):
        load_project(tmp_path)


def test_malformed_stack_file_names_file_and_line(tmp_path: Path):
    write_project(tmp_path, "")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  a: 1\n   b: [\n")
    with pytest.raises(ProjectError, match=r"Pulumi.dev.yaml:\d+: malformed YAML"):
        load_project(tmp_path).load_stack("dev")


def test_stack_config_must_be_a_mapping(tmp_path: Path):
    write_project(tmp_path, "")
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: [1, 2]\n")
    with pytest.raises(ProjectError, match="'config' must be a mapping"):
        load_project(tmp_path).load_stack("dev")
