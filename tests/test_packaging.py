"""The built wheel, installed in a fresh virtual environment, as a user gets it."""

from __future__ import annotations

import os
import pathlib
import site
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import pytest

from codex_local_sdk import __version__
from tests.support.paths import ROOT

pytestmark = pytest.mark.timeout(300)


def run(*argv: str | os.PathLike[str], cwd: pathlib.Path) -> str:
    completed = subprocess.run(
        [os.fspath(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=240
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("dist")
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        out,
        ROOT,
        cwd=out,
    )
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: pathlib.Path) -> Iterator[pathlib.Path]:
    """A fresh venv with the wheel installed. Its dependencies come from the test
    environment's site-packages (a .pth line), so no network is needed; the project's own
    editable install there is inert (its .pth is not processed)."""
    where = tmp_path_factory.mktemp("venv")
    run(sys.executable, "-m", "venv", where / "env", cwd=where)
    python = where / "env" / "bin" / "python"
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=where)
    (pathlib.Path(purelib.strip()) / "deps.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n"
    )
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=where)
    yield where / "env"


def test_the_wheel_is_named_codex_local_bridge_and_ships_both_packages(
    wheel: pathlib.Path,
) -> None:
    assert wheel.name.startswith(f"codex_local_bridge-{__version__}-")
    names = zipfile.ZipFile(wheel).namelist()
    assert "codex_local_sdk/py.typed" in names and "codex_bridge/py.typed" in names
    assert not any(name.startswith("tests/") for name in names)


def test_the_installed_distribution_and_its_console_script(
    venv: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    python = venv / "bin" / "python"
    shown = run(
        python,
        "-c",
        "import importlib.metadata as m, codex_bridge, codex_local_sdk;"
        "print(m.version('codex-local-bridge'));"
        "print(codex_bridge.__file__); print(codex_local_sdk.__file__)",
        cwd=tmp_path,
    ).split()
    assert shown[0] == __version__
    assert all(path.startswith(str(venv)) for path in shown[1:])
    assert run(venv / "bin" / "codex-bridge", "--version", cwd=tmp_path).strip() == (
        f"codex-bridge {__version__}"
    )


USER_TESTS = """
from codex_local_sdk import CodexExecRequest, InMemorySessionStore
from codex_local_sdk.testing import SessionStoreContract


def test_my_code_against_the_fake(codex_fake_client, codex_fake):
    result = codex_fake_client.run(CodexExecRequest(prompt="hi"))
    assert result.final_message == "echo: hi"
    assert codex_fake.runs()[0]["prompt"] == "hi"


def test_a_real_codex_home(codex_mock_home):
    assert codex_mock_home.server.base_url in (codex_mock_home.home / "config.toml").read_text()


class TestMyStore(SessionStoreContract):
    def make_store(self):
        return InMemorySessionStore()
"""


def test_a_user_project_tests_with_the_kit_and_its_pytest_plugin(
    venv: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    project = tmp_path / "user-project"
    project.mkdir()
    (project / "test_user.py").write_text(USER_TESTS)
    out = run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project)
    assert "13 passed" in out, out  # 2 tests + the 11 checks of the store contract
