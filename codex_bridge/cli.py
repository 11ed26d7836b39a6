"""The ``codex-bridge`` command line: run, resume and fork Codex threads, manage sessions,
check the installation, and start the MCP or language server.

A thin front end over :class:`~codex_bridge.service.BridgeService`, the same core the
servers use. On a terminal a run shows a live view (spinner, elapsed time, the command Codex
is running, files it changed, token usage) and renders the final message as Markdown. When
stdout is not a terminal, or with ``--json``, it prints the result as one JSON object;
``--events`` streams every Codex event as JSON Lines instead.

Exit codes:

====  ==============================================================================
0     success
1     the turn failed (or ``doctor`` found a problem, or an unexpected error)
2     usage error: bad arguments, or a request the policy refuses
3     the run timed out (codex's process group was killed)
4     codex is not installed, cannot be started, or is too old
5     no such session (or codex does not know the thread)
130   interrupted by Ctrl-C (codex's process group was killed); 128+N for signal N
====  ==============================================================================
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TextIO

import msgspec

from codex_local_sdk import (
    AgentMessageItem,
    CodexNotInstalledError,
    CodexUsageError,
    CodexVersionError,
    CommandExecutionItem,
    ErrorEvent,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ReasoningEffort,
    ReasoningSummary,
    SandboxMode,
    SessionExistsError,
    SessionNotFoundError,
    ThreadEvent,
    ThreadStarted,
    Usage,
    WebSearchMode,
    event_to_dict,
)

from . import __version__
from .cli_approvals import NOT_A_TERMINAL, terminal_approvals, wants_relay
from .policy import APPROVAL_RANK, BridgePolicy, PolicyError
from .progress import display_command
from .service import (
    BridgeError,
    BridgeService,
    DoctorReport,
    ForkParams,
    ProgressUpdate,
    ResumeParams,
    RunOutcome,
    RunParams,
    SessionInfo,
    parse_params,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

__all__ = [
    "EXIT_CODEX_MISSING",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_TIMEOUT",
    "EXIT_USAGE",
    "build_parser",
    "config_value",
    "main",
]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_CODEX_MISSING = 4
EXIT_NOT_FOUND = 5
EXIT_INTERRUPTED = 128 + signal.SIGINT

PROG = "codex-bridge"
EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the turn failed (doctor: a check failed; also unexpected errors)
  2    usage error: bad arguments, or a request the policy refuses
  3    the run timed out (codex's process group was killed)
  4    codex is not installed, cannot be started, or is too old
  5    no such session (or codex does not know the thread)
  130  interrupted by Ctrl-C (codex's process group was killed); 128+N for signal N
"""
_SANDBOXES = [mode.value for mode in SandboxMode]
_APPROVALS = [policy.value for policy in APPROVAL_RANK]  # codex exec refuses "untrusted"
_INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

OutputMode = Literal["live", "json", "events"]
Operation = Literal["run", "resume", "fork"]


class UsageProblem(Exception):
    """Bad command-line input found after argument parsing (exit code 2)."""


