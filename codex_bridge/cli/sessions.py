"""``sessions list|show|rename|delete``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..launch import PROG
from ..policy import BridgePolicy
from ..service import BridgeService, SessionInfo
from .exits import EXIT_OK
from .output import Stdout, describe_usage, home_relative, local_time, make_console, wants_json

if TYPE_CHECKING:
    from rich.text import Text


def sessions_list(args: argparse.Namespace, policy: BridgePolicy) -> int:
    sessions = BridgeService(policy).list_sessions()
    if wants_json(args):
        Stdout.line(sessions)
        return EXIT_OK
    from rich.table import Table

    console = make_console()
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
            local_time(info.updated_at),
            str(info.turns),
            _styled_status(info.last_status),
            home_relative(info.cwd),
        )
    console.print(table)
    return EXIT_OK


def _styled_status(status: str | None) -> Text:
    from rich.text import Text

    return Text(status or "", style="green" if status == "completed" else "red")


def _print_session(info: SessionInfo) -> None:
    from rich.table import Table

    console = make_console()
    details = Table.grid(padding=(0, 2))
    details.add_column(style="bold")
    details.add_column()
    rows: list[tuple[str, str | Text]] = [
        ("name", info.name),
        ("thread id", info.thread_id),
        ("created", local_time(info.created_at)),
        ("updated", local_time(info.updated_at)),
        ("cwd", home_relative(info.cwd)),
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
                local_time(turn.at),
                turn.operation,
                _styled_status(turn.status),
                " ".join(turn.prompt_preview.split()),
                " ".join((turn.final_message_preview or "").split()),
            )
        console.print(turns)


def sessions_show(args: argparse.Namespace, policy: BridgePolicy) -> int:
    info = BridgeService(policy).show_session(args.name)
    if wants_json(args):
        Stdout.line(info)
    else:
        _print_session(info)
    return EXIT_OK


def sessions_rename(args: argparse.Namespace, policy: BridgePolicy) -> int:
    info = BridgeService(policy).rename_session(args.name, args.new_name)
    if wants_json(args):
        Stdout.line(info)
    else:
        make_console().print(f"renamed session {args.name!r} to {info.name!r}")
    return EXIT_OK


def sessions_delete(args: argparse.Namespace, policy: BridgePolicy) -> int:
    info = BridgeService(policy).delete_session(args.name)
    if wants_json(args):
        Stdout.line(info)
    elif not info.deleted:
        make_console().print(f"no session {info.name!r}: nothing to delete")
    else:
        make_console().print(
            f"deleted session {info.name!r} (codex keeps thread {info.thread_id}; "
            f"`{PROG} resume {info.thread_id} PROMPT` still works)"
        )
    return EXIT_OK
