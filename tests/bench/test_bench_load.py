"""The whole-system load benchmark's arithmetic and report, on made-up steps (no stack, no timing).

What the figures in docs/benchmarks.md rest on: which step is the knee, when the ramp stops,
what the report and the plot say, and that writing the section leaves the others alone.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import bench_load  # noqa: E402
import harness  # noqa: E402
from bench_load import Run, StepResult, errors_below_knee, knee  # noqa: E402

BOUND = 1000.0


def step(offered: float, latencies: list[float], *, failed: int = 0) -> StepResult:
    """A step whose catalogue requests took ``latencies`` ms, ``failed`` of them refused."""
    result = StepResult(offered=offered, seconds=10.0, elapsed=10.0)
    for n, latency in enumerate(latencies):
        ok = n >= failed
        result.record("GET /api/v1/services?q=", "catalogue", latency, ok, "200" if ok else "503")
    result.sent = len(latencies)
    result.cpu = {"gateway": 1.0, "identity": 0.5, "PostgreSQL": 0.5, "client": 0.2, "machine": 4}
    result.rss = {"gateway": 90.0, "identity": 130.0, "PostgreSQL": 60.0, "client": 60.0}
    result.load = (3.0, 2.0, 1.0)
    return result


def flat(ms: float, count: int = 200) -> list[float]:
    return [ms] * count


def test_the_knee_is_the_last_step_within_the_bound_before_the_first_outside() -> None:
    steps = [step(10, flat(20)), step(20, flat(40)), step(40, flat(1500)), step(80, flat(30))]

    assert knee(steps, BOUND) is steps[1]


def test_one_failed_request_puts_a_step_past_the_knee() -> None:
    steps = [step(10, flat(20)), step(20, flat(40), failed=1), step(40, flat(40))]

    assert knee(steps, BOUND) is steps[0]
    assert errors_below_knee(steps, BOUND) == 0
    # 1 of 200 is 0.5%: past the knee, not yet a reason to stop the ramp.
    assert not steps[1].broken(BOUND)
    assert step(20, flat(40), failed=3).broken(BOUND)


def test_no_knee_when_the_first_step_already_fails() -> None:
    steps = [step(10, flat(20), failed=5), step(20, flat(20))]

    assert knee(steps, BOUND) is None
    assert errors_below_knee(steps, BOUND) == 5


def test_p99_decides_not_p50() -> None:
    # 98 fast answers and 2 slow ones: p50 20 ms, p99 above the bound.
    latencies = [20.0] * 98 + [5000.0] * 2

    result = step(10, latencies)

    assert result.p(50) == pytest.approx(20.0)
    assert result.p(99) > BOUND
    assert result.broken(BOUND)
    assert knee([result], BOUND) is None


def test_throughput_counts_the_expected_answers_per_second() -> None:
    result = step(10, flat(20, 100), failed=10)

    assert result.answered_ok == 90
    assert result.throughput == pytest.approx(9.0)
    assert result.error_rate == pytest.approx(0.10)
    assert result.failures == {"GET /api/v1/services?q= 503": 10}


def test_a_request_the_client_could_not_send_is_a_failure_without_a_latency() -> None:
    result = step(10, flat(20, 10))
    result.sent += 1

    result.record("(write)", "write", None, False, "client-overload")

    assert result.failed == 1
    assert result.latencies["(write)"] == []
    assert result.p(99) == pytest.approx(20.0)


def test_the_mix_draws_each_class_at_its_share() -> None:
    rng = random.Random(1)
    counts = dict.fromkeys(bench_load.CLASSES, 0)

    for _ in range(20_000):
        counts[bench_load.choose(rng)] += 1

    for klass, share in bench_load.MIX.items():
        assert counts[klass] / 20_000 == pytest.approx(share, abs=0.01), klass
    assert sum(bench_load.MIX.values()) == pytest.approx(1.0)


def run(replicas: int, steps: list[StepResult], identity_at_rest: float = 130.0) -> Run:
    names = ["gateway", "identity", "PostgreSQL"]
    return Run(
        replicas=replicas,
        steps=steps,
        rest_rss={"gateway": 90.0, "identity": identity_at_rest, "PostgreSQL": 150.0},
        process_of={name: bench_load.program_of(name) for name in names},
        load_start=(2.0, 2.0, 2.0),
        setup_seconds=20,
        start_seconds=60,
        step_seconds=10,
        bound_ms=BOUND,
    )


def test_the_report_names_the_knee_per_replica_count_and_judges_the_targets() -> None:
    one = run(1, [step(10, flat(20)), step(20, flat(30)), step(40, flat(2000))])
    two = run(2, [step(10, flat(20)), step(20, flat(25)), step(40, flat(300))], 160.0)

    text = bench_load.report(
        [one, two],
        command="uv run python bench/bench_load.py",
        when=datetime(2026, 12, 2, 21, 0, tzinfo=UTC),
        total_seconds=540,
    )

    assert text.startswith(bench_load.SECTION + "\n")
    assert "`uv run python bench/bench_load.py` (9 min" in text
    assert "### 1 replica\n" in text
    assert "### 2 replicas\n" in text
    assert "**Knee: 20 requests/s offered**" in text
    assert "**Knee: 40 requests/s offered**" in text
    assert "| 40 | 20.0 | 2,000 ms | 2,000 ms |" in text  # the step past the knee is shown
    assert "- 1 replica, no failed request below the knee: met (0)." in text
    # PostgreSQL is not a process of the services: only theirs and the gateway's count.
    assert "(143 MiB) RSS at rest: met." in text
    assert (
        "2 replicas, every process of the services and gateway under 150 MB (143 MiB) RSS at "
        "rest: **not met** (identity 160 MiB)." in text
    )
    assert "| gateway | 90 | 90 | " in text


def test_the_report_says_when_there_is_no_knee() -> None:
    broken = run(1, [step(10, flat(20), failed=50)])

    text = bench_load.report(
        [broken], command="x", when=datetime(2026, 12, 2, tzinfo=UTC), total_seconds=60
    )

    assert "**No knee**: the first step (10 req/s) broke it." in text
    assert "`GET /api/v1/services?q= 503`: 50" in text
    assert "no failed request below the knee: **not met** (50)." in text


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "bench-load.png"

    bench_load.plot([run(1, [step(10, flat(20)), step(20, flat(2000))])], path)

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_writing_the_section_replaces_it_and_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## Catalogue\n\nfast\n\n## Memory per process\n\nsmall\n")
    monkeypatch.setattr(harness, "DOCS", docs)

    harness.write_section(bench_load.SECTION, f"{bench_load.SECTION}\n\nfirst\n")
    harness.write_section(bench_load.SECTION, f"{bench_load.SECTION}\n\nsecond\n")

    text = docs.read_text()
    assert "## Catalogue\n\nfast\n" in text
    assert "## Memory per process\n\nsmall\n" in text
    assert text.count(bench_load.SECTION) == 1
    assert "second" in text
    assert "first" not in text
