"""Checking a job's data against its type's input schema."""

from __future__ import annotations

import json
from typing import Any

import pytest

from toy_platform.jobs import types


def test_data_that_breaks_the_schema_is_named_with_where_and_why() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert types.schema_error(schema, {"n": 3}) is None
    assert types.schema_error(schema, {}) == ("$", "'n' is a required property")
    assert types.schema_error(schema, {"n": "x"}) == ("$.n", "'x' is not of type 'integer'")
    assert types.schema_error(False, 1) == ("$", "False schema does not allow 1")


def test_a_schema_checked_again_is_not_written_out_again_to_find_its_validator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Core checks every job it is given against its type's schema: writing the schema out
    as JSON each time, to look its validator up, cost more than the check itself."""
    schema: dict[str, Any] = {"type": "string", "minLength": 1}
    assert types.schema_error(schema, "first") is None
    written: list[object] = []
    dumps = json.dumps

    def counted(obj: object, **kwargs: Any) -> str:
        written.append(obj)
        return dumps(obj, **kwargs)

    monkeypatch.setattr(json, "dumps", counted)
    for n in range(100):
        assert types.schema_error(schema, f"job {n}") is None
    assert types.schema_error(schema, "") == ("$", "'' should be non-empty")
    assert written == []
    same_rules = {"type": "string", "minLength": 1}  # another object: found by what it says
    assert types.schema_error(same_rules, "x") is None
    assert written == [same_rules]


def test_schemas_remembered_by_object_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemas read afresh (core's list of types, fetched again) are new objects each time;
    they must not pile up."""
    monkeypatch.setattr(types, "MAX_SCHEMA_OBJECTS", 10)
    for n in range(50):
        assert types.schema_error({"type": "string", "maxLength": n + 1}, "") is None
    assert len(types._by_identity) <= 10
