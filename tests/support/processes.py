"""Finding the processes a test started, orphans included, by the CODEX_HOME they run with."""

from __future__ import annotations

import os

import psutil


def codex_processes(
    codex_home: str | os.PathLike[str], *, exclude: str | None = None
) -> list[psutil.Process]:
    """Live processes (codex and anything it spawned) whose environment has this CODEX_HOME.

    ``exclude``: skip processes whose command line contains it (e.g. the server under test).
    """
    home = str(codex_home)
    found: list[psutil.Process] = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if exclude is not None and any(
                exclude in part for part in process.info["cmdline"] or []
            ):
                continue
            if process.environ().get("CODEX_HOME") == home:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found
