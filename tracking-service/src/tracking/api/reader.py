"""The caller as the tracking service's rules see it: account, agency, staff or not."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from mpp_shared.auth.deps import principal_of, requires_principal
from tracking.domain.timeline import Reader


def _account_id(subject: str) -> uuid.UUID | None:
    # An agency system's token names its client, not an account.
    try:
        return uuid.UUID(subject)
    except ValueError:
        return None


@requires_principal
async def get_reader(request: Request) -> Reader:
    # The principal by a plain call: one dependency for FastAPI to solve, not two.
    principal = await principal_of(request)
    return Reader(
        account_id=_account_id(principal.subject),
        agency_id=principal.agency_id,
        is_staff=principal.is_staff,
        roles=frozenset(principal.roles),
    )


CurrentReader = Annotated[Reader, Depends(get_reader)]
