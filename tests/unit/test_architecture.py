"""The architecture's never-rules hold (pyproject.toml's import-linter contracts): pure cores
import no storage, web framework or use case; use cases and schemas import no web framework;
storage imports no use case."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    found = subprocess.run(
        [str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert found.returncode == 0, found.stdout[-6000:] + found.stderr[-2000:]
    assert "0 broken" in found.stdout
