"""The merged OpenAPI document tells the truth: schemathesis checks every public operation.

The stack is ``make run``'s (demo data included). For each operation schemathesis sends its
documented examples, the coverage phase's boundary values and a bounded number of generated
requests, anonymously, as the demo citizen and as an officer of a demo agency (TOTP login),
and checks that no answer is a 5xx and that
every answer's status, content type and body are the ones the document declares.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from mpp_shared.testing.people import AGENCY_X, Caller, Cast, create_staff, loopback
from mpp_shared.testing.stack import StackEnv

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
MAX_EXAMPLES = 5
CITIZEN = {"username": "warga1@mpp.local", "password": "Warga#Dev2026"}
# Logging out revokes the very token the run uses for everything else.
SIGNED_IN_EXCLUDED = ("POST /api/v1/auth/logout",)


def _login(gateway: str) -> str:
    request = urllib.request.Request(  # noqa: S310 - loopback only
        gateway + "/api/v1/auth/login",
        data=json.dumps(CITIZEN).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        token: str = json.loads(response.read())["access_token"]
    return token


def _schemathesis(gateway: str, report: Path, *extra: str) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            gateway + "/openapi.json",
            "--url",
            gateway,
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "2026",
            "--no-shrink",
            # One worker: hypothesis parses lambdas' sources with ast, and Python 3.11's ast is
            # not safe to run from two threads at once (CPython gh-106905: "AST constructor
            # recursion depth mismatch", a failed run that says nothing of the API).
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=report.parent,  # where schemathesis keeps its cache
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def _failures(report: Path) -> str:
    """The failed operations of schemathesis' JUnit report, each with the start of its
    message: short enough to be read whole where a long output is cut."""
    if not report.exists():
        return "(no report)\n"
    lines = []
    # The report is the one schemathesis wrote just now, here.
    for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314
        for failure in (*case.iter("failure"), *case.iter("error")):
            text = (failure.get("message") or failure.text or "").strip()
            lines.append(f"{case.get('name')}: {text[:600]}")
    return "\n".join(lines[:40]) + "\n"


@pytest.fixture(scope="module")
def citizen_token(demo_stack: StackEnv) -> str:
    """Logged in before any run: the anonymous one uses up the login route's rate limit."""
    return _login(demo_stack.gateway_url)


@pytest.mark.parametrize("caller", ["anonymous", "citizen", "officer"])
def test_every_answer_is_one_the_openapi_document_declares(
    demo_stack: StackEnv, citizen_token: str, cast: Cast, caller: str, tmp_path: Path
) -> None:
    gateway = demo_stack.gateway_url
    extra: list[str] = []
    tokens = {"citizen": f"Bearer {citizen_token}"}
    if caller == "officer":
        # An officer of its own: whatever the run does to its account or sessions stays with
        # it, not with the officer the journeys of the same stack act as.
        fuzzer = create_staff(
            cast.platform_admin,
            Caller("officer_fuzz", gateway, loopback(18)),
            role="officer",
            agency_id=AGENCY_X,
            full_name="Petugas Uji",
        )
        tokens["officer"] = fuzzer.headers["Authorization"]
    if caller in tokens:
        extra += ["--header", f"Authorization: {tokens[caller]}"]
        for operation in SIGNED_IN_EXCLUDED:
            method, path = operation.split(" ")
            extra += ["--exclude-by", f"method == '{method}' && path == '{path}'"]
    code, output, seconds = _schemathesis(gateway, tmp_path / "junit.xml", *extra)
    print(f"schemathesis ({caller}): exit {code} in {seconds:.0f} s")
    assert code == 0, _failures(tmp_path / "junit.xml") + output[-3000:]
