"""`make run`'s stack: starts from nothing, answers through the gateway, stops without leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from mpp_shared.testing.stack import StackEnv

pytestmark = pytest.mark.slow

SERVICES = ("gateway", "identity", "catalog", "application", "tracking")


def _start(root: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mpp_shared.devstack", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if "is ready" in line:
            return process, lines
    process.kill()
    pytest.fail("the stack did not become ready:\n" + "\n".join(lines))


def _stop(process: subprocess.Popen[str]) -> str:
    # What Ctrl-C does in a terminal: SIGINT to the foreground process group.
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    # A zombie has exited; only its parent has not collected it yet.
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _get(url: str) -> tuple[int, bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
        return response.status, response.read(), dict(response.headers)


def test_stack_starts_answers_through_the_gateway_and_stops_cleanly(
    tmp_path: Path, stack_env: StackEnv
) -> None:
    env = stack_env.env
    gateway = stack_env.gateway_url

    process, first_lines = _start(tmp_path, env)
    try:
        status, body, headers = _get(gateway + "/readyz")
        assert status == 200
        assert b'"status":"ready"' in body
        assert "x-request-id" in {k.lower() for k in headers}
        pids = [int((tmp_path / ".run" / f"{name}.pid").read_text()) for name in SERVICES]
        postgres_pid = int(
            (tmp_path / ".run" / "postgres" / "data" / "postmaster.pid").read_text().split()[0]
        )
        nats_pid = int((tmp_path / ".run" / "nats" / "nats.pid").read_text().split()[0])
    finally:
        output = _stop(process)

    assert process.returncode == 0, output
    assert "stopped." in output
    for pid in [*pids, postgres_pid, nats_pid]:
        assert not _alive(pid), f"process {pid} outlived the stack"
    assert any("created database mpp_catalog" in line for line in first_lines)

    # A second run keeps the data of the first.
    process, second_lines = _start(tmp_path, env)
    try:
        assert _get(gateway + "/readyz")[0] == 200
    finally:
        _stop(process)
    assert not any("created database" in line for line in second_lines)
    assert process.returncode == 0
