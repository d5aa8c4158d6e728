"""What the benchmarks share: waiting for a server, running wrk, CPU time from /proc, the docs.

Not a benchmark itself (``make bench`` runs ``bench/bench_*.py``); the scripts import it from
their own directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


# Each wrk thread draws its requests at random from the list (a thread of its own seed), so a
# request's path follows the list's distribution and no run replays its warm-up in order.
_RANDOM_PATHS_LUA = """
local paths = {%s}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end
function init(args)
  math.randomseed(seed * 7919 + os.time())
end
request = function()
  return wrk.format("GET", paths[math.random(#paths)])
end
"""


# A service under cProfile: uvicorn re-raises the SIGTERM that stopped it once it has shut
# down, so the profile is written by the handler it restores, ours. The clock is the process's
# CPU time: a coroutine's wait for the database or the event loop's for the network counts as
# nothing, where the wall clock put it on whatever frame was open.
PROFILED_SERVICE = """
import cProfile, importlib, signal, sys, time
main = importlib.import_module(sys.argv[1] + ".__main__").main
profile = cProfile.Profile(time.process_time)
def stop(*_):
    profile.disable()
    profile.dump_stats(sys.argv[2])
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
profile.enable()
main()
"""


def profiled(command: list[str], profile: Path) -> list[str]:
    """``python -m <service>`` as a command that runs it under cProfile, its profile written to
    ``profile`` when it is stopped with SIGTERM."""
    return [command[0], "-c", PROFILED_SERVICE, command[2], str(profile)]


def random_paths_script(paths: list[str]) -> str:
    """A wrk script that GETs ``paths`` at random (a path listed twice is drawn twice as often)."""
    return _RANDOM_PATHS_LUA % ", ".join(json.dumps(path) for path in paths)


def wait_http(url: str, timeout: float = 120.0, headers: dict[str, str] | None = None) -> None:
    """Until ``url`` answers 200; SystemExit after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} did not answer 200 within {timeout:.0f} s")
        time.sleep(0.2)


# ---- wrk -----------------------------------------------------------------------------------


def ms(text: str) -> float:
    """A wrk latency (``850.00us``, ``1.20ms``, ``2.00s``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkRun:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int = 0  # answers other than 2xx/3xx, and socket errors


def parse_wrk(output: str) -> WrkRun:
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if "50" not in percentiles or "99" not in percentiles:
        raise SystemExit(f"wrk measured no latency:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    # Counted, not fatal: a server that drops requests under load is a finding to report.
    failed = sum(
        int(n)
        for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output)
        + re.findall(r"(?:connect|read|write|timeout) (\d+)", output)
    )
    return WrkRun(rps, ms(percentiles["50"]), ms(percentiles["99"]), requests, failed)


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 1,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
    timeout: float | None = None,
) -> WrkRun:
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    if timeout is not None:
        args.append(f"--timeout={timeout:g}s")
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    if script is not None:
        args += ["-s", str(script)]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


# ---- CPU time from /proc --------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        # Fields after the command name, which may hold spaces: state is [0], ppid [1].
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def has_proc() -> bool:
    return Path("/proc/self/stat").exists()


def busy_seconds() -> float:
    """CPU time the whole machine spent not idle, all cores together."""
    try:
        fields = [int(field) for field in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # up to steal, without guests


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes (not of their children)."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a server and its worker processes, those that exited included.

    PostgreSQL forks a backend per connection: one that ends during a measurement takes its
    CPU time out of a sum over the live ones, but the postmaster has reaped it and counts it
    among its children's time.
    """
    fields = _stat(pid)
    if fields is None:
        return 0.0
    reaped = (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")  # cutime + cstime
    return reaped + cpu_seconds([pid, *children(pid)])


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


# ---- docs/benchmarks.md ---------------------------------------------------------------------


def write_section(heading: str, section: str) -> None:
    """Put ``section`` (starting with the ``heading`` line) in place of the old one, or last."""
    text = (
        DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\nFigures written by `make bench`.\n"
    )
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    DOCS.write_text(text.rstrip("\n") + "\n")


# ---- identity-service and a gateway in front of it -------------------------------------------

USERNAME = "warga1@mpp.local"
PASSWORD = "Warga#Dev2026"  # noqa: S105 - the README's demo citizen
ME = "/api/v1/me"


def post_json(url: str, body: bytes, content_type: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=body, headers={"Content-Type": content_type}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def login(base: str) -> dict[str, Any]:
    body = json.dumps({"username": USERNAME, "password": PASSWORD}).encode()
    answer: dict[str, Any] = post_json(f"{base}/api/v1/auth/login", body, "application/json")
    return answer


@dataclass
class IdentityStack:
    """PostgreSQL, NATS, identity-service and a gateway (one process each), the demo citizen
    logged in: what the /me scenarios of bench_identity.py and bench_gateway.py measure."""

    postgres: Any
    identity_url: str
    gateway_url: str
    identity: subprocess.Popen[bytes]
    gateway: subprocess.Popen[bytes]
    access_token: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def cpu_seconds(self) -> tuple[float, float, float] | None:
        """CPU time so far of identity-service, PostgreSQL (with its backends), the gateway."""
        if not has_proc():
            return None
        postmaster = int(self.postgres.pid_file.read_text().split()[0])
        return (
            cpu_seconds([self.identity.pid]),
            tree_cpu_seconds(postmaster),
            cpu_seconds([self.gateway.pid]),
        )


@contextlib.contextmanager
def identity_stack(
    workdir: Path, identity_command: list[str] | None = None
) -> Iterator[IdentityStack]:
    from mpp_shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
    from mpp_shared.embedded.process import spawn, stop_process

    postgres = EmbeddedPostgres(workdir / "postgres" / "data", port=free_port(), durable=False)
    nats = EmbeddedNats(workdir / "nats" / "store", port=free_port())
    identity_port, gateway_port = free_port(), free_port()
    identity = f"http://127.0.0.1:{identity_port}"
    gateway = f"http://127.0.0.1:{gateway_port}"
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MPP_IDENTITY_PORT": str(identity_port),
        "MPP_IDENTITY_NATS_URL": nats.url,
        "MPP_IDENTITY_PUBLIC_URL": gateway,
        "MPP_IDENTITY_SEED_DEMO_DATA": "true",
        # The demo residents are enough; the synthetic population only slows the start.
        "MPP_IDENTITY_DUKCAPIL_POPULATION_SIZE": "100",
        "MPP_GATEWAY_PORT": str(gateway_port),
        "MPP_GATEWAY_METRICS_PORT": str(free_port()),
        "MPP_GATEWAY_PUBLIC_URL": gateway,
        "MPP_GATEWAY_IDENTITY_URL": identity,
        "MPP_GATEWAY_JWKS_URL": f"{identity}/oauth2/jwks",
        "MPP_GATEWAY_NATS_URL": nats.url,
        # One client address makes all the load: the per-client limit would measure 429s.
        "MPP_GATEWAY_RATE_LIMIT_ENABLED": "false",
    }
    for other in ("CATALOG", "APPLICATION", "TRACKING"):
        env[f"MPP_GATEWAY_{other}_URL"] = f"http://127.0.0.1:{free_port()}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        print("starting PostgreSQL and NATS …", flush=True)
        postgres.start()
        nats.start()
        postgres.create_database("mpp_identity")
        env["MPP_IDENTITY_DATABASE_URL"] = postgres.url("mpp_identity")
        print("starting identity-service and the gateway …", flush=True)
        command = identity_command or [sys.executable, "-m", "identity"]
        processes.append(spawn(command, env=env, cwd=ROOT, log_file=workdir / "identity.log"))
        wait_http(f"{identity}/readyz")
        processes.append(
            spawn(
                [sys.executable, "-m", "gateway"],
                env=env,
                cwd=ROOT,
                log_file=workdir / "gateway.log",
            )
        )
        wait_http(f"{gateway}/healthz")
        token = login(gateway)["access_token"]
        stack = IdentityStack(postgres, identity, gateway, processes[0], processes[1], token)
        wait_http(f"{gateway}{ME}", headers=stack.bearer)
        yield stack
    finally:
        for process in reversed(processes):
            # SIGTERM: uvicorn shuts down cleanly (and a cProfile wrapper writes its file).
            stop_process(process)
        nats.stop()
        postgres.stop()
