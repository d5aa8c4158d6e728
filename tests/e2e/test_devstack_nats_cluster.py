"""`MPP_DEV_NATS_CLUSTER=3 make run`: the embedded runtime's NATS is a three-node cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from mpp_shared.config import BaseServiceSettings
from mpp_shared.devstack import SERVICES, DevStack
from mpp_shared.embedded import EmbeddedNatsCluster, free_port
from mpp_shared.events import NatsConnection, ensure_event_streams

pytestmark = pytest.mark.slow


def test_single_server_by_default(tmp_path: Path) -> None:
    stack = DevStack(tmp_path, {})

    assert not isinstance(stack.nats, EmbeddedNatsCluster)
    env = stack.service_env(SERVICES[0])
    assert env["MPP_IDENTITY_NATS_URL"] == "nats://127.0.0.1:54222"
    assert env["MPP_NATS_STREAM_REPLICAS"] == "1"


async def test_cluster_of_three_serves_the_services_with_replicated_streams(
    tmp_path: Path,
) -> None:
    # Consecutive ports from a free one; a taken neighbour would show as a start failure.
    base = free_port()
    env = {"MPP_DEV_NATS_CLUSTER": "3", "MPP_DEV_NATS_PORT": str(base)}
    env["MPP_DEV_NATS_MONITOR_PORT"] = str(free_port())
    stack = DevStack(tmp_path, env)
    assert isinstance(stack.nats, EmbeddedNatsCluster)
    catalog = next(spec for spec in SERVICES if spec.name == "catalog")
    service_env = stack.service_env(catalog)
    assert service_env["MPP_CATALOG_NATS_URL"] == ",".join(
        f"nats://127.0.0.1:{base + i}" for i in range(3)
    )
    assert service_env["MPP_NATS_STREAM_REPLICAS"] == "3"

    stack.nats.start()
    try:
        settings = BaseServiceSettings(
            service_name="catalog",
            nats_url=service_env["MPP_CATALOG_NATS_URL"],
            nats_user=service_env["MPP_CATALOG_NATS_USER"],
            nats_password=service_env["MPP_CATALOG_NATS_PASSWORD"],
            nats_stream_replicas=int(service_env["MPP_NATS_STREAM_REPLICAS"]),
        )
        connection = NatsConnection.for_settings(settings)
        await connection.start()
        try:
            await connection.wait_connected(20)
            js = connection.jetstream
            await ensure_event_streams(js, replicas=connection.stream_replicas)
            info = await js.stream_info("MPP")
            assert info.config.num_replicas == 3
            assert info.cluster is not None
            assert len(info.cluster.replicas or []) == 2
        finally:
            await connection.close()
    finally:
        stack.nats.stop()
