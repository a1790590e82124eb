"""Reads a Pulumi project (Pulumi.yaml) and a stack's config file the way the Pulumi CLI does."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .core.input_files import read_text_file
from .core.errors import AifinopsError, ProjectError

SECURE_PLACEHOLDER = "[secure value: not decrypted offline]"
TOOLCHAINS = ("pip", "uv")  # the Python toolchains whose virtualenv layout the preview knows
UV_DEFAULT_VIRTUALENV = ".venv"  # where uv puts a project's virtualenv when Pulumi.yaml names none
_PROJECT_CONFIG_SCHEMA_KEYS = {"type", "default", "description", "secret", "items", "value"}


BLINDED = "[secret]"  # what pulumi preview --json shows for a secret


@dataclass
class StackConfig:
    name: str
    path: Path
    values: dict[str, str]  # namespaced key -> string value, as the CLI hands them to a program
    secret_keys: list[str] = field(default_factory=list)

    def blinded_values(self) -> dict[str, Any]:
        """The config as a preview shows it (and policy packs see it): values decoded from JSON where they
        are JSON, secrets replaced by '[secret]'."""
        return {key: BLINDED if key in self.secret_keys else _decode_config_value(value)
                for key, value in self.values.items()}


def _decode_config_value(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


@dataclass
class Project:
    root: Path
    name: str
    runtime: str
    main: Path  # the program directory
    stack_config_dir: Path
    config_defaults: dict[str, str]
    secret_defaults: list[str]
    # The virtualenv the program runs in (runtime.options.virtualenv, relative to the project), or None:
    # then the program runs in the interpreter that runs aifinops.
    virtualenv: Optional[Path] = None

    @property
    def python(self) -> Optional[Path]:
        """The interpreter of the project's virtualenv, as the Pulumi CLI would run the program."""
        if self.virtualenv is None:
            return None
        return self.virtualenv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")

    def stack_names(self) -> list[str]:
        if not self.stack_config_dir.is_dir():
            return []
        names = []
        for path in sorted(self.stack_config_dir.glob("Pulumi.*.yaml")):
            names.append(path.name[len("Pulumi."):-len(".yaml")])
        return names

    def select_stack(self, requested: Optional[str]) -> str:
        names = self.stack_names()
        if requested:
            short = requested.split("/")[-1]  # accept org/project/stack like the CLI
            if short not in names:
                raise ProjectError(
                    f"no stack named '{requested}' found: {self.stack_config_dir / f'Pulumi.{short}.yaml'} "
                    f"does not exist; stacks: {', '.join(names) or '(none)'}")
            return short
        if len(names) == 1:
            return names[0]
        if not names:
            raise ProjectError(f"no stacks found: no Pulumi.<stack>.yaml in {self.stack_config_dir}")
        raise ProjectError(f"more than one stack; choose one with --stack: {', '.join(names)}")

    def load_stack(self, stack: str) -> StackConfig:
        path = self.stack_config_dir / f"Pulumi.{stack}.yaml"
        document = _read_yaml(path) or {}
        if not isinstance(document, dict):
            raise ProjectError(f"{path}: expected a mapping at the top level, got {type(document).__name__}")
        raw = document.get("config") or {}
        if not isinstance(raw, dict):
            raise ProjectError(f"{path}: 'config' must be a mapping of keys to values, got {type(raw).__name__}")
        values = dict(self.config_defaults)
        secrets = list(self.secret_defaults)
        for key, value in raw.items():
            full_key = self._namespaced(str(key))
            if isinstance(value, dict) and set(value) == {"secure"}:
                values[full_key] = SECURE_PLACEHOLDER
                secrets.append(full_key)
            else:
                values[full_key] = _config_string(value)
        return StackConfig(stack, path, values, sorted(set(secrets)))

    def _namespaced(self, key: str) -> str:
        return key if ":" in key else f"{self.name}:{key}"


def from_cwd(args: Any, path: Optional[str | os.PathLike[str]]) -> Optional[Path]:
    """A path given on the command line, as the Pulumi CLI reads it: the CLI changes into --cwd before
    anything else, so every relative path (--policy-pack, --policy-pack-config, the report files, --usage)
    is relative to --cwd; an absolute path is kept."""
    if path is None:
        return None
    return Path(getattr(args, "cwd", None) or ".") / path


