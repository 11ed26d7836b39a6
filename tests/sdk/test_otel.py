"""OpenTelemetry spans from the SDK (codex_local_sdk.otel), captured in memory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from codex_local_sdk import CodexClientEvent, CodexExecRequest, CodexLocalClient
from codex_local_sdk.otel import OpenTelemetryHook, instrument
from tests.support.fake_codex import SECRET


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.clear()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    named: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        named.setdefault(span.name, []).append(span)
    return named


def test_a_retried_run_gives_one_operation_span_and_a_span_per_attempt(
    client: CodexLocalClient, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    instrument(client, tracer_provider=provider)
    parent_tracer = provider.get_tracer("test")
    with parent_tracer.start_as_current_span("caller") as caller:
        result = client.run(
            CodexExecRequest(prompt="[[fake:fail_times=1]] secret prompt", model="gpt-test"),
            api_key=SECRET,
        )
    assert result.attempts == 2
    assert seen, "the hook that was there before keeps receiving events"
    named = _by_name(exporter.get_finished_spans())
    [operation] = named["invoke_agent codex"]
    attempts = named["codex attempt 1"] + named["codex attempt 2"]
    assert operation.parent is not None
    assert operation.parent.span_id == caller.get_span_context().span_id
    assert all(
        a.parent is not None and a.parent.span_id == operation.context.span_id for a in attempts
    )
    attributes = dict(operation.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-test"
    assert attributes["gen_ai.conversation.id"] == result.thread_id
    assert attributes["codex.attempts"] == 2
    assert result.usage is not None
    assert attributes["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == result.usage.output_tokens
    assert operation.status.status_code is not StatusCode.ERROR
    first, second = named["codex attempt 1"][0], named["codex attempt 2"][0]
    assert first.status.status_code is StatusCode.ERROR
    assert dict(first.attributes or {})["error.type"] == "server_error"
    assert second.status.status_code is not StatusCode.ERROR
    assert [e.name for e in operation.events] == ["retry_scheduled"]
    # Never a prompt or a key, anywhere in a span.
    for span in exporter.get_finished_spans():
        text = repr(span.to_json())
        assert "secret prompt" not in text and SECRET not in text


async def test_concurrent_async_operations_get_separate_spans(
    client: CodexLocalClient, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    import asyncio

    client.event_hook = OpenTelemetryHook(tracer_provider=provider)
    results = await asyncio.gather(
        *(client.run_async(CodexExecRequest(prompt=f"run {n}")) for n in range(3))
    )
    operations = _by_name(exporter.get_finished_spans())["invoke_agent codex"]
    assert sorted(str(dict(s.attributes or {})["gen_ai.conversation.id"]) for s in operations) == (
        sorted(str(r.thread_id) for r in results)
    )
    assert len({s.context.trace_id for s in operations}) == 3  # no caller span: one trace each


def test_a_failed_run_marks_the_operation_span_as_an_error(
    client: CodexLocalClient, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    instrument(client, tracer_provider=provider)
    result = client.run(CodexExecRequest(prompt="[[fake:auth]]"), raise_on_error=False)
    assert result.failure is not None
    [operation] = _by_name(exporter.get_finished_spans())["invoke_agent codex"]
    assert operation.status.status_code is StatusCode.ERROR
    assert dict(operation.attributes or {})["error.type"] == result.failure.kind.value


def test_instrumenting_twice_keeps_one_hook(client: CodexLocalClient) -> None:
    instrument(client)
    hook = client.event_hook
    instrument(client)
    assert client.event_hook is hook


def test_the_sdk_does_not_import_opentelemetry() -> None:
    code = (
        "import sys, codex_local_sdk\n"
        "print(any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
