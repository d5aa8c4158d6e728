"""What text the services accept: no NUL, no unpaired surrogate, JSON nested at most 64 deep.

PostgreSQL cannot store a NUL in text, and a lone surrogate cannot be encoded to UTF-8: either
turns into a 500 deep in a handler. These checks run on raw request bytes (``input_guard``) and
on values decoded from opaque tokens (cursors), so a handler never sees such text.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

MAX_JSON_DEPTH = 64

_INVALID_CHAR = re.compile("[\x00\ud800-\udfff]")
# A ``\uXXXX`` escape, counted from the start of its run of backslashes, so that ``\\u0000``
# (an escaped backslash, then the letters u0000) is not taken for one.
_UNICODE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u([0-9a-fA-F]{4})")
# A JSON string, to blank out before counting brackets (unrolled: no backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}

NUL_MESSAGE = "Text must not contain a NUL character."
SURROGATE_MESSAGE = "Text must not contain an unpaired surrogate (U+D800 to U+DFFF)."
UTF8_MESSAGE = "Text must be valid UTF-8."


def invalid_text_reason(value: str) -> str | None:
    """Why ``value`` is not acceptable text, or None when it is."""
    found = _INVALID_CHAR.search(value)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def contains_invalid_text(value: Any) -> bool:
    """Whether a decoded JSON value holds a string (key or value) that is not acceptable text."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _INVALID_CHAR.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def invalid_bytes_reason(raw: bytes) -> str | None:
    """Why decoded-from-the-wire bytes are not acceptable UTF-8 text, or None when they are.

    Strict UTF-8 refuses the encoded surrogates (``ED A0 80``) along with every other invalid
    sequence, which lenient decoders would turn into U+FFFD or (``surrogatepass``) keep.
    """
    if b"\x00" in raw:
        return NUL_MESSAGE
    if raw.isascii():
        return None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return UTF8_MESSAGE
    return None


def json_text_reason(body: bytes) -> str | None:
    """Why a JSON document's strings are not acceptable text, or None when they are.

    Looks at the bytes, not a parse: raw NUL and invalid UTF-8, then the ``\\u`` escapes that
    decode to NUL or to a surrogate without its pair. Not a JSON validator: a body that is not
    JSON gets the framework's own answer.
    """
    reason = invalid_bytes_reason(body)
    if reason is not None or b"\\u" not in body:
        return reason
    pending_high_end = -1  # where the escape of a high surrogate ended, awaiting its low half
    for match in _UNICODE_ESCAPE.finditer(body):
        code = int(match.group(1), 16)
        start = match.end() - 6
        if pending_high_end >= 0:
            if start == pending_high_end and 0xDC00 <= code <= 0xDFFF:
                pending_high_end = -1
                continue
            return SURROGATE_MESSAGE
        if code == 0:
            return NUL_MESSAGE
        if 0xD800 <= code <= 0xDBFF:
            pending_high_end = match.end()
        elif 0xDC00 <= code <= 0xDFFF:
            return SURROGATE_MESSAGE
    return SURROGATE_MESSAGE if pending_high_end >= 0 else None


def json_depth_exceeds(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON document nests arrays and objects more than ``max_depth`` deep."""
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False  # cannot nest deeper than it has brackets: most bodies stop here
    brackets = _JSON_STRING.sub(b'""', body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= max_depth:
        return False
    return max(itertools.accumulate(map(_BRACKET_STEP.__getitem__, brackets))) > max_depth
