"""The ``codex-bridge`` command line, driven as a real subprocess.

Every test runs ``python -m codex_bridge`` (once the installed console script) with the fake
codex and a private session store; the live view is checked in a pseudo-terminal, Ctrl-C
included. One test goes through the real codex CLI against the mock Responses API.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pathlib
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import psutil
import pytest

from codex_bridge.cli import (
    EXIT_CODEX_MISSING,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    build_parser,
    config_value,
)
from codex_bridge.cli.run import operation_params
from codex_bridge.rendering import field_description
from codex_bridge.service import ForkParams, RunParams
from tests.support.fake_codex import child_pid, fake_log
from tests.support.real_codex import RealCodex
from tests.support.terminal import CLI_TIMEOUT, Terminal, clean_env

# --------------------------------------------------------------------------- helpers


def run_cli(
    args: Sequence[str],
    *,
    cwd: pathlib.Path,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    command: Sequence[str] = (sys.executable, "-m", "codex_bridge"),
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env=clean_env(env, **(extra_env or {})),
        timeout=CLI_TIMEOUT,
        check=False,
    )


def parse_json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.stdout.strip(), f"no stdout; stderr: {completed.stderr}"
    return json.loads(completed.stdout)


def assert_gone(pids: Sequence[int]) -> None:
    """Every pid has exited (zombies awaiting their reaper count as gone)."""
    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=10)
    alive = [p for p in alive if _status(p) not in (None, psutil.STATUS_ZOMBIE)]
    assert not alive, f"codex processes left behind: {alive}"


def _status(proc: psutil.Process) -> str | None:
    try:
        return str(proc.status())
    except psutil.NoSuchProcess:
        return None


@pytest.fixture
def store(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "sessions.json"


@pytest.fixture
def base(fake_codex: str, store: pathlib.Path, fake_env: dict[str, str]) -> list[str]:
    """Policy flags that point the CLI at the fake codex and a private store."""
    return ["--codex-bin", fake_codex, "--store", str(store)]


# --------------------------------------------------------------------------- run


def test_run_prints_the_outcome_as_json(base: list[str], workdir: pathlib.Path) -> None:
    completed = run_cli(["run", "hello there", *base, "--session", "s1"], cwd=workdir)
    assert completed.returncode == EXIT_OK, completed.stderr
    outcome = parse_json(completed)
    assert outcome["ok"] is True
    assert outcome["status"] == "completed"
    assert outcome["final_message"] == "echo: hello there"
    assert outcome["session_name"] == "s1"
    assert outcome["turn_usage"]["input_tokens"] > 0
    # Not a terminal: machine output only, no decoration.
    assert completed.stdout.count("\n") == 1


def test_request_flags_reach_codex(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"status": {"type": "string"}}}))
    args = ["run", "flags", *base, "--model", "gpt-test", "--sandbox", "workspace-write"]
    args += ["-c", "model_reasoning_effort=high", "-c", "n=3", "--allow-config-key", "n"]
    args += ["--add-dir", str(extra), "--output-schema", str(schema), "--cd", str(workdir)]
    completed = run_cli(args, cwd=tmp_path)
    assert completed.returncode == EXIT_OK, completed.stderr
    outcome = parse_json(completed)
    assert outcome["structured_output"] == {"status": "ok", "count": 0}
    [entry] = fake_log(fake_env)
    assert entry["options"]["model"] == "gpt-test"
    assert entry["options"]["sandbox"] == "workspace-write"
    assert entry["options"]["add_dir"] == [str(extra)]
    assert entry["cwd"] == str(workdir)
    assert entry["config"]["model_reasoning_effort"] == "high"
    assert entry["config"]["n"] == 3


def test_run_reads_the_prompt_from_stdin(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str]
) -> None:
    completed = run_cli(["run", "-", *base], cwd=workdir, stdin="a prompt\nfrom stdin\n")
    assert completed.returncode == EXIT_OK, completed.stderr
    assert parse_json(completed)["final_message"].startswith("echo: a prompt\nfrom stdin")
    [entry] = fake_log(fake_env)
    assert entry["prompt"].startswith("a prompt\nfrom stdin")


def test_events_streams_every_event_as_json_lines(base: list[str], workdir: pathlib.Path) -> None:
    completed = run_cli(["run", "go [[fake:shell]]", *base, "--events"], cwd=workdir)
    assert completed.returncode == EXIT_OK, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    types = [line["type"] for line in lines]
    assert types[0] == "thread.started"
    assert types[-2:] == ["turn.completed", "bridge.result"]
    assert "item.started" in types  # raw events too, not only the described ones
    command_items = [
        line["item"] for line in lines if line.get("item", {}).get("type") == "command_execution"
    ]
    assert command_items[-1]["exit_code"] == 0
    result = lines[-1]["result"]
    assert result["ok"] is True
    assert result["thread_id"] == lines[0]["thread_id"]
    assert result["commands"] == [{"command": "echo fake-shell-ok", "exit_code": 0}]


def test_console_script_runs(base: list[str], workdir: pathlib.Path) -> None:
    script = pathlib.Path(sys.executable).parent / "codex-bridge"
    assert script.exists(), "the console script is installed with the package"
    completed = run_cli(["run", "via script", *base], cwd=workdir, command=[str(script)])
    assert completed.returncode == EXIT_OK, completed.stderr
    assert parse_json(completed)["final_message"] == "echo: via script"
    version = run_cli(["--version"], cwd=workdir, command=[str(script)])
    assert version.returncode == EXIT_OK
    assert version.stdout.startswith("codex-bridge ")


# --------------------------------------------------------------------------- resume & fork


def test_resume_by_session_name_and_by_thread_id(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str]
) -> None:
    first = parse_json(run_cli(["run", "one", *base, "--session", "work"], cwd=workdir))
    thread_id = first["thread_id"]

    by_name = run_cli(["resume", "work", "two", *base], cwd=workdir)
    assert by_name.returncode == EXIT_OK, by_name.stderr
    assert parse_json(by_name)["thread_id"] == thread_id

    by_id = run_cli(["resume", thread_id, "-", *base], cwd=workdir, stdin="three")
    assert by_id.returncode == EXIT_OK, by_id.stderr
    outcome = parse_json(by_id)
    assert outcome["thread_id"] == thread_id
    assert outcome["final_message"] == "echo: three"

    log = fake_log(fake_env)
    assert [entry["subcommand"] for entry in log] == [None, "resume", "resume"]
    assert {entry["session_id"] for entry in log[1:]} == {thread_id}
    shown = parse_json(run_cli(["sessions", "show", "work", *base], cwd=workdir))
    assert shown["turns"] == 3


def test_fork_records_the_copy_as_a_new_session(base: list[str], workdir: pathlib.Path) -> None:
    original = parse_json(run_cli(["run", "one", *base, "--session", "main"], cwd=workdir))
    forked = run_cli(["fork", "main", "try this", *base, "--session", "branch"], cwd=workdir)
    assert forked.returncode == EXIT_OK, forked.stderr
    outcome = parse_json(forked)
    assert outcome["thread_id"] != original["thread_id"]
    assert outcome["session_name"] == "branch"
    branch = parse_json(run_cli(["sessions", "show", "branch", *base], cwd=workdir))
    assert branch["forked_from"] == original["thread_id"]
    # `sessions fork` is the same command.
    again = run_cli(["sessions", "fork", "main", "again", *base], cwd=workdir)
    assert again.returncode == EXIT_OK, again.stderr


# --------------------------------------------------------------------------- sessions


def test_sessions_list_show_rename_delete(base: list[str], workdir: pathlib.Path) -> None:
    assert parse_json(run_cli(["sessions", "list", *base], cwd=workdir)) == []
    a = parse_json(run_cli(["run", "a", *base, "--session", "alpha"], cwd=workdir))
    parse_json(run_cli(["run", "b", *base, "--session", "beta"], cwd=workdir))

    listed = parse_json(run_cli(["sessions", "list", *base], cwd=workdir))
    assert [s["name"] for s in listed] == ["beta", "alpha"]  # most recent first
    assert listed[1]["thread_id"] == a["thread_id"]
    assert listed[1]["turns"] == 1
    assert listed[1]["last_status"] == "completed"
    assert listed[1]["cwd"] == str(workdir)

    shown = parse_json(run_cli(["sessions", "show", "alpha", *base], cwd=workdir))
    assert shown["recent_turns"][0]["prompt_preview"] == "a"

    renamed = run_cli(["sessions", "rename", "alpha", "gamma", *base], cwd=workdir)
    assert renamed.returncode == EXIT_OK, renamed.stderr
    assert parse_json(renamed)["name"] == "gamma"
    clash = run_cli(["sessions", "rename", "gamma", "beta", *base], cwd=workdir)
    assert clash.returncode == EXIT_USAGE
    assert "already exists" in clash.stderr

    deleted = run_cli(["sessions", "delete", "gamma", *base], cwd=workdir)
    assert deleted.returncode == EXIT_OK, deleted.stderr
    assert parse_json(deleted)["thread_id"] == a["thread_id"]
    names = [s["name"] for s in parse_json(run_cli(["sessions", "ls", *base], cwd=workdir))]
    assert names == ["beta"]
    again = run_cli(["sessions", "delete", "gamma", *base], cwd=workdir)
    assert again.returncode == EXIT_OK, again.stderr  # idempotent
    assert parse_json(again) == {"name": "gamma", "deleted": False, "thread_id": None}
    for args in (["show", "gamma"], ["rename", "gamma", "delta"]):
        missing = run_cli(["sessions", *args, *base], cwd=workdir)
        assert missing.returncode == EXIT_NOT_FOUND, args
        assert "no session named 'gamma'" in missing.stderr
        assert "Traceback" not in missing.stderr


def test_policy_flags_work_before_the_subcommand_and_from_the_environment(
    base: list[str], workdir: pathlib.Path, store: pathlib.Path
) -> None:
    parse_json(run_cli(["run", "x", *base, "--session", "here"], cwd=workdir))
    before = parse_json(run_cli([*base, "sessions", "list"], cwd=workdir))
    assert [s["name"] for s in before] == ["here"]
    from_env = run_cli(
        ["sessions", "list"], cwd=workdir, extra_env={"CODEX_BRIDGE_STORE_PATH": str(store)}
    )
    assert [s["name"] for s in parse_json(from_env)] == ["here"]


# --------------------------------------------------------------------------- doctor


def test_doctor_reports_a_working_setup(base: list[str], workdir: pathlib.Path) -> None:
    completed = run_cli(["doctor", *base, "--default-idle-timeout", "off"], cwd=workdir)
    assert completed.returncode == EXIT_OK, completed.stdout
    report = parse_json(completed)
    assert report["ok"] is True
    assert report["version"] == "codex-cli 0.169.0"
    assert report["bridge_version"] == importlib.metadata.version("codex-local-bridge")
    assert {c["name"] for c in report["checks"]} >= {"codex", "version", "session store"}
    assert report["policy"]["sandbox_ceiling"] == "workspace-write"
    assert report["policy"]["idle_timeout_seconds"] is None


def test_doctor_fails_without_codex(
    workdir: pathlib.Path, store: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    missing = str(tmp_path / "no-such-codex")
    completed = run_cli(["doctor", "--codex-bin", missing, "--store", str(store)], cwd=workdir)
    assert completed.returncode == EXIT_CODEX_MISSING
    report = parse_json(completed)
    assert report["ok"] is False
    [codex_check] = [c for c in report["checks"] if c["name"] == "codex"]
    assert codex_check["ok"] is False
    assert "no-such-codex" in codex_check["detail"]


def test_doctor_fails_when_codex_is_too_old(base: list[str], workdir: pathlib.Path) -> None:
    completed = run_cli(
        ["doctor", *base], cwd=workdir, extra_env={"FAKE_CODEX_VERSION": "codex-cli 0.1.0"}
    )
    assert completed.returncode == EXIT_FAILED
    assert parse_json(completed)["ok"] is False


# --------------------------------------------------------------------------- exit codes


@pytest.mark.parametrize(
    ("prompt", "extra", "expected_code", "expected_status"),
    [
        ("x [[fake:500]]", [], EXIT_FAILED, "failed"),
        ("x [[fake:crash]]", [], EXIT_FAILED, "failed"),
        ("x [[fake:stall]]", ["--timeout", "1"], EXIT_TIMEOUT, "timeout"),
        ("x [[fake:stall]]", ["--idle-timeout", "1"], EXIT_TIMEOUT, "timeout"),
    ],
)
def test_failed_runs_report_the_outcome_and_a_distinct_exit_code(
    base: list[str],
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    prompt: str,
    extra: list[str],
    expected_code: int,
    expected_status: str,
) -> None:
    completed = run_cli(["run", prompt, *base, *extra], cwd=workdir)
    assert completed.returncode == expected_code, completed.stderr
    outcome = parse_json(completed)
    assert outcome["ok"] is False
    assert outcome["status"] == expected_status
    assert outcome["error"]["message"]
    # stdout is a pipe here: the JSON is for programs, and a person still sees the error.
    assert f"codex-bridge: error: codex {expected_status}: " in completed.stderr
    assert outcome["error"]["message"] in completed.stderr
    assert_gone([entry["pid"] for entry in fake_log(fake_env)])


def test_resume_of_a_thread_codex_does_not_know(base: list[str], workdir: pathlib.Path) -> None:
    unknown = "01a21383-0c89-78b9-9211-000000000000"
    completed = run_cli(["resume", unknown, "hi", *base], cwd=workdir)
    assert completed.returncode == EXIT_NOT_FOUND
    assert parse_json(completed)["error"]["kind"] == "unknown_thread"


@pytest.mark.parametrize(
    ("args", "expected_code", "message"),
    [
        (["run", "x", "--codex-bin", "/nonexistent/codex"], EXIT_CODEX_MISSING, "not an exec"),
        (["resume", "nosuch", "x"], EXIT_NOT_FOUND, "no session named 'nosuch'"),
        (["fork", "nosuch", "x"], EXIT_NOT_FOUND, "no session named 'nosuch'"),
        (["run", "x", "--sandbox", "danger-full-access"], EXIT_USAGE, "above this server's"),
        (["run", "x", "--sandbox-ceiling", "read-only", "-s", "workspace-write"], EXIT_USAGE, ""),
        (["run", "x", "-c", "sandbox_mode=danger-full-access"], EXIT_USAGE, "not allowed"),
        (["run", "x", "-c", "novalue"], EXIT_USAGE, "expected key=value"),
        (["run", "x", "--timeout", "-1"], EXIT_USAGE, "must be positive"),
        (["run", "x", "--timeout", "soon"], EXIT_USAGE, "not a number"),
        (["run", "x", "--sandbox", "yolo"], EXIT_USAGE, "invalid choice"),
        (["run", "x", "--bogus"], EXIT_USAGE, "unrecognized arguments"),
        (["run", "x", "--json", "--events"], EXIT_USAGE, "not allowed with"),
        (["run", "x", "--cd", "/nonexistent/dir"], EXIT_USAGE, "not an existing directory"),
        (["run", "x", "--allowed-root", "/nonexistent/root"], EXIT_USAGE, "outside the allowed"),
        (["run", "x", "--output-schema", "/nonexistent.json"], EXIT_USAGE, "not an existing"),
        (["run", "x", "--image", "/nonexistent.png"], EXIT_USAGE, "not an existing file"),
        (["run", "x", "--default-sandbox", "danger-full-access"], EXIT_USAGE, "invalid policy"),
        (["run", "-"], EXIT_USAGE, "prompt must not be empty"),
        (["resume", "work"], EXIT_USAGE, "required: PROMPT"),
        (["sessions"], EXIT_USAGE, "required: ACTION"),
        ([], EXIT_USAGE, "required: COMMAND"),
    ],
)
def test_usage_and_setup_errors(
    base: list[str],
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    args: list[str],
    expected_code: int,
    message: str,
) -> None:
    completed = run_cli([*base, *args], cwd=workdir, stdin="   \n")
    assert completed.returncode == expected_code, completed.stderr
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stdout == ""  # errors never pose as results
    assert fake_log(fake_env) == []  # refused before codex started


def test_bad_output_schema_json_is_a_usage_error(
    base: list[str], workdir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    schema = tmp_path / "schema.json"
    schema.write_text("{not json")
    completed = run_cli(["run", "x", *base, "--output-schema", str(schema)], cwd=workdir)
    assert completed.returncode == EXIT_USAGE
    assert "not valid JSON" in completed.stderr


def test_help_documents_the_exit_codes(workdir: pathlib.Path) -> None:
    completed = run_cli(["run", "--help"], cwd=workdir)
    assert completed.returncode == EXIT_OK
    assert "exit codes:" in completed.stdout
    assert "130" in completed.stdout


def test_importing_the_cli_stays_light(workdir: pathlib.Path) -> None:
    code = (
        "import sys, codex_bridge.cli; "
        "print([m for m in ('mcp', 'pygls', 'rich', 'lsprotocol') if m in sys.modules])"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=workdir
    )
    assert completed.stdout.strip() == "[]"


def test_config_values_are_parsed_like_codex_does() -> None:
    assert config_value("3") == 3
    assert config_value("true") is True
    assert config_value('"quoted"') == "quoted"
    assert config_value("[1, 2]") == [1, 2]
    assert config_value("high") == "high"  # not TOML: the literal string
    assert config_value("{ a = 1 }") == {"a": 1}


def test_flags_follow_the_params_structs(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    fork = operation_params(
        parser.parse_args(["fork", "source", "try it", "--session", "alt", "--network"])
    )
    assert isinstance(fork, ForkParams)
    # fork's own session_name is its source; --session names the new thread
    assert (fork.session_name, fork.new_session_name) == ("source", "alt")
    assert fork.network_access is True
    run = operation_params(parser.parse_args(["run", "x", "-c", "model_verbosity=low", "-i", "a"]))
    assert isinstance(run, RunParams)
    assert (run.config_overrides, run.images, run.network_access) == (
        {"model_verbosity": "low"},
        ["a"],
        None,
    )
    with pytest.raises(SystemExit):  # resume takes no --session: its target is one
        parser.parse_args(["resume", "t", "x", "--session", "s"])
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--help"])
    run_help = " ".join(capsys.readouterr().out.split())
    description = field_description(RunParams, "idle_timeout_seconds")
    assert description is not None
    assert description[1:].rstrip(".") in run_help  # help comes from the Struct


# --------------------------------------------------------------------------- terminal


def test_live_view_on_a_terminal(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str]
) -> None:
    prompt = "[[fake:shell]][[fake:file_change]][[fake:slow=0.3]]"
    terminal = Terminal(["run", prompt, *base, "--session", "live"], cwd=workdir, env=os.environ)
    assert terminal.wait() == EXIT_OK, terminal.text
    text = terminal.text
    assert "$ echo fake-shell-ok  (exit 0)" in text  # the command Codex ran
    assert "edited fake_codex_edit.txt" in text  # the file it changed, relative to the cwd
    assert re.search(r"\d+s \$ echo fake-shell-ok", text)  # elapsed time + running command
    assert "All done." in text
    assert "tokens 9" in text  # usage at the end (the fake reports 900+ input tokens)
    assert "session live" in text
    assert "codex-bridge resume live PROMPT" in text
    assert not text.lstrip().startswith("{")  # a person's view, not JSON


def test_live_view_renders_the_final_message_as_markdown(
    base: list[str], workdir: pathlib.Path
) -> None:
    prompt = "Say it\n\n**loud words** and `code` [[fake:warning]]"
    terminal = Terminal(["run", prompt, *base], cwd=workdir, env=os.environ)
    assert terminal.wait() == EXIT_OK, terminal.text
    text = terminal.text
    assert "loud words and code" in text
    assert "**loud words**" not in text
    assert text.count("warning: Reconnecting... 1/5") == 1  # shown live, not repeated


def test_json_flag_on_a_terminal(base: list[str], workdir: pathlib.Path) -> None:
    terminal = Terminal(["run", "plain", *base, "--json"], cwd=workdir, env=os.environ)
    assert terminal.wait() == EXIT_OK
    assert json.loads(terminal.text)["final_message"] == "echo: plain"


def test_live_view_shows_failures(base: list[str], workdir: pathlib.Path) -> None:
    terminal = Terminal(["run", "x [[fake:429]]", *base], cwd=workdir, env=os.environ)
    assert terminal.wait() == EXIT_FAILED
    assert "codex failed: exceeded retry limit" in terminal.text
    assert "[rate_limit]" in terminal.text


def test_sessions_table_on_a_terminal(base: list[str], workdir: pathlib.Path) -> None:
    outcome = parse_json(run_cli(["run", "x", *base, "--session", "[tricky] name"], cwd=workdir))
    terminal = Terminal(["sessions", "list", *base], cwd=workdir, env=os.environ)
    assert terminal.wait() == EXIT_OK
    lines = terminal.text.splitlines()
    header = next(line for line in lines if "thread id" in line)
    for column in ("name", "updated", "turns", "last status", "cwd"):
        assert column in header
    row = next(line for line in lines if outcome["thread_id"] in line)  # never truncated
    assert "[tricky] name" in row  # shown as is, not read as markup
    assert "completed" in row

    shown = Terminal(["sessions", "show", "[tricky] name", *base], cwd=workdir, env=os.environ)
    assert shown.wait() == EXIT_OK
    assert outcome["thread_id"] in shown.text
    assert "recent turns" in shown.text

    doctor = Terminal(["doctor", *base], cwd=workdir, env=os.environ)
    assert doctor.wait() == EXIT_OK
    assert "✓ codex:" in doctor.text
    assert "all good" in doctor.text


def test_ctrl_c_stops_codex_and_exits_130(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str]
) -> None:
    terminal = Terminal(["run", "wait [[fake:child]]", *base], cwd=workdir, env=os.environ)
    try:
        grandchild = child_pid(fake_env, timeout=30)
        cli = psutil.Process(terminal.process.pid)
        codex_pids = [p.pid for p in cli.children(recursive=True)]
        assert codex_pids, "codex runs under the CLI"
        terminal.send(b"\x03")
    finally:
        code = terminal.wait()
    assert code == EXIT_INTERRUPTED, terminal.text
    assert "interrupted: codex was stopped" in terminal.text
    assert "Traceback" not in terminal.text
    assert_gone([*codex_pids, grandchild])


def test_sigterm_in_json_mode_stops_codex(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str]
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_bridge", "run", "[[fake:child]]", *base],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=workdir,
        env=clean_env(),
    )
    try:
        grandchild = child_pid(fake_env, timeout=30)
        codex_pids = [p.pid for p in psutil.Process(process.pid).children(recursive=True)]
        process.terminate()
        stdout, stderr = process.communicate(timeout=CLI_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 128 + 15, stderr
    assert stdout == ""
    assert "interrupted" in stderr
    assert_gone([*codex_pids, grandchild])


# --------------------------------------------------------------------------- real codex


def test_run_and_resume_through_the_real_codex(real_codex: RealCodex, store: pathlib.Path) -> None:
    base = ["--codex-bin", real_codex.binary, "--store", str(store), "--timeout", "120"]
    first = run_cli(
        ["run", "[[mock:hello]]", *base, "--session", "real"],
        cwd=real_codex.workdir,
        env=real_codex.env,
    )
    assert first.returncode == EXIT_OK, first.stderr
    outcome = parse_json(first)
    assert outcome["final_message"] == "Hello from the mock."

    again = run_cli(
        ["resume", "real", "[[mock:echo]] once more", *base, "--events"],
        cwd=real_codex.workdir,
        env=real_codex.env,
    )
    assert again.returncode == EXIT_OK, again.stderr
    lines = [json.loads(line) for line in again.stdout.splitlines()]
    assert lines[0] == {"type": "thread.started", "thread_id": outcome["thread_id"]}
    result = lines[-1]["result"]
    assert result["ok"] is True
    assert "once more" in result["final_message"]
    assert "dummy-key" not in again.stdout + again.stderr  # the API key never shows


# --------------------------------------------------------------------------- servers


def _read_json_line(stream: Any, wanted_id: int) -> dict[str, Any]:
    for line in stream:
        message: dict[str, Any] = json.loads(line)
        if message.get("id") == wanted_id:
            return message
    pytest.fail(f"the server closed stdout before answering request {wanted_id}")


def test_mcp_subcommand_serves_with_the_cli_policy(
    base: list[str], workdir: pathlib.Path, fake_env: dict[str, str]
) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test_cli", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "codex_run",
                "arguments": {"prompt": "x", "sandbox": "workspace-write"},
            },
        },
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_bridge", "mcp", *base, "--sandbox-ceiling", "read-only"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=workdir,
        env=clean_env(),
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write("".join(json.dumps(m) + "\n" for m in messages))
        process.stdin.flush()
        initialized = _read_json_line(process.stdout, 1)
        assert initialized["result"]["serverInfo"]["name"] == "codex-bridge"
        refused = _read_json_line(process.stdout, 2)["result"]
        assert refused["isError"] is True
        assert "ceiling 'read-only'" in json.dumps(refused)  # the flag reached the policy
        process.stdin.close()
        assert process.wait(timeout=CLI_TIMEOUT) == EXIT_OK
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert fake_log(fake_env) == []


def test_lsp_subcommand_answers_initialize(base: list[str], workdir: pathlib.Path) -> None:
    body = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"processId": None, "rootUri": None, "capabilities": {}},
        }
    ).encode()
    process = subprocess.Popen(
        [sys.executable, "-m", "codex_bridge", "lsp", *base],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env=clean_env(),
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        process.stdin.flush()
        headers: dict[str, str] = {}
        while (line := process.stdout.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.lower()] = value.strip()
        answer = json.loads(process.stdout.read(int(headers["content-length"])))
        assert answer["id"] == 1
        assert "capabilities" in answer["result"]
        process.stdin.close()
        assert process.wait(timeout=CLI_TIMEOUT) == EXIT_OK
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