# --------------------------------------------------------------------------- arguments


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _idle_seconds(text: str) -> float | None:
    """Seconds, or ``off`` to disable the idle timeout."""
    if text.lower() in ("off", "none"):
        return None
    return _positive_seconds(text)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def config_value(text: str) -> Any:
    """A ``-c`` value as codex reads it: TOML when it parses, else the literal string."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(f"value = {text}")["value"]
    except tomllib.TOMLDecodeError:
        return text


def _config_pair(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), config_value(raw)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _add_policy_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS defaults: the options work before or after the subcommand without the
    # subcommand's defaults overwriting what was given before it.
    group = parser.add_argument_group(
        "policy", "limits for every run (also set by CODEX_BRIDGE_<FIELD> environment variables)"
    )
    keep = argparse.SUPPRESS

    def option(flag: str, help_text: str, **kwargs: Any) -> None:
        group.add_argument(flag, default=keep, help=help_text, **kwargs)

    option("--store", "session store file", metavar="PATH")
    option("--codex-bin", "codex executable (default: CODEX_BIN, PATH, bundled)", metavar="PATH")
    sandbox = {"choices": _SANDBOXES, "metavar": "MODE"}
    option("--default-sandbox", "sandbox for runs that ask for none (read-only)", **sandbox)
    option("--sandbox-ceiling", "most permissive sandbox allowed (workspace-write)", **sandbox)
    option(
        "--approval-ceiling",
        "most permissive approval policy allowed (on-request)",
        choices=_APPROVALS,
        metavar="POLICY",
    )
    option(
        "--allow-config-key",
        "let callers send this codex config key too (repeatable; plain values only)",
        metavar="KEY",
        action="append",
    )
    option(
        "--allowed-root",
        "working directories must lie under one of these (repeatable)",
        metavar="DIR",
        action="append",
    )
    option("--default-cwd", "working directory for runs that name none", metavar="DIR")
    option(
        "--allow-network",
        "let callers ask for network access in the workspace-write sandbox",
        action="store_true",
    )
    option("--max-concurrency", "codex processes at once (2)", type=_positive_int, metavar="N")
    option(
        "--engine",
        "where turns run: auto (warm app-server in the servers; exec for one-shot runs unless "
        "codex may ask for approval on a terminal), app-server, exec",
        choices=["auto", "app-server", "exec"],
    )
    seconds = {"type": _positive_seconds, "metavar": "SECONDS"}
    option("--default-timeout", "timeout for runs that set none (900)", **seconds)
    option("--max-timeout", "longer timeouts are lowered to this (3600)", **seconds)
    option(
        "--default-idle-timeout",
        "stop runs silent this long (600; off: never)",
        type=_idle_seconds,
        metavar="SECONDS|off",
    )


def _add_server_defaults(parser: argparse.ArgumentParser) -> None:
    """Codex settings a server applies to every call that sets none (launch only)."""
    group = parser.add_argument_group("defaults for every call (callers may name their own)")
    group.add_argument("-m", "--model", dest="default_model", help="model name")
    group.add_argument(
        "--reasoning-effort",
        dest="default_reasoning_effort",
        choices=[e.value for e in ReasoningEffort],
        metavar="EFFORT",
        help=", ".join(e.value for e in ReasoningEffort),
    )
    group.add_argument(
        "-p", "--profile", dest="default_profile", help="codex config profile for new threads"
    )
    group.add_argument(
        "-c",
        "--config",
        dest="default_config",
        metavar="KEY=VALUE",
        type=_config_pair,
        action="append",
        help="codex config override for every call; VALUE is TOML (repeatable; never the "
        "sandbox or approval settings, which the policy decides)",
    )


def _add_mcp_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("MCP server")
    group.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        help="serve streamable HTTP on HOST:PORT (default host 127.0.0.1; port 0 picks one) "
        "instead of stdio; clients must send the bearer token",
    )
    group.add_argument(
        "--token-file",
        metavar="FILE",
        help="HTTP: read the bearer token from FILE (mode 0600); default: a new token is "
        "written to a new 0600 file whose path is printed",
    )
    group.add_argument(
        "--allow-remote",
        action="store_true",
        help="HTTP: allow binding a non-loopback address",
    )
    group.add_argument(
        "--allowed-host",
        action="append",
        metavar="HOST[:PORT]",
        help="HTTP: a Host header clients may use besides the bind address (repeatable)",
    )
    group.add_argument(
        "--compat-tools",
        action="store_true",
        help="also offer `codex` and `codex-reply`, the tools of the removed `codex mcp-server`",
    )


def _add_operation_options(parser: argparse.ArgumentParser, operation: Operation) -> None:
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
        "-s", "--sandbox", choices=_SANDBOXES, metavar="MODE", help=", ".join(_SANDBOXES)
    )
    if operation != "fork":
        request.add_argument(
            "--approval-policy",
            choices=_APPROVALS,
            metavar="POLICY",
            help=", ".join(_APPROVALS) + " (default: never)",
        )
        request.add_argument(
            "-c",
            "--config",
            metavar="KEY=VALUE",
            type=_config_pair,
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
        "--timeout", type=_positive_seconds, metavar="SECONDS", help="stop the run after this long"
    )
    request.add_argument(
        "--idle-timeout",
        type=_positive_seconds,
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Drive the local Codex CLI: runs with live progress, named sessions, "
        "and the MCP and language servers.",
        epilog=EXIT_CODES_HELP,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_policy_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    created: list[argparse.ArgumentParser] = []

    def command(
        parent: Any,
        name: str,
        help_text: str,
        handler: Callable[[argparse.Namespace, BridgePolicy], int] | None,
        *,
        json_option: bool = False,
        aliases: Sequence[str] = (),
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = parent.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=EXIT_CODES_HELP,
            formatter_class=_Formatter,
            aliases=list(aliases),
        )
        if json_option:
            sub.add_argument(
                "--json", action="store_true", help="print JSON (the default off a terminal)"
            )
        if handler is not None:
            sub.set_defaults(handler=handler)
        created.append(sub)
        return sub

    run = command(commands, "run", "start a new Codex thread with PROMPT", _operation_command)
    _add_operation_options(run, "run")
    resume = command(
        commands, "resume", "continue a session (by name) or a thread (by id)", _operation_command
    )
    _add_operation_options(resume, "resume")

    def add_fork(parent: Any) -> None:
        help_text = "fork a session or thread and run PROMPT on the copy"
        fork = command(parent, "fork", help_text, _operation_command)
        _add_operation_options(fork, "fork")

    add_fork(commands)

    sessions = command(commands, "sessions", "list, show, rename, delete or fork sessions", None)
    actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    command(
        actions,
        "list",
        "list sessions, most recent first",
        _sessions_list,
        json_option=True,
        aliases=["ls"],
    )
    show = command(
        actions, "show", "show a session and its recent turns", _sessions_show, json_option=True
    )
    show.add_argument("name")
    rename = command(actions, "rename", "rename a session", _sessions_rename, json_option=True)
    rename.add_argument("name")
    rename.add_argument("new_name")
    delete = command(
        actions,
        "delete",
        "forget a session (codex keeps the thread)",
        _sessions_delete,
        json_option=True,
    )
    delete.add_argument("name")
    add_fork(actions)

    command(
        commands,
        "doctor",
        "check the codex binary, its version, login and the session store",
        _doctor,
        json_option=True,
    )
    for name, help_text in (
        ("mcp", "serve the bridge over MCP (stdio, or streamable HTTP with --http)"),
        ("lsp", "serve the bridge as a language server (stdio)"),
    ):
        server = command(commands, name, help_text, _server)
        _add_server_defaults(server)
        if name == "mcp":
            _add_mcp_options(server)
    for sub in created:  # last, so that each command's own options come first in --help
        _add_policy_options(sub)
    return parser


# --------------------------------------------------------------------------- policy


_POLICY_FIELDS = {
    "store": "store_path",
    "codex_bin": "codex_bin",
    "default_sandbox": "default_sandbox",
    "sandbox_ceiling": "sandbox_ceiling",
    "approval_ceiling": "approval_ceiling",
    "allow_config_key": "allowed_config_keys",
    "allowed_root": "allowed_roots",
    "default_cwd": "default_cwd",
    "allow_network": "allow_network",
    "default_model": "default_model",
    "default_reasoning_effort": "default_reasoning_effort",
    "default_profile": "default_profile",
    "max_concurrency": "max_concurrency",
    "engine": "engine",
    "default_timeout": "default_timeout_seconds",
    "max_timeout": "max_timeout_seconds",
}


def policy_from_args(args: argparse.Namespace) -> BridgePolicy:
    """Defaults ← ``CODEX_BRIDGE_*`` environment ← flags."""
    overrides = {field: getattr(args, flag, None) for flag, field in _POLICY_FIELDS.items()}
    if getattr(args, "default_config", None):
        overrides["default_config"] = dict(args.default_config)
    policy = BridgePolicy.from_sources(overrides)
    if hasattr(args, "default_idle_timeout"):
        # from_sources ignores None overrides, and None ("off") is a meaningful value here.
        policy = msgspec.structs.replace(policy, idle_timeout_seconds=args.default_idle_timeout)
    return policy


# --------------------------------------------------------------------------- errors


def _error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def exit_code_for_error(exc: BridgeError) -> int:
    cause = exc.__cause__
    if isinstance(cause, (CodexNotInstalledError, CodexVersionError)):
        return EXIT_CODEX_MISSING
    if isinstance(cause, SessionNotFoundError):
        return EXIT_NOT_FOUND
    if exc.code in ("invalid_request", "policy") or isinstance(
        cause, (CodexUsageError, SessionExistsError)
    ):
        return EXIT_USAGE
    return EXIT_FAILED


def exit_code_for_outcome(outcome: RunOutcome) -> int:
    if outcome.ok:
        return EXIT_OK
    if outcome.status == "timeout":
        return EXIT_TIMEOUT
    if outcome.status == "cancelled":
        return EXIT_INTERRUPTED
    if outcome.error is not None and outcome.error.kind == "unknown_thread":
        return EXIT_NOT_FOUND
    return EXIT_FAILED


# --------------------------------------------------------------------------- output helpers


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # No markup: names, prompts and paths are shown as they are, brackets included.
    return Console(stderr=stderr, highlight=False, markup=False)


class _Stdout:
    """Machine output on stdout; a reader that goes away (``| head``) ends it quietly."""

    closed = False

    @classmethod
    def line(cls, data: Any) -> None:
        if cls.closed:
            return
        try:
            sys.stdout.write(msgspec.json.encode(data).decode() + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            cls.closed = True
            # Point stdout at /dev/null so the interpreter's final flush does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def _local_time(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _home_relative(path: str | None) -> str:
    if not path:
        return ""
    home = str(Path.home())
    return "~" + path[len(home) :] if path == home or path.startswith(home + os.sep) else path


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def describe_usage(usage: Usage) -> str:
    text = f"{usage.input_tokens:,} in"
    if usage.cached_input_tokens:
        text += f" ({usage.cached_input_tokens:,} cached)"
    text += f", {usage.output_tokens:,} out"
    if usage.reasoning_output_tokens:
        text += f" ({usage.reasoning_output_tokens:,} reasoning)"
    return text


# --------------------------------------------------------------------------- run / resume / fork


def _read_prompt(argument: str) -> str:
    if argument != "-":
        return argument
    if sys.stdin is None:
        return ""
    if _is_terminal(sys.stdin):
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
    try:
        uuid.UUID(value)
    except ValueError:
        return {"session_name": value}
    return {"thread_id": value}


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


class _Interrupted(msgspec.Struct, frozen=True):
    """The run was stopped by this signal."""

    signal_number: int


async def _interruptible(
    work: Callable[[], Awaitable[RunOutcome]], service: BridgeService
) -> RunOutcome | _Interrupted:
    """Run ``work``; Ctrl-C (or SIGTERM/SIGHUP) cancels it, and the SDK kills codex's process
    group while the cancellation unwinds. The service is closed either way."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def stop(signal_number: int) -> None:
        if not received and task is not None:
            received.append(signal_number)
            task.cancel()

    installed = []
    for signal_number in _INTERRUPT_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal_number, stop, signal_number)
            installed.append(signal_number)
    try:
        return await work()
    except asyncio.CancelledError:
        if not received:
            raise
        if task is not None and sys.version_info >= (3, 11):
            task.uncancel()
        return _Interrupted(received[0])
    finally:
        for signal_number in installed:
            loop.remove_signal_handler(signal_number)
        await service.aclose()


