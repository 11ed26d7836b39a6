"""Peak memory of one run or stream through the fake codex (run as ``python -m``, in a fresh
process). Prints a JSON report.

The peak is Linux's VmHWM, reset just before the run (``/proc/self/clear_refs``): ``ru_maxrss``
would also count the parent's memory before exec (a pytest process, say).

``memory_probe MODE BYTES``: MODE is ``run`` / ``stream`` (a flood of command events),
``huge_output`` (one command output line of BYTES) or ``huge_message`` (one agent message);
``app_huge_output`` / ``app_huge_message``: the same on the app-server transport (a fake
app-server that sends the message whole in item/started, item/completed and turn/completed).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from codex_local_sdk import AgentMessageItem, AppServerTransport, CodexExecRequest, CodexLocalClient
from codex_local_sdk.testing import fake_codex_executable
from tests.support import fake_app_server

FAKE_CODEX = fake_codex_executable()
PROMPTS = {
    "run": "[[fake:flood={size}]] go",
    "stream": "[[fake:flood={size}]] go",
    "huge_output": "[[fake:huge_output={size}]] go",
    "huge_message": "[[fake:huge={size}]] go",
    "app_huge_output": "output={size}",
    "app_huge_message": "message={size}",
}


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def reset_peak() -> int:
    """Reset the peak RSS to the current RSS; return it (KiB)."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kib("VmRSS")


def peak_kib() -> int:
    return _status_kib("VmHWM")


def main(mode: str, size: int) -> None:
    home = tempfile.mkdtemp(prefix="codex-memory-")
    os.environ.update(CODEX_HOME=home, FAKE_CODEX_STATE_DIR=home)
    os.environ.pop("FAKE_CODEX_MODE", None)
    if mode.startswith("app_"):
        transport = AppServerTransport(fake_app_server.executable(Path(home)))
        client = CodexLocalClient(transport=transport, timeout_seconds=600)
        warm_up = "warm up"
    else:
        client = CodexLocalClient(
            codex_bin=str(FAKE_CODEX), check_version=False, timeout_seconds=600
        )
        warm_up = "[[fake:shell]] warm up"
    try:
        warm = client.run(CodexExecRequest(prompt=warm_up))  # loop, imports, the server
        assert warm.ok
        del warm
        gc.collect()
        before = reset_peak()
        started = time.monotonic()
        request = CodexExecRequest(prompt=PROMPTS[mode].format(size=size))
        events = 0
        if mode == "stream":
            with client.iter_events(request) as stream:
                for _ in stream:
                    events += 1
            result = stream.result
        else:
            result = client.run(request)
            events = len(result.events) + result.events_dropped
        elapsed = time.monotonic() - started
        after = peak_kib()
        assert result.ok, result.failure
        report = {
            "mode": mode,
            "bytes": size,
            "rise_mb": (after - before) / 1024,
            "seconds": elapsed,
            "events": events,
            "kept_events": len(result.events),
            "final_message_length": len(result.final_message or ""),
            "truncated": sum(c.output_truncated_bytes for c in result.commands),
            "message_truncated": sum(
                item.text_truncated_bytes
                for item in result.items
                if isinstance(item, AgentMessageItem)
            ),
        }
        print(json.dumps(report))
    finally:
        client.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
