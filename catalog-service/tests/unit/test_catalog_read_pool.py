"""Reads get a connection in the order they asked for one, however busy the pool."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from catalog.db.read_pool import QueuedPool
from mpp_shared.db import DatabaseBusy


class OneConnection:
    """A pool of one connection whose statements run until their event is set."""

    def __init__(self) -> None:
        self.served: list[str] = []
        self.finish = {name: asyncio.Event() for name in "ABCD"}

    def get_max_size(self) -> int:
        return 1

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        self.served.append(query)
        await self.finish[query].wait()
        return []


async def test_a_read_arriving_as_a_connection_is_freed_waits_behind_earlier_ones() -> None:
    connection = OneConnection()
    pool = QueuedPool(connection, timeout=5)  # type: ignore[arg-type]
    first = asyncio.create_task(pool.fetch("A"))
    waiting = [asyncio.create_task(pool.fetch(name)) for name in "BC"]
    await asyncio.sleep(0.01)
    assert connection.served == ["A"]

    connection.finish["A"].set()
    late = asyncio.create_task(pool.fetch("D"))  # in the same turn of the loop as the release
    for name in "BCD":
        connection.finish[name].set()
    await asyncio.gather(first, *waiting, late)
    assert connection.served == ["A", "B", "C", "D"]


async def test_a_read_that_waits_past_the_timeout_is_refused_as_busy() -> None:
    connection = OneConnection()
    pool = QueuedPool(connection, timeout=0.05)  # type: ignore[arg-type]
    first = asyncio.create_task(pool.fetch("A"))
    await asyncio.sleep(0.01)
    with pytest.raises(DatabaseBusy):
        await pool.fetch("B")
    connection.finish["A"].set()
    await first
    assert connection.served == ["A"]
    assert (pool.turns.in_use, pool.turns.timeouts) == (0, 1)
