"""A blob store on an S3-compatible object store (AWS S3, MinIO), streamed both ways: large
uploads go up as multipart uploads one part at a time, downloads come down in chunks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING, Any, cast

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

from mpp_shared.blobstore.base import (
    CHUNK_SIZE,
    BlobNotFound,
    BlobReader,
    BlobStoreError,
    validate_content_type,
    validate_key,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

# S3 refuses parts under 5 MiB (except the last one).
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024
_NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class S3BlobStore:
    """Blobs as objects ``<prefix><key>`` in ``bucket``.

    The client is made on first use and released by :meth:`aclose`. Memory per upload stays
    at about one part (``part_size``, at least 5 MiB): a stream shorter than a part is sent as
    one ``PutObject``, a longer one as a multipart upload whose parts go up one after
    another; a failed or cancelled upload is aborted, so nothing appears under the key.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        part_size: int = DEFAULT_PART_SIZE,
        chunk_size: int = CHUNK_SIZE,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        if not bucket:
            raise ValueError("an S3 blob store needs a bucket")
        if (access_key is None) != (secret_key is None):
            raise ValueError("give both the S3 access key and the secret key, or neither")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts are at least {MIN_PART_SIZE} bytes")
        prefix = prefix.strip("/")
        if prefix:
            validate_key(prefix)
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        self.part_size = part_size
        self.chunk_size = chunk_size
        self._access_key = access_key
        self._secret_key = secret_key
        self._config = AioConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            # MinIO and other S3-compatible servers expect path-style addressing; checksums
            # only where S3 requires them, which every compatible server understands.
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: S3Client | None = None
        self._exit: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        # Never the credentials.
        return (
            f"S3BlobStore(bucket={self.bucket!r}, prefix={self.prefix!r}, "
            f"endpoint_url={self.endpoint_url!r})"
        )

    async def _s3(self) -> S3Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                client = await stack.enter_async_context(
                    get_session().create_client(
                        "s3",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        aws_access_key_id=self._access_key,
                        aws_secret_access_key=self._secret_key,
                        config=self._config,
                    )
                )
                self._exit, self._client = stack, client
            return self._client

    def _object(self, key: str) -> str:
        return self.prefix + validate_key(key)

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development and tests; in production the
        bucket is made by the operator)."""
        s3 = await self._s3()
        try:
            await s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND and _code(exc) != "NoSuchBucket":
                raise
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                await s3.create_bucket(Bucket=self.bucket)

    async def put(self, key: str, chunks: AsyncIterable[bytes], *, content_type: str) -> None:
        name = self._object(key)
        validate_content_type(content_type)
        s3 = await self._s3()
        iterator = aiter(chunks)
        part, ended = await _fill(iterator, self.part_size)
        if ended:
            await s3.put_object(
                Bucket=self.bucket, Key=name, Body=_body(part), ContentType=content_type
            )
            return
        upload = await s3.create_multipart_upload(
            Bucket=self.bucket, Key=name, ContentType=content_type
        )
        upload_id = upload["UploadId"]
        try:
            parts: list[dict[str, Any]] = []
            while True:
                number = len(parts) + 1
                answer = await s3.upload_part(
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=_body(part),
                )
                parts.append({"ETag": answer["ETag"], "PartNumber": number})
                if ended:
                    break
                # Release the sent part before the next one fills: one part in memory at a time.
                del part
                part, ended = await _fill(iterator, self.part_size)
                if not part:
                    break
            await s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=name,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},  # type: ignore[typeddict-item]
            )
        except BaseException:
            # Shielded so that a cancelled upload still tells the server to drop its parts.
            with contextlib.suppress(Exception):
                await asyncio.shield(
                    s3.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
                )
            raise

    async def open(self, key: str) -> BlobReader:
        name = self._object(key)
        s3 = await self._s3()
        try:
            answer = await s3.get_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise BlobNotFound(key) from None
            raise
        body = answer["Body"]
        chunk_size = self.chunk_size

        async def chunks() -> AsyncIterator[bytes]:
            while chunk := await body.read(chunk_size):
                yield chunk

        async def close() -> None:
            body.close()

        return BlobReader(
            size=answer["ContentLength"],
            content_type=answer.get("ContentType") or "application/octet-stream",
            chunks=chunks(),
            close=close,
        )

    async def delete(self, key: str) -> None:
        name = self._object(key)
        s3 = await self._s3()
        try:
            await s3.delete_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) not in _NOT_FOUND:
                raise

    async def exists(self, key: str) -> bool:
        name = self._object(key)
        s3 = await self._s3()
        try:
            await s3.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return False
            raise
        return True

    async def aclose(self) -> None:
        async with self._lock:
            stack, self._exit, self._client = self._exit, None, None
            if stack is not None:
                await stack.aclose()


async def _fill(iterator: AsyncIterator[bytes], size: int) -> tuple[bytearray, bool]:
    """Up to ``size`` bytes (a little more: whole chunks) and whether the stream ended."""
    part = bytearray()
    while len(part) < size:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            return part, True
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise BlobStoreError("blob chunks must be bytes")
        part += chunk
    return part, False


def _body(part: bytearray) -> bytes:
    # The SDK sends a bytearray as it is; converting it to bytes would copy a whole part.
    return cast("bytes", part)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
