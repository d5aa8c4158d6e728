"""``Idempotency-Key`` on identity's create requests, through ``mpp_shared.idempotency``.

Identity's bodies hold passwords and its answers may hold a client secret shown once: the
fingerprint is keyed and the stored answer sealed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from identity.components import Components
from mpp_shared.idempotency import idempotent as run_idempotent
from mpp_shared.idempotency import request_fingerprint


async def idempotent(
    *,
    session: AsyncSession,
    components: Components,
    scope: str,
    key: str | None,
    payload: BaseModel,
    status_code: int,
    create: Callable[[], Awaitable[BaseModel]],
) -> JSONResponse:
    async def run() -> tuple[int, Any]:
        return status_code, (await create()).model_dump(mode="json")

    return await run_idempotent(
        session=session,
        scope=scope,
        key=key,
        fingerprint=request_fingerprint(
            payload.model_dump(mode="json"), secret=components.idempotency_key
        ),
        create=run,
        sealer=components.idempotency_box,
    )
