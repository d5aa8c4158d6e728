"""Application forms as JSON Schema (draft 2020-12): which schemas may be saved, and validating
form data against a saved one in bounded time.

A form schema is code the platform runs on every submission, written by agency staff. So at save
time (``check_form_schema``) a schema is refused when running it could take long: references
outside the document or back into themselves, more than a bounded number of subschemas or
references once every ``$ref`` is expanded, deeper nesting than the validator can recurse
through, patterns that RE2 (linear time, no backtracking) cannot run. At submit time
(``FormValidator``) patterns and ``format`` run on RE2 and plain parsers, never on Python's
backtracking ``re``.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from urllib.parse import unquote, urlsplit

import re2  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]
from jsonschema.validators import extend  # type: ignore[import-untyped]

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_JSON_DEPTH = 64  # arrays and objects, as in a request body
MAX_SUBSCHEMA_DEPTH = 32  # subschemas inside subschemas, references followed
MAX_EXPANDED_SUBSCHEMAS = 5_000  # every subschema counted once per way it is reached
MAX_EXPANDED_REFERENCES = 1_000
MAX_PATTERN_LENGTH = 1_000
MAX_FORM_ERRORS = 100

# Keywords whose value is one subschema, a list of them, or a map of names to them.
_ONE = (
    "not",
    "if",
    "then",
    "else",
    "items",
    "contains",
    "additionalProperties",
    "propertyNames",
    "unevaluatedItems",
)
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "dependentSchemas", "dependencies")
_DEFINITIONS = ("$defs", "definitions")
# Refused: dynamic scopes and anchors make what a reference means depend on the path taken,
# which the expansion count below cannot follow; unevaluatedProperties evaluates
# patternProperties with Python's backtracking ``re`` inside jsonschema.
_REFUSED = {
    "$dynamicRef": "dynamic references are not supported; use $ref",
    "$dynamicAnchor": "dynamic anchors are not supported",
    "$recursiveRef": "recursive references are not supported",
    "$recursiveAnchor": "recursive anchors are not supported",
    "$anchor": "anchors are not supported; refer with a JSON pointer (#/$defs/...)",
    "unevaluatedProperties": "unevaluatedProperties is not supported; use additionalProperties",
}


@dataclass(frozen=True)
class FormProblem:
    """One problem of a schema or of form data: where (a JSON path), what, and a stable code."""

    path: tuple[str | int, ...]
    message: str
    code: str

    def as_error(self, *prefix: str | int) -> dict[str, Any]:
        """As an item of a problem's ``errors[]``: ``{"loc", "msg", "code"}``."""
        return {"loc": [*prefix, *self.path], "msg": self.message, "code": self.code}


class UnsafeFormSchema(ValueError):
    """A schema that ``check_form_schema`` refuses was given to ``FormValidator``."""

    def __init__(self, problems: Sequence[FormProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


# --- save time -------------------------------------------------------------------------------

# One validator of the metaschema for the process: building one per call resolves the
# metaschema's references again every time. No format checker: ``format: regex`` would compile
# patterns with Python's ``re``; RE2 is the judge of patterns here.
_METASCHEMA = Draft202012Validator(Draft202012Validator.META_SCHEMA)


def check_form_schema(schema: Any) -> list[FormProblem]:
    """Every reason not to save ``schema`` as an application form; empty when it may be saved."""
    if not isinstance(schema, dict):
        return [_problem((), "The form schema must be a JSON object.", "not_an_object_schema")]
    if _json_depth_exceeds(schema, MAX_SCHEMA_JSON_DEPTH):
        return [
            _problem(
                (),
                f"The form schema nests more than {MAX_SCHEMA_JSON_DEPTH} levels deep.",
                "schema_too_deep",
            )
        ]
    try:
        size = len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False).encode())
    except (TypeError, ValueError):
        return [_problem((), "The form schema is not JSON.", "not_json")]
    if size > MAX_SCHEMA_BYTES:
        return [
            _problem(
                (),
                f"The form schema is larger than {MAX_SCHEMA_BYTES // 1024} KiB.",
                "schema_too_large",
            )
        ]
    declared = schema.get("$schema")
    if declared is not None and (
        not isinstance(declared, str) or declared.rstrip("#") != DRAFT_2020_12
    ):
        return [
            _problem(
                ("$schema",),
                f"Only JSON Schema draft 2020-12 ({DRAFT_2020_12}) is used.",
                "unsupported_dialect",
            )
        ]
    invalid = best_match(_METASCHEMA.iter_errors(schema))
    if invalid is not None:
        return [
            _problem(
                tuple(invalid.path), f"Not a valid JSON Schema: {invalid.message}", "invalid_schema"
            )
        ]
    problems: list[FormProblem] = []
    if schema.get("type") != "object":
        problems.append(
            _problem(
                ("type",),
                'The form schema must describe an object ("type": "object").',
                "not_an_object_schema",
            )
        )
    problems.extend(_SchemaWalk(schema).problems())
    return problems


