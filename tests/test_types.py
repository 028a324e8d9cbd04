"""mypy (with the pydantic plugin, settings in pyproject.toml) over every package: no package may gain an error.

BASELINE is each package's error count when the check was introduced (#17); a package at 0 stays at
0, and the others can only go down: when you fix errors, lower the number here so they stay fixed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

BASELINE = {
    "kernel": 0,
    "analysis": 0,
    "dashboard": 0,
    "gpu_remote": 0,
    "montage_bridge": 5,
    "nle_adapters": 0,
    "planner": 1,
    "proxies": 0,
    "reframe": 0,
    "render": 0,
    "resolve_bridge": 0,
}


@pytest.mark.timeout(300)
def test_no_package_gains_a_type_error() -> None:
    pytest.importorskip("mypy", reason="the test extra installs mypy")
    packages = sorted(p for p in BASELINE if (REPO / p / "__init__.py").is_file())
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(REPO / ".mypy_cache"), *packages],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]  # 2: mypy itself failed
    errors = [line for line in proc.stdout.splitlines() if re.search(r":\d+: error:", line)]
    counts = Counter(line.split("/", 1)[0] for line in errors)
    print("mypy errors per package:", dict(sorted(counts.items())))
    worse = {p: (counts[p], BASELINE[p]) for p in packages if counts[p] > BASELINE[p]}
    new = [line for line in errors if line.split("/", 1)[0] in worse]
    assert not worse, f"new type errors (found, allowed): {worse}\n" + "\n".join(new)
