"""Form schemas that could run long are refused at save; form data validates in bounded time."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mpp_shared.forms import (
    MAX_EXPANDED_SUBSCHEMAS,
    FormValidator,
    UnsafeFormSchema,
    check_form_schema,
)

BASE: dict[str, Any] = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object"}

FORM: dict[str, Any] = {
    **BASE,
    "required": ["nik", "full_name", "birth_date"],
    "additionalProperties": False,
    "$defs": {"rt_rw": {"type": "string", "pattern": "^[0-9]{3}$"}},
    "properties": {
        "nik": {"type": "string", "pattern": "^[0-9]{16}$"},
        "full_name": {"type": "string", "minLength": 1},
        "birth_date": {"type": "string", "format": "date"},
        "email": {"type": "string", "format": "email"},
        "rt": {"$ref": "#/$defs/rt_rw"},
        "rw": {"$ref": "#/$defs/rt_rw"},
        "reason": {"enum": ["baru", "rusak", "hilang"]},
    },
}


def _codes(schema: Any) -> list[str]:
    return [problem.code for problem in check_form_schema(schema)]


def _fan_out(levels: int, width: int) -> dict[str, Any]:
    defs: dict[str, Any] = {
        f"d{i}": {"allOf": [{"$ref": f"#/$defs/d{i + 1}"}] * width} for i in range(levels)
    }
    defs[f"d{levels}"] = {"type": "string"}
    return {**BASE, "$defs": defs, "properties": {"x": {"$ref": "#/$defs/d0"}}}


def test_a_real_form_is_accepted() -> None:
    assert check_form_schema(FORM) == []


def test_a_pattern_catastrophic_for_backtracking_runs_in_linear_time() -> None:
    schema = {**BASE, "properties": {"x": {"type": "string", "pattern": "^(a+)+$"}}}
    assert check_form_schema(schema) == []  # valid RE2: accepted, and safe to run
    validator = FormValidator(schema)
    hostile = "a" * 10_000 + "!"
    started = time.perf_counter()
    problems = validator.errors({"x": hostile})
    assert time.perf_counter() - started < 0.1
    assert [(p.path, p.code) for p in problems] == [(("x",), "pattern")]
    assert validator.errors({"x": "a" * 10_000}) == []


def test_pattern_properties_and_additional_properties_run_on_re2_too() -> None:
    schema = {
        **BASE,
        "patternProperties": {"^(a+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    validator = FormValidator(schema)
    started = time.perf_counter()
    problems = validator.errors({"a" * 10_000 + "!": 1, "aaa": "x"})
    assert time.perf_counter() - started < 0.1
    assert sorted((p.path, p.code) for p in problems) == [
        (("aaa",), "type"),
        (("a" * 10_000 + "!",), "additional_properties"),
    ]


def test_pattern_with_backreference_or_lookahead_is_refused() -> None:
    for pattern in ("^(a)\\1$", "^(?=a)a$", "(?<!x)y"):
        schema = {**BASE, "properties": {"x": {"type": "string", "pattern": pattern}}}
        problems = check_form_schema(schema)
        assert [(p.path, p.code) for p in problems] == [
            (("properties", "x", "pattern"), "invalid_pattern")
        ]
    schema = {**BASE, "patternProperties": {"(a)\\1": {}}}
    assert _codes(schema) == ["invalid_pattern"]


def test_self_reference_is_refused() -> None:
    schema = {**BASE, "properties": {"child": {"$ref": "#"}}}
    problems = check_form_schema(schema)
    assert [(p.path, p.code) for p in problems] == [
        (("properties", "child", "$ref"), "recursive_reference")
    ]


def test_mutual_references_are_refused_even_in_unused_definitions() -> None:
    schema = {**BASE, "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"items": {"$ref": "#/$defs/a"}}}}
    assert _codes(schema) == ["recursive_reference"]


def test_reference_fan_out_of_two_to_the_forty_is_refused_quickly() -> None:
    started = time.perf_counter()
    problems = check_form_schema(_fan_out(40, 2))
    assert time.perf_counter() - started < 1.0
    assert [p.code for p in problems] == ["schema_too_deep"]


def test_wide_fan_out_within_the_depth_bound_is_refused_by_its_expanded_size() -> None:
    started = time.perf_counter()
    problems = check_form_schema(_fan_out(10, 10))  # 10^10 subschemas once expanded
    assert time.perf_counter() - started < 1.0
    assert {p.code for p in problems} == {"schema_too_complex", "too_many_references"}
    assert str(MAX_EXPANDED_SUBSCHEMAS) in problems[0].message


def test_shared_definitions_within_bounds_are_accepted() -> None:
    assert check_form_schema(_fan_out(3, 4)) == []  # 4^3 = 64 expansions


def test_external_references_are_refused() -> None:
    for ref in ("https://example.com/s.json", "other.json#/a", "//evil/x"):
        schema = {**BASE, "properties": {"x": {"$ref": ref}}}
        assert _codes(schema) == ["external_reference"], ref


def test_anchors_dynamic_references_and_unresolvable_references_are_refused() -> None:
    assert _codes({**BASE, "properties": {"x": {"$ref": "#nik"}}}) == ["unsupported_reference"]
    assert _codes({**BASE, "properties": {"x": {"$ref": "#/$defs/none"}}}) == [
        "unresolvable_reference"
    ]
    assert _codes({**BASE, "properties": {"x": {"$dynamicRef": "#meta"}}}) == [
        "unsupported_keyword"
    ]
    assert _codes({**BASE, "unevaluatedProperties": False}) == ["unsupported_keyword"]
    assert _codes({**BASE, "properties": {"x": {"$id": "https://a/b", "type": "string"}}}) == [
        "unsupported_keyword"
    ]


def test_a_property_named_ref_is_a_property_not_a_reference() -> None:
    schema = {**BASE, "properties": {"$ref": {"type": "string"}}}
    assert check_form_schema(schema) == []
    assert FormValidator(schema).errors({"$ref": 1})[0].code == "type"


def test_deeply_nested_schema_is_refused_without_recursing() -> None:
    schema: dict[str, Any] = dict(BASE)
    node = schema
    for _ in range(120):
        node["properties"] = {"a": {"type": "object"}}
        node = node["properties"]["a"]
    assert _codes(schema) == ["schema_too_deep"]
    chain = {
        **BASE,
        "$defs": {f"c{i}": {"$ref": f"#/$defs/c{i + 1}"} for i in range(40)},
        "properties": {"x": {"$ref": "#/$defs/c0"}},
    }
    chain["$defs"]["c40"] = {"type": "string"}
    assert _codes(chain) == ["schema_too_deep"]


def test_oversized_schema_is_refused() -> None:
    schema = {**BASE, "properties": {f"field_{i}": {"type": "string"} for i in range(3000)}}
    assert _codes(schema) == ["schema_too_large"]


def test_metaschema_violation_and_other_dialects_are_refused() -> None:
    assert _codes({**BASE, "properties": {"x": {"type": "strin"}}}) == ["invalid_schema"]
    assert _codes({**BASE, "$schema": "http://json-schema.org/draft-07/schema#"}) == [
        "unsupported_dialect"
    ]
    assert _codes({"type": "array"}) == ["not_an_object_schema"]
    assert _codes([]) == ["not_an_object_schema"]


def test_form_data_errors_carry_path_message_and_stable_code() -> None:
    validator = FormValidator(FORM)
    problems = validator.errors(
        {
            "nik": "123",
            "birth_date": "2024-13-01",
            "email": "bukan-email",
            "rt": "1",
            "reason": "lain",
            "extra": True,
        }
    )
    assert sorted((p.path, p.code) for p in problems) == [
        (("birth_date",), "format"),
        (("email",), "format"),
        (("extra",), "additional_properties"),
        (("full_name",), "required"),
        (("nik",), "pattern"),
        (("reason",), "enum"),
        (("rt",), "pattern"),
    ]
    item = problems[0].as_error("form_data")
    assert set(item) == {"loc", "msg", "code"}
    assert item["loc"][0] == "form_data"


def test_valid_form_data_has_no_errors() -> None:
    data = {
        "nik": "6409011203850001",
        "full_name": "Budi Santoso",
        "birth_date": "1985-03-12",
        "email": "budi@example.id",
        "rt": "001",
        "reason": "baru",
    }
    assert FormValidator(FORM).errors(data) == []


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date", "2024-02-29", "2023-02-29"),
        ("date-time", "2024-01-01T08:00:00+07:00", "2024-01-01 08:00"),
        ("time", "08:00:00Z", "8:00"),
        ("email", "a@b.id", "a@@b"),
        ("uuid", "6f1c1c5e-0a3b-4c1e-9d1e-5b5d6b7c8d9e", "6f1c1c5e"),
        ("ipv4", "10.0.0.1", "10.0.0.256"),
        ("uri", "https://mpp.go.id/x", "not a uri"),
        ("regex", "^[0-9]+$", "(a)\\1"),
    ],
)
def test_formats_are_checked_without_backtracking_regexes(fmt: str, good: str, bad: str) -> None:
    validator = FormValidator({**BASE, "properties": {"x": {"type": "string", "format": fmt}}})
    assert validator.errors({"x": good}) == []
    assert [p.code for p in validator.errors({"x": bad})] == ["format"]


def test_a_schema_refused_at_save_is_refused_by_the_validator_too() -> None:
    with pytest.raises(UnsafeFormSchema) as exc:
        FormValidator({**BASE, "properties": {"x": {"$ref": "#"}}})
    assert exc.value.problems[0].code == "recursive_reference"


def test_errors_are_bounded_in_number() -> None:
    schema = {**BASE, "additionalProperties": {"type": "integer"}}
    problems = FormValidator(schema).errors({f"f{i}": "x" for i in range(1000)}, limit=100)
    assert len(problems) == 100
