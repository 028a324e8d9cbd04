"""Ours vs the upstream OTIO adapters on every timeline file in the shared corpus → bench/results/corpus_table.md.

For each file: did it read, how many clips kept their media link, is the rate exact, how many
transitions survived. Expected values come from the files themselves (XML paths, EDL event lines,
OTIO JSON), not from either reader. Usage: ``python bench/corpus_table.py [CORPUS_DIR]``.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import opentimelineio as otio  # noqa: E402

from kernel.atomic_io import write_text_atomic  # noqa: E402
from kernel.timebase import rate_from_float  # noqa: E402
from nle_adapters.timeline_facts import timeline_rate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "corpus"
DOC = REPO / "bench" / "results" / "corpus_table.md"  # docs/interchange.md: scripts/interchange_table.py
NTSC30, NTSC60 = Fraction(30000, 1001), Fraction(60000, 1001)
EDL_RATES = {  # an EDL states no rate: from corpus/SOURCES.md and the FCM lines
    "lossless-cut__edl-genius_cmx3600.edl": NTSC30,
    "lossless-cut__edl-genius_cmx3600_5994.edl": NTSC60,
    "lossless-cut__edl-genius_12_16_TL01_MUSIC.edl": NTSC30,
    "lossless-cut__cmx3600_edlx_5994.edl": NTSC60,
}
ADAPTERS = {  # kind → (ours, upstream)
    "fcp7xml": ("mb_xmeml", "fcp_xml"),
    "edl": ("mb_cmx3600", "cmx_3600"),
    "otio": ("otio_json", "otio_json"),
    "fcpxml": ("mb_fcpxml", "fcpx_xml"),
}


def _xml_rate(el: ET.Element | None) -> Fraction | None:
    if el is None or el.findtext("rate/timebase") is None:
        return None
    base = int(el.findtext("rate/timebase"))
    return Fraction(base * 1000, 1001) if (el.findtext("rate/ntsc") or "").upper() == "TRUE" else Fraction(base)


def expected(kind: str, path: Path) -> dict:
    """Rate, transition count and linkable clip count, read straight from the file."""
    if kind == "fcp7xml":
        root = ET.parse(path).getroot()
        seq = root.find("sequence")
        if seq is None:
            seq = next(root.iter("sequence"))
        files = {f.get("id"): f for f in root.iter("file") if len(f)}
        items = [i for track in seq.findall("media/*/track") for i in track]
        linked = 0
        for item in items:
            if item.tag != "clipitem":
                continue
            f = item.find("file")
            f = files.get(f.get("id"), f) if f is not None and not len(f) else f
            linked += f is not None and bool((f.findtext("pathurl") or "").strip())
        return {"rate": _xml_rate(seq), "transitions": sum(i.tag == "transitionitem" for i in items), "linked": linked}
    if kind == "edl":
        text = path.read_text(encoding="utf-8", errors="replace")
        return {
            "rate": EDL_RATES.get(path.name, Fraction(24)),
            "transitions": len(re.findall(r"^\s*\d+\s+\S+\s+\S+\s+D\s", text, re.MULTILINE)),
            "linked": len(re.findall(r"^\*\s*FROM (?:CLIP|FILE):", text, re.MULTILINE)),
        }
    if kind == "otio":
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        rates = [float(r) for r in re.findall(r'"rate":\s*([0-9.]+)', text) if float(r) > 0]
        start = data.get("global_start_time") or {}
        rate = rate_from_float(start["rate"]) if start.get("rate") else (rate_from_float(rates[0]) if rates else None)
        return {"rate": rate, "transitions": text.count('"Transition.'), "linked": text.count('"ExternalReference.')}
    root = ET.parse(path).getroot()
    project = next(root.iter("project"), None)  # the timeline is the (first) project's sequence,
    seq = project.find("sequence") if project is not None else next(root.iter("sequence"), None)  # not a compound's
    fmt = {f.get("id"): f for f in root.iter("format")}
    rate = None
    if seq is not None and seq.get("format") in fmt and fmt[seq.get("format")].get("frameDuration"):
        rate = 1 / Fraction(fmt[seq.get("format")].get("frameDuration").rstrip("s"))
    return {
        "rate": rate,
        "transitions": sum(1 for _ in (seq.iter("transition") if seq is not None else [])),
        "linked": None,
    }


def measure(kind: str, path: Path, adapter: str, want: dict) -> dict:
    kwargs = {}
    if adapter == "cmx_3600":
        kwargs = {"rate": float(want["rate"]), "ignore_timecode_mismatch": False}
    try:
        result = otio.adapters.read_from_file(str(path), adapter_name=adapter, **kwargs)
    except Exception as exc:  # the point is to record which adapter fails where
        return {"read": False, "error": f"{exc.__class__.__name__}"}
    timelines = (
        [result]
        if isinstance(result, otio.schema.Timeline)
        else list(result.find_children(descended_from_type=otio.schema.Timeline))
    )
    if not timelines:
        return {"read": False, "error": "no timeline"}
    timeline = timelines[0]
    clips = list(timeline.find_clips())
    linked = sum(isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips)
    if adapter.startswith("mb_"):
        rate = timeline_rate(timeline)
    else:
        float_rate = (
            timeline.global_start_time.rate
            if timeline.global_start_time is not None
            else next((c.source_range.duration.rate for c in clips if c.source_range), 0)
        )
        rate = rate_from_float(float_rate) if float_rate else None
        if float_rate and abs(float_rate - round(float_rate)) < 1e-9:
            rate = Fraction(round(float_rate))  # a truncated 29 stays 29: no NTSC rescue for upstream
    transitions = sum(1 for _ in timeline.find_children(descended_from_type=otio.schema.Transition))
    return {"read": True, "clips": len(clips), "linked": linked, "rate": rate, "transitions": transitions}


def cell(result: dict, want: dict) -> tuple[str, str, str, str]:
    if not result["read"]:
        return ("✖ " + result["error"], "–", "–", "–")
    rate_ok = want["rate"] is None or result["rate"] == want["rate"]
    rate_txt = ("✔ " if rate_ok else "✖ ") + (str(result["rate"]) if result["rate"] is not None else "?")
    trans = f"{result['transitions']}/{want['transitions']}"
    return ("✔", f"{result['linked']}/{result['clips']}", rate_txt, trans)


def main() -> None:
    rows = []
    totals = {"ours": [0, 0, 0, 0], "upstream": [0, 0, 0, 0]}
    files = 0
    for kind in ("fcpxml", "fcp7xml", "edl", "otio"):
        ours, upstream = ADAPTERS[kind]
        for path in sorted((CORPUS / kind).iterdir()):
            files += 1
            want = expected(kind, path)
            row = [f"`{path.name}`", kind, str(want["rate"] or "?"), str(want["transitions"])]
            for side, adapter in (("ours", ours), ("upstream", upstream)):
                result = measure(kind, path, adapter, want)
                row += list(cell(result, want))
                if result["read"]:
                    t = totals[side]
                    t[0] += 1
                    t[1] += result["linked"] == result["clips"] or result["linked"] >= (want["linked"] or 0)
                    t[2] += want["rate"] is None or result["rate"] == want["rate"]
                    t[3] += result["transitions"] == want["transitions"]
            rows.append(row)
    header = (
        "| file | kind | rate (file) | transitions (file) | ours: read | ours: linked/clips | ours: rate "
        "| ours: transitions | upstream: read | upstream: linked/clips | upstream: rate | upstream: transitions |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join("| " + " | ".join(r) + " |\n" for r in rows)
    summary = (
        "| | files read | media linked as in the file | rates exact | transitions kept |\n|---|---|---|---|---|\n"
        + "".join(
            f"| {side} | {t[0]}/{files} | {t[1]}/{files} | {t[2]}/{files} | {t[3]}/{files} |\n"
            for side, t in totals.items()
        )
    )
    doc = f"""# Timeline interchange: our adapters vs the upstream OTIO adapters

