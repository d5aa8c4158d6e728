"""Who may see and do what with an application; anyone else is told it does not exist."""

from __future__ import annotations

import uuid

from application.domain.exceptions import NotPermitted
from application.domain.lifecycle import EDITABLE, Status
from application.domain.models import Actor, Application
from mpp_shared.auth.principal import Principal, Role

READ_SCOPE = "applications:read"
PROCESS_SCOPE = "applications:process"


def is_agency_client(principal: Principal) -> bool:
    """An agency's own system: a client token with no user role, bound to an agency."""
    return not principal.roles and principal.agency_id is not None


def reading_agency(principal: Principal) -> uuid.UUID | None:
    """The agency whose queue ``principal`` may read, if any."""
    if principal.agency_id is None:
        return None
    if principal.has_role(Role.OFFICER, Role.AGENCY_ADMIN):
        return principal.agency_id
    if is_agency_client(principal) and (
        principal.has_scope(READ_SCOPE) or principal.has_scope(PROCESS_SCOPE)
    ):
        return principal.agency_id
    return None


def processing_agency(principal: Principal) -> uuid.UUID:
    """The agency whose applications ``principal`` may act on; 403 for anybody else."""
    if principal.agency_id is not None:
        if principal.has_role(Role.OFFICER):
            return principal.agency_id
        if is_agency_client(principal) and principal.has_scope(PROCESS_SCOPE):
            return principal.agency_id
    raise NotPermitted(
        "Hanya petugas instansi atau sistem instansi dengan cakupan "
        f"'{PROCESS_SCOPE}' yang dapat memproses permohonan."
    )


def counter_agency(principal: Principal) -> uuid.UUID | None:
    """The agency at whose counters ``principal`` files for residents: its officers and admins."""
    if principal.agency_id is not None and principal.has_role(Role.OFFICER, Role.AGENCY_ADMIN):
        return principal.agency_id
    return None


def files_at_counter(principal: Principal, application: Application) -> bool:
    """Staff of the agency complete a counter application (form, documents, submit) while
    it may be edited, in the resident's place."""
    return (
        application.channel == "counter"
        and application.status in EDITABLE
        and counter_agency(principal) == application.agency_id
    )


def require_citizen(principal: Principal) -> uuid.UUID:
    """The citizen's account id; staff and clients may not use the citizen's endpoints."""
    if not principal.is_citizen:
        raise NotPermitted("Hanya warga pemilik permohonan yang dapat melakukan ini.")
    try:
        return uuid.UUID(principal.subject)
    except ValueError:
        raise NotPermitted("Akun ini tidak dikenal sebagai akun warga.") from None


def is_owner(principal: Principal, application: Application) -> bool:
    return principal.is_citizen and principal.subject == str(application.owner_account_id)


def may_read(principal: Principal, application: Application) -> bool:
    if is_owner(principal, application):
        return True
    agency = reading_agency(principal)
    if agency != application.agency_id:
        return False
    # A draft is private to its owner, except one the agency's staff file at a counter.
    return application.status is not Status.DRAFT or files_at_counter(principal, application)


def actor_of(principal: Principal) -> Actor:
    if principal.is_citizen:
        return Actor(kind="citizen", id=principal.subject)
    if is_agency_client(principal):
        return Actor(kind="client", id=principal.client_id or principal.subject)
    return Actor(kind="staff", id=principal.subject)
