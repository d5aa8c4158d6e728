"""Form data rules: its size bound, prefilled values at dotted paths."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from application.domain.exceptions import InvalidInput

MAX_FORM_BYTES = 64 * 1024


def check_form_size(form_data: Mapping[str, Any], *, limit: int = MAX_FORM_BYTES) -> None:
    size = len(json.dumps(form_data, separators=(",", ":"), ensure_ascii=False).encode())
    if size > limit:
        raise InvalidInput(
            f"Isian formulir melebihi {limit // 1024} KiB.",
            errors=[{"loc": ["body", "form_data"], "msg": f"larger than {limit} bytes"}],
        )


def set_path(form: dict[str, Any], path: str, value: Any) -> None:
    """Put ``value`` at a dotted form path (``applicant.full_name``), creating objects on the
    way; a path through a value that is not an object is left alone."""
    parts = path.split(".")
    node = form
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return
        node = child
    node[parts[-1]] = value


def get_path(values: Mapping[str, Any], path: str) -> Any:
    """A value at a dotted profile path (``address.village``), or None."""
    node: Any = values
    if path in values:
        return values[path]
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
