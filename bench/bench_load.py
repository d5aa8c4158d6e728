"""Whole system under load: a realistic mix at rising offered load, with one replica and with two.

Starts the whole system as ``make run`` does (PostgreSQL and NATS from the wheels, every service
and the gateway, demo data; ``--replicas 2``: two of each behind the TCP balancer), prepares its
users through the public API (citizens registered and logged in, an officer of Disdukcapil
Penajam Paser Utara created by the platform admin, both enrolled in TOTP, applications submitted
for the public tracking page), then sends the mix below at a rising arrival rate: each step
offers ``rate`` requests/s for ``--step-seconds`` seconds, the arrivals a Poisson process (open
loop: a request starts when its time comes, whatever the ones before it are doing), and the
latency of a request counts from its scheduled start. The steps go on until p99 passes
``--p99-bound-ms`` or more than 1% of the requests fail; the *knee* is the highest step whose
p99 stays within the bound with no failed request.

The mix (shares of the requests):

- 50% catalogue reads: a search in Indonesian (with or without a regency), a regency's list,
  one service;
- 20% public tracking pages (``GET /api/v1/tracking/{number}?code=``) of the prepared
  applications;
- 15% citizen reads: ``/me``, the own applications, notifications, an own timeline;
- 10% application writes: the steps of a submission (create with prefill consent, PATCH,
  upload of a PDF, submit), each a request; a citizen's next write continues a draft left
  at its previous step, so submissions complete all along;
- 5% agency actions: the officer's queue, ``start_review`` of a submitted application and
  ``advance_stage`` of one in review.

Per step: throughput, p50/p99 overall, per route class and per route, failures; CPU seconds
and resident memory (/proc) of every process (each gateway and service replica, the balancer,
PostgreSQL with its backends, NATS, this client), the load average. Prints the figures and
writes the "## Whole system under load" section of docs/benchmarks.md and the plot
docs/bench-load.png (latency against offered load, one line per replica count).

    uv run python bench/bench_load.py [--replicas 1 2] [--quick] [--step-seconds 20]
        [--rates 10,20,40,…,1280] [--p99-bound-ms 1000] [--no-write]

The client is one asyncio process with aiohttp (leaner per request than httpx); its own CPU
time is reported with the rest, since it shares the machine with the stack.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_application import (
    DOCUMENT_BYTES,
    KTP_EL,
    KTP_EL_DOCUMENT,
    STACK_ENV,
    Citizen,
    pdf,
    percentile,
    register_and_login,
    residents_dataset,
)
from harness import (
    DOCS,
    ROOT,
    busy_seconds,
    children,
    cpu_seconds,
    has_proc,
    tree_cpu_seconds,
    write_section,
)

SECTION = "## Whole system under load"
PLOT = ROOT / "docs" / "bench-load.png"
# catalog-service/DEMO_IDS.md: Disdukcapil Penajam Paser Utara, whose KTP-el the citizens apply for.
AGENCY = "b26d3102-d5ad-557c-84a2-c28f39d6a47a"
OFFICER_PASSWORD = "Kantor#Beban2026"  # noqa: S105 - an account of a throw-away stack
DEMO_REGENCIES = ("64.09", "11.74", "64.72", "35.74", "12.09")
SEARCHES = (
    "ktp",
    "akta kelahiran",
    "kartu keluarga",
    "pasport",
    "izin usaha",
    "surat pindah",
    "kartu identitas anak",
    "nib",
)
# Route classes and their shares of the requests.
MIX = {"catalogue": 0.50, "tracking": 0.20, "citizen": 0.15, "write": 0.10, "agency": 0.05}
CLASSES = tuple(MIX)
DEFAULT_RATES = (10, 20, 40, 80, 160, 320, 640, 1280)
QUICK_RATES = (10, 20, 40, 80)
REQUEST_TIMEOUT = 10.0
MAX_IN_FLIGHT = 2000
MAX_ERROR_RATE = 0.01
PROGRAMS = ("gateway", "identity", "catalog", "application", "tracking")
MIB_TARGET = 150e6 / 2**20  # the target is 150 MB: 143 MiB


# ---- measuring a step (pure: tested on synthetic data) ---------------------------------------


@dataclass
class StepResult:
    """What one step of offered load gave."""

    offered: float  # requests/s scheduled
    seconds: float  # the step's length (arrivals), without the drain after it
    sent: int = 0
    # Milliseconds from the scheduled start to the answer, of every answered request, by route.
    latencies: dict[str, list[float]] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)  # route -> class
    failures: dict[str, int] = field(default_factory=dict)  # "route status" -> count
    lag_ms: list[float] = field(default_factory=list)  # actual start - scheduled start
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds in the step, by process
    rss: dict[str, float] = field(default_factory=dict)  # MiB at the end of the step
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)  # at the end of the step
    elapsed: float = 0.0  # arrivals and drain
    answered_ok: int = 0  # answers with the expected status

    def record(
        self, route: str, klass: str, latency_ms: float | None, ok: bool, status: str
    ) -> None:
        """One request's outcome; ``latency_ms`` None for one the client could not send."""
        self.classes[route] = klass
        values = self.latencies.setdefault(route, [])
        if latency_ms is not None:
            values.append(latency_ms)
        if ok:
            self.answered_ok += 1
        else:
            key = f"{route} {status}"
            self.failures[key] = self.failures.get(key, 0) + 1

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def throughput(self) -> float:
        """Requests answered as expected per second of the step."""
        return self.answered_ok / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.failed / self.sent if self.sent else 0.0

    def all_latencies(self) -> list[float]:
        return [v for values in self.latencies.values() for v in values]

    def class_latencies(self, klass: str) -> list[float]:
        return [
            v for r, values in self.latencies.items() if self.classes[r] == klass for v in values
        ]

    def p(self, q: float, klass: str | None = None) -> float:
        return percentile(self.all_latencies() if klass is None else self.class_latencies(klass), q)

    def within(self, bound_ms: float) -> bool:
        """No failed request and p99 within the bound."""
        return self.failed == 0 and self.sent > 0 and self.p(99) <= bound_ms

    def broken(self, bound_ms: float) -> bool:
        """Past the knee by far enough to stop: p99 above the bound, or more than 1% failed."""
        return self.p(99) > bound_ms or self.error_rate > MAX_ERROR_RATE


