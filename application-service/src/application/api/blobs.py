"""Blobs a request stored but must not keep: the transaction that would have referenced them
did not commit (or the document they belonged to was replaced)."""

from __future__ import annotations

import logging

from mpp_shared.blobstore import BlobStore

log = logging.getLogger(__name__)


async def discard_blob(store: BlobStore, key: str) -> None:
    """Delete ``key``; a failure is logged, never raised (it must not hide the first error)."""
    try:
        await store.delete(key)
    except Exception as exc:
        # An orphaned blob costs space, never correctness: no document row names it.
        log.warning(
            "document blob not deleted",
            extra={"key": key, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
