"""Getting started §5: retry/backoff (the snippet runs unchanged), then one run with it."""

from codex_local_sdk import CodexLocalClient, RetryPolicy

client = CodexLocalClient(
    retry_policy=RetryPolicy(
        max_attempts=3,
        initial_backoff_seconds=0.5,
        backoff_multiplier=2.0,
        max_backoff_seconds=4.0,
        retry_on_exit_codes=None,
        jitter_ratio=0.2,
        max_total_retry_seconds=10.0,
        retry_on_timeouts=True,
    )
)

# Only failures that are safe to repeat are retried (nothing was done yet, and the cause is
# transient: rate limits, model-server errors, network). Usage and auth errors never are.
from codex_local_sdk import CodexExecRequest

result = client.run(CodexExecRequest(prompt="Say hello."), timeout_seconds=120)
print(result.attempts, result.final_message)
