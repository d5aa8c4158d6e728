"""What application-service loads at start stays small: the heavy libraries of rare pages
are imported when such a page is asked for (every replica holds its start-up memory)."""

from __future__ import annotations

import subprocess
import sys

LOADED_ON_DEMAND = ("fpdf", "fontTools", "PIL", "numpy")


def test_the_service_starts_without_the_pdf_library() -> None:
    probe = (
        "import sys, application.main; "
        f"print(','.join(m for m in {LOADED_ON_DEMAND!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.strip()
    assert loaded == ""
