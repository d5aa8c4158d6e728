"""Rules for a service's application form: a valid JSON Schema and prefill targets it declares."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

from catalog.domain.exceptions import InvalidFormSchema

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
MAX_SCHEMA_BYTES = 64 * 1024

# One validator of the metaschema for the process: building one per call (what check_schema
# does) resolves the metaschema's references again every time.
_METASCHEMA = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)

# The profile fields of GET /api/v1/me that a form may be prefilled from (API.md). Deliberately
# not: id, roles, assurance_level, agency_id — those describe the account, not the applicant.
PREFILL_SOURCES: frozenset[str] = frozenset(
    {
        "nik",
        "full_name",
        "birth_date",
        "gender",
        "email",
        "phone",
        "address.street",
        "address.rt",
        "address.rw",
        "address.village",
        "address.district",
        "address.regency",
        "address.province",
        "address.region_code",
    }
)


def check_form(form_schema: Mapping[str, Any], prefill: Mapping[str, str]) -> None:
    """Raise ``InvalidFormSchema`` listing every problem of the schema and its prefill map."""
    errors = list(_schema_errors(form_schema))
    if not errors:
        errors.extend(_prefill_errors(form_schema, prefill))
    if errors:
        raise InvalidFormSchema("The application form is not valid.", errors)


def _schema_errors(schema: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    if len(json.dumps(schema, separators=(",", ":"))) > MAX_SCHEMA_BYTES:
        yield _error([], f"The form schema is larger than {MAX_SCHEMA_BYTES // 1024} KiB.")
        return
    declared = schema.get("$schema")
    if declared is not None and declared.rstrip("#") != DRAFT_2020_12:
        yield _error(["$schema"], f"Only JSON Schema draft 2020-12 ({DRAFT_2020_12}) is used.")
        return
    invalid = best_match(_METASCHEMA.iter_errors(schema))
    if invalid is not None:
        yield _error(list(invalid.path), f"Not a valid JSON Schema: {invalid.message}")
        return
    if schema.get("type") != "object":
        yield _error(["type"], 'The form schema must describe an object ("type": "object").')
    for path, ref in _refs(schema, []):
        if not ref.startswith("#"):
            # Whoever validates form data (application-service) must never fetch a URL.
            yield _error(path, "Only references inside the schema (#/...) are allowed.")


def _refs(node: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                yield [*path, key], value
            else:
                yield from _refs(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, [*path, index])


def _prefill_errors(
    schema: Mapping[str, Any], prefill: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    for target, source in prefill.items():
        if source not in PREFILL_SOURCES:
            yield {
                "loc": ["prefill", target],
                "msg": f"{source!r} is not a profile field; use one of: "
                + ", ".join(sorted(PREFILL_SOURCES)),
            }
        if not _declares(schema, target):
            yield {
                "loc": ["prefill", target],
                "msg": f"The form schema has no property {target!r} to prefill.",
            }


def _declares(schema: Mapping[str, Any], dotted_path: str) -> bool:
    """Whether ``a.b`` is a property of the schema (nested objects via ``properties``)."""
    node: Any = schema
    for part in dotted_path.split("."):
        properties = node.get("properties") if isinstance(node, Mapping) else None
        if not isinstance(properties, Mapping) or part not in properties:
            return False
        node = properties[part]
    return True


def _error(path: list[Any], message: str) -> dict[str, Any]:
    return {"loc": ["form_schema", *path], "msg": message}
