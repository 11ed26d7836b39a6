"""``ExecTransport``: one ``codex exec --json`` process per turn.

The argv, environment and stdin come from :mod:`._invocation`; the process runs under the one
process engine (:mod:`._process`), and each stdout line is decoded into a typed event (huge
texts bounded while decoding, see :mod:`._decoding`).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Literal

from ._decoding import decode_event
from ._invocation import build_invocation
from ._process import CodexProcess, Deadlines, ReadTimeout
from ._redaction import scrub_bytes, scrub_secrets, secret_needles, secrets_in_env
from .exceptions import CodexUsageError
from .transport import StdoutText, TurnExit, TurnLimits, TurnOutput, TurnSpec

__all__ = ["ExecTransport"]


class ExecTransport:
    """One ``codex exec`` process per turn."""

    def __init__(self, binary: str, *, base_env: Mapping[str, str] | None = None) -> None:
        self.binary = binary
        self._base_env = base_env

    def __repr__(self) -> str:
        return f"ExecTransport(binary={self.binary!r})"

    async def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        deadlines = Deadlines(limits.timeout_seconds, limits.idle_timeout_seconds)
        with (
            _schema_file(spec.request.output_schema) as schema_path,
            _private_file(spec.request.base_instructions, "codex-instructions-", ".md") as (
                instructions_path
            ),
        ):
            invocation = build_invocation(
                self.binary,
                spec.request,
                operation=spec.operation,
                thread_id=spec.thread_id,
                last=spec.last,
                json_output=spec.json_output,
                output_schema_path=schema_path,
                instructions_path=instructions_path,
                api_key=api_key,
                base_env=self._base_env,
            )
            timed_out: Literal["total", "idle"] | None = None
            # Any key codex was given is taken out of what it says, before decoding.
            needles = secret_needles(invocation.env)
            async with CodexProcess.open(
                invocation, kill_grace_seconds=limits.kill_grace_seconds
            ) as process:
                try:
                    async for line in process.lines(deadlines):
                        line = scrub_bytes(line, needles)
                        if spec.json_output:
                            yield decode_event(
                                line,
                                max_command_output_bytes=limits.max_command_output_bytes,
                                max_message_bytes=limits.max_message_bytes,
                            )
                        else:
                            yield StdoutText(text=line.decode("utf-8", "replace"))
                except ReadTimeout as exc:
                    timed_out = exc.which
                    await process.close(limits.kill_grace_seconds)
                return_code = await process.wait()
            yield TurnExit(
                return_code=None if timed_out else return_code,
                stderr_tail=scrub_secrets(process.stderr_tail, secrets_in_env(invocation.env)),
                argv=invocation.redacted_argv,
                timed_out=timed_out,
            )


@contextlib.contextmanager
def _schema_file(schema: dict[str, object] | str | None) -> Iterator[str | None]:
    """A dict schema goes to a private temp file for the run, removed afterwards."""
    if isinstance(schema, str) and not os.path.isfile(schema):
        raise CodexUsageError(f"output_schema file does not exist: {schema}")
    with _private_file(
        json.dumps(schema) if isinstance(schema, dict) else None, "codex-schema-", ".json"
    ) as path:
        yield path


@contextlib.contextmanager
def _private_file(text: str | None, prefix: str, suffix: str) -> Iterator[str | None]:
    """``text`` in a temp file only this user can read, for the run; removed afterwards."""
    if text is None:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix=prefix, suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
