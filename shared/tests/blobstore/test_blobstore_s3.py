"""The S3 store: objects under the prefix, no multipart upload left behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiobotocore.session import get_session

from mpp_shared.blobstore import S3BlobStore

MiB = 1024 * 1024


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _raw_client(server: Any) -> Any:
    return get_session().create_client(
        "s3",
        endpoint_url=server.endpoint_url,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    )


async def test_objects_are_stored_under_the_prefix_with_their_type(
    s3_store: S3BlobStore, s3_server: Any
) -> None:
    await s3_store.put("applications/a/b", _chunks(b"%PDF-1.7"), content_type="application/pdf")
    async with _raw_client(s3_server) as s3:
        head = await s3.head_object(Bucket=s3_store.bucket, Key="docs/applications/a/b")
    assert head["ContentType"] == "application/pdf"
    assert head["ContentLength"] == 8


async def test_a_failed_multipart_upload_is_aborted(s3_store: S3BlobStore, s3_server: Any) -> None:
    async def failing() -> AsyncIterator[bytes]:
        for _ in range(7):
            yield b"x" * MiB
        raise RuntimeError("the caller's stream broke")

    with pytest.raises(RuntimeError):
        await s3_store.put("applications/a/b", failing(), content_type="text/plain")
    async with _raw_client(s3_server) as s3:
        uploads = await s3.list_multipart_uploads(Bucket=s3_store.bucket)
        listing = await s3.list_objects_v2(Bucket=s3_store.bucket)
    assert uploads.get("Uploads", []) == []
    assert listing.get("KeyCount", 0) == 0


async def test_a_multipart_object_is_whole_and_in_order(s3_store: S3BlobStore) -> None:
    parts = [bytes([i]) * MiB for i in range(12)]  # three parts of 5, 5 and 2 MiB
    await s3_store.put("applications/big", _chunks(*parts), content_type="image/tiff")
    reader = await s3_store.open("applications/big")
    assert reader.size == 12 * MiB
    assert await reader.read_all() == b"".join(parts)


async def test_a_stream_of_exactly_one_part_is_stored(s3_store: S3BlobStore) -> None:
    parts = [b"y" * MiB] * 5
    await s3_store.put("applications/five", _chunks(*parts), content_type="text/plain")
    assert (await s3_store.open("applications/five")).size == 5 * MiB


async def test_a_missing_bucket_is_an_error_not_a_missing_blob(
    s3_store_for: Callable[..., S3BlobStore],
) -> None:
    store = s3_store_for(f"missing-{uuid.uuid4().hex[:12]}")
    try:
        with pytest.raises(Exception, match="NoSuchBucket"):
            await store.open("applications/a")
    finally:
        await store.aclose()


async def test_ensure_bucket_twice_is_fine(s3_store: S3BlobStore) -> None:
    await s3_store.ensure_bucket()
    assert not await s3_store.exists("applications/a")


def test_the_repr_names_no_credentials() -> None:
    store = S3BlobStore("docs", access_key="AKIDEXAMPLE", secret_key="very-secret")
    assert "very-secret" not in repr(store)
    assert "AKIDEXAMPLE" not in repr(store)
