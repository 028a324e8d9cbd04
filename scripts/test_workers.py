"""How many pytest-xdist workers `make test` starts: the CPUs this process may really use.

``-n auto`` counts the machine's CPUs (os.cpu_count / psutil), which in a container is the host's:
a CI runner limited to 2 CPUs on a 64-core host would start 64 workers, each spawning ffmpeg and
analysis processes, and the suite would thrash. This counts the CPUs in the process's affinity
mask, lowers that to a cgroup CPU quota when there is one (v2 ``cpu.max``, v1
``cpu.cfs_quota_us``), and caps it at 8 (each worker's real-process tests need ~1 GB).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CAP = 8


def _cgroup_v2_cpus() -> float | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _cgroup_v1_cpus() -> float | None:
    try:
        quota_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").read_text())
        period_us = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
        return None if quota_us <= 0 else quota_us / period_us
    except (OSError, ValueError):
        return None


def _quota_cpus() -> float | None:
    """The CPU quota of this process's cgroup in CPUs (v2, else v1), None without one."""
    v2 = _cgroup_v2_cpus()
    return v2 if v2 is not None else _cgroup_v1_cpus()


def worker_count() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = _quota_cpus()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, min(cpus, CAP))


if __name__ == "__main__":
    print(worker_count())
