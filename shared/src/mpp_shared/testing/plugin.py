"""pytest plugin (loaded with ``-p mpp_shared.testing.plugin``): servers for the test session.

Uses ``MPP_TEST_DATABASE_URL`` / ``MPP_TEST_NATS_URL`` when set, testcontainers when
``MPP_TEST_DOCKER=1`` and a Docker engine answers, and otherwise starts a real PostgreSQL and
NATS JetStream from Python wheels in a temporary directory, on free ports.

The NATS servers it starts have the deployment's users and permissions
(``mpp_shared.events.permissions``) plus the tests' own user ``tester``; tests connect as the
service they play. A server named by ``MPP_TEST_NATS_URL`` is used as it is (anonymously),
and the tests that need the permissions are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mpp_shared.events.permissions import NatsAuthorization
from mpp_shared.testing.infrastructure import (
    TestInfrastructure,
    nats_authorization_for_tests,
    start_infrastructure,
)


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


@pytest.fixture(scope="session")
def nats_settings(infrastructure: TestInfrastructure) -> dict[str, Any]:
    """Settings arguments (URL, user, password) to reach the session's NATS as the tests' user."""
    return infrastructure.nats_settings()


@pytest.fixture(scope="session")
def nats_authorization(infrastructure: TestInfrastructure) -> NatsAuthorization:
    """The users of the session's NATS; skips tests of permissions on a server of unknown users."""
    if infrastructure.nats_authorization is None:
        pytest.skip("MPP_TEST_NATS_URL names a server whose users and permissions are unknown")
    return infrastructure.nats_authorization


@pytest.fixture
def database_url(infrastructure: TestInfrastructure, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database for one test."""
    prefix = "t_" + request.node.name.split("[")[0][-20:].lower()
    return infrastructure.create_database("".join(c if c.isalnum() else "_" for c in prefix))


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[Callable[[], object]]:
    """A NATS server of the test's own, which the test may stop and start again.

    Yields a factory returning an ``EmbeddedNats`` (already started) with the deployment's
    users and the tests' own (``server.connect_options(user)``, ``server.settings(user)``);
    stopped at the end.
    """
    from mpp_shared.embedded import EmbeddedNats, free_port

    servers: list[EmbeddedNats] = []

    def start() -> EmbeddedNats:
        server = EmbeddedNats(
            tmp_path / f"nats{len(servers)}" / "store",
            port=free_port(),
            authorization=nats_authorization_for_tests(),
        )
        server.start()
        servers.append(server)
        return server

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An S3-compatible server (moto) for the session: ``endpoint_url``, ``access_key``,
    ``secret_key``, ``region``. Needs the ``moto[server]`` development dependency."""
    from mpp_shared.testing.s3 import S3TestServer

    with S3TestServer(tmp_path_factory.mktemp("s3")) as server:
        yield server
