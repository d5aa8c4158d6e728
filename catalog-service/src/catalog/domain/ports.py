"""What the domain needs from storage and messaging, as interfaces that db/ and messaging/ meet."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from catalog.domain.models import (
    Agency,
    AgencyFields,
    ServiceFields,
    ServiceHeader,
    ServiceVersion,
)
from mpp_shared.contracts.catalog.v1 import ServicePublished, ServiceRetired


class CatalogRepository(Protocol):
    async def missing_region_codes(self, codes: Sequence[str]) -> list[str]: ...

    async def get_agency(self, agency_id: uuid.UUID) -> Agency | None: ...

    async def add_agency(
        self, *, agency_id: uuid.UUID, fields: AgencyFields, timezone: str
    ) -> Agency: ...

    async def update_agency(self, *, agency_id: uuid.UUID, changes: dict[str, Any]) -> Agency: ...

    async def get_service(
        self, service_id: uuid.UUID, *, for_update: bool = False
    ) -> ServiceHeader | None: ...

    async def add_service(
        self, *, service_id: uuid.UUID, agency_id: uuid.UUID, code: str
    ) -> ServiceHeader: ...

    async def get_version(self, service_id: uuid.UUID, version: int) -> ServiceVersion | None: ...

    async def add_draft(
        self, *, service_id: uuid.UUID, version: int, fields: ServiceFields, actor: str
    ) -> ServiceVersion: ...

    async def save_draft(
        self, *, service_id: uuid.UUID, version: int, fields: ServiceFields
    ) -> ServiceVersion: ...

    async def publish(
        self,
        *,
        service_id: uuid.UUID,
        version: int,
        document: dict[str, Any],
        listing: dict[str, Any],
        region_keys: list[str],
        actor: str,
        published_at: datetime,
    ) -> None: ...

    async def retire(self, *, service_id: uuid.UUID, retired_at: datetime) -> None: ...

    async def now(self) -> datetime: ...


class CatalogEvents(Protocol):
    async def agency_created(self, agency: Agency) -> None: ...

    async def agency_updated(self, agency: Agency) -> None: ...

    async def service_published(self, payload: ServicePublished) -> None: ...

    async def service_retired(self, payload: ServiceRetired) -> None: ...
