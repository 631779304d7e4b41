"""Worker processes die with their parent (emma.util.runtime.worker_pool and die_with_parent, its initializer)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emma.util.runtime import die_with_parent

ROOT = Path(__file__).resolve().parent.parent

# A parent that starts a spawn pool (with or without the initializer), prints its worker's pid
# and leaves the worker sleeping; the test kills the parent with SIGKILL (no clean-up runs).
PARENT = '''
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor

if __name__ == "__main__":
    if sys.argv[1] == "on":  # the package's pool
        from emma.util.runtime import worker_pool
        pool = worker_pool(1)
    else:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 60)
    time.sleep(60)
'''

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by whoever adopted it, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _orphan(tmp_path: Path, initializer: str, wait: float) -> bool:
    """Start the parent, kill it, and say whether its worker still runs ``wait`` seconds later."""
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script), initializer], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    worker = None
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.05)
        return _alive(worker)
    finally:
        parent.kill()
        parent.wait(timeout=5)
        parent.stdout.close()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)


@linux_only
def test_a_worker_dies_when_its_parent_is_killed(tmp_path):
    assert not _orphan(tmp_path, "on", wait=5.0), "the worker outlived its killed parent"


@linux_only
def test_without_the_initializer_the_worker_would_outlive_its_parent(tmp_path):
    # the control: what the test above guards against does happen
    assert _orphan(tmp_path, "off", wait=1.0)


@linux_only
def test_a_worker_whose_parent_is_already_gone_exits():
    code = ("import os\nfrom emma.util.runtime import die_with_parent\n"
            "die_with_parent(os.getppid()); print('parent alive', flush=True)\n"
            "die_with_parent(1); print('not reached')\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout == "parent alive\n"
    assert done.returncode == 1, done.stderr


@pytest.mark.parametrize("pid", [0, -3, "12", True, 1.5])
def test_a_bad_parent_pid_is_named(pid):
    with pytest.raises(ValueError, match="parent_pid must be a positive integer"):
        die_with_parent(pid)


def test_worker_pool_refuses_a_bad_size():
    from emma.util.runtime import worker_pool

    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_workers must be a positive integer"):
            worker_pool(bad)
