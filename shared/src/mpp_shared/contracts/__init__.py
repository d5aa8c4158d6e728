"""Event payload contracts: one ``<publisher>/v1.py`` per publishing service, on this base."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """The ``data`` of an event: ids and the facts a consumer needs, never more personal data.

    Frozen because an event states something that happened. Unknown fields are ignored, not
    rejected, so a consumer keeps working when its publisher adds a field (a tolerant reader);
    removing or changing a field needs a new contract version.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


__all__ = ["EventData"]
