"""What the tests share, by topic (fixtures live in the ``conftest.py`` files):

* ``paths``: the repository, the recorded data, the npm binaries, the fake codex.
* ``waiting``: ``wait_until`` / ``wait_until_async``, polling with a deadline.
* ``processes``: the processes a test started (by CODEX_HOME or by tag), waiting for them to end.
* ``fake_codex``: the fake codex's log and child; the client settings fast tests use.
* ``real_codex``: the two real codex builds; ``RealCodex``, what the ``real_codex`` fixture gives.
* ``recordings``: real codex runs recorded, and a transport that plays outputs back.
* ``servers``: a bridge server process's environment; the MCP handshakes.
* ``mcp_client`` / ``lsp_client`` / ``terminal``: the MCP server, the language server and the
  command line as their clients meet them.
* ``hosts``: the README's snippets and the real hosts (Codex, Claude Code, Neovim).
* ``mock_messages``: a mock Anthropic Messages API for Claude Code.
* ``figures``: reliability figures, printed at the end of a run.
* ``raw_peers``: raw JSON-RPC peers of the servers (malformed input, killed servers).
* ``host_traffic``: a recording stand-in for ``codex-bridge``: what a host sends our server.
* ``otel_mcp_probe``, ``record_app_server``: scripts run on their own.
"""
