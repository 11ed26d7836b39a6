"""Requests codex would refuse are refused before a process starts, with a clear error."""

from __future__ import annotations

import pathlib

import pytest

from codex_local_sdk import CodexExecRequest, CodexLocalClient, CodexUsageError
from codex_local_sdk._invocation import toml_value
from tests.support.fake_codex import fake_log, last_run


def test_bad_enum_strings_are_usage_errors() -> None:
    with pytest.raises(CodexUsageError, match="sandbox must be one of read-only"):
        CodexExecRequest(prompt="x", sandbox="read-write")  # type: ignore[arg-type]
    with pytest.raises(CodexUsageError, match="approval_policy must be one of untrusted"):
        CodexExecRequest(prompt="x", approval_policy="sometimes")  # type: ignore[arg-type]
    assert CodexExecRequest(prompt="x", sandbox="read-only").sandbox == "read-only"  # type: ignore[arg-type]


def test_bytes_are_not_silently_encoded_as_toml() -> None:
    with pytest.raises(CodexUsageError, match="bytes"):
        toml_value(b"abc")


def test_missing_output_schema_file_is_refused_before_codex_starts(
    client: CodexLocalClient, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    request = CodexExecRequest(prompt="x", output_schema=str(tmp_path / "nope.json"))
    with pytest.raises(CodexUsageError, match="output_schema file does not exist"):
        client.run(request)
    assert fake_log(fake_env) == []


def test_resume_by_thread_id_runs_in_the_sessions_directory(
    client: CodexLocalClient, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    workdir = tmp_path / "project"
    workdir.mkdir()
    session, _ = client.start_thread(prompt="start", session_name="s", cwd=str(workdir))
    client.resume(prompt="again", thread_id=session.thread_id)
    assert last_run(fake_env)["cwd"] == str(workdir)
    assert client.get_session("s").turns == 2
