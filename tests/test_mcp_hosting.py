"""The MCP server beyond one stdio pipe, through the official ``mcp`` client: structured tool
errors, waiting for several jobs, the drop-in ``codex`` / ``codex-reply`` tools, jobs that
survive the server, worktrees, resource subscriptions and MCP Tasks.

Most tests use the fake codex; the ones named ``real`` drive the real CLI against the mock
Responses API.
"""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest
from anyio.abc import Process
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourcesListChanged
from mcp_types import ResourceListChangedNotification, ResourceUpdatedNotification

from codex_bridge.mcp import build_server
from codex_bridge.policy import BridgePolicy
from codex_bridge.service import BridgeService
from codex_bridge.worktrees import branch_slug
from tests.support.fake_codex import child_started, fake_log
from tests.support.mcp_client import (
    ProgressRecorder,
    call_error,
    call_ok,
    connect,
    failure,
    structured,
    text_of,
)
from tests.support.processes import no_tagged_codex_left, tagged_processes
from tests.support.real_codex import RealCodex
from tests.support.servers import MCP_PROTOCOL
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- structured errors


@pytest.mark.parametrize(
    ("tool", "arguments", "code", "field"),
    [
        ("codex_run", {}, "invalid_request", "prompt"),
        ("codex_run", {"prompt": "x", "bogus": 1}, "invalid_request", "bogus"),
        ("codex_run", {"prompt": "x", "sandbox": "danger-full-access"}, "policy", "sandbox"),
        ("codex_run", {"prompt": "x", "cwd": "/"}, "policy", "cwd"),
        ("codex_run", {"prompt": "x", "config_overrides": {"notify": []}}, "policy", None),
        ("codex_run", {"prompt": "x", "network_access": True}, "policy", "network_access"),
        ("codex_run", {"prompt": " "}, "invalid_request", "prompt"),
        ("codex_resume", {"prompt": "x", "session_name": "ghost"}, "session", "session_name"),
        ("codex_fork", {"prompt": "x", "thread_id": "nope"}, "invalid_request", "thread_id"),
        ("codex_job_status", {"job_id": "job-0"}, "job", "job_id"),
    ],
)
async def test_tool_errors_are_structured(
    make_service: Callable[..., BridgeService],
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    tool: str,
    arguments: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    async with connect(make_service(allowed_roots=(str(workdir),))) as client:
        error = await failure(client, tool, arguments)
    assert error["code"] == code
    assert error["field"] == (field or "config_overrides")
    assert error["message"]
    assert fake_log(fake_env) == []


# --------------------------------------------------------------------------- multi-job wait


async def test_wait_for_any_or_all_of_several_jobs(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(max_concurrency=3), mode) as client:
        quick = await call_ok(client, "codex_job_start", {"prompt": "quick"})
        stalled = await call_ok(client, "codex_job_start", {"prompt": "[[fake:stall]]"})
        ids = [quick["job_id"], stalled["job_id"]]

        some = await call_ok(
            client, "codex_job_wait", {"job_ids": ids, "mode": "any", "wait_seconds": 30}
        )
        assert some["finished"] == [quick["job_id"]]
        assert some["pending"] == [stalled["job_id"]]
        assert some["jobs"][0]["state"] == "completed"
        assert some["jobs"][1]["state"] in ("queued", "running")

        bounded = await call_ok(
            client, "codex_job_wait", {"job_ids": ids, "mode": "all", "wait_seconds": 0.5}
        )
        assert bounded["pending"] == [stalled["job_id"]]  # all: it waited, the stall goes on

        other = await call_ok(client, "codex_job_start", {"prompt": "other"})
        every = await call_ok(
            client,
            "codex_job_wait",
            {"job_ids": [quick["job_id"], other["job_id"]], "mode": "all", "wait_seconds": 30},
        )
        assert every["pending"] == [] and len(every["finished"]) == 2
        assert all(job["thread_id"] for job in every["jobs"])

        error = await failure(client, "codex_job_wait", {"job_ids": [*ids, "job-none"]})
        assert error["field"] == "job_id" and "job-none" in error["message"]
        error = await failure(client, "codex_job_wait", {"job_ids": ids, "job_id": ids[0]})
        assert "exactly one" in error["message"]
        await call_ok(client, "codex_job_cancel", {"job_id": stalled["job_id"]})


# --------------------------------------------------------------------------- compat tools


async def test_compat_tools_are_offered_only_when_asked(
    make_service: Callable[..., BridgeService],
) -> None:
    async with connect(make_service()) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
    assert "codex" not in names and "codex_run" in names
    async with connect(make_service(), compat_tools=True) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert {"codex", "codex-reply", "codex_run"} <= set(tools)
    properties = tools["codex"].input_schema["properties"]
    assert {"prompt", "cwd", "sandbox", "approval-policy", "model", "config"} <= set(properties)
    assert {"prompt", "threadId", "conversationId"} <= set(
        tools["codex-reply"].input_schema["properties"]
    )


async def test_compat_codex_and_reply(
    make_service: Callable[..., BridgeService],
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    mode: str,
    no_codex_left: None,
) -> None:
    project = workdir / "project"
    project.mkdir()
    async with connect(make_service(), mode, compat_tools=True) as client:
        first = await client.call_tool(
            "codex",
            {
                "prompt": "hello",
                "cwd": str(project),
                "sandbox": "workspace-write",
                "approval-policy": "never",
                "config": {"model_reasoning_effort": "low"},
            },
        )
        assert not first.is_error, text_of(first)
        data = first.structured_content
        assert isinstance(data, dict)
        thread = data["threadId"]
        assert thread and data["content"] == "echo: hello"
        assert thread in text_of(first)  # for clients that drop structuredContent
        run = fake_log(fake_env)[-1]
        assert run["cwd"] == str(project)
        assert run["config"]["model_reasoning_effort"] == "low"

        reply = await call_ok(client, "codex-reply", {"prompt": "again", "threadId": thread})
        assert reply["threadId"] == thread and reply["content"] == "echo: again"
        assert fake_log(fake_env)[-1]["cwd"] == str(project)  # where the thread started
        old_name = await call_ok(
            client, "codex-reply", {"prompt": "once more", "conversationId": thread}
        )
        assert old_name["threadId"] == thread


@pytest.mark.parametrize(
    ("arguments", "field", "expected"),
    [
        ({"prompt": "x", "config": {"sandbox_mode": "danger-full-access"}}, "config", "allowed"),
        ({"prompt": "x", "config": {"mcp_servers.evil.command": "sh"}}, "config", "not allowed"),
        ({"prompt": "x", "sandbox": "danger-full-access"}, "sandbox", "ceiling"),
        ({"prompt": "x", "approval-policy": "untrusted"}, "approval-policy", "untrusted"),
        ({"prompt": "x", "cwd": "/"}, "cwd", "outside the allowed roots"),
        ({"prompt": "x", "profile": "yolo"}, "profile", "profile is not allowed"),
        ({"prompt": "x", "include-everything": True}, "include-everything", "unknown field"),
    ],
)
async def test_compat_tools_keep_the_policy(
    make_service: Callable[..., BridgeService],
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    arguments: dict[str, Any],
    field: str,
    expected: str,
) -> None:
    service = make_service(allowed_roots=(str(workdir),), approval_ceiling="on-failure")
    async with connect(service, compat_tools=True) as client:
        error = await failure(client, "codex", arguments)
        assert error["field"] == field and expected in error["message"], error
        reply = await failure(client, "codex-reply", {"prompt": "x"})
        assert reply["field"] == "threadId"
        message = await call_error(
            client, "codex-reply", {"prompt": "x", "threadId": "not-a-thread"}
        )
        assert "not a codex thread id" in message
    assert fake_log(fake_env) == []


async def test_resume_by_thread_id_runs_where_the_thread_started(
    make_service: Callable[..., BridgeService],
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    no_codex_left: None,
) -> None:
    elsewhere = workdir / "elsewhere"
    elsewhere.mkdir()
    async with connect(make_service()) as client:
        first = await call_ok(client, "codex_run", {"prompt": "a", "cwd": str(elsewhere)})
        await call_ok(client, "codex_resume", {"prompt": "b", "thread_id": first["thread_id"]})
    assert fake_log(fake_env)[-1]["cwd"] == str(elsewhere)


# --------------------------------------------------------------------------- streamable HTTP


class HttpServer:
    """A ``codex-bridge mcp --http`` process: its URL, its token and its stderr."""

    def __init__(self, process: Process, url: str, token: str, token_path: pathlib.Path) -> None:
        self.process = process
        self.url = url
        self.token = token
        self.token_path = token_path

    def client(self, mode: str = "legacy", token: str | None = None) -> Client:
        headers = {"Authorization": f"Bearer {self.token if token is None else token}"}
        http = create_mcp_http_client(headers=headers)
        return Client(streamable_http_client(self.url, http_client=http), mode=mode)


@asynccontextmanager
async def http_server(
    env: dict[str, str], cwd: pathlib.Path, *args: str
) -> AsyncIterator[HttpServer]:
    command = [sys.executable, "-m", "codex_bridge.mcp", "--http", "127.0.0.1:0", *args]
    async with await anyio.open_process(
        command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    ) as process:
        assert process.stderr is not None
        lines: list[str] = []
        buffer = b""
        with anyio.fail_after(30):
            while len([line for line in lines if line.startswith("codex-bridge: ")]) < 2:
                chunk = await process.stderr.receive()
                buffer += chunk
                *done, rest = buffer.split(b"\n")
                lines += [line.decode() for line in done]
                buffer = rest
        url = next(line.split(" at ", 1)[1] for line in lines if " at http" in line)
        token_path = pathlib.Path(
            next(line.split(" in ", 1)[1] for line in lines if "token in" in line)
        )
        server = HttpServer(process, url, token_path.read_text().strip(), token_path)

        async def drain() -> None:
            assert process.stderr is not None
            with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
                while True:
                    await process.stderr.receive()

        async with anyio.create_task_group() as group:
            group.start_soon(drain)
            try:
                yield server
            finally:
                if process.returncode is None:
                    process.terminate()
                    with anyio.fail_after(30):
                        await process.wait()
                group.cancel_scope.cancel()


def _initialize_body() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"},
        },
    }