@dataclass
class _Expansion:
    """What validating against a subschema costs once its references are expanded."""

    subschemas: int
    references: int
    depth: int


class _Refused(Exception):
    """Stops the walk: the schema cannot be expanded within bounds."""

    def __init__(self, problem: FormProblem) -> None:
        self.problem = problem


class _SchemaWalk:
    """Walks a (metaschema-valid) schema as a validator would, following ``$ref``s.

    Each subschema's expansion is computed once (memoised by identity), so a fan-out of 2^40
    costs the walk 40 steps while the count it reports is 2^40.
    """

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.found: list[FormProblem] = []
        self.expansions: dict[int, _Expansion] = {}
        self.active: set[int] = set()
        self.definitions: list[tuple[Any, tuple[str | int, ...]]] = []

    def problems(self) -> list[FormProblem]:
        try:
            total = self.visit(self.root, (), 1, ())
            # Definitions no reference reaches are not run, but are still checked.
            while self.definitions:
                node, path = self.definitions.pop()
                self.visit(node, path, 1, path)
        except _Refused as refused:
            return [*self.found, refused.problem]
        if total.subschemas > MAX_EXPANDED_SUBSCHEMAS:
            self.found.append(
                _problem(
                    (),
                    f"With its references expanded the form schema has {total.subschemas} "
                    f"subschemas; at most {MAX_EXPANDED_SUBSCHEMAS} are allowed.",
                    "schema_too_complex",
                )
            )
        if total.references > MAX_EXPANDED_REFERENCES:
            self.found.append(
                _problem(
                    (),
                    f"With its references expanded the form schema follows {total.references} "
                    f"references; at most {MAX_EXPANDED_REFERENCES} are allowed.",
                    "too_many_references",
                )
            )
        return self.found

    def visit(
        self, node: Any, path: tuple[str | int, ...], depth: int, site: tuple[str | int, ...]
    ) -> _Expansion:
        """``site``: where a problem of reaching ``node`` is told (the ``$ref`` that led here)."""
        if not isinstance(node, dict):
            return _Expansion(1, 0, 1)  # true / false
        key = id(node)
        known = self.expansions.get(key)
        if known is not None:
            if depth - 1 + known.depth > MAX_SUBSCHEMA_DEPTH:
                raise _Refused(_too_deep(site))
            return known
        if key in self.active:
            raise _Refused(
                _problem(site, "The schema refers back to itself.", "recursive_reference")
            )
        if depth > MAX_SUBSCHEMA_DEPTH:
            raise _Refused(_too_deep(site))
        self.active.add(key)
        expansion = _Expansion(1, 0, 1)
        for child, child_path, ref_site in self.children(node, path):
            sub = self.visit(child, child_path, depth + 1, ref_site or child_path)
            expansion.subschemas += sub.subschemas
            expansion.references += sub.references + (1 if ref_site else 0)
            expansion.depth = max(expansion.depth, sub.depth + 1)
        self.active.discard(key)
        self.expansions[key] = expansion
        return expansion

    def children(
        self, node: dict[str, Any], path: tuple[str | int, ...]
    ) -> Iterator[tuple[Any, tuple[str | int, ...], tuple[str | int, ...] | None]]:
        """The subschemas a validator runs for ``node``, a reference's target with its site."""
        self.check_keywords(node, path)
        for name in _ONE:
            if name in node:
                yield node[name], (*path, name), None
        for name in _LIST:
            for index, child in enumerate(node.get(name) or ()):
                yield child, (*path, name, index), None
        for name in _MAP:
            for prop, child in (node.get(name) or {}).items():
                if isinstance(child, dict | bool):  # dependencies may also list names
                    yield child, (*path, name, prop), None
        for name in _DEFINITIONS:
            for prop, child in (node.get(name) or {}).items():
                self.definitions.append((child, (*path, name, prop)))
        ref = node.get("$ref")
        if isinstance(ref, str):
            site = (*path, "$ref")
            resolved = self.resolve(ref, site)
            if resolved is not None:
                yield resolved[1], resolved[0], site

    def check_keywords(self, node: dict[str, Any], path: tuple[str | int, ...]) -> None:
        for name, why in _REFUSED.items():
            if name in node:
                self.found.append(_problem((*path, name), f"{why}.", "unsupported_keyword"))
        if "$id" in node and node is not self.root:
            self.found.append(
                _problem(
                    (*path, "$id"),
                    "Only the top of the form schema may have an $id.",
                    "unsupported_keyword",
                )
            )
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            self.check_pattern(pattern, (*path, "pattern"))
        for pattern in node.get("patternProperties") or {}:
            self.check_pattern(pattern, (*path, "patternProperties", pattern))

    def check_pattern(self, pattern: str, path: tuple[str | int, ...]) -> None:
        reason = pattern_problem(pattern)
        if reason is not None:
            self.found.append(_problem(path, reason, "invalid_pattern"))

    def resolve(
        self, ref: str, path: tuple[str | int, ...]
    ) -> tuple[tuple[str | int, ...], Any] | None:
        """The target of ``ref`` with its place in the document; None (and a problem) if none."""
        if not ref.startswith("#"):
            # Whoever validates form data must never fetch a URL, nor read another document.
            self.found.append(
                _problem(
                    path,
                    "Only references inside the schema (#/...) are allowed.",
                    "external_reference",
                )
            )
            return None
        fragment = unquote(ref[1:])
        if fragment and not fragment.startswith("/"):
            self.found.append(
                _problem(
                    path,
                    "Refer with a JSON pointer (#/$defs/...); anchors are not supported.",
                    "unsupported_reference",
                )
            )
            return None
        node: Any = self.root
        where: list[str | int] = []
        for token in fragment.split("/")[1:] if fragment else ():
            part = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
                where.append(part)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
                where.append(int(part))
            else:
                node = None
                break
        if not isinstance(node, dict | bool):
            self.found.append(
                _problem(path, f"{ref!r} does not point to a subschema.", "unresolvable_reference")
            )
            return None
        return tuple(where), node


