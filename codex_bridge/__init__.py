"""codex-bridge: MCP and LSP servers and a command line over ``codex_local_sdk``."""

__version__ = "0.1.0"
