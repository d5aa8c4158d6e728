"""Alembic environment of the application service."""

from application.db.tables import Base
from mpp_shared.db.alembic_env import run
from mpp_shared.events.tables import EVENTS_METADATA
from mpp_shared.idempotency import IDEMPOTENCY_METADATA

run([Base.metadata, EVENTS_METADATA, IDEMPOTENCY_METADATA])
