"""An S3-compatible server for tests: moto's server mode in a child process on a free port.

A child process rather than moto's in-process thread, so that the objects it keeps do not
count in a test's memory measurements and its request handling does not compete for the GIL.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from mpp_shared.embedded.process import free_port, port_open, spawn, stop_process, wait_until

# moto accepts any credentials; these only have to look like them.
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"  # noqa: S105 - moto's throwaway server
REGION = "us-east-1"


@dataclass
class S3TestServer:
    """``with S3TestServer(log_dir) as server: server.endpoint_url``."""

    log_dir: Path
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.port = free_port(self.host)
        self.endpoint_url = f"http://{self.host}:{self.port}"
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY
        self.region = REGION
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._process = spawn(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            log_file=self.log_dir / "moto.log",
        )
        process = self._process
        wait_until(
            lambda: process.poll() is None and port_open(self.host, self.port),
            timeout=30,
            what="the moto S3 server",
        )

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
