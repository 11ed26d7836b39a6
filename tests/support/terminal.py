"""The ``codex-bridge`` command line as a person meets it: in a pseudo-terminal, with a
clean environment."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
CLI_TIMEOUT = 60.0


def clean_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    """The environment for the CLI: no CODEX_BRIDGE_* settings leak in from the host."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith("CODEX_BRIDGE_")}
    env.pop("NO_COLOR", None)
    env.update(extra)
    return env


class Terminal:
    """The CLI in a pseudo-terminal that is its controlling terminal, so that writing
    Ctrl-C to it sends SIGINT exactly as a person's keyboard does."""

    COLUMNS, ROWS = 120, 40

    def __init__(self, args: Sequence[str], *, cwd: pathlib.Path, env: Mapping[str, str]):
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", self.ROWS, self.COLUMNS, 0, 0))
        # A new session (start_new_session), then TIOCSCTTY makes the pty its terminal.
        trampoline = (
            "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
            "os.execv(sys.executable, [sys.executable, '-m', 'codex_bridge', *sys.argv[1:]])"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", trampoline, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=clean_env(env, TERM="xterm-256color", COLUMNS=str(self.COLUMNS)),
            start_new_session=True,
        )
        os.close(slave)
        self._master = master
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO once the child side is closed
                return
            if not chunk:
                return
            self._chunks.append(chunk)

    @property
    def raw(self) -> str:
        return b"".join(self._chunks).decode("utf-8", "replace")

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw).replace("\r", "")

    def send(self, data: bytes) -> None:
        os.write(self._master, data)

    def wait(self) -> int:
        try:
            code = self.process.wait(timeout=CLI_TIMEOUT)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=10)
            os.close(self._master)
        return code
