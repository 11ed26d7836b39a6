"""A server's launch options: the policy flags (roots, sandbox and approval ceilings, network,
config keys, limits, engine), the codex defaults for every call (model, effort, profile,
``-c``) and the MCP server's own options, parsed into a :class:`BridgePolicy` and
:class:`ServeOptions`.

One place for ``codex-bridge mcp``, ``codex-bridge lsp``, ``python -m codex_bridge.mcp`` and
``python -m codex_bridge.lsp``, so that no adapter imports another: the command line and the
servers' ``__main__`` all come here, and :func:`run_server` starts a server by the entry point
named in :data:`SERVERS` (imported only then: ``mcp`` and ``pygls`` are slow to import).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from codex_local_sdk import ReasoningEffort, SandboxMode

from .policy import APPROVAL_RANK, OFF, BridgePolicy, PolicyError

__all__ = [
    "APPROVALS",
    "PROG",
    "SANDBOXES",
    "SERVERS",
    "HelpFormatter",
    "ServeOptions",
    "ServerName",
    "ServerUnavailable",
    "add_policy_options",
    "add_server_options",
    "config_pair",
    "config_value",
    "policy_from_args",
    "positive_int",
    "positive_seconds",
    "run_server",
    "serve_options_from_args",
    "server_main",
    "server_parser",
]

PROG = "codex-bridge"
SANDBOXES = [mode.value for mode in SandboxMode]
APPROVALS = [policy.value for policy in APPROVAL_RANK]  # codex exec refuses "untrusted"

ServerName = Literal["mcp", "lsp"]


@dataclass(frozen=True)
class _Server:
    help: str
    entry: str
    """``module:function``, called as ``function(policy, options)``; imported by name when
    the server starts, the way a console-script entry point is."""


SERVERS: dict[ServerName, _Server] = {
    "mcp": _Server(
        "serve the bridge over MCP (stdio, or streamable HTTP with --http)",
        "codex_bridge.mcp:serve",
    ),
    "lsp": _Server("serve the bridge as a language server (stdio)", "codex_bridge.lsp:serve"),
}


@dataclass(frozen=True)
class ServeOptions:
    """How ``codex-bridge mcp`` serves (beyond the policy)."""

    compat_tools: bool = False
    """Also offer ``codex`` / ``codex-reply``, the removed ``codex mcp-server``'s tools."""
    http: str | None = None
    """Serve streamable HTTP on ``[HOST:]PORT`` instead of stdio."""
    token_file: str | None = None
    """The HTTP bearer token's file (default: a new token in a new 0600 file)."""
    allow_remote: bool = False
    """Allow a non-loopback HTTP bind."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra Host header values HTTP clients may use (``host`` or ``host:port``)."""


# --------------------------------------------------------------------------- value types


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


def _idle_seconds(text: str) -> object:
    """Seconds, or ``off`` (:data:`~codex_bridge.policy.OFF`) to disable the idle timeout."""
    if text.lower() in ("off", "none"):
        return OFF
    return positive_seconds(text)


def positive_int(text: str) -> int:
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


def config_pair(text: str) -> tuple[str, Any]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    return key.strip(), config_value(raw)


