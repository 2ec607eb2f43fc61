"""One event, many subscribers: a subscription's selection is executed and encoded once per
event, and every socket that asked for the same selection is sent the same text.

Strawberry runs each subscriber's events on its own: a graphql-core execution of the
selection, strawberry's result handling and a JSON encoding per socket, ~0.1 ms each, and
as much garbage for the collector. One event to 1,000 sockets was a quarter of a second of
one core (``python -m bench.live``). Here, for subscriptions over graphql-transport-ws:

- ``SharedFramesHandler`` (the router's handler) lets an operation's subscription stream
  reach its socket (``shared_sender``): the stream sends each event's ``next`` itself, as
  the payload encoded once (``SharedPayloads``, one per process in
  ``Services.extras[SHARED_PAYLOADS]``) with its own operation ``id`` spliced in.
- Whether the event is sent at all is each subscriber's own decision: the subscription's
  authorization (``types/subscriptions.py``) runs per subscriber before ``send``; what is
  shared is only what is in the message.
- Only selections that cannot depend on who is asking are shared: below the subscription's
  root field, every field must be a plain attribute of its object (no resolver, no field
  extension or permission), no directive but ``@include``/``@skip``, no abstract type, and
  no schema extension wrapping resolvers. A resolver could consult the viewer
  (``info.context``), so a selection with one is executed per subscriber, as strawberry does.
- Two subscriptions share a payload when their document text, operation name and variables
  are equal and they are handed the same event object (``EventHub.shared`` gives every
  subscriber of an event in the process the same one; an entry keeps its object alive, so
  the ``id()`` it is filed under is not reused while it exists).

Per-event strawberry extension hooks (``on_stream_result``) do not run for shared payloads;
the schema's extensions act per operation, not per event. Errors of a shared execution are
passed to the schema's ``process_errors`` once, not once per subscriber.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from inspect import isawaitable
from typing import Any, Final

import strawberry
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute_subscription_event,
    get_named_type,
    parse,
)
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.extensions import SchemaExtension
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.typevars import Context, RootValue
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

__all__ = [
    "SHARED_PAYLOADS",
    "SharedFramesHandler",
    "SharedPayloads",
    "SharedSender",
    "shared_sender",
    "viewer_independent",
]

SHARED_PAYLOADS: Final = "shared_payloads"
"""The key of the process's ``SharedPayloads`` in ``Services.extras``."""

_KEPT = 1024  # (selection, event) payloads kept; an evicted one is executed again if asked
_PLANS_KEPT = 256  # distinct documents whose shareability is remembered
_STRAWBERRY_FIELD = "strawberry-definition"  # strawberry's back-reference on a GraphQLField
_HARMLESS_DIRECTIVES = frozenset({"include", "skip"})  # their arguments are in the key

Selection = Hashable
"""What makes two subscriptions' payloads of one event equal: document, operation, variables."""


@dataclass(frozen=True, slots=True)
class _Socket:
    """The graphql-transport-ws operation a task runs, and its connection's handler."""

    handler: SharedFramesHandler[Any, Any]
    operation: Operation[Any, Any]


# Set by ``SharedFramesHandler.run_operation`` in each operation's own task (a task copies
# the context it starts in, so one operation never sees another's).
_OPERATION: ContextVar[_Socket | None] = ContextVar("fanout_operation", default=None)


class SharedFramesHandler(BaseGraphQLTransportWSHandler[Context, RootValue]):
    """Strawberry's graphql-transport-ws handler; an operation's subscription may send its
    events' ``next`` messages as shared text (``shared_sender``)."""

    async def run_operation(self, operation: Operation[Context, RootValue]) -> None:
        _OPERATION.set(_Socket(self, operation))
        await super().run_operation(operation)

    async def send_text(self, operation: Operation[Context, RootValue], text: str) -> None:
        """``text`` (a whole message of ``operation``) unless the operation has ended."""
        if operation.completed:
            return
        adapter = self.websocket
        if not isinstance(adapter, ASGIWebSocketAdapter):  # shared_sender checked it
            raise TypeError("shared frames need an ASGI websocket")
        try:
            await adapter.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


@dataclass(frozen=True, slots=True)
class _Plan:
    """A document as parsed for shared execution; ``selection`` None when not shareable."""

    document: DocumentNode | None
    selection: Selection | None


@dataclass(slots=True)
class _Entry:
    node: object  # kept alive: the key holds its id()
    payload: str | asyncio.Future[str]


