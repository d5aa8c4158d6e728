"""The local disk store: what it leaves on disk."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mpp_shared.blobstore import BlobStoreError, LocalDiskBlobStore


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _failing() -> AsyncIterator[bytes]:
    yield b"partial"
    raise RuntimeError("the caller's stream broke")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


async def test_a_failed_put_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalDiskBlobStore(tmp_path)
    with pytest.raises(RuntimeError):
        await store.put("applications/a/b", _failing(), content_type="text/plain")
    assert _files(tmp_path) == []


async def test_a_cancelled_put_leaves_no_temporary_file(tmp_path: Path) -> None:
    store = LocalDiskBlobStore(tmp_path)
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            started.set()
            yield b"x" * 1024
            await asyncio.sleep(0.01)

    task = asyncio.create_task(store.put("applications/a/b", endless(), content_type="text/plain"))
    await started.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _files(tmp_path) == []


async def test_blob_files_are_private_to_the_service(tmp_path: Path) -> None:
    store = LocalDiskBlobStore(tmp_path)
    await store.put("applications/a/b", _chunks(b"secret scan"), content_type="image/png")
    mode = stat.S_IMODE(os.stat(tmp_path / "applications" / "a" / "b").st_mode)
    assert mode == 0o600


async def test_a_symbolic_link_inside_the_root_does_not_lead_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "applications").symlink_to(outside)
    store = LocalDiskBlobStore(root)
    with pytest.raises(BlobStoreError):
        await store.put("applications/a", _chunks(b"x"), content_type="text/plain")
    assert _files(outside) == []


async def test_a_file_that_is_not_a_blob_is_refused_not_misread(tmp_path: Path) -> None:
    (tmp_path / "applications").mkdir()
    (tmp_path / "applications" / "planted").write_bytes(b"not written by the store")
    store = LocalDiskBlobStore(tmp_path)
    with pytest.raises(BlobStoreError):
        await store.open("applications/planted")
