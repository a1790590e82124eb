"""How fast a run's children and temp files go: a pack whose policy starts `sleep 300` (check, then close),
and `aifinops preview --checkov` with a pack hanging in Analyze, ended by SIGTERM and by SIGKILL (time to
exit, then until no process of the run is left in /proc and its TMPDIR is empty).

Usage: .venv/bin/python benchmarks/teardown.py
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aifinops.policy_runner import PackEnvironment, PolicyPackSet  # noqa: E402
from tests.conftest import tagged_config, write_project  # noqa: E402
from tests.test_child_processes import PROGRAM, SLOW_BODY, processes_with, wait_for  # noqa: E402
from tests.test_policy_runner import make_pack, small_graph  # noqa: E402



def main(tmp: Path) -> None:
    # 1. a pack whose policy starts `sleep 300`: time to check + close
    pack = make_pack(tmp / "childpack", "subprocess.Popen(['sleep', '300'])", before_pack="import subprocess\n")
    g = small_graph("a", "b")
    t = time.monotonic()
    with PolicyPackSet([pack], PackEnvironment.for_graph(g)) as packs:
        packs.check(g)
        t_check = time.monotonic()
    print(f"pack with sleep-300 child: start+check {t_check - t:.2f}s, close {time.monotonic() - t_check:.2f}s")

    for how in ("TERM", "KILL"):
        root = write_project(tmp / f"p{how}", PROGRAM, tagged_config())
        slow = make_pack(tmp / f"slow{how}", SLOW_BODY, before_pack="import subprocess\n")
        temp = tmp / f"tmp{how}"; temp.mkdir()
        started = tmp / f"started{how}"
        marker = uuid.uuid4().hex
        env = {**os.environ, "TMPDIR": str(temp), "AIFINOPS_TEST_STARTED": str(started), "AIFINOPS_TEST_RUN": marker}
        p = subprocess.Popen([sys.executable, "-m", "aifinops", "preview", "-C", str(root), "--checkov", "--policy-pack", str(slow)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: started.exists(), 120)
        n = len(processes_with(marker))
        t = time.monotonic()
        p.send_signal(getattr(signal, "SIG" + how)); p.wait()
        t_exit = time.monotonic() - t
        wait_for(lambda: not processes_with(marker) and not any(temp.iterdir()), 30)
        print(f"SIG{how}: {n} processes with the run's marker before; exit {p.returncode} after {t_exit:.2f}s; "
              f"no process and no temp file after {time.monotonic() - t:.2f}s (left: {processes_with(marker)}, {list(temp.iterdir())})")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="aifinops-teardown-") as scratch:
        main(Path(scratch))
