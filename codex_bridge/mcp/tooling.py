"""One way to declare an MCP tool, like the ``mcp`` SDK's typed tools: a name, the service
operation it runs (its params Struct and result type, from ``OPERATIONS``), how its result reads,
and annotations.

The input and output schemas come from the operation's msgspec Structs, descriptions included,
so the schema a host sees and the validation a call meets are one source of truth. Arguments are
normalised, checked and parsed here, once, for every tool and task (:meth:`BridgeTool.parse`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import anyio
import mcp_types as types
import msgspec
from mcp.server.context import ServerRequestContext

from ..service import BridgeService, Operation, ProgressCallback, TurnHooks
from ..wire import check_arguments
from .approvals import approval_relay

__all__ = [
    "CLEANUP_SECONDS",
    "Approvals",
    "BridgeTool",
    "Context",
    "field_description",
    "input_schema",
    "isolated",
    "struct_schema",
]

P = TypeVar("P")
R = TypeVar("R")
_T = TypeVar("_T")

Context = ServerRequestContext[BridgeService, Any]
CLEANUP_SECONDS = 30.0  # bound on waiting for codex to be killed and reaped


# --------------------------------------------------------------------------- schemas


def _inline_refs(node: Any, defs: Mapping[str, Any]) -> Any:
    """Replace ``$ref``s by their definitions: some hosts do not resolve references."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = dict(defs[ref.removeprefix("#/$defs/")])
            target.pop("title", None)
            return _inline_refs(target, defs)
        return {key: _inline_refs(value, defs) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


def struct_schema(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a msgspec type, with an inline object root."""
    raw = msgspec.json.schema(kind)
    schema: dict[str, Any] = _inline_refs(raw, raw.get("$defs", {}))
    return schema


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """``anyOf [X, null]`` with a null default → X: an omitted argument means the same, and
    models fill flat schemas more reliably."""
    variants = prop.get("anyOf")
    if isinstance(variants, list) and prop.get("default", ...) is None:
        rest = [v for v in variants if v != {"type": "null"}]
        if len(rest) == 1:
            flat = dict(rest[0])
            if "description" in prop:
                flat["description"] = prop["description"]
            return flat
    return prop


def input_schema(
    kinds: Sequence[type[msgspec.Struct]], docs: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An input schema from one or more params Structs (their fields merged, in order);
    ``docs``: argument descriptions."""
    properties: dict[str, Any] = {}
    required: list[str] | None = None
    for kind in kinds:
        schema = struct_schema(kind)
        for name, prop in schema["properties"].items():
            properties.setdefault(name, _without_null(prop))
        kind_required = list(schema.get("required", []))
        required = (
            kind_required if required is None else [r for r in required if r in kind_required]
        )
    for name, prop in properties.items():
        prop.pop("title", None)
        if docs and name in docs:
            prop["description"] = docs[name]
        enum = prop.get("enum")
        if isinstance(enum, list) and all(isinstance(v, str) for v in enum):
            prop.setdefault("type", "string")  # some hosts need a type beside the enum
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
    }


def _normalised(schema: Mapping[str, Any], arguments: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop nulls (an omitted argument means the same) and decode JSON text given for an
    object or array argument (some hosts send those as strings)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    normalised: dict[str, Any] = {}
    for key, value in (arguments or {}).items():
        if value is None:
            continue
        if isinstance(value, str) and properties.get(key, {}).get("type") in ("object", "array"):
            with contextlib.suppress(ValueError):
                decoded = json.loads(value)
                if isinstance(decoded, (dict, list)):
                    value = decoded
        normalised[key] = value
    return normalised


# --------------------------------------------------------------------------- tools


def field_description(kind: type[msgspec.Struct], name: str) -> str:
    """The description a Struct's field carries (``msgspec.Meta``)."""
    description: str = struct_schema(kind)["properties"][name]["description"]
    return description


Approvals = Literal["call", "background"]
"""How codex's approval requests reach the person: within the tool call, or (for a job that
outlives the call) on the session of the client that started it."""


@dataclass(frozen=True, kw_only=True)
class BridgeTool(Generic[P, R]):
    """One MCP tool over one service operation.

    Its input schema comes from the operation's params Struct (with the fields' own
    descriptions), its output schema from the result Struct; either may be given outright
    when a tool's shape is unusual. A call's arguments are parsed once, by
    :meth:`parse`; :meth:`call` runs the operation with them and ``render`` makes the result.
    """

    name: str
    title: str
    description: str
    operation: Operation[P, R]
    render: Callable[[P, R], types.CallToolResult]
    parser: Callable[[dict[str, Any]], P] | None = None
    """Turns the checked arguments into ``P`` (default: the operation's own parsing)."""
    waits_for_codex: bool = False
    """The call waits for a codex turn: its progress is relayed, and a cancelled call still
    waits until codex is killed and reaped."""
    ends_before_host_timeout: bool = False
    """The turn is ended before the host gives up on the call (see ``build_server``)."""
    approvals: Approvals | None = None
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = False
    input_schema: dict[str, Any] = field(default_factory=dict)
    output_schema: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.input_schema:
            schema = input_schema([self.operation.params])
            object.__setattr__(self, "input_schema", schema)
        if not self.output_schema:
            object.__setattr__(self, "output_schema", struct_schema(self.operation.result))

    def parse(self, arguments: Mapping[str, Any] | None) -> P:
        """The call's arguments as the operation's params, or a
        :class:`~codex_bridge.errors.BridgeError` that names the argument at fault."""
        checked = _normalised(self.input_schema, arguments)
        check_arguments(self.name, checked)
        if self.parser is not None:
            return self.parser(checked)
        return self.operation.parse(checked)

    async def call(
        self,
        service: BridgeService,
        params: P,
        context: Context | None = None,
        progress: ProgressCallback | None = None,
    ) -> types.CallToolResult:
        """Run the operation with parsed ``params`` for the request ``context``."""
        relay = None
        if self.approvals is not None and context is not None:
            relay = approval_relay(context, background=self.approvals == "background")
        hooks = TurnHooks(
            on_progress=progress if self.waits_for_codex else None,
            on_approval=relay.handler if relay else None,
            approvals_unavailable=relay.unavailable if relay else None,
        )
        work = self.operation.invoke(service, params, hooks)
        result = await (isolated(work) if self.waits_for_codex else work)
        return self.render(params, result)

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                open_world_hint=self.open_world,
            ),
        )


async def isolated(operation: Awaitable[_T]) -> _T:
    """Run ``operation`` as its own task and, when this request is cancelled, cancel it once
    and wait (shielded, bounded) until codex is killed and reaped.

    An anyio cancel scope re-delivers cancellation at every await, which would interrupt the
    SDK's cleanup over and over; a plain task gets one clean cancellation.
    """
    task = asyncio.ensure_future(operation)
    try:
        return await asyncio.shield(task)
    except BaseException:
        if not task.done():
            task.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_SECONDS):
                await asyncio.wait({task})
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the caller is already raising
        raise