def _operation_command(args: argparse.Namespace, policy: BridgePolicy) -> int:
    service = BridgeService(policy)
    params = operation_params(args, service)
    mode: OutputMode = (
        "events" if args.events else "json" if args.json or not _is_terminal(sys.stdout) else "live"
    )
    interactive = _is_terminal(sys.stdin) and mode == "live"
    approval_policy = getattr(params, "approval_policy", None)
    if policy.engine == "auto":  # a one-shot run gains nothing from a warm server
        relays = wants_relay(str(approval_policy) if approval_policy else None, interactive)
        policy = msgspec.structs.replace(policy, engine="app-server" if relays else "exec")
    service = BridgeService(policy)
    view = TerminalView(_console(), params) if mode == "live" else None
    on_approval = terminal_approvals(view.pause, view.resume) if view and interactive else None

    def on_event(event: ThreadEvent) -> None:
        if mode == "events":
            _Stdout.line(event_to_dict(event))
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
        result = asyncio.run(_interruptible(work, service))
    if isinstance(result, _Interrupted):
        if view is not None:
            view.interrupted()
        else:
            print(f"{PROG}: interrupted; codex was stopped", file=sys.stderr)
        return 128 + result.signal_number
    if mode == "events":
        _Stdout.line({"type": "bridge.result", "result": result})
    elif mode == "json":
        _Stdout.line(result)
    elif view is not None:
        view.finish(result)
    if view is None and not result.ok:
        # The JSON on stdout says it to programs; a person reading the terminal needs it too.
        _error(_failure_line(result))
    return exit_code_for_outcome(result)


