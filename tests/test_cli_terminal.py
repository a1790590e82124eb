"""The command's exit codes, global flags, progress and colour (issue 13)."""
from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from aifinops import cli, terminal
from aifinops.core.errors import EXIT_ERROR, EXIT_INTERNAL, EXIT_OK, ProjectError
from tests.conftest import tagged_config, write_project

AIFINOPS = [sys.executable, "-m", "aifinops"]
PROGRAM = "import pulumi_aws as aws\naws.s3.Bucket('data')\n"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def plain_terminal():
    """main() configures the module-wide terminal settings: leave them as a test found them."""
    saved = terminal.current()
    yield
    terminal._current = saved


# -- exit codes ------------------------------------------------------------------------------------
def test_no_command_prints_help_on_stderr_and_exits_2(capsys):
    assert cli.main([]) == EXIT_ERROR
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "usage: aifinops" in captured.err and "preview" in captured.err and "exit codes: 0 ok" in captured.err


def test_version_prints_the_installed_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"aifinops {version('aifinops')}"


def test_a_usage_error_exits_2():
    with pytest.raises(SystemExit) as exited:
        cli.main(["cost", "--no-such-flag"])
    assert exited.value.code == 2


def test_an_aifinops_error_exits_2_with_its_message(monkeypatch, capsys):
    def missing(args):
        raise ProjectError("no Pulumi.yaml in /nowhere")

    monkeypatch.setattr("aifinops.cost_command.load_graph", missing)
    assert cli.main(["cost"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "error: no Pulumi.yaml in /nowhere" in err and "please report" not in err


def test_an_internal_error_exits_3_asking_for_a_report_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(args):
        raise KeyError("resources")  # a bug, not a user error

    monkeypatch.setattr("aifinops.cost_command.load_graph", broken)
    assert cli.main(["cost"]) == EXIT_INTERNAL == 3
    err = capsys.readouterr().err
    assert "internal error: KeyError: 'resources'" in err and "please report it" in err
    assert "--debug for the traceback" in err and "Traceback" not in err
    assert cli.main(["cost", "--debug"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "please report it" in err


def test_a_stack_with_a_mandatory_violation_exits_1_and_a_clean_one_0(tmp_path: Path):
    """End to end: 1 for mandatory violations only, never for a crash (that is 3)."""
    clean = write_project(tmp_path / "clean", PROGRAM.replace("aws.s3.Bucket('data')", "pass"), tagged_config())
    assert subprocess.run([*AIFINOPS, "preview", "--cwd", str(clean)], capture_output=True, timeout=300).returncode == 0
    gpu = write_project(tmp_path / "gpu", "import pulumi_aws as aws\n"
                        "aws.ec2.Instance('x', instance_type='p7.48xlarge', ami='ami-1')\n", tagged_config())
    result = subprocess.run([*AIFINOPS, "preview", "--cwd", str(gpu)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "approved-gpu-instance-types" in result.stdout and "p7.48xlarge" in result.stdout


# -- global flags ----------------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [["--debug", "--color", "never", "cost"], ["cost", "--debug", "--color", "never"],
                                  ["--color", "never", "cost", "--debug"]])
def test_global_flags_go_before_or_after_the_command(argv):
    args = cli.build_parser("cost").parse_args(argv)
    assert (args.command, args.debug, args.color, args.non_interactive) == ("cost", True, "never", False)


def test_global_flags_reach_nested_subcommands():
    args = cli.build_parser("catalog").parse_args(["catalog", "refresh", "--non-interactive", "--color", "always"])
    assert (args.catalog_command, args.non_interactive, args.color) == ("refresh", True, "always")


# -- progress --------------------------------------------------------------------------------------
def test_progress_goes_to_a_terminal_stderr_only():
    err = FakeTerminal()
    terminal.configure("never", non_interactive=False, stdout=io.StringIO(), stderr=err)
    assert terminal.step("estimating the cost", lambda x: x * 2, 21) == 42
    assert err.getvalue().startswith("estimating the cost...") and err.getvalue().endswith("\r\033[K")
    for settings in ({"non_interactive": True, "stderr": FakeTerminal()}, {"non_interactive": False,
                                                                            "stderr": io.StringIO()}):
        terminal.configure("never", stdout=io.StringIO(), **settings)
        assert terminal.step("running the program", lambda: "done") == "done"
        assert settings["stderr"].getvalue() == ""


def test_a_failing_step_clears_its_line_and_raises():
    err = FakeTerminal()
    terminal.configure("never", stdout=io.StringIO(), stderr=err)
    with pytest.raises(RuntimeError):
        terminal.step("running the policy packs", lambda: (_ for _ in ()).throw(RuntimeError("pack died")))
    assert err.getvalue() == "running the policy packs...\r\033[K"


def _run_on_a_terminal(*args: str) -> tuple[int, str]:
    """Run aifinops with stderr on a real pseudo-terminal; (exit code, what the terminal showed)."""
    master, slave = pty.openpty()
    try:
        completed = subprocess.run([*AIFINOPS, *args], stdout=subprocess.DEVNULL, stderr=slave, timeout=300)
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal has nothing more
                break
            if not chunk:
                break
            shown += chunk
        return completed.returncode, shown.decode()
    finally:
        os.close(master)


def test_a_real_run_shows_its_steps_on_a_terminal_and_nothing_with_non_interactive(tmp_path: Path):
    project = write_project(tmp_path, PROGRAM, tagged_config())
    code, shown = _run_on_a_terminal("cost", "--cwd", str(project))
    assert code == EXIT_OK and "running the program..." in shown and "estimating the cost..." in shown
    code, shown = _run_on_a_terminal("cost", "--cwd", str(project), "--non-interactive")
    assert code == EXIT_OK and shown == ""


# -- colour ----------------------------------------------------------------------------------------
def test_color_auto_follows_the_terminal_and_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert terminal.use_color("auto", FakeTerminal()) and not terminal.use_color("auto", io.StringIO())
    assert terminal.use_color("always", io.StringIO()) and not terminal.use_color("never", FakeTerminal())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not terminal.use_color("auto", FakeTerminal()) and terminal.use_color("always", FakeTerminal())
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: an empty value does not disable colour
    assert terminal.use_color("auto", FakeTerminal())


def test_paint_colours_creates_and_violations_only_when_colour_is_on():
    text = " +   aws:s3:Bucket  data  create\n        - [mandatory] [severity: high]  required-cost-tags\nplain"
    terminal.configure("never", stdout=io.StringIO(), stderr=io.StringIO())
    assert terminal.paint(text) == text
    terminal.configure("always", stdout=io.StringIO(), stderr=io.StringIO())
    painted = terminal.paint(text).split("\n")
    assert painted[0] == "\033[32m" + text.split("\n")[0] + "\033[0m"
    assert "\033[1m\033[31m[mandatory]\033[0m" in painted[1] and painted[2] == "plain"
