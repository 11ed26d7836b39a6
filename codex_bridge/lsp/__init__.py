"""Helpers of the language server (``codex_bridge.lsp_server``): argument forms, editor
settings, code actions and buffer refresh. Only the language server imports them."""
