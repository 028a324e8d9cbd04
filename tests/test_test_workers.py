"""`make test`'s worker count follows the CPUs the process may use, not the host's (a CI container
limited to 2 CPUs on a 64-core host must get 2 workers, not 64)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "test_workers.py"


def _module():
    spec = importlib.util.spec_from_file_location("test_workers_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("affinity", "quota", "expected"),
    [(64, 2.0, 2), (64, 1.5, 2), (64, 0.5, 1), (64, None, 8), (2, None, 2), (4, 16.0, 4), (1, None, 1)],
)
def test_workers_follow_affinity_and_cgroup_quota(
    affinity: int, quota: float | None, expected: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _module()
    monkeypatch.setattr(module.os, "sched_getaffinity", lambda _pid: set(range(affinity)), raising=False)
    monkeypatch.setattr(module, "_quota_cpus", lambda: quota)
    assert module.worker_count() == expected


def test_the_script_prints_a_count_on_this_machine() -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=30, check=True)
    assert 1 <= int(out.stdout) <= 8