def _too_deep(path: tuple[str | int, ...]) -> FormProblem:
    return _problem(
        path,
        f"With its references expanded the form schema nests subschemas more than "
        f"{MAX_SUBSCHEMA_DEPTH} deep.",
        "schema_too_deep",
    )


def _json_depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative, so that neither a deep document nor a cyclic Python object can recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _problem(path: tuple[str | int, ...], message: str, code: str) -> FormProblem:
    return FormProblem(path=path, message=message, code=code)


# --- patterns and formats ------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = 1 << 20  # bounds what one pattern may compile to


@functools.lru_cache(maxsize=2048)
def _regex(pattern: str) -> Any:
    return re2.compile(pattern, _RE2_OPTIONS)


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a form's pattern (RE2 syntax, linear-time), or None."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"A pattern may have at most {MAX_PATTERN_LENGTH} characters."
    try:
        _regex(pattern)
    except re2.error as exc:
        return f"Not a pattern RE2 can run (no backreferences or lookaround): {_text(exc)}."
    except UnicodeError:
        return "A pattern must be valid text."
    return None


def _text(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    return detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)


def _search(pattern: str, text: str) -> bool:
    try:
        return _regex(pattern).search(text) is not None
    except UnicodeError:  # a lone surrogate cannot be encoded for RE2: it matches nothing
        return False


