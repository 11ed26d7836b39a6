"""codex-bridge: MCP and LSP servers and a command line over ``codex_local_sdk``."""

from codex_local_sdk import __version__

__all__ = ["__version__"]
