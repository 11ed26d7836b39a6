"""Real codex runs, recorded (tests/data/codex-events), and transports that play outputs back."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from codex_local_sdk import TurnLimits, TurnSpec, decode_event
from codex_local_sdk.transport import TurnExit, TurnOutput
from tests.support.paths import RECORDINGS

# Exit codes of the recorded real runs (the recordings keep stdout and stderr only).
RECORDED_EXIT_CODES = {
    "run": 0,
    "resume": 0,
    "shell": 0,
    "schema": 0,
    "http429": 1,
    "http500": 1,
    "nokey": 1,
    "resume_unknown": 1,
    "badflag": 2,
}


def recording(name: str) -> tuple[list[bytes], str, int]:
    """A real codex run: its stdout lines, its stderr and its exit code."""
    lines = (RECORDINGS / f"codex_events_{name}.jsonl").read_bytes().splitlines()
    stderr = (RECORDINGS / f"codex_events_{name}.stderr").read_text(encoding="utf-8")
    return [line for line in lines if line.strip()], stderr, RECORDED_EXIT_CODES[name]


def replay(name: str) -> list[TurnOutput]:
    """The outputs a transport yields for a recorded run."""
    lines, stderr, code = recording(name)
    outputs: list[TurnOutput] = [decode_event(line) for line in lines]
    outputs.append(TurnExit(return_code=code, stderr_tail=stderr, argv=["codex", "exec"]))
    return outputs


class ScriptedTransport:
    """A :class:`CodexTransport` that plays one scripted list of outputs per attempt."""

    def __init__(self, *attempts: Sequence[TurnOutput]) -> None:
        self._attempts = [list(outputs) for outputs in attempts]
        self.specs: list[TurnSpec] = []
        self.api_keys: list[str | None] = []

    async def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        index = len(self.specs)
        self.specs.append(spec)
        self.api_keys.append(api_key)
        script = self._attempts[min(index, len(self._attempts) - 1)]
        for output in script:
            yield output
