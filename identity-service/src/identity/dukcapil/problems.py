"""How the registry's errors leave the service: RFC 9457 problems, details in Indonesian."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from identity.dukcapil.nik import InvalidNik
from identity.dukcapil.registry import (
    ImageTooLarge,
    InvalidImage,
    RegistryError,
    RegistryQuotaExceeded,
    ResidentNotFound,
)
from mpp_shared.problems import Problem, problem_response


class InvalidImageProblem(Problem):
    status = 422
    code = "invalid_image"


class ImageTooLargeProblem(Problem):
    status = 413
    code = "payload_too_large"


class RegistryQuotaExceededProblem(Problem):
    status = 429
    code = "registry_quota_exceeded"


class RegistryMismatchProblem(Problem):
    """The registry does not confirm the person: one answer, never which field."""

    status = 422
    code = "registry_mismatch"


class RegistryUnavailableProblem(Problem):
    status = 503
    code = "registry_unavailable"


class InvalidNikProblem(Problem):
    status = 422
    code = "invalid_nik"


def problem_for(
    error: RegistryError | InvalidNik, *, loc: Sequence[str] = ("body", "nik")
) -> Problem:
    """The problem an error of the registry (or a malformed NIK) answers with.

    ``loc`` places an ``InvalidNik`` in the request, for the ``errors`` list.
    """
    if isinstance(error, InvalidNik):
        return InvalidNikProblem(
            "NIK tidak valid.", errors=[{"loc": list(loc), "msg": error.reason}]
        )
    if isinstance(error, InvalidImage):
        return InvalidImageProblem("Berkas harus berupa gambar JPEG atau PNG yang dapat dibaca.")
    if isinstance(error, ImageTooLarge):
        limit = f" {error.limit // (1024 * 1024)} MB" if error.limit else ""
        return ImageTooLargeProblem(f"Ukuran foto melebihi batas{limit}.")
    if isinstance(error, RegistryQuotaExceeded):
        headers = (
            {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds else None
        )
        return RegistryQuotaExceededProblem(
            "Kuota harian layanan Dukcapil telah habis. Silakan coba lagi besok.",
            headers=headers,
        )
    if isinstance(error, ResidentNotFound):
        return RegistryMismatchProblem("Data tidak ditemukan dalam data kependudukan.")
    return RegistryUnavailableProblem("Layanan Dukcapil sedang tidak dapat dihubungi.")


def install_registry_problem_handlers(app: FastAPI) -> None:
    """Render ``RegistryError`` and ``InvalidNik`` raised by routes as problems.

    Routes that want another answer (e.g. registration's generic ``registry_mismatch``) catch
    the error themselves and raise their own ``Problem``.
    """

    async def on_registry_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RegistryError | InvalidNik)
        return problem_response(problem_for(exc), request)

    app.add_exception_handler(RegistryError, on_registry_error)
    app.add_exception_handler(InvalidNik, on_registry_error)
