"""OpenTelemetry spans for codex operations (the ``otel`` extra: ``opentelemetry-api``).

``import codex_local_sdk`` never loads OpenTelemetry; this module does, when you import it::

    from codex_local_sdk.otel import instrument

    client = instrument(CodexLocalClient())

Every operation (run, resume, fork, stream) becomes a span ``invoke_agent codex`` with one
child span per attempt (``codex attempt N``), parented to the span that is current where the
operation was called (sync calls included). Attributes follow the OpenTelemetry GenAI semantic
conventions: ``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.agent.name``,
``gen_ai.request.model``, ``gen_ai.conversation.id`` (the thread id), ``gen_ai.usage.*``
tokens, ``error.type`` (the failure kind), plus ``codex.operation``, ``codex.attempt``,
``codex.session_name``, ``codex.return_code``. Prompts, messages and keys are never recorded.
"""

from __future__ import annotations

from collections.abc import Awaitable

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from ._version import __version__
from .client import CodexLocalClient, EventHook
from .events import Usage
from .models import CodexClientEvent

__all__ = ["OpenTelemetryHook", "instrument"]

_AGENT_SPAN = "invoke_agent codex"


class OpenTelemetryHook:
    """An ``event_hook`` that turns client lifecycle events into spans.

    ``next_hook`` (sync or async) still receives every event, so an existing hook keeps
    working. One hook may serve several clients and concurrent operations.
    """

    def __init__(
        self, next_hook: EventHook | None = None, *, tracer_provider: TracerProvider | None = None
    ) -> None:
        self.next_hook = next_hook
        self._tracer = trace.get_tracer(
            "codex_local_sdk", __version__, tracer_provider=tracer_provider
        )
        self._operations: dict[str, Span] = {}
        self._attempts: dict[str, Span] = {}

    def __call__(self, event: CodexClientEvent) -> Awaitable[None] | None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event)
        return self.next_hook(event) if self.next_hook is not None else None

    def _on_operation_started(self, event: CodexClientEvent) -> None:
        attributes: dict[str, str] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.provider.name": "openai",
            "gen_ai.agent.name": "codex",
            "codex.operation": event.operation,
        }
        if event.model:
            attributes["gen_ai.request.model"] = event.model
        if event.session_name:
            attributes["codex.session_name"] = event.session_name
        # Started in the caller's context: the current span there becomes the parent.
        self._operations[event.operation_id] = self._tracer.start_span(
            _AGENT_SPAN, kind=SpanKind.CLIENT, attributes=attributes
        )

    def _on_attempt_started(self, event: CodexClientEvent) -> None:
        parent = self._operations.get(event.operation_id)
        context = trace.set_span_in_context(parent) if parent is not None else None
        self._attempts[event.operation_id] = self._tracer.start_span(
            f"codex attempt {event.attempt}",
            context=context,
            kind=SpanKind.INTERNAL,
            attributes={"codex.attempt": event.attempt, "codex.operation": event.operation},
        )

    def _on_thread_started(self, event: CodexClientEvent) -> None:
        for span in self._spans(event):
            if event.thread_id:
                span.set_attribute("gen_ai.conversation.id", event.thread_id)

    def _on_attempt_succeeded(self, event: CodexClientEvent) -> None:
        span = self._attempts.pop(event.operation_id, None)
        if span is not None:
            _set_outcome(span, event)
            span.end()

    _on_attempt_failed = _on_attempt_succeeded

    def _on_retry_scheduled(self, event: CodexClientEvent) -> None:
        span = self._operations.get(event.operation_id)
        if span is not None:
            span.add_event(
                "retry_scheduled",
                {
                    "codex.attempt": event.attempt,
                    "codex.retry.delay_seconds": event.delay_seconds or 0.0,
                    "error.type": event.failure_kind.value if event.failure_kind else "unknown",
                },
            )

    def _on_operation_finished(self, event: CodexClientEvent) -> None:
        # An attempt left open (the operation was cancelled inside it) ends with it.
        attempt = self._attempts.pop(event.operation_id, None)
        if attempt is not None:
            _set_outcome(attempt, event)
            attempt.end()
        span = self._operations.pop(event.operation_id, None)
        if span is not None:
            span.set_attribute("codex.attempts", event.attempt)
            _set_outcome(span, event)
            usage = event.turn_usage or (event.usage if event.operation == "exec" else None)
            if usage is not None:
                _set_usage(span, usage)
            span.end()

    def _spans(self, event: CodexClientEvent) -> list[Span]:
        found = (self._operations.get(event.operation_id), self._attempts.get(event.operation_id))
        return [span for span in found if span is not None]


def _set_outcome(span: Span, event: CodexClientEvent) -> None:
    if event.thread_id:
        span.set_attribute("gen_ai.conversation.id", event.thread_id)
    if event.return_code is not None:
        span.set_attribute("codex.return_code", event.return_code)
    if event.failure_kind is not None or (event.type == "attempt_failed"):
        kind = event.failure_kind.value if event.failure_kind is not None else "error"
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, kind))


def _set_usage(span: Span, usage: Usage) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cached_input_tokens)


def instrument(
    client: CodexLocalClient, *, tracer_provider: TracerProvider | None = None
) -> CodexLocalClient:
    """Make ``client`` report spans (keeping its current ``event_hook``); returns it."""
    if not isinstance(client.event_hook, OpenTelemetryHook):
        client.event_hook = OpenTelemetryHook(client.event_hook, tracer_provider=tracer_provider)
    return client