# --------------------------------------------------------------------------- options


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """``--help`` as written (epilogs keep their lines), options in a wider column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def add_policy_options(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS defaults: the options work before or after a subcommand without the
    # subcommand's defaults overwriting what was given before it.
    group = parser.add_argument_group(
        "policy", "limits for every run (also set by CODEX_BRIDGE_<FIELD> environment variables)"
    )
    keep = argparse.SUPPRESS

    def option(flag: str, help_text: str, **kwargs: Any) -> None:
        group.add_argument(flag, default=keep, help=help_text, **kwargs)

    option("--store", "session store file", metavar="PATH")
    option("--codex-bin", "codex executable (default: CODEX_BIN, PATH, bundled)", metavar="PATH")
    sandbox = {"choices": SANDBOXES, "metavar": "MODE"}
    option("--default-sandbox", "sandbox for runs that ask for none (read-only)", **sandbox)
    option("--sandbox-ceiling", "most permissive sandbox allowed (workspace-write)", **sandbox)
    option(
        "--approval-ceiling",
        "most permissive approval policy allowed (on-request)",
        choices=APPROVALS,
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
    option("--max-concurrency", "codex processes at once (2)", type=positive_int, metavar="N")
    option(
        "--engine",
        "where turns run: auto (warm app-server in the servers; exec for one-shot runs unless "
        "codex may ask for approval on a terminal), app-server, exec",
        choices=["auto", "app-server", "exec"],
    )
    seconds = {"type": positive_seconds, "metavar": "SECONDS"}
    option("--default-timeout", "timeout for runs that set none (900)", **seconds)
    option("--max-timeout", "longer timeouts are lowered to this (3600)", **seconds)
    option(
        "--default-idle-timeout",
        "stop runs silent this long (600; off: never)",
        type=_idle_seconds,
        metavar="SECONDS|off",
    )


def add_server_options(parser: argparse.ArgumentParser, server: ServerName) -> None:
    """The codex defaults for every call (launch only), and the MCP server's own options."""
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
        type=config_pair,
        action="append",
        help="codex config override for every call; VALUE is TOML (repeatable; never the "
        "sandbox or approval settings, which the policy decides)",
    )
    if server == "mcp":
        _add_mcp_options(parser)


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


# --------------------------------------------------------------------------- parsing

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
    "default_idle_timeout": "idle_timeout_seconds",
}


def policy_from_args(args: argparse.Namespace) -> BridgePolicy:
    """Defaults ← ``CODEX_BRIDGE_*`` environment ← flags."""
    overrides = {field: getattr(args, flag, None) for flag, field in _POLICY_FIELDS.items()}
    if getattr(args, "default_config", None):
        overrides["default_config"] = dict(args.default_config)
    return BridgePolicy.from_sources(overrides)


def serve_options_from_args(args: argparse.Namespace) -> ServeOptions:
    """The MCP serve options from ``codex-bridge mcp``'s parsed arguments."""
    return ServeOptions(
        compat_tools=bool(getattr(args, "compat_tools", False)),
        http=getattr(args, "http", None),
        token_file=getattr(args, "token_file", None),
        allow_remote=bool(getattr(args, "allow_remote", False)),
        allowed_hosts=tuple(getattr(args, "allowed_host", None) or ()),
    )


# --------------------------------------------------------------------------- starting


class ServerUnavailable(Exception):
    """The server's module cannot be imported."""


def run_server(server: ServerName, args: argparse.Namespace, policy: BridgePolicy) -> None:
    """Start ``server`` with the parsed launch options; returns when it stops."""
    module_name, _, function = SERVERS[server].entry.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ServerUnavailable(f"the {server} server is not available: {exc}") from exc
    serve: Callable[[BridgePolicy, ServeOptions], None] = getattr(module, function)
    # stdout carries the protocol: logs go to stderr.
    level = os.environ.get("CODEX_BRIDGE_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, stream=sys.stderr, format="%(name)s: %(message)s")
    serve(policy, serve_options_from_args(args))


def server_parser(server: ServerName) -> argparse.ArgumentParser:
    """The command line of ``python -m codex_bridge.<server>`` (``codex-bridge <server>``)."""
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {server}",
        description=SERVERS[server].help,
        formatter_class=HelpFormatter,
    )
    add_server_options(parser, server)
    add_policy_options(parser)
    return parser


def server_main(server: ServerName, argv: Sequence[str] | None = None) -> int:
    """``python -m codex_bridge.<server> [flags]``: the same as ``codex-bridge <server>``."""
    try:
        args = server_parser(server).parse_args(argv)
    except SystemExit as exc:  # --help and usage errors
        return exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    try:
        run_server(server, args, policy_from_args(args))
    except PolicyError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ServerUnavailable as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        traceback.print_exc()
        print(f"{PROG}: error: internal error: {exc!r}", file=sys.stderr)
        return 1
    return 0