def knee(steps: Sequence[StepResult], bound_ms: float) -> StepResult | None:
    """The highest step, of those in a row from the first, whose p99 is within the bound with
    no failed request; None when the first step already broke it."""
    found = None
    for step in steps:
        if not step.within(bound_ms):
            break
        found = step
    return found


def errors_below_knee(steps: Sequence[StepResult], bound_ms: float) -> int:
    """Failed requests in the steps up to the knee (0 by the knee's definition, unless none)."""
    best = knee(steps, bound_ms)
    if best is None:
        return sum(s.failed for s in steps[:1])
    return sum(s.failed for s in steps if s.offered <= best.offered)


@dataclass
class Run:
    replicas: int
    steps: list[StepResult]
    rest_rss: dict[str, float]  # MiB, after start, before the users are prepared
    process_of: dict[str, str]  # process -> program (gateway-2 -> gateway, …)
    load_start: tuple[float, float, float]
    setup_seconds: float
    start_seconds: float
    step_seconds: float
    bound_ms: float
    mix_counts: dict[str, int] = field(default_factory=dict)


# ---- the report ------------------------------------------------------------------------------


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _load(load: tuple[float, float, float]) -> str:
    return f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"


def _cores(step: StepResult, names: Sequence[str]) -> float:
    span = step.elapsed or step.seconds
    return sum(step.cpu.get(n, 0.0) for n in names) / span if span else 0.0


def run_table(run: Run) -> list[str]:
    stack = [n for n in run.steps[0].cpu if n not in ("client", "machine")] if run.steps else []
    lines = [
        "| offered req/s | answered req/s | p50 | p99 | "
        + " | ".join(f"p99 {c}" for c in CLASSES)
        + " | failed | CPU cores: stack / client / machine | load avg (1 / 5 / 15 min) |",
        "|" + "---:|" * (6 + len(CLASSES)) + "---|",
    ]
    for s in run.steps:
        lines.append(
            f"| {s.offered:g} | {s.throughput:,.1f} | {_ms(s.p(50))} | {_ms(s.p(99))} | "
            + " | ".join(_ms(s.p(99, c)) for c in CLASSES)
            + f" | {s.failed} ({s.error_rate:.1%}) | {_cores(s, stack):.2f} / "
            f"{_cores(s, ['client']):.2f} / {_cores(s, ['machine']):.2f} | {_load(s.load)} |"
        )
    return lines


