"""Getting started §3: a first synchronous run (the snippet runs unchanged)."""

from codex_local_sdk import CodexExecRequest, CodexLocalClient, SandboxMode

client = CodexLocalClient()
result = client.run(
    CodexExecRequest(
        prompt="Summarize this repository and suggest three next steps.",
        sandbox=SandboxMode.READ_ONLY,
    ),
    timeout_seconds=120,
)
print(result.final_message)