async def _raw_post(url: str, headers: dict[str, str]) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        response: httpx2.Response = await http.post(
            url,
            json=_initialize_body(),
            headers={"Accept": "application/json, text/event-stream", **headers},
        )
    return response


async def test_http_requires_the_token_and_checks_origin(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, mode: str, no_codex_left: None
) -> None:
    async with http_server(bridge_env, tmp_path) as server:
        assert server.token_path.stat().st_mode & 0o777 == 0o600
        assert (await _raw_post(server.url, {})).status_code == 401
        wrong = await _raw_post(server.url, {"Authorization": "Bearer " + "x" * 43})
        assert wrong.status_code == 401
        bearer = {"Authorization": f"Bearer {server.token}"}
        foreign = await _raw_post(server.url, {**bearer, "Origin": "http://evil.example"})
        assert foreign.status_code == 403
        rebound = await _raw_post(server.url, {**bearer, "Host": "evil.example"})
        assert rebound.status_code == 421
        assert (await _raw_post(server.url, bearer)).status_code == 200

        async with server.client(mode) as client:
            assert client.protocol_version == MCP_PROTOCOL[mode]
            answer = await call_ok(client, "codex_run", {"prompt": "over http"})
            assert answer["final_message"] == "echo: over http"
        with pytest.raises(Exception):  # noqa: B017 - the SDK wraps the 401 differently per era
            async with server.client(mode, token="not-the-token") as client:
                await client.list_tools()
    assert not server.token_path.exists()  # a generated token file goes with the server


