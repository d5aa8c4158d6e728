"""Domain and registry errors as problem+json: the one place where they get a status and code."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from identity.domain.consents import NoConsent
from identity.domain.exceptions import (
    AccountDisabled,
    AlreadyRegistered,
    CitizenAccountUnusable,
    EmailInUse,
    IdentityError,
    InvalidCredentials,
    InvalidInput,
    InvalidOtp,
    MfaAlreadyEnabled,
    MfaNotStarted,
    MfaRequired,
    NoCitizenAccount,
    NotAllowed,
    NotFound,
    OAuthError,
    RateLimited,
    RegistryMismatch,
    RegistryUnavailable,
    Throttled,
    UnknownAgency,
    UnknownResident,
)
from identity.dukcapil.nik import InvalidNik
from identity.dukcapil.problems import problem_for as registry_problem
from identity.dukcapil.registry import RegistryError
from mpp_shared.problems import Problem, problem_response

# Messages meant for people are in Indonesian (GLOSSARY.md).
_PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    InvalidCredentials: (401, "invalid_credentials", "Nama pengguna atau kata sandi salah."),
    AccountDisabled: (401, "invalid_credentials", "Nama pengguna atau kata sandi salah."),
    MfaRequired: (401, "mfa_required", "Masukkan kode OTP dari aplikasi autentikator."),
    RegistryMismatch: (
        422,
        "registry_mismatch",
        "Data tidak sesuai dengan data kependudukan (Dukcapil).",
    ),
    AlreadyRegistered: (409, "already_registered", "NIK ini sudah terdaftar."),
    EmailInUse: (409, "email_in_use", "Email ini sudah dipakai akun lain."),
    UnknownAgency: (422, "unknown_agency", "Instansi tidak dikenal."),
    NotAllowed: (403, "forbidden", "Anda tidak berwenang melakukan ini."),
    UnknownResident: (404, "unknown_resident", "NIK tidak ditemukan dalam data kependudukan."),
    NoCitizenAccount: (
        404,
        "no_account",
        "Penduduk ini belum memiliki akun MPP Digital. Minta warga mendaftar terlebih dahulu, "
        "di perangkat loket atau di ponselnya, lalu ulangi verifikasi tatap muka ini.",
    ),
    CitizenAccountUnusable: (
        404,
        "no_account",
        "Akun dengan NIK ini dinonaktifkan atau bukan akun warga, sehingga tidak dapat "
        "diverifikasi di loket; hubungi admin platform.",
    ),
    NotFound: (404, "not_found", "Data tidak ditemukan."),
    MfaAlreadyEnabled: (409, "mfa_already_enabled", "OTP sudah aktif untuk akun ini."),
    MfaNotStarted: (409, "mfa_not_started", "Mulai pendaftaran OTP terlebih dahulu."),
    NoConsent: (403, "no_consent", "Tidak ada persetujuan untuk data ini."),
    RegistryUnavailable: (503, "registry_unavailable", "Layanan Dukcapil sedang tidak tersedia."),
}


def problem_for(exc: Exception) -> Problem:
    if isinstance(exc, Throttled):
        if exc.locked:
            return Problem(
                "Akun dikunci sementara karena terlalu banyak percobaan gagal.",
                status=429,
                code="account_locked",
                headers={"Retry-After": str(exc.retry_after)},
            )
        return Problem(
            "Terlalu banyak percobaan gagal; coba lagi sebentar lagi.",
            status=429,
            code="too_many_attempts",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, RateLimited):
        return Problem(
            "Terlalu banyak percobaan; coba lagi nanti.",
            status=429,
            code="rate_limited",
            headers={"Retry-After": str(exc.retry_after)},
        )
    if isinstance(exc, RegistryError | InvalidNik):
        return registry_problem(exc)
    if isinstance(exc, InvalidOtp):
        return Problem("Kode OTP salah atau sudah dipakai.", status=401, code="invalid_otp")
    if isinstance(exc, InvalidInput):
        return Problem(
            exc.detail,
            status=422,
            code="validation_error",
            errors=[{"loc": exc.loc, "msg": exc.detail}],
        )
    if isinstance(exc, OAuthError):
        return Problem(exc.detail, status=exc.status, code=exc.error)
    for kind in type(exc).__mro__:
        if kind in _PROBLEMS:
            status, code, detail = _PROBLEMS[kind]
            return Problem(
                exc.detail if isinstance(exc, NotAllowed) and exc.detail else detail,
                status=status,
                code=code,
            )
    return Problem("An unexpected error occurred.", status=500, code="internal_error")


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(problem_for(exc), request)

    app.add_exception_handler(IdentityError, on_domain_error)
    app.add_exception_handler(RegistryError, on_domain_error)
    app.add_exception_handler(InvalidNik, on_domain_error)