_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_RFC3339_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_RFC3339_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII
)
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]{1,63}(?:\.[^@\s.]{1,63})+", re.ASCII)

# Only formats checked with fixed, linear patterns and the standard library's parsers; any
# other format stays an annotation, as draft 2020-12 says by default.
FORM_FORMAT_CHECKER = FormatChecker(formats=())


def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_RFC3339_DATE.fullmatch(value)) and bool(date.fromisoformat(value))


def _is_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_RFC3339_TIME.fullmatch(value)) and bool(
        time.fromisoformat(value.upper().replace("Z", "+00:00"))
    )


def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(_RFC3339_DATE_TIME.fullmatch(value)) and bool(
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    )


def _is_email(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def _is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return len(value) == 36 and str(uuid.UUID(value)) == value.lower()


def _is_ipv4(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv4Address(value))


def _is_ipv6(value: object) -> bool:
    return not isinstance(value, str) or bool(ipaddress.IPv6Address(value))


def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return len(value) <= 2048 and bool(parts.scheme) and not any(c.isspace() for c in value)


def _is_regex(value: object) -> bool:
    return not isinstance(value, str) or pattern_problem(value) is None


for _format, _check in {
    "date": _is_date,
    "time": _is_time,
    "date-time": _is_date_time,
    "email": _is_email,
    "uuid": _is_uuid,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "uri": _is_uri,
    "regex": _is_regex,
}.items():
    FORM_FORMAT_CHECKER.checks(_format, raises=(ValueError, TypeError))(_check)


# --- submit time ---------------------------------------------------------------------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[Any]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield ValidationError("Does not match the required pattern.")


def _pattern_properties(
    validator: Any, patterns: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if _search(pattern, name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(
    validator: Any, additional: Any, instance: Any, schema: Any
) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    extras = [
        name
        for name in instance
        if name not in properties and not any(_search(p, name) for p in patterns)
    ]
    if validator.is_type(additional, "object"):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif additional is False:
        for name in extras:
            yield ValidationError("This field is not part of the form.", path=[name])


def _required(validator: Any, required: Sequence[str], instance: Any, schema: Any) -> Iterator[Any]:
    if not validator.is_type(instance, "object"):
        return
    for name in required:
        if name not in instance:
            # At the missing field's own path, so a form can mark the field itself.
            yield ValidationError("This field is required.", path=[name])


_FormDraft = extend(
    Draft202012Validator,
    validators={
        "pattern": _pattern,
        "patternProperties": _pattern_properties,
        "additionalProperties": _additional_properties,
        "required": _required,
    },
)

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_MAX_MESSAGE = 200


class FormValidator:
    """Validates form data against a saved form schema; refuses a schema that is not safe."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        problems = check_form_schema(schema)
        if problems:
            raise UnsafeFormSchema(problems)
        self._validator = _FormDraft(schema, format_checker=FORM_FORMAT_CHECKER)

    def errors(self, data: Any, *, limit: int = MAX_FORM_ERRORS) -> list[FormProblem]:
        """Up to ``limit`` problems of ``data``, each at its JSON path, with a stable code.

        The code is the failing keyword in snake_case (``required``, ``type``, ``pattern``,
        ``format``, ``min_length``, ``enum``, ``additional_properties``, ...).
        """
        found = itertools.islice(self._validator.iter_errors(data), limit)
        return [
            FormProblem(
                path=tuple(error.absolute_path),
                message=_message(error),
                code=_CAMEL.sub("_", str(error.validator or "false")).lower(),
            )
            for error in found
        ]


def _message(error: Any) -> str:
    message = str(error.message)
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"
