"""A service's form schema must be a valid JSON Schema whose prefill targets it declares."""

from __future__ import annotations

from typing import Any

import pytest

from catalog.domain.exceptions import InvalidFormSchema
from catalog.domain.form_schema import check_form

VALID: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["nik"],
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
        "address": {"type": "object", "properties": {"street": {"type": "string"}}},
    },
}


def _locs(exc: pytest.ExceptionInfo[InvalidFormSchema]) -> list[list[Any]]:
    return [error["loc"] for error in exc.value.errors]


def test_valid_schema_with_nested_prefill_target_is_accepted() -> None:
    check_form(VALID, {"nik": "nik", "address.street": "address.street"})


def test_schema_that_breaks_the_metaschema_is_refused_with_its_location() -> None:
    broken = {**VALID, "properties": {"nik": {"type": "strin"}}}
    with pytest.raises(InvalidFormSchema) as exc:
        check_form(broken, {})
    assert _locs(exc)[0][:3] == ["form_schema", "properties", "nik"]
    assert "Not a valid JSON Schema" in exc.value.errors[0]["msg"]


def test_schema_of_something_other_than_an_object_is_refused() -> None:
    with pytest.raises(InvalidFormSchema) as exc:
        check_form({"type": "array", "items": {"type": "string"}}, {})
    assert _locs(exc) == [["form_schema", "type"]]


def test_schema_of_another_draft_is_refused() -> None:
    with pytest.raises(InvalidFormSchema) as exc:
        check_form({**VALID, "$schema": "http://json-schema.org/draft-07/schema#"}, {})
    assert _locs(exc) == [["form_schema", "$schema"]]


def test_reference_to_a_url_is_refused_because_validators_must_not_fetch() -> None:
    schema = {**VALID, "properties": {"x": {"$ref": "https://example.com/schema.json"}}}
    with pytest.raises(InvalidFormSchema) as exc:
        check_form(schema, {})
    assert _locs(exc) == [["form_schema", "properties", "x", "$ref"]]


def test_local_reference_is_allowed() -> None:
    schema = {
        **VALID,
        "$defs": {"nik": {"type": "string"}},
        "properties": {"nik": {"$ref": "#/$defs/nik"}},
    }
    check_form(schema, {"nik": "nik"})


def test_prefill_target_missing_from_the_schema_is_refused() -> None:
    with pytest.raises(InvalidFormSchema) as exc:
        check_form(VALID, {"full_name": "full_name", "address.village": "address.village"})
    assert _locs(exc) == [["prefill", "full_name"], ["prefill", "address.village"]]


def test_prefill_from_something_that_is_not_a_profile_field_is_refused() -> None:
    with pytest.raises(InvalidFormSchema) as exc:
        check_form(VALID, {"nik": "password"})
    assert _locs(exc) == [["prefill", "nik"]]
    assert "not a profile field" in exc.value.errors[0]["msg"]
