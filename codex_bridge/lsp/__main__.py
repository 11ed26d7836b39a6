"""``python -m codex_bridge.lsp [flags]``: the same as ``codex-bridge lsp``."""

from ..launch import server_main

if __name__ == "__main__":
    raise SystemExit(server_main("lsp"))
