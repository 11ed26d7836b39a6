"""``run``, ``resume`` and ``fork``: their flags, the service parameters they make, and the
command that runs one with a live view, JSON or JSON Lines events."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any, Literal

import msgspec

from codex_local_sdk import ThreadEvent, event_to_dict

from ..launch import PROG
from ..policy import BridgePolicy
from ..rendering import is_thread_id
from ..service import (
    OPERATIONS,
    BridgeService,
    ForkParams,
    ProgressUpdate,
    ResumeParams,
    RunOutcome,
    RunParams,
    TurnHooks,
)
from ..signals import Interrupted, until_signal
from .approvals import NOT_A_TERMINAL, terminal_approvals, wants_relay
from .exits import exit_code_for_outcome
from .flags import Operation, add_flags, params_data
from .output import Stdout, error, is_terminal, make_console
from .view import TerminalView

OutputMode = Literal["live", "json", "events"]


def add_operation_options(parser: argparse.ArgumentParser, operation: Operation) -> None:
    """Request flags; each operation takes the ones its service parameters accept."""
    parser.set_defaults(operation=operation)
    if operation != "run":
        parser.add_argument("target", metavar="NAME|THREAD_ID", help="session name or thread UUID")
    parser.add_argument("prompt", metavar="PROMPT|-", help="the prompt, or - to read stdin")
    request = parser.add_argument_group("request")
    add_flags(
        operation, {"request": request, "codex options": parser.add_argument_group("codex options")}
    )
    output = parser.add_argument_group("output").add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true", help="print the result as JSON (default off a terminal)"
    )
    output.add_argument(
        "--events",
        action="store_true",
        help="stream every codex event as JSON Lines, then a bridge.result line",
    )


def _read_prompt(argument: str) -> str:
    if argument != "-":
        return argument
    if sys.stdin is None:
        return ""
    if is_terminal(sys.stdin):
        print("Reading the prompt from stdin (end it with Ctrl-D)…", file=sys.stderr)
    return sys.stdin.read()


def _target(value: str) -> dict[str, str]:
    """A thread id when it is a UUID, else a session name."""
    return {"thread_id" if is_thread_id(value) else "session_name": value}


def operation_params(
    args: argparse.Namespace, service: BridgeService | None = None
) -> RunParams | ResumeParams | ForkParams:
    """The service parameters of a run/resume/fork command line; with ``service``, the
    output schema file is read only when the policy allows it."""
    operation: Operation = args.operation
    data = {"prompt": _read_prompt(args.prompt), **params_data(operation, args, service)}
    if operation != "run":
        data.update(_target(args.target))
    params: RunParams | ResumeParams | ForkParams = OPERATIONS[operation].parse(_without_none(data))
    return params


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def operation_command(args: argparse.Namespace, policy: BridgePolicy) -> int:
    service = BridgeService(policy)
    params = operation_params(args, service)
    mode: OutputMode = (
        "events" if args.events else "json" if args.json or not is_terminal(sys.stdout) else "live"
    )
    interactive = is_terminal(sys.stdin) and mode == "live"
    approval_policy = getattr(params, "approval_policy", None)
    if policy.engine == "auto":  # a one-shot run gains nothing from a warm server
        relays = wants_relay(str(approval_policy) if approval_policy else None, interactive)
        policy = msgspec.structs.replace(policy, engine="app-server" if relays else "exec")
    service = BridgeService(policy)
    view = TerminalView(make_console(), params) if mode == "live" else None
    on_approval = terminal_approvals(view.pause, view.resume) if view and interactive else None

    def on_event(event: ThreadEvent) -> None:
        if mode == "events":
            Stdout.line(event_to_dict(event))
        elif view is not None:
            view.on_event(event)

    def on_progress(update: ProgressUpdate) -> None:
        if view is not None:
            view.on_progress(update)

    hooks = TurnHooks(
        on_progress=on_progress,
        on_event=on_event,
        on_approval=on_approval,
        approvals_unavailable=None if on_approval else NOT_A_TERMINAL,
    )

    async def work() -> RunOutcome:
        outcome: RunOutcome = await OPERATIONS[args.operation].invoke(service, params, hooks)
        return outcome

    with view if view is not None else contextlib.nullcontext():
        result = asyncio.run(until_signal(work, service.aclose))
    if isinstance(result, Interrupted):
        if view is not None:
            view.interrupted()
        else:
            print(f"{PROG}: interrupted; codex was stopped", file=sys.stderr)
        return 128 + result.signal_number
    if mode == "events":
        Stdout.line({"type": "bridge.result", "result": result})
    elif mode == "json":
        Stdout.line(result)
    elif view is not None:
        view.finish(result)
    if view is None and not result.ok:
        # The JSON on stdout says it to programs; a person reading the terminal needs it too.
        error(failure_line(result))
    return exit_code_for_outcome(result)


def failure_line(outcome: RunOutcome) -> str:
    if outcome.error is None:
        return f"codex {outcome.status}"
    return f"codex {outcome.status}: {outcome.error.message} [{outcome.error.kind}]"
