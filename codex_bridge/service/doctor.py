"""``doctor``: what the bridge finds about codex, its login, its engine and the session store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codex_local_sdk import CodexError
from codex_local_sdk.discovery import (
    MINIMUM_CODEX_VERSION,
    check_minimum,
    login_status,
    parse_version,
)

from ..engine import describe_engine
from .results import DoctorCheck, DoctorReport

if TYPE_CHECKING:
    from .core import BridgeService

__all__ = ["examine"]


def examine(service: BridgeService, *, login: bool = True) -> DoctorReport:
    """What the bridge found: codex binary and version, login, session store.

    ``login=False`` skips asking codex for its login status (a quick startup check)."""
    report = DoctorReport(ok=True, store_path=service.policy.store_path)
    checks = report.checks
    try:
        binary = service.client.binary
        report.binary, report.binary_source = binary.path, binary.source
        checks.append(DoctorCheck(name="codex", ok=True, detail=f"{binary.path} ({binary.source})"))
        report.version = service.client.version()
        found = parse_version(report.version)
        minimum = ".".join(map(str, MINIMUM_CODEX_VERSION))
        try:
            check_minimum(report.version, binary.path)
            checks.append(
                DoctorCheck(name="version", ok=True, detail=f"{report.version} (minimum {minimum})")
            )
        except CodexError as exc:
            checks.append(DoctorCheck(name="version", ok=False, detail=str(exc)))
        if found is None:
            checks.append(
                DoctorCheck(name="version", ok=False, detail=f"cannot parse {report.version!r}")
            )
        report.engine = service.engine_status()
        if login and report.engine is not None and report.engine.engine == "checking":
            report.engine = describe_engine(service.policy.engine, binary.path)
        if report.engine is not None:
            detail = f"{report.engine.engine}: {report.engine.reason}"
            checks.append(DoctorCheck(name="engine", ok=True, detail=detail))
        if login:
            login_check = login_status(binary.path)
            report.logged_in, detail = login_check.ok, login_check.detail
            # Not fatal: an API key per call or a custom model provider also works.
            checks.append(DoctorCheck(name="login", ok=True, detail=detail))
    except CodexError as exc:
        checks.append(DoctorCheck(name="codex", ok=False, detail=str(exc)))
    try:
        report.sessions = len(service.client.list_sessions())
        checks.append(
            DoctorCheck(
                name="session store",
                ok=True,
                detail=f"{service.policy.store_path} ({report.sessions} sessions)",
            )
        )
    except CodexError as exc:
        checks.append(DoctorCheck(name="session store", ok=False, detail=str(exc)))
    report.ok = all(check.ok for check in checks)
    return report
