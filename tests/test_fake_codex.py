"""Tests of the fake ``codex`` executable itself (codex_local_sdk.testing), run via subprocess.

The fake stands in for codex-cli 0.169.0 in the SDK's unit tests, so these tests pin the
parts of the real contract it reproduces (event shapes, exit codes, stderr texts, threads).
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from codex_local_sdk.testing import fake_codex_executable
from tests.support.fake_codex import child_pid
from tests.support.processes import is_gone
from tests.support.waiting import wait_until

FAKE = pathlib.Path(fake_codex_executable())
RUN = ["exec", "--skip-git-repo-check", "--json"]
USAGE_KEYS = {
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
}
BADFLAG_STDERR = """\
error: unexpected argument '--no-such-flag' found

  tip: to pass '--no-such-flag' as a value, use '-- --no-such-flag'

Usage: codex exec [OPTIONS] [PROMPT]
       codex exec [OPTIONS] <COMMAND> [ARGS]

For more information, try '--help'.
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX-only fake")


@pytest.fixture
def env(tmp_path: pathlib.Path) -> dict[str, str]:
    home = tmp_path / "codex_home"
    home.mkdir()
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FAKE_CODEX_") and k not in ("CODEX_API_KEY", "CODEX_HOME")
    }
    clean.update(CODEX_HOME=str(home), FAKE_CODEX_LOG=str(tmp_path / "log.jsonl"))
    return clean


def fake(
    args: list[str],
    env: dict[str, str],
    cwd: pathlib.Path,
    stdin: str | None = "",
    **extra_env: str,
) -> subprocess.CompletedProcess[str]:
    """Run the fake to completion. ``stdin=None`` gives it /dev/null."""
    return subprocess.run(
        [str(FAKE), *args],
        input=stdin,
        stdin=subprocess.DEVNULL if stdin is None else None,
        capture_output=True,
        text=True,
        env={**env, **extra_env},
        cwd=cwd,
        timeout=60,
        check=False,
    )


def events(proc: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in proc.stdout.splitlines()]


def stderr_text(proc: subprocess.CompletedProcess[str]) -> str:
    """stderr without the temp-dir WARNING line that real codex also prints."""
    return "".join(
        line
        for line in proc.stderr.splitlines(keepends=True)
        if not line.startswith("WARNING: proceeding")
    )


def log_lines(env: dict[str, str]) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in pathlib.Path(env["FAKE_CODEX_LOG"]).read_text().splitlines()
    ]


def thread_id(proc: subprocess.CompletedProcess[str]) -> str:
    first = events(proc)[0]
    assert first["type"] == "thread.started"
    return str(first["thread_id"])


def start(
    args: list[str], env: dict[str, str], cwd: pathlib.Path, **extra_env: str
) -> subprocess.Popen[str]:
    """Start the fake in its own session/process group (so a test can kill the group)."""
    return subprocess.Popen(
        [str(FAKE), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**env, **extra_env},
        cwd=cwd,
        start_new_session=True,
    )


