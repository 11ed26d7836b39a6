"""The language server: Codex for editors, over stdio (``codex-bridge lsp``).

Standard LSP only, so generic clients work without an extension:

* ``workspace/executeCommand``: ``codex.run``, ``codex.resume``, ``codex.fork``,
  ``codex.cancel``, ``codex.status`` and ``codex.sessions.list|show|rename|delete``, with
  one object or positional strings as arguments (see ``codex_bridge.lsp.arguments``);
* work-done progress for each run (cancellable), agent messages to ``window/logMessage``,
  a short summary to ``window/showMessage``, a live transcript via ``window/showDocument``
  (and the ``codex/transcript`` request), ``codex/status`` notifications for status lines;
* review mode (default for runs that may write): codex works on an isolated copy and its
  changes come back as one reviewable ``workspace/applyEdit`` (``codex_bridge.lsp.review``);
* the editor's context (focused document, cursor, selection, opt-in unsaved buffers) in
  prompts (``codex_bridge.lsp.context``);
* code actions that carry a codex command and never start codex themselves;
* direct mode: open, unmodified buffers refreshed with ``workspace/applyEdit`` when codex
  changed their files; a warning instead when the buffer has unsaved edits.

Policy, jobs, sessions and progress text belong to :class:`BridgeService`; this package is
protocol glue: :mod:`.server` (the server's state and runs), :mod:`.runs` (a run as the editor
sees it), :mod:`.commands`, :mod:`.features` (the server assembled), :mod:`.protocol` (three
gaps of pygls 2.1 closed), :mod:`.stdio` (the read loop), and the helpers beside them.
Shutdown, exit, SIGTERM and stdin closing all kill every codex process group before the
server goes. ``pygls`` is imported only inside this package.
"""

from .commands import COMMANDS
from .features import build_server
from .server import CodexLanguageServer
from .stdio import serve

__all__ = ["COMMANDS", "CodexLanguageServer", "build_server", "serve"]