class SharedPayloads:
    """The process's encoded payloads of recent (selection, event) pairs, and which
    documents can be shared."""

    def __init__(self, *, kept: int = _KEPT) -> None:
        if kept < 1:
            raise ValueError("kept must be at least 1")
        self._kept = kept
        self._entries: OrderedDict[tuple[Selection, int], _Entry] = OrderedDict()
        self._plans: OrderedDict[tuple[str, str | None], _Plan] = OrderedDict()
        self.executions = 0  # payloads actually executed and encoded (the rest were shared)

    def __len__(self) -> int:
        return len(self._entries)

    def payload(
        self,
        selection: Selection,
        node: object,
        compute: Callable[[], str | Awaitable[str]],
    ) -> str | Awaitable[str]:
        """The payload ``compute()`` makes of ``node``, computed once for everyone asking
        with ``selection``; one that failed (raised) is not remembered."""
        key = (selection, id(node))
        entry = self._entries.get(key)
        if entry is None or entry.node is not node or _cancelled(entry.payload):
            self.executions += 1
            computed = compute()
            payload: str | asyncio.Future[str]
            if isinstance(computed, str):
                payload = computed
            else:
                payload = asyncio.ensure_future(computed)
                payload.add_done_callback(_retrieve)
            entry = _Entry(node, payload)
            self._entries[key] = entry
            while len(self._entries) > self._kept:
                self._entries.popitem(last=False)
        found = entry.payload
        if isinstance(found, str):
            return found
        if found.done() and not found.cancelled() and found.exception() is None:
            entry.payload = found.result()
            return entry.payload
        return self._awaited(key, found)

    async def _awaited(self, key: tuple[Selection, int], payload: asyncio.Future[str]) -> str:
        # Shielded: a subscriber that leaves while the payload is computed must not cancel
        # it for the others waiting on it.
        try:
            return await asyncio.shield(payload)
        except Exception:
            entry = self._entries.get(key)
            if entry is not None and entry.payload is payload:
                del self._entries[key]
            raise

    def plan(self, schema: strawberry.Schema, query: str, operation_name: str | None) -> _Plan:
        """``query`` parsed and judged once per process (the schema already validated it)."""
        key = (query, operation_name)
        found = self._plans.get(key)
        if found is None:
            found = _plan(schema, query, operation_name)
            self._plans[key] = found
            while len(self._plans) > _PLANS_KEPT:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return found


def _retrieve(payload: asyncio.Future[str]) -> None:
    """Marks a failure as seen: its subscribers may all have left before it ended."""
    if not payload.cancelled():
        payload.exception()


def _cancelled(payload: object) -> bool:
    return isinstance(payload, asyncio.Future) and payload.cancelled()


class SharedSender:
    """Sends one subscription's events as shared payloads (``shared_sender`` makes one)."""

    def __init__(
        self,
        *,
        socket: _Socket,
        payloads: SharedPayloads,
        schema: strawberry.Schema,
        plan: _Plan,
        selection: Selection,
        variables: dict[str, Any] | None,
        context: object,
    ) -> None:
        self._socket = socket
        self._payloads = payloads
        self._schema = schema
        self._plan = plan
        self._selection = selection
        self._variables = variables
        self._context = context
        self._prefix = f'{{"id":{json.dumps(socket.operation.id)},"type":"next","payload":'

    async def send(self, node: object) -> None:
        """``node``'s ``next`` message, its payload computed once per selection."""
        payload = self._payloads.payload(self._selection, node, partial(self._compute, node))
        if not isinstance(payload, str):
            payload = await payload
        socket = self._socket
        await socket.handler.send_text(socket.operation, f"{self._prefix}{payload}}}")

    def _compute(self, node: object) -> str | Awaitable[str]:
        """What strawberry would send for ``node``: the selection executed on it (as
        graphql-core runs a subscription event) and encoded as the view encodes."""
        assert self._plan.document is not None  # a plan with a selection has its document
        executor = self._schema.execution_context_class.build(
            self._schema._schema,
            self._plan.document,
            root_value=node,
            context_value=self._context,
            raw_variable_values=self._variables,
        )
        if isinstance(executor, list):  # the variables were coerced on subscribe: not here
            return self._encoded(ExecutionResult(None, executor))
        result = execute_subscription_event(executor)
        if isawaitable(result):
            return self._encoded_later(result)
        return self._encoded(result)

    async def _encoded_later(self, result: Awaitable[ExecutionResult]) -> str:
        return self._encoded(await result)

    def _encoded(self, result: ExecutionResult) -> str:
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            self._schema.process_errors(result.errors)
            payload["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        encoded = self._socket.handler.view.encode_json(payload)
        return encoded if isinstance(encoded, str) else encoded.decode()


def shared_sender(info: strawberry.Info[Any, Any]) -> SharedSender | None:
    """A sender for the subscription being resolved (``info``), or None when its events
    must go through strawberry: not over ``SharedFramesHandler``, no ``SharedPayloads`` in
    the context, or a selection that could depend on the viewer. Call it in the
    subscription's resolver (it runs in its operation's task)."""
    socket = _OPERATION.get()
    payloads = _payloads_of(info.context)
    schema = info.schema
    if (
        socket is None
        or payloads is None
        or not isinstance(schema, strawberry.Schema)
        or not isinstance(socket.handler.websocket, ASGIWebSocketAdapter)
    ):
        return None
    operation = socket.operation
    plan = payloads.plan(schema, operation.query, operation.operation_name)
    variables = _frozen(operation.variables or {})
    if plan.selection is None or variables is None:
        return None
    return SharedSender(
        socket=socket,
        payloads=payloads,
        schema=schema,
        plan=plan,
        selection=(plan.selection, variables),
        variables=operation.variables,
        context=info.context,
    )


def _payloads_of(context: object) -> SharedPayloads | None:
    extras = getattr(getattr(context, "services", None), "extras", None)
    found = extras.get(SHARED_PAYLOADS) if isinstance(extras, dict) else None
    return found if isinstance(found, SharedPayloads) else None


def _plan(schema: strawberry.Schema, query: str, operation_name: str | None) -> _Plan:
    if any(type(ext).resolve is not SchemaExtension.resolve for ext in schema.get_extensions()):
        return _Plan(None, None)  # resolvers are wrapped: anything could depend on anything
    try:
        document = parse(query)
    except GraphQLError:
        return _Plan(None, None)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or _name(o) == operation_name]
    if len(chosen) != 1:
        return _Plan(None, None)
    operation = chosen[0]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if not viewer_independent(schema._schema, operation, fragments):
        return _Plan(None, None)
    # Only what this operation needs: executed with no operation name to pick.
    single = DocumentNode(definitions=(operation, *fragments.values()))
    return _Plan(single, (query, operation_name))


