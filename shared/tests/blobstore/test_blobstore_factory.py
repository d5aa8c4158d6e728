"""blob_store_from_url: which store a setting names, and which settings are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from mpp_shared.blobstore import LocalDiskBlobStore, S3BlobStore, blob_store_from_url


def test_an_absolute_file_url_is_a_local_store() -> None:
    store = blob_store_from_url("file:///var/lib/mpp/blobs")
    assert isinstance(store, LocalDiskBlobStore)
    assert store.root == Path("/var/lib/mpp/blobs")


def test_a_relative_file_url_is_relative_to_the_base_dir(tmp_path: Path) -> None:
    store = blob_store_from_url("file:.run/blobs", base_dir=tmp_path)
    assert isinstance(store, LocalDiskBlobStore)
    assert store.root == tmp_path / ".run" / "blobs"


def test_an_s3_url_names_bucket_prefix_endpoint_and_region() -> None:
    store = blob_store_from_url(
        "s3://mpp-documents/application?endpoint=http://minio:9000&region=us-east-1",
        access_key="minio-user",
        secret_key=SecretStr("minio-secret"),
    )
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix) == ("mpp-documents", "application/")
    assert (store.endpoint_url, store.region) == ("http://minio:9000", "us-east-1")


def test_an_s3_url_without_prefix_or_endpoint_is_aws() -> None:
    store = blob_store_from_url("s3://docs")
    assert isinstance(store, S3BlobStore)
    assert (store.prefix, store.endpoint_url, store.region) == ("", None, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://user:secret@docs/x", "credentials"),
        ("s3://AKID@docs", "credentials"),
        ("s3://docs?endpoint=http://minio:9000&secret=x", "unknown"),
        ("s3://docs?region=a&region=b", "twice"),
        ("s3://docs?endpoint=minio:9000", "http"),
        ("s3:///prefix", "bucket"),
        ("s3://docs/../x", "key"),
        ("ftp://host/x", "scheme"),
        ("/var/lib/blobs", "scheme"),
        ("file:", "path"),
        ("file://otherhost/x", "local path"),
        ("file:///x?mode=1", "query"),
    ],
)
def test_bad_urls_are_refused_at_start(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        blob_store_from_url(url)


def test_only_one_of_the_two_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="both"):
        blob_store_from_url("s3://docs", access_key="id-only")