def read_until_turn_started(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    tid = json.loads(proc.stdout.readline())["thread_id"]
    assert json.loads(proc.stdout.readline()) == {"type": "turn.started"}
    return str(tid)


def kill_group(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# basics


def test_version_login_status(env: dict[str, str], workdir: pathlib.Path) -> None:
    assert fake(["--version"], env, workdir).stdout == "codex-cli 0.169.0\n"
    assert (
        fake(["--version"], env, workdir, FAKE_CODEX_VERSION="codex-cli 9.9.9").stdout
        == "codex-cli 9.9.9\n"
    )
    ok = fake(["login", "status"], env, workdir)
    assert (ok.returncode, ok.stdout) == (0, "")
    assert "Logged in using an API key" in ok.stderr  # real codex writes it to stderr
    out = fake(["login", "status"], env, workdir, FAKE_CODEX_LOGGED_OUT="1")
    assert out.returncode == 1 and stderr_text(out) == "Not logged in\n"


def test_plain_run_has_the_recorded_event_shapes(
    env: dict[str, str], workdir: pathlib.Path
) -> None:
    proc = fake([*RUN, "hello there"], env, workdir, stdin=None)
    assert proc.returncode == 0
    evs = events(proc)
    assert [e["type"] for e in evs] == [
        "thread.started",
        "turn.started",
        "item.completed",
        "turn.completed",
    ]
    assert uuid.UUID(evs[0]["thread_id"]).version == 7
    assert evs[2] == {
        "type": "item.completed",
        "item": {"id": "item_0", "type": "agent_message", "text": "echo: hello there"},
    }
    usage = evs[3]["usage"]
    assert set(usage) == USAGE_KEYS and usage["input_tokens"] > 0 and usage["output_tokens"] > 0
    # compact JSON, one event per line, exactly like the real CLI
    assert proc.stdout.splitlines()[1] == '{"type":"turn.started"}'
    assert stderr_text(proc) == "Reading additional input from stdin...\n"


def test_log_records_the_invocation_without_secrets(
    env: dict[str, str], workdir: pathlib.Path
) -> None:
    args = [
        *RUN,
        "-c",
        'model_reasoning_effort="high"',
        "-c",
        "sandbox_workspace_write.network_access=true",
        "-c",
        "note=not toml at all",
        "-m",
        "gpt-x",
        "do it",
    ]
    proc = fake(args, env, workdir, stdin="piped", CODEX_API_KEY="sk-very-secret")
    assert proc.returncode == 0
    (entry,) = log_lines(env)
    assert entry["argv"] == args
    assert entry["stdin"] == "piped"
    assert entry["prompt"] == "do it\n\n<stdin>\npiped\n</stdin>"
    assert entry["cwd"] == str(workdir) and entry["stdin_isatty"] is False
    assert entry["pgid"] == os.getpgid(0)  # not in a session of its own: it inherited ours
    assert entry["has_codex_api_key"] is True
    assert entry["config"] == {
        "model_reasoning_effort": "high",
        "sandbox_workspace_write.network_access": True,
        "note": "not toml at all",
    }
    assert entry["options"]["model"] == "gpt-x"
    assert "sk-very-secret" not in pathlib.Path(env["FAKE_CODEX_LOG"]).read_text()


# ---------------------------------------------------------------------------------------------
# stdin


def test_prompt_from_stdin(env: dict[str, str], workdir: pathlib.Path) -> None:
    dash = fake([*RUN, "-"], env, workdir, stdin="from stdin")
    assert events(dash)[2]["item"]["text"] == "echo: from stdin"
    assert stderr_text(dash) == ""  # `-` reads silently
    absent = fake(RUN, env, workdir, stdin="also stdin")
    assert events(absent)[2]["item"]["text"] == "echo: also stdin"
    assert stderr_text(absent) == "Reading prompt from stdin...\n"
    empty = fake(RUN, env, workdir, stdin="  \n")
    assert (empty.returncode, empty.stdout) == (1, "")
    assert stderr_text(empty) == "Reading prompt from stdin...\nNo prompt provided via stdin.\n"


def test_tty_stdin_is_refused(env: dict[str, str], workdir: pathlib.Path) -> None:
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [str(FAKE), *RUN, "hi"],
            stdin=slave,
            capture_output=True,
            text=True,
            env=env,
            cwd=workdir,
            timeout=30,
            check=False,
        )
    finally:
        os.close(master)
        os.close(slave)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "stdin is a terminal" in proc.stderr
    assert log_lines(env)[0]["stdin_isatty"] is True


def test_variadic_image_swallows_the_prompt_like_clap(
    env: dict[str, str], workdir: pathlib.Path
) -> None:
    swallowed = fake([*RUN, "-i", "a.png", "the prompt"], env, workdir, stdin=None)
    assert swallowed.returncode == 1
    assert stderr_text(swallowed).endswith("No prompt provided via stdin.\n")
    separated = fake([*RUN, "-i", "a.png,b.png", "--", "the prompt"], env, workdir, stdin=None)
    assert events(separated)[2]["item"]["text"] == "echo: the prompt"
    assert log_lines(env)[-1]["options"]["image"] == ["a.png", "b.png"]


# ---------------------------------------------------------------------------------------------
# usage errors and preconditions


def test_unknown_flag_matches_the_recording(env: dict[str, str], workdir: pathlib.Path) -> None:
    proc = fake(["exec", "--no-such-flag"], env, workdir)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert stderr_text(proc) == BADFLAG_STDERR


@pytest.mark.parametrize(
    "args",
    [
        ["exec", "resume", "--sandbox", "read-only", str(uuid.uuid4()), "hi"],
        ["exec", "resume", "-C", "/tmp", str(uuid.uuid4()), "hi"],
        ["exec", "resume", "--add-dir", "/tmp", "--last"],
        ["exec", "fork", "--cd", "/tmp", str(uuid.uuid4())],
        ["exec", "-a", "never", "hi"],
        ["exec", "--full-auto", "hi"],
    ],
)
def test_refused_flags_are_usage_errors(
    env: dict[str, str], workdir: pathlib.Path, args: list[str]
) -> None:
    proc = fake(args, env, workdir)
    assert (proc.returncode, proc.stdout) == (2, "")
    flag = next(a for a in args[1:] if a.startswith("-"))
    assert stderr_text(proc).startswith(f"error: unexpected argument '{flag}' found\n")
    assert "\nUsage: codex exec " in proc.stderr
    assert not pathlib.Path(env["FAKE_CODEX_LOG"]).exists()  # rejected before reading any prompt


def test_other_clap_errors(env: dict[str, str], workdir: pathlib.Path) -> None:
    bad_value = fake(["exec", "-s", "bogus", "hi"], env, workdir)
    assert bad_value.returncode == 2
    assert stderr_text(bad_value).startswith(
        "error: invalid value 'bogus' for '--sandbox <SANDBOX_MODE>'\n"
        "  [possible values: read-only, workspace-write, danger-full-access]\n"
    )
    missing = fake(["exec", "-m"], env, workdir)
    assert stderr_text(missing).startswith(
        "error: a value is required for '--model <MODEL>' but none was supplied\n"
    )
    twice = fake(["exec", "--json", "--json", "hi"], env, workdir)
    assert stderr_text(twice).startswith(
        "error: the argument '--json' cannot be used multiple times\n"
    )
    no_id = fake(["exec", "fork"], env, workdir)
    assert no_id.returncode == 2 and "<SESSION_ID>" in no_id.stderr
    bad_override = fake([*RUN, "-c", "novalue", "hi"], env, workdir)
    assert (bad_override.returncode, stderr_text(bad_override)) == (
        1,
        "Error parsing -c overrides: Invalid override (missing '='): novalue\n",
    )


def test_git_repo_check(env: dict[str, str], workdir: pathlib.Path) -> None:
    outside = fake(["exec", "--json", "hi"], env, workdir, stdin=None)
    assert (outside.returncode, outside.stdout) == (1, "")
    assert stderr_text(outside).endswith(
        "Not inside a trusted directory and --skip-git-repo-check was not specified.\n"
    )
    (workdir / ".git").mkdir()
    assert fake(["exec", "--json", "hi"], env, workdir, stdin=None).returncode == 0


def test_missing_codex_home(
    env: dict[str, str], workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    proc = fake([*RUN, "hi"], env, workdir, CODEX_HOME=str(tmp_path / "nope"))
    assert proc.returncode == 1
    assert "Error finding codex home: CODEX_HOME points to" in proc.stderr


# ---------------------------------------------------------------------------------------------
# threads


def test_resume_keeps_the_thread_and_reports_cumulative_usage(
    env: dict[str, str], workdir: pathlib.Path
) -> None:
    first = fake([*RUN, "one"], env, workdir)
    tid = thread_id(first)
    second = fake([*RUN[:2], "resume", "--json", tid, "two"], env, workdir, stdin="ignored")
    assert thread_id(second) == tid
    assert events(second)[2]["item"] == {
        "id": "item_0",
        "type": "agent_message",
        "text": "echo: two",
    }
    u1, u2 = events(first)[-1]["usage"], events(second)[-1]["usage"]
    assert u2["input_tokens"] > 2 * u1["input_tokens"] - 1  # the thread total, not just this turn
    assert u2["output_tokens"] > u1["output_tokens"]
    assert "Reading" not in second.stderr  # resume with a prompt never reads stdin
    assert log_lines(env)[-1]["stdin"] is None


def test_resume_unknown_uuid_and_unknown_name(env: dict[str, str], workdir: pathlib.Path) -> None:
    unknown = "00000000-0000-7000-8000-000000000000"
    proc = fake([*RUN, "resume", unknown, "hi"], env, workdir)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert stderr_text(proc).startswith(
        f"Error: thread/resume: thread/resume failed: no rollout found for thread id {unknown} "
        "(code -32600)\n\nStack backtrace:\n"
    )
    named = fake([*RUN, "resume", "no-such-name", "hi"], env, workdir)
    assert named.returncode == 0 and thread_id(named) != unknown  # silently a new thread


def test_resume_by_thread_name(env: dict[str, str], workdir: pathlib.Path) -> None:
    tid = thread_id(fake([*RUN, "one [[fake:name=alpha]]"], env, workdir))
    assert thread_id(fake([*RUN, "resume", "alpha", "two"], env, workdir)) == tid


def test_fork_copies_history_into_a_new_thread(env: dict[str, str], workdir: pathlib.Path) -> None:
    source = fake([*RUN, "one"], env, workdir)
    tid = thread_id(source)
    forked = fake([*RUN, "fork", tid, "two"], env, workdir)
    assert forked.returncode == 0 and thread_id(forked) != tid
    assert events(forked)[-1]["usage"]["input_tokens"] > events(source)[-1]["usage"]["input_tokens"]
    bare = fake([*RUN, "fork", tid], env, workdir, stdin=None)  # no prompt: no turn at all
    assert [e["type"] for e in events(bare)] == ["thread.started"] and bare.returncode == 0
    missing = fake([*RUN, "fork", "nameless", "x"], env, workdir)
    assert missing.returncode == 1 and "Error: Session not found: nameless" in missing.stderr


def test_resume_last_is_per_directory_unless_all(
    env: dict[str, str], workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    tid = thread_id(fake([*RUN, "one"], env, workdir))
    assert thread_id(fake([*RUN, "resume", "--last", "two"], env, workdir)) == tid
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert thread_id(fake([*RUN, "resume", "--last", "x"], env, elsewhere)) != tid
    newest = thread_id(fake([*RUN, "fresh"], env, workdir))
    assert thread_id(fake([*RUN, "resume", "--last", "--all", "y"], env, elsewhere)) == newest


def test_ephemeral_threads_are_not_persisted(env: dict[str, str], workdir: pathlib.Path) -> None:
    tid = thread_id(fake([*RUN, "--ephemeral", "one"], env, workdir))
    assert fake([*RUN, "resume", tid, "two"], env, workdir).returncode == 1
    tid2 = thread_id(fake([*RUN, "kept"], env, workdir))
    assert (pathlib.Path(env["CODEX_HOME"]) / "fake_threads" / f"{tid2}.json").is_file()


@pytest.mark.timeout(30)
def test_a_second_writer_is_refused(env: dict[str, str], workdir: pathlib.Path) -> None:
    running = start([*RUN, "wait [[fake:stall]]"], env, workdir)
    try:
        tid = read_until_turn_started(running)
        second = fake([*RUN, "resume", tid, "me too"], env, workdir)
        assert (second.returncode, second.stdout) == (1, "")
        assert f"thread {tid} already has an active writer" in second.stderr
    finally:
        kill_group(running)
    assert (
        fake([*RUN, "resume", tid, "now"], env, workdir).returncode == 0
    )  # lock died with the process


# ---------------------------------------------------------------------------------------------
# behaviour modes


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("429", "exceeded retry limit, last status: 429 Too Many Requests"),
        ("500", "We’re currently experiencing high demand, which may cause temporary errors."),
        ("nokey", "Missing environment variable: `OPENAI_API_KEY`."),
        ("auth", "unexpected status 401 Unauthorized: Incorrect API key provided"),
        (
            "network",
            "stream disconnected before completion: error sending request for url "
            "(https://api.openai.com/v1/responses)",
        ),
    ],
)
def test_failed_turns(env: dict[str, str], workdir: pathlib.Path, mode: str, message: str) -> None:
    proc = fake([*RUN, f"x [[fake:{mode}]]"], env, workdir)
    assert proc.returncode == 1
    evs = events(proc)
    assert [e["type"] for e in evs[:2]] == ["thread.started", "turn.started"]
    assert {e["type"] for e in evs[2:-1]} == {"error"}
    assert evs[-2] == {"type": "error", "message": message}
    assert evs[-1] == {"type": "turn.failed", "error": {"message": message}}


def test_fail_exit0_and_warning(env: dict[str, str], workdir: pathlib.Path) -> None:
    failed = fake([*RUN, "x"], env, workdir, FAKE_CODEX_MODE="fail_exit0")
    assert failed.returncode == 0 and events(failed)[-1]["type"] == "turn.failed"
    warned = fake([*RUN, "x [[fake:warning]]"], env, workdir)
    types = [e["type"] for e in events(warned)]
    assert warned.returncode == 0 and types[2] == "error" and types[-1] == "turn.completed"
    assert events(warned)[2]["message"].startswith("Reconnecting... 1/5")


def test_fail_times_counts_across_processes(
    env: dict[str, str], workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "state"
    codes = [
        fake(
            [*RUN, "x [[fake:fail_times=2]]"], env, workdir, FAKE_CODEX_STATE_DIR=str(state)
        ).returncode
        for _ in range(3)
    ]
    assert codes == [1, 1, 0]
    assert (state / "fail_count").read_text() == "2"


def test_crash_exits_3_before_any_event(env: dict[str, str], workdir: pathlib.Path) -> None:
    proc = fake([*RUN, "x [[fake:crash]]"], env, workdir)
    assert (proc.returncode, proc.stdout) == (3, "")
    assert "panicked" in proc.stderr


def test_item_modes(env: dict[str, str], workdir: pathlib.Path) -> None:
    target = workdir / "edited.txt"
    proc = fake(
        [
            *RUN,
            "go [[fake:reasoning]] [[fake:todo]] [[fake:shell]] [[fake:file_change]] "
            "[[fake:unknown_event]]",
        ],
        env,
        workdir,
        FAKE_CODEX_WRITE_FILE=str(target),
    )
    assert proc.returncode == 0
    evs = events(proc)
    seen = [(e["type"], e["item"]["type"]) for e in evs if e["type"].startswith("item.")]
    assert seen == [
        ("item.completed", "reasoning"),
        ("item.started", "todo_list"),
        ("item.completed", "agent_message"),
        ("item.started", "command_execution"),
        ("item.completed", "command_execution"),
        ("item.completed", "file_change"),
        ("item.updated", "todo_list"),
        ("item.completed", "hologram"),
        ("item.completed", "agent_message"),
        ("item.completed", "todo_list"),
    ]
    assert {"type": "turn.weird", "x": 1} in evs
    command = next(
        e["item"]
        for e in evs
        if e["type"] == "item.completed" and e["item"]["type"] == "command_execution"
    )
    assert (command["exit_code"], command["status"]) == (0, "completed")
    change = next(e["item"] for e in evs if e.get("item", {}).get("type") == "file_change")
    assert change["changes"] == [{"path": str(target), "kind": "add"}]
    assert target.read_text().startswith("edited by fake codex")
    messages = [e["item"]["text"] for e in evs if e.get("item", {}).get("type") == "agent_message"]
    assert messages == ["Running a command.", "All done."]
    assert evs[-1]["usage"]["reasoning_output_tokens"] > 0


def test_output_schema_and_last_message_file(env: dict[str, str], workdir: pathlib.Path) -> None:
    schema = workdir / "schema.json"
    schema.write_text('{"type": "object"}')
    out = workdir / "last.txt"
    proc = fake([*RUN, "--output-schema", str(schema), "-o", str(out), "x"], env, workdir)
    assert json.loads(events(proc)[2]["item"]["text"]) == {"status": "ok", "count": 0}
    assert out.read_text() == '{"status": "ok", "count": 0}'
    custom = fake(
        [*RUN, "--output-schema", str(schema), 'x [[fake:schema-json={"a": [1]}]]'], env, workdir
    )
    assert json.loads(events(custom)[2]["item"]["text"]) == {"a": [1]}
    failed = fake([*RUN, "-o", str(out), "x [[fake:429]]"], env, workdir)
    assert failed.returncode == 1 and out.read_text() == ""
    missing = fake([*RUN, "--output-schema", str(workdir / "nope.json"), "x"], env, workdir)
    assert missing.returncode == 1 and "Failed to read output schema file" in missing.stderr


def test_human_mode_prints_only_the_final_message(
    env: dict[str, str], workdir: pathlib.Path
) -> None:
    proc = fake(["exec", "--skip-git-repo-check", "hi [[fake:shell]]"], env, workdir, stdin=None)
    assert (proc.returncode, proc.stdout) == (0, "All done.\n")
    assert "OpenAI Codex v0.169.0\n--------\n" in proc.stderr and "\ntokens used\n" in proc.stderr
    failed = fake(["exec", "--skip-git-repo-check", "x [[fake:500]]"], env, workdir, stdin=None)
    assert (failed.returncode, failed.stdout) == (1, "")
    assert "ERROR: We’re currently experiencing high demand" in failed.stderr


def test_huge_and_garbage_output(env: dict[str, str], workdir: pathlib.Path) -> None:
    size = 5 * 1024 * 1024
    huge = fake([*RUN, f"x [[fake:huge={size}]]"], env, workdir)
    assert len(events(huge)[2]["item"]["text"]) == size
    garbage = fake([*RUN, "x [[fake:garbage]]"], env, workdir)
    lines = garbage.stdout.splitlines()
    assert {"not json {", "", "[1,2]"} <= set(lines)
    parsed = [json.loads(line) for line in lines if line.startswith("{")]
    assert [e["type"] for e in parsed] == [
        "thread.started",
        "turn.started",
        "item.completed",
        "turn.completed",
    ]


def test_slow_mode_spaces_events(env: dict[str, str], workdir: pathlib.Path) -> None:
    began = time.monotonic()
    proc = fake([*RUN, "x [[fake:slow=0.2]]"], env, workdir)
    assert proc.returncode == 0 and time.monotonic() - began >= 0.6  # 3 gaps between 4 events


def test_stderr_flood_does_not_deadlock_a_draining_reader(
    env: dict[str, str], workdir: pathlib.Path
) -> None:
    proc = fake([*RUN, "x [[fake:stderr_flood]]"], env, workdir)
    assert proc.returncode == 0 and len(proc.stderr) >= 1024 * 1024
    assert events(proc)[-1]["type"] == "turn.completed"


def test_env_echo_never_reveals_the_key(env: dict[str, str], workdir: pathlib.Path) -> None:
    proc = fake(
        [*RUN, "x [[fake:env_echo]]"],
        env,
        workdir,
        CODEX_API_KEY="sk-hidden",
        MY_VAR="v1",
        FAKE_CODEX_ECHO_ENV="MY_VAR,CODEX_API_KEY,ABSENT",
    )
    report = json.loads(events(proc)[2]["item"]["text"])
    assert report == {
        "has_codex_api_key": True,
        "env": {"MY_VAR": "v1", "CODEX_API_KEY": "<redacted>", "ABSENT": None},
    }
    assert "sk-hidden" not in proc.stdout


# ---------------------------------------------------------------------------------------------
# process-control modes


@pytest.mark.timeout(30)
def test_child_mode_grandchild_shares_the_process_group(
    env: dict[str, str], workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    state = tmp_path / "state"
    proc = start([*RUN, "x [[fake:child]]"], env, workdir, FAKE_CODEX_STATE_DIR=str(state))
    try:
        read_until_turn_started(proc)
        child = child_pid({"FAKE_CODEX_STATE_DIR": str(state)}, timeout=10)
        assert os.getpgid(child) == proc.pid  # same group as the fake (the group leader here)
    finally:
        kill_group(proc)
    wait_until(lambda: is_gone(child), timeout=10, message=f"the grandchild {child} to end")


@pytest.mark.timeout(30)
def test_ignore_term_needs_sigkill(env: dict[str, str], workdir: pathlib.Path) -> None:
    proc = start([*RUN, "x [[fake:ignore_term]]"], env, workdir)
    try:
        read_until_turn_started(proc)
        proc.send_signal(signal.SIGTERM)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.5)
        proc.kill()
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        kill_group(proc)
