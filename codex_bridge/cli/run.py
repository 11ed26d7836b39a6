"""``run``, ``resume`` and ``fork``: their flags, the service parameters they make, and the
command that runs one with a live view, JSON or JSON Lines events."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Literal

import msgspec

from codex_local_sdk import (
    ReasoningEffort,
    ReasoningSummary,
    ThreadEvent,
    WebSearchMode,
    event_to_dict,
)

from ..launch import APPROVALS, PROG, SANDBOXES, config_pair, positive_seconds
from ..policy import BridgePolicy
from ..rendering import is_thread_id
from ..service import (
    BridgeService,
    ForkParams,
    ProgressUpdate,
    ResumeParams,
    RunOutcome,
    RunParams,
    parse_params,
)
from ..signals import Interrupted, until_signal
from .approvals import NOT_A_TERMINAL, terminal_approvals, wants_relay
from .exits import UsageProblem, exit_code_for_outcome
from .output import Stdout, error, is_terminal, make_console
from .view import TerminalView

OutputMode = Literal["live", "json", "events"]
Operation = Literal["run", "resume", "fork"]


def add_operation_options(parser: argparse.ArgumentParser, operation: Operation) -> None:
    """Request flags; each operation takes the ones its service parameters accept."""
    parser.set_defaults(operation=operation)
    if operation != "run":
        parser.add_argument("target", metavar="NAME|THREAD_ID", help="session name or thread UUID")
    parser.add_argument("prompt", metavar="PROMPT|-", help="the prompt, or - to read stdin")
    request = parser.add_argument_group("request")
    session_help = {
        "run": "record the new thread as session NAME",
        "fork": "record the forked thread as session NAME",
    }
    if operation in session_help:
        request.add_argument("--session", metavar="NAME", help=session_help[operation])
        request.add_argument(
            "--replace",
            action="store_true",
            help="point an existing session NAME at the new thread (else refused)",
        )
    if operation != "fork":
        request.add_argument("-C", "--cd", metavar="DIR", help="working directory")
    request.add_argument("-m", "--model", help="model name")
    request.add_argument(
        "-s", "--sandbox", choices=SANDBOXES, metavar="MODE", help=", ".join(SANDBOXES)
    )
    if operation != "fork":
        request.add_argument(
            "--approval-policy",
            choices=APPROVALS,
            metavar="POLICY",
            help=", ".join(APPROVALS) + " (default: never)",
        )
        request.add_argument(
            "-c",
            "--config",
            metavar="KEY=VALUE",
            type=config_pair,
            action="append",
            default=[],
            help="codex config override; VALUE is parsed as TOML (repeatable)",
        )
        request.add_argument(
            "-i", "--image", metavar="FILE", action="append", default=[], help="attach an image"
        )
        request.add_argument(
            "--output-schema", metavar="FILE", help="JSON Schema file for the final message"
        )
    if operation == "run":
        request.add_argument("-p", "--profile", help="codex config profile")
        request.add_argument(
            "--add-dir", metavar="DIR", action="append", default=[], help="extra writable dir"
        )
    options = parser.add_argument_group("codex options")
    options.add_argument(
        "--reasoning-effort",
        choices=[e.value for e in ReasoningEffort],
        metavar="EFFORT",
        help=", ".join(e.value for e in ReasoningEffort),
    )
    options.add_argument(
        "--reasoning-summary",
        choices=[e.value for e in ReasoningSummary],
        metavar="SUMMARY",
        help=", ".join(e.value for e in ReasoningSummary),
    )
    options.add_argument(
        "--web-search",
        choices=[e.value for e in WebSearchMode],
        metavar="MODE",
        help="codex's web search tool: " + ", ".join(e.value for e in WebSearchMode),
    )
    options.add_argument(
        "--network",
        action="store_true",
        help="let commands use the network in the workspace-write sandbox (needs --allow-network)",
    )
    options.add_argument(
        "--developer-instructions", metavar="TEXT", help="extra instructions for codex"
    )
    options.add_argument(
        "--base-instructions", metavar="TEXT", help="replace codex's built-in instructions"
    )
    request.add_argument(
        "--timeout", type=positive_seconds, metavar="SECONDS", help="stop the run after this long"
    )
    request.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="stop the run when codex is silent this long",
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


def _read_schema(path: str) -> dict[str, Any]:
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageProblem(f"cannot read the output schema {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageProblem(f"the output schema {path!r} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise UsageProblem(f"the output schema {path!r} must be a JSON object")
    return schema


def _target(value: str) -> dict[str, str]:
    """A thread id when it is a UUID, else a session name."""
    return {"thread_id" if is_thread_id(value) else "session_name": value}


def operation_params(
    args: argparse.Namespace, service: BridgeService | None = None
) -> RunParams | ResumeParams | ForkParams:
    """The service parameters of a run/resume/fork command line; with ``service``, the
    output schema file is read only when the policy allows it."""
    operation: Operation = args.operation
    data: dict[str, Any] = {
        "prompt": _read_prompt(args.prompt),
        "model": args.model,
        "sandbox": args.sandbox,
        "timeout_seconds": args.timeout,
        "idle_timeout_seconds": args.idle_timeout,
        "reasoning_effort": args.reasoning_effort,
        "reasoning_summary": args.reasoning_summary,
        "web_search": args.web_search,
        "network_access": args.network or None,
        "developer_instructions": args.developer_instructions,
        "base_instructions": args.base_instructions,
    }
    if operation != "fork":
        data["cwd"] = args.cd
        data["approval_policy"] = args.approval_policy
        data["config_overrides"] = dict(args.config)
        data["images"] = args.image
        if args.output_schema is not None:
            path = args.output_schema
            if service is not None:
                path = service.checked_file(path, what="output schema")
            data["output_schema"] = _read_schema(path)
    if operation == "run":
        data.update(
            session_name=args.session,
            replace_session=args.replace,
            profile=args.profile,
            add_dirs=args.add_dir,
        )
        return parse_params(RunParams, _without_none(data))
    data.update(_target(args.target))
    if operation == "resume":
        return parse_params(ResumeParams, _without_none(data))
    data["new_session_name"] = args.session
    data["replace_session"] = args.replace
    return parse_params(ForkParams, _without_none(data))


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

    async def work() -> RunOutcome:
        operation = (
            service.run
            if isinstance(params, RunParams)
            else service.resume
            if isinstance(params, ResumeParams)
            else service.fork
        )
        return await operation(
            params,  # type: ignore[arg-type]
            on_progress=on_progress,
            on_event=on_event,
            on_approval=on_approval,
            approvals_unavailable=None if on_approval else NOT_A_TERMINAL,
        )

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
