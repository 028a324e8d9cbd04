"""Run every benchmark module in bench/ (files named bench_*.py), each as its own process.

Each benchmark prints its own table and writes results under bench/results/. Usage:
  python bench/run.py [NAME ...]     # e.g. `python bench/run.py auto`
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        name = script.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== bench {name}", flush=True)
        proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
        failures += proc.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
