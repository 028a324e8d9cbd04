"""mypy (with the pydantic plugin, settings in pyproject.toml) over every package: zero errors.

Every package reached zero in #17; this keeps them there. Run through ``make test`` and ``make lint``.
Fix an error for real (narrow the Optional, correct the annotation); an ``# type: ignore[code]`` is for
a third-party stub that is wrong, with the reason beside it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

PACKAGES = [
    "kernel",
    "analysis",
    "dashboard",
    "gpu_remote",
    "montage_bridge",
    "nle_adapters",
    "planner",
    "proxies",
    "reframe",
    "render",
    "resolve_bridge",
]


def test_every_top_level_package_is_checked() -> None:
    found = {p.name for p in REPO.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"}
    assert found <= set(PACKAGES), f"add to PACKAGES so mypy checks them: {sorted(found - set(PACKAGES))}"


@pytest.mark.timeout(300)
def test_no_package_has_a_type_error() -> None:
    pytest.importorskip("mypy", reason="the test extra installs mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(REPO / ".mypy_cache"), *PACKAGES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert proc.returncode in (0, 1), proc.stdout[-2000:] + proc.stderr[-2000:]  # 2: mypy itself failed
    errors = [line for line in proc.stdout.splitlines() if re.search(r":\d+: error:", line)]
    counts = Counter(line.split("/", 1)[0] for line in errors)
    assert not errors, f"type errors per package: {dict(sorted(counts.items()))}\n" + "\n".join(errors)
    assert proc.returncode == 0, proc.stdout[-2000:]
