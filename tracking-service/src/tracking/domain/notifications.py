"""Which notifications an application, booking or complaint event gives, their Indonesian
texts, and their delivery.

The owner hears of every change of status (not of a stage advance within one status, nor of
a withdrawal they made themselves) and of every revision request; the handling agency's
inbox, shared by all its staff, hears of SLA breaches. Each read mark is per account.
Email and SMS copies for the owner go out through a :class:`NotificationChannel`; events
carry no contact data, so the address is resolved when the message is sent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

Audience = Literal["account", "agency"]
ChannelName = Literal["email", "sms"]
SubjectType = Literal["application", "booking", "complaint"]

SUBMITTED = "mpp.application.application.submitted"
STATUS_CHANGED = "mpp.application.application.status_changed"
REVISION_REQUESTED = "mpp.application.application.revision_requested"
COMPLETED = "mpp.application.application.completed"
WITHDRAWN = "mpp.application.application.withdrawn"
OVERDUE = "mpp.application.application.overdue"


@dataclass(frozen=True, slots=True)
class ApplicationChange:
    """The facts of an application event that notifications speak of."""

    event_id: uuid.UUID
    event_type: str
    application_id: uuid.UUID
    registration_number: str
    service_name: str
    agency_id: uuid.UUID
    owner_account_id: uuid.UUID | None
    old_status: str | None
    status: str
    actor_kind: str
    note: str | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Subject:
    """What a notification is about: an application (its registration number), a counter
    booking (its queue number once checked in) or a complaint case (its tracking number)."""

    type: SubjectType
    id: uuid.UUID
    number: str | None


@dataclass(frozen=True, slots=True)
class NotificationDraft:
    kind: str
    audience: Audience
    account_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    title: str
    body: str
    channels: tuple[ChannelName, ...]


def _note(note: str | None) -> str:
    """An officer's note as a clause of a sentence: the sentence supplies its own full stop."""
    text = note.strip().rstrip(".").rstrip() if note else ""
    return text or "lihat catatan petugas di aplikasi"


def _owner_text(change: ApplicationChange) -> tuple[str, str, tuple[ChannelName, ...]] | None:
    """(title, body, channels) for the owner, or None when the owner needs no message."""
    what = f"Permohonan {change.service_name} nomor {change.registration_number}"
    if change.event_type == REVISION_REQUESTED:
        return (
            "Permohonan perlu diperbaiki",
            f"{what} memerlukan perbaikan: {_note(change.note)}. "
            "Silakan perbaiki dan ajukan kembali.",
            ("email", "sms"),
        )
    if change.event_type == OVERDUE or change.status == change.old_status:
        return None
    if change.event_type == WITHDRAWN and change.actor_kind == "citizen":
        return None
    if change.event_type == COMPLETED or change.status == "completed":
        return (
            "Permohonan selesai",
            f"{what} telah selesai. Silakan ambil atau unduh hasil layanan "
            "sesuai petunjuk di aplikasi MPP Digital.",
            ("email", "sms"),
        )
    texts = {
        "submitted": (
            "Permohonan diterima",
            f"{what} telah diterima. Pantau prosesnya di aplikasi MPP Digital.",
        ),
        "in_review": (
            "Permohonan sedang diperiksa",
            f"{what} sedang diperiksa oleh petugas. Tidak ada yang perlu Anda lakukan saat ini.",
        ),
        "approved": (
            "Permohonan disetujui",
            f"{what} telah disetujui. Anda akan diberi tahu saat hasil layanan siap.",
        ),
        "rejected": (
            "Permohonan ditolak",
            f"{what} ditolak: {_note(change.note)}. Anda dapat mengajukan permohonan baru "
            "atau menyampaikan pengaduan.",
        ),
        "withdrawn": ("Permohonan dibatalkan", f"{what} telah dibatalkan."),
    }
    text = texts.get(change.status)
    if text is None:
        return None
    return (*text, ("email",))


