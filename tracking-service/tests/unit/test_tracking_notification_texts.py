"""Message texts read as Indonesian sentences whatever the officer typed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tracking.domain.notifications import REVISION_REQUESTED, ApplicationChange, notifications_for


def _revision(note: str | None) -> ApplicationChange:
    return ApplicationChange(
        event_id=uuid.uuid4(),
        event_type=REVISION_REQUESTED,
        application_id=uuid.uuid4(),
        registration_number="64.09-2026-000123",
        service_name="Akta Kelahiran",
        agency_id=uuid.uuid4(),
        owner_account_id=uuid.uuid4(),
        old_status="in_review",
        status="revision_requested",
        actor_kind="officer",
        note=note,
        occurred_at=datetime(2026, 12, 2, 3, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("note", "clause"),
    [
        ("Foto KTP buram", "Foto KTP buram"),
        ("Foto KTP buram.", "Foto KTP buram"),
        ("  Foto KTP buram ...  ", "Foto KTP buram"),
        ("...", "lihat catatan petugas di aplikasi"),
        (None, "lihat catatan petugas di aplikasi"),
    ],
)
def test_a_revision_note_ends_in_one_full_stop(note: str | None, clause: str) -> None:
    (owner,) = [n for n in notifications_for(_revision(note)) if n.account_id is not None]
    assert owner.body == (
        "Permohonan Akta Kelahiran nomor 64.09-2026-000123 memerlukan perbaikan: "
        f"{clause}. Silakan perbaiki dan ajukan kembali."
    )
    assert ".." not in owner.body
