"""The shape of the tree: what the import contracts in pyproject.toml rely on, and module size.

The contracts themselves run as ``lint-imports`` in the test command (README) and pre-commit.
"""

from __future__ import annotations

import pathlib
import sys

import pytest

from tests.support.paths import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SDK = ROOT / "sdk" / "codex_local_sdk"
BRIDGE = ROOT / "codex_bridge"
MAX_MODULE_LINES = 550  # "about 500": a module past this holds more than one responsibility


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _contract(name_start: str) -> dict[str, object]:
    (found,) = [c for c in _contracts() if str(c["name"]).startswith(name_start)]
    return found


def _private_sdk_modules() -> set[str]:
    """Every private module or package directly under the SDK package."""
    names = set()
    for path in SDK.iterdir():
        name = path.stem if path.suffix == ".py" else path.name
        is_module = path.suffix == ".py" or (path / "__init__.py").exists()
        if is_module and name.startswith("_") and not name.startswith("__"):
            names.add(f"codex_local_sdk.{name}")
    return names


def test_every_private_sdk_module_is_forbidden_to_the_bridge() -> None:
    contract = _contract("The bridge uses only the SDK's public modules")
    forbidden = set(contract["forbidden_modules"])  # type: ignore[call-overload]
    private = _private_sdk_modules()
    assert "codex_local_sdk._invocation" in private  # the walk finds them
    assert private - forbidden == set(), "add new private SDK modules to the contract"


def test_every_bridge_module_has_a_layer() -> None:
    contract = _contract("The bridge's layers")
    layered = {
        name.strip()
        for layer in contract["layers"]  # type: ignore[attr-defined]
        for name in str(layer).split("|")
    }
    present = {
        path.stem if path.suffix == ".py" else path.name
        for path in BRIDGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists()
    }
    assert present - layered == set(), "give new bridge modules their place in the layers"


@pytest.mark.parametrize("package", [SDK, BRIDGE], ids=["sdk", "bridge"])
def test_no_module_is_over_the_size_limit(package: pathlib.Path) -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for path in package.rglob("*.py")
    }
    assert sizes, package
    too_big = {path: lines for path, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert too_big == {}
