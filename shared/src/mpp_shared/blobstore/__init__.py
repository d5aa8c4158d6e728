"""Blob storage for documents: one small async interface, on local disk or S3/MinIO."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mpp_shared.blobstore.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    BlobStore,
    BlobStoreError,
    InvalidBlobKey,
    validate_key,
)
from mpp_shared.blobstore.factory import blob_store_from_url
from mpp_shared.blobstore.local import LocalDiskBlobStore

if TYPE_CHECKING:
    from mpp_shared.blobstore.s3 import S3BlobStore

__all__ = [
    "CHUNK_SIZE",
    "BlobNotFound",
    "BlobReader",
    "BlobStore",
    "BlobStoreError",
    "InvalidBlobKey",
    "LocalDiskBlobStore",
    "S3BlobStore",
    "blob_store_from_url",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    # The S3 SDK is imported only by a service that uses S3.
    if name == "S3BlobStore":
        from mpp_shared.blobstore.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(name)
