"""Which scopes a person's token may carry: what the client asks for, cut down to the role's.

A client's scopes say what its system may do on its own (``client_credentials``); a token it
gets for a person may do no more than that person could. A citizen who logs in through an
agency's portal gets the OpenID scopes, never the portal's ``applications:process``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from identity.domain.models import OIDC_SCOPES
from mpp_shared.auth import MFA_ENROLL_SCOPE, Role

APPLICATIONS_READ = "applications:read"
APPLICATIONS_PROCESS = "applications:process"

# Every role may hold the OpenID scopes (they release its own claims); staff also enrol TOTP.
_STAFF_BASE: frozenset[str] = OIDC_SCOPES | {MFA_ENROLL_SCOPE}

ROLE_SCOPES: Mapping[str, frozenset[str]] = {
    Role.CITIZEN: OIDC_SCOPES,
    Role.OFFICER: _STAFF_BASE | {APPLICATIONS_READ, APPLICATIONS_PROCESS},
    Role.AGENCY_ADMIN: _STAFF_BASE | {APPLICATIONS_READ},
    Role.PLATFORM_ADMIN: _STAFF_BASE,
}


def scopes_for_role(role: str, requested: Iterable[str]) -> tuple[str, ...]:
    """``requested`` (in its order, once each) without the scopes ``role`` may not hold; an
    unknown role holds none."""
    allowed = ROLE_SCOPES.get(role, frozenset())
    return tuple(scope for scope in dict.fromkeys(requested) if scope in allowed)
