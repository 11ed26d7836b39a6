"""Run one ``codex_run`` through the in-process MCP server with OpenTelemetry capturing spans
in memory, and print them as JSON lines (name, trace and span ids, parent, attributes).

Run in a subprocess by tests/test_otel_mcp.py, so that the global tracer provider it sets
stays out of the test process. Usage: ``python -m tests.support.otel_mcp_probe STORE CODEX
WORKDIR TRACEPARENT``.
"""

from __future__ import annotations

import json
import sys
from typing import cast

import anyio
from mcp import Client
from mcp_types import RequestParamsMeta
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from codex_bridge.mcp import build_server
from codex_bridge.policy import BridgePolicy
from codex_bridge.service import BridgeService


async def probe(store: str, codex: str, workdir: str, traceparent: str) -> None:
    policy = BridgePolicy(store_path=store, codex_bin=codex, default_cwd=workdir)
    async with Client(build_server(BridgeService(policy))) as client:
        result = await client.call_tool(
            "codex_run",
            {"prompt": "traced"},
            meta=cast(RequestParamsMeta, {"traceparent": traceparent}),
        )
        assert not result.is_error, result


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    store, codex, workdir, traceparent = sys.argv[1:5]
    anyio.run(probe, store, codex, workdir, traceparent)
    for span in exporter.get_finished_spans():
        context = span.get_span_context()
        assert context is not None
        print(
            json.dumps(
                {
                    "name": span.name,
                    "trace_id": f"{context.trace_id:032x}",
                    "span_id": f"{context.span_id:016x}",
                    "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                    "attributes": dict(span.attributes or {}),
                }
            )
        )


if __name__ == "__main__":
    main()
