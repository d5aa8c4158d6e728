"""Domain errors with meaning; ``application.api.errors`` turns them into problem+json.

``detail`` texts are for people and in Indonesian (GLOSSARY.md); ``code`` is what clients
branch on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ApplicationError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str, *, errors: Sequence[Mapping[str, Any]] | None = None) -> None:
        self.detail = detail
        self.errors = list(errors) if errors is not None else None
        super().__init__(detail)


class NotFound(ApplicationError):
    """Also what a caller gets for somebody else's object (API.md: 404, not 403)."""

    status = 404
    code = "not_found"


class ApplicationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Permohonan tidak ditemukan.")


class DocumentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Dokumen tidak ditemukan.")


class ServiceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Layanan tidak ditemukan atau belum diterbitkan.")


class NotPermitted(ApplicationError):
    status = 403
    code = "forbidden"


class ServiceRetired(NotPermitted):
    code = "service_retired"

    def __init__(self) -> None:
        super().__init__("Layanan ini sudah tidak menerima permohonan baru.")


class AssuranceLevelTooLow(NotPermitted):
    code = "assurance_level_too_low"

    def __init__(self, *, required: int, actual: int) -> None:
        hint = " Lakukan verifikasi wajah untuk menaikkan tingkat." if required >= 2 else ""
        super().__init__(
            f"Layanan ini memerlukan tingkat verifikasi identitas {required}; "
            f"akun Anda pada tingkat {actual}.{hint}"
        )


class ServiceNotOnline(NotPermitted):
    code = "service_not_online"

    def __init__(self) -> None:
        super().__init__("Layanan ini tidak dapat diajukan secara daring.")


class IllegalTransition(ApplicationError):
    status = 409
    code = "illegal_transition"

    def __init__(self, *, status: str, action: str, detail: str | None = None) -> None:
        self.from_status = status
        self.action = action
        super().__init__(
            detail
            or f"Tindakan '{action}' tidak dapat dilakukan pada permohonan berstatus '{status}'."
        )


class ConcurrentChange(ApplicationError):
    """Optimistic locking: somebody else changed the application since it was read."""

    status = 409
    code = "conflict"

    def __init__(self) -> None:
        super().__init__("Permohonan baru saja diubah oleh pihak lain; muat ulang lalu coba lagi.")


class InvalidInput(ApplicationError):
    status = 422
    code = "validation_error"


class SubmissionIncomplete(InvalidInput):
    code = "submission_incomplete"

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        super().__init__(
            "Permohonan belum lengkap: perbaiki isian formulir dan lengkapi dokumen persyaratan.",
            errors=errors,
        )


class InvalidDocument(InvalidInput):
    def __init__(self, detail: str, *, code: str, loc: Sequence[str | int] = ("file",)) -> None:
        self.code = code
        super().__init__(detail, errors=[{"loc": ["body", *loc], "msg": detail}])


class DocumentTooLarge(InvalidDocument):
    status = 413

    def __init__(self, *, limit_bytes: int) -> None:
        megabytes = limit_bytes / (1024 * 1024)
        super().__init__(
            f"Ukuran berkas melebihi batas {megabytes:g} MB.", code="document_too_large"
        )


class IdentityUnavailable(ApplicationError):
    """identity-service did not answer a prefill or consent request: nothing was created."""

    status = 503
    code = "identity_unavailable"

    def __init__(self, detail: str = "Layanan identitas sedang tidak dapat dihubungi.") -> None:
        super().__init__(detail + " Tidak ada yang disimpan; coba lagi sebentar lagi.")


class PrefillFailed(ApplicationError):
    """identity-service answered, but refused the consent or the prefill."""

    status = 502
    code = "prefill_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Layanan identitas menolak pengisian otomatis ({reason}). Tidak ada yang disimpan; "
            "ajukan tanpa pengisian otomatis atau coba lagi nanti."
        )


# ---- counter bookings ---------------------------------------------------------------------------


class BookingNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Pemesanan antrean tidak ditemukan.")


class LocationNotFound(NotFound):
    code = "location_not_found"

    def __init__(self) -> None:
        super().__init__("Lokasi MPP tidak ditemukan.")


class CounterNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Loket tidak ditemukan di lokasi ini.")


class CatalogUnavailable(ApplicationError):
    """catalog-service did not answer the location question: nothing was booked."""

    status = 503
    code = "catalog_unavailable"

    def __init__(self) -> None:
        super().__init__(
            "Layanan katalog sedang tidak dapat dihubungi. Tidak ada yang disimpan; coba lagi "
            "sebentar lagi."
        )


class ServiceNotAtCounter(NotPermitted):
    code = "service_not_at_counter"

    def __init__(self) -> None:
        super().__init__("Layanan ini tidak dilayani di loket.")


class LocationClosed(InvalidInput):
    code = "location_closed"


class Holiday(InvalidInput):
    code = "holiday"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Tanggal ini hari libur ({name}); loket tidak melayani.",
            errors=[{"loc": ["body", "starts_at"], "msg": "holiday"}],
        )


class SlotFull(ApplicationError):
    status = 409
    code = "slot_full"

    def __init__(self) -> None:
        super().__init__("Slot waktu ini sudah penuh; pilih slot lain.")


class BookingExists(ApplicationError):
    status = 409
    code = "booking_exists"

    def __init__(self) -> None:
        super().__init__(
            "Anda sudah memiliki pemesanan aktif untuk layanan ini pada hari yang sama."
        )


class BookingSuspended(NotPermitted):
    code = "booking_suspended"

    def __init__(self, *, no_shows: int, days: int) -> None:
        super().__init__(
            f"Anda tidak hadir {no_shows} kali dalam {days} hari terakhir; pemesanan antrean "
            "daring ditangguhkan sementara. Silakan datang langsung ke loket."
        )


class BookingStateConflict(ApplicationError):
    status = 409
    code = "illegal_transition"


class CheckInClosed(ApplicationError):
    status = 409
    code = "check_in_closed"


class CounterBusy(ApplicationError):
    status = 409
    code = "counter_busy"

    def __init__(self, number: str) -> None:
        super().__init__(
            f"Nomor {number} masih dipanggil di loket ini; tandai dilayani atau tidak hadir dulu."
        )


class QueueEmpty(ApplicationError):
    status = 409
    code = "queue_empty"

    def __init__(self) -> None:
        super().__init__("Tidak ada nomor antrean yang menunggu di loket ini.")


# ---- complaints ---------------------------------------------------------------------------------


class ComplaintNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Pengaduan tidak ditemukan.")


class ComplaintStateConflict(ApplicationError):
    status = 409
    code = "illegal_transition"


class UnknownResident(InvalidInput):
    """The registry has no resident with the NIK an officer gave at a counter."""

    code = "unknown_resident"

    def __init__(self) -> None:
        super().__init__(
            "NIK tidak ditemukan dalam data kependudukan (Dukcapil).",
            errors=[{"loc": ["body", "nik"], "msg": "unknown NIK"}],
        )


class NotFiledAtCounter(NotFound):
    def __init__(self) -> None:
        super().__init__("Permohonan ini tidak diajukan di loket.")


class NotSubmittedYet(ApplicationError):
    status = 409
    code = "not_submitted"

    def __init__(self) -> None:
        super().__init__(
            "Tanda terima baru tersedia setelah permohonan diajukan (nomor registrasi terbit)."
        )
