"""Input a clumsy or hostile user gives: every case is exit 2 with a message naming the file or the
argument, the value and what was expected; never a traceback, never exit 1 (a policy failure)."""
from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest
import yaml

from aifinops.cli import main
from aifinops.core.input_files import read_text_file
from tests.conftest import REPO_ROOT, tagged_config, write_project
from tests.test_policy_runner import make_pack

BUCKET = """
import pulumi_aws as aws
aws.s3.Bucket("data", tags={"CostCenter": "ml", "Project": "test", "Environment": "dev"})
"""
EXAMPLE_PROGRAM = (REPO_ROOT / "stacks" / "__main__.py").read_text()


def utf16(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-16"))  # with its byte-order mark, as Windows editors save it
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def project(tmp_path: Path, program: str = BUCKET, config=None) -> Path:
    return write_project(tmp_path / "project", program, config if config is not None else tagged_config())


# -- one reader for every input file ----------------------------------------------------------------------
def _pulumi_yaml(tmp_path):
    root = project(tmp_path)
    utf16(root / "Pulumi.yaml", (root / "Pulumi.yaml").read_text())
    return root / "Pulumi.yaml", ["preview", "-C", str(root), "--skip-policy-packs"]


def _stack_file(tmp_path):
    root = project(tmp_path)
    stack_file = root / "stacks" / "Pulumi.dev.yaml"
    utf16(stack_file, stack_file.read_text())
    return stack_file, ["preview", "-C", str(root), "--skip-policy-packs"]


def _policy_pack_config(tmp_path):
    root = project(tmp_path)
    config = utf16(root / "policy-config.json", '{"all": "advisory"}')
    return config, ["preview", "-C", str(root), "--policy-pack-config", "policy-config.json"]


def _pulumi_policy_yaml(tmp_path):
    root = project(tmp_path)
    pack = make_pack(tmp_path / "pack", "pass")
    utf16(pack / "PulumiPolicy.yaml", (pack / "PulumiPolicy.yaml").read_text())
    return pack / "PulumiPolicy.yaml", ["preview", "-C", str(root), "--policy-pack", str(pack)]


def _usage_file(tmp_path):
    root = project(tmp_path)
    usage = utf16(root / "usage.yml", "version: 0.1\nresources: {}\n")
    return usage, ["cost", "-C", str(root), "--usage", "usage.yml"]


def _fix_file(tmp_path):
    rules = utf16(tmp_path / "rules.yaml", "rules:\n  - tag: CostCenter\n    value: ml\n")
    return rules, ["audit", "tags", "--region", "us-east-1", "--fix", str(rules)]


def _stack_reference_outputs(tmp_path):
    root = project(tmp_path)
    outputs = utf16(root / "outputs.json", '{"org/net/prod": {"vpcId": "vpc-1"}}')
    return outputs, ["preview", "-C", str(root), "--skip-policy-packs", "--stack-reference-outputs", "outputs.json"]


@pytest.mark.parametrize("case", [_pulumi_yaml, _stack_file, _policy_pack_config, _pulumi_policy_yaml, _usage_file,
                                  _fix_file, _stack_reference_outputs])
def test_a_utf16_input_file_is_an_input_error_naming_the_file_and_the_encoding(tmp_path, capsys, case):
    path, argv = case(tmp_path)
    code, _, err = run(capsys, *argv)
    assert code == 2, err
    assert str(path) in err and "expected UTF-8 text, but it looks like UTF-16" in err
    assert "Traceback" not in err


def test_the_reader_names_the_first_bad_byte_and_accepts_a_utf8_byte_order_mark(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("owner: Jos\u00e9\n".encode("latin-1"))
    with pytest.raises(Exception, match=r"latin1.yaml: cannot read: expected UTF-8 text, but byte 0xe9 at offset "
                                        r"10 is not valid UTF-8; save the file as UTF-8"):
        read_text_file(latin1)
    marked = tmp_path / "marked.yaml"
    marked.write_bytes(b"\xef\xbb\xbfname: x\n")
    assert read_text_file(marked) == "name: x\n"


# -- the program's time limit -----------------------------------------------------------------------------
def test_a_hanging_program_is_stopped_at_its_timeout_naming_the_line_it_was_on(tmp_path, capsys):
    program = BUCKET + "import time\ntime.sleep(300)\n"
    root = project(tmp_path, program)
    code, _, err = run(capsys, "preview", "-C", str(root), "--skip-policy-packs", "--timeout", "1s")
    assert code == 2
    line = program.splitlines().index("time.sleep(300)") + 1
    assert f"error: the program did not finish within 1s; it was running stacks/__main__.py:{line}" in err
    assert "--timeout" in err


def test_a_program_that_swallows_exceptions_is_stopped_too(tmp_path, capsys):
    program = BUCKET + textwrap.dedent("""
        import time
        while True:
            try:
                time.sleep(300)
            except Exception:
                pass
        """)
    root = project(tmp_path, program)
    code, _, err = run(capsys, "preview", "-C", str(root), "--skip-policy-packs", "--timeout", "1s")
    assert code == 2 and "did not finish within 1s; it was running stacks/__main__.py:" in err


def test_timeout_takes_go_durations_and_refuses_nonsense(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["preview", "--timeout", "soon"])
    assert exited.value.code == 2
    assert "expected a positive duration such as 90s, 10m or 1h30m, got 'soon'" in capsys.readouterr().err
    root = project(tmp_path)
    code, _, err = run(capsys, "preview", "-C", str(root), "--skip-policy-packs", "--timeout", "1m30s")
    assert code == 0, err


# -- NaN, infinity and misspelt properties --------------------------------------------------------------
@pytest.mark.parametrize("section, entry, expected", [
    ("gpuInstances", "rootVolumeGb: .nan", "root_volume_gb: expected a whole number from 8 to 16384 GB, got nan"),
    ("gpuInstances", "rootVolumeGb: .inf", "root_volume_gb: expected a whole number from 8 to 16384 GB, got inf"),
    ("costBudgets", "amountUsd: .inf", "amount_usd: expected a number above 0 USD, got inf"),
    ("costBudgets", "amountUsd: .nan", "amount_usd: expected a number above 0 USD, got nan"),
])
def test_nan_and_infinity_in_stack_config_name_the_argument(tmp_path, capsys, section, entry, expected):
    root = write_project(tmp_path / "project", EXAMPLE_PROGRAM, project="aifinops")
    extra = {"gpuInstances": "instanceType: g5.xlarge", "costBudgets": "emails: [a@example.com]"}[section]
    (root / "stacks" / "Pulumi.dev.yaml").write_text(textwrap.dedent(f"""\
        config:
          aws:region: us-east-1
          aifinops:costTags: {{CostCenter: ml, Project: p, Environment: dev}}
          aifinops:{section}:
            - name: probe
              {extra}
              {entry}
        """))
    code, _, err = run(capsys, "preview", "-C", str(root), "--skip-policy-packs")
    assert code == 2 and expected in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("document, expected", [
    ('{"monthly-cost-within-budget": {"headroomPercent": Infinity}}', "headroomPercent: expected a finite number, got inf"),
    ('{"monthly-cost-within-budget": {"usage": {"resources": {"data": {"monthlyGb": NaN}}}}}',
     "usage.resources.data.monthlyGb: expected a finite number, got nan"),
])
def test_nan_and_infinity_in_policy_pack_config_are_refused(tmp_path, capsys, document, expected):
    root = project(tmp_path)
    (root / "config.json").write_text(document)
    code, _, err = run(capsys, "preview", "-C", str(root), "--policy-pack-config", "config.json")
    assert code == 2
    assert "validating policy config: aifinops-cost" in err and f"monthly-cost-within-budget: {expected}" in err


def test_nan_in_a_usage_file_names_where(tmp_path, capsys):
    root = project(tmp_path)
    (root / "usage.yml").write_text(yaml.safe_dump({"version": 0.1, "resources": {"data": {"monthlyGb": math.nan}}}))
    code, _, err = run(capsys, "cost", "-C", str(root), "--usage", "usage.yml")
    assert code == 2 and "usage.yml: resources.data.monthlyGb: expected a finite number, got nan" in err


def test_a_misspelt_policy_config_property_names_the_policy_the_property_and_the_known_ones(tmp_path, capsys):
    root = project(tmp_path)
    (root / "config.json").write_text(json.dumps({"required-cost-tags": {"requiredTag": ["Owner"]}}))
    code, _, err = run(capsys, "preview", "-C", str(root), "--policy-pack-config", "config.json")
    assert code == 2
    assert "required-cost-tags: unknown property 'requiredTag'; expected one of: " in err
    assert "requiredTags" in err.split("unknown property 'requiredTag'", 1)[1].splitlines()[0]