def notifications_for(change: ApplicationChange) -> list[NotificationDraft]:
    """The notifications one event gives (none, one for the owner, one for the agency)."""
    drafts: list[NotificationDraft] = []
    if change.event_type == OVERDUE:
        drafts.append(
            NotificationDraft(
                kind="sla_overdue",
                audience="agency",
                account_id=None,
                agency_id=change.agency_id,
                title="Permohonan melewati batas waktu",
                body=(
                    f"Permohonan {change.service_name} nomor {change.registration_number} "
                    "telah melewati batas waktu layanan (SLA). Segera tindak lanjuti."
                ),
                channels=(),
            )
        )
    owner_text = _owner_text(change) if change.owner_account_id is not None else None
    if owner_text is not None:
        title, body, channels = owner_text
        drafts.append(
            NotificationDraft(
                kind="revision_requested"
                if change.event_type == REVISION_REQUESTED
                else "status_changed",
                audience="account",
                account_id=change.owner_account_id,
                agency_id=None,
                title=title,
                body=body,
                channels=channels,
            )
        )
    return drafts


WEBHOOK_DISABLED_KIND = "webhook_disabled"
AGENCY_ADMIN_ROLE = "agency_admin"


def webhook_disabled_notification(
    *, agency_id: uuid.UUID, host: str, failures: int, failing_since: datetime
) -> NotificationDraft:
    """For the agency's admins (they manage webhooks): a subscription that kept failing was
    disabled; they must fix the receiver and register it again."""
    return NotificationDraft(
        kind=WEBHOOK_DISABLED_KIND,
        audience="agency",
        account_id=None,
        agency_id=agency_id,
        title="Webhook dinonaktifkan",
        body=(
            f"Webhook ke {host} dinonaktifkan setelah {failures} kali gagal berturut-turut "
            f"sejak {failing_since:%d-%m-%Y %H:%M} UTC; kiriman yang tertunda dipindahkan ke "
            "antrean gagal. Periksa sistem penerima, lalu daftarkan kembali webhook dan kirim "
            "ulang kiriman yang gagal."
        ),
        channels=(),
    )


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One email or SMS to send: the address is resolved just before sending."""

    id: uuid.UUID
    channel: ChannelName
    account_id: uuid.UUID
    recipient: str
    subject: str
    body: str


class NotificationChannel(Protocol):
    """Sends a message to its recipient (email, SMS); raises on failure (retried later)."""

    async def send(self, message: OutgoingMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Contact:
    email: str | None
    phone: str | None

    def address(self, channel: ChannelName) -> str | None:
        return self.email if channel == "email" else self.phone


class ContactDirectory(Protocol):
    """Where an account's email and phone come from at send time (identity-service)."""

    async def contact_of(self, account_id: uuid.UUID) -> Contact | None: ...


# ---- counter bookings and complaint cases -------------------------------------------------------

BOOKING_PREFIX = "mpp.application.booking."
COMPLAINT_PREFIX = "mpp.application.complaint."
_ZONE_NAMES = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


@dataclass(frozen=True, slots=True)
class BookingChange:
    """The facts of a booking event that notifications speak of."""

    event_type: str
    account_id: uuid.UUID
    service_name: str
    location_name: str
    counter_label: str
    slot_start: datetime
    timezone: str
    status: str
    queue_number: str | None
    actor_kind: str


def _local(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%d-%m-%Y} pukul {local:%H:%M} {_ZONE_NAMES.get(timezone, timezone)}"


