"""What the service holds: the catalogue's versions as copied, applications, documents, notes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from application.domain.lifecycle import StageRef, Status
from mpp_shared.contracts.application.v1 import ActorKind, Channel
from mpp_shared.contracts.catalog.v1 import Requirement, ServicePublished

DocumentKind = Literal["input", "output"]
NoteVisibility = Literal["public", "internal"]


@dataclass(frozen=True)
class ServiceVersionCopy:
    """One published version of a service as the catalogue announced it, kept locally."""

    published: ServicePublished
    retired: bool = False

    @property
    def service_id(self) -> uuid.UUID:
        return self.published.service_id

    @property
    def version(self) -> int:
        return self.published.version

    @property
    def stages(self) -> list[StageRef]:
        return [StageRef(code=s.code, name=s.name) for s in self.published.stages]

    def requirement(self, code: str) -> Requirement | None:
        for requirement in self.published.requirements:
            if requirement.code == code:
                return requirement
        return None

    def stage_name(self, code: str | None) -> str | None:
        for stage in self.published.stages:
            if stage.code == code:
                return stage.name
        return None


@dataclass(frozen=True)
class Actor:
    """Who caused a change, as events name it."""

    kind: ActorKind
    id: str | None


@dataclass
class Application:
    id: uuid.UUID
    # None while an application filed at a counter waits for the resident to register.
    owner_account_id: uuid.UUID | None
    service_id: uuid.UUID
    service_version: int
    agency_id: uuid.UUID
    status: Status
    form_data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    channel: Channel = "online"
    stage: str | None = None
    registration_number: str | None = None
    tracking_code: str | None = None
    submitted_at: datetime | None = None
    due_at: datetime | None = None
    revision_requested_at: datetime | None = None
    decided_at: datetime | None = None
    overdue_notified_at: datetime | None = None
    # Optimistic lock: bumped by every change; a save expecting another value loses.
    version: int = 1
    # The sequence of the last event published about this application (0: none yet).
    event_sequence: int = 0


@dataclass(frozen=True)
class CounterFiling:
    """Who filed an application at a counter; ``resident_key`` while it waits for an owner."""

    application_id: uuid.UUID
    filed_by: uuid.UUID
    officer_name: str
    resident_key: str | None
    filed_at: datetime
    linked_account_id: uuid.UUID | None = None
    linked_at: datetime | None = None


@dataclass(frozen=True)
class Document:
    id: uuid.UUID
    application_id: uuid.UUID
    kind: DocumentKind
    requirement_code: str | None
    filename: str
    size: int
    content_type: str
    sha256: str
    blob_key: str
    created_at: datetime


@dataclass(frozen=True)
class Note:
    id: uuid.UUID
    application_id: uuid.UUID
    visibility: NoteVisibility
    action: str
    text: str
    actor_kind: ActorKind
    created_at: datetime


@dataclass(frozen=True)
class ApplicationView:
    """An application with what a reader may see of it."""

    application: Application
    documents: list[Document] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    owner_view: bool = False
