"""What a running application service holds besides the shared runtime (its `state`)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from application.db.repositories import PublishedVersions, RegistrationSerials
from application.domain.bookings import BookingPolicy, LocationDirectory, SlotCalendar
from application.domain.counter_filing import ResidentRegistry
from application.domain.models import ServiceVersionCopy
from application.domain.ports import IdentityDirectory
from mpp_shared.blobstore import BlobStore
from mpp_shared.calendar import WorkingCalendar, default_calendar
from mpp_shared.forms import FormValidator


class CalendarDueDates:
    """Implements ``application.domain.ports.DueDates`` with the shared working calendar."""

    def __init__(self, calendar: WorkingCalendar | None = None) -> None:
        self._calendar = calendar or default_calendar()

    def due_at(self, *, submitted_at: datetime, working_days: int, timezone: str) -> datetime:
        return self._calendar.due_at(submitted_at, working_days, timezone)

    def extend(
        self, *, due_at: datetime, paused_from: datetime, resumed_at: datetime, timezone: str
    ) -> datetime:
        return self._calendar.extend_due_at(due_at, paused_from, resumed_at, timezone)


class FormValidators:
    """One validator per published version; a version never changes, so none goes stale."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._validators: OrderedDict[tuple[str, int], FormValidator] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, version: ServiceVersionCopy) -> FormValidator:
        key = (str(version.service_id), version.version)
        with self._lock:
            found = self._validators.get(key)
            if found is not None:
                self._validators.move_to_end(key)
                return found
        validator = FormValidator(version.published.form_schema)
        with self._lock:
            self._validators[key] = validator
            while len(self._validators) > self._size:
                self._validators.popitem(last=False)
        return validator


@dataclass
class ApplicationRuntime:
    validators: FormValidators
    # The published versions read so far (immutable; the latest and retirement are not kept).
    versions: PublishedVersions = field(default_factory=PublishedVersions)
    # Registration serials outside the submission's transaction (opened at start).
    serials: RegistrationSerials | None = None
    due_dates: CalendarDueDates = field(default_factory=CalendarDueDates)
    blob_store: BlobStore | None = None
    identity: IdentityDirectory | None = None
    residents: ResidentRegistry | None = None
    # catalog-service over NATS, asked for a location the read copy does not hold yet.
    locations: LocationDirectory | None = None
    booking_policy: BookingPolicy = field(default_factory=BookingPolicy)
    # Holidays for booking slots (the shared calendar; tests put their own days off in).
    calendar: SlotCalendar = field(default_factory=default_calendar)
    # Working days between two instants, for the complaint reports' response times.
    working_time: WorkingCalendar = field(default_factory=default_calendar)

    def blobs(self) -> BlobStore:
        if self.blob_store is None:
            raise RuntimeError("the blob store is not open")
        return self.blob_store

    def identity_directory(self) -> IdentityDirectory:
        if self.identity is None:
            raise RuntimeError("the identity directory is not connected")
        return self.identity

    def resident_registry(self) -> ResidentRegistry:
        if self.residents is None:
            raise RuntimeError("the resident registry is not connected")
        return self.residents
