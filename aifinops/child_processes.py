"""Child processes and temporary files that never outlive a run of aifinops, however it ends.

Every child (a policy pack, checkov, the program host) runs in a process group of its own, so stopping
it stops whatever it started too. Its pipes are read by threads that poll with a short deadline, so
stopping never waits on a grandchild that still holds a pipe open.

A normal end, an exception and SIGTERM/SIGHUP/SIGINT (turned into `Interrupted` by
`termination_signals_interrupt`, so `finally` blocks and context managers run) all stop the children
here. SIGKILL leaves no chance to clean up, so one small guard process per run (started on first use,
in a session of its own, ignoring the terminal's signals) holds the read end of a pipe only this
process writes to, and is told which process groups and temporary paths are live. When the pipe reads
end-of-file, this process is gone: the guard kills those groups and removes those paths, within a
fraction of a second. (A parent-death signal via prctl would need a preexec_fn, and forking a process
that runs gRPC with Python code in the child aborts in gRPC's fork handlers; it would also miss
grandchildren and temporary files.)
"""
from __future__ import annotations

import atexit
import contextlib
import errno
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import weakref
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence

# How long a reader thread blocks before it looks at its stop flag again.
READ_POLL_SECONDS = 0.1
# After a child exits, how long its pipes may stay open (held by a grandchild) before the group is killed.
PIPE_GRACE_SECONDS = 1.0
TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)

# Runs in the guard: ignore the terminal's signals, follow the parent's register, clean up on EOF.
_GUARD = """
import json, os, shutil, signal
for number in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT):
    signal.signal(number, signal.SIG_IGN)
groups, paths, pending = set(), set(), b""
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    *lines, pending = (pending + chunk).split(b"\\n")
    for line in lines:
        verb, argument = json.loads(line)
        {"group": groups.add, "ungroup": groups.discard, "path": paths.add, "unpath": paths.discard}[verb](argument)
for group in groups:
    try:
        os.killpg(group, signal.SIGKILL)
    except OSError:
        pass
for path in paths:
    shutil.rmtree(path, ignore_errors=True)
"""


class Interrupted(BaseException):
    """A termination signal arrived: unwinds like KeyboardInterrupt, so every cleanup runs."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by signal N: 128 + N (SIGTERM 143, SIGHUP 129,
        SIGINT 130), which is what CI runners and `timeout` report."""
        return 128 + self.signal_number


