"""``make run``: the whole system on one machine, with PostgreSQL and NATS from Python wheels.

Everything lives under ``.run/`` (data, logs, pid files); a second run reuses the data.
Ctrl-C stops the gateway, the services, NATS and PostgreSQL, in that order.

``MPP_REPLICAS=2`` runs two replicas of every service and of the gateway: replica n of a
service listens on its port + 100·(n-1) (``MPP_<SERVICE>_PORT_<n>`` changes it), every gateway
knows every replica of each service, and a small TCP balancer on the public port spreads the
connections over the gateways, which listen on the public port + 100·n (``MPP_GATEWAY_PORT_<n>``).
"""

from __future__ import annotations

import argparse
import contextlib
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


@dataclass(frozen=True)
class Instance:
    """One process of the stack: replica ``number`` (from 1) of ``spec``."""

    spec: ServiceSpec
    number: int
    port: int

    @property
    def name(self) -> str:
        """``tracking`` for the first replica, ``tracking-2`` for the second…"""
        return self.spec.name if self.number == 1 else f"{self.spec.name}-{self.number}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


SERVICES = (
    ServiceSpec("identity", "MPP_IDENTITY_", 8081, "mpp_identity"),
    ServiceSpec("catalog", "MPP_CATALOG_", 8082, "mpp_catalog"),
    ServiceSpec("application", "MPP_APPLICATION_", 8083, "mpp_application"),
    ServiceSpec("tracking", "MPP_TRACKING_", 8084, "mpp_tracking"),
)
GATEWAY = ServiceSpec("gateway", "MPP_GATEWAY_", 8080, None)

