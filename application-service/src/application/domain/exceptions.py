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
