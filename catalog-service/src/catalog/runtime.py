"""What a running catalog service holds besides the shared runtime: its read pool."""

from __future__ import annotations

from dataclasses import dataclass

from catalog.db.read_pool import QueuedPool


@dataclass
class CatalogRuntime:
    """``ServiceRuntime.state`` of the catalog service; the read pool opens on startup."""

    read_pool: QueuedPool | None = None

    def open_read_pool(self) -> QueuedPool:
        if self.read_pool is None:
            raise RuntimeError("the read pool is not open: the app's lifespan has not started")
        return self.read_pool
