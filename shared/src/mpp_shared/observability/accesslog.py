"""The access log: one line per request in the shared JSON format, written in batches.

Every request is logged, which makes the logging module's cost per line (a record, a
formatter pass with masking over the whole line, one write and flush each) a large part of
a small request's cost — in the gateway, which logs every public request, and in the
services behind it. Here a line is built from the few known fields, only the path is masked
(the one free-form field), and lines go out together a few times a second, in one write.
The lines are those of ``mpp_shared.observability.logging.JsonFormatter`` for the
``mpp.access`` logger, whose level still decides whether they are written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from mpp_shared.observability.masking import mask_personal_data
from mpp_shared.tasks import cancel_and_wait

LOGGER_NAME = "mpp.access"
# Only a path with ten digits in a row (spaces or dashes between them allowed) can hold a NIK,
# KK or phone number worth masking.
_DIGITS = re.compile(r"(?:\d[ -]?){10}")
# Characters JSON must escape (and non-ASCII, left to json.dumps): anything else is quoted as is.
_NEEDS_ESCAPING = re.compile(r'[\x00-\x1f"\\\x7f-\U0010ffff]')


def _json_string(text: str) -> str:
    if _NEEDS_ESCAPING.search(text) is None:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


class AccessLog:
    """Buffers access lines and writes them every ``flush_seconds`` (and when it stops)."""

    def __init__(
        self,
        service: str,
        *,
        stream: Callable[[], TextIO] = lambda: sys.stdout,
        flush_seconds: float = 0.2,
        max_buffered: int = 4096,
    ) -> None:
        self.service = service
        self._stream = stream
        self.flush_seconds = flush_seconds
        self.max_buffered = max_buffered
        self._logger = logging.getLogger(LOGGER_NAME)
        self._service = json.dumps(service)
        self._second = -1
        self._second_text = ""
        self._entries: list[tuple[float, str, str, int, float, str, str]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._logger.isEnabledFor(logging.INFO)

    def record(
        self,
        method: str,
        path: str,
        status: int,
        duration_ms: float,
        request_id: str,
        trace_id: str,
    ) -> None:
        if not self._logger.isEnabledFor(logging.INFO):
            return
        # Formatted when flushed: the request does not wait for its log line.
        self._entries.append((time.time(), method, path, status, duration_ms, request_id, trace_id))
        if len(self._entries) >= self.max_buffered:
            self.flush()

    def format(self, entry: tuple[float, str, str, int, float, str, str]) -> str:
        """One line in the format of mpp_shared.observability.logging.JsonFormatter."""
        at, method, path, status, duration_ms, request_id, trace_id = entry
        second = int(at)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        stamp = f"{self._second_text}.{int((at - second) * 1000):03d}+00:00"
        if _DIGITS.search(path):
            path = mask_personal_data(path)
        message = _json_string(f"{method} {path} {status}")
        return (
            f'{{"time": "{stamp}", "level": "info", "service": {self._service}, '
            f'"logger": "{LOGGER_NAME}", "message": {message}, '
            f'"request_id": {_json_string(request_id)}, '
            f'"trace_id": "{trace_id}", "status": {status}, "duration_ms": {duration_ms}}}'
        )

    def flush(self) -> None:
        if not self._entries:
            return
        entries, self._entries = self._entries, []
        text = "\n".join(self.format(entry) for entry in entries) + "\n"
        stream = self._stream()
        try:
            stream.write(text)
            stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken stdout must not take requests down with it

    async def start(self) -> None:
        self._task = asyncio.create_task(self._flush_forever(), name="access-log")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self.flush()

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(self.flush_seconds)
            self.flush()
