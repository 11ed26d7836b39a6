"""Descriptions of the service params' fields, as the MCP schemas show them (until they sit
on the Structs themselves)."""

from __future__ import annotations

__all__ = ["FIELD_DOCS", "TOOL_FIELD_DOCS", "docs_for"]

FIELD_DOCS: dict[str, str] = {
    "prompt": (
        "The task for Codex in plain language. Codex does not see your conversation, so say "
        "what to do, where, the constraints and how to check the result."
    ),
    "session_name": "Name of a recorded session (see codex_sessions_list).",
    "thread_id": "Codex thread id (a UUID) from an earlier result's thread_id.",
    "cwd": "Working directory for Codex (absolute, or relative to the default).",
    "model": "Model to use instead of the Codex configuration's default.",
    "sandbox": (
        "Where Codex's shell commands may write: read-only (inspect and answer), "
        "workspace-write (edit files in cwd), danger-full-access (anything)."
    ),
    "approval_policy": (
        "When Codex asks before acting: 'never' (the default) or 'on-request' (Codex asks "
        "the user, through an elicitation form, before running a command outside its "
        "sandbox; the answers are listed in the result's approvals)."
    ),
    "profile": (
        "A profile from the Codex config.toml; refused unless the server's operator allowed "
        "profiles."
    ),
    "config_overrides": (
        'Extra Codex config values as {"dotted.key": value} (like codex -c), model and '
        "reasoning settings only; any other key is refused. Use the sandbox and "
        "approval_policy arguments for those."
    ),
    "replace_session": (
        "Set true to point an existing session name at the new thread; without it an "
        "existing name is refused."
    ),
    "output_schema": (
        "A JSON Schema (object) the final answer must follow; the parsed answer is returned "
        "as structured_output."
    ),
    "images": "Image files to attach to the prompt (paths).",
    "reasoning_effort": "How hard the model thinks (models support a subset).",
    "reasoning_summary": "How much of its reasoning the model summarises.",
    "web_search": "Codex's web search tool: disabled, cached (OpenAI's index) or live.",
    "network_access": (
        "Let Codex's commands use the network (workspace-write sandbox); refused unless the "
        "server's operator allowed network access."
    ),
    "developer_instructions": "Extra instructions Codex follows for this turn.",
    "base_instructions": "Replace Codex's built-in instructions (rarely needed).",
    "add_dirs": "Additional writable directories for the workspace-write sandbox.",
    "timeout_seconds": "Give up (and stop Codex) after this many seconds.",
    "idle_timeout_seconds": "Give up when Codex produces no event for this many seconds.",
    "detail": (
        "summary (default): the answer, thread id, commands with exit codes, files changed and "
        "usage. full: also every Codex event and each command's output (large; only when "
        "you need them)."
    ),
    "new_session_name": "Name to record the forked thread under.",
    "name": "The session name.",
    "new_name": "The new session name.",
    "worktree": (
        "Run Codex in a new git worktree of cwd's repository, on a new branch "
        "codex-bridge/<session, job or run name>, leaving your checkout untouched; the result "
        "reports the worktree, its branch, commits ahead and a diff stat."
    ),
}

TOOL_FIELD_DOCS: dict[str, dict[str, str]] = {
    "codex_run": {
        "session_name": (
            "Record the new thread under this name, to continue it later with codex_resume. "
            "Must not exist yet."
        ),
    },
    "codex_resume": {
        "session_name": "The session to continue (exactly one of session_name or thread_id).",
        "thread_id": "The thread to continue (exactly one of session_name or thread_id).",
        "cwd": "Working directory (default: the session's recorded one, else the default).",
    },
    "codex_fork": {
        "session_name": "The session to fork (exactly one of session_name or thread_id).",
        "thread_id": "The thread to fork (exactly one of session_name or thread_id).",
    },
}


def docs_for(tool: str) -> dict[str, str]:
    """The service fields' descriptions as ``tool`` shows them."""
    return {**FIELD_DOCS, **TOOL_FIELD_DOCS.get(tool, {})}
