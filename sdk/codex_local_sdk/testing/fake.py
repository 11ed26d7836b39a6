"""``FakeCodex``: a scriptable fake ``codex`` executable for fast, deterministic unit tests.

The fake (the ``_fake_codex`` folder beside this file, standard library only) honours the
observable contract of the real Codex CLI 0.169 — argument parsing and usage errors, stdin, the
``codex exec --json`` event shapes, threads that resume and fork, exit codes and stderr — with
no model behind it. What it does is scripted by modes, given as ``[[fake:MODE]]`` directives in
a prompt or for every run (``FakeCodex(modes=[...])``): failures (``429``, ``500``, ``nokey``,
``auth``, ``network``), stalls (``stall``), huge lines (``huge=BYTES``), children that must die
with it (``child``), shell commands, file changes, garbage output and more; the full list is
in ``FAKE_CODEX.md`` beside this file.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client import CodexLocalClient

__all__ = ["FAKE_CODEX_SCRIPT", "FakeCodex", "fake_codex_executable"]

FAKE_CODEX_SCRIPT = Path(__file__).resolve().with_name("_fake_codex")
"""The fake itself: a folder to run with any Python ≥ 3.10 (``python FAKE_CODEX_SCRIPT``)."""


def fake_codex_executable(directory: str | os.PathLike[str] | None = None) -> str:
    """The path of an executable ``codex`` that runs the fake with this Python.

    Written into ``directory`` (default: a per-interpreter folder in the temp directory), and
    rewritten atomically, so concurrent test processes may call this at once."""
    if directory is None:
        key = hashlib.sha256(f"{sys.executable}\0{FAKE_CODEX_SCRIPT}".encode()).hexdigest()[:12]
        directory = Path(tempfile.gettempdir()) / f"codex-local-sdk-fake-{os.getuid()}-{key}"
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "codex"
    launcher = (
        f"#!{sys.executable}\n"
        "import runpy\n"
        f"runpy.run_path({str(FAKE_CODEX_SCRIPT)!r}, run_name='__main__')\n"
    )
    if not target.exists() or target.read_text(encoding="utf-8") != launcher:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=".codex-")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(launcher)
        os.chmod(temp, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        os.replace(temp, target)
    return str(target)


class FakeCodex:
    """A fake codex with its own ``CODEX_HOME``, state and run log under ``directory``.

    ``path`` is the executable to hand to your code (``codex_bin=``); ``env`` the variables it
    reads (merge them into the environment codex runs with); ``runs()`` the invocations it
    logged (argv, prompt, cwd, parsed ``-c`` config, subcommand, thread id, ...).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        modes: Sequence[str] = (),
        version: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.home = self.directory / "codex_home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / "fake_codex_log.jsonl"
        self.modes = list(modes)
        self.version = version
        self.path = fake_codex_executable(self.directory / "bin")

    def __repr__(self) -> str:
        return f"FakeCodex(path={self.path!r}, modes={self.modes!r})"

    @property
    def env(self) -> dict[str, str]:
        """What the fake reads from its environment: its home, state, log, modes, version."""
        values = {
            "CODEX_HOME": str(self.home),
            "FAKE_CODEX_STATE_DIR": str(self.home),
            "FAKE_CODEX_LOG": str(self.log_path),
        }
        if self.modes:
            values["FAKE_CODEX_MODE"] = ",".join(self.modes)
        if self.version is not None:
            values["FAKE_CODEX_VERSION"] = self.version
        return values

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) with the fake's variables."""
        return {**(os.environ if base is None else base), **self.env}

    def runs(self) -> list[dict[str, Any]]:
        """Every ``exec`` invocation so far, oldest first."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def client(self, **options: Any) -> CodexLocalClient:
        """A :class:`~codex_local_sdk.CodexLocalClient` that runs this fake."""
        from ..client import CodexLocalClient

        options.setdefault("env", self.environment())
        return CodexLocalClient(codex_bin=self.path, **options)
