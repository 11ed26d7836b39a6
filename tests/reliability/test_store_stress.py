"""The JSON session store under fire: 8 processes writing at once while writers are SIGKILLed
in the middle of their writes. Nothing written is lost, the file is never corrupt, and the
temp files of the killed writers are gone after the next write."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

import msgspec
import pytest

from codex_local_sdk import JsonFileSessionStore, SessionRecord
from tests.support.figures import record
from tests.support.paths import ROOT

WORKERS = 8
WRITES = 200
KILLS = 500


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.store_stress", *args],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.timeout(600)  # ~25 s on an idle 2-core machine; far more on a busy one
def test_concurrent_writers_and_kills_lose_and_corrupt_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "store" / "sessions.json"
    started = time.monotonic()
    killer = spawn("killer", str(path), str(KILLS), "7")
    workers = [spawn("worker", str(path), str(i), str(WRITES)) for i in range(WORKERS)]
    outputs: dict[subprocess.Popen[str], str] = {}
    try:
        for process in [*workers, killer]:
            out, err = process.communicate(timeout=500)
            assert process.returncode == 0, err
            outputs[process] = out
    finally:
        for process in [*workers, killer]:
            if process.poll() is None:
                process.kill()
                process.wait()
    killed = json.loads(outputs[killer])
    assert killed["troubles"] == [], killed["troubles"]
    mid_write = killed["mid_write"]
    elapsed = time.monotonic() - started
    stale = len([p for p in path.parent.iterdir() if ".tmp-" in p.name])

    store = JsonFileSessionStore(path)
    store.put(SessionRecord(name="after", thread_id="t"))  # the next writer cleans up
    raw = msgspec.json.decode(path.read_bytes())  # not corrupt: it decodes
    names = set(raw["sessions"])
    expected = {f"w{i}-{n}" for i in range(WORKERS) for n in range(WRITES)}
    lost = len(expected - names)
    corrupt = len([p for p in path.parent.iterdir() if ".corrupt-" in p.name])
    temp_left = len([p for p in path.parent.iterdir() if ".tmp-" in p.name])
    record(
        "store",
        f"{WORKERS} processes x {WRITES} concurrent writes and {KILLS} SIGKILLs "
        f"({mid_write} of them mid-write): {lost} lost, {corrupt} corrupt, {temp_left} temp "
        f"files left ({stale} found before the next write; {elapsed:.0f} s)",
    )
    assert (lost, corrupt, temp_left) == (0, 0, 0)
    assert mid_write >= KILLS // 2  # the kills really hit writes in progress
    assert os.stat(path).st_mode & 0o777 == 0o600
