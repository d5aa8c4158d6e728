"""``mpp.identity.access.revoked``: tells the gateways which access tokens to refuse, and how long.

An access token is a signed JWT that stays valid until it expires; revoking its session,
account or client in this database does not reach a gateway that verifies tokens on its own.
The event does, through the outbox, in the transaction of the revocation itself. It names
only an id (a session, account, client or token id) and why: no personal data.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from identity.domain.ports import EventRecorder
from mpp_shared.contracts.identity import v1 as contracts
from mpp_shared.events import new_event


async def record_access_revoked(
    events: EventRecorder,
    *,
    kind: contracts.RevokedKind,
    id: str,
    reason: str,
    access_lifetime: timedelta,
    now: datetime,
) -> None:
    """Tokens matching ``kind``/``id`` issued before ``now`` are refused until the last of them
    has expired: ``now`` plus the longest access-token lifetime."""
    await events.record(
        new_event(
            type=contracts.ACCESS_REVOKED,
            source=contracts.SOURCE,
            subject=f"{kind}/{id}",
            data=contracts.AccessRevoked(
                kind=kind, id=id, reason=reason, revoked_at=now, until=now + access_lifetime
            ),
        )
    )