async def test_http_clients_share_one_service(
    bridge_env: dict[str, str],
    tmp_path: pathlib.Path,
    state_dir: pathlib.Path,
    tag: str,
    no_codex_left: None,
) -> None:
    env = {**bridge_env, "CODEX_BRIDGE_MAX_CONCURRENCY": "1"}
    recorder = ProgressRecorder()
    async with (
        http_server(env, tmp_path) as server,
        server.client("legacy") as first,
        server.client("2026-07-28") as second,
    ):
        job = await call_ok(first, "codex_job_start", {"prompt": "[[fake:stall]]"})
        outcomes: list[dict[str, Any]] = []

        async def queued_run() -> None:
            outcomes.append(
                await call_ok(second, "codex_run", {"prompt": "later"}, progress_callback=recorder)
            )

        async with anyio.create_task_group() as group:
            group.start_soon(queued_run)
            await wait_until_async(
                lambda: recorder.messages, timeout=20, message="a progress message"
            )
            assert recorder.messages[0] == "queued: waiting for a free codex slot"
            listed = await call_ok(second, "codex_jobs_list", {})
            assert [j["job_id"] for j in listed["jobs"]] == [job["job_id"]]
            await call_ok(second, "codex_job_cancel", {"job_id": job["job_id"]})
        assert outcomes[0]["final_message"] == "echo: later"