BALANCER = "balancer"
MAX_REPLICAS = 9

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
        # The first replica's port of each service, and the public port of the gateway.
        self.ports = {
            s.name: _port(env, f"{s.env_prefix}PORT", s.default_port) for s in (*SERVICES, GATEWAY)
        }
        self.replicas = int(env.get("MPP_REPLICAS", "1"))
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise SystemExit(f"MPP_REPLICAS must be between 1 and {MAX_REPLICAS}")
        self.instances: dict[str, Instance] = {}
        for spec in (*SERVICES, GATEWAY):
            for number in range(1, self.replicas + 1):
                instance = Instance(spec, number, self._instance_port(spec, number))
                self.instances[instance.name] = instance
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

    def _instance_port(self, spec: ServiceSpec, number: int) -> int:
        base = self.ports[spec.name]
        if spec is GATEWAY and self.replicas > 1:
            # The public port is the balancer's; the gateways sit beside it.
            return _port(self.env, f"{spec.env_prefix}PORT_{number}", base + 100 * number)
        if number == 1:
            return base
        return _port(self.env, f"{spec.env_prefix}PORT_{number}", base + 100 * (number - 1))

    def replicas_of(self, spec: ServiceSpec) -> list[Instance]:
        return [i for i in self.instances.values() if i.spec is spec]

    @property
    def gateway_url(self) -> str:
        """The public entry point: the gateway, or the balancer in front of the gateways."""
        return f"http://127.0.0.1:{self.ports[GATEWAY.name]}"

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
        timeout = float(self.env.get("MPP_DEV_READY_TIMEOUT", "120"))
        first = [i for i in self.instances.values() if i.number == 1 and i.spec is not GATEWAY]
        for instance in first:
            self.start_instance(instance.name)
        if self.replicas > 1:
            # The first replica of each service migrates and seeds alone; the others start
            # once it is ready and find the work done.
            for instance in first:
                self.wait_instance_ready(instance.name, timeout=timeout)
            for instance in self.instances.values():
                if instance.number > 1 and instance.spec is not GATEWAY:
                    self.start_instance(instance.name)
        for instance in self.replicas_of(GATEWAY):
            self.start_instance(instance.name)
        if self.replicas > 1:
            self._start_balancer()
        self._wait_ready(timeout=timeout)
        self._banner(time.monotonic() - started)

    def _clear_leftovers(self) -> None:
        # A run killed with SIGKILL may leave servers behind; their pid files name them.
        kill_stale(self.postgres.pid_file, expect="postgres")
        for node in self.nats.nodes if isinstance(self.nats, EmbeddedNatsCluster) else [self.nats]:
            kill_stale(node.pid_file, expect="nats-server")
        for instance in self.instances.values():
            kill_stale(self.run_dir / f"{instance.name}.pid", expect=f"-m {instance.spec.name}")
        kill_stale(self.run_dir / f"{BALANCER}.pid", expect="mpp_shared.embedded.balancer")

    def _check_ports(self) -> None:
        wanted = {
            self.pg_port: "PostgreSQL",
            self.nats_port: "NATS",
            self.ports[GATEWAY.name]: BALANCER if self.replicas > 1 else GATEWAY.name,
        }
        for instance in self.instances.values():
            wanted.setdefault(instance.port, instance.name)
        taken = [f"{what} {port}" for port, what in wanted.items() if port_open("127.0.0.1", port)]
        if taken:
            raise SystemExit(
                "These ports are in use: " + ", ".join(taken) + ".\n"
                "Stop what uses them, or choose others: MPP_GATEWAY_PORT, MPP_<SERVICE>_PORT, "
                "MPP_<SERVICE>_PORT_<n> (replica n), MPP_DEV_POSTGRES_PORT, MPP_DEV_NATS_PORT."
            )

    def service_env(self, spec: ServiceSpec, number: int = 1) -> dict[str, str]:
        env = dict(self.env)
        gateway_url = self.gateway_url
        identity_url = f"http://127.0.0.1:{self.ports['identity']}"
        p = spec.env_prefix
        env[f"{p}PORT"] = str(self.instances[Instance(spec, number, 0).name].port)
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
                # Every replica: the gateway balances between them.
                env.setdefault(
                    f"{p}{other.name.upper()}_URL",
                    ",".join(i.url for i in self.replicas_of(other)),
                )
        env.setdefault("MPP_BOOTSTRAP_ADMIN_EMAIL", DEV_ADMIN_EMAIL)
        env.setdefault("MPP_BOOTSTRAP_ADMIN_PASSWORD", DEV_ADMIN_PASSWORD)
        env.setdefault(f"{p}SEED_DEMO_DATA", "true")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start_instance(self, name: str) -> None:
        """Start the process ``name`` (``tracking``, ``tracking-2``, ``gateway``…)."""
        instance = self.instances[name]
        if name in self.processes and self.processes[name].poll() is None:
            raise RuntimeError(f"{name} is running")
        log_file = self.run_dir / "logs" / f"{name}.log"
        process = spawn(
            [sys.executable, "-m", instance.spec.name],
            log_file=log_file,
            env=self.service_env(instance.spec, instance.number),
            cwd=self.root,
        )
        (self.run_dir / f"{name}.pid").write_text(str(process.pid))
        self.processes[name] = process
        say(f"{name:<14} {instance.url}  (log: .run/logs/{name}.log)")

    def _start_balancer(self) -> None:
        command = [sys.executable, "-m", "mpp_shared.embedded.balancer"]
        command += ["--listen", f"127.0.0.1:{self.ports[GATEWAY.name]}"]
        for instance in self.replicas_of(GATEWAY):
            command += ["--backend", f"127.0.0.1:{instance.port}"]
        process = spawn(command, log_file=self.run_dir / "logs" / f"{BALANCER}.log", cwd=self.root)
        (self.run_dir / f"{BALANCER}.pid").write_text(str(process.pid))
        self.processes[BALANCER] = process
        say(f"{BALANCER:<14} {self.gateway_url}  (log: .run/logs/{BALANCER}.log)")

    # -- faults: stop, kill and restart one process ------------------------------------------
    def kill_instance(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL: no clean-up at all) to ``name`` and wait until it is gone."""
        process = self.processes.pop(name)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        process.wait(30)

    def stop_instance(self, name: str) -> None:
        """Stop ``name`` the way an orchestrator does: SIGTERM, drain, exit."""
        stop_process(self.processes.pop(name), timeout=15)

    def restart_instance(self, name: str, *, hard: bool = False, timeout: float = 60) -> None:
        """Stop (``hard``: kill -9) and start ``name`` again; returns once it is ready."""
        if hard:
            self.kill_instance(name)
        else:
            self.stop_instance(name)
        self.start_instance(name)
        self.wait_instance_ready(name, timeout=timeout)

    def wait_instance_ready(self, name: str, *, timeout: float) -> None:
        self._wait_url(f"{self.instances[name].url}/readyz", timeout=timeout)

    def stop_nats(self) -> None:
        self.nats.stop()

    def start_nats(self) -> None:
        self.nats.start()

    def stop_postgres(self) -> None:
        self.postgres.stop()

    def start_postgres(self) -> None:
        self.postgres.start()

    def _wait_ready(self, timeout: float) -> None:
        self._wait_url(f"{self.gateway_url}/readyz", timeout=timeout)

    def _wait_url(self, url: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_children()
            try:
                with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
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
        gateway = self.gateway_url
        say("")
        say(f"MPP Digital is ready in {seconds:.1f} s at {gateway}")
        if self.replicas > 1:
            say(f"  replicas      {self.replicas} of every service and of the gateway")
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
        # The public edge first (balancer, gateways), then the services; each group is
        # signalled at once so that its members drain in parallel, then waited for.
        edge = [BALANCER, *(i.name for i in self.replicas_of(GATEWAY))]
        groups = [
            [BALANCER],
            [name for name in edge if name != BALANCER],
            [name for name in self.processes if name not in edge],
        ]
        for group in groups:
            running = [(n, self.processes.pop(n)) for n in group if n in self.processes]
            for _, process in running:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for _, process in running:
                stop_process(process, timeout=15)
        for name in (*self.instances, BALANCER):
            (self.run_dir / f"{name}.pid").unlink(missing_ok=True)
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
    # Also when started from a script, whose background jobs inherit SIGINT ignored.
    signal.signal(signal.SIGINT, on_signal)
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
