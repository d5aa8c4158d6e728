"""``make run``: the whole system on one machine, with PostgreSQL and NATS from Python wheels.

Everything lives under ``.run/`` (data, logs, pid files); a second run reuses the data.
Ctrl-C stops the gateway, the services, NATS and PostgreSQL, in that order.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from mpp_shared.embedded import EmbeddedNats, EmbeddedNatsCluster, EmbeddedPostgres
from mpp_shared.embedded.process import kill_stale, port_open, spawn, stop_process
from mpp_shared.events.permissions import NatsAuthorization


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # also the Python package run with ``python -m``
    env_prefix: str
    default_port: int
    database: str | None


SERVICES = (
    ServiceSpec("identity", "MPP_IDENTITY_", 8081, "mpp_identity"),
    ServiceSpec("catalog", "MPP_CATALOG_", 8082, "mpp_catalog"),
    ServiceSpec("application", "MPP_APPLICATION_", 8083, "mpp_application"),
    ServiceSpec("tracking", "MPP_TRACKING_", 8084, "mpp_tracking"),
)
GATEWAY = ServiceSpec("gateway", "MPP_GATEWAY_", 8080, None)

# Development defaults only; `make run` prints them. Production takes them from the environment.
DEV_ADMIN_EMAIL = "admin@mpp.local"
DEV_ADMIN_PASSWORD = "Admin#Dev2026"  # noqa: S105 - documented demo credential


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    return int(env.get(name, default))


class DevStack:
    def __init__(self, root: Path, env: Mapping[str, str]) -> None:
        self.root = root
        self.run_dir = root / ".run"
        self.env = dict(env)
        self.pg_port = _port(env, "MPP_DEV_POSTGRES_PORT", 55432)
        self.nats_port = _port(env, "MPP_DEV_NATS_PORT", 54222)
        self.ports = {
            s.name: _port(env, f"{s.env_prefix}PORT", s.default_port) for s in (*SERVICES, GATEWAY)
        }
        self.postgres = EmbeddedPostgres(self.run_dir / "postgres" / "data", port=self.pg_port)
        # Each service's own NATS user; the passwords are made on the first run and kept.
        self.nats_authorization = NatsAuthorization.load_or_create(
            self.run_dir / "nats" / "passwords.json", overrides=self.env
        )
        monitor_port = _port(env, "MPP_DEV_NATS_MONITOR_PORT", 58222)
        # MPP_DEV_NATS_CLUSTER=3: a JetStream cluster of three servers on consecutive ports
        # (clients 54222-54224, routes 56222-56224, monitoring 58222-58224), streams replicated.
        self.nats_cluster_size = int(env.get("MPP_DEV_NATS_CLUSTER", "1"))
        self.nats: EmbeddedNats | EmbeddedNatsCluster
        if self.nats_cluster_size > 1:
            nodes = range(self.nats_cluster_size)
            self.nats = EmbeddedNatsCluster(
                self.run_dir / "nats" / "cluster",
                ports=[self.nats_port + i for i in nodes],
                cluster_ports=[self.nats_port + 2000 + i for i in nodes],
                monitor_ports=[monitor_port + i for i in nodes],
                authorization=self.nats_authorization,
            )
        else:
            self.nats = EmbeddedNats(
                self.run_dir / "nats" / "store",
                port=self.nats_port,
                monitor_port=monitor_port,
                authorization=self.nats_authorization,
            )
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.stopping = False

    # -- start -------------------------------------------------------------------------------
    def start(self) -> None:
        self.run_dir.mkdir(exist_ok=True)
        (self.run_dir / "logs").mkdir(exist_ok=True)
        self._clear_leftovers()
        self._check_ports()
        started = time.monotonic()
        say(f"PostgreSQL on 127.0.0.1:{self.pg_port} (data in .run/postgres)")
        self.postgres.start()
        say(
            f"NATS JetStream on {self.nats.url} (data in .run/nats; "
            "one user per service, passwords in .run/nats/passwords.json)"
        )
        self.nats.start()
        for spec in SERVICES:
            if spec.database and self.postgres.create_database(spec.database):
                say(f"created database {spec.database}")
        for spec in SERVICES:
            self._start_service(spec)
        self._start_service(GATEWAY)
        self._wait_ready(timeout=float(self.env.get("MPP_DEV_READY_TIMEOUT", "120")))
        self._banner(time.monotonic() - started)

    def _clear_leftovers(self) -> None:
        # A run killed with SIGKILL may leave servers behind; their pid files name them.
        kill_stale(self.postgres.pid_file, expect="postgres")
        for node in self.nats.nodes if isinstance(self.nats, EmbeddedNatsCluster) else [self.nats]:
            kill_stale(node.pid_file, expect="nats-server")
        for spec in (*SERVICES, GATEWAY):
            kill_stale(self.run_dir / f"{spec.name}.pid", expect=f"-m {spec.name}")

    def _check_ports(self) -> None:
        taken = [
            f"{what} {port}"
            for what, port in [
                ("PostgreSQL", self.pg_port),
                ("NATS", self.nats_port),
                *((name, port) for name, port in self.ports.items()),
            ]
            if port_open("127.0.0.1", port)
        ]
        if taken:
            raise SystemExit(
                "These ports are in use: " + ", ".join(taken) + ".\n"
                "Stop what uses them, or choose others: MPP_GATEWAY_PORT, MPP_<SERVICE>_PORT, "
                "MPP_DEV_POSTGRES_PORT, MPP_DEV_NATS_PORT."
            )

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        env = dict(self.env)
        gateway_url = f"http://127.0.0.1:{self.ports['gateway']}"
        identity_url = f"http://127.0.0.1:{self.ports['identity']}"
        p = spec.env_prefix
        env.setdefault(f"{p}PORT", str(self.ports[spec.name]))
        env.setdefault(f"{p}NATS_URL", self.nats.url)
        env.setdefault("MPP_NATS_STREAM_REPLICAS", str(self.nats_cluster_size))
        credentials = self.nats_authorization.credentials(spec.name)
        env.setdefault(f"{p}NATS_USER", credentials.user)
        env.setdefault(f"{p}NATS_PASSWORD", credentials.password)
        env.setdefault(f"{p}PUBLIC_URL", gateway_url)
        env.setdefault(f"{p}JWKS_URL", f"{identity_url}/oauth2/jwks")
        env.setdefault(f"{p}ENVIRONMENT", "development")
        if spec.database:
            env.setdefault(f"{p}DATABASE_URL", self.postgres.url(spec.database))
        if spec is GATEWAY:
            for other in SERVICES:
                env.setdefault(
                    f"{p}{other.name.upper()}_URL", f"http://127.0.0.1:{self.ports[other.name]}"
                )
        env.setdefault("MPP_BOOTSTRAP_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
        env.setdefault("MPP_BOOTSTRAP_ADMIN_PASSWORD", DEV_ADMIN_PASSWORD)
        env.setdefault(f"{p}SEED_DEMO_DATA", "true")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _start_service(self, spec: ServiceSpec) -> None:
        log_file = self.run_dir / "logs" / f"{spec.name}.log"
        process = spawn(
            [sys.executable, "-m", spec.name],
            log_file=log_file,
            env=self.service_env(spec),
            cwd=self.root,
        )
        (self.run_dir / f"{spec.name}.pid").write_text(str(process.pid))
        self.processes[spec.name] = process
        url = f"http://127.0.0.1:{self.ports[spec.name]}"
        say(f"{spec.name:<12} {url}  (log: .run/logs/{spec.name}.log)")

    def _wait_ready(self, timeout: float) -> None:
        url = f"http://127.0.0.1:{self.ports['gateway']}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)
        raise SystemExit(f"not ready after {timeout:.0f} s: see .run/logs/ and {url}")

    def _check_children(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None and not self.stopping:
                log_file = self.run_dir / "logs" / f"{name}.log"
                tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-20:])
                raise SystemExit(
                    f"{name} exited with code {process.returncode}; last lines:\n{tail}"
                )

    def _banner(self, seconds: float) -> None:
        gateway = f"http://127.0.0.1:{self.ports['gateway']}"
        say("")
        say(f"MPP Digital is ready in {seconds:.1f} s at {gateway}")
        say(f"  API docs      {gateway}/docs")
        say(f"  readiness     {gateway}/readyz")
        say(
            f"  platform admin {self.env.get('MPP_BOOTSTRAP_ADMIN_EMAIL', DEV_ADMIN_EMAIL)}"
            f" / {self.env.get('MPP_BOOTSTRAP_ADMIN_PASSWORD', DEV_ADMIN_PASSWORD)}"
        )
        say("  demo citizens and more: see README.md")
        say("Press Ctrl-C to stop.")

    # -- run and stop ------------------------------------------------------------------------
    def wait(self) -> None:
        while not self.stopping:
            self._check_children()
            time.sleep(0.5)

    def stop(self) -> None:
        self.stopping = True
        say("stopping…")
        gateway = self.processes.pop(GATEWAY.name, None)
        if gateway is not None:
            stop_process(gateway)
        # Signal every service first so that they drain in parallel, then wait for each.
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            stop_process(process, timeout=15)
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
        (self.run_dir / f"{GATEWAY.name}.pid").unlink(missing_ok=True)
        self.nats.stop()
        self.postgres.stop()
        say("stopped.")


def say(message: str) -> None:
    print(f"[mpp] {message}" if message else "", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root")
    parser.add_argument(
        "--check", action="store_true", help="start, wait until ready, then stop (for tests)"
    )
    args = parser.parse_args(argv)
    stack = DevStack(args.root.resolve(), os.environ)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        if not args.check:
            stack.wait()
    except KeyboardInterrupt:
        pass
    except SystemExit as exc:
        if exc.code not in (None, 0):
            print(exc.code, file=sys.stderr)
        stack.stop()
        return 1
    stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
