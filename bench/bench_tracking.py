"""Tracking benchmark: a million timeline events, the consumers' ingest rate, and the read paths
through the gateway.

Starts its own PostgreSQL and NATS (from the wheels, on free ports), identity-service (demo
accounts), tracking-service and the gateway as subprocesses (one process each, as deployed):

1. *Bulk load* (not through the consumers): 1,000,000 timeline events of 100,000 applications
   of 500 agencies (10 services each), submitted over the last two years, written with COPY
   straight into tracking-service's own tables: the timeline, the current state, the report
   projection with the clock's steps, and the report and SKM aggregates, each computed with
   the service's own functions (``run_clock``, ``month_of``) from the same events.
2. *Ingest*: tens of thousands of events of new applications published to the JetStream
   stream as application-service's relay publishes them (a little out of order), then
   tracking-service started with its consumers: events per second from NATS to committed rows
   for each consumer (timeline and notifications, reports, webhooks), from the inbox rows'
   commit times, and CPU time per event.
3. *Reads* through the gateway with wrk, 32 connections: public tracking (number and code),
   an owner's timeline (the demo citizen owns some of the applications), the service-level
   report of one agency for a year and the satisfaction (SKM) report (the platform admin,
   with TOTP): p50, p99, requests/s, CPU time per request.
4. The report queries' plans on the loaded data (EXPLAIN): no sequential scan of the facts.

Prints the figures and writes the "## Tracking" section of docs/benchmarks.md.

    uv run python bench/bench_tracking.py [--applications 100000] [--ingest 20000]
        [--duration 10] [--rounds 2] [--no-write] [--reads-only]
    uv run python bench/bench_tracking.py --ingest-only [--applications 0] [--ingest 20000]

``--reads-only`` leaves the ingest out (tracking-service restarted with its consumers, which
stay idle) and replaces only the read part of the section, from "Reads through the gateway"
on, keeping the data, the ingest figures and the ingest's target line. With ``--keep DIR``
the database and what the reads need of the load stay in DIR: a later ``--reads-only --keep
DIR`` reuses them and skips the load.

``--ingest-only`` measures the ingest alone (no identity-service, gateway or reads; no bulk
load unless ``--applications`` is given) and rewrites only the ingest part of the section.

Needs wrk (Debian/Ubuntu: ``sudo apt-get install wrk``; macOS: ``brew install wrk``), except
for ``--ingest-only``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import nats
import pyotp
from harness import (
    DOCS,
    ROOT,
    WrkRun,
    cpu_seconds,
    has_proc,
    profiled,
    random_paths_script,
    run_wrk,
    tree_cpu_seconds,
    wait_http,
    write_section,
)

from mpp_shared.calendar import default_calendar
from mpp_shared.contracts.application import v1 as application
from mpp_shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from mpp_shared.embedded.process import spawn, stop_process
from mpp_shared.events import new_event
from mpp_shared.events.relay import CLOUDEVENTS_CONTENT_TYPE
from mpp_shared.events.stream import EVENTS_STREAM, ensure_event_streams
from tracking.db.reports import steps_to_json
from tracking.domain.reports import (
    ClockStep,
    LocalWorkingDays,
    clock_kind,
    month_of,
    run_clock,
)

SECTION = "## Tracking"
ZONE = ZoneInfo("Asia/Jakarta")  # tracking-service's default report time zone
AGENCIES = 500
SERVICES_PER_AGENCY = 10
EVENTS_PER_APPLICATION = 10
DAYS = 730
OWNED_BY_DEMO_CITIZEN = 50
CONNECTIONS = 32
WARM_UP_SECONDS = 2
TARGET_P99_MS = 50.0
TARGET_INGEST = 2000.0
CONSUMERS = ("tracking-applications", "tracking-reports", "tracking-webhooks")

CITIZEN = ("warga1@mpp.local", "Warga#Dev2026")  # the README's demo citizen
ADMIN = ("admin@mpp.local", "Admin#Bench2026")  # bootstrapped by this benchmark only
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
NAMESPACE = uuid.UUID("8b0c7a4e-6a3f-4e0b-9d55-2c1f3b7e9a10")

A = application
STAGES = [
    ("verifikasi", "Verifikasi Berkas"),
    ("validasi", "Validasi Data"),
    ("survei", "Survei Lapangan"),
    ("penilaian", "Penilaian Teknis"),
    ("persetujuan", "Persetujuan Kepala Dinas"),
    ("pencetakan", "Pencetakan Dokumen"),
    ("penandatanganan", "Penandatanganan"),
    ("arsip", "Pengarsipan"),
]


# ---- the synthetic applications ---------------------------------------------------------------


@dataclass(frozen=True)
class Agency:
    index: int
    agency_id: uuid.UUID
    region_code: str
    name: str
    services: list[tuple[uuid.UUID, str, int]]  # id, name, SLA working days


def agencies() -> list[Agency]:
    found = []
    for index in range(AGENCIES):
        region = f"{11 + index // 50}.{index % 50 + 1:02d}"
        services = [
            (
                uuid.uuid5(NAMESPACE, f"service-{index}-{s}"),
                f"Layanan {s + 1} Dinas {index + 1}",
                3 + (index + s) % 12,
            )
            for s in range(SERVICES_PER_AGENCY)
        ]
        found.append(
            Agency(
                index,
                uuid.uuid5(NAMESPACE, f"agency-{index}"),
                region,
                f"Dinas Pelayanan {index + 1}",
                services,
            )
        )
    return found


@dataclass
class Event:
    event_id: uuid.UUID
    type: str
    sequence: int
    old_status: str | None
    status: str
    stage: str | None
    stage_name: str | None
    note: str | None
    occurred_at: datetime
    due_at: datetime


@dataclass
class Application:
    application_id: uuid.UUID
    agency: Agency
    service: tuple[uuid.UUID, str, int]
    owner: uuid.UUID
    registration_number: str
    tracking_code: str
    submitted_at: datetime
    events: list[Event] = field(default_factory=list)

    @property
    def code_hash(self) -> str:
        return A.tracking_code_hash(self.registration_number, self.tracking_code)


class Generator:
    """Applications of the agencies, each with its 10 events, as application-service makes them
    (statuses, stages, revision pauses moving the due time, decisions, completions)."""

    def __init__(self, seed: int, now: datetime, owners: list[uuid.UUID]) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.calendar = default_calendar()
        self.agencies = agencies()
        # A few big agencies and many small ones (the biggest gets about 4% of everything).
        self.weights = [1 / (rank + 1) ** 0.7 for rank in range(AGENCIES)]
        self.serials: Counter[tuple[str, int]] = Counter()
        self.owners = owners

    def applications(self, count: int, *, recent_days: float = DAYS) -> Iterator[Application]:
        rng = self.rng
        for _ in range(count):
            agency = rng.choices(self.agencies, self.weights)[0]
            service = agency.services[rng.randrange(SERVICES_PER_AGENCY)]
            day = self.now - timedelta(days=rng.uniform(0, recent_days))
            submitted = day.replace(hour=rng.randrange(1, 9), minute=rng.randrange(60))
            submitted = min(submitted, self.now - timedelta(hours=1))
            year = submitted.astimezone(ZONE).year
            self.serials[(agency.region_code, year)] += 1
            number = f"{agency.region_code}-{year}-{self.serials[(agency.region_code, year)]:06d}"
            owner = self.owners.pop() if self.owners else uuid.UUID(int=rng.getrandbits(128))
            app = Application(
                application_id=uuid.UUID(int=rng.getrandbits(128), version=4),
                agency=agency,
                service=service,
                owner=owner,
                registration_number=number,
                tracking_code="".join(rng.choice(CROCKFORD) for _ in range(12)),
                submitted_at=submitted,
            )
            self._events(app)
            yield app

    def _events(self, app: Application) -> None:
        rng, calendar = self.rng, self.calendar
        due = calendar.due_at(app.submitted_at, app.service[2], ZONE)
        age_days = (self.now - app.submitted_at).total_seconds() / 86400
        draw = rng.random()
        if age_days < 21 or draw < 0.02:
            plan = "open"
        elif draw < 0.62:
            plan = "straight"
        elif draw < 0.87:
            plan = "revision"
        else:
            plan = "rejected"
        # A slow service now and then: its steps days apart, past the SLA.
        pace = rng.choice([3, 6, 10, 16, 30])
        at, status = app.submitted_at, "draft"
        stages = iter(STAGES)
        revision_at: datetime | None = None

        def add(type_: str, new: str, *, stage: bool = False, note: str | None = None) -> None:
            nonlocal status, at
            stage_code = stage_name = None
            if stage:
                stage_code, stage_name = next(stages, STAGES[-1])
            app.events.append(
                Event(
                    uuid.UUID(int=rng.getrandbits(128), version=4),
                    type_,
                    len(app.events) + 1,
                    status,
                    new,
                    stage_code,
                    stage_name,
                    note,
                    at,
                    due,
                )
            )
            status = new
            at = min(at + timedelta(hours=rng.uniform(0.5, pace)), self.now)

        add(A.APPLICATION_SUBMITTED, "submitted")
        add(A.APPLICATION_STATUS_CHANGED, "in_review", stage=True)
        if plan == "straight":
            for _ in range(6):
                add(A.APPLICATION_STATUS_CHANGED, "in_review", stage=True)
        elif plan in ("revision", "open"):
            add(A.APPLICATION_STATUS_CHANGED, "in_review", stage=True)
            revision_at = at
            add(A.APPLICATION_REVISION_REQUESTED, "revision_requested", note="Lengkapi berkas.")
            at += timedelta(days=rng.uniform(0.5, 6))
            at = min(at, self.now)
            due = calendar.extend_due_at(due, revision_at, at, ZONE)
            add(A.APPLICATION_SUBMITTED, "submitted")
            for _ in range(3 if plan == "revision" else 5):
                add(A.APPLICATION_STATUS_CHANGED, "in_review", stage=True)
        else:
            for _ in range(7):
                add(A.APPLICATION_STATUS_CHANGED, "in_review", stage=True)
        if plan in ("straight", "revision"):
            add(A.APPLICATION_STATUS_CHANGED, "approved")
            add(A.APPLICATION_COMPLETED, "completed")
        elif plan == "rejected":
            add(A.APPLICATION_STATUS_CHANGED, "rejected", note="Persyaratan tidak terpenuhi.")
        assert len(app.events) == EVENTS_PER_APPLICATION, (plan, len(app.events))

    def cloud_event(self, app: Application, event: Event) -> Any:
        data = A.ApplicationEvent(
            application_id=app.application_id,
            sequence=event.sequence,
            service_id=app.service[0],
            service_version=1,
            service_name=app.service[1],
            agency_id=app.agency.agency_id,
            owner_account_id=app.owner,
            registration_number=app.registration_number,
            tracking_code_hash=app.code_hash,
            channel="online",
            old_status=event.old_status,  # type: ignore[arg-type]
            status=event.status,  # type: ignore[arg-type]
            stage=event.stage,
            stage_name=event.stage_name,
            actor_kind="staff" if event.sequence > 1 else "citizen",
            note=event.note,
            submitted_at=app.submitted_at,
            due_at=event.due_at,
            occurred_at=event.occurred_at,
        )
        return new_event(
            type=event.type, source=A.SOURCE, subject=str(app.application_id), data=data
        )


# ---- the bulk load (COPY into tracking-service's tables) --------------------------------------


@dataclass
class Aggregates:
    status: Counter[tuple[uuid.UUID, date, uuid.UUID, str]] = field(default_factory=Counter)
    durations: Counter[tuple[uuid.UUID, date, uuid.UUID, int]] = field(default_factory=Counter)
    finished: Counter[tuple[uuid.UUID, date, uuid.UUID]] = field(default_factory=Counter)
    within: Counter[tuple[uuid.UUID, date, uuid.UUID]] = field(default_factory=Counter)
    surveys: dict[tuple[uuid.UUID, date, uuid.UUID], list[int]] = field(default_factory=dict)


@dataclass
class Loaded:
    applications: int = 0
    events: int = 0
    seconds: float = 0.0
    public: list[tuple[str, str]] = field(default_factory=list)  # number, code
    owned: list[uuid.UUID] = field(default_factory=list)
    agency_sizes: Counter[uuid.UUID] = field(default_factory=Counter)
    generator: Generator | None = None  # goes on with new applications (numbers stay unique)


def write_loaded(path: Path, loaded: Loaded) -> None:
    """What the reads need of a load, for a rerun with ``--keep`` on the same directory."""
    path.write_text(
        json.dumps(
            {
                "applications": loaded.applications,
                "events": loaded.events,
                "seconds": loaded.seconds,
                "public": loaded.public,
                "owned": [str(a) for a in loaded.owned],
                "agency_sizes": {str(a): n for a, n in loaded.agency_sizes.items()},
            }
        )
    )


def read_loaded(path: Path) -> Loaded:
    data = json.loads(path.read_text())
    return Loaded(
        applications=data["applications"],
        events=data["events"],
        seconds=data["seconds"],
        public=[(n, c) for n, c in data["public"]],
        owned=[uuid.UUID(a) for a in data["owned"]],
        agency_sizes=Counter({uuid.UUID(a): n for a, n in data["agency_sizes"].items()}),
    )


TIMELINE_COLUMNS = [
    "event_id",
    "application_id",
    "sequence",
    "event_type",
    "old_status",
    "status",
    "stage",
    "stage_name",
    "note",
    "internal_note",
    "occurred_at",
]
TRACKED_COLUMNS = [
    "application_id",
    "registration_number",
    "tracking_code_hash",
    "service_id",
    "service_version",
    "service_name",
    "agency_id",
    "owner_account_id",
    "status",
    "stage",
    "stage_name",
    "sequence",
    "submitted_at",
    "due_at",
    "overdue",
    "updated_at",
]
FACT_COLUMNS = [
    "application_id",
    "agency_id",
    "service_id",
    "owner_account_id",
    "registration_number",
    "status",
    "last_sequence",
    "counted_month",
    "submitted_at",
    "due_at",
    "revision_since",
    "paused_days",
    "finished_at",
    "working_days",
    "within_sla",
    "overdue",
    "clock_steps",
]
ELEMENTS = [f"u{n}" for n in range(1, 10)]


def rows_of(
    app: Application, clock: LocalWorkingDays, now: datetime, totals: Aggregates
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...], tuple[Any, ...], tuple[Any, ...] | None]:
    """The rows the consumers would have written for ``app`` after all its events."""
    last = app.events[-1]
    agency, service = app.agency.agency_id, app.service[0]
    timeline = [
        (
            e.event_id,
            app.application_id,
            e.sequence,
            e.type,
            e.old_status,
            e.status,
            e.stage,
            e.stage_name,
            e.note,
            None,
            e.occurred_at,
        )
        for e in app.events
    ]
    open_ = last.status in ("submitted", "in_review", "revision_requested")
    overdue = open_ and last.due_at < now
    current_stage = next((e for e in reversed(app.events) if e.stage), None)
    tracked = (
        app.application_id,
        app.registration_number,
        app.code_hash,
        service,
        1,
        app.service[1],
        agency,
        app.owner,
        last.status,
        current_stage.stage if current_stage else None,
        current_stage.stage_name if current_stage else None,
        last.sequence,
        app.submitted_at,
        last.due_at,
        overdue,
        last.occurred_at,
    )
    steps = []
    for e in app.events:
        kind = clock_kind(e.type.rsplit(".", 1)[1], e.status)
        if kind is not None:
            steps.append(ClockStep(e.sequence, kind, e.occurred_at, e.due_at))
    reading = run_clock(steps, clock, app.submitted_at)
    finish = reading.finish
    counted = month_of(app.submitted_at, ZONE)
    fact = (
        app.application_id,
        agency,
        service,
        app.owner,
        app.registration_number,
        last.status,
        last.sequence,
        counted,
        app.submitted_at,
        last.due_at,
        reading.revision_since,
        reading.paused_days,
        finish.at if finish else None,
        finish.working_days if finish else None,
        finish.within_sla if finish else None,
        overdue,
        json.dumps(steps_to_json(steps)),
    )
    totals.status[(agency, counted, service, last.status)] += 1
    if finish is not None:
        month = month_of(finish.at, ZONE)
        totals.durations[(agency, month, service, finish.working_days)] += 1
        totals.finished[(agency, month, service)] += 1
        totals.within[(agency, month, service)] += int(finish.within_sla)
    survey = None
    if last.status == "completed" and (app.application_id.int % 10) < 6:
        answered = min(last.occurred_at + timedelta(days=1), now)
        quality = app.agency.index % 4  # some agencies better liked than others
        answers = [
            min(4, max(1, 4 - (app.application_id.int >> (4 * n)) % (2 + quality)))
            for n in range(9)
        ]
        month = month_of(answered, ZONE)
        sums = totals.surveys.setdefault((agency, month, service), [0] * 10)
        sums[0] += 1
        for n, value in enumerate(answers):
            sums[n + 1] += value
        survey = (app.application_id, agency, service, month, *answers, None, answered)
    return timeline, tracked, fact, survey


async def bulk_load(dsn: str, count: int, owners: list[uuid.UUID], now: datetime) -> Loaded:
    generator = Generator(2026, now, owners)
    loaded = Loaded(generator=generator)
    clock = LocalWorkingDays(generator.calendar, ZONE)
    totals = Aggregates()
    connection = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        await connection.copy_records_to_table(
            "known_agencies",
            records=[(a.agency_id, a.name, "Asia/Jakarta", 1) for a in generator.agencies],
            columns=["agency_id", "name", "timezone", "revision"],
        )
        await connection.copy_records_to_table(
            "report_services",
            records=[(s[0], a.agency_id, s[1]) for a in generator.agencies for s in a.services],
            columns=["service_id", "agency_id", "name"],
        )
        chunk = 5000
        demo_owner = owners[0] if owners else None
        done = 0
        while done < count:
            timeline: list[tuple[Any, ...]] = []
            tracked, facts, surveys = [], [], []
            for app in generator.applications(min(chunk, count - done)):
                rows, current, fact, survey = rows_of(app, clock, now, totals)
                timeline += rows
                tracked.append(current)
                facts.append(fact)
                if survey is not None:
                    surveys.append(survey)
                loaded.agency_sizes[app.agency.agency_id] += 1
                if app.owner == demo_owner:
                    loaded.owned.append(app.application_id)
                if len(loaded.public) < 5000 and app.application_id.int % 20 == 0:
                    loaded.public.append((app.registration_number, app.tracking_code))
            await connection.copy_records_to_table(
                "timeline_entries", records=timeline, columns=TIMELINE_COLUMNS
            )
            await connection.copy_records_to_table(
                "tracked_applications", records=tracked, columns=TRACKED_COLUMNS
            )
            await connection.copy_records_to_table(
                "report_applications", records=facts, columns=FACT_COLUMNS
            )
            await connection.copy_records_to_table(
                "survey_responses",
                records=surveys,
                columns=[
                    "application_id",
                    "agency_id",
                    "service_id",
                    "month",
                    *ELEMENTS,
                    "comment",
                    "created_at",
                ],
            )
            done += len(tracked)
            loaded.events += len(timeline)
            print(f"  {done:,} applications, {loaded.events:,} events", flush=True)
        await connection.copy_records_to_table(
            "report_status_counts",
            records=[(*k, v) for k, v in totals.status.items()],
            columns=["agency_id", "month", "service_id", "status", "applications"],
        )
        await connection.copy_records_to_table(
            "report_durations",
            records=[(*k, v) for k, v in totals.durations.items()],
            columns=["agency_id", "month", "service_id", "working_days", "applications"],
        )
        await connection.copy_records_to_table(
            "report_finished",
            records=[(*k, v, totals.within[k]) for k, v in totals.finished.items()],
            columns=["agency_id", "month", "service_id", "finished", "within_sla"],
        )
        await connection.copy_records_to_table(
            "survey_totals",
            records=[(*k, *v) for k, v in totals.surveys.items()],
            columns=["agency_id", "month", "service_id", "responses", *ELEMENTS],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    loaded.applications = done
    loaded.seconds = time.monotonic() - started
    return loaded


# ---- ingest through the consumers -------------------------------------------------------------


async def publish_events(nats_url: str, events: list[Any]) -> float:
    """Publish as the outbox relay does (Nats-Msg-Id, CloudEvents content type); seconds."""
    client = await nats.connect(nats_url)
    started = time.monotonic()
    try:
        js = client.jetstream()
        await ensure_event_streams(js, name=EVENTS_STREAM)
        window = 256
        for start in range(0, len(events), window):
            pending = []
            for event in events[start : start + window]:
                body = json.dumps(
                    event.to_json_dict(), separators=(",", ":"), ensure_ascii=False
                ).encode()
                pending.append(
                    js.publish(
                        event.nats_subject,
                        body,
                        stream=EVENTS_STREAM,
                        headers={"Nats-Msg-Id": event.id, "Content-Type": CLOUDEVENTS_CONTENT_TYPE},
                    )
                )
            await asyncio.gather(*pending)
    finally:
        await client.close()
    return time.monotonic() - started


def ingest_events(
    generator: Generator, count: int, rng: random.Random
) -> tuple[list[Any], list[Application]]:
    """``count`` events of new applications of the last weeks, their steps interleaved as they
    happen (each application's events in order, with a few late ones: shuffled in windows)."""
    apps = list(generator.applications(count // EVENTS_PER_APPLICATION, recent_days=60))
    ordered = sorted(
        ((e.occurred_at, e.sequence, app, e) for app in apps for e in app.events),
        key=lambda x: (x[0], x[1]),
    )
    events = [generator.cloud_event(app, e) for _, _, app, e in ordered]
    for start in range(0, len(events), 50):
        window = events[start : start + 50]
        if rng.random() < 0.2:
            rng.shuffle(window)
            events[start : start + 50] = window
    return events, apps


@dataclass
class Ingest:
    events: int
    publish_seconds: float
    # Per consumer: events handled, events/s (from its inbox rows' transaction times).
    per_consumer: dict[str, tuple[int, float]]
    overall_seconds: float  # from the first transaction to the last event handled by all
    cpu_ms_per_event: tuple[float, float] | None  # tracking, PostgreSQL (all consumers together)
    load: float  # load average (1 min) at the start
    load_after: float  # and when the last event was handled
    transactions: dict[str, int]  # per consumer: transactions (batches) it took
    loaded_rows: int  # timeline events already in the tables (bulk load) during the ingest

    @property
    def rate(self) -> float:
        return self.events / self.overall_seconds if self.overall_seconds else 0.0


async def inbox_progress(dsn: str) -> dict[str, tuple[int, datetime | None, datetime | None]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT consumer, count(*) AS n, min(handled_at) AS first, max(handled_at) AS last "
            "FROM event_inbox GROUP BY consumer"
        )
    finally:
        await connection.close()
    return {r["consumer"]: (int(r["n"]), r["first"], r["last"]) for r in rows}


@dataclass
class ConsumerRun:
    events: int
    rate: float  # events/s
    first: datetime  # its first transaction began
    transactions: int


async def consumer_runs(dsn: str) -> dict[str, ConsumerRun]:
    """Each consumer's rate from its inbox rows. ``handled_at`` is the time its transaction
    began, the same for every event of a batch: from the first batch's start to the last
    one's, the consumer handled every event but the last batch's."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT consumer, handled_at, count(*) AS n FROM event_inbox "
            "GROUP BY consumer, handled_at ORDER BY consumer, handled_at"
        )
    finally:
        await connection.close()
    batches: dict[str, list[tuple[datetime, int]]] = {}
    for r in rows:
        batches.setdefault(r["consumer"], []).append((r["handled_at"], int(r["n"])))
    runs = {}
    for consumer, found in batches.items():
        total = sum(n for _, n in found)
        seconds = (found[-1][0] - found[0][0]).total_seconds()
        rate = (total - found[-1][1]) / seconds if seconds > 0 else 0.0
        runs[consumer] = ConsumerRun(total, rate, found[0][0], len(found))
    return runs


def wait_for_ingest(dsn: str, count: int, timeout: float) -> datetime:
    """When every consumer had handled ``count`` events (polled every 0.1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        progress = asyncio.run(inbox_progress(dsn))
        if all(progress.get(c, (0, None, None))[0] >= count for c in CONSUMERS):
            return datetime.now(UTC)
        if time.monotonic() > deadline:
            raise SystemExit(f"the consumers did not handle {count} events in time: {progress}")
        time.sleep(0.1)


RECOUNTS = {
    "status counts": (
        "SELECT count(*) FROM (SELECT agency_id, service_id, counted_month AS month, status, "
        "count(*) AS n FROM report_applications GROUP BY 1, 2, 3, 4) r "
        "FULL JOIN (SELECT agency_id, service_id, month, status, applications AS n "
        "FROM report_status_counts WHERE applications <> 0) a "
        "USING (agency_id, service_id, month, status) WHERE r.n IS DISTINCT FROM a.n"
    ),
    "working-day histogram": (
        "SELECT count(*) FROM (SELECT agency_id, service_id, "
        "date_trunc('month', finished_at AT TIME ZONE $1)::date AS month, working_days, "
        "count(*) AS n FROM report_applications WHERE finished_at IS NOT NULL "
        "GROUP BY 1, 2, 3, 4) r "
        "FULL JOIN (SELECT agency_id, service_id, month, working_days, applications AS n "
        "FROM report_durations WHERE applications <> 0) a "
        "USING (agency_id, service_id, month, working_days) WHERE r.n IS DISTINCT FROM a.n"
    ),
    "decided and within SLA": (
        "SELECT count(*) FROM (SELECT agency_id, service_id, "
        "date_trunc('month', finished_at AT TIME ZONE $1)::date AS month, count(*) AS n, "
        "count(*) FILTER (WHERE within_sla) AS w FROM report_applications "
        "WHERE finished_at IS NOT NULL GROUP BY 1, 2, 3) r "
        "FULL JOIN (SELECT agency_id, service_id, month, finished AS n, within_sla AS w "
        "FROM report_finished WHERE finished <> 0) a USING (agency_id, service_id, month) "
        "WHERE (r.n, r.w) IS DISTINCT FROM (a.n, a.w)"
    ),
}


async def check_ingest(dsn: str, apps: list[Application]) -> dict[str, int]:
    """What differs after the ingest: the aggregates against a recount from the fact rows
    (groups), and each ingested application's timeline, current state and fact row against
    its events (applications)."""
    connection = await asyncpg.connect(dsn)
    try:
        differing = {
            name: int(await connection.fetchval(sql, *(["Asia/Jakarta"] if "$1" in sql else [])))
            for name, sql in RECOUNTS.items()
        }
        ids = [app.application_id for app in apps]
        rows = await connection.fetch(
            "SELECT t.application_id, t.status, t.sequence, r.status AS fact_status, "
            "r.last_sequence, (SELECT count(*) FROM timeline_entries e "
            "WHERE e.application_id = t.application_id) AS entries "
            "FROM tracked_applications t "
            "JOIN report_applications r USING (application_id) "
            "WHERE t.application_id = ANY($1::uuid[])",
            ids,
        )
    finally:
        await connection.close()
    found = {r["application_id"]: r for r in rows}
    wrong = 0
    for app in apps:
        last = app.events[-1]
        row = found.get(app.application_id)
        if row is None or (
            row["status"],
            row["sequence"],
            row["fact_status"],
            row["last_sequence"],
            row["entries"],
        ) != (last.status, last.sequence, last.status, last.sequence, len(app.events)):
            wrong += 1
    differing["applications (timeline, current state, fact row)"] = wrong
    return differing


# ---- the read paths ---------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    paths: list[str]
    headers: dict[str, str]
    runs: list[WrkRun] = field(default_factory=list)
    cpu_ms: list[tuple[float, float, float]] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)

    def median(self, value: Any) -> float:
        return float(statistics.median(value(run) for run in self.runs))


@dataclass
class Processes:
    postgres: EmbeddedPostgres
    tracking: subprocess.Popen[bytes] | None = None
    gateway: subprocess.Popen[bytes] | None = None
    identity: subprocess.Popen[bytes] | None = None

    def postmaster(self) -> int:
        return int(self.postgres.pid_file.read_text().split()[0])

    def cpu(self) -> tuple[float, float, float] | None:
        if not has_proc() or self.tracking is None or self.gateway is None:
            return None
        return (
            cpu_seconds([self.tracking.pid]),
            tree_cpu_seconds(self.postmaster()),
            cpu_seconds([self.gateway.pid]),
        )


def request_json(
    url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=data, headers=headers, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"{url}: {exc.code} {exc.read()[:300]!r}") from exc
    return json.loads(raw) if raw else {}


def subject_of(token: str) -> uuid.UUID:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return uuid.UUID(claims["sub"])


def admin_token(base: str, kept: Path) -> str:
    """The bootstrap admin's first login may only enrol TOTP; enrol, then log in with a code.
    The secret is kept in ``kept``: a rerun on the same database logs in with it."""
    email, password = ADMIN
    if kept.exists():
        totp = pyotp.TOTP(kept.read_text().strip())
    else:
        first = request_json(f"{base}/api/v1/auth/login", {"username": email, "password": password})
        secret = request_json(f"{base}/api/v1/me/mfa/totp", {}, token=first["access_token"])[
            "secret"
        ]
        totp = pyotp.TOTP(secret)
        request_json(
            f"{base}/api/v1/me/mfa/totp/confirm",
            {"otp": totp.at(time.time() - 30)},
            token=first["access_token"],
        )
        kept.write_text(secret)
    second = request_json(
        f"{base}/api/v1/auth/login", {"username": email, "password": password, "otp": totp.now()}
    )
    return str(second["access_token"])


def measure(
    scenario: Scenario, base: str, workdir: Path, seconds: float, running: Processes
) -> None:
    script = workdir / (scenario.name.replace(" ", "_") + ".lua")
    script.write_text(random_paths_script(scenario.paths))
    print(f"  {scenario.name} …", flush=True)

    def wrk(duration: float) -> WrkRun:
        return run_wrk(
            base,
            connections=CONNECTIONS,
            seconds=duration,
            headers=scenario.headers,
            script=script,
            timeout=10,
        )

    wrk(WARM_UP_SECONDS)
    load = os.getloadavg()[0]
    before = running.cpu()
    run = wrk(seconds)
    after = running.cpu()
    scenario.runs.append(run)
    scenario.loads.append(load)
    if before is not None and after is not None and run.requests:
        scenario.cpu_ms.append(
            tuple(  # type: ignore[arg-type]
                (b - a) / run.requests * 1000 for a, b in zip(before, after, strict=True)
            )
        )
    cpu = scenario.cpu_ms[-1] if scenario.cpu_ms else None
    print(
        f"    {run.rps:,.0f} req/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, "
        f"failed {run.failed}, load {load:.1f}"
        + (
            " (CPU ms/request: tracking {:.2f}, PostgreSQL {:.2f}, gateway {:.2f})".format(*cpu)
            if cpu
            else ""
        ),
        flush=True,
    )


# ---- the plans ----------------------------------------------------------------------------------

PLANS = {
    "status counts (one agency, a year)": (
        "SELECT service_id, status, sum(applications) FROM report_status_counts "
        "WHERE month BETWEEN $2 AND $3 AND agency_id = $1 GROUP BY service_id, status"
    ),
    "durations histogram": (
        "SELECT service_id, working_days, sum(applications) FROM report_durations "
        "WHERE month BETWEEN $2 AND $3 AND agency_id = $1 GROUP BY service_id, working_days"
    ),
    "decided and within SLA": (
        "SELECT service_id, sum(finished), sum(within_sla) FROM report_finished "
        "WHERE month BETWEEN $2 AND $3 AND agency_id = $1 GROUP BY service_id"
    ),
    "overdue list": (
        "SELECT a.application_id, a.registration_number, s.name FROM report_applications a "
        "LEFT JOIN report_services s ON s.service_id = a.service_id "
        "WHERE a.status IN ('in_review', 'revision_requested', 'submitted') "
        "AND a.due_at IS NOT NULL AND (a.overdue OR a.due_at < now()) AND a.agency_id = $1 "
        "ORDER BY a.due_at, a.application_id LIMIT 100"
    ),
    "SKM sums": (
        "SELECT service_id, sum(responses), sum(u1), sum(u9) FROM survey_totals "
        "WHERE month BETWEEN $2 AND $3 AND agency_id = $1 GROUP BY service_id"
    ),
    "timeline of one application": (
        "SELECT * FROM timeline_entries WHERE application_id = "
        "(SELECT application_id FROM tracked_applications WHERE registration_number = $4) "
        "ORDER BY sequence"
    ),
}


async def explain(dsn: str, agency: uuid.UUID, first: date, last: date, number: str) -> list[str]:
    """Each query's scans (kind and table or index) and its execution time."""
    connection = await asyncpg.connect(dsn)
    found = []
    try:
        for name, sql in PLANS.items():
            args: list[Any] = [number] if "$4" in sql else [agency, first, last]
            if "$4" in sql:
                sql = sql.replace("$4", "$1")
            elif "$2" not in sql:
                args = [agency]
            plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *args)
            lines = [r[0] for r in plan]
            scans = sorted(
                {
                    line.split("->")[-1].split("(")[0].strip()
                    for line in lines
                    if "Scan" in line and " on " in line
                }
            )
            elapsed = next(
                (line.split(":", 1)[1].strip() for line in lines if "Execution Time" in line), "?"
            )
            found.append(f"{name}: {'; '.join(scans)} ({elapsed})")
    finally:
        await connection.close()
    return found


# ---- the report -------------------------------------------------------------------------------


def ingest_lines(ingest: Ingest) -> list[str]:
    """The ingest paragraphs of the section (``--ingest-only`` rewrites only these)."""
    tables = (
        f"with {ingest.loaded_rows:,} timeline events of the bulk load in the tables"
        if ingest.loaded_rows
        else "into empty tables"
    )
    lines = [
        f"**Ingest through the consumers**: {ingest.events:,} events of "
        f"{ingest.events // EVENTS_PER_APPLICATION:,} new applications published to the "
        f"JetStream stream first ({ingest.publish_seconds:.1f} s, as the outbox relay publishes, "
        "a fifth of the 50-event windows shuffled so that some events arrive late), then "
        "tracking-service started and its three consumers drained the stream at the same time, "
        f"{tables}. Each consumer takes what a fetch gives (up to 256 events) in one "
        "transaction: one multi-row insert of the inbox rows, the handler's multi-row "
        "statements, one commit, then the acks. Rates from the inbox rows' transaction times "
        f"(load average {ingest.load:.1f} at the start, {ingest.load_after:.1f} at the end):",
        "",
        "| consumer | events | transactions | events/s |",
        "|---|---:|---:|---:|",
    ]
    for consumer, (count, rate) in ingest.per_consumer.items():
        lines.append(
            f"| {consumer} | {count:,} | {ingest.transactions.get(consumer, 0):,} | {rate:,.0f} |"
        )
    lines += [
        f"| all three together (each event through each; {ingest.overall_seconds:.1f} s from "
        f"the first transaction to the last event handled) | {ingest.events:,} | "
        f"{sum(ingest.transactions.values()):,} | {ingest.rate:,.0f} |",
        "",
    ]
    if ingest.cpu_ms_per_event is not None:
        tracking_ms, postgres_ms = ingest.cpu_ms_per_event
        lines += [
            "CPU time per event (all three consumers together, start-up left out): "
            f"tracking-service {tracking_ms:.2f} ms, PostgreSQL {postgres_ms:.2f} ms: with both "
            f"cores for them, at most {2000 / (tracking_ms + postgres_ms):,.0f} events/s on this "
            "machine.",
            "",
        ]
    lines += [
        "How: the consumer of `mpp_shared.events.consumer` has a batch mode; in it the three "
        "consumers' handlers apply a batch with a fixed number of statements whatever its "
        "size (timeline: the entries, the current state once per application with the highest "
        "sequence winning, the notifications; reports: the fact rows read and locked in one "
        "query, the aggregate moves summed in Python and written with one upsert per table, "
        "the changed facts; webhooks: the batch's agencies' subscriptions, the deliveries). "
        "The inbox claim and the timeline's, notifications' and deliveries' inserts are "
        "statements built once at start-up, the rows sent as one array per column, so a "
        "batch builds no statement and SQLAlchemy keys none for its cache (about 0.6 ms each "
        "that a batch of one or two events paid in full). After the commit the live stream "
        "hears of the batch's events in one core NATS message, not one each. A batch that "
        "fails for anything but an outage is handled again one event at a time, so only a "
        "poison event is retried or dead-lettered.",
        "",
        ingest_target(ingest),
        "",
    ]
    return lines


def ingest_target(ingest: Ingest) -> str:
    verdict = "met" if ingest.rate >= TARGET_INGEST else "**not met**"
    return (
        f"- ingest at least {TARGET_INGEST:,.0f} events/s: {verdict} ({ingest.rate:,.0f} "
        "events/s with all three consumers, each event through each; per consumer above)."
    )


INGEST_BLOCK = re.compile(
    r"^\*\*Ingest through the consumers\*\*.*?(?=^The read figures|^\*\*Reads through)",
    re.MULTILINE | re.DOTALL,
)
INGEST_TARGET = re.compile(r"^- ingest at least .*$", re.MULTILINE)


def write_ingest_only(ingest: Ingest) -> None:
    """Put the new ingest paragraphs in place of the old ones in the Tracking section; the
    rest of the section (the data, the reads) stays as it is."""
    text = DOCS.read_text()
    start = text.index(SECTION + "\n")
    following = text.find("\n## ", start + len(SECTION))
    end = len(text) if following < 0 else following + 1
    part = text[start:end]
    block = "\n".join(ingest_lines(ingest)).rstrip("\n") + "\n\n"
    if not INGEST_BLOCK.search(part):
        raise SystemExit("no ingest paragraph found in the Tracking section")
    part = INGEST_BLOCK.sub(lambda _: block, part, count=1)
    # The target line of the block, and the same line among the section's targets.
    target = ingest_target(ingest)
    part = INGEST_TARGET.sub(lambda _: target, part)
    DOCS.write_text(text[:start] + part + text[end:])


def section(
    *,
    args: argparse.Namespace,
    loaded: Loaded,
    ingest: Ingest,
    scenarios: list[Scenario],
    plans: list[str],
    load_at_start: float,
    top_agency_size: int,
) -> str:
    lines = [
        SECTION,
        "",
        f"`bench/bench_tracking.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: one tracking-service "
        "process (its consumers in it, as deployed), one gateway, one identity-service, one "
        f"PostgreSQL, one NATS, wrk, all on one machine of {os.cpu_count()} cores shared with "
        f"other work (load average, 1 min: {load_at_start:.1f} at the start; each figure below "
        "says the load when it was measured).",
        "",
        f"**Data**: {loaded.events:,} timeline events of {loaded.applications:,} applications "
        f"({EVENTS_PER_APPLICATION} each) of {AGENCIES} agencies with {SERVICES_PER_AGENCY} "
        f"services each, submitted over the last {DAYS} days; the biggest agency has "
        f"{top_agency_size:,} applications. Loaded with COPY straight into tracking-service's "
        "tables (timeline, current state, report projection with the clock's steps, the report "
        "and SKM aggregates computed with the service's own `run_clock` and `month_of` from the "
        f"same events), not through the consumers: {loaded.seconds:.0f} s "
        f"({loaded.events / loaded.seconds:,.0f} events/s, indexes in place).",
        "",
        *ingest_lines(ingest),
    ]
    return "\n".join(
        lines
        + reads_part(
            args=args,
            loaded=loaded,
            scenarios=scenarios,
            plans=plans,
            ingest_target=ingest_target(ingest),
        )
    )


READS_START = "**Reads through the gateway**"


def reads_part(
    *,
    args: argparse.Namespace,
    loaded: Loaded,
    scenarios: list[Scenario],
    plans: list[str],
    ingest_target: str | None,
) -> list[str]:
    """The read figures, their targets (with the ingest's, when known) and the plans."""
    lines = [
        f"{READS_START}: wrk, one thread, {CONNECTIONS} connections, "
        f"{args.duration} s per scenario after a {WARM_UP_SECONDS} s warm-up, {args.rounds} "
        "rounds; medians of the rounds; each request drawn at random from the scenario's list.",
        "",
        "| scenario | requests/s | p50 | p99 | CPU ms per request: tracking / PostgreSQL / "
        "gateway | load average | failed |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    verdicts = []
    for s in scenarios:
        p99 = s.median(lambda r: r.p99_ms)
        cpu = (
            " / ".join(f"{statistics.median(c[i] for c in s.cpu_ms):.2f}" for i in range(3))
            if s.cpu_ms
            else "n/a"
        )
        p50 = s.median(lambda r: r.p50_ms)
        lines.append(
            f"| {s.name} | {s.median(lambda r: r.rps):,.0f} | {p50:.1f} ms "
            f"| {p99:.1f} ms | {cpu} | {', '.join(f'{x:.1f}' for x in s.loads)} "
            f"| {sum(r.failed for r in s.runs)} |"
        )
        verdict = "met" if p99 < TARGET_P99_MS else "**not met**"
        verdicts.append(f"- {s.name}: p99 under {TARGET_P99_MS:.0f} ms: {verdict} ({p99:.1f} ms).")
    lines += [
        "",
        "Targets:",
        *verdicts,
        *([ingest_target] if ingest_target else []),
        "",
        "Why these figures: with 32 closed-loop connections on 2 cores a request waits about "
        "16 times the CPU time it costs all processes together, so a p99 under 50 ms needs "
        "about 1 ms of CPU per request across tracking-service, PostgreSQL and the gateway, "
        "and the cores to themselves; on a shared machine p50 is about 32 / requests per "
        "second and p99 says as much about the other work as about the routes. CPU time per "
        "request is the steadier figure. What a request of tracking-service costs now is "
        "mostly what every request costs (uvicorn, the middleware, FastAPI's routing and "
        "dependencies, the check of the gateway's principal): a report answered from a kept "
        "answer, which reads nothing, costs tracking-service about as much as the public "
        "tracking or the timeline, which read the database.",
        "",
        "Since 2026-12-07: the caller's principal is one dependency that takes the request "
        "and is resolved once per request, where it was a chain of three (FastAPI solves "
        "every dependency's whole tree on every request, cached or not, about 8 µs each). "
        "Side by side with the build before (one round of 10 s each, two pairs, the second "
        "in the other order), tracking-service's CPU ms per request: owner timeline 0.55 → "
        "0.46 and 0.52 → 0.48, the kept service-level report 0.39 → 0.33 and 0.38 → 0.29, "
        "the satisfaction report 0.35 → 0.30 and 0.34 → 0.29; public tracking, which has no "
        "principal, 0.51 → 0.48 and 0.42 → 0.45 (noise).",
        "",
        "The scenarios:",
        "- *public tracking*: `GET /api/v1/tracking/{number}?code=…`, no token, among "
        f"{len(loaded.public):,} applications: one statement straight on asyncpg, its own "
        "transaction (the database function `public_tracking_lookup`: the number's advisory "
        "lock, the wrong codes in the window, the code's hash compared with the stored one, a "
        "miss counted, and the application by number with its agency's name and its 10 events "
        "as arrays); the body encoded without a validation pass.",
        f"- *owner timeline*: `GET /api/v1/applications/{{id}}/timeline` as the demo citizen, "
        f"among the {len(loaded.owned)} applications it owns: one statement straight on "
        "asyncpg (the application's owner and agency, and its history as arrays), the owner "
        "or the handling agency checked in Python, the body encoded without a validation pass.",
        "- *service-level report*: `GET /api/v1/reports/service-levels?agency_id=…&from=…&to=…` "
        "as the platform admin, the last twelve months of one of the 20 biggest agencies. The "
        "answer is kept up to 10 s (`report_cache_seconds`) per agency, service and months and "
        "says when its figures were read (`as_of`); this replica's report consumer and survey "
        "answers drop an agency's answers when they commit; a miss computes it once for all "
        "the requests waiting on it, and an answer asked for past half its 10 s is computed "
        "again in the background while the kept one is served, so a report asked for "
        "steadily is not computed while a request waits for it. Computing it: one statement "
        "sums the monthly aggregates (status counts, the working-day histogram, decided and "
        "within SLA) in PostgreSQL "
        "into one row per service with its name, the percentiles taken over the summed "
        "histogram buckets; a second reads the current overdue list (at most 100); both in "
        "autocommit.",
        "- *satisfaction report*: `GET /api/v1/reports/satisfaction` with the same parameters "
        "and the same keeping: the monthly SKM sums per service with the services' names, one "
        "statement.",
        "- *…, computed each time*: the two reports again, tracking-service restarted with "
        "`MPP_TRACKING_REPORT_CACHE_SECONDS=0`: every request computes its report.",
        "- Every request: the caller's rights checked before any answer is looked up or read.",
        "",
        "The plans on the loaded data (`EXPLAIN ANALYZE`, the biggest agency, twelve months): "
        "each report query reads the aggregates or the open applications through an index, none "
        "scans the applications or the events.",
        "",
        *(f"- {p}" for p in plans),
        "",
    ]
    return lines


def replace_reads(reads: list[str]) -> None:
    """``--reads-only``: the read part of the Tracking section in place of the old one; the
    rest of the section (data, ingest, their notes) and the ingest's target line stay."""
    text = DOCS.read_text() if DOCS.exists() else ""
    start = text.find(SECTION + "\n")
    if start < 0:
        raise SystemExit(f"--reads-only needs a {SECTION} section in {DOCS} (run it in full)")
    following = text.find("\n## ", start + len(SECTION))
    end = len(text) if following < 0 else following + 1
    old = text[start:end]
    at = old.find(READS_START)
    if at < 0:
        raise SystemExit(f"no read part ({READS_START}) in the {SECTION} section")
    kept = [line for line in old[at:].splitlines() if line.startswith("- ingest at least ")]
    if kept:
        position = reads.index("Targets:") + 1
        while position < len(reads) and reads[position].startswith("- "):
            position += 1
        reads = [*reads[:position], *kept, *reads[position:]]
    new = old[:at] + "\n".join(reads).rstrip("\n") + "\n\n"
    DOCS.write_text((text[:start] + new + text[end:]).rstrip("\n") + "\n")


def finish_ingest_only(args: argparse.Namespace, ingest: Ingest) -> int:
    print()
    print("\n".join(ingest_lines(ingest)))
    if not args.no_write:
        write_ingest_only(ingest)
        print(f"written to the Tracking section of {DOCS.relative_to(ROOT)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=100_000)
    parser.add_argument("--ingest", type=int, default=20_000, help="events through the consumers")
    parser.add_argument(
        "--ingest-only",
        action="store_true",
        help="measure the ingest alone (no reads; no bulk load unless --applications is given)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--keep", type=Path, help="work (data, logs) in this empty directory, kept")
    parser.add_argument(
        "--profile",
        type=Path,
        help="run tracking-service under cProfile (slower), its profiles written here, one per "
        "start in their order (tracking-1-api.prof, tracking-2-consumers.prof, …)",
    )
    parser.add_argument(
        "--reads-only",
        action="store_true",
        help="no ingest through the consumers; replace only the read part of the section",
    )
    args = parser.parse_args()
    if args.ingest_only and "--applications" not in sys.argv:
        args.applications = 0
    if not args.ingest_only and shutil.which("wrk") is None:
        print(
            "bench_tracking needs wrk, the HTTP load generator.\n"
            "  Debian/Ubuntu: sudo apt-get install wrk\n"
            "  macOS:         brew install wrk",
            file=sys.stderr,
        )
        return 1

    load_at_start = os.getloadavg()[0]
    now = datetime.now(UTC)
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            workdir = args.keep.resolve()
        else:
            workdir = Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-tracking-"))
            )
        postgres = EmbeddedPostgres(workdir / "postgres" / "data", port=free_port(), durable=False)
        nats_server = EmbeddedNats(workdir / "nats" / "store", port=free_port())
        running = Processes(postgres)
        identity_port, tracking_port, gateway_port = free_port(), free_port(), free_port()
        identity = f"http://127.0.0.1:{identity_port}"
        tracking = f"http://127.0.0.1:{tracking_port}"
        gateway = f"http://127.0.0.1:{gateway_port}"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MPP_IDENTITY_PORT": str(identity_port),
            "MPP_IDENTITY_NATS_URL": nats_server.url,
            "MPP_IDENTITY_PUBLIC_URL": gateway,
            "MPP_IDENTITY_SEED_DEMO_DATA": "true",
            "MPP_IDENTITY_DUKCAPIL_POPULATION_SIZE": "100",
            "MPP_IDENTITY_BOOTSTRAP_ADMIN_EMAIL": ADMIN[0],
            "MPP_IDENTITY_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
            "MPP_TRACKING_PORT": str(tracking_port),
            "MPP_TRACKING_NATS_URL": nats_server.url,
            "MPP_TRACKING_PUBLIC_URL": gateway,
            "MPP_TRACKING_JWKS_URL": f"{identity}/oauth2/jwks",
            "MPP_GATEWAY_PORT": str(gateway_port),
            "MPP_GATEWAY_PUBLIC_URL": gateway,
            "MPP_GATEWAY_IDENTITY_URL": identity,
            "MPP_GATEWAY_TRACKING_URL": tracking,
            "MPP_GATEWAY_JWKS_URL": f"{identity}/oauth2/jwks",
            "MPP_GATEWAY_NATS_URL": nats_server.url,
            # One client address makes all the load: the per-client limit would measure 429s.
            "MPP_GATEWAY_RATE_LIMIT_ENABLED": "false",
        }
        for other in ("CATALOG", "APPLICATION"):
            env[f"MPP_GATEWAY_{other}_URL"] = f"http://127.0.0.1:{free_port()}"

        def start_tracking(
            consumers: bool, extra: dict[str, str] | None = None
        ) -> subprocess.Popen[bytes]:
            role = "consumers" if consumers else "api"
            command = [sys.executable, "-m", "tracking"]
            if args.profile is not None:
                args.profile.mkdir(parents=True, exist_ok=True)
                starts = len(list(args.profile.glob("tracking-*.prof")))
                name = f"tracking-{starts + 1}-{role}.prof"
                command = profiled(command, args.profile.resolve() / name)
            process = spawn(
                command,
                env={
                    **env,
                    "MPP_TRACKING_RUN_CONSUMERS": "true" if consumers else "false",
                    **(extra or {}),
                },
                cwd=ROOT,
                log_file=workdir / f"tracking-{role}.log",
            )
            wait_http(f"{tracking}/readyz", timeout=180)
            return process

        try:
            print("starting PostgreSQL and NATS …", flush=True)
            postgres.start()
            nats_server.start()
            for database in ("mpp_identity", "mpp_tracking"):
                postgres.create_database(database)
            env["MPP_IDENTITY_DATABASE_URL"] = postgres.url("mpp_identity")
            env["MPP_TRACKING_DATABASE_URL"] = postgres.url("mpp_tracking")
            dsn = postgres.url("mpp_tracking", driver="postgresql")
            owners: list[uuid.UUID] = []
            if args.ingest_only:
                print("starting tracking-service (no consumers) …", flush=True)
                running.tracking = start_tracking(consumers=False)
            else:
                print("starting identity-service, tracking-service (no consumers), the gateway …")
                running.identity = spawn(
                    [sys.executable, "-m", "identity"],
                    env=env,
                    cwd=ROOT,
                    log_file=workdir / "identity.log",
                )
                wait_http(f"{identity}/readyz", timeout=180)
                running.tracking = start_tracking(consumers=False)
                running.gateway = spawn(
                    [sys.executable, "-m", "gateway"],
                    env=env,
                    cwd=ROOT,
                    log_file=workdir / "gateway.log",
                )
                wait_http(f"{gateway}/healthz")
                citizen = request_json(
                    f"{gateway}/api/v1/auth/login",
                    {"username": CITIZEN[0], "password": CITIZEN[1]},
                )["access_token"]
                owners = [subject_of(citizen)] * OWNED_BY_DEMO_CITIZEN

            kept = workdir / "loaded.json"
            if args.reads_only and kept.exists():
                loaded = read_loaded(kept)
                print(f"reusing the {loaded.applications:,} applications loaded before", flush=True)
            else:
                print(f"loading {args.applications:,} applications with COPY …", flush=True)
                loaded = asyncio.run(bulk_load(dsn, args.applications, owners, now))
                print(f"  {loaded.events:,} events in {loaded.seconds:.1f} s", flush=True)
                if args.keep is not None:
                    write_loaded(kept, loaded)

            ingest: Ingest | None = None
            if args.reads_only:
                print("restarting tracking-service with its consumers (no ingest) …", flush=True)
                stop_process(running.tracking)
                running.tracking = start_tracking(consumers=True)
            else:
                assert loaded.generator is not None
                events, ingested = ingest_events(loaded.generator, args.ingest, random.Random(11))
                print(f"publishing {len(events):,} events to JetStream …", flush=True)
                published = asyncio.run(publish_events(nats_server.url, events))
                print(f"  in {published:.1f} s", flush=True)

                print("restarting tracking-service with its consumers …", flush=True)
                stop_process(running.tracking)
                ingest_load = os.getloadavg()[0]
                postmaster = running.postmaster()
                running.tracking = start_tracking(consumers=True)
                # CPU time from here on, for the events handled from here on (start-up left out).
                postgres_before = tree_cpu_seconds(postmaster)
                tracking_before = cpu_seconds([running.tracking.pid])
                early = asyncio.run(inbox_progress(dsn))
                handled_before = sum(early.get(c, (0, None, None))[0] for c in CONSUMERS) / 3
                done_at = wait_for_ingest(dsn, len(events), timeout=1800)
                postgres_used = tree_cpu_seconds(postmaster) - postgres_before
                tracking_used = cpu_seconds([running.tracking.pid]) - tracking_before
                load_after = os.getloadavg()[0]
                measured_events = max(1.0, len(events) - handled_before)
                runs = asyncio.run(consumer_runs(dsn))
                ingest = Ingest(
                    events=len(events),
                    publish_seconds=published,
                    per_consumer={c: (runs[c].events, runs[c].rate) for c in CONSUMERS},
                    overall_seconds=(
                        done_at - min(runs[c].first for c in CONSUMERS)
                    ).total_seconds(),
                    cpu_ms_per_event=(
                        (
                            tracking_used / measured_events * 1000,
                            postgres_used / measured_events * 1000,
                        )
                        if has_proc()
                        else None
                    ),
                    load=ingest_load,
                    load_after=load_after,
                    transactions={c: runs[c].transactions for c in CONSUMERS},
                    loaded_rows=loaded.events,
                )
                for c in CONSUMERS:
                    print(
                        f"  {c}: {runs[c].events:,} events in {runs[c].transactions:,} "
                        f"transactions, {runs[c].rate:,.0f}/s",
                        flush=True,
                    )
                print(f"  all three: {ingest.rate:,.0f} events/s", flush=True)
                if ingest.cpu_ms_per_event is not None:
                    print(
                        "  CPU ms per event: tracking {:.2f}, PostgreSQL {:.2f}".format(
                            *ingest.cpu_ms_per_event
                        ),
                        flush=True,
                    )
                differing = asyncio.run(check_ingest(dsn, ingested))
                print(f"  checked: {differing}", flush=True)
                if any(differing.values()):
                    raise SystemExit(f"the projections differ from a recount: {differing}")

            if args.ingest_only:
                assert ingest is not None
                return finish_ingest_only(args, ingest)
            # Fresh tokens: the ones of the start may have expired during the load.
            citizen = request_json(
                f"{gateway}/api/v1/auth/login", {"username": CITIZEN[0], "password": CITIZEN[1]}
            )["access_token"]
            admin = admin_token(gateway, workdir / "admin-totp")
            top = [a for a, _ in loaded.agency_sizes.most_common(20)]
            today = now.astimezone(ZONE).date()
            year_ago = (today.replace(day=1) - timedelta(days=335)).replace(day=1)
            period = f"from={year_ago.isoformat()}&to={today.isoformat()}"
            rng = random.Random(5)
            scenarios = [
                Scenario(
                    "public tracking",
                    [f"/api/v1/tracking/{n}?code={c}" for n, c in loaded.public],
                    {},
                ),
                Scenario(
                    "owner timeline",
                    [f"/api/v1/applications/{a}/timeline" for a in loaded.owned],
                    {"Authorization": f"Bearer {citizen}"},
                ),
                Scenario(
                    "service-level report",
                    [f"/api/v1/reports/service-levels?agency_id={a}&{period}" for a in top],
                    {"Authorization": f"Bearer {admin}"},
                ),
                Scenario(
                    "satisfaction report",
                    [f"/api/v1/reports/satisfaction?agency_id={a}&{period}" for a in top],
                    {"Authorization": f"Bearer {admin}"},
                ),
            ]
            rng.shuffle(loaded.public)
            for scenario in scenarios:
                sample = scenario.paths[0]
                request = urllib.request.Request(  # noqa: S310 - loopback
                    gateway + sample, headers=scenario.headers
                )
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                    if response.status != 200:
                        raise SystemExit(f"{sample}: {response.status}")
            for number in range(1, args.rounds + 1):
                print(f"round {number} of {args.rounds}", flush=True)
                for scenario in scenarios:
                    measure(scenario, gateway, workdir, args.duration, running)
            # The reports again with no answer kept: what every request costs when each one
            # computes its report (a cold cache, or an agency whose figures keep changing).
            print("restarting tracking-service with no report answers kept …", flush=True)
            stop_process(running.tracking)
            running.tracking = start_tracking(
                consumers=True, extra={"MPP_TRACKING_REPORT_CACHE_SECONDS": "0"}
            )
            computed = [
                Scenario(f"{s.name}, computed each time", s.paths, s.headers)
                for s in scenarios
                if s.name.endswith("report")
            ]
            for number in range(1, args.rounds + 1):
                print(f"round {number} of {args.rounds} (no report answers kept)", flush=True)
                for scenario in computed:
                    measure(scenario, gateway, workdir, args.duration, running)
            scenarios += computed
            plans = asyncio.run(
                explain(dsn, top[0], year_ago, today.replace(day=1), loaded.public[0][0])
            )
            for plan in plans:
                print(f"  {plan}")
        finally:
            for process in (running.gateway, running.tracking, running.identity):
                if process is not None:
                    stop_process(process)
            nats_server.stop()
            postgres.stop()

    if ingest is None:
        reads = reads_part(
            args=args, loaded=loaded, scenarios=scenarios, plans=plans, ingest_target=None
        )
        print()
        print("\n".join(reads))
        if not args.no_write:
            replace_reads(reads)
            print(f"read part written to {DOCS.relative_to(ROOT)}")
        return 0
    text = section(
        args=args,
        loaded=loaded,
        ingest=ingest,
        scenarios=scenarios,
        plans=plans,
        load_at_start=load_at_start,
        top_agency_size=loaded.agency_sizes.most_common(1)[0][1],
    )
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"written to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
