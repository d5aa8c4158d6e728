"""The snapshot's cursor: what a page hands out, the next request gives back unchanged."""

from __future__ import annotations

import uuid

import pytest

from catalog.domain.snapshot import InvalidCursor, Position, decode_cursor, encode_cursor


def test_cursor_round_trips() -> None:
    position = Position(uuid.uuid4(), 7)
    assert decode_cursor(encode_cursor(position)) == position


@pytest.mark.parametrize(
    "cursor", ["", "v1:", "v1:abc:1", f"v1:{uuid.uuid4()}", f"v1:{uuid.uuid4()}:x", "v2:x:1"]
)
def test_a_cursor_the_catalogue_did_not_make_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="cursor"):
        decode_cursor(cursor)