def _failure_line(outcome: RunOutcome) -> str:
    if outcome.error is None:
        return f"codex {outcome.status}"
    return f"codex {outcome.status}: {outcome.error.message} [{outcome.error.kind}]"


class TerminalView:
    """The live view of one run on a terminal (rich): a spinner line with the elapsed time
    and what Codex is doing, above it a log of commands, file changes and warnings."""

    def __init__(self, console: Console, params: RunParams | ResumeParams | ForkParams) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self.console = console
        self.started = time.monotonic()
        self.activity = "starting codex…"
        self.command: str | None = None
        self.files: list[str] = []
        self.thread_id: str | None = None
        self._pending_message: str | None = None
        self._shown_warnings: set[str] = set()
        cwd = getattr(params, "cwd", None)
        self._cwd = os.path.abspath(cwd) if cwd else os.getcwd()
        self._spinner = Spinner("dots", style="cyan")
        self._live = Live(self, console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> TerminalView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def pause(self) -> None:
        """Stop redrawing (a prompt is shown)."""
        self._live.stop()

    def resume(self) -> None:
        self._live.start()

    def __rich__(self) -> RenderableType:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        doing = f"$ {self.command}" if self.command else self.activity
        line = Text.assemble(
            (f"{_duration(elapsed)} ", "bold cyan"), (doing, "cyan" if self.command else "")
        )
        if self.files:
            line.append(f"  · {_count(len(self.files), 'file')} changed", style="green")
        line.truncate(max(20, self.console.width - 4), overflow="ellipsis")
        self._spinner.update(text=line)
        return self._spinner

    # ---- callbacks (on the event loop; the Live thread only reads this state)
    def on_progress(self, update: ProgressUpdate) -> None:
        self.activity = update.message

    def on_event(self, event: ThreadEvent) -> None:
        from rich.text import Text

        if isinstance(event, ThreadStarted):
            if self.thread_id is not None and event.thread_id != self.thread_id:
                # A new thread within one run: the SDK retries a transient failure.
                self.console.print(Text("retrying on a new thread…", style="yellow"))
            self.thread_id = event.thread_id
            return
        if isinstance(event, ErrorEvent):
            self._shown_warnings.add(event.message)
            self.console.print(Text(f"warning: {event.message}", style="yellow"))
            return
        if not isinstance(event, (ItemStarted, ItemCompleted)):
            return
        item = event.item
        if isinstance(item, AgentMessageItem):
            if isinstance(event, ItemCompleted) and item.text:
                self._flush_message()
                # Held back: if it turns out to be the final message it is shown as Markdown.
                self._pending_message = item.text
            return
        self._flush_message()
        if isinstance(item, CommandExecutionItem):
            command = display_command(item.command)
            if isinstance(event, ItemStarted):
                self.command = command
                return
            self.command = None
            failed = item.exit_code not in (0, None)
            status = f"exit {item.exit_code}" if item.exit_code is not None else item.status
            self.console.print(
                Text.assemble(
                    ("$ ", "bold"), (command, "bold"), (f"  ({status})", "red" if failed else "dim")
                )
            )
        elif isinstance(item, FileChangeItem) and isinstance(event, ItemCompleted):
            for change in item.changes:
                verb = {"add": "added", "delete": "deleted", "update": "edited"}.get(
                    change.kind, change.kind
                )
                if change.path not in self.files:
                    self.files.append(change.path)
                self.console.print(
                    Text.assemble((f"{verb} ", "green"), self._shown_path(change.path))
                )

    def _shown_path(self, path: str) -> str:
        if path.startswith(self._cwd + os.sep):
            return os.path.relpath(path, self._cwd)
        return _home_relative(path)

    def _flush_message(self) -> None:
        from rich.text import Text

        if self._pending_message is not None:
            self.console.print(Text(self._pending_message, style="italic"))
            self._pending_message = None

    # ---- the end
    def interrupted(self) -> None:
        self.console.print("interrupted: codex was stopped", style="yellow")

    def finish(self, outcome: RunOutcome) -> None:
        from rich.markdown import Markdown
        from rich.text import Text

        console = self.console
        if self._pending_message is not None and self._pending_message != outcome.final_message:
            self._flush_message()
        if outcome.structured_output is not None:
            console.print_json(data=outcome.structured_output)
        elif outcome.final_message:
            console.print(Markdown(outcome.final_message))
        for warning in outcome.warnings:
            if warning not in self._shown_warnings:
                console.print(Text(f"warning: {warning}", style="yellow"))
        if outcome.error is not None:
            console.print(
                Text(
                    f"✗ codex {outcome.status}: {outcome.error.message} [{outcome.error.kind}]",
                    style="bold red",
                )
            )
        console.print(Text(self._footer(outcome), style="dim"))

    @staticmethod
    def _footer(outcome: RunOutcome) -> str:
        mark = "✓" if outcome.ok else "✗"
        summary = [f"{mark} {outcome.status} in {_duration(outcome.duration_seconds)}"]
        if outcome.files_changed:
            summary.append(_count(len(outcome.files_changed), "file") + " changed")
        usage = outcome.turn_usage or outcome.usage
        if usage is not None:
            summary.append("tokens " + describe_usage(usage))
        where = []
        if outcome.session_name:
            where.append(f"session {outcome.session_name}")
        if outcome.thread_id:
            where.append(f"thread {outcome.thread_id}")
        lines = [" · ".join(summary), " · ".join(where)]
        target = outcome.session_name or outcome.thread_id
        if target:
            lines.append(f"continue with: {PROG} resume {target} PROMPT")
        return "\n".join(line for line in lines if line)


# --------------------------------------------------------------------------- sessions


def _wants_json(args: argparse.Namespace) -> bool:
    return bool(args.json) or not _is_terminal(sys.stdout)


def _sessions_list(args: argparse.Namespace, policy: BridgePolicy) -> int:
    sessions = BridgeService(policy).list_sessions()
    if _wants_json(args):
        _Stdout.line(sessions)
        return EXIT_OK
    from rich.table import Table

    console = _console()
    if not sessions:
        console.print(f"no sessions in {policy.store_path}")
        return EXIT_OK
    table = Table(box=None, header_style="bold")
    table.add_column("name", overflow="fold")
    table.add_column("thread id", no_wrap=True, min_width=36)  # needed whole to resume
    table.add_column("updated", no_wrap=True)
    table.add_column("turns", justify="right")
    table.add_column("last status")
    table.add_column("cwd", overflow="fold")
    for info in sessions:
        table.add_row(
            info.name,
            info.thread_id,
            _local_time(info.updated_at),
            str(info.turns),
            _styled_status(info.last_status),
            _home_relative(info.cwd),
        )
    console.print(table)
    return EXIT_OK


def _styled_status(status: str | None) -> Text:
    from rich.text import Text

    return Text(status or "", style="green" if status == "completed" else "red")


def _print_session(info: SessionInfo) -> None:
    from rich.table import Table

    console = _console()
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("name", info.name),
        ("thread id", info.thread_id),
        ("created", _local_time(info.created_at)),
        ("updated", _local_time(info.updated_at)),
        ("cwd", _home_relative(info.cwd)),
        ("model", info.model or ""),
        ("turns", str(info.turns)),
        ("last status", _styled_status(info.last_status)),
        ("forked from", info.forked_from or ""),
        ("tokens", describe_usage(info.usage) if info.usage else ""),
    ]
    for label, value in rows:
        if value:
            details.add_row(label, value)
    console.print(details)
    if info.recent_turns:
        turns = Table(title="recent turns", box=None, header_style="bold", title_justify="left")
        for column in ("at", "operation", "status", "prompt", "reply"):
            turns.add_column(column, overflow="ellipsis", no_wrap=column in ("prompt", "reply"))
        for turn in info.recent_turns:
            turns.add_row(
                _local_time(turn.at),
                turn.operation,
                _styled_status(turn.status),
                " ".join(turn.prompt_preview.split()),
                " ".join((turn.final_message_preview or "").split()),
            )
        console.print(turns)


