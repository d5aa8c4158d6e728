"""Alembic environment of the tracking service."""

import tracking.db.reports
import tracking.db.surveys
import tracking.db.webhooks  # noqa: F401 - their tables join Base.metadata
from mpp_shared.db.alembic_env import run
from mpp_shared.events.tables import EVENTS_METADATA
from tracking.db.tables import Base

run([Base.metadata, EVENTS_METADATA])
