"""The command line assembled: the parser with every subcommand, and :func:`main`."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from ..launch import (
    PROG,
    SERVERS,
    HelpFormatter,
    ServerUnavailable,
    add_policy_options,
    add_server_options,
    policy_from_args,
    run_server,
)
from ..policy import BridgePolicy
from ..service import BridgeError
from .doctor import doctor_command
from .exits import EXIT_CODES_HELP, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, exit_code_for_error
from .output import error
from .run import add_operation_options, operation_command
from .sessions import sessions_delete, sessions_list, sessions_rename, sessions_show


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Drive the local Codex CLI: runs with live progress, named sessions, "
        "and the MCP and language servers.",
        epilog=EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_policy_options(parser)
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
            formatter_class=HelpFormatter,
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

    run = command(commands, "run", "start a new Codex thread with PROMPT", operation_command)
    add_operation_options(run, "run")
    resume = command(
        commands, "resume", "continue a session (by name) or a thread (by id)", operation_command
    )
    add_operation_options(resume, "resume")

    def add_fork(parent: Any) -> None:
        help_text = "fork a session or thread and run PROMPT on the copy"
        fork = command(parent, "fork", help_text, operation_command)
        add_operation_options(fork, "fork")

    add_fork(commands)

    sessions = command(commands, "sessions", "list, show, rename, delete or fork sessions", None)
    actions = sessions.add_subparsers(dest="action", metavar="ACTION", required=True)
    command(
        actions,
        "list",
        "list sessions, most recent first",
        sessions_list,
        json_option=True,
        aliases=["ls"],
    )
    show = command(
        actions, "show", "show a session and its recent turns", sessions_show, json_option=True
    )
    show.add_argument("name")
    rename = command(actions, "rename", "rename a session", sessions_rename, json_option=True)
    rename.add_argument("name")
    rename.add_argument("new_name")
    delete = command(
        actions,
        "delete",
        "forget a session (codex keeps the thread)",
        sessions_delete,
        json_option=True,
    )
    delete.add_argument("name")
    add_fork(actions)

    command(
        commands,
        "doctor",
        "check the codex binary, its version, login and the session store",
        doctor_command,
        json_option=True,
    )
    for name, server in SERVERS.items():
        add_server_options(command(commands, name, server.help, server_command), name)
    for sub in created:  # last, so that each command's own options come first in --help
        add_policy_options(sub)
    return parser


def server_command(args: argparse.Namespace, policy: BridgePolicy) -> int:
    try:
        run_server(args.command, args, policy)
    except ServerUnavailable as exc:
        error(str(exc))
        return EXIT_FAILED
    return EXIT_OK


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
    except BridgeError as exc:
        error(exc.message)
        return exit_code_for_error(exc)
    except KeyboardInterrupt:  # outside a run (reading stdin, a server): nothing to clean up
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        traceback.print_exc()
        error(f"internal error: {exc!r}")
        return EXIT_FAILED
