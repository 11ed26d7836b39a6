"""The language server's command reference (``docs/lsp-commands.md``), written from the
command table and the descriptions on the params Structs, the same words MCP tool schemas and
the command line's help show. Regenerate with ``python -m codex_bridge.lsp.reference``.
"""

from __future__ import annotations

import sys

from ..rendering import field_description
from ..service import OPERATIONS
from .commands import TABLE, Command

__all__ = ["command_reference"]

_HEADER = """\
# Language server commands

`workspace/executeCommand` commands of `codex-bridge lsp`. Arguments are one object of named
arguments, or the positional ones as strings, optionally followed by one object of the rest.
Written by `python -m codex_bridge.lsp.reference` from the service's params Structs; do not
edit by hand.
"""


def command_reference() -> str:
    """Every command with its arguments, as Markdown."""
    return "\n".join([_HEADER, *(_section(command) for command in TABLE)])


def _section(command: Command) -> str:
    operation = OPERATIONS[command.operation] if command.operation else None
    summary = command.summary or (operation.description if operation else "")
    lines = [f"## `{command.name}`", "", summary, ""]
    if command.positional:
        shown = ", ".join(f"`{name}`" for name in command.positional)
        lines += [f"Positional: {shown}.", ""]
    described = dict(command.options)
    fields: tuple[str, ...] = operation.params.__struct_fields__ if operation else ()
    for name in fields:
        text = field_description(operation.params, name) if operation else None
        described.setdefault(command.renamed.get(name, name), text or "")
    # The positional arguments first, then the params' fields, then the server's own.
    order = [*command.positional, *(command.renamed.get(n, n) for n in fields), *command.options]
    rows = {name: described[name] for name in order}
    if rows:
        lines += ["| argument | |", "|---|---|"]
        lines += [f"| `{name}` | {_cell(text)} |" for name, text in rows.items()]
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(command_reference())
