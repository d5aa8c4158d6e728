"""Rules for a service's application form: a valid JSON Schema and prefill targets it declares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from catalog.domain.exceptions import InvalidFormSchema
from mpp_shared.forms import check_form_schema

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
    """Raise ``InvalidFormSchema`` listing every problem of the schema and its prefill map.

    What makes a schema safe to run on every submission is shared (``mpp_shared.forms``), so
    that application-service validates form data with the very rules the schema was saved by.
    """
    errors = [problem.as_error("form_schema") for problem in check_form_schema(form_schema)]
    if not errors:
        errors.extend(_prefill_errors(form_schema, prefill))
    if errors:
        raise InvalidFormSchema("The application form is not valid.", errors)


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