def _name(operation: OperationDefinitionNode) -> str | None:
    return operation.name.value if operation.name else None


def viewer_independent(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> bool:
    """Whether a subscription's result of an event can depend only on the event, the
    document and the variables (not on who is asking)."""
    root = schema.subscription_type
    if operation.operation is not OperationType.SUBSCRIPTION or root is None:
        return False
    for node in _fields(operation.selection_set, fragments):
        if node is None or node.selection_set is None:
            return False
        field = root.fields.get(node.name.value)
        if field is None:
            return False
        # The root field itself resolves to the event (its subscribe resolver authorized
        # the stream); what matters is what is selected of it.
        of = get_named_type(field.type)
        if not isinstance(of, GraphQLObjectType) or not _plain(
            schema, of, node.selection_set, fragments
        ):
            return False
    return True


def _fields(
    selection_set: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[FieldNode | None]:
    """The fields of a root selection set, through fragments; None for what cannot be
    followed (a directive, an unknown fragment)."""
    found: list[FieldNode | None] = []
    for selection in selection_set.selections:
        if any(d.name.value not in _HARMLESS_DIRECTIVES for d in selection.directives or ()):
            found.append(None)
        elif isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found.extend(_fields(selection.selection_set, fragments))
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found.extend(_fields(fragments[selection.name.value].selection_set, fragments))
        else:
            found.append(None)
    return found


def _plain(
    schema: GraphQLSchema,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> bool:
    """Whether every field selected (through fragments) is an attribute of its object."""
    for selection in selection_set.selections:
        if any(d.name.value not in _HARMLESS_DIRECTIVES for d in selection.directives or ()):
            return False
        if isinstance(selection, FieldNode):
            if selection.name.value == "__typename":
                continue
            field = parent.fields.get(selection.name.value)
            if field is None or not _attribute(field):
                return False
            of = get_named_type(field.type)
            if selection.selection_set is not None and not (
                isinstance(of, GraphQLObjectType)
                and _plain(schema, of, selection.selection_set, fragments)
            ):
                return False
            continue
        if isinstance(selection, InlineFragmentNode):
            inner, condition = selection.selection_set, selection.type_condition
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            fragment = fragments[selection.name.value]
            inner, condition = fragment.selection_set, fragment.type_condition
        else:
            return False
        # Only fragments on the object itself: one on an interface it implements is fine to
        # graphql-core, but simpler to leave unshared than to check.
        if condition is not None and schema.get_type(condition.name.value) is not parent:
            return False
        if not _plain(schema, parent, inner, fragments):
            return False
    return True


def _attribute(field: GraphQLField) -> bool:
    """A strawberry field read from its object, with nothing that could see the viewer."""
    definition = (field.extensions or {}).get(_STRAWBERRY_FIELD)
    if definition is None:
        return False
    return (
        getattr(definition, "base_resolver", True) is None
        and not getattr(definition, "extensions", True)
        and not getattr(definition, "permission_classes", True)
    )


class _UnhashableError(Exception):
    pass


def _frozen(value: object) -> Hashable | None:
    """``value`` (a message's variables, JSON) as a hashable key; None if it cannot be."""
    try:
        return _freeze(value)
    except _UnhashableError:
        return None


def _freeze(value: object) -> Hashable:
    if isinstance(value, Mapping):
        return ("map", tuple((str(k), _freeze(value[k])) for k in sorted(value, key=str)))
    if isinstance(value, list | tuple):
        return ("list", tuple(_freeze(item) for item in value))
    try:
        hash(value)
    except TypeError:
        raise _UnhashableError from None
    return (type(value).__name__, value)
