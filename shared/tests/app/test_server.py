"""``python -m <service>``: how every service is served."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from fastapi import FastAPI

from mpp_shared import server
from mpp_shared.config import BaseServiceSettings


def test_what_the_process_built_before_serving_is_frozen_out_of_full_collections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen_when_served: list[int] = []

    def run(app: Any, **options: Any) -> None:
        frozen_when_served.append(gc.get_freeze_count())

    monkeypatch.setattr(server.uvicorn, "run", run)
    try:
        server.serve(FastAPI(), BaseServiceSettings(environment="test"))
    finally:
        gc.unfreeze()
    assert frozen_when_served
    assert frozen_when_served[0] > 10_000
