"""pytest plugin (loaded with ``-p mpp_shared.testing.plugin``): servers for the test session.

Uses ``MPP_TEST_DATABASE_URL`` / ``MPP_TEST_NATS_URL`` when set, testcontainers when
``MPP_TEST_DOCKER=1`` and a Docker engine answers, and otherwise starts a real PostgreSQL and
NATS JetStream from Python wheels in a temporary directory, on free ports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mpp_shared.testing.infrastructure import TestInfrastructure, start_infrastructure


@pytest.fixture(scope="session")
def infrastructure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestInfrastructure]:
    infra = start_infrastructure(tmp_path_factory.mktemp("infrastructure"))
    try:
        yield infra
    finally:
        infra.close()


@pytest.fixture(scope="session")
def nats_url(infrastructure: TestInfrastructure) -> str:
    return infrastructure.nats_url


@pytest.fixture
def database_url(infrastructure: TestInfrastructure, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for one test."""
    prefix = "t_" + request.node.name.split("[")[0][-20:].lower()
    return infrastructure.create_database("".join(c if c.isalnum() else "_" for c in prefix))


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[Callable[[], object]]:
    """A NATS server of the test's own, which the test may stop and start again.

    Yields a factory returning an ``EmbeddedNats`` (already started); stopped at the end.
    """
    from mpp_shared.embedded import EmbeddedNats, free_port

    servers: list[EmbeddedNats] = []

    def start() -> EmbeddedNats:
        server = EmbeddedNats(tmp_path / f"nats{len(servers)}" / "store", port=free_port())
        server.start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()
