"""One behaviour for both blob stores: streamed put and read, atomic replacement, delete,
exists, safe keys, bounded memory."""

from __future__ import annotations

import asyncio
import hashlib
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Iterable

import pytest

from mpp_shared.blobstore import (
    BlobNotFound,
    BlobStore,
    BlobStoreError,
    InvalidBlobKey,
    LocalDiskBlobStore,
    S3BlobStore,
)

MiB = 1024 * 1024
PDF = "application/pdf"


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


async def _pattern(total: int, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """``total`` bytes in chunks, without holding more than one chunk."""
    sent = 0
    index = 0
    while sent < total:
        size = min(chunk_size, total - sent)
        yield bytes([index % 251]) * size
        sent += size
        index += 1


def _pattern_sha256(total: int, chunk_size: int = 64 * 1024) -> str:
    digest = hashlib.sha256()
    sent = index = 0
    while sent < total:
        size = min(chunk_size, total - sent)
        digest.update(bytes([index % 251]) * size)
        sent += size
        index += 1
    return digest.hexdigest()


def _key() -> str:
    return f"applications/{uuid.uuid4()}/{uuid.uuid4()}"


class Boom(Exception):
    pass


async def _failing(prefix: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in prefix:
        yield part
    raise Boom


async def test_put_then_open_gives_the_bytes_size_and_type(store: BlobStore) -> None:
    key = _key()
    await store.put(key, _chunks(b"%PDF-1.7\n", b"body", b"%%EOF"), content_type=PDF)
    async with await store.open(key) as reader:
        assert reader.size == len(b"%PDF-1.7\nbody%%EOF")
        assert reader.content_type == PDF
        assert await reader.read_all() == b"%PDF-1.7\nbody%%EOF"


async def test_an_empty_blob_is_stored(store: BlobStore) -> None:
    key = _key()
    await store.put(key, _chunks(), content_type="text/plain")
    reader = await store.open(key)
    assert reader.size == 0
    assert await reader.read_all() == b""


async def test_put_replaces_the_blob_under_the_key(store: BlobStore) -> None:
    key = _key()
    await store.put(key, _chunks(b"old"), content_type="text/plain")
    await store.put(key, _chunks(b"new!"), content_type="image/png")
    reader = await store.open(key)
    assert (reader.size, reader.content_type, await reader.read_all()) == (4, "image/png", b"new!")


async def test_open_of_a_missing_key_is_blob_not_found(store: BlobStore) -> None:
    with pytest.raises(BlobNotFound) as caught:
        await store.open("applications/none/none")
    assert caught.value.key == "applications/none/none"


async def test_exists_and_delete(store: BlobStore) -> None:
    key = _key()
    assert not await store.exists(key)
    await store.put(key, _chunks(b"x"), content_type="text/plain")
    assert await store.exists(key)
    await store.delete(key)
    assert not await store.exists(key)
    with pytest.raises(BlobNotFound):
        await store.open(key)
    await store.delete(key)  # deleting again is not an error


async def test_a_key_prefix_of_another_is_not_the_same_blob(store: BlobStore) -> None:
    await store.put("applications/a/b", _chunks(b"1"), content_type="text/plain")
    assert not await store.exists("applications/a")
    with pytest.raises(BlobNotFound):
        await store.open("applications/a")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "../outside",
        "applications/../../etc/passwd",
        "/etc/passwd",
        "applications//x",
        "applications/./x",
        "applications/x/",
        ".hidden",
        "applications/x\x00.pdf",
        "applications\\x",
        "C:/x",
        "applications/x\n",
        "a" * 513,
        "applications/ü",
    ],
)
async def test_hostile_keys_are_refused_by_every_operation(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidBlobKey):
        await store.put(key, _chunks(b"x"), content_type="text/plain")
    with pytest.raises(InvalidBlobKey):
        await store.open(key)
    with pytest.raises(InvalidBlobKey):
        await store.delete(key)
    with pytest.raises(InvalidBlobKey):
        await store.exists(key)


