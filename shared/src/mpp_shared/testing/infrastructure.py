"""Where the tests' PostgreSQL and NATS come from: the environment, Docker, or embedded wheels."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url

from mpp_shared.config import asyncpg_url
from mpp_shared.events.permissions import NatsAuthorization, NatsUser, Permissions, service_users

T = TypeVar("T")

# The tests' own NATS user, which may do anything: plumbing tests use made-up subjects and
# consumers, and observe streams as an operator would. Never part of a deployment.
TEST_NATS_USER = "tester"


def nats_authorization_for_tests() -> NatsAuthorization:
    """Every service's user as deployed, plus the tests' own, with fresh passwords."""
    tester = NatsUser(TEST_NATS_USER, Permissions.everything())
    return NatsAuthorization.generate(service_users(extra=(tester,)))


def run_sync(coro_factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when a loop is running here."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(asyncio.run(coro_factory()))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@dataclass
class TestInfrastructure:
    """The session's servers. ``create_database`` gives each test module a fresh database."""

    server_url: str  # SQLAlchemy asyncpg URL of the maintenance database
    nats_url: str
    origin: str  # "environment", "docker" or "embedded"
    # None for a server named by MPP_TEST_NATS_URL: its users are not known here.
    nats_authorization: NatsAuthorization | None = None
    _created: list[str] = field(default_factory=list)
    _stop: list[Callable[[], None]] = field(default_factory=list)

    def database_url(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def nats_connect_options(self, user: str = TEST_NATS_USER) -> dict[str, Any]:
        """``nats.connect`` arguments of ``user`` (a service's name or the tests' own)."""
        if self.nats_authorization is None:
            return {}
        return self.nats_authorization.credentials(user).connect_options()

    def nats_settings(self, user: str = TEST_NATS_USER) -> dict[str, Any]:
        """Service-settings arguments to reach the tests' NATS as ``user``."""
        if self.nats_authorization is None:
            return {"nats_url": self.nats_url}
        return {"nats_url": self.nats_url, **self.nats_authorization.credentials(user).settings()}

    def create_database(self, prefix: str = "test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        run_sync(lambda: self._execute(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return self.database_url(name)

    async def _execute(self, sql: str) -> None:
        import asyncpg

        url = make_url(self.server_url)
        conn = await asyncpg.connect(
            host=url.host,
            port=url.port,
            user=url.username,
            password=url.password,
            database=url.database,
        )
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def close(self) -> None:
        for name in self._created:
            # A server that is going away drops them anyway; a failure here must not mask results.
            with contextlib.suppress(Exception):
                run_sync(partial(self._execute, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for stop in reversed(self._stop):
            stop()


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run(  # noqa: S603
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def start_infrastructure(workdir: Path) -> TestInfrastructure:
    database_url = os.environ.get("MPP_TEST_DATABASE_URL")
    nats_url = os.environ.get("MPP_TEST_NATS_URL")
    if database_url and nats_url:
        url = asyncpg_url(database_url)
        return TestInfrastructure(server_url=url, nats_url=nats_url, origin="environment")
    if os.environ.get("MPP_TEST_DOCKER") == "1" and _docker_answers():
        return _start_docker(workdir, database_url, nats_url)
    return _start_embedded(workdir, database_url, nats_url)


def _start_embedded(
    workdir: Path, database_url: str | None, nats_url: str | None
) -> TestInfrastructure:
    from mpp_shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port

    stops: list[Callable[[], None]] = []
    authorization: NatsAuthorization | None = None
    if database_url is None:
        postgres = EmbeddedPostgres(workdir / "postgres" / "data", port=free_port(), durable=False)
        postgres.start()
        stops.append(postgres.stop)
        database_url = postgres.url()
    if nats_url is None:
        authorization = nats_authorization_for_tests()
        nats = EmbeddedNats(
            workdir / "nats" / "store", port=free_port(), authorization=authorization
        )
        nats.start()
        stops.append(nats.stop)
        nats_url = nats.url
    return TestInfrastructure(
        server_url=asyncpg_url(database_url),
        nats_url=nats_url,
        origin="embedded",
        nats_authorization=authorization,
        _stop=stops,
    )


def _start_docker(
    workdir: Path, database_url: str | None, nats_url: str | None
) -> TestInfrastructure:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.postgres import PostgresContainer

    stops: list[Callable[[], None]] = []
    authorization: NatsAuthorization | None = None
    if database_url is None:
        postgres = PostgresContainer("postgres:17", driver="asyncpg")
        postgres.start()
        stops.append(postgres.stop)
        database_url = postgres.get_connection_url()
    if nats_url is None:
        authorization = nats_authorization_for_tests()
        config = workdir / "nats-authorization.conf"
        config.write_text(authorization.config_text())
        config.chmod(0o644)  # read by the container's user; it names variables, holds no secret
        nats = (
            DockerContainer("nats:2.11")
            .with_command("-js -c /etc/nats/authorization.conf")
            .with_volume_mapping(str(config), "/etc/nats/authorization.conf", "ro")
            .with_exposed_ports(4222)
        )
        for name, value in authorization.server_environment().items():
            nats = nats.with_env(name, value)
        nats.start()
        wait_for_logs(nats, "Server is ready")
        stops.append(nats.stop)
        nats_url = f"nats://{nats.get_container_host_ip()}:{nats.get_exposed_port(4222)}"
    return TestInfrastructure(
        server_url=database_url,
        nats_url=nats_url,
        origin="docker",
        nats_authorization=authorization,
        _stop=stops,
    )
