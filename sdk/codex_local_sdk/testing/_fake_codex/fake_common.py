"""Constants and error exits shared by the fake's modules."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

DEFAULT_VERSION = "codex-cli 0.169.0"
EXIT_USAGE = 2
DEFAULT_MODEL = "gpt-5-codex"
OPENAI_URL = "https://api.openai.com/v1/responses"
STREAM_ERROR = (
    f"stream disconnected before completion: error sending request for url ({OPENAI_URL})"
)

# Failure modes: directive -> (error event messages, turn.failed message).
FAILURES: dict[str, tuple[list[str], str]] = {
    "429": (
        ["exceeded retry limit, last status: 429 Too Many Requests"],
        "exceeded retry limit, last status: 429 Too Many Requests",
    ),
    "500": (
        ["We’re currently experiencing high demand, which may cause temporary errors."],
        "We’re currently experiencing high demand, which may cause temporary errors.",
    ),
    "nokey": (
        ["Missing environment variable: `OPENAI_API_KEY`."],
        "Missing environment variable: `OPENAI_API_KEY`.",
    ),
    "auth": (
        ["unexpected status 401 Unauthorized: Incorrect API key provided"],
        "unexpected status 401 Unauthorized: Incorrect API key provided",
    ),
    "network": (
        [f"Reconnecting... {n}/5 ({STREAM_ERROR})" for n in range(1, 6)] + [STREAM_ERROR],
        STREAM_ERROR,
    ),
}
GARBAGE_LINES = ["not json {", "", "[1,2]"]
# `garbage=bytes`: what a broken or hostile codex could print, raw bytes.
NASTY_LINES = [
    b"\xff\xfe\x80 invalid utf-8 \xc3\x28",
    b"\x00\x00NUL\x00",
    b"[" * 100_000,
    b'{"type":"thread.started","thread_id":"\\ud800"}',
    b'{"type":"item.completed","item":{"type":"agent_message","text":"trunc',
    b'{"type":"turn.completed","usage":{"input_tokens":1e999999}}',
    b'{"a":' * 50_000,
    b'"just a string"',
    b"\xed\xa0\x80 encoded surrogate",
]


def eprint(*lines: str) -> None:
    for line in lines:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def die(message: str, code: int = 1) -> NoReturn:
    eprint(message)
    sys.exit(code)


def die_with_backtrace(message: str, frames: int = 12) -> NoReturn:
    """An anyhow error as the real binary prints it (``Error: ...`` + an empty backtrace)."""
    eprint(
        f"Error: {message}", "", "Stack backtrace:", *(f"{i:>4}: <unknown>" for i in range(frames))
    )
    sys.exit(1)


def version_string() -> str:
    return os.environ.get("FAKE_CODEX_VERSION") or DEFAULT_VERSION
