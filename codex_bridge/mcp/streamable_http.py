"""``codex-bridge mcp --http [HOST:]PORT``: the MCP server over streamable HTTP, for several
clients at once.

Everything HTTP is the ``mcp`` SDK's (its streamable HTTP app and session manager, its bearer
authentication and its DNS-rebinding protection) served by uvicorn; this module only decides
the settings:

* loopback by default; any other address needs ``--allow-remote``;
* a bearer token is always required: ``--token-file`` (which must not be readable by others),
  or a new random one written to a new 0600 file whose path is printed. It is compared in
  constant time and never logged;
* Host and Origin headers are checked (the SDK's transport security);
* all clients share one service: one concurrency cap, one job table, one store;
* SIGTERM / SIGINT stop the server, and its lifespan kills every codex.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import uvicorn
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.lowlevel.server import Server
from mcp.server.transport_security import TransportSecuritySettings

from ..launch import ServeOptions
from ..policy import BridgePolicy, PolicyError
from ..service import BridgeService
from .server import build_server, startup_check

__all__ = ["BearerToken", "load_token", "parse_bind", "security_settings", "serve_http"]

logger = logging.getLogger("codex_bridge.http")

_Lifespan = Callable[[Server[BridgeService]], AbstractAsyncContextManager[BridgeService]]
MCP_PATH = "/mcp"
_MIN_TOKEN_LENGTH = 16
_SHUTDOWN_GRACE_SECONDS = 3


class BearerToken:
    """The server's one bearer token, as a ``TokenVerifier`` for the SDK's auth middleware.

    Its repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    def __repr__(self) -> str:
        return "BearerToken(<redacted>)"

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):
            # The SDK keys session ownership on the client id; the token itself is not kept.
            return AccessToken(token="<redacted>", client_id="codex-bridge", scopes=[])
        return None


def parse_bind(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT`` → (host, port); the host defaults to
    127.0.0.1."""
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        port = int(port_text)
    except ValueError:
        raise PolicyError(f"--http {text!r}: expected [HOST:]PORT") from None
    if not 0 <= port <= 65535:
        raise PolicyError(f"--http {text!r}: the port must be 0-65535")
    return host, port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_header(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def security_settings(host: str, extra_hosts: tuple[str, ...] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection: the Host and Origin headers must name this server."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        names.append(_host_header(host))
    hosts = [f"{name}:*" for name in names]
    origins = [f"{scheme}://{name}:*" for name in names for scheme in ("http", "https")]
    for extra in extra_hosts:
        hosts.append(extra if ":" in extra.lstrip("[").split("]")[-1] else f"{extra}:*")
        bare = extra if extra.startswith("[") else extra.split(":")[0]
        origins += [f"{scheme}://{bare}:*" for scheme in ("http", "https")]
        origins += [f"{scheme}://{bare}" for scheme in ("http", "https")]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def load_token(token_file: str | None, state_dir: Path) -> tuple[str, Path, bool]:
    """(token, its file, whether this call created the file)."""
    if token_file is not None:
        path = Path(token_file).expanduser()
        try:
            info = path.stat()
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PolicyError(f"--token-file {token_file}: {exc.strerror}") from None
        if not stat.S_ISREG(info.st_mode) or info.st_mode & 0o077:
            raise PolicyError(
                f"--token-file {token_file} must be a regular file that only you can read "
                f"(chmod 600 {token_file})"
            )
        if len(text) < _MIN_TOKEN_LENGTH or any(c.isspace() for c in text):
            raise PolicyError(
                f"--token-file {token_file}: the token must be one word of at least "
                f"{_MIN_TOKEN_LENGTH} characters"
            )
        return text, path, False
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    token = secrets.token_urlsafe(32)
    fd, name = tempfile.mkstemp(dir=state_dir, prefix="http-token-", text=True)  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        stream.write(token + "\n")
    return token, Path(name), True


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)  # clients that connect before uvicorn is up wait in the backlog
    except OSError as exc:
        sock.close()
        raise PolicyError(f"--http: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def _removing(path: Path, lifespan: _Lifespan) -> _Lifespan:
    """``lifespan``, then remove ``path``: uvicorn re-raises SIGTERM once it has shut down,
    so code after ``run()`` does not run, but the lifespan's end does."""

    @contextlib.asynccontextmanager
    async def removing(server: Server[BridgeService]) -> AsyncIterator[BridgeService]:
        try:
            async with lifespan(server) as state:
                yield state
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    return removing


def serve_http(policy: BridgePolicy, options: ServeOptions) -> None:
    """Serve MCP over streamable HTTP until SIGTERM or SIGINT."""
    assert options.http is not None
    host, port = parse_bind(options.http)
    if not is_loopback(host) and not options.allow_remote:
        raise PolicyError(
            f"--http {options.http}: {host} is not a loopback address; pass --allow-remote to "
            "serve other machines (every client still needs the bearer token)"
        )
    token, token_path, created = load_token(options.token_file, Path(policy.store_path).parent)
    try:
        sock = _listening_socket(host, port)
        bound_port = sock.getsockname()[1]
        service = BridgeService(policy)
        startup_check(service)
        server = build_server(service, options)
        if created:
            server.lifespan = _removing(token_path, server.lifespan)
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            transport_security=security_settings(host, options.allowed_hosts),
            host=host,
            # The SDK's bearer check needs auth settings; with neither an authorization server
            # nor a resource URL they only turn the check on (no OAuth routes are served).
            auth=AuthSettings(
                issuer_url=f"http://{_host_header(host)}:{bound_port}",  # type: ignore[arg-type]
                resource_server_url=None,
            ),
            token_verifier=BearerToken(token),
        )
        config = uvicorn.Config(
            app,
            log_level=logging.getLogger().getEffectiveLevel(),
            access_log=False,
            timeout_graceful_shutdown=_SHUTDOWN_GRACE_SECONDS,
            lifespan="on",
        )
        url = f"http://{_host_header(host)}:{bound_port}{MCP_PATH}"
        print(f"codex-bridge: MCP (streamable HTTP) at {url}", file=sys.stderr, flush=True)
        print(f"codex-bridge: bearer token in {token_path}", file=sys.stderr, flush=True)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        if created:
            with contextlib.suppress(OSError):
                token_path.unlink()
