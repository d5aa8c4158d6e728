"""Memory per process: each program's resident set after start and after some traffic.

Starts the whole system as `make run` does (demo data included) on free ports, reads each
program's VmRSS and VmHWM (its peak) from /proc right after it is ready, then sends a mix of
requests through the gateway (catalogue searches, logins, /me) and reads them again. The
Kubernetes memory requests and limits (deploy/README.md, "Sizing") start from these figures.

    uv run python bench/bench_footprint.py
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import cpu_seconds, write_section

from mpp_shared.devstack import DevStack
from mpp_shared.testing.stack import free_stack_env

PROGRAMS = ("gateway", "identity", "catalog", "application", "tracking")
SEARCHES = ("ktp", "akta%20kelahiran", "pasport", "izin%20usaha", "kartu%20keluarga")
LOGINS = 8
READS = 300


def memory(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def call(url: str, body: dict[str, str] | None = None, token: str | None = None) -> bytes:
    headers = {"content-type": "application/json"} if body is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return bytes(response.read())


def traffic(gateway: str) -> int:
    sent = 0
    token = ""
    for _ in range(LOGINS):
        answer = call(
            f"{gateway}/api/v1/auth/login",
            {"username": "warga1@mpp.local", "password": "Warga#Dev2026"},
        )
        token = json.loads(answer)["access_token"]
        sent += 1
    for n in range(READS):
        call(f"{gateway}/api/v1/services?q={SEARCHES[n % len(SEARCHES)]}&limit=20")
        call(f"{gateway}/api/v1/me", token=token)
        call(f"{gateway}/api/v1/applications", token=token)
        call(f"{gateway}/api/v1/notifications", token=token)
        sent += 4
    return sent


def main() -> int:
    load_before = os.getloadavg()[0]
    # One client address sends everything: the per-client limit would answer 429s.
    env = free_stack_env(MPP_GATEWAY_RATE_LIMIT_ENABLED="false")
    with tempfile.TemporaryDirectory(prefix="mpp-footprint-") as root:
        stack = DevStack(Path(root), env.env)
        stack.start()
        try:
            pids = {name: stack.processes[name].pid for name in PROGRAMS}
            time.sleep(5)  # the demo data's last writes and the first snapshot settle
            idle = {name: memory(pid) for name, pid in pids.items()}
            cpu_before = {name: cpu_seconds([pid]) for name, pid in pids.items()}
            started = time.monotonic()
            sent = traffic(env.gateway_url)
            seconds = time.monotonic() - started
            busy = {name: memory(pid) for name, pid in pids.items()}
            cpu = {name: cpu_seconds([pid]) - cpu_before[name] for name, pid in pids.items()}
        finally:
            stack.stop()
    load_after = os.getloadavg()[0]
    rows = "\n".join(
        f"| {name} | {idle[name][0]:.0f} | {busy[name][0]:.0f} | {busy[name][1]:.0f} | "
        f"{cpu[name]:.1f} |"
        for name in PROGRAMS
    )
    section = f"""## Memory per process

`bench/bench_footprint.py`, {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}: the whole
system as `make run` starts it (demo data loaded), one process of each program; resident memory
from /proc right after start, then after {sent:,} requests through the gateway in {seconds:.0f} s,
one at a time ({LOGINS} logins, then {READS} rounds of a catalogue search, `/me`, the citizen's
applications and notifications). Load average (1 min): {load_before:.2f} before,
{load_after:.2f} after.

| program | RSS at start (MiB) | RSS after (MiB) | peak RSS (MiB) | CPU s in the requests |
|---|---:|---:|---:|---:|
{rows}

- A login hashes with argon2id at 64 MiB: identity's peak includes that per concurrent login,
  which is what its memory limit must leave room for.
- Sequential requests: a replica serving many at once holds more in flight (request bodies,
  the connection pool's 20 connections); deploy/README.md adds a margin for it.
"""
    print(section)
    write_section("## Memory per process", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
