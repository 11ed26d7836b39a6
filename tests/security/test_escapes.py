"""The server policy, tried as a hostile caller would: every escape class, several variants each,
through the service, the MCP server (in-process client) and the language server.

An attempt counts as refused only when the call is refused *and* no codex process was started
(the fake codex logs every invocation). The figure is recorded for the end-of-run summary.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from codex_bridge.lsp.settings import editor_settings, normalise
from codex_bridge.mcp import build_server
from codex_bridge.policy import APPROVAL_RANK, SANDBOX_RANK, BridgePolicy
from codex_bridge.service import (
    BridgeError,
    BridgeService,
    ForkParams,
    ResumeParams,
    RunParams,
    parse_params,
)
from codex_local_sdk import ApprovalPolicy, JsonFileSessionStore, SandboxMode, SessionRecord
from tests.support.figures import record
from tests.support.servers import server_env

OUTSIDE_THREAD = str(uuid.uuid4())
INSIDE_THREAD = str(uuid.uuid4())
UNKNOWN_THREAD = str(uuid.uuid4())
EVIL = ["sh", "-c", "touch /tmp/pwned"]


class Arena(NamedTuple):
    root: pathlib.Path
    """The only allowed root."""
    work: pathlib.Path
    """The default cwd, inside the root."""
    outside: pathlib.Path
    """An existing directory outside the root, holding an image."""
    store: pathlib.Path
    log: pathlib.Path


class Attempt(NamedTuple):
    escape: str
    """The class of escape."""
    tool: str
    arguments: dict[str, Any]
    code: str = "policy"


@pytest.fixture
def arena(tmp_path: pathlib.Path, fake_env: dict[str, str]) -> Arena:
    root = tmp_path / "root"
    work = root / "work"
    work.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (outside / "schema.json").write_text("{}")
    (root / "link-out").symlink_to(outside)
    (root / "link-png").symlink_to(outside / "secret.png")
    (work / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    store = tmp_path / "sessions.json"
    sessions = JsonFileSessionStore(str(store))
    for name, thread, cwd in (
        ("outside", OUTSIDE_THREAD, outside),
        ("inside", INSIDE_THREAD, work),
        ("via-link", str(uuid.uuid4()), root / "link-out"),
    ):
        sessions.put(SessionRecord(name=name, thread_id=thread, cwd=str(cwd)))
    return Arena(root, work, outside, store, pathlib.Path(fake_env["FAKE_CODEX_LOG"]))


def attempts(a: Arena) -> list[Attempt]:
    """Every escape a hostile caller tried, by class."""
    found: list[Attempt] = []
    overrides: dict[str, Any]

    def add(escape: str, tool: str, code: str = "policy", **arguments: Any) -> None:
        found.append(Attempt(escape, tool, {"prompt": "hi", **arguments}, code))

    # 1. Overrides that run a program on the host (outside any sandbox).
    for overrides in (
        {"mcp_servers": {"x": {"command": "sh", "args": ["-c", "id"]}}},
        {"mcp_servers.x.command": "sh"},
        {"mcp_servers.x": {"command": "sh"}},
        {"notify": EVIL},
        {"notify": "sh"},
        {"shell_environment_policy.set.LD_PRELOAD": "/tmp/evil.so"},
        {"hooks": {"pre": EVIL}},
        {"model_providers.x.auth.command": "sh"},
    ):
        add("program", "codex_run", config_overrides=overrides)
    add("program", "codex_resume", session_name="inside", config_overrides={"notify": EVIL})
    add("program", "codex_job_start", kind="run", config_overrides={"notify": EVIL})
    add("program", "codex_run", profile="evil")
    # 2. Overrides that change the effective permissions (on resume too).
    for overrides in (
        {"sandbox_mode": "danger-full-access"},
        {"sandbox_workspace_write.writable_roots": ["/"]},
        {"sandbox_workspace_write": {"network_access": True}},
        {"approval_policy": "on-request"},
        {"default_permissions": ":danger"},
        {"permissions.x.filesystem": "write"},
        {"profile": "danger"},
        {"profiles.x.sandbox_mode": "danger-full-access"},
    ):
        add("permissions", "codex_resume", session_name="inside", config_overrides=overrides)
    add("permissions", "codex_run", config_overrides={"sandbox_mode": "danger-full-access"})
    add(
        "permissions",
        "codex_job_start",
        kind="resume",
        thread_id=INSIDE_THREAD,
        config_overrides={"sandbox_mode": "danger-full-access"},
    )
    # 3. Overrides that read files outside the roots.
    for key in (
        "model_instructions_file",
        "experimental_instructions_file",
        "model_catalog_json",
        "experimental_compact_prompt_file",
        "log_dir",
        "sqlite_home",
    ):
        add("file-read", "codex_run", config_overrides={key: str(a.outside / "secret.png")})
    add("file-read", "codex_run", config_overrides={"project_doc_fallback_filenames": ["/x"]})
    # 4. Overrides that send the environment (keys) to an endpoint of the caller's choosing.
    for overrides in (
        {"model_provider": "evil"},
        {"model_providers.evil.base_url": "http://attacker.invalid/v1"},
        {"model_providers": {"evil": {"base_url": "http://attacker.invalid", "env_key": "K"}}},
        {"chatgpt_base_url": "http://attacker.invalid"},
        {"openai_base_url": "http://attacker.invalid"},
        {"otel.exporter": {"otlp-http": {"endpoint": "http://attacker.invalid"}}},
        {"shell_environment_policy.inherit": "all"},
        {"experimental_realtime_ws_base_url": "ws://attacker.invalid"},
    ):
        add("endpoint", "codex_run", config_overrides=overrides)
    # 5. Keys that are not dotted identifiers, and allowed keys with values that do not fit.
    for overrides in (
        {'"sandbox_mode"': "danger-full-access"},
        {"sandbox_mode ": "danger-full-access"},
        {"model .x": "a"},
        {"model\nsandbox_mode": "danger-full-access"},
        {"": "x"},
        {"model": {"x": 1}},
        {"model": ["a"]},
        {"model": 'a"\nsandbox_mode="danger-full-access'},
        {"model": "x" * 5000},
        {"model_reasoning_effort": "ultra"},
        {"hide_agent_reasoning": "yes"},
        {"model_context_window": 10**30},
    ):
        add("keys-and-values", "codex_run", config_overrides=overrides)
    add("keys-and-values", "codex_run", model="-c sandbox_mode=danger")
    # 6. Directories outside the roots (cwd, extra writable dirs), symlinks resolved.
    for cwd in (
        "/",
        "../..",
        str(a.outside),
        str(a.root / "link-out"),
        "../link-out",
        "~",
        "/nonexistent/x",
    ):
        add("directories", "codex_run", cwd=cwd)
    add("directories", "codex_run", cwd="x" * 5000)
    add("directories", "codex_run", cwd="a\x00b")
    add("directories", "codex_run", add_dirs=[str(a.outside)])
    add("directories", "codex_run", add_dirs=["../link-out"])
    add("directories", "codex_resume", session_name="inside", cwd=str(a.outside))
    add("directories", "codex_job_start", kind="run", cwd=str(a.outside))
    # 7. Resume / fork whose thread would run outside the roots.
    add("threads", "codex_resume", session_name="outside")
    add("threads", "codex_resume", thread_id=OUTSIDE_THREAD)
    add("threads", "codex_fork", session_name="outside")
    add("threads", "codex_fork", thread_id=OUTSIDE_THREAD)
    add("threads", "codex_resume", session_name="via-link")
    add("threads", "codex_job_start", kind="fork", thread_id=OUTSIDE_THREAD)
    add("threads", "codex_job_start", kind="resume", session_name="outside")
    # 8. Files outside the roots: images (existing or not: the same refusal), symlinks.
    for image in (
        str(a.outside / "secret.png"),
        str(a.outside / "missing.png"),
        "../link-png",
        "../link-out/secret.png",
        "/etc/passwd",
    ):
        add("files", "codex_run", images=[image])
    add("files", "codex_resume", session_name="inside", images=["/etc/passwd"])
    # 9. Sandbox above the ceiling, on every operation.
    for tool, target in (
        ("codex_run", {}),
        ("codex_resume", {"session_name": "inside"}),
        ("codex_fork", {"thread_id": INSIDE_THREAD}),
        ("codex_job_start", {"kind": "resume", "session_name": "inside"}),
    ):
        add("sandbox", tool, sandbox="danger-full-access", **target)
    # 10. Approval policies codex exec refuses or the server does not offer.
    add("approval", "codex_run", "invalid_request", approval_policy="untrusted")
    add("approval", "codex_resume", "invalid_request", session_name="inside", approval_policy="x")
    add("approval", "codex_run", approval_policy="on-request")  # above this server's ceiling
    add("approval", "codex_job_start", kind="run", approval_policy="on-failure")
    # 11. Session names silently pointed at another thread.
    add("overwrite", "codex_run", "session", session_name="inside")
    add("overwrite", "codex_fork", "session", session_name="inside", new_session_name="outside")
    add("overwrite", "codex_job_start", "session", kind="run", session_name="inside")
    return found


def hostile_policy(a: Arena, fake_codex: str) -> BridgePolicy:
    return BridgePolicy(
        store_path=str(a.store),
        codex_bin=fake_codex,
        allowed_roots=(str(a.root),),
        default_cwd=str(a.work),
        sandbox_ceiling=SandboxMode.WORKSPACE_WRITE,
        approval_ceiling=ApprovalPolicy.NEVER,
    )


def codex_runs(a: Arena) -> int:
    return len(a.log.read_text().splitlines()) if a.log.exists() else 0


_KINDS: dict[str, type[RunParams] | type[ResumeParams] | type[ForkParams]] = {
    "run": RunParams,
    "resume": ResumeParams,
    "fork": ForkParams,
}


async def through_service(service: BridgeService, attempt: Attempt) -> BridgeError | None:
    arguments = dict(attempt.arguments)
    try:
        if attempt.tool == "codex_job_start":
            kind = arguments.pop("kind")
            service.start_job(parse_params(_KINDS[kind], arguments))
        elif attempt.tool == "codex_run":
            await service.run(parse_params(RunParams, arguments))
        elif attempt.tool == "codex_resume":
            await service.resume(parse_params(ResumeParams, arguments))
        else:
            await service.fork(parse_params(ForkParams, arguments))
    except BridgeError as exc:
        return exc
    return None


def text_of(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.refused = 0
        self.classes: set[str] = set()
        self.escaped: list[str] = []

    def count(self, escape: str, refused: bool, what: str) -> None:
        self.tried += 1
        self.classes.add(escape)
        if refused:
            self.refused += 1
        else:
            self.escaped.append(what)


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counted = Tally()
    yield counted
    if counted.tried:
        record(
            "policy",
            f"{counted.refused}/{counted.tried} escape attempts refused across "
            f"{len(counted.classes)} classes (service, MCP, LSP, workspace settings)",
        )


async def test_every_escape_is_refused_by_the_service(
    arena: Arena, fake_codex: str, tally: Tally
) -> None:
    service = BridgeService(hostile_policy(arena, fake_codex))
    try:
        for attempt in attempts(arena):
            before = codex_runs(arena)
            error = await through_service(service, attempt)
            refused = error is not None and codex_runs(arena) == before
            tally.count(attempt.escape, refused, f"service {attempt}")
            assert error is not None, f"not refused: {attempt}"
            assert error.code == attempt.code, (attempt, error.message)
            assert codex_runs(arena) == before, f"codex ran: {attempt}"
    finally:
        await service.aclose()
    assert codex_runs(arena) == 0
    assert not tally.escaped


async def test_every_escape_is_refused_by_the_mcp_server(
    arena: Arena, fake_codex: str, tally: Tally
) -> None:
    service = BridgeService(hostile_policy(arena, fake_codex))
    async with Client(build_server(service), mode="legacy") as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        # Only what this server accepts is offered.
        offered = tools["codex_run"].input_schema["properties"]["approval_policy"]["enum"]
        assert offered == ["never"]
        for attempt in attempts(arena):
            before = codex_runs(arena)
            result = await client.call_tool(attempt.tool, attempt.arguments)
            refused = result.is_error and codex_runs(arena) == before
            tally.count(attempt.escape, refused, f"mcp {attempt}: {text_of(result)[:200]}")
        assert codex_runs(arena) == 0
        # The control: the server keeps serving, and a harmless call runs.
        allowed = await client.call_tool(
            "codex_run", {"prompt": "ok", "config_overrides": {"model_verbosity": "low"}}
        )
        assert not allowed.is_error, text_of(allowed)
        assert codex_runs(arena) == 1
    await service.aclose()
    assert not tally.escaped, "\n".join(tally.escaped)


_LSP_COMMANDS = {
    "codex_run": "codex.run",
    "codex_resume": "codex.resume",
    "codex_fork": "codex.fork",
}


async def test_every_escape_is_refused_by_the_language_server(
    arena: Arena, fake_codex: str, tally: Tally
) -> None:
    from lsprotocol import types as lsp
    from pygls.exceptions import JsonRpcException

    from tests.support.lsp_client import start_server, stop_server

    env = server_env(
        store=arena.store,
        codex_bin=fake_codex,
        workdir=arena.work,
        extra={
            "CODEX_BRIDGE_ALLOWED_ROOTS": str(arena.root),
            "CODEX_BRIDGE_APPROVAL_CEILING": "never",
        },
    )
    # The editor's workspace is outside the roots, and its settings try to widen them.
    client = await start_server(
        env,
        workspace=arena.outside,
        init_options={"allowedRoots": [str(arena.outside)], "approvalCeiling": "on-request"},
    )
    try:
        for attempt in attempts(arena):
            command = _LSP_COMMANDS.get(attempt.tool)
            if command is None:
                continue  # jobs are an MCP tool
            before = codex_runs(arena)
            arguments = {**attempt.arguments, "wait": True}
            try:
                await client.workspace_execute_command_async(
                    lsp.ExecuteCommandParams(command=command, arguments=[arguments])
                )
                refused = False
            except JsonRpcException:
                refused = True
            refused = refused and codex_runs(arena) == before
            tally.count(attempt.escape, refused, f"lsp {attempt}")
        assert codex_runs(arena) == 0
        # The control: a harmless call through the same server runs, in the default cwd.
        await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(
                command="codex.run", arguments=[{"prompt": "ok", "wait": True}]
            )
        )
        [entry] = [json.loads(line) for line in arena.log.read_text().splitlines()]
        assert entry["cwd"] == str(arena.work)
    finally:
        await stop_server(client)
    assert not tally.escaped, "\n".join(tally.escaped)


def _shape(message: str, *paths: str) -> str:
    for path in paths:
        message = message.replace(repr(path), "<path>")
    return message


async def test_a_refusal_never_tells_whether_a_path_outside_the_roots_exists(
    arena: Arena, fake_codex: str
) -> None:
    service = BridgeService(hostile_policy(arena, fake_codex))
    existing, missing = str(arena.outside / "secret.png"), str(arena.outside / "nope.png")
    messages = []
    for field, value in (
        ("images", [existing]),
        ("images", [missing]),
        ("cwd", str(arena.outside)),
        ("cwd", str(arena.outside / "nope")),
        ("cwd", "../link-out"),  # a symlink out: the target is not revealed either
    ):
        error = await through_service(
            service, Attempt("oracle", "codex_run", {"prompt": "x", field: value})
        )
        assert error is not None and error.code == "policy"
        assert str(arena.outside) not in error.message.replace(
            repr(value[0] if isinstance(value, list) else value), ""
        )
        messages.append(
            (
                field,
                _shape(
                    error.message,
                    existing,
                    missing,
                    str(arena.outside),
                    str(arena.outside / "nope"),
                    "../link-out",
                ),
            )
        )
    assert messages[0][1] == messages[1][1]
    assert messages[2][1] == messages[3][1] == messages[4][1]
    assert "allowed roots" in messages[0][1] and str(arena.root) in messages[0][1]
    await service.aclose()


async def test_resume_and_fork_run_in_a_checked_directory(
    arena: Arena, fake_codex: str, fake_env: dict[str, str]
) -> None:
    """codex exec resume/fork run the thread in their own cwd: the bridge always sets one."""
    service = BridgeService(hostile_policy(arena, fake_codex))
    first = await service.run(RunParams(prompt="one", session_name="mine"))
    assert first.thread_id is not None
    # Unknown to the store: the default cwd, never the server's own.
    await service.resume(ResumeParams(prompt="two", thread_id=first.thread_id))
    await service.fork(ForkParams(prompt="three", thread_id=first.thread_id))
    cwds = [json.loads(line)["cwd"] for line in arena.log.read_text().splitlines()]
    assert cwds == [str(arena.work)] * 3
    await service.aclose()


async def test_sessions_are_replaced_only_when_asked_and_delete_is_idempotent(
    arena: Arena, fake_codex: str
) -> None:
    service = BridgeService(hostile_policy(arena, fake_codex))
    before = service.show_session("inside").thread_id
    replaced = await service.run(RunParams(prompt="x", session_name="inside", replace_session=True))
    assert replaced.ok and service.show_session("inside").thread_id == replaced.thread_id != before
    assert service.delete_session("inside").deleted
    again = service.delete_session("inside")
    assert (again.deleted, again.thread_id) == (False, None)
    await service.aclose()


@pytest.mark.parametrize(
    "settings",
    [
        {"store_path": "/tmp/elsewhere.json"},
        {"codexBin": "/bin/sh"},
        {"sandbox_ceiling": "danger-full-access"},
        {"default_sandbox": "danger-full-access"},
        {"approval_ceiling": "on-request"},
        {"approval_ceiling": "untrusted"},
        {"allowed_roots": ["/"]},
        {"allowed_roots": ["ROOT/link-out"]},
        {"default_cwd": "/"},
        {"default_cwd": "ROOT/link-out"},
        {"max_timeout_seconds": 10**9},
        {"default_timeout_seconds": 10**9},
        {"idle_timeout_seconds": None},
        {"idle_timeout_seconds": "off"},
        {"idle_timeout_seconds": 10**9},
        {"max_concurrency": 1000},
        {"max_finished_jobs": 10**9},
        {"allowed_config_keys": ["mcp_servers", "notify"]},
        {"codex": {"allowedConfigKeys": "notify", "maxConcurrency": 99}},
    ],
)
def test_workspace_settings_only_narrow(
    arena: Arena, fake_codex: str, settings: dict[str, Any], tally: Tally
) -> None:
    launch = BridgePolicy(
        store_path=str(arena.store),
        codex_bin=fake_codex,
        allowed_roots=(str(arena.root),),
        default_cwd=str(arena.work),
        approval_ceiling=ApprovalPolicy.NEVER,
        default_timeout_seconds=300,
        max_timeout_seconds=600,
        idle_timeout_seconds=60,
        max_concurrency=2,
        max_finished_jobs=50,
        allowed_config_keys=("model_provider",),
    )
    raw = json.loads(json.dumps(settings).replace("ROOT", str(arena.root)))
    policy = editor_settings(launch, normalise(raw)).policy
    wider = [
        field
        for field, is_wider in {
            "store_path": policy.store_path != launch.store_path,
            "codex_bin": policy.codex_bin != launch.codex_bin,
            "sandbox": SANDBOX_RANK[policy.sandbox_ceiling] > SANDBOX_RANK[launch.sandbox_ceiling]
            or SANDBOX_RANK[policy.default_sandbox] > SANDBOX_RANK[launch.sandbox_ceiling],
            "approval": APPROVAL_RANK[policy.approval_ceiling]
            > APPROVAL_RANK[launch.approval_ceiling],
            "roots": not policy.allowed_roots
            or not all(_under(r, launch.allowed_roots) for r in policy.allowed_roots),
            "default_cwd": policy.default_cwd is not None
            and not _under(policy.default_cwd, launch.allowed_roots),
            "timeouts": max(policy.default_timeout_seconds, policy.max_timeout_seconds)
            > launch.max_timeout_seconds,
            "idle": policy.idle_timeout_seconds is None
            or policy.idle_timeout_seconds > (launch.idle_timeout_seconds or 0),
            "concurrency": policy.max_concurrency > launch.max_concurrency,
            "jobs": policy.max_finished_jobs > launch.max_finished_jobs,
            "config_keys": not set(policy.allowed_config_keys) <= set(launch.allowed_config_keys),
        }.items()
        if is_wider
    ]
    tally.count("settings", not wider, f"settings {settings}: wider {wider}")
    assert wider == []


def _under(path: str, roots: tuple[str, ...]) -> bool:
    resolved = pathlib.Path(os.path.realpath(path))
    return any(resolved.is_relative_to(root) for root in roots)


def test_operators_extend_the_allow_list_at_launch_only(arena: Arena, fake_codex: str) -> None:
    service = BridgeService(
        BridgePolicy.from_sources(
            {"store_path": str(arena.store), "codex_bin": fake_codex},
            env={"CODEX_BRIDGE_ALLOWED_CONFIG_KEYS": "tui.theme, profile"},
        )
    )
    assert service.policy.allowed_config_keys == ("tui.theme", "profile")
    request = service._checked_request(
        RunParams(prompt="x", profile="fast", config_overrides={"tui.theme": "dark"})
    )
    assert request.profile == "fast" and request.config_overrides == {"tui.theme": "dark"}
    with pytest.raises(BridgeError, match="must be a string"):  # still plain values only
        service._checked_request(RunParams(prompt="x", config_overrides={"tui.theme": {"a": 1}}))
    with pytest.raises(ValueError, match="dotted identifier"):
        BridgePolicy(allowed_config_keys=("mcp_servers.x y",))


def test_allowed_overrides_still_reach_codex(arena: Arena, fake_codex: str) -> None:
    service = BridgeService(hostile_policy(arena, fake_codex))
    overrides = {
        "model_reasoning_effort": "high",
        "model_verbosity": "low",
        "hide_agent_reasoning": True,
        "model_context_window": 200_000,
    }
    request = service._checked_request(
        RunParams(prompt="x", model="gpt-5.1-codex", config_overrides=overrides)
    )
    assert request.config_overrides == overrides
    assert request.approval_policy is not None and request.approval_policy.value == "never"
    assert re.fullmatch(r".*/root/work", request.cwd or "")
