"""Getting started §7 and §8: an observability hook, then an API key per call (both snippets
run unchanged; §8 uses the client of §7)."""

from codex_local_sdk import CodexClientEvent, CodexLocalClient


def on_event(event: CodexClientEvent) -> None:
    print(event.type, event.operation, event.attempt, event.return_code)


client = CodexLocalClient(event_hook=on_event)

from codex_local_sdk import CodexExecRequest

result = client.run(
    CodexExecRequest(prompt="Analyze open TODOs."),
    api_key="YOUR_CODEX_API_KEY"
)
print(result.final_message)
