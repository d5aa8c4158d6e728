"""Who may change what: platform admins everything, agency admins their own agency's services."""

from __future__ import annotations

import uuid

from catalog.domain.exceptions import NotPermitted
from mpp_shared.auth.principal import Principal, Role


def require_platform_admin(principal: Principal) -> None:
    if not principal.has_role(Role.PLATFORM_ADMIN):
        raise NotPermitted("Only a platform admin may do this.")


def require_catalog_editor(principal: Principal) -> None:
    """The caller edits some catalogue at all (403 otherwise); ownership is checked per object."""
    if not principal.has_role(Role.PLATFORM_ADMIN, Role.AGENCY_ADMIN):
        raise NotPermitted("Only an agency admin or a platform admin may change services.")


def manages_agency(principal: Principal, agency_id: uuid.UUID) -> bool:
    if principal.has_role(Role.PLATFORM_ADMIN):
        return True
    return principal.has_role(Role.AGENCY_ADMIN) and principal.agency_id == agency_id
