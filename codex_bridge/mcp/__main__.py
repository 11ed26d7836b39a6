"""``python -m codex_bridge.mcp [flags]``: the same as ``codex-bridge mcp``."""

from ..launch import server_main

if __name__ == "__main__":
    raise SystemExit(server_main("mcp"))
