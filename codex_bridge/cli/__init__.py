"""The ``codex-bridge`` command line: run, resume and fork Codex threads, manage sessions,
check the installation, and start the MCP or language server.

A thin front end over :class:`~codex_bridge.service.BridgeService`, the same core the
servers use. On a terminal a run shows a live view (spinner, elapsed time, the command Codex
is running, files it changed, token usage) and renders the final message as Markdown. When
stdout is not a terminal, or with ``--json``, it prints the result as one JSON object;
``--events`` streams every Codex event as JSON Lines instead.

:mod:`.app` assembles the parser and :func:`main`; :mod:`.run` is ``run``/``resume``/``fork``
(with :mod:`.view`, the live view, and :mod:`.approvals`, the terminal's approval prompt),
:mod:`.sessions` and :mod:`.doctor` the other commands, :mod:`.exits` the exit codes and
:mod:`.output` the shared output helpers. The servers' launch flags come from
:mod:`codex_bridge.launch`.

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

from ..launch import config_value
from .app import build_parser, main
from .exits import (
    EXIT_CODEX_MISSING,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_TIMEOUT,
    EXIT_USAGE,
)

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
