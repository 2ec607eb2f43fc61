"""Errors say what is wrong where, and survive pickling (they cross Ray boundaries)."""

from __future__ import annotations

import pickle

import pytest
from pydantic import BaseModel, ValidationError

from runtime.errors import (
    BackendUnavailableError,
    BudgetExceededError,
    ClientError,
    ConflictError,
    CrmAgentsError,
    ExtractionError,
    InvalidInputError,
    NotFoundError,
    StorageError,
    invalid_from_pydantic,
)

ERRORS: list[CrmAgentsError] = [
    InvalidInputError([("a.b", "is required"), ("c", "is bad")], source="file.json"),
    NotFoundError("workspace", "123"),
    ConflictError("external_id", "already stored"),
    BudgetExceededError("daily limit spent", retry_after_s=3.5),
    StorageError("disk full"),
    BackendUnavailableError("no server"),
    ExtractionError("LLM endpoint answered 500"),
    ClientError("plain"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
def test_errors_pickle_with_their_details(error: CrmAgentsError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)


def test_invalid_input_names_every_field() -> None:
    error = InvalidInputError([("a.b", "is required"), ("c", "is bad")], source="file.json")
    assert str(error) == "file.json: a.b: is required; file.json: c: is bad"
    assert (error.field, error.reason) == ("a.b", "is required")


def test_pydantic_paths_read_like_code() -> None:
    class Line(BaseModel):
        text: str

    class Doc(BaseModel):
        lines: list[Line]

    with pytest.raises(ValidationError) as caught:
        Doc.model_validate({"lines": [{"text": "ok"}, {}]})
    error = invalid_from_pydantic(caught.value)
    assert error.problems == (("lines[1].text", "is required"),)
    assert invalid_from_pydantic(caught.value, prefix="--").field == "--lines[1].text"


def test_client_and_internal_errors_are_told_apart() -> None:
    assert isinstance(ConflictError("f", "r"), ClientError)
    assert not isinstance(StorageError("x"), ClientError)
