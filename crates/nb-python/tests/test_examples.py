"""Every example runs to completion against nb-chaos."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted(
    p for p in (Path(__file__).parent.parent / "examples").glob("*.py") if not p.name.startswith("_")
)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path, chaos):
    r = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=120,
        cwd=path.parent, env=dict(os.environ),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip()
