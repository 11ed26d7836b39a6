"""End-to-end checks of the offline harness: the REAL codex CLI against MockResponsesServer.

These tests drive ``codex exec --json`` with plain ``subprocess`` (no project SDK),
to prove the mock server and the generated CODEX_HOME reproduce the behaviour seen
in the real recordings (``/work/shared/codex-events``). They are skipped when no
codex binary is available (set ``CODEX_E2E_BIN`` to test another build, e.g. npm).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from codex_local_sdk.testing.mock_responses import HELLO_TEXT, SHELL_DONE_TEXT, MockResponsesServer
from codex_local_sdk.testing.real_codex import codex_binary, e2e_env, make_codex_home
from tests.support.waiting import wait_until

CODEX = codex_binary()
RUN_TIMEOUT = 60.0  # seconds per codex process; a healthy run takes well under 1 s
UNKNOWN_THREAD = "00000000-0000-7000-8000-000000000000"

pytestmark = [
    pytest.mark.skipif(
        CODEX is None,
        reason="real codex CLI not found (install openai-codex-cli-bin or set CODEX_E2E_BIN; "
        f"CODEX_E2E_BIN={os.environ.get('CODEX_E2E_BIN')!r})",
    ),
    pytest.mark.timeout(180),
]


@dataclass
class CodexRun:
    """Outcome of one ``codex exec`` process."""

    returncode: int
    events: list[dict[str, Any]]
    stderr: str
    elapsed: float
    raw_stdout: str = field(repr=False)

    def types(self) -> list[str]:
        return [str(event.get("type")) for event in self.events]

    def items(self, item_type: str, event_type: str = "item.completed") -> list[dict[str, Any]]:
        return [
            event["item"]
            for event in self.events
            if event.get("type") == event_type and event.get("item", {}).get("type") == item_type
        ]

    def thread_id(self) -> str:
        started = [event for event in self.events if event.get("type") == "thread.started"]
        assert len(started) == 1, self.raw_stdout
        return str(started[0]["thread_id"])


def run_codex(args: list[str], prompt: str, env: dict[str, str], cwd: pathlib.Path) -> CodexRun:
    """Run ``codex exec <args> -`` with ``prompt`` piped on stdin (never a terminal)."""
    assert CODEX is not None
    start = time.monotonic()
    done = subprocess.run(
        [CODEX, "exec", *args, "-"],
        input=prompt,  # stdin is a pipe, closed after the prompt
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    elapsed = time.monotonic() - start
    events = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return CodexRun(done.returncode, events, done.stderr, elapsed, done.stdout)


@pytest.fixture
def server() -> Iterator[MockResponsesServer]:
    with MockResponsesServer() as mock:
        yield mock


@pytest.fixture
def codex_home(tmp_path: pathlib.Path, server: MockResponsesServer) -> pathlib.Path:
    return make_codex_home(tmp_path, server.base_url)


@pytest.fixture
def env(codex_home: pathlib.Path) -> dict[str, str]:
    return e2e_env(codex_home)


EXEC = ["--json", "--skip-git-repo-check"]


def assert_only_responses_calls(server: MockResponsesServer) -> None:
    """codex must talk to nothing but ``POST /v1/responses`` on the mock."""
    assert server.paths, "codex made no request"
    assert set(server.paths) == {("POST", "/v1/responses")}, server.paths


def test_plain_run(server: MockResponsesServer, env: dict[str, str], workdir: pathlib.Path) -> None:
    run = run_codex(EXEC, "say hello [[mock:hello]]", env, workdir)

    assert run.returncode == 0, run.stderr
    assert run.types() == ["thread.started", "turn.started", "item.completed", "turn.completed"]
    assert run.items("agent_message") == [
        {"id": "item_0", "type": "agent_message", "text": HELLO_TEXT}
    ]
    usage = run.events[-1]["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    assert {"cached_input_tokens", "reasoning_output_tokens"} <= usage.keys()
    # The request reached the mock with our model and the prompt as last user message.
    assert_only_responses_calls(server)
    assert server.requests[0]["model"] == "mock-model"
    assert server.requests[0]["stream"] is True
    assert server.user_texts() == ["say hello [[mock:hello]]"]
    assert "Model metadata" not in run.raw_stdout  # the mock model catalog is in effect


def test_resume_same_thread(
    server: MockResponsesServer, env: dict[str, str], workdir: pathlib.Path
) -> None:
    first = run_codex(EXEC, "say hello [[mock:hello]]", env, workdir)
    assert first.returncode == 0, first.stderr
    thread_id = first.thread_id()

    second = run_codex(["resume", *EXEC, thread_id], "again [[mock:echo]]", env, workdir)

    assert second.returncode == 0, second.stderr
    assert second.thread_id() == thread_id
    assert second.types() == ["thread.started", "turn.started", "item.completed", "turn.completed"]
    assert [item["text"] for item in second.items("agent_message")] == ["echo: again [[mock:echo]]"]
    # The resumed request carries the earlier turn as history.
    history = json.dumps(server.requests[1]["input"])
    assert HELLO_TEXT in history and "say hello [[mock:hello]]" in history


def test_shell_tool_call(
    server: MockResponsesServer, env: dict[str, str], workdir: pathlib.Path
) -> None:
    run = run_codex(EXEC, "run something [[mock:shell]]", env, workdir)

    assert run.returncode == 0, run.stderr
    assert run.types() == [
        "thread.started",
        "turn.started",
        "item.completed",  # "Running a command." preamble
        "item.started",  # command_execution in_progress
        "item.completed",  # command_execution completed
        "item.completed",  # "All done."
        "turn.completed",
    ]
    started = run.items("command_execution", "item.started")
    assert len(started) == 1 and started[0]["status"] == "in_progress"
    (command,) = run.items("command_execution")
    assert "echo mock-shell-ok" in command["command"]
    assert "mock-shell-ok" in command["aggregated_output"]
    assert command["exit_code"] == 0 and command["status"] == "completed"
    assert [item["text"] for item in run.items("agent_message")] == [
        "Running a command.",
        SHELL_DONE_TEXT,
    ]
    # Two model calls: the tool call, then the follow-up carrying its output.
    assert len(server.requests) == 2
    assert any(item.get("type") == "function_call_output" for item in server.requests[1]["input"])


def test_output_schema(
    server: MockResponsesServer, env: dict[str, str], workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    schema = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["status", "count"],
        "additionalProperties": False,
    }
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema), encoding="utf-8")

    run = run_codex(
        [*EXEC, "--output-schema", str(schema_file)], "report [[mock:schema]]", env, workdir
    )

    assert run.returncode == 0, run.stderr
    (message,) = run.items("agent_message")
    assert json.loads(message["text"]) == {"status": "ok", "count": 0}
    text_format = server.requests[0]["text"]["format"]
    assert text_format["type"] == "json_schema" and text_format["schema"] == schema


@pytest.mark.parametrize(("directive", "expected"), [("429", "429 Too Many Requests"), ("500", "")])
def test_http_errors_fail_the_turn(
    server: MockResponsesServer,
    env: dict[str, str],
    workdir: pathlib.Path,
    directive: str,
    expected: str,
) -> None:
    run = run_codex(EXEC, f"boom [[mock:{directive}]]", env, workdir)

    assert run.returncode == 1
    assert run.types() == ["thread.started", "turn.started", "error", "turn.failed"]
    message = run.events[-1]["error"]["message"]
    assert message and expected in message
    assert run.events[-2]["message"] == message
    assert 1 <= len(server.requests) <= 2  # request_max_retries = 1


def test_missing_api_key(
    server: MockResponsesServer, codex_home: pathlib.Path, workdir: pathlib.Path
) -> None:
    run = run_codex(EXEC, "hi [[mock:hello]]", e2e_env(codex_home, api_key=None), workdir)

    assert run.returncode == 1
    assert run.types() == ["thread.started", "turn.started", "error", "turn.failed"]
    assert "Missing environment variable: `MOCK_API_KEY`" in run.events[-1]["error"]["message"]
    assert server.requests == []


def test_resume_unknown_thread(
    server: MockResponsesServer, env: dict[str, str], workdir: pathlib.Path
) -> None:
    run = run_codex(["resume", *EXEC, UNKNOWN_THREAD], "again", env, workdir)

    assert run.returncode == 1
    assert run.events == []
    assert f"no rollout found for thread id {UNKNOWN_THREAD}" in run.stderr
    assert server.requests == []


def test_fail_once_is_retried(
    server: MockResponsesServer, env: dict[str, str], workdir: pathlib.Path
) -> None:
    run = run_codex(EXEC, "flaky [[mock:fail-once]]", env, workdir)

    assert run.returncode == 0, run.stderr
    assert [item["text"] for item in run.items("agent_message")] == [
        "echo: flaky [[mock:fail-once]]"
    ]
    assert "error" not in run.types()
    assert len(server.requests) == 2


def test_slow_request_can_be_cancelled(codex_home: pathlib.Path, workdir: pathlib.Path) -> None:
    """A run stuck on ``[[mock:slow]]`` is killable, and the server still shuts down fast."""
    assert CODEX is not None
    with MockResponsesServer() as slow_server:
        home = make_codex_home(codex_home.parent / "slow", slow_server.base_url)
        proc = subprocess.Popen(
            [CODEX, "exec", *EXEC, "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=e2e_env(home),
            cwd=workdir,
            text=True,
        )
        try:
            assert proc.stdin is not None
            proc.stdin.write("take your time [[mock:slow]]")
            proc.stdin.close()
            wait_until(
                lambda: slow_server.requests, timeout=RUN_TIMEOUT, message="codex to reach the mock"
            )
            assert proc.poll() is None  # still waiting for the slow reply
            proc.terminate()  # SIGTERM: also forwarded by the npm Node wrapper
            assert proc.wait(timeout=RUN_TIMEOUT) != 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        closing = time.monotonic()
    assert time.monotonic() - closing < 2.0  # the in-flight slow handler did not block shutdown


def test_unreachable_server_fails_fast(tmp_path: pathlib.Path, workdir: pathlib.Path) -> None:
    """With the server gone codex must fail the turn, not retry forever."""
    with MockResponsesServer() as gone:
        base_url = gone.base_url
    home = make_codex_home(tmp_path / "gone", base_url)

    run = run_codex(EXEC, "anyone there?", e2e_env(home), workdir)

    assert run.returncode == 1
    assert run.types()[-1] == "turn.failed"
    assert "Connection failed" in run.events[-1]["error"]["message"]