async def test_an_invalid_content_type_is_refused(store: BlobStore) -> None:
    key = _key()
    for content_type in ("", "pdf", "text/plain\r\nX-Injected: 1", "a/" + "b" * 300):
        with pytest.raises(BlobStoreError):
            await store.put(key, _chunks(b"x"), content_type=content_type)
    assert not await store.exists(key)


@pytest.mark.parametrize("stored_before", [0, 6 * MiB], ids=["small", "multipart"])
async def test_a_failing_stream_stores_nothing_and_keeps_the_old_blob(
    store: BlobStore, stored_before: int
) -> None:
    key = _key()
    await store.put(key, _chunks(b"the old one"), content_type="text/plain")
    parts = [b"x" * MiB] * (stored_before // MiB) + [b"partial"]
    with pytest.raises(Boom):
        await store.put(key, _failing(parts), content_type="text/plain")
    assert await (await store.open(key)).read_all() == b"the old one"

    fresh = _key()
    with pytest.raises(Boom):
        await store.put(fresh, _failing(parts), content_type="text/plain")
    assert not await store.exists(fresh)


async def test_a_reader_never_sees_a_partial_blob(store: BlobStore) -> None:
    key, fresh = _key(), _key()
    await store.put(key, _chunks(b"complete old blob"), content_type="text/plain")
    halfway = asyncio.Event()
    go_on = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"A" * (6 * MiB)  # beyond one S3 part: a multipart upload is under way
        halfway.set()
        await go_on.wait()
        yield b"end"

    writers = [
        asyncio.create_task(store.put(key, slow(), content_type="text/plain")),
        asyncio.create_task(store.put(fresh, slow(), content_type="text/plain")),
    ]
    await asyncio.wait_for(halfway.wait(), 30)
    await asyncio.sleep(0.2)  # let the writers push what they have
    assert await (await store.open(key)).read_all() == b"complete old blob"
    assert not await store.exists(fresh)
    with pytest.raises(BlobNotFound):
        await store.open(fresh)
    go_on.set()
    await asyncio.gather(*writers)
    for name in (key, fresh):
        reader = await store.open(name)
        assert reader.size == 6 * MiB + 3
        assert (await reader.read_all()).endswith(b"Aend")


async def test_a_reader_opened_before_an_overwrite_reads_the_old_blob(store: BlobStore) -> None:
    key = _key()
    await store.put(key, _chunks(b"first version"), content_type="text/plain")
    reader = await store.open(key)
    await store.put(key, _chunks(b"second version, longer"), content_type="text/plain")
    assert reader.size == len(b"first version")
    assert await reader.read_all() == b"first version"


async def test_a_reader_closed_early_can_be_closed_again(store: BlobStore) -> None:
    key = _key()
    await store.put(key, _pattern(2 * MiB), content_type="application/octet-stream")
    reader = await store.open(key)
    first = await anext(aiter(reader))
    assert first
    await reader.aclose()
    await reader.aclose()
    assert [chunk async for chunk in reader] == []


async def test_twenty_mib_stream_through_with_bounded_memory(store: BlobStore) -> None:
    key = _key()
    total = 20 * MiB
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        await store.put(key, _pattern(total), content_type="application/octet-stream")
        _, put_peak = tracemalloc.get_traced_memory()

        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        size = 0
        async with await store.open(key) as reader:
            assert reader.size == total
            async for chunk in reader:
                size += len(chunk)
                digest.update(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size == total
    assert digest.hexdigest() == _pattern_sha256(total)
    # Local disk holds about one 256 KiB write buffer; S3 one 5 MiB part (S3's smallest) plus
    # the SDK's and the HTTP client's pieces: both far below the 20 MiB that went through.
    limit = 2 * MiB if isinstance(store, LocalDiskBlobStore) else 8 * MiB
    assert put_peak < limit, f"put peaked at {put_peak / MiB:.1f} MiB"
    assert read_peak < 2 * MiB, f"read peaked at {read_peak / MiB:.1f} MiB"


async def test_s3_parts_are_at_least_five_mib() -> None:
    with pytest.raises(ValueError, match="at least"):
        S3BlobStore("bucket", part_size=MiB)
    with pytest.raises(ValueError, match="both"):
        S3BlobStore("bucket", access_key="only-the-id")
