"""A command output larger than a huge line, through the REAL codex app-server (both builds):
the turn keeps its tail and notes the size dropped, as with exec."""

from __future__ import annotations

from codex_local_sdk import AppServerTransport, CodexExecRequest, CodexLocalClient, RetryPolicy
from codex_local_sdk._app_server.protocol import HUGE_LINE_BYTES
from tests.support.real_codex import RealCodex

OUTPUT_LINES = 40_000  # "line N\n": about 430 KB, several times a huge line


async def test_a_large_command_output_keeps_its_tail(
    transport: AppServerTransport, real_codex: RealCodex
) -> None:
    client = CodexLocalClient(
        transport=transport,
        retry_policy=RetryPolicy(max_attempts=1),
        timeout_seconds=120,
        max_command_output_bytes=1000,
    )
    command = f"seq -f 'line %g' 1 {OUTPUT_LINES}"
    request = CodexExecRequest(
        prompt=f"[[mock:run]] [[cmd]]{command}[[/cmd]]", cwd=str(real_codex.workdir)
    )
    result = await client.run_async(request)

    assert result.ok, result.failure
    [item] = result.commands
    whole = "".join(f"line {n}\n" for n in range(1, OUTPUT_LINES + 1))
    assert len(whole) > 2 * HUGE_LINE_BYTES
    assert item.aggregated_output == whole[-1000:]
    # codex may reshape its aggregated output a little itself (a marker in its middle)
    assert abs(item.output_bytes - len(whole)) <= len(whole) * 0.01
    assert item.output_truncated_bytes == item.output_bytes - 1000