def _sessions_show(args: argparse.Namespace, policy: BridgePolicy) -> int:
    info = BridgeService(policy).show_session(args.name)
    if _wants_json(args):
        _Stdout.line(info)
    else:
        _print_session(info)
    return EXIT_OK


def _sessions_rename(args: argparse.Namespace, policy: BridgePolicy) -> int:
    info = BridgeService(policy).rename_session(args.name, args.new_name)
    if _wants_json(args):
        _Stdout.line(info)
    else:
        _console().print(f"renamed session {args.name!r} to {info.name!r}")
    return EXIT_OK


def _sessions_delete(args: argparse.Namespace, policy: BridgePolicy) -> int:
    info = BridgeService(policy).delete_session(args.name)
    if _wants_json(args):
        _Stdout.line(info)
    elif not info.deleted:
        _console().print(f"no session {info.name!r}: nothing to delete")
    else:
        _console().print(
            f"deleted session {info.name!r} (codex keeps thread {info.thread_id}; "
            f"`{PROG} resume {info.thread_id} PROMPT` still works)"
        )
    return EXIT_OK


# --------------------------------------------------------------------------- doctor & servers


def _doctor(args: argparse.Namespace, policy: BridgePolicy) -> int:
    report = BridgeService(policy).doctor()
    if _wants_json(args):
        data: dict[str, Any] = msgspec.to_builtins(report)
        data["policy"] = policy.describe()
        _Stdout.line(data)
    else:
        _print_doctor(report, policy)
    if report.ok:
        return EXIT_OK
    codex_missing = any(c.name == "codex" and not c.ok for c in report.checks)
    return EXIT_CODEX_MISSING if codex_missing else EXIT_FAILED


