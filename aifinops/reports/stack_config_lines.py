"""Which line of the stack's config file set the value a finding is about (an instance type, a budget).

Stacks compose components from `Pulumi.<stack>.yaml`, so a PR may change only that file: a finding then
needs a location there too, or code scanning annotates nothing the PR touched. A config value is the one
a finding is about when the resource has it as an input and the finding's message names it (as text, or
as an amount such as $1,500.00).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

from aifinops.core.errors import AifinopsError
from aifinops.core.values import is_unknown
from aifinops.project import load_project

_MIN_TEXT = 3  # shorter strings ("on", "1a") match too much to mean anything


@dataclass(frozen=True)
class ConfigLine:
    path: Path  # the stack config file
    line: int  # 1-based
    key: str  # e.g. aifinops:gpuInstances[1].instanceType
    value: Any


def config_lines(path: Path) -> list[ConfigLine]:
    """Every scalar under `config:` in the file, with its line; [] when the file is missing or not YAML."""
    try:
        root = yaml.compose(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    config = next((value for key, value in root.value if key.value == "config"), None)
    return list(_scalars(path, config, "")) if config is not None else []


def _scalars(path: Path, node: Any, key: str) -> Iterator[ConfigLine]:
    if isinstance(node, yaml.MappingNode):
        for child_key, child in node.value:
            if child_key.value == "secure":  # an encrypted value never leaves its file
                return
            yield from _scalars(path, child, f"{key}.{child_key.value}" if key else str(child_key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            yield from _scalars(path, child, f"{key}[{index}]")
    elif isinstance(node, yaml.ScalarNode):
        yield ConfigLine(path, node.start_mark.line + 1, key, yaml.safe_load(node.value) if node.tag.endswith(
            (":int", ":float")) else node.value)


def _number(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _input_values(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for child in value.values():
            yield from _input_values(child)
    elif isinstance(value, list):
        for child in value:
            yield from _input_values(child)
    elif value is not None and not is_unknown(value) and not isinstance(value, bool):
        yield value


def _named_in(value: Any, message: str) -> bool:
    number = _number(value) if not isinstance(value, str) or re.fullmatch(r"-?\d+(\.\d+)?", value) else None
    if number is not None:
        forms = {f"${number:,.2f}", f"${number:,.0f}", f"${number:g}"}
        return any(form in message for form in forms)
    text = str(value)
    return len(text) >= _MIN_TEXT and re.search(rf"(?<![\w.-]){re.escape(text)}(?![\w-])", message) is not None


def _same(config_value: Any, input_value: Any) -> bool:
    left, right = _number(config_value), _number(input_value)
    if left is not None and right is not None:
        return left == right
    return isinstance(config_value, str) and config_value == input_value


def lines_for(lines: list[ConfigLine], inputs: Any, message: str) -> list[ConfigLine]:
    """The config lines whose value is one of the resource's inputs and is named in the message."""
    values = list(_input_values(inputs))
    return [line for line in lines
            if _named_in(line.value, message) and any(_same(line.value, value) for value in values)]


def stack_config_path(project_root: Optional[Path], stack: str) -> Optional[Path]:
    """Pulumi.<stack>.yaml, where the project's stackConfigDir puts it."""
    if project_root is None:
        return None
    try:
        directory = load_project(project_root).stack_config_dir
    except AifinopsError:
        return None
    short = stack.rsplit("/", 1)[-1]
    path = directory / f"Pulumi.{short}.yaml"
    return path if path.exists() else None
