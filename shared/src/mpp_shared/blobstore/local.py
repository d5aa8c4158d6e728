"""A blob store on a local directory: each blob one file, written to a temporary file and
renamed into place so that a reader never sees half of it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

from mpp_shared.blobstore.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    BlobStoreError,
    validate_content_type,
    validate_key,
)

# Each file starts with this magic, one byte of content-type length and the content type, so
# the bytes and their type are renamed into place together (a side file would be a second,
# separate rename).
_MAGIC = b"MPPBLOB1"


class LocalDiskBlobStore:
    """Blobs as files under ``root`` (created if missing). For one host and for development:
    several replicas need a shared store (S3)."""

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE) -> None:
        self.root = Path(root)
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"LocalDiskBlobStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        validate_key(key)
        return self.root / key

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, content_type: str) -> None:
        path = self._path(key)
        header = _header(content_type)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        # Few trips to a worker thread (each one costs more than a small write): one to open,
        # one per chunk_size of data, and the last write with the sync and the rename.
        file = await asyncio.to_thread(_open_temporary, self.root, path, temporary)
        try:
            buffer = bytearray(header)
            async for chunk in chunks:
                buffer += chunk
                if len(buffer) >= self.chunk_size:
                    await asyncio.to_thread(file.write, buffer)
                    buffer = bytearray()
            await asyncio.to_thread(_finish, file, bytes(buffer), temporary, path)
        except BaseException:
            # Also on cancellation: synchronous, so a second cancellation cannot skip it.
            file.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    async def open(self, key: str) -> BlobReader:
        path = self._path(key)
        try:
            file, content_type, size = await asyncio.to_thread(_open_blob, path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFound(key) from None

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await asyncio.to_thread(file.read, self.chunk_size):
                yield chunk

        async def close() -> None:
            file.close()

        return BlobReader(size=size, content_type=content_type, chunks=chunks(), close=close)

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            await asyncio.to_thread(os.unlink, path)

    async def exists(self, key: str) -> bool:
        path = self._path(key)
        return await asyncio.to_thread(path.is_file)

    async def aclose(self) -> None:
        return None


def _header(content_type: str) -> bytes:
    encoded = validate_content_type(content_type).encode("ascii")
    return _MAGIC + bytes([len(encoded)]) + encoded


def _open_temporary(root: Path, path: Path, temporary: Path) -> BinaryIO:
    _make_parent(root, path)
    return _create_exclusive(temporary)


def _finish(file: BinaryIO, rest: bytes, temporary: Path, path: Path) -> None:
    """Write the rest, make the file durable and rename it into place."""
    if rest:
        file.write(rest)
    _flush_and_sync(file)
    file.close()
    os.replace(temporary, path)
    _sync_directory(path.parent)


def _make_parent(root: Path, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A symbolic link planted inside the root must not lead a write outside it.
    if not path.parent.resolve().is_relative_to(root.resolve()):
        raise BlobStoreError("blob path leaves the store's root")


def _create_exclusive(path: Path) -> BinaryIO:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    return os.fdopen(fd, "wb")


def _flush_and_sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _sync_directory(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_blob(path: Path) -> tuple[BinaryIO, str, int]:
    file = path.open("rb")
    try:
        total = os.fstat(file.fileno()).st_size
        magic = file.read(len(_MAGIC) + 1)
        if len(magic) != len(_MAGIC) + 1 or not magic.startswith(_MAGIC):
            raise BlobStoreError(f"{path.name} is not a blob file")
        length = magic[-1]
        content_type = file.read(length).decode("ascii")
        size = total - len(_MAGIC) - 1 - length
        return file, content_type, size
    except BaseException:
        file.close()
        raise
