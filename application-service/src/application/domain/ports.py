"""What the domain needs from the outside, by interface: storage, events, identity, calendar."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from application.domain.lifecycle import Status
from application.domain.models import Application, Document, Note, ServiceVersionCopy
from mpp_shared.contracts.application.v1 import ApplicationEvent


@dataclass(frozen=True)
class QueueFilter:
    agency_id: uuid.UUID
    status: Status | None = None
    service_id: uuid.UUID | None = None
    stage: str | None = None
    overdue: bool | None = None
    submitted_from: datetime | None = None
    submitted_to: datetime | None = None


@dataclass(frozen=True)
class Slice:
    items: list[Application]
    next_position: dict[str, Any] | None


class ApplicationRepository(Protocol):
    async def service_version(
        self, service_id: uuid.UUID, version: int | None = None
    ) -> ServiceVersionCopy | None:
        """The given version, or the latest when ``version`` is None."""
        ...

    async def published_version(
        self, service_id: uuid.UUID, version: int
    ) -> ServiceVersionCopy | None:
        """The given version, its retirement not looked up (``retired`` is False)."""
        ...

    async def add(self, application: Application) -> None: ...

    async def get(self, application_id: uuid.UUID) -> Application | None: ...

    async def save(self, application: Application, *, expected_version: int) -> None:
        """Write the changed application; ``ConcurrentChange`` when its version moved on."""
        ...

    async def list_owned(
        self, owner: uuid.UUID, *, limit: int, after: Mapping[str, Any] | None
    ) -> Slice: ...

    async def list_queue(
        self, where: QueueFilter, *, now: datetime, limit: int, after: Mapping[str, Any] | None
    ) -> Slice: ...

    async def documents(self, application_id: uuid.UUID) -> list[Document]: ...

    async def document(
        self, application_id: uuid.UUID, document_id: uuid.UUID
    ) -> Document | None: ...

    async def put_document(self, document: Document) -> Document | None:
        """Store ``document``, replacing the one of the same requirement (or the output):
        the replaced one is returned so that its blob can go once the change is committed."""
        ...

    async def attach_input_document(
        self, application: Application, document: Document, *, expected_version: int
    ) -> Document | None:
        """Move the application's version on from ``expected_version`` and store ``document``
        in place of the one of its requirement, at once (``ConcurrentChange`` when the version
        moved on); the replaced one is returned, so that its blob can go once that is kept."""
        ...

    async def add_note(self, note: Note) -> None: ...

    async def notes(self, application_id: uuid.UUID, *, internal: bool) -> list[Note]: ...

    async def next_registration_serial(self, *, region_code: str, year: int) -> int: ...


class ApplicationEvents(Protocol):
    async def record(self, event_type: str, payload: ApplicationEvent) -> None: ...


class IdentityDirectory(Protocol):
    """identity-service's request-reply answers (``rpc.identity.*``)."""

    async def grant_consent(
        self, *, account_id: uuid.UUID, service_id: uuid.UUID, fields: Sequence[str], purpose: str
    ) -> None: ...

    async def prefill(
        self, *, account_id: uuid.UUID, service_id: uuid.UUID, fields: Sequence[str]
    ) -> dict[str, Any]: ...

    async def grant_consent_and_prefill(
        self, *, account_id: uuid.UUID, service_id: uuid.UUID, fields: Sequence[str], purpose: str
    ) -> dict[str, Any]:
        """``grant_consent`` and then ``prefill`` of the same fields."""
        ...


class DueDates(Protocol):
    """The SLA clock of Indonesian working days in the agency's time zone."""

    def due_at(self, *, submitted_at: datetime, working_days: int, timezone: str) -> datetime: ...

    def extend(
        self, *, due_at: datetime, paused_from: datetime, resumed_at: datetime, timezone: str
    ) -> datetime:
        """``due_at`` moved by the working time spent between ``paused_from`` and
        ``resumed_at`` (the revision pause)."""
        ...
