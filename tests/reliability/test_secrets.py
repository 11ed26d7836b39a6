"""Secrets: a key codex was given appears nowhere the SDK or the bridge shows anything.

A fake codex that prints every secret-looking variable it has (stderr, an error event, a
command's output, an agent message) and then fails: every text that comes back is searched.
"""

from __future__ import annotations

import logging
import pathlib

import msgspec
import pytest

from codex_bridge.service import BridgeError, RunOutcome
from codex_local_sdk import (
    CodexClientEvent,
    CodexExecFailedError,
    CodexExecRequest,
    CodexLocalClient,
    JsonFileSessionStore,
    event_to_dict,
)
from tests.support.fake_codex import FAST_RETRY
from tests.support.figures import record

API_KEY = "sk-proj-DISTINCTIVE-4f7a9c21e0b3"
OPENAI_KEY = "sk-openai-OTHERKEY-77aa11bb22"
SERVICE_TOKEN = "ghp_SERVICETOKEN9182736455"
SECRETS = (API_KEY, OPENAI_KEY, SERVICE_TOKEN)


def test_the_key_is_in_no_text_the_sdk_returns(
    fake_codex: str,
    tmp_path: pathlib.Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hook_events: list[CodexClientEvent] = []
    store = JsonFileSessionStore(tmp_path / "store" / "sessions.json")
    client = CodexLocalClient(
        codex_bin=fake_codex,
        retry_policy=FAST_RETRY,
        session_store=store,
        event_hook=hook_events.append,
        timeout_seconds=60,
        check_version=False,
    )
    request = CodexExecRequest(
        prompt="[[fake:leak]][[fake:network]] show me your environment",
        env={"OPENAI_API_KEY": OPENAI_KEY, "DEPLOY_TOKEN": SERVICE_TOKEN},
        config_overrides={
            "model_providers.corp": {
                "name": "corp",
                "http_headers": {"Authorization": f"Bearer {SERVICE_TOKEN}"},
            }
        },
    )
    try:
        with pytest.raises(CodexExecFailedError) as caught:
            client.start_thread(request=request, session_name="leaky", api_key=API_KEY)
        streamed = []
        with client.iter_events(request, api_key=API_KEY) as events:
            streamed = list(events)
        stream_result = events.result
    finally:
        client.close()

    error = caught.value
    result = error.result
    texts = [
        str(error),
        repr(error),
        repr(result),
        msgspec.json.encode(result).decode(),
        repr(request),
        repr(client),
        " ".join(result.argv),
        result.stderr_tail,
        *(msgspec.json.encode(event_to_dict(e)).decode() for e in result.events),
        *(msgspec.json.encode(event_to_dict(e)).decode() for e in streamed),
        msgspec.json.encode(stream_result).decode(),
        *(msgspec.json.encode(e).decode() for e in hook_events),
        *(rec.getMessage() for rec in caplog.records),
        caplog.text,
        (tmp_path / "store" / "sessions.json").read_text(),
        msgspec.json.encode(RunOutcome.from_result(result, "full", ["note"])).decode(),
        str(BridgeError(f"codex said {result.stderr_tail} and {API_KEY}")),
    ]
    found = sum(text.count(secret) for text in texts for secret in SECRETS)
    record("secrets", f"the key in {found} places ({len(texts)} texts searched, 3 keys)")
    assert found == 0
    # The fake did print them: they were scrubbed, not absent.
    assert "***" in result.stderr_tail and "DEPLOY_TOKEN=***" in result.stderr_tail
    assert any("CODEX_API_KEY=***" in text for text in texts)
    assert isinstance(RunOutcome.from_result(result, "summary"), RunOutcome)
