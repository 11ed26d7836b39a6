"""Getting started §6: named sessions persisted to JSON (the snippet runs unchanged)."""

from codex_local_sdk import CodexLocalClient, JsonFileSessionStore

store = JsonFileSessionStore(".codex_sessions.json")
client = CodexLocalClient(session_store=store)

session, _ = client.start_thread(
    prompt="Create an initial plan.",
    session_name="repo-plan",
)

follow_up = client.resume(
    prompt="Continue with implementation details.",
    session_name="repo-plan",
    last=False,
    json_output=True,
)
print(follow_up.turn_status)
