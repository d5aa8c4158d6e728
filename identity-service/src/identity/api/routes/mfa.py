"""``/api/v1/me/mfa/totp``: staff enrol their TOTP second factor (with an ``mfa:enroll`` token)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from identity.api.deps import ComponentsDep, EnrollingAccount, ReposDep
from identity.api.schemas import TotpConfirm, TotpEnrolmentRead
from identity.domain.accounts import confirm_totp_enrolment, start_totp_enrolment
from identity.domain.exceptions import InvalidOtp
from mpp_shared.openapi import problems
from mpp_shared.problems import Problem

router = APIRouter(prefix="/api/v1/me/mfa", tags=["mfa"])


@router.post("/totp", response_model=TotpEnrolmentRead, responses=problems(409))
async def start_totp(
    account: EnrollingAccount, repos: ReposDep, components: ComponentsDep
) -> TotpEnrolmentRead:
    """Start TOTP enrolment: a new secret to put into an authenticator app."""
    enrolment = await start_totp_enrolment(
        account=account, accounts=repos.accounts, box=components.totp_box
    )
    return TotpEnrolmentRead(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri)


@router.post("/totp/confirm", status_code=status.HTTP_204_NO_CONTENT, responses=problems(409))
async def confirm_totp(
    body: TotpConfirm, account: EnrollingAccount, repos: ReposDep, components: ComponentsDep
) -> Response:
    """Confirm with a code from the app; from then on staff logins need ``otp``."""
    try:
        await confirm_totp_enrolment(
            account=account,
            otp=body.otp,
            accounts=repos.accounts,
            tokens=repos.tokens,
            box=components.totp_box,
            now=datetime.now(UTC),
        )
    except InvalidOtp:
        # Not 401: the token is fine, the code is not.
        raise Problem("Kode OTP salah.", status=422, code="invalid_otp") from None
    return Response(status_code=status.HTTP_204_NO_CONTENT)
