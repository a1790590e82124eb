"""What the command shows on a terminal, as the Pulumi CLI does: progress on stderr, colour on stdout.

- Progress: while a long step runs (the program, the policy packs, checkov, the estimate) one status line
  on stderr says so; when the step ends it is erased, or left with the step's time when that was a second
  or more. stdout is the same with or without it. Only when stderr is a terminal and `--non-interactive`
  is not given: CI logs and pipes stay clean.
- Colour (`--color`): `always`, `never`, or `auto` (the default): colour when stdout is a terminal and
  NO_COLOR is unset or empty (no-color.org).
`aifinops.cli.main` calls `configure` once from the global flags; commands call `step` and `paint`.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Optional, TypeVar

COLOR_CHOICES = ("auto", "always", "never")
T = TypeVar("T")

_RESET, _RED, _GREEN, _YELLOW, _BOLD = "\033[0m", "\033[31m", "\033[32m", "\033[33m", "\033[1m"
_CLEAR_LINE = "\r\033[K"
# Marks in the text output and their colours: resources to create, violations by level, pack verdicts.
_MARKS = (("[mandatory]", _BOLD + _RED), ("[advisory]", _YELLOW), ("[failed]", _BOLD + _RED), ("❌", _RED),
          ("⚠️", _YELLOW), ("✅", _GREEN))


@dataclass
class Terminal:
    color: bool = False
    progress: bool = False
    progress_stream: Optional[IO[str]] = None


_current = Terminal()


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def use_color(choice: str, stream: Any) -> bool:
    """--color: always, never, or auto (a terminal, and NO_COLOR unset or empty)."""
    if choice not in COLOR_CHOICES:
        raise ValueError(f"--color: expected one of {', '.join(COLOR_CHOICES)}, got {choice!r}")
    if choice != "auto":
        return choice == "always"
    return not os.environ.get("NO_COLOR") and is_terminal(stream)


def configure(color: str = "auto", non_interactive: bool = False, stdout: Any = None, stderr: Any = None) -> Terminal:
    """Set what this run shows, from the global flags; returns the settings."""
    global _current
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    _current = Terminal(color=use_color(color, stdout), progress=not non_interactive and is_terminal(stderr),
                        progress_stream=stderr)
    return _current


def current() -> Terminal:
    return _current


def step(label: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """function(*args, **kwargs), with `label...` on stderr while it runs (when progress is on)."""
    terminal = _current
    stream = terminal.progress_stream
    if not terminal.progress or stream is None:
        return function(*args, **kwargs)
    started = time.perf_counter()
    stream.write(f"{label}...")
    stream.flush()
    try:
        return function(*args, **kwargs)
    finally:
        elapsed = time.perf_counter() - started
        stream.write(_CLEAR_LINE + (f"{label}: {elapsed:.1f} s\n" if elapsed >= 1 else ""))
        stream.flush()


def paint(text: str) -> str:
    """The text output with colour (when on): resources to create green, violations by level, pack verdicts."""
    if not _current.color:
        return text
    lines = []
    for line in text.split("\n"):
        if line.startswith(" +   "):
            line = _GREEN + line + _RESET
        else:
            for mark, colour in _MARKS:
                if mark in line:
                    line = line.replace(mark, colour + mark + _RESET)
        lines.append(line)
    return "\n".join(lines)
