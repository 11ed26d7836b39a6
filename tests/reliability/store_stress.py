"""Processes for the session-store stress test (run as ``python -m``, never collected).

``worker PATH INDEX COUNT``: COUNT writes of its own records, one by one.
``killer PATH KILLS SEED``: KILLS times, fork a child that writes in a loop, wait until it
is writing its temp file (or a short while) and SIGKILL it; prints how many kills left a temp
file behind, that is, hit a write in progress.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path

from codex_local_sdk import JsonFileSessionStore, SessionRecord


def worker(path: Path, index: int, count: int) -> None:
    store = JsonFileSessionStore(path)
    for number in range(count):
        store.put(SessionRecord(name=f"w{index}-{number}", thread_id=str(uuid.uuid4())))


def _victim(path: Path) -> None:
    store = JsonFileSessionStore(path)
    while True:
        store.put(SessionRecord(name="victim", thread_id=str(uuid.uuid4())))


_WAIT_FOR_WRITE_SECONDS = 0.3


def _has_temp(path: Path, prefix: str) -> bool:
    try:
        return any(name.startswith(prefix) for name in os.listdir(path.parent))
    except FileNotFoundError:  # the first victim has not created the store's folder yet
        return False


def killer(path: Path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    mid_write = 0
    troubles: list[str] = []
    for _ in range(kills):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child only writes until it is killed
            try:
                _die_with_parent()
                _victim(path)
            finally:
                os._exit(0)
        prefix = f"{path.name}.tmp-{pid}-"
        try:
            deadline = time.monotonic() + _WAIT_FOR_WRITE_SECONDS
            while not _has_temp(path, prefix) and time.monotonic() < deadline:
                time.sleep(0.0002)
            time.sleep(rng.uniform(0, 0.001))  # somewhere in the write, not always at its start
        except Exception as exc:  # a victim must never outlive its round: kill it below
            troubles.append(repr(exc)[:200])
        finally:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        mid_write += _has_temp(path, prefix)
    print(json.dumps({"kills": kills, "mid_write": mid_write, "troubles": troubles}))


def _die_with_parent() -> None:
    """Linux: SIGKILL this victim if the killer dies, so no writer outlives the test."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


if __name__ == "__main__":
    command, target = sys.argv[1], Path(sys.argv[2])
    if command == "worker":
        worker(target, int(sys.argv[3]), int(sys.argv[4]))
    else:
        killer(target, int(sys.argv[3]), int(sys.argv[4]))
