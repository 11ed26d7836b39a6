"""One attempt of an operation: the transport's outputs, folded into a result as they pass,
with the client's hook told of each step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

from ._operation import Call, Host, describe, emit
from ._redaction import scrub_secrets
from ._turn import TurnAccumulator
from .events import ThreadEvent
from .models import CodexExecResult, Failure, FailureKind
from .transport import StdoutText, TurnExit

__all__ = ["Attempt"]


class Attempt:
    """One attempt: an async iterator over events that folds them into a result."""

    def __init__(self, host: Host, call: Call, api_key: str | None, attempt: int) -> None:
        self._host = host
        self._call = call
        self._api_key = api_key
        self._attempt = attempt
        spec = call.spec
        self._accumulator = TurnAccumulator(
            spec.operation,
            json_output=spec.json_output,
            expected_thread_id=spec.thread_id if spec.operation == "resume" else None,
            previous_usage=call.previous_usage,
            wants_structured_output=spec.request.output_schema is not None,
            session_name=call.session_name,
            max_events=call.limits.max_result_events,
            max_command_output_bytes=call.limits.max_command_output_bytes,
            max_message_bytes=call.limits.max_message_bytes,
        )
        self._iterator: AsyncGenerator[ThreadEvent, None] | None = None

    @property
    def result(self) -> CodexExecResult:
        return self._accumulator.result

    def _scrub(self) -> None:
        """Whatever transport ran the turn, the keys codex had stay out of the texts."""
        result, key = self.result, [self._api_key]
        result.stderr_tail = scrub_secrets(result.stderr_tail, key)
        result.warnings = [scrub_secrets(text, key) for text in result.warnings]
        if result.failure is not None:
            message = scrub_secrets(result.failure.message, key)
            result.failure = Failure(kind=result.failure.kind, message=message)

    def __aiter__(self) -> AsyncGenerator[ThreadEvent, None]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def _run(self) -> AsyncGenerator[ThreadEvent, None]:
        host, call, accumulator = self._host, self._call, self._accumulator
        await emit(host, "attempt_started", call, attempt=self._attempt)
        try:
            # Finding codex and probing its version block, but happen once per client.
            transport = host._transport
            if transport is None:
                transport = await asyncio.to_thread(host._get_transport)
            outputs = transport.stream_turn(call.spec, limits=call.limits, api_key=self._api_key)
            try:
                async for output in outputs:
                    accumulator.feed(output)
                    if isinstance(output, (StdoutText, TurnExit)):
                        continue
                    if output.type == "thread.started":
                        await emit(
                            host,
                            "thread_started",
                            call,
                            attempt=self._attempt,
                            thread_id=accumulator.result.thread_id,
                        )
                    yield output
            finally:
                # A consumer that stops early closes us: stop codex now, not whenever the
                # garbage collector gets to the transport's generator.
                close_outputs = getattr(outputs, "aclose", None)
                if close_outputs is not None:
                    await close_outputs()
        except (asyncio.CancelledError, GeneratorExit) as exc:
            stopped = "cancelled" if isinstance(exc, asyncio.CancelledError) else "stopped early"
            accumulator.result.failure = Failure(
                kind=FailureKind.CANCELLED, message=f"{stopped}; the turn was stopped"
            )
            self._scrub()
            await emit(
                host,
                "attempt_failed",
                call,
                attempt=self._attempt,
                failure_kind=FailureKind.CANCELLED,
                message=stopped,
            )
            raise
        except Exception as exc:  # codex could not be started: not installed, bad cwd, ...
            await emit(host, "attempt_failed", call, attempt=self._attempt, message=describe(exc))
            raise
        result = accumulator.finish()
        self._scrub()
        if result.failure is None:
            await emit(
                host,
                "attempt_succeeded",
                call,
                attempt=self._attempt,
                return_code=result.return_code,
                thread_id=result.thread_id,
                usage=result.usage,
                turn_usage=result.turn_usage,
            )
        else:
            await emit(
                host,
                "attempt_failed",
                call,
                attempt=self._attempt,
                return_code=result.return_code,
                thread_id=result.thread_id,
                failure_kind=result.failure.kind,
                message=result.failure.message,
            )