@contextlib.contextmanager
def termination_signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM, SIGHUP and SIGINT raise `Interrupted` in the main thread; the previous
    handlers come back after it (the command may run inside another program, e.g. tests). Nothing is
    changed when called from another thread, where Python cannot set signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(number: int, _frame: Any) -> None:
        for other in TERMINATION_SIGNALS:  # a second signal must not cut the cleanup short
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(number)

    previous = {number: signal.signal(number, interrupt) for number in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class _Guard:
    """The guard process of this run (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._owner = 0  # the pid that started it: a forked child must not write to its parent's guard

    def tell(self, verb: str, argument: Any) -> None:
        line = (json.dumps([verb, argument]) + "\n").encode()
        with self._lock:
            if self._process is None or self._owner != os.getpid():
                self._process = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _GUARD], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
                self._owner = os.getpid()
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(line)  # a line is far below PIPE_BUF: written whole
                self._process.stdin.flush()
            except OSError:  # the guard is gone (killed from outside): the normal cleanup still runs
                pass

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None


GUARD = _Guard()


def guard_path(path: str | os.PathLike[str]) -> None:
    """Have the guard remove `path` if this process is killed before it can (call `release_path` after)."""
    GUARD.tell("path", os.fspath(path))


def release_path(path: str | os.PathLike[str]) -> None:
    GUARD.tell("unpath", os.fspath(path))


class StreamReader:
    """Reads one pipe of a child in a thread, with a deadline on every read: `stop` returns within
    READ_POLL_SECONDS even when a grandchild keeps the pipe open."""

    def __init__(self, stream: Any, on_line: Optional[Callable[[bytes], None]] = None) -> None:
        self._stream = stream
        self._on_line = on_line
        self._chunks: list[bytes] = []
        self._stop = threading.Event()
        self.finished = threading.Event()  # end of file, or stopped
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        fd, pending = self._stream.fileno(), b""
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([fd], [], [], READ_POLL_SECONDS)
                if not ready:
                    continue
                data = os.read(fd, 65536)
                if not data:
                    break
                self._chunks.append(data)
                if self._on_line is not None:
                    *lines, pending = (pending + data).split(b"\n")
                    for line in lines:
                        self._on_line(line)
            if pending and self._on_line is not None:
                self._on_line(pending)
        except (OSError, ValueError):  # closed under us
            pass
        finally:
            self.finished.set()

    def data(self) -> bytes:
        return b"".join(self._chunks)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=READ_POLL_SECONDS * 5)
        self._stream.close()


# Runs first in a child started at lower priority (`-I -S`: a bare interpreter, a few milliseconds), then
# execs the real command: its nice value is set before it starts a single thread, and the threads and
# processes it starts inherit it. Where the kernel groups scheduling by session (autogroup), a nice value
# only ranks threads inside their group, so the child's session group gets it too: the group is the
# child's own (start_new_session), never the user's terminal session. Best effort: a system that refuses
# either runs the command at normal priority.
_NICE_THEN_EXEC = """
import os, sys
nice = int(sys.argv[1])
try:
    os.setpriority(os.PRIO_PROCESS, 0, nice)
except OSError:
    pass
try:
    with open("/proc/self/autogroup", "w") as autogroup:
        autogroup.write(str(nice))
except OSError:
    pass
os.execv(sys.argv[2], sys.argv[2:])
"""


def at_lower_priority(command: Sequence[str], niceness: int) -> list[str]:
    """`command`, run at `niceness` lower CPU priority than this process (nice values stop at 19). Raises
    FileNotFoundError, as Popen would, when its program cannot be found."""
    program = shutil.which(command[0])
    if program is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), command[0])
    nice = min(19, os.getpriority(os.PRIO_PROCESS, 0) + niceness)
    return [sys.executable, "-I", "-S", "-c", _NICE_THEN_EXEC, str(nice), program, *command[1:]]


class ChildTimeout(Exception):
    """The child did not exit within the time it was given; it has been stopped."""


# Every child not yet stopped: `stop_all` ends them (a signal, interpreter exit).
_LIVE: "weakref.WeakSet[ChildProcess]" = weakref.WeakSet()


class ChildProcess:
    """A child in its own process group, watched by the guard, its stdout and stderr read with deadlines.

    `stdin`: subprocess.DEVNULL (default) or bytes to write and close; with `stdin_later`, a pipe kept open
    for `write_stdin` (a child started early, told what to do once it is known, or fed as work comes).
    `on_stdout_line`/`on_stderr_line` see each line as it arrives; `stdout`/`stderr` return everything read.
    `niceness` > 0: the child runs at that much lower CPU priority (see `at_lower_priority`)."""

    def __init__(self, command: Sequence[str], *, cwd: Optional[str | os.PathLike[str]] = None,
                 env: Optional[Mapping[str, str]] = None, stdin: Optional[bytes] = None,
                 stdin_later: bool = False,
                 on_stdout_line: Optional[Callable[[bytes], None]] = None,
                 on_stderr_line: Optional[Callable[[bytes], None]] = None, niceness: int = 0) -> None:
        self.popen = subprocess.Popen(
            at_lower_priority(command, niceness) if niceness > 0 else list(command),
            cwd=cwd, env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if stdin is not None or stdin_later else subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)  # its own session, hence its own process group
        self.pid = self.popen.pid
        self._stopped = False
        GUARD.tell("group", self.pid)
        _LIVE.add(self)
        self._stdout = StreamReader(self.popen.stdout, on_stdout_line)
        self._stderr = StreamReader(self.popen.stderr, on_stderr_line)
        if stdin is not None:
            self.write_stdin(stdin)

    def write_stdin(self, data: bytes, close: bool = True) -> None:
        """Write `data` to the child's stdin, and close it unless `close` is false."""
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.write(data)
            if close:
                self.popen.stdin.close()
            else:
                self.popen.stdin.flush()
        except OSError:  # it exited without reading: its exit status says why
            pass

    @property
    def stdout_closed(self) -> threading.Event:
        """Set once stdout reached end of file (or reading stopped)."""
        return self._stdout.finished

    @property
    def stdout(self) -> bytes:
        return self._stdout.data()

    @property
    def stderr(self) -> bytes:
        return self._stderr.data()

    def poll(self) -> Optional[int]:
        return self.popen.poll()

    @property
    def returncode(self) -> Optional[int]:
        return self.popen.returncode

    def wait(self, timeout: float) -> Optional[int]:
        """The exit code, or None if still running after `timeout` seconds."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def finish(self, timeout: float) -> int:
        """Wait for the child to exit and its output to be read, then stop it; ChildTimeout after `timeout`."""
        code = self.wait(timeout)
        if code is None:
            self.stop()
            raise ChildTimeout(f"did not exit within {timeout:g}s")
        self._stdout.finished.wait(PIPE_GRACE_SECONDS)
        self._stderr.finished.wait(PIPE_GRACE_SECONDS)
        self.stop()
        return code

    def stop(self) -> None:
        """Kill the child's whole process group, reap it, stop reading. Never waits on grandchildren."""
        if self._stopped:
            return
        self._stopped = True
        # After the leader is reaped its pid may be reused once the group is empty; the group is only
        # signalled while it is known to exist (the leader runs, or something still holds its pipes).
        if self.popen.poll() is None or not (self._stdout.finished.is_set() and self._stderr.finished.is_set()):
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except OSError:  # already gone
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be refused
            pass
        self._stdout.stop()
        self._stderr.stop()
        GUARD.tell("ungroup", self.pid)
        _LIVE.discard(self)

    def __enter__(self) -> "ChildProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def stop_all() -> None:
    """Stop every child still running (interpreter exit)."""
    for child in list(_LIVE):
        child.stop()


@contextlib.contextmanager
def children_stopped_after() -> Iterator[None]:
    """Every child started inside the block is stopped when it ends, however it ends. Children that were
    already running are left alone: they belong to the caller (a test session's shared packs)."""
    before = set(_LIVE)
    try:
        yield
    finally:
        for child in list(_LIVE):
            if child not in before:
                child.stop()


atexit.register(stop_all)