def _print_doctor(report: DoctorReport, policy: BridgePolicy) -> None:
    from rich.text import Text

    console = _console()
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


def _server(args: argparse.Namespace, policy: BridgePolicy) -> int:
    # Imported only here: the server modules pull in mcp / pygls, which are slow to import.
    module_name = "codex_bridge.mcp" if args.command == "mcp" else "codex_bridge.lsp_server"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        _error(f"the {args.command} server is not available: {exc}")
        return EXIT_FAILED
    # stdout carries the protocol: logs go to stderr.
    level = os.environ.get("CODEX_BRIDGE_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s: %(message)s")
    serve: Callable[..., None] = module.serve
    options = getattr(module, "options_from_args", None)
    serve(policy, *([options(args)] if options is not None else []))
    return EXIT_OK


# --------------------------------------------------------------------------- main


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return _exit_status(exc)
    handler: Callable[[argparse.Namespace, BridgePolicy], int] = args.handler
    try:
        policy = policy_from_args(args)
        return handler(args, policy)
    except PolicyError as exc:
        _error(str(exc))
        return EXIT_USAGE
    except UsageProblem as exc:
        _error(str(exc))
        return EXIT_USAGE
    except BridgeError as exc:
        _error(exc.message)
        return exit_code_for_error(exc)
    except KeyboardInterrupt:  # outside a run (reading stdin, a server): nothing to clean up
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        traceback.print_exc()
        _error(f"internal error: {exc!r}")
        return EXIT_FAILED
