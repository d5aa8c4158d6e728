"""The blob store suite runs against both stores: local disk, and S3 on a moto server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from mpp_shared.blobstore import BlobStore, LocalDiskBlobStore, S3BlobStore
from mpp_shared.blobstore.s3 import MIN_PART_SIZE


def make_s3_store(server: Any, bucket: str, **options: Any) -> S3BlobStore:
    return S3BlobStore(
        bucket,
        endpoint_url=server.endpoint_url,
        region=server.region,
        access_key=server.access_key,
        secret_key=server.secret_key,
        **options,
    )


@pytest.fixture
def s3_store_for(s3_server: Any) -> Callable[..., S3BlobStore]:
    """Makes an S3 store on the session's moto server for a bucket and options."""

    def make(bucket: str, **options: Any) -> S3BlobStore:
        return make_s3_store(s3_server, bucket, **options)

    return make


@pytest.fixture
async def s3_store(s3_server: Any) -> AsyncIterator[S3BlobStore]:
    # The smallest part S3 allows, so that multipart uploads start early in the tests.
    store = make_s3_store(
        s3_server, f"b-{uuid.uuid4().hex[:20]}", prefix="docs", part_size=MIN_PART_SIZE
    )
    await store.ensure_bucket()
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return LocalDiskBlobStore(tmp_path / "blobs")
    s3: BlobStore = request.getfixturevalue("s3_store")
    return s3
