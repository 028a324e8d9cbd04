"""Run every benchmark module in bench/ (files named bench_*.py), each as its own process, then print
one summary table of the whole-process targets (issue #12): what, ours, anchor, ratio, target,
pass/fail, and how each figure was measured.

Each benchmark prints its own details and writes results under bench/results/; the summary is read
from bench/results/process.json (bench_process.py) and the worker rows of gpu_worker.json.
Usage:
  python bench/run.py [NAME ...]     # e.g. `python bench/run.py auto`
  python bench/run.py --summary      # only print the table from the stored results
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def _cpu(seconds: float | None, whose: str) -> str:
    return "" if seconds is None else f", {seconds:.2f} CPU-s {whose}"


def summary_rows() -> list[dict]:
    """The rows of the summary table, from the stored results (missing benchmarks are left out)."""
    rows: list[dict] = []
    process = RESULTS / "process.json"
    if process.is_file():
        for group in json.loads(process.read_text()).get("rows", {}).values():
            rows.extend(group)
    worker = RESULTS / "gpu_worker.json"
    if worker.is_file():
        data = json.loads(worker.read_text())
        uploads = [data.get("upload_whole_process"), data.get("upload_whole_process_large")]
        for upload in filter(None, uploads):
            rows.append(
                {
                    "what": f"worker upload, {upload['mib']} MiB",
                    "ours": f"{upload['ours_mib_s']} MiB/s" + _cpu(upload.get("ours_cpu_s"), "client + worker"),
                    "anchor": f"{upload['raw_tcp_mib_s']} MiB/s (raw TCP to the same disk)"
                    + _cpu(upload.get("raw_tcp_cpu_s"), "sender + receiver"),
                    "ratio": upload["ratio"],
                    "target": upload["target"],
                    "pass": upload["pass"],
                    "how": "whole process (bench_gpu_worker"
                    + (f", load {upload['load_average']}" if "load_average" in upload else "")
                    + ")",
                }
            )
        noop = data.get("noop_job_overhead_ms")
        if noop and "pass" in noop:
            rows.append(
                {
                    "what": f"worker no-op job, {noop['jobs']} jobs",
                    "ours": f"p50 {noop['p50']} ms, p99 {noop['p99']} ms",
                    "anchor": "–",
                    "ratio": None,
                    "target": noop["target"],
                    "pass": noop["pass"],
                    "how": "client process to worker process, loopback (bench_gpu_worker)",
                }
            )
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| what | ours | anchor | ratio | target | pass | measured as |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = "–" if r.get("ratio") is None else f"{r['ratio']}x"
        ok = "PASS" if r["pass"] else "FAIL"
        lines.append(f"| {r['what']} | {r['ours']} | {r['anchor']} | {ratio} | {r['target']} | {ok} | {r['how']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    failures = 0
    if argv != ["--summary"]:
        wanted = set(argv)
        for script in sorted(HERE.glob("bench_*.py")):
            name = script.stem.removeprefix("bench_")
            if wanted and name not in wanted:
                continue
            print(f"== bench {name}", flush=True)
            proc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, check=False)
            failures += proc.returncode != 0
    rows = summary_rows()
    if rows:
        print("\n== summary (issue #12 targets; see docs/performance.md)")
        print(table(rows))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