def load_project(cwd: str | os.PathLike[str]) -> Project:
    root = Path(cwd).resolve()
    path = root / "Pulumi.yaml"
    if not path.exists():
        alt = root / "Pulumi.yml"
        if not alt.exists():
            raise ProjectError(f"no Pulumi.yaml project file found in {root} (use --cwd to point at a project)")
        path = alt
    document = _read_yaml(path)
    if not isinstance(document, dict):
        raise ProjectError(f"{path}: expected a mapping at the top level")
    name = document.get("name")
    if not isinstance(name, str) or not name:
        raise ProjectError(f"{path}: required key 'name' is missing or not a string")
    runtime = document.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise ProjectError(f"{path}: key 'runtime' is {runtime_name!r}; aifinops previews only 'python' programs")
    main = root / str(document.get("main") or ".")
    if not main.exists():
        raise ProjectError(f"{path}: key 'main' points at {main}, which does not exist")
    stack_config_dir = root / str(document.get("stackConfigDir") or ".")
    defaults, secret_defaults = _project_config(path, name, document.get("config") or {})
    virtualenv = _virtualenv(path, root, runtime)
    return Project(root, name, runtime_name, main, stack_config_dir, defaults, secret_defaults, virtualenv)


def _virtualenv(path: Path, root: Path, runtime: Any) -> Optional[Path]:
    """runtime.options.virtualenv (toolchain pip, the default) or uv's project virtualenv (toolchain uv)."""
    options = runtime.get("options") if isinstance(runtime, dict) else None
    if options is None:
        return None
    if not isinstance(options, dict):
        raise ProjectError(f"{path}: 'runtime.options' must be a mapping, got {type(options).__name__}")
    toolchain = options.get("toolchain", "pip")
    if toolchain not in TOOLCHAINS:
        raise ProjectError(f"{path}: runtime.options.toolchain is {toolchain!r}; the offline preview runs programs "
                           f"with toolchain {' or '.join(TOOLCHAINS)} (or none)")
    virtualenv = options.get("virtualenv")
    if virtualenv is None and toolchain == "uv":
        virtualenv = UV_DEFAULT_VIRTUALENV
    if virtualenv is None:
        return None
    if not isinstance(virtualenv, str) or not virtualenv:
        raise ProjectError(f"{path}: runtime.options.virtualenv must be a directory name, got {virtualenv!r}")
    return (root / virtualenv).absolute()


def _project_config(path: Path, project: str, raw: Any) -> tuple[dict[str, str], list[str]]:
    if not isinstance(raw, dict):
        raise ProjectError(f"{path}: 'config' must be a mapping, got {type(raw).__name__}")
    defaults: dict[str, str] = {}
    secrets: list[str] = []
    for key, spec in raw.items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(spec, dict) and spec and set(spec) <= _PROJECT_CONFIG_SCHEMA_KEYS:
            if spec.get("secret"):
                secrets.append(full_key)
            for value_key in ("value", "default"):
                if value_key in spec:
                    defaults[full_key] = _config_string(spec[value_key])
        else:
            defaults[full_key] = _config_string(spec)
    return defaults, secrets


def _config_string(value: Any) -> str:
    """The CLI hands every config value to the program as a string; objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def read_json_argument(flag: str, path: Path, error: type[AifinopsError] = ProjectError) -> Any:
    """The JSON file a command-line flag names, or `error` saying the flag, the file and what went wrong."""
    try:
        return json.loads(read_text_file(path, flag))
    except OSError as failure:
        raise error(f"{flag}: cannot read {path}: {failure.strerror}") from failure
    except ValueError as failure:
        raise error(f"{flag}: {path} is not JSON: {failure}") from failure


def _read_yaml(path: Path) -> Any:
    try:
        text = read_text_file(path)
    except OSError as error:
        raise ProjectError(f"{path}: cannot read: {error.strerror}") from error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(error, "problem", None) or str(error)
        raise ProjectError(f"{where}: malformed YAML: {problem}") from error
