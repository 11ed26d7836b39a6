"""``doctor``: check the codex binary, its version, login and the session store."""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from ..policy import BridgePolicy
from ..service import BridgeService, DoctorReport
from .exits import EXIT_CODEX_MISSING, EXIT_FAILED, EXIT_OK
from .output import Stdout, make_console, wants_json


def doctor_command(args: argparse.Namespace, policy: BridgePolicy) -> int:
    report = BridgeService(policy).doctor()
    if wants_json(args):
        data: dict[str, Any] = msgspec.to_builtins(report)
        data["policy"] = policy.describe()
        Stdout.line(data)
    else:
        _print_doctor(report, policy)
    if report.ok:
        return EXIT_OK
    codex_missing = any(c.name == "codex" and not c.ok for c in report.checks)
    return EXIT_CODEX_MISSING if codex_missing else EXIT_FAILED


def _print_doctor(report: DoctorReport, policy: BridgePolicy) -> None:
    from rich.text import Text

    console = make_console()
    console.print(Text(f"codex-local-bridge {report.bridge_version}", style="bold"))
    for check in report.checks:
        mark, style = ("✓", "green") if check.ok else ("✗", "bold red")
        console.print(Text.assemble((f"{mark} ", style), (f"{check.name}: ", "bold"), check.detail))
    console.print(
        Text(
            f"policy: sandbox {policy.default_sandbox.value} (ceiling "
            f"{policy.sandbox_ceiling.value}), timeout {policy.default_timeout_seconds:g}s "
            f"(max {policy.max_timeout_seconds:g}s), {policy.max_concurrency} concurrent run(s)"
            + (f", roots {', '.join(policy.allowed_roots)}" if policy.allowed_roots else ""),
            style="dim",
        )
    )
    console.print(
        Text("all good", style="bold green")
        if report.ok
        else Text("something is wrong (see ✗ above)", style="bold red")
    )
