"""What a policy pack declares, and the config it runs with, reconciled the way the Pulumi CLI does it.

For each policy: the defaults of its config schema, then the pack's initial config, then the
`--policy-pack-config` files in order (`{"all": "mandatory", "<policy>": "advisory" | {"enforcementLevel":
..., <properties>}}`); the result is validated against each policy's JSON schema, every problem reported.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import jsonschema

from .argument_checks import non_finite_numbers
from .errors import PolicyPackError
from .input_files import read_text_file

ENFORCEMENT_LEVELS = ("advisory", "mandatory", "remediate", "disabled")
ALL_POLICIES = "all"
# Keys of a policy-config file that name no policy: the CLI skips them (a config file shared with ESC).
IGNORED_CONFIG_KEYS = ("environments",)
# JSON Schema type names as the CLI's validator (gojsonschema) reports a value's type.
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"), (type(None), "null"))


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str  # one of ENFORCEMENT_LEVELS
    config_schema: Optional[dict[str, Any]] = None  # {"properties": {...}, "required": [...]}
    severity: str = ""  # low | medium | high | critical, "" when the policy does not say
    display_name: str = ""
    remediation_steps: str = ""
    url: str = ""
    is_stack_policy: bool = False


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    directory: Path
    description: str = ""
    policies: tuple[PolicyInfo, ...] = ()
    initial_config: Mapping[str, "PolicySettings"] = field(default_factory=dict)

    def policy(self, name: str) -> Optional[PolicyInfo]:
        return next((p for p in self.policies if p.name == name), None)


@dataclass(frozen=True)
class PolicySettings:
    """One policy's entry in a config: an enforcement level ("" = unchanged) and properties."""

    enforcement_level: str = ""
    properties: Mapping[str, Any] = field(default_factory=dict)


PolicyPackConfig = dict[str, PolicySettings]


def parse_config(document: Any, origin: str) -> PolicyPackConfig:
    """A `--policy-pack-config` document in the CLI's format; errors name `origin` and the offending key."""
    if not isinstance(document, Mapping):
        raise PolicyPackError(f"{origin}: policy pack config must be a JSON object of policy names, "
                              f"got {type(document).__name__}")
    config: PolicyPackConfig = {}
    for name, value in document.items():
        if name in IGNORED_CONFIG_KEYS:
            continue
        if isinstance(value, str):
            config[name] = PolicySettings(_level(value, name, origin))
        elif isinstance(value, Mapping):
            properties = dict(value)
            level = properties.pop("enforcementLevel", "")
            config[name] = PolicySettings(_level(level, name, origin) if level != "" else "", properties)
        else:
            raise PolicyPackError(f"{origin}: parsing {name!r}: {value!r} is not a valid value; "
                                  f"must be an enforcement level string or an object")
    return config


def load_config_file(path: str | Path) -> PolicyPackConfig:
    try:
        text = read_text_file(path, "--policy-pack-config")
    except OSError as error:
        raise PolicyPackError(f"--policy-pack-config {path}: cannot read: {error.strerror}") from error
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except ValueError as error:
        raise PolicyPackError(f"--policy-pack-config {path}: not valid JSON: {error}") from error
    return parse_config(document, f"--policy-pack-config {path}")


def _level(value: Any, name: str, origin: str) -> str:
    if not isinstance(value, str) or value not in ENFORCEMENT_LEVELS:
        raise PolicyPackError(f"{origin}: parsing enforcement level for {name!r}: {value!r} is not a valid "
                              f"enforcement level; expected one of {', '.join(ENFORCEMENT_LEVELS)}")
    return value


