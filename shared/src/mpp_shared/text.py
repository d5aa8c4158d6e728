"""What text the services accept: no NUL, no unpaired surrogate, JSON nested at most 64 deep.

PostgreSQL cannot store a NUL in text, and a lone surrogate cannot be encoded to UTF-8: either
turns into a 500 deep in a handler. These checks run on raw request bytes (``input_guard``) and
on values decoded from opaque tokens (cursors), so a handler never sees such text.
"""

from __future__ import annotations

import re
from typing import Any

MAX_JSON_DEPTH = 64

_INVALID_CHAR = re.compile("[\x00\ud800-\udfff]")
# The only ``\uXXXX`` escapes that matter: NUL and surrogates (a literal prefix: fast to scan).
_SUSPECT_ESCAPE = re.compile(rb"\\u(0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_SQUARE = bytes.maketrans(b"{}", b"[]")

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
    for match in _SUSPECT_ESCAPE.finditer(body):
        start = match.start()
        if _escaped(body, start):
            continue  # ``\\u0000``: an escaped backslash, then the letters u0000
        code = int(match.group(1), 16)
        if pending_high_end >= 0:
            if start == pending_high_end and 0xDC00 <= code <= 0xDFFF:
                pending_high_end = -1
                continue
            return SURROGATE_MESSAGE
        if code == 0:
            return NUL_MESSAGE
        if code <= 0xDBFF:
            pending_high_end = match.end()
        else:
            return SURROGATE_MESSAGE
    return SURROGATE_MESSAGE if pending_high_end >= 0 else None


def _escaped(body: bytes, backslash: int) -> bool:
    """Whether the backslash at ``backslash`` is itself escaped (an odd run of them before)."""
    run = 0
    while backslash - run - 1 >= 0 and body[backslash - run - 1] == 0x5C:
        run += 1
    return run % 2 == 1


def json_depth_exceeds(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON document nests arrays and objects more than ``max_depth`` deep.

    Bytes operations only (no Python loop per character): drop escapes, keep quotes and
    brackets, drop what lies inside strings, then peel innermost pairs.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False  # cannot nest deeper than it has brackets: most bodies stop here
    if b"\\" in body:
        # Escaped backslashes first (pairs from the left, as a parser reads them), so that
        # every backslash left escapes the next byte: an escaped quote does not end a string.
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = body.translate(_SQUARE, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[0::2])  # brackets inside strings are text
    # Each pass removes the innermost pairs only (replace scans the bytes it was given), so
    # the passes needed to empty the brackets are the depth.
    for depth in range(max_depth):
        shorter = skeleton.replace(b"[]", b"")
        if len(shorter) == len(skeleton):
            # Empty, or unbalanced (not JSON): a parser would still recurse into what opens.
            return depth + skeleton.count(b"[") > max_depth
        skeleton = shorter
    return bool(skeleton)
