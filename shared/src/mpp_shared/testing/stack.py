"""``make run``'s stack for whole-system tests: every server on a free port of 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mpp_shared.devstack import GATEWAY, SERVICES, DevStack
from mpp_shared.embedded import free_port


@dataclass(frozen=True)
class StackEnv:
    """The environment of a stack whose servers listen on ports nobody else uses."""

    env: dict[str, str]
    ports: dict[str, int]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[GATEWAY.name]}"


def free_stack_env(
    base: Mapping[str, str] | None = None, *, replicas: int = 1, **extra: str
) -> StackEnv:
    """``base`` (the process's environment by default) with free ports for every server
    (``replicas`` of every service and of the gateway, behind a balancer when more than one)."""
    specs = (GATEWAY, *SERVICES)
    ports = {spec.name: free_port() for spec in specs}
    env = dict(os.environ if base is None else base)
    env.update({f"{spec.env_prefix}PORT": str(ports[spec.name]) for spec in specs})
    env["MPP_REPLICAS"] = str(replicas)
    if replicas > 1:
        for spec in specs:
            # Replica 1 of a service takes its PORT; the gateways all sit behind the balancer.
            first = 1 if spec is GATEWAY else 2
            for number in range(first, replicas + 1):
                env[f"{spec.env_prefix}PORT_{number}"] = str(free_port())
    env.update(
        MPP_DEV_POSTGRES_PORT=str(free_port()),
        MPP_DEV_NATS_PORT=str(free_port()),
        MPP_DEV_NATS_MONITOR_PORT=str(free_port()),
    )
    env.update(extra)
    return StackEnv(env=env, ports=ports)


@contextmanager
def running_stack(root: Path, stack_env: StackEnv) -> Iterator[StackEnv]:
    """The whole system with its demo data under ``root``, stopped on the way out."""
    with running_devstack(root, stack_env):
        yield stack_env


@contextmanager
def running_devstack(root: Path, stack_env: StackEnv) -> Iterator[DevStack]:
    """Like :func:`running_stack`, giving the stack itself: its hooks stop, kill and restart
    one process, NATS or PostgreSQL (the fault tests)."""
    stack = DevStack(root, stack_env.env)
    try:
        try:
            stack.start()
        except SystemExit as exc:  # what `make run` says before it exits; not a test's exit
            raise RuntimeError(f"the stack did not start: {exc.code}") from None
        yield stack
    finally:
        stack.stop()
