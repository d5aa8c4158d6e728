"""What can go wrong in the catalogue, in the domain's words; api/errors.py maps these to HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class CatalogError(Exception):
    """Base of the catalogue's domain errors."""


class NotFound(CatalogError):
    """An object that does not exist, or that the caller may not see (404, never 403)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} not found")


class AgencyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("agency")


class ServiceNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("service")


class LocationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("location")


class RegionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("region")


class NotPermitted(CatalogError):
    """The caller's role does not allow the action at all (403)."""


class InvalidDefinition(CatalogError):
    """A service definition, form schema or reference that cannot be saved (422).

    ``errors`` are ``{"loc": [...], "msg": ...}`` as in every validation answer of the API.
    """

    code = "invalid_service_definition"

    def __init__(self, message: str, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = [dict(error) for error in errors]
        super().__init__(message)


class InvalidFormSchema(InvalidDefinition):
    code = "invalid_form_schema"


class UnknownRegion(InvalidDefinition):
    code = "unknown_region"


class IncompleteService(InvalidDefinition):
    """The draft lacks what a published standar pelayanan must state."""

    code = "incomplete_service"


class Conflict(CatalogError):
    """The state of an object does not allow the action (409)."""

    code = "conflict"


class NoDraft(Conflict):
    code = "no_draft"


class ServiceRetired(Conflict):
    code = "service_retired"


class NotPublished(Conflict):
    code = "not_published"


class DuplicateServiceCode(Conflict):
    code = "duplicate_service_code"


class DuplicateAgency(Conflict):
    code = "duplicate_agency"
