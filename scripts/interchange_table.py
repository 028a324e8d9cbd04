"""Regenerate docs/interchange.md from the interchange matrix tests' results (never by hand).

Runs ``tests/interchange/test_format_matrix.py`` and ``test_independent_readers.py`` with a JUnit
XML report (or reads one given with ``--junit FILE``), collects what each test recorded with
``record_property`` (format, properties, exact/loss-reported) and its outcome (passed, xfail with
its reason, failed), and writes the formats × properties table plus the corpus read/link scores
of our adapters vs the upstream OTIO adapters.

Usage: ``.venv/bin/python scripts/interchange_table.py [--junit results.xml] [--out docs/interchange.md]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = ("tests/interchange/test_format_matrix.py", "tests/interchange/test_independent_readers.py")
FORMATS = ("otio", "fcpxml", "xmeml", "edl")
PROPERTIES = (
    "rates exact",
    "start TC",
    "DF",
    "mixed rates",
    "markers",
    "transitions",
    "speed",
    "multi-track",
    "audio",
    "long timeline",
    "linked media",
)


def run_tests(junit: Path) -> int:
    """Run the matrix tests, writing a JUnit report to ``junit``; returns pytest's exit code."""
    cmd = [sys.executable, "-m", "pytest", *TESTS, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    return subprocess.run(cmd, cwd=REPO).returncode


def collect(junit: Path) -> tuple[dict, list[dict], dict[str, int]]:
    """Cells {(format, property): {"exact": n, "reported": {kinds}, "xfail": {reasons}, "failed": n}},
    corpus rows, and outcome counts, from a JUnit report."""
    cells: dict = defaultdict(lambda: {"exact": 0, "reported": 0, "kinds": set(), "xfail": set(), "failed": 0})
    corpus: list[dict] = []
    outcomes: dict[str, int] = defaultdict(int)
    for case in ET.parse(junit).getroot().iter("testcase"):
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            outcome = "failed"
        elif skipped is not None and skipped.get("type") == "pytest.xfail":
            outcome = "xfail"
        elif skipped is not None:
            outcome = "skipped"
        else:
            outcome = "passed"
        outcomes[outcome] += 1
        for prop in case.iter("property"):
            data = json.loads(prop.get("value") or "{}")
            if prop.get("name") == "corpus":
                corpus.append(data)
                continue
            if prop.get("name") != "interchange":
                continue
            for name in data["properties"]:
                cell = cells[(data["format"], name)]
                if outcome == "failed":
                    cell["failed"] += 1
                elif outcome == "xfail":
                    cell["xfail"].add(skipped.get("message", ""))
                elif data["result"] == "exact":
                    cell["exact"] += 1
                else:
                    cell["reported"] += 1
                    cell["kinds"].update(k.strip() for k in data.get("detail", "").split(",") if k.strip())
    return cells, corpus, outcomes


def _cell_text(cell: dict | None) -> str:
    if cell is None:
        return "–"
    if cell["failed"]:
        return f"✖ fails ({cell['failed']})"
    if cell["xfail"]:
        return "✖ known defect: " + "; ".join(sorted(cell["xfail"]))
    total = cell["exact"] + cell["reported"]
    if not cell["reported"]:
        return f"✔ exact ({total}/{total})"
    return f"◐ {cell['exact']}/{total} exact, rest loss-reported ({', '.join(sorted(cell['kinds']))})"


def render(cells: dict, corpus: list[dict], outcomes: dict[str, int]) -> str:
    header = "| property | " + " | ".join(FORMATS) + " |\n|---|" + "---|" * len(FORMATS) + "\n"
    rows = "".join(
        f"| {name} | " + " | ".join(_cell_text(cells.get((fmt, name))) for fmt in FORMATS) + " |\n"
        for name in PROPERTIES
    )
    source_tc = _cell_text(cells.get(("edl", "source TC labels")))
    totals = {"ours": [0, 0, 0, 0], "upstream": [0, 0, 0, 0]}
    lines = []
    for row in sorted(corpus, key=lambda r: (r["kind"], r["file"])):
        cols = []
        for side in ("ours", "upstream"):
            result = row[side]
            t = totals[side]
            if result.get("read") is None:
                cols += ["n/a", "–"]
                continue
            t[2] += 1
            if result["read"]:
                t[0] += 1
                t[1] += result["linked"] == row["ours"]["linked"] or result["linked"] >= row["ours"]["linked"]
                t[3] += result["linked"]
                cols += ["✔", f"{result['linked']}/{result['clips']}"]
            else:
                cols += [f"✖ {result.get('error', '')}", "–"]
        lines.append(f"| `{row['file']}` | {row['kind']} | " + " | ".join(cols) + " |\n")
    corpus_summary = "".join(f"| {side} | {t[0]}/{t[2]} | {t[1]}/{t[2]} | {t[3]} |\n" for side, t in totals.items())
    runs = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
    return f"""# Timeline interchange: what each format keeps, checked by readers we did not write

Generated by `.venv/bin/python scripts/interchange_table.py` from the results of
`tests/interchange/test_format_matrix.py` and `tests/interchange/test_independent_readers.py`
({runs}). Do not edit by hand: change the tests or the code, then regenerate.

## Round trips, per format and property

Each cell sums the write → read round trips (A → A) of the generated edge cases that exercise the
property (tests/interchange/edge_timelines.py: every rate 23.976/24/25/29.97 DF+NDF/30/50/59.94
DF+NDF/60 × starts 00:00:00:00, 01:00:00:00, 23:59:50:00; mixed rates; 3 video + 4 audio tracks;
dissolves; markers; speed; audio-only; 10-hour timelines). "Exact": per track, every clip's record
in and duration (frames), source in and length at the media rate, media path and range, markers
came back identical. "Loss-reported": what differed is exactly what `montage-bridge convert`'s loss
report names for that format (checked in the test). A → B → A for every pair of formats runs on the
same cases and on every corpus file with the same check.

{header}{rows}
Independent readers: every FCPXML we write (1.8, 1.9, 1.10, 1.11) validates against Apple's DTD of
its version; every EDL parses with `pycmx`, its record TCs are the timeline's and every source TC
lies inside its media's own timecode range ({source_tc}); the upstream `fcp_xml` adapter reads our
xmeml (v4 and v5) with the same rate, start, clips, record positions, source ins and markers; the
upstream `cmx_3600` adapter reads our plain-cut EDLs with the same source ins and durations; a
29.97/59.94 timeline that states no drop-frame choice is DF in FCPXML, xmeml and EDL alike.

## Corpus: ours vs the upstream OTIO adapters

Every real timeline file in tests/data (plus ../shared/corpus when present), read by our adapters
(`mb_fcpxml`, `mb_xmeml`, `mb_cmx3600`, otio-aaf-adapter for AAF) and by the upstream adapter of
its format (`fcpx_xml`, `fcp_xml`, `cmx_3600` at the file's rate, strict; n/a for AAF). "linked":
clips read with an `ExternalReference`, of all clips read.

| | files read | linked at least as many clips as ours | clips linked |
|---|---|---|---|
{corpus_summary}
| file | kind | ours: read | ours: linked/clips | upstream: read | upstream: linked/clips |
|---|---|---|---|---|---|
{"".join(lines)}
## What the formats cannot hold

`montage-bridge convert IN OUT [--to FORMAT] [--json]` prints a loss report for every conversion:
an EDL holds one video track (others go to `NAME_V2.edl`…, or pick one with `--edl-track N`), no
disabled clips, no nesting, no media length or start TC, marker positions but no durations, one
record rate, and its dissolves start at the cut (an OTIO in-offset moves the cut; same frames on
screen). FCP7 XML has no marker colours, re-centres uneven dissolves, and its `in`/`out` are
sequence-rate frames (how Premiere and Resolve read them), so mixed-rate in points are rounded.
FCPXML keeps blue, red and green markers only. Resolve drops custom clip metadata on OTIO import.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", type=Path, help="use this JUnit XML instead of running the tests")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "interchange.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        junit = args.junit
        if junit is None:
            junit = Path(tmp) / "interchange.xml"
            code = run_tests(junit)
            if code not in (0, 1):  # 1: some tests failed, which the table shows
                print(f"pytest exited {code}; docs/interchange.md not written", file=sys.stderr)
                return 2
        cells, corpus, outcomes = collect(junit)
    if not cells:
        print(f"{junit}: no interchange results recorded; docs/interchange.md not written", file=sys.stderr)
        return 2
    args.out.write_text(render(cells, corpus, outcomes), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