async def test_http_sigterm_kills_codex(
    bridge_env: dict[str, str],
    tmp_path: pathlib.Path,
    state_dir: pathlib.Path,
    tag: str,
    no_codex_left: None,
) -> None:
    async with http_server(bridge_env, tmp_path) as server:
        async with server.client() as client:
            await call_ok(client, "codex_job_start", {"prompt": "[[fake:child]]"})
            await child_started(state_dir, timeout=20)
        # Jobs belong to the server, not to the HTTP session that started them.
        assert len(tagged_processes(tag)) == 2
        server.process.terminate()
        with anyio.fail_after(30):
            await server.process.wait()
    await no_tagged_codex_left(tag)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--http", "0.0.0.0:0"], "--allow-remote"),
        (["--http", "127.0.0.1:x"], "expected [HOST:]PORT"),
        (["--http", "0", "--token-file", "TOKEN"], "only you can read"),
    ],
)
def test_http_refusals(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, args: list[str], expected: str
) -> None:
    token = tmp_path / "token"
    token.write_text("a-long-enough-token-value\n")
    token.chmod(0o644)
    args = [str(token) if arg == "TOKEN" else arg for arg in args]
    done = subprocess.run(
        [sys.executable, "-m", "codex_bridge.mcp", *args],
        env=bridge_env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr
    assert "a-long-enough-token-value" not in done.stderr


async def test_http_token_file(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, no_codex_left: None
) -> None:
    token = tmp_path / "token"
    token.write_text("my-own-token-0123456789\n")
    token.chmod(0o600)
    async with http_server(bridge_env, tmp_path, "--token-file", str(token)) as server:
        assert server.token == "my-own-token-0123456789"
        async with server.client() as client:
            assert (await call_ok(client, "codex_sessions_list", {}))["sessions"] == []
    assert token.exists()  # the operator's file is left alone


# --------------------------------------------------------------------------- worktrees


def git(cwd: pathlib.Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.fixture
def repo(workdir: pathlib.Path) -> pathlib.Path:
    path = workdir / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "t@example.com")
    git(path, "config", "user.name", "t")
    (path / "README").write_text("hello\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "init")
    return path


async def test_worktree_run_leaves_the_checkout_untouched(
    make_service: Callable[..., BridgeService],
    repo: pathlib.Path,
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    no_codex_left: None,
) -> None:
    monkeypatch.setenv("FAKE_CODEX_WRITE_FILE", "hello.txt")
    head = git(repo, "rev-parse", "HEAD")
    async with connect(make_service(allowed_roots=(str(workdir),))) as client:
        result = await call_ok(
            client,
            "codex_run",
            {
                "prompt": "[[fake:file_change]]",
                "cwd": str(repo),
                "worktree": True,
                "session_name": "feature x",
                "sandbox": "workspace-write",
            },
        )
        tree = result["worktree"]
        assert tree["branch"] == "codex-bridge/feature-x"
        assert tree["base_commit"] == head and tree["commits_ahead"] == 0
        assert (tree["files_changed"], tree["insertions"], tree["deletions"]) == (1, 1, 0)
        assert "hello.txt" in tree["diff_stat"]
        path = pathlib.Path(tree["path"])
        assert (path / "hello.txt").exists() and fake_log(fake_env)[-1]["cwd"] == str(path)
        # the main checkout is untouched; the branch exists
        assert git(repo, "status", "--porcelain") == "" and not (repo / "hello.txt").exists()
        assert git(repo, "rev-parse", "--verify", "codex-bridge/feature-x") == head

        # a commit in the worktree counts as ahead; resuming the session works there
        git(path, "-c", "user.email=t@example.com", "-c", "user.name=t", "add", "hello.txt")
        git(path, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "x")
        await call_ok(client, "codex_resume", {"prompt": "more", "session_name": "feature x"})
        assert fake_log(fake_env)[-1]["cwd"] == str(path)

        job = await call_ok(
            client,
            "codex_job_start",
            {"prompt": "[[fake:file_change]]", "cwd": str(repo), "worktree": True},
        )
        waited = await call_ok(client, "codex_job_wait", {"job_id": job["job_id"]})
        assert waited["outcome"]["worktree"]["branch"] == f"codex-bridge/{job['job_id']}"

        listed = await call_ok(client, "codex_worktrees_list", {"cwd": str(repo)})
        branches = sorted(w["branch"] for w in listed["worktrees"])
        assert branches == sorted(["codex-bridge/feature-x", f"codex-bridge/{job['job_id']}"])
        refused = await failure(
            client, "codex_worktree_remove", {"cwd": str(repo), "branch": "main"}
        )
        assert refused["field"] == "branch"
        kept = await failure(
            client,
            "codex_worktree_remove",
            {"cwd": str(repo), "branch": f"codex-bridge/{job['job_id']}"},
        )
        assert "force" in kept["message"]  # it has the fake's uncommitted edit
        await call_ok(
            client,
            "codex_worktree_remove",
            {
                "cwd": str(repo),
                "branch": "codex-bridge/feature-x",
                "delete_branch": True,
                "force": True,
            },
        )
        assert not path.exists()
        assert "codex-bridge/feature-x" not in git(repo, "branch", "--list")


async def test_worktree_refusals(
    make_service: Callable[..., BridgeService],
    repo: pathlib.Path,
    workdir: pathlib.Path,
    fake_env: dict[str, str],
) -> None:
    plain = workdir / "plain"
    plain.mkdir()
    inner = repo / "sub"
    inner.mkdir()
    async with connect(make_service(allowed_roots=(str(workdir),))) as client:
        error = await failure(
            client, "codex_run", {"prompt": "x", "cwd": str(plain), "worktree": True}
        )
        assert error["field"] == "worktree" and "not inside a git repository" in error["message"]
        error = await failure(
            client, "codex_job_start", {"prompt": "x", "cwd": str(plain), "worktree": True}
        )
        assert "not inside a git repository" in error["message"]
    # a root inside the repository: the worktree (in the repository's git dir) is outside it
    async with connect(make_service(allowed_roots=(str(inner),))) as client:
        error = await failure(
            client, "codex_run", {"prompt": "x", "cwd": str(inner), "worktree": True}
        )
        assert "outside the allowed roots" in error["message"]
    assert fake_log(fake_env) == []
    assert git(repo, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_branch_names_are_sanitised() -> None:
    assert branch_slug("--upload-pack=evil") == "upload-pack-evil"
    assert branch_slug("../../etc/passwd") == "etc-passwd"
    assert branch_slug("a b\x00c.lock") == "a-b-c-lock"
    assert branch_slug("...") == "work"
    assert branch_slug("x" * 100) == "x" * 60


# --------------------------------------------------------------------------- durable jobs


async def test_jobs_survive_a_server_restart_as_lost(
    bridge_env: dict[str, str],
    tmp_path: pathlib.Path,
    state_dir: pathlib.Path,
    tag: str,
    fake_env: dict[str, str],
) -> None:
    """A server killed while a job runs: the next server lists the job as lost, with its
    thread id, and the thread resumes."""
    async with http_server(bridge_env, tmp_path) as server:
        async with server.client() as client:
            done = await call_ok(client, "codex_job_start", {"prompt": "finished"})
            await call_ok(client, "codex_job_wait", {"job_id": done["job_id"]})
            running = await call_ok(client, "codex_job_start", {"prompt": "[[fake:stall]]"})
            status: dict[str, Any] = {}

            async def has_thread() -> bool:
                status.update(
                    await call_ok(client, "codex_job_status", {"job_id": running["job_id"]})
                )
                return bool(status.get("thread_id"))

            await wait_until_async(has_thread, timeout=30, message="the job's thread id")
        server.process.kill()  # no clean-up at all
        await server.process.wait()
    for process in tagged_processes(tag):  # the orphaned codex the dead server left
        process.kill()
    await no_tagged_codex_left(tag)

    async with http_server(bridge_env, tmp_path) as server, server.client() as client:
        jobs = {j["job_id"]: j for j in (await call_ok(client, "codex_jobs_list", {}))["jobs"]}
        assert jobs[done["job_id"]]["state"] == "completed"
        lost = jobs[running["job_id"]]
        assert lost["state"] == "lost" and lost["thread_id"] == status["thread_id"]
        assert "codex_resume" in lost["error"]
        assert (await call_ok(client, "codex_job_status", {"job_id": lost["job_id"]}))[
            "state"
        ] == "lost"
        resumed = await call_ok(
            client, "codex_resume", {"prompt": "go on", "thread_id": lost["thread_id"]}
        )
        assert resumed["thread_id"] == lost["thread_id"]
        assert fake_log(fake_env)[-1]["cwd"] == lost["cwd"]
        waited = await call_ok(
            client, "codex_job_wait", {"job_ids": [lost["job_id"]], "mode": "all"}
        )
        assert waited["finished"] == [lost["job_id"]]
    await no_tagged_codex_left(tag)


# --------------------------------------------------------------------------- codex threads


async def test_real_codex_threads_are_listed_within_the_roots(
    real_codex: RealCodex, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in real_codex.env.items():
        monkeypatch.setenv(key, value)
    inside = real_codex.workdir / "inside"
    outside = tmp_path / "outside"
    inside.mkdir()
    outside.mkdir()
    wide = BridgeService(
        BridgePolicy.from_sources(
            {
                "store_path": str(tmp_path / "store" / "sessions.json"),
                "codex_bin": real_codex.binary,
                "default_cwd": str(inside),
            },
            env={},
        )
    )
    async with connect(wide) as client:
        for where, prompt in ((inside, "first inside"), (outside, "then outside")):
            await call_ok(
                client, "codex_run", {"prompt": prompt, "cwd": str(where), "timeout_seconds": 120}
            )
        listed = (await call_ok(client, "codex_threads_list", {}))["threads"]
        assert [t["preview"] for t in listed[:2]] == ["then outside", "first inside"]
    narrow = BridgeService(
        BridgePolicy.from_sources(
            {
                "store_path": str(tmp_path / "store" / "sessions.json"),
                "codex_bin": real_codex.binary,
                "default_cwd": str(inside),
                "allowed_roots": [str(real_codex.workdir)],
            },
            env={},
        )
    )
    async with connect(narrow) as client:
        result = await client.call_tool("codex_threads_list", {"limit": 50})
        threads = structured(result)["threads"]
        assert [t["preview"] for t in threads] == ["first inside"]
        assert "then outside" not in text_of(result) and str(outside) not in text_of(result)
        resumed = await call_ok(
            client,
            "codex_resume",
            {"prompt": "again", "thread_id": threads[0]["thread_id"], "timeout_seconds": 120},
        )
        assert resumed["thread_id"] == threads[0]["thread_id"]
        assert (await failure(client, "codex_threads_list", {"limit": 0}))["field"] == "limit"


async def test_real_codex_writes_in_its_worktree(
    real_codex: RealCodex, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in real_codex.env.items():
        monkeypatch.setenv(key, value)
    repository = real_codex.workdir / "repo"
    repository.mkdir()
    git(repository, "init", "-q", "-b", "main")
    (repository / "README").write_text("hello\n")
    git(repository, "add", "README")
    git(repository, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "i")
    service = BridgeService(
        BridgePolicy.from_sources(
            {
                "store_path": str(tmp_path / "store" / "sessions.json"),
                "codex_bin": real_codex.binary,
                "allowed_roots": [str(real_codex.workdir)],
                "default_cwd": str(repository),
            },
            env={},
        )
    )
    async with connect(service) as client:
        result = await call_ok(
            client,
            "codex_run",
            {
                "prompt": "[[mock:run]] [[cmd]]echo from-codex > made.txt[[/cmd]]",
                "worktree": True,
                "sandbox": "workspace-write",
                "timeout_seconds": 120,
            },
        )
    tree = result["worktree"]
    assert (pathlib.Path(tree["path"]) / "made.txt").read_text() == "from-codex\n"
    assert tree["files_changed"] == 1 and "made.txt" in tree["diff_stat"]
    assert not (repository / "made.txt").exists()
    assert git(repository, "status", "--porcelain") == ""


# --------------------------------------------------------------------------- subscriptions


class Notifications:
    """A message handler that keeps the resource notifications a client receives."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.list_changed = 0

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            self.updated.append(str(message.params.uri))
        elif isinstance(message, ResourceListChangedNotification):
            self.list_changed += 1


@pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed")
async def test_subscriptions_on_the_2025_handshake(
    make_service: Callable[..., BridgeService], no_codex_left: None
) -> None:
    seen = Notifications()
    server = build_server(make_service())
    async with Client(server, mode="legacy", message_handler=seen) as client:
        capabilities = client.server_capabilities.resources
        assert capabilities is not None and capabilities.subscribe and capabilities.list_changed
        await client.list_resources()
        await client.session.subscribe_resource("codex://sessions/s1")
        await call_ok(client, "codex_run", {"prompt": "x", "session_name": "s1"})
        await wait_until_async(
            lambda: "codex://sessions/s1" in seen.updated, timeout=20, message="s1 updated"
        )
        await wait_until_async(
            lambda: seen.list_changed >= 1, timeout=20, message="a list_changed notification"
        )

        job = await call_ok(client, "codex_job_start", {"prompt": "[[fake:stall]]"})
        uri = f"codex://jobs/{job['job_id']}"
        await client.session.subscribe_resource(uri)
        await call_ok(client, "codex_job_cancel", {"job_id": job["job_id"]})
        await wait_until_async(lambda: uri in seen.updated, timeout=20, message=f"{uri} updated")
        read = await client.read_resource(uri)
        assert '"cancelled"' in read.contents[0].text  # type: ignore[union-attr]

        await client.session.unsubscribe_resource("codex://sessions/s1")
        before = len(seen.updated)
        await call_ok(client, "codex_resume", {"prompt": "y", "session_name": "s1"})
        await anyio.sleep(0.2)
        assert "codex://sessions/s1" not in seen.updated[before:]


async def test_subscriptions_listen_on_2026(
    make_service: Callable[..., BridgeService], no_codex_left: None
) -> None:
    async with Client(build_server(make_service()), mode="2026-07-28") as client:
        job = await call_ok(client, "codex_job_start", {"prompt": "[[fake:stall]]"})
        uri = f"codex://jobs/{job['job_id']}"
        session_uri = "codex://sessions/made%20here"
        events: list[Any] = []
        async with client.listen(
            resources_list_changed=True, resource_subscriptions=[uri, session_uri]
        ) as subscription:

            async def collect() -> None:
                async for event in subscription:
                    events.append(event)

            async with anyio.create_task_group() as group:
                group.start_soon(collect)
                await call_ok(client, "codex_run", {"prompt": "x", "session_name": "made here"})
                await call_ok(client, "codex_job_cancel", {"job_id": job["job_id"]})
                await wait_until_async(
                    lambda: {getattr(e, "uri", None) for e in events} >= {uri, session_uri},
                    timeout=20,
                    message=f"updates of {uri} and {session_uri}",
                )
                assert any(isinstance(e, ResourcesListChanged) for e in events)
                group.cancel_scope.cancel()


# --------------------------------------------------------------------------- MCP Tasks


async def raw(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A request the client has no typed method for (the SDK has no Tasks client)."""
    result: dict[str, Any] = await client.session._dispatcher.send_raw_request(method, params, None)
    return result


async def test_task_augmented_run_and_cancel(
    make_service: Callable[..., BridgeService],
    state_dir: pathlib.Path,
    tag: str,
    no_codex_left: None,
) -> None:
    async with connect(make_service()) as client:
        tasks = client.server_capabilities.tasks
        assert tasks is not None and tasks.requests and tasks.requests.tools
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert tools["codex_run"].execution is not None
        assert tools["codex_run"].execution.task_support == "optional"

        created = await raw(
            client,
            "tools/call",
            {"name": "codex_run", "arguments": {"prompt": "[[fake:shell]]"}, "task": {"ttl": 6e4}},
        )
        task = created["task"]
        assert task["status"] == "working" and task["ttl"] == 60000
        result = await raw(client, "tasks/result", {"taskId": task["taskId"]})
        assert result["structuredContent"]["final_message"] == "All done."
        assert result["isError"] is False
        assert result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task["taskId"]
        got = await raw(client, "tasks/get", {"taskId": task["taskId"]})
        assert got["status"] == "completed"
        status = await call_ok(client, "codex_job_status", {"job_id": task["taskId"]})
        assert status["state"] == "completed"  # the same job the job tools see

        stalled = await raw(
            client,
            "tools/call",
            {"name": "codex_run", "arguments": {"prompt": "[[fake:child]]"}, "task": {}},
        )
        task_id = stalled["task"]["taskId"]
        await child_started(state_dir, timeout=20)
        assert len(tagged_processes(tag)) == 2
        cancelled = await raw(client, "tasks/cancel", {"taskId": task_id})
        assert cancelled["status"] == "cancelled"
        await no_tagged_codex_left(tag)
        with pytest.raises(MCPError, match="already ended"):
            await raw(client, "tasks/cancel", {"taskId": task_id})
        listed = await raw(client, "tasks/list", {})
        assert [t["status"] for t in listed["tasks"]] == ["completed", "cancelled"]

        with pytest.raises(MCPError, match="does not run as a task"):
            await raw(client, "tools/call", {"name": "codex_jobs_list", "task": {}})
        with pytest.raises(MCPError, match="not an existing directory"):
            await raw(
                client,
                "tools/call",
                {"name": "codex_run", "arguments": {"prompt": "x", "cwd": "/nope"}, "task": {}},
            )
        with pytest.raises(MCPError, match="no task"):
            await raw(client, "tasks/get", {"taskId": "job-none"})
        # without params.task the same tool answers as before
        plain = await call_ok(client, "codex_run", {"prompt": "plain"})
        assert plain["final_message"] == "echo: plain"


async def test_tasks_over_http(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, no_codex_left: None
) -> None:
    async with http_server(bridge_env, tmp_path) as server, server.client() as client:
        created = await raw(
            client,
            "tools/call",
            {"name": "codex_run", "arguments": {"prompt": "over http"}, "task": {}},
        )
        result = await raw(client, "tasks/result", {"taskId": created["task"]["taskId"]})
        assert result["structuredContent"]["final_message"] == "echo: over http"
