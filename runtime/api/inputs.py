"""Input problems the services report, named by where they are in a GraphQL request.

The services name fields as their models spell them (``call_type``,
``config.fields.amount.auto_apply_threshold``, ``transcript[1].speaker``); a client needs
the path in its own request: ``input.callType``, ``input.config.fields.amount.
auto_apply_threshold`` (a JSON value keeps its own keys), ``input.transcript.1.speaker``.
A failure with several problems names the first in ``extensions.field`` and lists every
one in ``extensions.problems`` (``[{field, reason}]``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from runtime.api.errors import ApiError, ErrorCode
from runtime.errors import ConflictError, InvalidInputError, NotFoundError

__all__ = ["PathOf", "input_path", "json_object", "problems_error", "service_errors"]

PathOf = Callable[[str], str]
"""A service's field name -> its path in the request."""

_INDEX = re.compile(r"\[(\d+)\]")
_WHOLE = frozenset({"(input)", "(file)", ""})


def input_path(
    field: str,
    *,
    root: str = "input",
    renames: Mapping[str, str] | None = None,
    verbatim: Collection[str] = (),
    camel: bool = True,
) -> str:
    """The request path of a service's ``field``.

    Args:
        field: as the service names it (``config.fields[0]``, ``(input)`` for the whole).
        root: the argument the field is in, prefixed to the path ("" for none).
        renames: full paths for some first segments (``{"template": "input.templateKey"}``).
        verbatim: first segments whose value is JSON: the rest keeps its spelling.
        camel: camelCase the first segment (GraphQL input fields are camelCase).
    """
    if field in _WHOLE:
        return root or "input"
    head = field.split(".", 1)[0].split("[", 1)[0]
    rest = _INDEX.sub(r".\1", field[len(head) :])
    if renames and head in renames:
        return renames[head] + rest
    if camel and head not in verbatim:
        head = _camel(head)
    path = head + rest
    return f"{root}.{path}" if root else path


def problems_error(exc: InvalidInputError, path_of: PathOf) -> ApiError:
    """``BAD_USER_INPUT`` naming every problem of ``exc`` by its request path."""
    problems = [(path_of(field), reason) for field, reason in exc.problems]
    error = ApiError(
        "; ".join(f"{path}: {reason}" for path, reason in problems),
        ErrorCode.BAD_USER_INPUT,
        field=problems[0][0],
    )
    extensions = error.extensions if error.extensions is not None else {}
    extensions["problems"] = [{"field": path, "reason": reason} for path, reason in problems]
    error.extensions = extensions
    return error


@contextmanager
def service_errors(path_of: PathOf) -> Iterator[None]:
    """Turn the service errors raised in the block into API errors naming request paths."""
    try:
        yield
    except InvalidInputError as exc:
        raise problems_error(exc, path_of) from exc
    except NotFoundError as exc:
        raise ApiError.not_found(exc.kind, exc.key, field=path_of(exc.field)) from exc
    except ConflictError as exc:
        raise ApiError(exc.reason, ErrorCode.CONFLICT, field=path_of(exc.field)) from exc


def json_object(value: Any, field: str) -> dict[str, Any]:
    """A JSON argument that must be an object; anything else is bad input on ``field``."""
    if not isinstance(value, dict):
        raise ApiError.bad_input(field, f"must be a JSON object, not {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else type(value).__name__


def _camel(word: str) -> str:
    head, *rest = word.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)
