"""The blob store interface: streamed put, streamed read, delete, exists, and its errors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

# 256 KiB: large enough that a file costs few thread hops or network reads, small enough that
# a reader holds next to nothing.
CHUNK_SIZE = 256 * 1024
MAX_KEY_LENGTH = 512
MAX_CONTENT_TYPE_LENGTH = 255

# Segments start with a letter or digit, so neither "." nor ".." nor a hidden name (the local
# store's temporary files start with ".") can be a key; "/" separates segments, never leads,
# never trails, never doubles.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?:;[ -~]*)?")


class BlobStoreError(Exception):
    """Something a blob store refused or could not do."""


class InvalidBlobKey(BlobStoreError, ValueError):
    """A key that is not a plain relative path (``..``, absolute, NUL, empty segments...)."""


class BlobNotFound(BlobStoreError, LookupError):
    """No blob under that key."""

    def __init__(self, key: str) -> None:
        super().__init__(f"no blob under key {key!r}")
        self.key = key


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`InvalidBlobKey`.

    Allowed: segments of ``A-Z a-z 0-9 . _ -`` starting with a letter or digit, joined by
    single ``/``; at most 512 characters. So ``applications/<uuid>/<uuid>`` is fine and
    ``../x``, ``/etc/passwd``, ``a//b``, ``a/./b``, ``a\\b`` or a NUL are refused.
    """
    if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise InvalidBlobKey(f"not a valid blob key: {key!r}")
    return key


def validate_content_type(content_type: str) -> str:
    """Return ``content_type`` if it looks like a MIME type (``type/subtype[; params]``)."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_LENGTH
        or not _CONTENT_TYPE.fullmatch(content_type)
    ):
        raise BlobStoreError(f"not a valid content type: {content_type!r}")
    return content_type


class BlobReader:
    """One blob being read: ``size`` and ``content_type`` up front, then its bytes in chunks.

    Iterate it once (``async for chunk in reader``); the underlying file or connection is
    released when the iteration ends, when :meth:`aclose` is called, or at the end of an
    ``async with`` block. It reads the object as it was when :meth:`BlobStore.open` returned,
    even if the key is overwritten or deleted meanwhile.
    """

    def __init__(
        self,
        *,
        size: int,
        content_type: str,
        chunks: AsyncIterator[bytes],
        close: Callable[[], Awaitable[None]],
    ) -> None:
        self.size = size
        self.content_type = content_type
        self._chunks = chunks
        self._close = close
        self._closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._closed:
            raise StopAsyncIteration
        try:
            return await anext(self._chunks)
        except BaseException:
            # The end of the blob, a failure or a cancellation: release the resource now.
            await self.aclose()
            raise

    async def read_all(self) -> bytes:
        """The whole blob in memory: for tests and small objects only."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@runtime_checkable
class BlobStore(Protocol):
    """Where documents live: keys are opaque relative paths the caller makes.

    Every method refuses an unsafe key with :class:`InvalidBlobKey` before touching storage.
    """

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, content_type: str) -> None:
        """Store the bytes of ``chunks`` under ``key``, replacing any blob there.

        Streams: memory stays bounded by a chunk (local disk) or an upload part (S3),
        whatever the size. Atomic: a reader sees the old blob or the whole new one, never a
        part. If ``chunks`` raises (or the task is cancelled) nothing is stored, the blob
        already under ``key`` is untouched, and the exception propagates.
        """
        ...

    async def open(self, key: str) -> BlobReader:
        """Start reading the blob under ``key``; :class:`BlobNotFound` if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob under ``key``; deleting a missing blob is not an error."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether a (complete) blob is stored under ``key``."""
        ...

    async def aclose(self) -> None:
        """Release connections; call once when the service stops."""
        ...
