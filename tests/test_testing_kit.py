"""codex_local_sdk.testing: the kit users test their own code with (and our tests use)."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

import pytest

from codex_local_sdk import (
    CodexExecFailedError,
    CodexExecRequest,
    FailureKind,
    InMemorySessionStore,
    JsonFileSessionStore,
    SessionRecord,
    SessionStore,
)
from codex_local_sdk.session_store import SessionLock
from codex_local_sdk.testing import FakeCodex, MockCodexHome, SessionStoreContract


def test_the_kit_imports_only_the_standard_library_and_msgspec() -> None:
    code = (
        "import sys, msgspec; before = set(sys.modules); import codex_local_sdk.testing\n"
        "roots = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(r for r in roots if r not in sys.stdlib_module_names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['codex_local_sdk']"  # beyond msgspec and what it loads


def test_fake_codex_runs_and_logs(tmp_path: pathlib.Path) -> None:
    fake = FakeCodex(tmp_path)
    with fake.client(check_version=False) as client:
        result = client.run(CodexExecRequest(prompt="hello", cwd=str(tmp_path)))
    assert result.final_message == "echo: hello"
    [run] = fake.runs()
    assert run["prompt"] == "hello" and run["cwd"] == str(tmp_path)


def test_fake_codex_modes_script_failures(tmp_path: pathlib.Path) -> None:
    fake = FakeCodex(tmp_path, modes=["429"], version="codex-cli 0.169.0")
    with fake.client() as client, pytest.raises(CodexExecFailedError) as failed:
        client.run(CodexExecRequest(prompt="x"))
    assert failed.value.result.failure is not None
    assert failed.value.result.failure.kind is FailureKind.RATE_LIMIT
    assert len(fake.runs()) == 3  # the default retry policy tried three times


def test_mock_codex_home_points_a_real_codex_at_the_mock(tmp_path: pathlib.Path) -> None:
    from codex_local_sdk.testing import MockResponsesServer

    with MockResponsesServer() as server:
        home = MockCodexHome.create(tmp_path, server)
        config = (home.home / "config.toml").read_text()
        assert server.base_url in config
        assert home.env["CODEX_HOME"] == str(home.home)


class TestInMemoryStoreContract(SessionStoreContract):
    def make_store(self) -> SessionStore:
        return InMemorySessionStore()


class TestJsonFileStoreContract(SessionStoreContract):
    def make_store(self) -> SessionStore:
        return JsonFileSessionStore(pathlib.Path(tempfile.mkdtemp()) / "sessions.json")


class _LossyStore(InMemorySessionStore):
    """Renames onto a taken name and shares one lock for all threads: not conformant."""

    def rename(self, old: str, new: str) -> SessionRecord:
        record = self.get(old)
        assert record is not None
        self.delete(old)
        record.name = new
        self.put(record)
        return record

    def thread_lock(self, thread_id: str) -> SessionLock:
        return super().thread_lock("one lock for all")


class _Lossy(SessionStoreContract):
    def make_store(self) -> SessionStore:
        return _LossyStore()


@pytest.mark.parametrize(
    "check",
    ["test_rename_refuses_a_missing_or_taken_name", "test_thread_lock_is_exclusive_until_released"],
)
def test_the_contract_catches_a_broken_store(check: str) -> None:
    with pytest.raises(AssertionError):
        getattr(_Lossy(), check)()
