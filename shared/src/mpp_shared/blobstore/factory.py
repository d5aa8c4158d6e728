"""Builds the blob store a URL names: ``file:`` for local disk, ``s3://`` for S3/MinIO."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import SecretStr

from mpp_shared.blobstore.base import BlobStore
from mpp_shared.blobstore.local import LocalDiskBlobStore

_S3_QUERY = frozenset({"endpoint", "region"})


def blob_store_from_url(
    url: str,
    *,
    access_key: str | SecretStr | None = None,
    secret_key: str | SecretStr | None = None,
    base_dir: str | Path | None = None,
) -> BlobStore:
    """The store ``url`` names.

    - ``file:///var/lib/mpp/blobs`` (absolute) or ``file:.run/blobs`` (relative to
      ``base_dir``, default the working directory) → :class:`LocalDiskBlobStore`;
    - ``s3://bucket/optional/prefix?endpoint=http://minio:9000&region=us-east-1`` →
      :class:`~mpp_shared.blobstore.s3.S3BlobStore`, with ``access_key``/``secret_key`` from
      the settings (both, or neither for the SDK's own chain, e.g. an instance role).

    Credentials in the URL itself, unknown schemes and unknown query parameters are a
    :class:`ValueError`, so a mistyped setting stops the service at start.
    """
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("a blob store URL carries no credentials: give them as settings")
    if parts.scheme == "file":
        if parts.query or parts.fragment:
            raise ValueError("a file: blob store URL takes no query or fragment")
        if parts.netloc not in ("", "localhost"):
            raise ValueError("a file: blob store URL names a local path, not a host")
        path = Path(unquote(parts.path))
        if not unquote(parts.path):
            raise ValueError("a file: blob store URL needs a path")
        if not path.is_absolute():
            path = Path(base_dir or Path.cwd()) / path
        return LocalDiskBlobStore(path)
    if parts.scheme == "s3":
        from mpp_shared.blobstore.s3 import S3BlobStore  # the S3 SDK only when it is used

        if not parts.hostname:
            raise ValueError("an s3:// blob store URL names its bucket: s3://bucket/prefix")
        if parts.fragment:
            raise ValueError("an s3:// blob store URL takes no fragment")
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
        unknown = set(query) - _S3_QUERY
        if unknown:
            raise ValueError(f"unknown s3:// blob store URL parameters: {sorted(unknown)}")
        if any(len(values) > 1 for values in query.values()):
            raise ValueError("an s3:// blob store URL parameter is given twice")
        endpoint = query.get("endpoint", [None])[0] or None
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise ValueError("the s3:// endpoint is an http:// or https:// URL")
        return S3BlobStore(
            # urlsplit lowercases the hostname; bucket names are lowercase anyway.
            parts.hostname,
            endpoint_url=endpoint,
            region=query.get("region", [None])[0] or None,
            access_key=_reveal(access_key),
            secret_key=_reveal(secret_key),
            prefix=unquote(parts.path).strip("/"),
        )
    raise ValueError(f"unknown blob store URL scheme {parts.scheme!r}: use file: or s3://")


def _reveal(secret: str | SecretStr | None) -> str | None:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret or None
