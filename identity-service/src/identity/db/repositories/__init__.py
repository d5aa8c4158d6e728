"""The only code that queries the identity database, one module per aggregate; none commits."""

from __future__ import annotations

from identity.db.repositories.access_log import AccessLogRepository
from identity.db.repositories.accounts import AccountRepository, read_account
from identity.db.repositories.agencies import AgencyRepository
from identity.db.repositories.clients import ClientRepository
from identity.db.repositories.consents import ConsentRepository
from identity.db.repositories.counter import CounterVerificationRepository
from identity.db.repositories.events import OutboxEventRecorder
from identity.db.repositories.housekeeping import Housekeeping
from identity.db.repositories.signing_keys import SigningKeyRepository
from identity.db.repositories.throttle import ThrottleRepository
from identity.db.repositories.tokens import TokenRepository

__all__ = [
    "AccessLogRepository",
    "AccountRepository",
    "AgencyRepository",
    "ClientRepository",
    "ConsentRepository",
    "CounterVerificationRepository",
    "Housekeeping",
    "OutboxEventRecorder",
    "SigningKeyRepository",
    "ThrottleRepository",
    "TokenRepository",
    "read_account",
]
