"""`make run`'s stack: starts from nothing, answers through the gateway, stops without leftovers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nats
import pytest

from mpp_shared.testing.stack import StackEnv, free_stack_env

pytestmark = pytest.mark.slow

SERVICES = ("gateway", "identity", "catalog", "application", "tracking")


def _start(
    root: Path, env: dict[str, str], *, sigint_ignored: bool = False
) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mpp_shared.devstack", "--root", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
        # What a script's background job (`make run &`) inherits from its shell.
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
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


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return response.status, response.read(), dict(response.headers)


def _login(gateway: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        gateway + "/api/v1/auth/login",
        data=json.dumps({"username": "warga1@mpp.local", "password": "Warga#Dev2026"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return str(json.load(response)["access_token"])


def test_stack_starts_answers_through_the_gateway_and_stops_cleanly(
    tmp_path: Path, stack_env: StackEnv
) -> None:
    env = stack_env.env
    gateway = stack_env.gateway_url

    process, first_lines = _start(tmp_path, env)
    try:
        # "Ready" means ready for everything: a login and an authenticated call at once.
        token = _login(gateway)
        me_status, me_body, _ = _get(gateway + "/api/v1/me", {"Authorization": f"Bearer {token}"})
        assert me_status == 200, me_body
        status, body, headers = _get(gateway + "/readyz")
        assert status == 200
        assert b'"status":"ready"' in body
        assert "x-request-id" in {k.lower() for k in headers}
        pids = [int((tmp_path / ".run" / f"{name}.pid").read_text()) for name in SERVICES]
        postgres_pid = int(
            (tmp_path / ".run" / "postgres" / "data" / "postmaster.pid").read_text().split()[0]
        )
        nats_pid = int((tmp_path / ".run" / "nats" / "nats.pid").read_text().split()[0])
        # Every service is ready with its own NATS user; nobody gets in anonymously.
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            asyncio.run(
                nats.connect(
                    f"nats://127.0.0.1:{env['MPP_DEV_NATS_PORT']}",
                    allow_reconnect=False,
                    connect_timeout=2,
                )
            )
    finally:
        output = _stop(process)

    assert process.returncode == 0, output
    assert "stopped." in output
    for pid in [*pids, postgres_pid, nats_pid]:
        assert not _alive(pid), f"process {pid} outlived the stack"
    assert any("created database mpp_catalog" in line for line in first_lines)
    # Nothing a service did on start (streams, relay, consumers, responders) was refused.
    for log_file in (tmp_path / ".run" / "logs").glob("*.log"):
        assert "permissions violation" not in log_file.read_text().lower(), log_file.name
    passwords_file = tmp_path / ".run" / "nats" / "passwords.json"
    assert stat.S_IMODE(passwords_file.stat().st_mode) == 0o600
    passwords = json.loads(passwords_file.read_text())
    assert set(passwords) == set(SERVICES)
    assert len(set(passwords.values())) == len(SERVICES)

    # A second run keeps the data of the first.
    process, second_lines = _start(tmp_path, env)
    try:
        assert _get(gateway + "/readyz")[0] == 200
    finally:
        _stop(process)
    assert not any("created database" in line for line in second_lines)
    assert json.loads(passwords_file.read_text()) == passwords
    assert process.returncode == 0


def test_ctrl_c_stops_a_stack_started_in_the_background_of_a_script(tmp_path: Path) -> None:
    env = free_stack_env().env
    process, _ = _start(tmp_path, env, sigint_ignored=True)
    output = _stop(process)

    assert process.returncode == 0, output