def reconcile(pack: PackInfo, configs: Sequence[PolicyPackConfig] = ()) -> PolicyPackConfig:
    """Every policy's effective settings: schema defaults < pack initial config < configs, validated."""
    result: PolicyPackConfig = {}
    for policy in pack.policies:
        properties = {key: copy.deepcopy(spec["default"])
                      for key, spec in ((policy.config_schema or {}).get("properties") or {}).items()
                      if isinstance(spec, Mapping) and "default" in spec}
        result[policy.name] = PolicySettings(policy.enforcement_level, properties)
    for config in (pack.initial_config, *configs):
        result = _apply(result, config)
    # The CLI's wording: one "validating policy config: <pack> <version>  <policy>: <error>" line per error.
    errors = [f"validating policy config: {pack.name} {pack.version}  {policy.name}: {message}"
              for policy in sorted(pack.policies, key=lambda p: p.name)
              for message in _schema_errors(policy, result[policy.name].properties)]
    if errors:
        raise PolicyPackError("\n".join(errors))
    return result


def _apply(result: PolicyPackConfig, config: Mapping[str, PolicySettings]) -> PolicyPackConfig:
    result = dict(result)
    everything = config.get(ALL_POLICIES)
    if everything is not None and everything.enforcement_level:
        result = {name: PolicySettings(everything.enforcement_level, s.properties) for name, s in result.items()}
    for name, given in config.items():
        if name == ALL_POLICIES or name not in result:
            continue  # the CLI lets a config name policies of other packs
        current = result[name]
        result[name] = PolicySettings(given.enforcement_level or current.enforcement_level,
                                      {**current.properties, **copy.deepcopy(dict(given.properties))})
    return result


def _schema_errors(policy: PolicyInfo, properties: Mapping[str, Any]) -> list[str]:
    # Stricter than the CLI, which ignores a property its schema does not name: a misspelt property would
    # silently leave the policy at its default (the Analyzer protocol carries no additionalProperties).
    known = sorted(((policy.config_schema or {}).get("properties") or {}))
    messages = [f"unknown property {name!r}; " + (f"expected one of: {', '.join(known)}" if known
                                                   else "the policy takes no properties")
                for name in sorted(set(properties) - set(known))]
    messages += [f"{where}: expected a finite number, got {value!r}" for where, value in non_finite_numbers(properties)]
    if not policy.config_schema or messages:
        return messages
    schema: dict[str, Any] = {"type": "object"}
    if policy.config_schema.get("properties"):
        schema["properties"] = policy.config_schema["properties"]
    if policy.config_schema.get("required"):
        schema["required"] = list(policy.config_schema["required"])
    validator = jsonschema.Draft7Validator(schema)
    messages = []
    for error in sorted(validator.iter_errors(dict(properties)), key=lambda e: [str(p) for p in e.absolute_path]):
        where = "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                        for i, p in enumerate(error.absolute_path))
        message = _cli_message(error, where)
        messages.append(f"{where}: {message}" if where and error.validator != "required" else message)
    return sorted(messages)


def _number(value: Any) -> Any:
    """Schemas arrive over gRPC as protobuf Structs, whose numbers are all floats."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _json_type(value: Any) -> str:
    return next(name for kind, name in _JSON_TYPES if isinstance(value, kind))


def _cli_message(error: jsonschema.ValidationError, where: str) -> str:
    """gojsonschema's description of the error, as the CLI prints it; jsonschema's for other keywords."""
    field_name = where or "(root)"
    if error.validator == "type":
        expected = error.validator_value
        expected = "/".join(expected) if isinstance(expected, list) else expected
        return f"Invalid type. Expected: {expected}, given: {_json_type(error.instance)}"
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"{missing} is required"
    if error.validator == "maxLength":
        return f"String length must be less than or equal to {_number(error.validator_value)}"
    if error.validator == "minLength":
        return f"String length must be greater than or equal to {_number(error.validator_value)}"
    if error.validator == "enum":
        return f"{field_name} must be one of the following: " + ", ".join(json.dumps(v) for v in error.validator_value)
    if error.validator == "const":
        return f"{field_name} does not match: {json.dumps(error.validator_value)}"
    return error.message