def booking_notifications(change: BookingChange) -> list[NotificationDraft]:
    """The owner hears of the booking, the reminder, the call and a no-show (not of what the
    owner did, nor of being served)."""
    verb = change.event_type.removeprefix(BOOKING_PREFIX)
    visit = (
        f"kunjungan layanan {change.service_name} di {change.location_name}, "
        f"{change.counter_label}, {_local(change.slot_start, change.timezone)}"
    )
    texts: dict[str, tuple[str, str, tuple[ChannelName, ...]]] = {
        "booked": (
            "Antrean dipesan",
            f"Pemesanan {visit} tercatat. Lapor kedatangan di lokasi untuk mendapat nomor antrean.",
            ("email",),
        ),
        "reminder": (
            "Pengingat kunjungan besok",
            f"Jangan lupa {visit}. Batalkan di aplikasi bila Anda berhalangan hadir.",
            ("email", "sms"),
        ),
        "checked_in": (
            "Nomor antrean Anda",
            f"Nomor antrean Anda {change.queue_number} untuk {visit}.",
            (),
        ),
        "called": (
            "Nomor Anda dipanggil",
            f"Nomor antrean {change.queue_number} dipanggil ke {change.counter_label}. "
            "Silakan menuju loket.",
            ("sms",),
        ),
        "no_show": (
            "Anda tidak hadir",
            f"Anda tercatat tidak hadir pada {visit}. Ketidakhadiran berulang menangguhkan "
            "pemesanan antrean daring.",
            ("email",),
        ),
        "cancelled": (
            "Antrean dibatalkan",
            f"Pemesanan {visit} dibatalkan.",
            ("email",),
        ),
    }
    text = texts.get(verb)
    if text is None or (verb == "cancelled" and change.actor_kind == "citizen"):
        return []
    title, body, channels = text
    return [
        NotificationDraft(
            kind=f"booking_{verb}",
            audience="account",
            account_id=change.account_id,
            agency_id=None,
            title=title,
            body=body,
            channels=channels,
        )
    ]


@dataclass(frozen=True, slots=True)
class ComplaintChange:
    """The facts of a complaint event that notifications speak of (never the texts)."""

    event_type: str
    tracking_number: str
    kind: str
    service_name: str
    agency_id: uuid.UUID
    account_id: uuid.UUID | None
    status: str
    lapor_reference: str | None
    actor_kind: str


def complaint_notifications(change: ComplaintChange) -> list[NotificationDraft]:
    """The complainant with an account hears of answers and of every change of status; the
    agency's inbox hears of new cases, the complainant's replies, escalations and a missed
    response time. Anonymous complainants follow their case by number and code."""
    verb = change.event_type.removeprefix(COMPLAINT_PREFIX)
    case = "Pengaduan" if change.kind == "complaint" else "Konsultasi"
    what = f"{case} {change.tracking_number} tentang layanan {change.service_name}"
    to_agency: dict[str, tuple[str, str]] = {
        "opened": (f"{case} baru", f"{what} masuk. Jawab dalam batas waktu tanggapan."),
        "message_added": ("Tanggapan baru dari pelapor", f"{what} mendapat tanggapan baru."),
        "escalated": (f"{case} dieskalasi", f"{what} dieskalasi; mohon ditindaklanjuti."),
        "overdue": (
            f"{case} melewati batas waktu",
            f"{what} belum dijawab dalam batas waktu tanggapan.",
        ),
    }
    to_owner: dict[str, tuple[str, str, tuple[ChannelName, ...]]] = {
        "opened": (f"{case} diterima", f"{what} telah diterima.", ("email",)),
        "answered": (
            f"{case} dijawab",
            f"{what} telah dijawab. Baca jawabannya di aplikasi MPP Digital.",
            ("email", "sms"),
        ),
        "escalated": (f"{case} dieskalasi", f"{what} diteruskan ke pimpinan instansi.", ("email",)),
        "forwarded_to_lapor": (
            f"{case} diteruskan ke SP4N-LAPOR!",
            f"{what} diteruskan ke SP4N-LAPOR! dengan nomor {change.lapor_reference}.",
            ("email",),
        ),
        "closed": (f"{case} ditutup", f"{what} telah ditutup.", ("email",)),
    }
    drafts: list[NotificationDraft] = []
    agency_text = to_agency.get(verb)
    if agency_text is not None and not (verb == "escalated" and change.actor_kind == "staff"):
        drafts.append(
            NotificationDraft(
                kind=f"complaint_{verb}",
                audience="agency",
                account_id=None,
                agency_id=change.agency_id,
                title=agency_text[0],
                body=agency_text[1],
                channels=(),
            )
        )
    owner_text = to_owner.get(verb)
    own_doing = change.actor_kind == "citizen" and verb in ("escalated", "closed")
    if owner_text is not None and change.account_id is not None and not own_doing:
        drafts.append(
            NotificationDraft(
                kind=f"complaint_{verb}_owner" if verb in to_agency else f"complaint_{verb}",
                audience="account",
                account_id=change.account_id,
                agency_id=None,
                title=owner_text[0],
                body=owner_text[1],
                channels=owner_text[2],
            )
        )
    return drafts
