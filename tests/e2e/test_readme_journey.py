"""The README's demo journey runs as a newcomer pastes it, against a stack like `make run`'s."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mpp_shared.testing.stack import StackEnv

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HEADING = "### The demo journey"


def journey_script() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(HEADING) :]
    match = re.search(r"```bash\n(.*?)```", section, flags=re.S)
    assert match, "the demo journey has no bash block"
    return match.group(1)


def test_the_readme_names_the_public_gateway_first() -> None:
    assert journey_script().startswith("G=http://127.0.0.1:8080\n")


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through is written for curl")
def test_the_readme_journey_ends_on_the_public_tracking_page(demo_stack: StackEnv) -> None:
    script = journey_script().replace("G=http://127.0.0.1:8080", f"G={demo_stack.gateway_url}", 1)

    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stdout + run.stderr
    # The last answer printed is the public page: the application as submitted, no person.
    page = json.loads(run.stdout[run.stdout.rindex('{\n    "registration_number"') :])
    assert page["status"] == "submitted"
    assert re.fullmatch(r"64\.09-\d{4}-\d{6}", page["registration_number"])
    assert [step["status"] for step in page["timeline"]] == ["submitted"]
    assert "6409011203850001" not in json.dumps(page)
    assert "BUDI" not in json.dumps(page).upper()
