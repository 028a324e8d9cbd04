"""A → B → A for every pair of our formats (otio, fcpxml, xmeml, edl): frame-exact, or different in
exactly the ways the loss report names (issue #11 "Done when").

- Single-format round trips (A → A) run on every generated edge case: the full rate × start grid
  (10 rates incl. DF/NDF × 00:00:00:00, 01:00:00:00, 23:59:50:00) and the feature cases (mixed
  rates, 3 video + 4 audio tracks, dissolves, markers, speed, audio-only, 10-hour timelines).
- Pairs run on every edge case too (they are cheap: ~4 s for all), and on every corpus file, with
  the corpus file first normalised through its own format (A = the format it was read from).
- The comparison is :mod:`tests.interchange.matrix_support`: per track, kind, record in/duration
  (frames), source in/length at the media rate, media path and range, markers; every difference
  must be named by the loss report of a write on the way.

Each test records what it showed (``record_property("interchange", …)``) so
``scripts/interchange_table.py`` rebuilds docs/interchange.md's table from a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import opentimelineio as otio
import pytest

from kernel.timebase import format_rate
from nle_adapters.convert import read_timelines
from nle_adapters.write_files import WriteError
from tests.interchange import edge_timelines as edge
from tests.interchange.corpus_files import CORPUS, edl_rate
from tests.interchange.matrix_support import (
    FORMATS,
    differences,
    explain,
    loss_features,
    summarize,
    through,
    unexplained,
)

CASES = edge.grid_cases() + edge.feature_cases()
PAIRS = [(a, b) for a in FORMATS for b in FORMATS if a != b]
_READ_AS = {"xml": "xmeml", "fcpxml": "fcpxml", "edl": "edl", "otio": "otio", "aaf": "otio"}

# Corpus round trips that fail today, each for a reason named here; strict, so a fix turns the
# xfail into an error and the entry must go. "(#11 item N)" marks a defect another change owns;
# "(unowned)" is a defect nobody is fixing yet (listed in the report that added this file).
KNOWN_CORPUS: dict[tuple[str, str, str], str] = {}
# Corpus files a target must refuse, with the clear error it gives (#11 item 4: never silently):
# FCPXML cannot hold image sequences at all; this fixture's clip lies outside its images, which
# xmeml (which can link sequences by their first image) must refuse rather than write offline.
KNOWN_REFUSALS: dict[tuple[str, str, str], str] = {
    ("otio-fcp-adapter__img_seq_media_reference.otio", "otio", "fcpxml"): "FCPXML cannot hold image sequences",
    ("otio-fcp-adapter__img_seq_media_reference.otio", "otio", "xmeml"): "lies outside its image sequence",
}
KNOWN_CORPUS_NORMALISE: dict[str, str] = {}


def _record(record_property, fmt: str, properties, result: str, detail: str = "") -> None:
    record_property(
        "interchange", json.dumps({"format": fmt, "properties": sorted(properties), "result": result, "detail": detail})
    )


def _check(want, got, losses: set[str]) -> tuple[str, str]:
    diffs = differences(want, got)
    left = unexplained(want, got, losses)
    assert not left, explain(left, losses)
    if not diffs:
        return "exact", ""
    kinds = sorted({d.kind for d in diffs})
    return "reported", ", ".join(kinds)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_round_trip_in_one_format(case: edge.EdgeCase, fmt: str, record_property) -> None:
    timeline = edge.build(case)
    before = timeline.to_json_string()
    back = through(timeline, fmt)
    assert timeline.to_json_string() == before, "the writer changed its input"
    properties = set(case.features) | {"linked media"}
    result, detail = "fail", ""
    try:
        result, detail = _check(summarize(timeline), summarize(back), loss_features(timeline, fmt))
    finally:
        _record(record_property, fmt, properties, result, detail)


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_to_b_to_a(case: edge.EdgeCase, a: str, b: str) -> None:
    timeline_a = through(edge.build(case), a)
    timeline_ab = through(timeline_a, b)
    back = through(timeline_ab, a)
    losses = loss_features(timeline_a, b) | loss_features(timeline_ab, a)
    _check(summarize(timeline_a), summarize(back), losses)


def _corpus_params():
    params = []
    for name, kind, path in CORPUS:
        for b in FORMATS:
            marks = []
            read_as = _READ_AS["xml" if kind == "fcp7xml" else kind]
            if b == read_as:
                reason = KNOWN_CORPUS_NORMALISE.get(name)
            else:
                reason = KNOWN_CORPUS.get((name, read_as, b))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, reason=reason))
            params.append(pytest.param(path, kind, b, marks=marks, id=f"{name}-{b}"))
    return params


@pytest.mark.parametrize(("path", "kind", "b"), _corpus_params())
def test_corpus_a_to_b_to_a(path: Path, kind: str, b: str) -> None:
    """A corpus file, read with ours and written back in its own format (A), then A → B → A.
    With B == A: the normalising write/read alone must be exact or loss-reported."""
    fmt, timelines = read_timelines(path, format_rate(edl_rate(path)) if kind == "edl" else None)
    source: otio.schema.Timeline = timelines[0]
    a = _READ_AS[fmt]
    timeline_a = through(source, a)
    if b == a:
        _check(summarize(source), summarize(timeline_a), loss_features(source, a))
        return
    refusal = KNOWN_REFUSALS.get((path.name, a, b))
    if refusal:
        with pytest.raises(WriteError, match=refusal):
            through(timeline_a, b)
        return
    try:
        timeline_ab = through(timeline_a, b)
    except WriteError as exc:
        if "no EDL written" not in str(exc):
            raise
        pytest.skip(f"nothing an EDL can hold; refused clearly (#11 item 5): {exc}")
    back = through(timeline_ab, a)
    _check(summarize(timeline_a), summarize(back), loss_features(timeline_a, b) | loss_features(timeline_ab, a))
