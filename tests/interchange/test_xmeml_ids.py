"""FCP7 XML we write for every corpus timeline: unique clipitem ids, and each clipitem's in/out is its own clip's.

The XML is parsed with lxml (not our reader), and the expectation comes from the OTIO timeline that was
written: clipitems in document order against the clips of the timeline walked the way xmeml nests them
(video tracks, then audio tracks; a nested Stack's clipitem, then its own sequence's clips).

Regression: the writer cached per-clip facts under Python ``id()`` of OTIO wrappers, which die and are
reused on a deep-copied timeline (``convert`` and ``write_files`` copy before writing), so clips took
another clip's in/out and clipitem ids repeated (issue #11 item 1).
"""

from __future__ import annotations

import copy
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from lxml import etree

from kernel.timebase import rescale_frames
from nle_adapters.convert import ConvertOptions, convert, read_timelines
from nle_adapters.timeline_facts import frames_at, media_rate, timeline_rate
from nle_adapters.write_files import render_timeline
from tests.conftest import SHARED_CORPUS, TEST_DATA

_LOCAL = sorted(
    p
    for pattern in ("fcpxml/*.fcpxml", "fcp7xml/*.xml", "otio/*.otio", "edl/*.edl", "aaf/*.aaf")
    for p in TEST_DATA.glob(pattern)
    if "img_seq" not in p.name  # image sequences: see test_image_sequence_* below
)
# GPL files stay out of the repo: read from ../shared/corpus when it is there.
_SHARED = ["fcpxml/lossless-cut__FCPXML_1_9.fcpxml"] + [
    f"fcp7xml/lossless-cut__Final_Cut_Pro_XMEML{s}.xml" for s in ("", "_2", "_3")
]


def _expected(stack: otio.schema.Stack | list[otio.schema.Track], rate: Fraction) -> list[tuple[str, int, int]]:
    """(name, in, out) per clipitem, in the order xmeml writes them; in/out at the sequence ``rate``.
    A Stack or a Track nested in a track is a clipitem holding a sequence of its tracks."""
    found: list[tuple[str, int, int]] = []
    tracks = [t for t in stack if isinstance(t, otio.schema.Track)]
    for kind in (otio.schema.TrackKind.Video, otio.schema.TrackKind.Audio):
        for track in (t for t in tracks if t.kind == kind):
            items = list(track)
            for index, item in enumerate(items):
                if isinstance(item, (otio.schema.Stack, otio.schema.Track)):
                    s_in = frames_at(item.source_range.start_time, rate) if item.source_range else 0
                    found.append((item.name, s_in, s_in + frames_at(item.duration(), rate)))
                    found += _expected(item if isinstance(item, otio.schema.Stack) else [item], rate)
                elif isinstance(item, otio.schema.Clip):
                    prev = items[index - 1] if index > 0 else None
                    nxt = items[index + 1] if index + 1 < len(items) else None
                    # Under a transition a clipitem's in/out reach into the handle the dissolve uses.
                    head = frames_at(prev.in_offset, rate) if isinstance(prev, otio.schema.Transition) else 0
                    tail = frames_at(nxt.out_offset, rate) if isinstance(nxt, otio.schema.Transition) else 0
                    found.append((item.name, *_clip_in_out(item, rate, head, tail)))
    return found


def _clip_in_out(clip: otio.schema.Clip, rate: Fraction, head: int, tail: int) -> tuple[int, int]:
    """xmeml in/out: frames from the media's first frame, at the sequence rate (half-up rescale)."""
    m_rate = media_rate(clip, rate)
    available = clip.media_reference.available_range if clip.media_reference is not None else None
    media_start = frames_at(available.start_time, m_rate) if available is not None else 0
    if clip.source_range is not None:
        offset = frames_at(clip.source_range.start_time, m_rate) - media_start
        duration = frames_at(clip.source_range.duration, rate)
    else:
        offset, duration = 0, frames_at(available.duration, rate)
    if m_rate != rate:
        offset = rescale_frames(offset, m_rate, rate)
    return offset - head, offset + duration + tail


def _written(text: str) -> list[tuple[str, int, int, str]]:
    """(name, in, out, id) of every clipitem in document order, parsed with lxml."""
    root = etree.fromstring(text.encode("utf-8"))
    return [
        (el.findtext("name") or "", int(el.findtext("in")), int(el.findtext("out")), el.get("id"))
        for el in root.iter("clipitem")
    ]


def _check(path: Path) -> int:
    """Write every timeline in ``path`` as xmeml v4 and v5 and compare; returns the clipitems checked."""
    _, timelines = read_timelines(path)
    checked = 0
    for timeline in timelines:
        expected = _expected(timeline.tracks, timeline_rate(timeline))
        for version in (4, 5):
            # v4 through write_files (which deep-copies), v5 through the adapter on a deep copy.
            text = (
                render_timeline(timeline, "xml")[0][1]
                if version == 4
                else otio.adapters.write_to_string(copy.deepcopy(timeline), "mb_xmeml", version=5)
            )
            written = _written(text)
            ids = [w[3] for w in written]
            assert len(ids) == len(set(ids)), f"{path.name} v{version}: repeated clipitem ids"
            root = etree.fromstring(text.encode("utf-8"))
            refs = {el.text for el in root.iter("linkclipref")}
            assert refs <= set(ids), f"{path.name} v{version}: <link> to a clipitem that does not exist"
            assert [w[:3] for w in written] == expected, f"{path.name} v{version}: clipitem in/out differ"
            checked += len(written)
    return checked


@pytest.mark.parametrize("path", _LOCAL, ids=lambda p: p.name)
def test_every_clipitem_has_its_own_id_and_its_own_in_out(path: Path) -> None:
    assert _check(path) > 0


@pytest.mark.corpus
@pytest.mark.parametrize("name", _SHARED)
def test_gpl_corpus_clipitems_have_their_own_id_and_in_out(name: str) -> None:
    path = SHARED_CORPUS / name
    if not path.is_file():
        pytest.skip("../shared/corpus is not present on this machine")
    assert _check(path) > 0


def test_convert_cli_path_gives_dawfilekit_2997_clips_their_own_in_out(tmp_path: Path) -> None:
    """The reported repro, through ``convert``: every TestVideo clipitem starts where its clip does."""
    src = TEST_DATA / "fcpxml" / "DAWFileKit__29.97d.fcpxml"
    out = tmp_path / "x.xml"
    convert(src, out, ConvertOptions())
    _, (timeline,) = read_timelines(src)
    expected = _expected(timeline.tracks, timeline_rate(timeline))
    written = _written(out.read_text(encoding="utf-8"))
    assert [w[:3] for w in written] == expected
    assert len({w[3] for w in written}) == len(written)