Generated by `python bench/corpus_table.py` over `../shared/corpus` ({files} timeline files written by
Final Cut Pro, Premiere, Resolve, Avid, Hiero, auto-editor, EDL-X and OpenTimelineIO). Do not edit by hand.

Ours: `mb_fcpxml`, `mb_xmeml`, `mb_cmx3600` (plugins in `nle_adapters/otio_plugins`) and core `otio_json`.
Upstream: `fcpx_xml` 1.0.0, `fcp_xml` 1.0.0, `cmx_3600` 1.0.0 (given the right rate, strict parsing).
Expected values come from the files (XML paths, event lines, JSON), never from a reader; an upstream
timeline has no exact rate, so its rate is read from `global_start_time` or else the first clip. "linked/clips":
clips read with an `ExternalReference`, of all clips read. Rates are exact fractions (24000/1001, not 23.976).

## Summary

{summary}
## Per file

{header}{body}
## What the formats cannot hold

`montage-bridge convert IN OUT [--to FORMAT] [--json]` prints a loss report for every conversion:
an EDL holds one video track (others go to `NAME_V2.edl`…, or pick one with `--edl-track N`), no
disabled clips, no nesting, no media length or start TC, marker positions but no durations, one rate
(other-rate sources are rescaled), and its dissolves start at the cut (an OTIO in-offset moves the
cut; same frames on screen). FCP7 XML has no marker colours, re-centres uneven dissolves, and its
`in`/`out` are sequence-rate frames (how Premiere and Resolve read them), so mixed-rate in points
are rounded. Resolve drops custom clip metadata on OTIO import.
"""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(DOC, doc)
    print(summary)
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
