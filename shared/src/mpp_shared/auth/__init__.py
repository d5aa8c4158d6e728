"""JWT access-token verification against identity-service's JWKS, and FastAPI auth dependencies.

Names load on first use (PEP 562): code that needs only the value types (``Principal``,
``Role``, in ``mpp_shared.auth.principal``) does not load FastAPI, httpx or NATS with them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_MODULE_OF = {
    "ALL_ROLES": "mpp_shared.auth.principal",
    "ASYMMETRIC_ALGORITHMS": "mpp_shared.auth.verify",
    "CurrentPrincipal": "mpp_shared.auth.deps",
    "EnrolmentPrincipal": "mpp_shared.auth.deps",
    "Forbidden": "mpp_shared.auth.deps",
    "InvalidToken": "mpp_shared.auth.verify",
    "JwksClient": "mpp_shared.auth.jwks",
    "KeySetUnavailable": "mpp_shared.auth.jwks",
    "MFA_ENROLL_SCOPE": "mpp_shared.auth.principal",
    "MfaEnrolmentRequired": "mpp_shared.auth.deps",
    "OptionalPrincipal": "mpp_shared.auth.deps",
    "Principal": "mpp_shared.auth.principal",
    "Role": "mpp_shared.auth.principal",
    "STAFF_ROLES": "mpp_shared.auth.principal",
    "TokenVerifier": "mpp_shared.auth.verify",
    "Unauthorized": "mpp_shared.auth.deps",
    "UnknownKey": "mpp_shared.auth.jwks",
    "get_enrolment_principal": "mpp_shared.auth.deps",
    "get_optional_principal": "mpp_shared.auth.deps",
    "get_principal": "mpp_shared.auth.deps",
    "get_token_verifier": "mpp_shared.auth.deps",
    "install_token_verifier": "mpp_shared.auth.deps",
    "parse_jwks": "mpp_shared.auth.jwks",
    "require_roles": "mpp_shared.auth.deps",
    "require_scopes": "mpp_shared.auth.deps",
    "start_token_verifier": "mpp_shared.auth.deps",
    "stop_token_verifier": "mpp_shared.auth.deps",
}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