def route_table(step: StepResult) -> list[str]:
    lines = ["| class | route | requests | p50 | p99 | failed |", "|---|---|---:|---:|---:|---:|"]
    order = sorted(step.latencies, key=lambda r: (CLASSES.index(step.classes[r]), r))
    for route in order:
        values = step.latencies[route]
        failed = sum(n for k, n in step.failures.items() if k.rsplit(" ", 1)[0] == route)
        lines.append(
            f"| {step.classes[route]} | `{route}` | {len(values)} | "
            f"{_ms(percentile(values, 50))} | {_ms(percentile(values, 99))} | {failed} |"
        )
    return lines


def process_table(run: Run, at: StepResult) -> list[str]:
    answered = max(at.answered_ok, 1)
    span = at.elapsed or at.seconds
    names = [n for n in at.cpu if n != "machine"]
    peak = {n: max((s.rss.get(n, 0.0) for s in run.steps), default=0.0) for n in names}
    lines = [
        f"| process | RSS at rest (MiB) | RSS max in the steps (MiB) | CPU ms per request at "
        f"{at.offered:g} req/s | cores at {at.offered:g} req/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in names:
        rest = run.rest_rss.get(name)
        lines.append(
            f"| {name} | {'-' if rest is None else f'{rest:.0f}'} | {peak[name]:.0f} | "
            f"{at.cpu[name] / answered * 1000:.2f} | {at.cpu[name] / span:.2f} |"
        )
    return lines


def rest_verdict(run: Run) -> tuple[bool, list[str]]:
    over = [
        f"{name} {mib:.0f}"
        for name, mib in run.rest_rss.items()
        if run.process_of.get(name) in PROGRAMS and mib >= MIB_TARGET
    ]
    return not over, over


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def report(runs: Sequence[Run], *, command: str, when: datetime, total_seconds: float) -> str:
    cores = os.cpu_count() or 1
    lines = [
        SECTION,
        "",
        f"`{command}` ({total_seconds / 60:.0f} min for the run below, "
        f"{', '.join(f'{r.replicas} replica' + ('s' if r.replicas > 1 else '') for r in runs)}; "
        "`--quick` for a short one), written by the script on "
        f"{when:%Y-%m-%d %H:%M} UTC. The whole stack as `make run` starts it (demo data, "
        "PostgreSQL and NATS from the wheels; with 2 replicas every service and the gateway "
        "twice, behind the TCP balancer) and the client, on one machine of "
        f"{cores} cores shared with other work: the load average is given with every step. "
        "Re-run on a quiet machine for figures of the system alone.",
        "",
        "Open loop: each step offers its rate for "
        f"{runs[0].step_seconds:g} s as a Poisson process of arrivals, and a request's latency "
        "counts from its scheduled start (a request waiting for a connection or the client "
        "waits in it too). The mix: "
        + ", ".join(f"{share:.0%} {c}" for c, share in MIX.items())
        + " (catalogue: searches, regency lists, single services; tracking: the public page of "
        "prepared applications; citizen: `/me`, own applications, notifications, own timeline; "
        "write: the steps of a submission with a 200 KB PDF, each one request; agency: the "
        "officer's queue, `start_review`, `advance_stage`). The steps stop once p99 passes "
        f"{runs[0].bound_ms:,.0f} ms or more than {MAX_ERROR_RATE:.0%} of the requests fail; "
        f"the **knee** is the highest step whose p99 stays within {runs[0].bound_ms:,.0f} ms "
        "with no failed request. The client is one asyncio process with aiohttp; CPU cores are "
        "CPU seconds over the step's seconds (*stack*: every process of the system, PostgreSQL "
        "with its backends; *machine*: all work on the machine, others' included).",
        "",
        f"![Latency against offered load]({PLOT.name})",
        "",
    ]
    for run in runs:
        best = knee(run.steps, run.bound_ms)
        label = f"{run.replicas} replica" + ("s" if run.replicas > 1 else "")
        lines += [
            f"### {label}",
            "",
            f"Started in {run.start_seconds:.0f} s, users prepared in {run.setup_seconds:.0f} s; "
            f"load average {_load(run.load_start)} when the steps began.",
            "",
            *run_table(run),
            "",
        ]
        if best is None:
            lines += [f"**No knee**: the first step ({run.steps[0].offered:g} req/s) broke it.", ""]
            at = run.steps[0]
        else:
            lines += [
                f"**Knee: {best.offered:g} requests/s offered**, {best.throughput:,.1f} answered "
                f"per second, p50 {_ms(best.p(50))}, p99 {_ms(best.p(99))} "
                f"(load average {best.load[0]:.1f}).",
                "",
            ]
            at = best
        stack = [n for n in at.cpu if n not in ("client", "machine")]
        lines += [
            f"At {at.offered:g} req/s the stack kept {_cores(at, stack):.2f} cores busy, the "
            f"client {_cores(at, ['client']):.2f}, and the whole machine "
            f"{_cores(at, ['machine']):.2f} of its {os.cpu_count() or 1}: "
            f"{sum(at.cpu[n] for n in stack) / max(at.answered_ok, 1) * 1000:.1f} ms of the "
            "stack's CPU per answered request."
            + (
                " The machine's cores were busy with other work for the most part: requests "
                "waited for a core, and that wait, more than the stack's own work, set where "
                "p99 broke."
                if _cores(at, ["machine"]) > 0.9 * (os.cpu_count() or 1)
                and _cores(at, stack) < 0.5 * _cores(at, ["machine"])
                else ""
            ),
            "",
            f"Per route at {at.offered:g} req/s:",
            "",
            *route_table(at),
            "",
        ]
        failures = {k: v for s in run.steps for k, v in s.failures.items()}
        if failures:
            lines += [
                "Failed requests over all steps: "
                + ", ".join(
                    f"`{k}`: {sum(s.failures.get(k, 0) for s in run.steps)}"
                    for k in sorted(failures)
                )
                + ".",
                "",
            ]
        lines += [
            "Each process: resident memory (VmRSS; PostgreSQL: the PSS of the postmaster and "
            "its backends together, so that shared buffers count once) after the start at rest, "
            "its largest at the end of a step, and CPU time per answered request at the knee:",
            "",
            *process_table(run, at),
            "",
        ]
    lines.append("Targets:")
    for run in runs:
        label = f"{run.replicas} replica" + ("s" if run.replicas > 1 else "")
        below = errors_below_knee(run.steps, run.bound_ms)
        ok, over = rest_verdict(run)
        lines += [
            f"- {label}, no failed request below the knee: "
            f"{verdict(knee(run.steps, run.bound_ms) is not None and below == 0)} ({below}).",
            f"- {label}, every process of the services and gateway under 150 MB "
            f"({MIB_TARGET:.0f} MiB) RSS at rest: {verdict(ok)}"
            + (f" ({', '.join(over)} MiB)." if over else "."),
        ]
    lines.append("")
    return "\n".join(lines)


def plot(runs: Sequence[Run], path: Path) -> None:
    """p50 and p99 against offered load, one colour per replica count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for run, colour in zip(runs, ("tab:blue", "tab:orange", "tab:green"), strict=False):
        label = f"{run.replicas} replica" + ("s" if run.replicas > 1 else "")
        rates = [s.offered for s in run.steps]
        axes.plot(rates, [s.p(99) for s in run.steps], "o-", color=colour, label=f"{label}, p99")
        axes.plot(rates, [s.p(50) for s in run.steps], "s--", color=colour, label=f"{label}, p50")
        best = knee(run.steps, run.bound_ms)
        if best is not None:
            axes.axvline(best.offered, color=colour, linestyle=":", linewidth=1)
    if runs:
        axes.axhline(runs[0].bound_ms, color="grey", linewidth=0.8, label="p99 bound")
    axes.set_xscale("log", base=2)
    rates = sorted({s.offered for run in runs for s in run.steps})
    axes.set_xticks(rates, [f"{rate:g}" for rate in rates])
    axes.minorticks_off()
    axes.set_yscale("log")
    axes.set_xlabel("offered load (requests/s)")
    axes.set_ylabel("latency (ms)")
    axes.set_title("MPP Digital, whole system: latency against offered load")
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)


# ---- processes: CPU and memory from /proc ----------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    fields = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name == "VmRSS":
                fields[name] = int(value.split()[0])
    except OSError:
        pass
    return fields


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Processes:
    """Every process of the stack by name, PostgreSQL (with its backends), NATS, this client."""

    pids: dict[str, int]
    postmaster: int

    @classmethod
    def of(cls, stack: Any) -> Processes:
        pids = {name: process.pid for name, process in stack.processes.items()}
        nats_nodes = getattr(stack.nats, "nodes", [stack.nats])
        for number, node in enumerate(nats_nodes, 1):
            name = "NATS" if len(nats_nodes) == 1 else f"NATS-{number}"
            pids[name] = int(node.pid_file.read_text().split()[0])
        return cls(pids=pids, postmaster=int(stack.postgres.pid_file.read_text().split()[0]))

    def cpu(self) -> dict[str, float]:
        sample = {name: cpu_seconds([pid]) for name, pid in self.pids.items()}
        sample["PostgreSQL"] = tree_cpu_seconds(self.postmaster)
        times = os.times()
        sample["client"] = times.user + times.system
        sample["machine"] = busy_seconds()
        return sample

    def rss(self) -> dict[str, float]:
        sample = {name: _status(pid).get("VmRSS", 0) / 1024 for name, pid in self.pids.items()}
        tree = [self.postmaster, *children(self.postmaster)]
        sample["PostgreSQL"] = sum(_pss_kib(pid) for pid in tree) / 1024
        sample["client"] = _status(os.getpid()).get("VmRSS", 0) / 1024
        return sample


def program_of(name: str) -> str:
    base = name.split("-")[0]
    return base if base in PROGRAMS else name


# ---- the users and the mix -------------------------------------------------------------------


@dataclass
class Draft:
    """A submission in progress: the next write of it is ``step`` (0 create … 3 submit)."""

    citizen: int
    step: int = 0
    id: str = ""
    form: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    """What the mix draws from: the users, the catalogue, the applications to track."""

    citizens: list[Citizen]
    tokens: list[str]
    officer: str
    service_ids: list[str]
    tracked: list[tuple[str, str]]  # (registration number, tracking code)
    owned: dict[int, list[str]]  # citizen -> application ids with a timeline
    document: bytes
    drafts: deque[Draft] = field(default_factory=deque)
    submitted: deque[str] = field(default_factory=deque)  # waiting for start_review
    in_review: deque[str] = field(default_factory=deque)  # waiting for advance_stage


Call = tuple[str, str, str, int, dict[str, Any]]  # route, method, path, expected, kwargs


class Client:
    """One aiohttp client; every request is timed from its scheduled start."""

    def __init__(self, base_url: str, world: World, rng: random.Random) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        self.world = world
        self.rng = rng
        self.http = aiohttp.ClientSession(
            base_url=base_url,
            connector=aiohttp.TCPConnector(limit=256, ttl_dns_cache=None),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )

    async def close(self) -> None:
        await self.http.close()

    def _bearer(self, token: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", **extra}

    async def send(
        self,
        step: StepResult,
        klass: str,
        scheduled: float,
        route: str,
        method: str,
        path: str,
        expected: int,
        **kwargs: Any,
    ) -> Any:
        """The answer's JSON when it had the expected status, else None (a failure recorded)."""
        step.lag_ms.append((time.perf_counter() - scheduled) * 1000)
        status = "?"
        body: Any = None
        ok = False
        try:
            async with self.http.request(method, path, **kwargs) as response:
                status = str(response.status)
                if response.status == expected:
                    ok = True
                    if response.content_type == "application/json":
                        body = await response.json()
                    else:
                        await response.read()
                else:
                    await response.read()
        except TimeoutError:
            status = "timeout"
        except self.aiohttp.ClientError as exc:
            status = "refused" if isinstance(exc, self.aiohttp.ClientConnectionError) else "error"
        step.record(route, klass, (time.perf_counter() - scheduled) * 1000, ok, status)
        return body if ok else None

    # -- the classes of the mix ------------------------------------------------------------

    async def catalogue(self, step: StepResult, scheduled: float) -> None:
        rng, draw = self.rng, self.rng.random()
        if draw < 0.5:
            params = {"q": rng.choice(SEARCHES), "limit": "20"}
            if rng.random() < 0.6:
                params["region_code"] = rng.choice(DEMO_REGENCIES)
            route = "GET /api/v1/services?q="
            await self.send(step, "catalogue", scheduled, route, "GET", "/api/v1/services", 200,
                            params=params)  # fmt: skip
        elif draw < 0.75:
            params = {"region_code": rng.choice(DEMO_REGENCIES), "limit": "20"}
            route = "GET /api/v1/services?region_code="
            await self.send(step, "catalogue", scheduled, route, "GET", "/api/v1/services", 200,
                            params=params)  # fmt: skip
        else:
            path = f"/api/v1/services/{rng.choice(self.world.service_ids)}"
            await self.send(
                step, "catalogue", scheduled, "GET /api/v1/services/{id}", "GET", path, 200
            )

    async def tracking(self, step: StepResult, scheduled: float) -> None:
        number, code = self.rng.choice(self.world.tracked)
        await self.send(
            step,
            "tracking",
            scheduled,
            "GET /api/v1/tracking/{number}?code=",
            "GET",
            f"/api/v1/tracking/{number}",
            200,
            params={"code": code},
        )

    async def citizen(self, step: StepResult, scheduled: float) -> None:
        world, rng = self.world, self.rng
        who = rng.randrange(len(world.citizens))
        headers = self._bearer(world.tokens[who])
        draw = rng.random()
        if draw < 0.3:
            route, path = "GET /api/v1/me", "/api/v1/me"
        elif draw < 0.55:
            route, path = "GET /api/v1/applications", "/api/v1/applications"
        elif draw < 0.8:
            route, path = "GET /api/v1/notifications", "/api/v1/notifications"
        else:
            who = rng.choice(list(world.owned))
            headers = self._bearer(world.tokens[who])
            application = rng.choice(world.owned[who])
            route = "GET /api/v1/applications/{id}/timeline"
            path = f"/api/v1/applications/{application}/timeline"
        await self.send(step, "citizen", scheduled, route, "GET", path, 200, headers=headers)

    async def write(self, step: StepResult, scheduled: float) -> None:
        world = self.world
        draft = world.drafts.popleft() if world.drafts else None
        if draft is None:
            draft = Draft(citizen=self.rng.randrange(len(world.citizens)))
        citizen, token = world.citizens[draft.citizen], world.tokens[draft.citizen]
        path = f"/api/v1/applications/{draft.id}"
        answer: Any
        if draft.step == 0:
            answer = await self.send(
                step, "write", scheduled, "POST /api/v1/applications", "POST",
                "/api/v1/applications", 201,
                json={"service_id": KTP_EL, "prefill_consent": True},
                headers=self._bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
            )  # fmt: skip
            if answer is not None:
                draft.id = str(answer["id"])
                draft.form = {
                    **answer["form_data"],
                    "reason": "baru",
                    "kk_number": citizen.kk_number,
                }
        elif draft.step == 1:
            answer = await self.send(
                step, "write", scheduled, "PATCH /api/v1/applications/{id}", "PATCH", path, 200,
                json={"form_data": draft.form}, headers=self._bearer(token),
            )  # fmt: skip
        elif draft.step == 2:
            form = self.aiohttp.FormData()
            form.add_field("requirement_code", KTP_EL_DOCUMENT)
            form.add_field(
                "file",
                world.document,
                filename="kartu-keluarga.pdf",
                content_type="application/pdf",
            )
            answer = await self.send(
                step, "write", scheduled, "POST /api/v1/applications/{id}/documents", "POST",
                f"{path}/documents", 201, data=form, headers=self._bearer(token),
            )  # fmt: skip
        else:
            answer = await self.send(
                step, "write", scheduled, "POST /api/v1/applications/{id}/submit", "POST",
                f"{path}/submit", 200,
                headers=self._bearer(token, **{"Idempotency-Key": str(uuid.uuid4())}),
            )  # fmt: skip
            if answer is not None:
                world.submitted.append(draft.id)
                return
        if answer is not None:
            draft.step += 1
            world.drafts.append(draft)
        # A failed step drops its draft: a retry could not tell a lost answer from a refusal.

    async def agency(self, step: StepResult, scheduled: float) -> None:
        world = self.world
        headers = self._bearer(world.officer)
        pending = world.submitted or world.in_review
        if not pending or self.rng.random() < 0.5:
            await self.send(
                step, "agency", scheduled, "GET /api/v1/agency/applications", "GET",
                "/api/v1/agency/applications", 200, params={"limit": "20"}, headers=headers,
            )  # fmt: skip
            return
        if world.submitted:
            application, body = world.submitted.popleft(), {"action": "start_review"}
            route = "POST /api/v1/agency/applications/{id}/actions start_review"
        else:
            application = world.in_review.popleft()
            body = {"action": "advance_stage", "stage": "proses"}
            route = "POST /api/v1/agency/applications/{id}/actions advance_stage"
        answer = await self.send(
            step, "agency", scheduled, route, "POST",
            f"/api/v1/agency/applications/{application}/actions", 200,
            json=body, headers=headers,
        )  # fmt: skip
        if answer is not None and body["action"] == "start_review":
            world.in_review.append(application)


def choose(rng: random.Random) -> str:
    draw, total = rng.random(), 0.0
    for klass, share in MIX.items():
        total += share
        if draw < total:
            return klass
    return CLASSES[-1]


async def offer(
    client: Client,
    rate: float,
    seconds: float,
    processes: Processes | None,
) -> StepResult:
    """``rate`` requests/s for ``seconds``, Poisson arrivals; waits for the last answers."""
    step = StepResult(offered=rate, seconds=seconds)
    handlers: dict[str, Callable[[StepResult, float], Awaitable[None]]] = {
        "catalogue": client.catalogue,
        "tracking": client.tracking,
        "citizen": client.citizen,
        "write": client.write,
        "agency": client.agency,
    }
    tasks: set[asyncio.Task[None]] = set()
    before = processes.cpu() if processes is not None else {}
    started = time.perf_counter()
    due = started
    end = started + seconds
    while True:
        due += client.rng.expovariate(rate)
        if due >= end:
            break
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        klass = choose(client.rng)
        step.sent += 1
        if len(tasks) >= MAX_IN_FLIGHT:
            step.record(f"({klass})", klass, None, False, "client-overload")
            continue
        task = asyncio.create_task(handlers[klass](step, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(set(tasks), timeout=REQUEST_TIMEOUT + 5)
    step.elapsed = time.perf_counter() - started
    if processes is not None:
        after = processes.cpu()
        step.cpu = {name: after[name] - before.get(name, 0.0) for name in after}
        step.rss = processes.rss()
    step.load = os.getloadavg()
    return step


# ---- preparing the users ---------------------------------------------------------------------


async def prepare(gateway: str, citizens: list[Citizen], tracked: int) -> World:
    from mpp_shared.devstack import DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD
    from mpp_shared.testing.platform import PublicApi

    api = PublicApi(gateway, patience=60.0)
    try:
        print(f"  registering and logging in {len(citizens)} citizens …", flush=True)
        tokens = await register_and_login(api, citizens)
        print("  the platform admin and an officer (TOTP) …", flush=True)
        admin = await api.staff_login(DEV_ADMIN_EMAIL, DEV_ADMIN_PASSWORD)
        email = f"petugas.beban.{uuid.uuid4().hex[:6]}@pemda.example.id"
        await api.expect(
            201,
            "POST",
            "/api/v1/staff",
            token=admin,
            json={
                "email": email,
                "full_name": "Petugas Beban",
                "password": OFFICER_PASSWORD,
                "role": "officer",
                "agency_id": AGENCY,
            },
        )
        officer = await api.staff_login(email, OFFICER_PASSWORD)
        services: list[str] = []
        for region in DEMO_REGENCIES:
            page = await api.expect(
                200, "GET", "/api/v1/services", params={"region_code": region, "limit": 50}
            )
            services += [str(item["id"]) for item in page["items"]]
        print(f"  {tracked} applications submitted for the tracking page …", flush=True)
        owned: dict[int, list[str]] = {}
        pairs = []
        for number in range(tracked):
            who = number % len(citizens)
            done = await api.submit_application(
                tokens[who],
                service_id=KTP_EL,
                form={"reason": "baru", "kk_number": citizens[who].kk_number},
                requirement=KTP_EL_DOCUMENT,
            )
            owned.setdefault(who, []).append(done.application_id)
            pairs.append((done.registration_number, done.tracking_code))
        # Tracking learns of a submission from its event, a moment after the answer. Its owner's
        # timeline is asked until then: the public page counts each 404 as a wrong code, and
        # locks the number after a few.
        deadline = time.monotonic() + 120
        for who, applications in owned.items():
            for application in applications:
                path = f"/api/v1/applications/{application}/timeline"
                while True:
                    answer = await api.call("GET", path, token=tokens[who])
                    if answer.status_code == 200 and answer.json()["items"]:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"tracking never showed {application}: {answer.text}")
                    await asyncio.sleep(0.3)
        for number, code in pairs:
            await api.expect(200, "GET", f"/api/v1/tracking/{number}", params={"code": code})
        return World(
            citizens=citizens,
            tokens=tokens,
            officer=officer,
            service_ids=services,
            tracked=pairs,
            owned=owned,
            document=pdf(DOCUMENT_BYTES),
        )
    finally:
        await api.close()


async def ramp(
    gateway: str, world: World, processes: Processes, args: argparse.Namespace
) -> list[StepResult]:
    client = Client(gateway, world, random.Random(2026))
    try:
        print(f"  warm-up: {args.rates[0]:g} req/s for {args.warm_up:g} s", flush=True)
        await offer(client, args.rates[0], args.warm_up, None)
        steps = []
        for rate in args.rates:
            step = await offer(client, rate, args.step_seconds, processes)
            steps.append(step)
            print(
                f"  {rate:>6g} req/s offered: {step.throughput:8.1f} answered/s, "
                f"p50 {_ms(step.p(50))}, p99 {_ms(step.p(99))}, failed {step.failed} "
                f"({step.error_rate:.1%}), client CPU "
                f"{step.cpu.get('client', 0.0) / step.elapsed:.2f} cores, "
                f"load average {step.load[0]:.1f}",
                flush=True,
            )
            if step.broken(args.p99_bound_ms):
                break
        return steps
    finally:
        await client.close()


def measure(replicas: int, args: argparse.Namespace) -> Run:
    from mpp_shared.testing.stack import free_stack_env, running_devstack

    with tempfile.TemporaryDirectory(prefix=f"bench-load-{replicas}-") as tmp:
        root = Path(tmp)
        dataset = root / "residents.csv"
        citizens = residents_dataset(dataset, args.citizens)
        stack_env = free_stack_env(
            {
                **os.environ,
                # Passwords hashed at the production cost: a lighter argon2id, which glibc then
                # keeps in the heap instead of handing the memory back, would show more memory
                # at rest than the deployment has (logins are not among the measured requests).
                **{k: v for k, v in STACK_ENV.items() if not k.startswith("MPP_IDENTITY_ARGON2")},
                "DUKCAPIL_MOCK_DATASET": str(dataset),
                "MPP_DEV_READY_TIMEOUT": "600",
            },
            replicas=replicas,
        )
        print(f"starting the stack with {replicas} replica(s) …", flush=True)
        started = time.monotonic()
        with running_devstack(root, stack_env) as stack:
            start_seconds = time.monotonic() - started
            processes = Processes.of(stack)
            time.sleep(5)  # the demo data's last writes and the first snapshot settle
            rest = processes.rss()
            rest.pop("client", None)
            prepared = time.monotonic()
            world = asyncio.run(prepare(stack.gateway_url, citizens, args.tracked))
            setup_seconds = time.monotonic() - prepared
            load_start = os.getloadavg()
            steps = asyncio.run(ramp(stack.gateway_url, world, processes, args))
            names = list(processes.pids)
    return Run(
        replicas=replicas,
        steps=steps,
        rest_rss=rest,
        process_of={name: program_of(name) for name in names},
        load_start=load_start,
        setup_seconds=setup_seconds,
        start_seconds=start_seconds,
        step_seconds=args.step_seconds,
        bound_ms=args.p99_bound_ms,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    parser.add_argument("--step-seconds", type=float, default=20)
    parser.add_argument("--warm-up", type=float, default=5, help="seconds before the first step")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(v) for v in text.split(",")],
        default=list(DEFAULT_RATES),
        help="requests/s of the steps, comma-separated",
    )
    parser.add_argument("--p99-bound-ms", type=float, default=1000)
    parser.add_argument("--citizens", type=int, default=24)
    parser.add_argument("--tracked", type=int, default=12, help="applications to track")
    parser.add_argument(
        "--quick", action="store_true", help=f"8 s steps of {QUICK_RATES} req/s, 3 s warm-up"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args(argv)
    if args.quick:
        args.step_seconds, args.warm_up = 8, 3
        if args.rates == list(DEFAULT_RATES):
            args.rates = list(QUICK_RATES)
    if not has_proc():
        print("bench_load reads CPU times and memory from /proc (Linux)", file=sys.stderr)
        return 1
    began = time.monotonic()
    runs = [measure(replicas, args) for replicas in args.replicas]
    command = "uv run python bench/bench_load.py" + (" --quick" if args.quick else "")
    if args.replicas != [1, 2]:
        command += " --replicas " + " ".join(str(r) for r in args.replicas)
    section = report(
        runs, command=command, when=datetime.now(UTC), total_seconds=time.monotonic() - began
    )
    print()
    print(section)
    if not args.no_write:
        write_section(SECTION, section)
        plot(runs, PLOT)
        print(f"written to {DOCS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
