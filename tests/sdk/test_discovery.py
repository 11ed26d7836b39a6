"""Finding codex (explicit → CODEX_BIN → PATH → openai-codex-cli-bin), its version, and the
lightness of ``import codex_local_sdk``."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from codex_local_sdk import (
    MINIMUM_CODEX_VERSION,
    CodexExecRequest,
    CodexLocalClient,
    CodexNotInstalledError,
    CodexVersionError,
    find_codex,
)
from codex_local_sdk.discovery import CodexCheck, login_status, parse_version, probe_app_server
from tests.support.fake_codex import fake_log


@pytest.fixture
def empty_path(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """PATH holds only an empty directory; no bundled codex package is importable."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("CODEX_BIN", raising=False)
    # A `codex_cli_bin` package without a binary shadows the installed one.
    shadow = tmp_path / "site"
    (shadow / "codex_cli_bin").mkdir(parents=True)
    (shadow / "codex_cli_bin" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(shadow))
    monkeypatch.delitem(sys.modules, "codex_cli_bin", raising=False)
    return bin_dir


def link_codex(directory: pathlib.Path, fake_codex: str, name: str = "codex") -> pathlib.Path:
    target = directory / name
    target.symlink_to(fake_codex)
    return target


def test_an_explicit_path_comes_first(
    fake_codex: str, empty_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link_codex(empty_path, fake_codex)
    monkeypatch.setenv("CODEX_BIN", str(link_codex(empty_path, fake_codex, "other")))
    found = find_codex(pathlib.Path(fake_codex))
    assert (found.path, found.source) == (fake_codex, "explicit")


def test_codex_bin_comes_before_path(
    fake_codex: str, empty_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    link_codex(empty_path, fake_codex)
    monkeypatch.setenv("CODEX_BIN", fake_codex)
    found = find_codex()
    assert (found.path, found.source) == (fake_codex, "CODEX_BIN")


def test_path_comes_before_the_bundled_binary(fake_codex: str, empty_path: pathlib.Path) -> None:
    linked = link_codex(empty_path, fake_codex)
    found = find_codex()
    assert (found.path, found.source) == (str(linked), "PATH")


def test_the_bundled_binary_comes_last(
    fake_codex: str, empty_path: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    bundled = tmp_path / "site" / "codex_cli_bin" / "bin"
    bundled.mkdir()
    link_codex(bundled, fake_codex)
    found = find_codex()
    assert (found.path, found.source) == (str(bundled / "codex"), "openai-codex-cli-bin")
    assert "codex_cli_bin" not in sys.modules  # located, never imported


def test_no_codex_anywhere_gives_an_install_hint(empty_path: pathlib.Path) -> None:
    with pytest.raises(CodexNotInstalledError) as caught:
        find_codex()
    message = str(caught.value)
    assert "npm install -g @openai/codex" in message
    assert "openai-codex-cli-bin" in message and "CODEX_BIN" in message
    client = CodexLocalClient()
    with pytest.raises(CodexNotInstalledError):
        client.run(CodexExecRequest(prompt="p"))
    client.close()


@pytest.mark.parametrize("how", ["explicit", "CODEX_BIN"])
def test_a_path_that_is_not_an_executable_is_refused(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    not_executable = tmp_path / "codex.txt"
    not_executable.write_text("#!/bin/sh\n")
    for candidate in (not_executable, tmp_path / "missing", tmp_path):
        if how == "explicit":
            with pytest.raises(CodexNotInstalledError, match="not an executable"):
                find_codex(candidate)
        else:
            monkeypatch.setenv("CODEX_BIN", str(candidate))
            with pytest.raises(CodexNotInstalledError, match="CODEX_BIN"):
                find_codex()


def test_a_bare_name_is_looked_up_on_path(fake_codex: str, empty_path: pathlib.Path) -> None:
    linked = link_codex(empty_path, fake_codex, "my-codex")
    assert find_codex("my-codex").path == str(linked)


def test_version(client: CodexLocalClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.version() == "codex-cli 0.169.0"
    monkeypatch.setenv("FAKE_CODEX_VERSION", "codex-cli 9.9.9")
    assert client.version() == "codex-cli 0.169.0"  # probed once per client


async def test_version_async(fake_codex: str, fake_env: dict[str, str]) -> None:
    client = CodexLocalClient(codex_bin=fake_codex)
    assert await client.version_async() == "codex-cli 0.169.0"


def test_an_old_codex_is_refused_before_running(
    fake_codex: str, fake_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CODEX_VERSION", "codex-cli 0.100.0")
    with CodexLocalClient(codex_bin=fake_codex) as client:
        with pytest.raises(CodexVersionError) as caught:
            client.run(CodexExecRequest(prompt="p"))
        error = caught.value
        assert (error.found, error.binary) == ("0.100.0", fake_codex)
        assert error.minimum == ".".join(map(str, MINIMUM_CODEX_VERSION))
        assert "npm install -g @openai/codex@latest" in str(error)
        assert fake_log(fake_env) == []
    unchecked = CodexLocalClient(codex_bin=fake_codex, check_version=False)
    with unchecked:
        assert unchecked.run(CodexExecRequest(prompt="p")).ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("codex-cli 0.169.0", (0, 169, 0)),
        ("codex-cli 1.2.3-alpha.4", (1, 2, 3)),
        ("codex 0.163.0\n", (0, 163, 0)),
        ("no version here", None),
    ],
)
def test_parse_version(text: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


def test_a_codex_whose_version_cannot_be_read_is_not_installed(tmp_path: pathlib.Path) -> None:
    broken = tmp_path / "codex"
    broken.write_text("#!/bin/sh\necho 'boom' >&2\nexit 3\n")
    broken.chmod(0o755)
    client = CodexLocalClient(codex_bin=str(broken))
    with client, pytest.raises(CodexNotInstalledError, match="exited 3: boom"):
        client.version()


# --- import weight -----------------------------------------------------------------------

IMPORT_PROBE = """
import json, sys
before = set(sys.modules)
import codex_local_sdk
import codex_local_sdk.events
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def test_importing_the_sdk_loads_only_the_standard_library_and_msgspec() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    loaded = json.loads(done.stdout)
    top_level = {name.split(".")[0] for name in loaded}
    assert "codex_local_sdk" in top_level and "msgspec" in top_level
    # typing_extensions: msgspec's own optional import (msgspec._utils), used when available
    allowed = {"codex_local_sdk", "msgspec", "typing_extensions"}
    foreign = top_level - set(sys.stdlib_module_names) - allowed
    assert not foreign, f"import codex_local_sdk loaded {sorted(foreign)}"
    for heavy in ("mcp", "pygls", "pydantic", "anyio", "rich", "codex_cli_bin", "codex_bridge"):
        assert heavy not in top_level


def test_login_status_asks_codex(
    fake_codex: str, fake_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert login_status(fake_codex) == CodexCheck(
        ok=True, detail="Logged in using an API key - sk-fake-***1234"
    )
    monkeypatch.setenv("FAKE_CODEX_LOGGED_OUT", "1")
    logged_out = login_status(fake_codex)
    assert logged_out.ok is False
    assert logged_out.detail == "Not logged in (an API key per call also works)"


def test_login_status_of_a_codex_that_cannot_run(tmp_path: pathlib.Path) -> None:
    check = login_status(str(tmp_path / "no-codex"))
    assert check.ok is None and check.detail.startswith("could not ask codex:")


def test_probe_app_server(fake_codex: str, fake_env: dict[str, str]) -> None:
    refused = probe_app_server(fake_codex)  # the fake has no app-server command
    assert refused == CodexCheck(ok=False, detail="`codex app-server --help` exited 2")
    missing = probe_app_server("/nonexistent/codex")
    assert missing.ok is False and missing.detail.startswith("could not run it:")
