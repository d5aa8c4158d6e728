"""JWT access-token verification against identity-service's JWKS, and FastAPI auth dependencies."""

from mpp_shared.auth.deps import (
    CurrentPrincipal,
    EnrolmentPrincipal,
    Forbidden,
    MfaEnrolmentRequired,
    OptionalPrincipal,
    Unauthorized,
    get_enrolment_principal,
    get_optional_principal,
    get_principal,
    get_token_verifier,
    install_token_verifier,
    require_roles,
    require_scopes,
    start_token_verifier,
    stop_token_verifier,
)
from mpp_shared.auth.jwks import JwksClient, KeySetUnavailable, UnknownKey, parse_jwks
from mpp_shared.auth.principal import (
    ALL_ROLES,
    MFA_ENROLL_SCOPE,
    STAFF_ROLES,
    Principal,
    Role,
)
from mpp_shared.auth.verify import ASYMMETRIC_ALGORITHMS, InvalidToken, TokenVerifier

__all__ = [
    "ALL_ROLES",
    "ASYMMETRIC_ALGORITHMS",
    "MFA_ENROLL_SCOPE",
    "STAFF_ROLES",
    "CurrentPrincipal",
    "EnrolmentPrincipal",
    "Forbidden",
    "InvalidToken",
    "JwksClient",
    "KeySetUnavailable",
    "MfaEnrolmentRequired",
    "OptionalPrincipal",
    "Principal",
    "Role",
    "TokenVerifier",
    "Unauthorized",
    "UnknownKey",
    "get_enrolment_principal",
    "get_optional_principal",
    "get_principal",
    "get_token_verifier",
    "install_token_verifier",
    "parse_jwks",
    "require_roles",
    "require_scopes",
    "start_token_verifier",
    "stop_token_verifier",
]
