"""The program's time limit (`--timeout`): a program that hangs ends the run with exit 2, naming the
line of the program it was on, instead of blocking CI until the job's own limit.

The program runs in the main thread (in this process, or in the program host's), so the limit is an
interval timer whose SIGALRM handler raises in the program's frame. That stops a program that sleeps,
loops or waits on an Output that never resolves; a program blocked inside C code that ignores signals
is stopped by the program host's backstop (see program_host.py) when it runs in its own virtualenv.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from .analyzer_requests import duration_seconds

# Long enough for a 5,000-resource program offline (about 40 s here) with a wide margin, short enough
# that a hung program fails a CI job in minutes rather than at the runner's own limit (often 6 hours).
DEFAULT_PROGRAM_TIMEOUT_SECONDS = 600.0


class ProgramTimedOut(BaseException):
    """Raised in the program when its time is up (a BaseException: `except Exception` in a program
    must not swallow it)."""


def parse_timeout(text: str) -> float:
    """--timeout DURATION: a Go duration as Pulumi's flags take it ('90s', '10m', '1h30m') or plain seconds."""
    import argparse

    try:
        seconds = float(text)
    except ValueError:
        seconds = duration_seconds(text)
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive duration such as 90s, 10m or 1h30m, got {text!r}")
    return seconds


class ProgramDeadline:
    """Holds what the message needs once the timer fired."""

    def __init__(self, seconds: float, program_dir: str, project_root: Path,
                 last_registered: Callable[[], Optional[str]]) -> None:
        self.seconds = seconds
        self.program_dir = program_dir
        self.project_root = project_root
        self.last_registered = last_registered  # the source line of the last resource registered, if any
        self.expired = False
        self.where: Optional[str] = None

    def _fire(self, _number: int, frame: Any) -> None:
        self.expired = True
        self.where = self._program_line(frame)
        raise ProgramTimedOut()

    def _program_line(self, frame: Any) -> Optional[str]:
        from .engine import is_program_file

        while frame is not None:
            filename = frame.f_code.co_filename
            if is_program_file(os.path.abspath(filename), self.program_dir):
                return f"{os.path.relpath(filename, self.project_root)}:{frame.f_lineno}"
            frame = frame.f_back
        return None

    def message(self) -> str:
        if self.where:
            where = f"; it was running {self.where}"
        else:
            last = self.last_registered()
            where = f"; the last resource it registered was created at {last}" if last else \
                "; it had registered no resource"
        return (f"the program did not finish within {self.seconds:g}s{where} "
                f"(raise the limit with --timeout, e.g. --timeout 30m)")


@contextlib.contextmanager
def program_deadline(seconds: Optional[float], program_dir: str, project_root: Path,
                     last_registered: Callable[[], Optional[str]]) -> Iterator[ProgramDeadline]:
    """Run the body with a time limit (none when `seconds` is None or this is not the main thread)."""
    deadline = ProgramDeadline(seconds or 0.0, program_dir, project_root, last_registered)
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield deadline
        return
    previous = signal.signal(signal.SIGALRM, deadline._fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield deadline
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
