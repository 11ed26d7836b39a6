"""Running turns against the fake codex: results, argv/stdin/env contract, outputs, errors."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

from codex_local_sdk import (
    AgentMessageItem,
    CodexExecFailedError,
    CodexExecRequest,
    CodexLocalClient,
    CommandExecutionItem,
    ErrorEvent,
    FailureKind,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    MalformedLine,
    ReasoningItem,
    SandboxMode,
    TodoListItem,
    UnknownEvent,
    UnknownItem,
    Usage,
)
from tests.support.fake_codex import SECRET, fake_log, last_run

USAGE_FIELDS = {
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
}


def test_a_run_fills_every_result_field(client: CodexLocalClient, fake_env: dict[str, str]) -> None:
    result = client.run(CodexExecRequest(prompt="go [[fake:shell]] [[fake:reasoning]]"))
    assert result.ok
    assert result.operation == "exec"
    assert result.final_message == "All done."
    assert result.turn_status == "completed"
    assert result.thread_id is not None and len(result.thread_id) == 36
    assert isinstance(result.usage, Usage)
    assert set(result.usage.__struct_fields__) == USAGE_FIELDS
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.reasoning_output_tokens == 16
    assert result.turn_usage == result.usage
    assert [type(item) for item in result.items] == [
        ReasoningItem,
        AgentMessageItem,
        CommandExecutionItem,
        AgentMessageItem,
    ]
    assert result.agent_messages == ["Running a command.", "All done."]
    assert [c.aggregated_output for c in result.commands] == ["fake-shell-ok\n"]
    assert [e.type for e in result.events] == [
        "thread.started",
        "turn.started",
        "item.completed",
        "item.completed",
        "item.started",
        "item.completed",
        "item.completed",
        "turn.completed",
    ]
    assert result.structured_output is None
    assert result.return_code == 0
    assert "could not create PATH aliases" in result.stderr_tail  # codex's warning
    assert result.duration_seconds > 0
    assert result.attempts == 1
    assert result.argv[:3] == [client.binary.path, "exec", "--json"]
    assert result.argv[-1] == "-"
    assert result.failure is None and result.warnings == []
    assert last_run(fake_env)["argv"] == result.argv[1:]


async def test_run_async_gives_the_same_result(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    result = await client.run_async(CodexExecRequest(prompt="hello"))
    assert result.ok
    assert result.final_message == "echo: hello"
    assert last_run(fake_env)["prompt"] == "hello"


def test_the_prompt_goes_on_stdin_and_stdin_is_closed(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    prompt = "--version -rf `whoami` $(id)\nline two ✓ " + "x" * 100_000
    result = client.run(CodexExecRequest(prompt=prompt))
    run = last_run(fake_env)
    assert run["stdin"] == prompt  # all of it, read to EOF
    assert run["stdin_isatty"] is False
    assert all(prompt[:20] not in arg for arg in run["argv"])
    assert result.final_message == f"echo: {prompt}"


def test_stdin_is_never_inherited_from_a_terminal(
    fake_codex: str, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    # The fake exits 1 on a TTY stdin; run the SDK in a process whose stdin is a terminal.
    script = (
        "import sys\n"
        "from codex_local_sdk import CodexExecRequest, CodexLocalClient\n"
        f"client = CodexLocalClient(codex_bin={fake_codex!r})\n"
        "result = client.run(CodexExecRequest(prompt='from a tty'), timeout_seconds=30)\n"
        "print(result.final_message)\n"
        "client.close()\n"
    )
    primary, secondary = os.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(primary)
        os.close(secondary)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "echo: from a tty"
    assert last_run(fake_env)["stdin_isatty"] is False


def test_the_child_runs_in_its_own_process_group(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    client.run(CodexExecRequest(prompt="p"))
    run = last_run(fake_env)
    assert run["pgid"] == run["pid"] == run["sid"]
    assert run["pgid"] != os.getpgid(0)


def test_api_key_reaches_codex_only_through_its_environment(
    client: CodexLocalClient, fake_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CODEX_REQUIRE_API_KEY", "1")
    monkeypatch.setenv("FAKE_CODEX_ECHO_ENV", "CODEX_API_KEY")
    request = CodexExecRequest(prompt="[[fake:env_echo]]")
    result = client.run(request, api_key=SECRET)
    assert json.loads(result.final_message or "") == {
        "has_codex_api_key": True,
        "env": {"CODEX_API_KEY": "<redacted>"},
    }
    run = last_run(fake_env)
    assert run["has_codex_api_key"] is True
    assert SECRET not in json.dumps(run["argv"])
    assert "CODEX_API_KEY" not in os.environ  # never set in this process
    with pytest.raises(CodexExecFailedError) as caught:
        client.run(request)  # no key: codex fails the turn
    assert caught.value.failure_kind is FailureKind.AUTH
    assert caught.value.result.attempts == 1  # auth errors are never retried


def test_request_env_and_codex_home_reach_the_child(
    client: CodexLocalClient, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_home = tmp_path / "other_home"
    other_home.mkdir()
    monkeypatch.setenv("FAKE_CODEX_ECHO_ENV", "GREETING,CODEX_HOME")
    request = CodexExecRequest(
        prompt="[[fake:env_echo]]", env={"GREETING": "hi"}, codex_home=str(other_home)
    )
    echoed = json.loads(client.run(request).final_message or "")
    assert echoed["env"] == {"GREETING": "hi", "CODEX_HOME": str(other_home)}
    assert echoed["has_codex_api_key"] is False
    assert list((other_home / "fake_threads").glob("*.json"))  # the thread went there


def test_exec_options_reach_codex(
    client: CodexLocalClient, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    work = tmp_path / "work"
    extra = tmp_path / "extra"
    work.mkdir()
    extra.mkdir()
    request = CodexExecRequest(
        prompt="options",
        model="gpt-test",
        sandbox=SandboxMode.WORKSPACE_WRITE,
        approval_policy="never",  # type: ignore[arg-type]
        cwd=str(work),
        add_dirs=(str(extra),),
        images=("shot.png",),  # --image takes several values: must not swallow the prompt
        config_overrides={"model_reasoning_effort": "high", "tools": {"web_search": False}},
        ephemeral=True,
    )
    result = client.run(request)
    assert result.final_message == "echo: options"
    run = last_run(fake_env)
    assert run["workdir"] == str(work)
    assert run["config"] == {
        "approval_policy": "never",
        "model_reasoning_effort": "high",
        "tools": {"web_search": False},
    }
    options = run["options"]
    assert options["model"] == "gpt-test"
    assert options["sandbox"] == "workspace-write"
    assert options["add_dir"] == [str(extra)]
    assert options["image"] == ["shot.png"]
    assert options["ephemeral"] is True
    threads = pathlib.Path(fake_env["CODEX_HOME"]) / "fake_threads"
    assert not (threads / f"{result.thread_id}.json").exists()  # ephemeral: not persisted


def test_resume_turns_refused_flags_into_overrides(
    client: CodexLocalClient, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    first = client.run(CodexExecRequest(prompt="first", cwd=str(work)))
    assert first.thread_id is not None
    # The fake exits 2 if resume gets --sandbox/--cd/--add-dir; this must succeed.
    again = client.resume(
        "second",
        thread_id=first.thread_id,
        sandbox="workspace-write",
        cwd=str(work),
        add_dirs=(str(tmp_path),),
        images=("a.png",),
        approval_policy="on-request",
    )
    assert again.ok and again.thread_id == first.thread_id
    run = last_run(fake_env)
    assert run["subcommand"] == "resume"
    assert run["cwd"] == str(work)  # the working directory became the child's cwd
    assert run["config"] == {
        "sandbox_mode": "workspace-write",
        "sandbox_workspace_write.writable_roots": [str(tmp_path)],
        "approval_policy": "on-request",
    }
    assert run["prompt"] == "second"
    with pytest.raises(ValueError, match="--profile"):
        client.resume("third", thread_id=first.thread_id, profile="fast")


def test_a_dict_output_schema_goes_to_a_temp_file_removed_afterwards(
    client: CodexLocalClient,
    fake_env: dict[str, str],
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    schema = {"type": "object", "properties": {"status": {"type": "string"}}}
    request = CodexExecRequest(prompt="structured", output_schema=schema)
    result = client.run(request)
    assert result.structured_output == {"status": "ok", "count": 0}
    schema_path = last_run(fake_env)["options"]["output_schema"]
    assert pathlib.Path(schema_path).parent == private_tmp
    assert list(private_tmp.iterdir()) == []  # removed after the run
    # ... also when the run fails
    with pytest.raises(CodexExecFailedError):
        client.run(CodexExecRequest(prompt="[[fake:auth]]", output_schema=schema))
    assert list(private_tmp.iterdir()) == []


def test_a_schema_path_is_used_as_is(
    client: CodexLocalClient, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "schema.json"
    path.write_text('{"type": "object"}')
    result = client.run(
        CodexExecRequest(prompt="[[fake:schema_json=not json]]", output_schema=str(path))
    )
    assert last_run(fake_env)["options"]["output_schema"] == str(path)
    assert path.exists()
    assert result.ok
    assert result.structured_output is None
    assert any("not the JSON" in warning for warning in result.warnings)


def test_every_item_type_the_fake_emits_is_typed(client: CodexLocalClient) -> None:
    result = client.run(
        CodexExecRequest(prompt="[[fake:todo]] [[fake:file_change]] [[fake:unknown_event]]")
    )
    assert result.ok
    todo = [e for e in result.events if isinstance(getattr(e, "item", None), TodoListItem)]
    assert [type(e) for e in todo] == [ItemStarted, ItemUpdated, ItemCompleted]
    assert [entry.completed for entry in todo[-1].item.items] == [True, True, True]  # type: ignore[union-attr]
    assert [type(i) for i in result.file_changes] == [FileChangeItem]
    assert result.file_changes[0].changes[0].path.endswith("fake_codex_edit.txt")
    unknown_events = [e for e in result.events if isinstance(e, UnknownEvent)]
    assert [e.raw for e in unknown_events] == [{"type": "turn.weird", "x": 1}]
    unknown_items = [i for i in result.items if isinstance(i, UnknownItem)]
    assert [i.raw for i in unknown_items] == [{"id": "item_9", "type": "hologram", "foo": "bar"}]


def test_malformed_lines_are_surfaced_and_the_run_completes(client: CodexLocalClient) -> None:
    result = client.run(CodexExecRequest(prompt="[[fake:garbage]]"))
    assert result.ok
    malformed = [e for e in result.events if isinstance(e, MalformedLine)]
    assert {e.line for e in malformed} == {"not json {", "[1,2]"}
    assert len(result.warnings) == len(malformed)
    assert result.final_message == "echo: [[fake:garbage]]"


def test_a_megabyte_of_stderr_neither_blocks_nor_grows_the_result(
    client: CodexLocalClient,
) -> None:
    result = client.run(CodexExecRequest(prompt="[[fake:stderr_flood]]"))
    assert result.ok
    assert 0 < len(result.stderr_tail) <= 16 * 1024
    assert result.stderr_tail.rstrip().endswith("x")


def test_error_events_are_warnings_unless_the_turn_fails(client: CodexLocalClient) -> None:
    result = client.run(CodexExecRequest(prompt="[[fake:warning]]"))
    assert result.ok
    assert [type(e) for e in result.events if isinstance(e, ErrorEvent)] == [ErrorEvent]
    assert result.warnings and result.warnings[0].startswith("Reconnecting... 1/5")


def test_raise_on_error_false_returns_the_failed_result(client: CodexLocalClient) -> None:
    result = client.run(CodexExecRequest(prompt="[[fake:network]]"), raise_on_error=False)
    assert not result.ok
    assert result.failure is not None and result.failure.kind is FailureKind.NETWORK
    assert result.failure.message.startswith("stream disconnected")
    assert result.turn_status == "failed"
    assert result.return_code == 1
    # The last attempt's five reconnects and final error, after a note per earlier attempt's
    # abandoned thread (network failures are retried on a new thread).
    notes = [w for w in result.warnings if "retried on a new thread" in w]
    assert len(notes) == result.attempts - 1
    assert len(result.warnings) == len(notes) + 6
    assert result.attempts == 3  # network failures before any work are retried


def test_failed_turn_error_carries_code_kind_stderr_and_partial_result(
    client: CodexLocalClient,
) -> None:
    with pytest.raises(CodexExecFailedError) as caught:
        client.run(CodexExecRequest(prompt="[[fake:auth]]"))
    error = caught.value
    assert error.return_code == 1
    assert error.failure_kind is FailureKind.AUTH
    assert "could not create PATH aliases" in error.stderr_tail
    assert "401 Unauthorized" in str(error) and "[auth]" in str(error)
    partial = error.result
    assert partial.thread_id is not None
    assert [e.type for e in partial.events] == [
        "thread.started",
        "turn.started",
        "error",
        "turn.failed",
    ]


def test_a_failed_turn_with_exit_code_zero_is_still_a_failure(client: CodexLocalClient) -> None:
    result = client.run(CodexExecRequest(prompt="[[fake:fail_exit0]]"), raise_on_error=False)
    assert result.return_code == 0
    assert result.failure is not None and result.failure.kind is FailureKind.SERVER_ERROR
    assert result.turn_status == "failed"


def test_a_crash_before_any_event(client: CodexLocalClient) -> None:
    with pytest.raises(CodexExecFailedError) as caught:
        client.run(CodexExecRequest(prompt="[[fake:crash]]"))
    assert caught.value.failure_kind is FailureKind.CRASHED
    assert caught.value.return_code == 3
    assert "panicked" in caught.value.stderr_tail
    assert caught.value.result.attempts == 3  # it never started the turn: safe to retry


def test_usage_errors_are_not_retried(
    client: CodexLocalClient, fake_codex: str, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    # A codex whose command line gets an unknown flag: clap's usage error, exit 2.
    wrapper = tmp_path / "codex-badflag"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = exec ]; then shift; exec "{fake_codex}" exec --no-such-flag "$@"; fi\n'
        f'exec "{fake_codex}" "$@"\n'
    )
    wrapper.chmod(0o755)
    bad = CodexLocalClient(codex_bin=str(wrapper), retry_policy=client.retry_policy)
    with bad, pytest.raises(CodexExecFailedError) as caught:
        bad.run(CodexExecRequest(prompt="p"))
    assert caught.value.failure_kind is FailureKind.USAGE_ERROR
    assert caught.value.return_code == 2
    assert caught.value.result.attempts == 1
    assert "unexpected argument '--no-such-flag'" in str(caught.value)
    assert fake_log(fake_env) == []  # refused before reading a prompt


def test_a_blank_prompt_is_refused_without_running_codex(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="prompt"):
        client.run(CodexExecRequest(prompt="  "))
    assert fake_log(fake_env) == []


def test_a_missing_working_directory_is_a_usage_error(
    client: CodexLocalClient, tmp_path: pathlib.Path
) -> None:
    with pytest.raises(ValueError, match="working directory"):
        client.run(CodexExecRequest(prompt="p", cwd=str(tmp_path / "missing")))


def test_plain_text_output_mode(client: CodexLocalClient) -> None:
    result = client.run(CodexExecRequest(prompt="human"), json_output=False)
    assert result.ok
    assert result.final_message == "echo: human"
    assert result.events == []
    assert "--json" not in result.argv


def test_refusing_to_run_outside_a_git_repository_is_a_usage_error(
    client: CodexLocalClient, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    request = CodexExecRequest(prompt="p", cwd=str(outside), skip_git_repo_check=False)
    with pytest.raises(CodexExecFailedError) as caught:
        client.run(request)
    assert caught.value.failure_kind is FailureKind.USAGE_ERROR
    assert caught.value.result.attempts == 1 == len(fake_log(fake_env))
    assert "--skip-git-repo-check" in str(caught.value)
    (outside / ".git").mkdir()
    assert client.run(request).ok
