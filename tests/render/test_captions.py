"""Captions: the words that survive the cut, at their record times, in .srt/.vtt and burnt in."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio
import pytest

from analysis.models import Transcript, TranscriptSegment, Word
from render import RenderOptions, render_timeline
from render.captions import MAX_CPS, MAX_LINE, TimedWord, build_cues, retime_words, to_srt, to_vtt
from render.layout import layout_timeline
from tests.render.conftest import R24
from tests.render.media import clip, decode_video, gap, reference, timeline

TEXT = "so this is where the story starts and we walk down to the river before the light goes".split()


def transcript() -> Transcript:
    """Word i of TEXT at 0.2 + 0.4 i .. + 0.3 s of the media (c.mp4)."""
    words = [Word(start=round(0.2 + 0.4 * i, 3), end=round(0.5 + 0.4 * i, 3), text=w) for i, w in enumerate(TEXT)]
    return Transcript(
        language="en",
        model="synthetic",
        segments=[TranscriptSegment(start=0.2, end=words[-1].end, text="", words=words)],
    )


def cut(coded) -> otio.schema.Timeline:
    """Record 0-1.5 s plays media 1.0-2.5 s; a 1.5 s gap; record 3.0-4.0 s plays media 3.875-4.875 s."""
    ref = reference(coded["c"], 0, 144, R24, has_video=True, has_audio=True)
    tracks = []
    for kind, name in (("Video", "V1"), ("Audio", "A1")):
        track = otio.schema.Track(name=name, kind=kind)
        track.append(clip("c", ref, R24, 24, 36, R24))
        track.append(gap(36, R24))
        track.append(clip("c", ref, R24, 93, 24, R24))
        tracks.append(track)
    return timeline("talk", R24, tracks, width=160, height=90)


def expected_words() -> list[tuple[float, float, str]]:
    """Worked by hand from the rule: a word stays when half of it is heard; times clipped to the clip."""
    out = []
    for i in (2, 3, 4, 5):  # media 1.0-2.5: words 2..5 fit whole; 1 and 6 fall outside
        out.append((0.2 + 0.4 * i - 1.0, 0.5 + 0.4 * i - 1.0, TEXT[i]))
    # media 3.875-4.875 at record 3.0: word 9 (3.8-4.1) is 75 % heard -> its start clipped to the cut;
    # word 10 whole; word 11 (4.6-4.9) 92 % heard -> its end clipped; word 12 (5.0-5.3) cut out.
    out.append((3.0, 3.0 + 4.1 - 3.875, TEXT[9]))
    out.append((3.0 + 4.2 - 3.875, 3.0 + 4.5 - 3.875, TEXT[10]))
    out.append((3.0 + 4.6 - 3.875, 4.0, TEXT[11]))
    return out


def test_words_that_survive_the_cut_at_their_record_times(coded):
    layout = layout_timeline(cut(coded))
    words = retime_words(layout, {coded["c"]: transcript()})
    got = [(w.start, w.end, w.text) for w in words]
    want = expected_words()
    assert [w[2] for w in got] == [w[2] for w in want]
    for (s1, e1, _), (s2, e2, _) in zip(got, want):
        assert s1 == pytest.approx(s2, abs=0.001) and e1 == pytest.approx(e2, abs=0.001)


def _srt_cues(text: str) -> list[tuple[float, float, str]]:
    def sec(stamp: str) -> float:
        h, m, s = stamp.replace(",", ".").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        start, end = lines[1].split(" --> ")
        cues.append((sec(start), sec(end), " ".join(lines[2:])))
    return cues


def test_rendered_sidecars_time_the_cues_by_the_surviving_words(coded, tmp_path):
    out = tmp_path / "talk.mp4"
    report = render_timeline(
        cut(coded), out, RenderOptions(transcripts={coded["c"]: transcript()}, captions=True, preset="ultrafast")
    )
    srt, vtt = out.with_suffix(".srt"), out.with_suffix(".vtt")
    assert report.captions == [srt, vtt]
    cues = _srt_cues(srt.read_text())
    want = expected_words()
    # The 1.5 s pause splits the speech into two cues: first word's start to last word's end.
    assert [c[2] for c in cues] == [" ".join(w[2] for w in want[:4]), " ".join(w[2] for w in want[4:])]
    assert cues[0][0] == pytest.approx(want[0][0], abs=0.0011)
    assert cues[0][1] == pytest.approx(want[3][1], abs=0.0011)
    assert cues[1][0] == pytest.approx(want[4][0], abs=0.0011)
    assert cues[1][1] == pytest.approx(want[6][1], abs=0.0011)
    assert vtt.read_text().startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n")


def test_line_length_and_reading_speed():
    words, t = [], 0.0
    for i in range(120):  # a fast talker: 4 words a second
        text = ["captions", "must", "stay", "readable", "whatever", "happens", "in", "the", "edit."][i % 9]
        words.append(TimedWord(round(t, 3), round(t + 0.2, 3), text))
        t += 0.25 if i % 30 else 2.0  # a long pause every 30 words
    cues = build_cues(words, t + 1)
    assert all(len(line) <= MAX_LINE for c in cues for line in c.lines)
    assert all(len(c.lines) <= 2 for c in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:])), "cues never overlap"
    assert " ".join(c.text for c in cues).split() == [w.text for w in words], "no word lost or repeated"
    # Where a pause leaves room, the cue stays up long enough to read at MAX_CPS.
    before_pause = [c for c, n in zip(cues, cues[1:]) if n.start - c.end > 1.0]
    assert before_pause and all(c.cps <= MAX_CPS + 1e-6 for c in before_pause)
    assert to_srt(cues).count(" --> ") == to_vtt(cues).count(" --> ") == len(cues)


def test_burnt_in_captions_change_the_picture_only_under_a_cue(coded, tmp_path):
    plain, burnt = tmp_path / "plain.mp4", tmp_path / "burnt.mp4"
    words = {coded["c"]: transcript()}
    size = (320, 180)
    render_timeline(cut(coded), plain, RenderOptions(preset="ultrafast", crf=10, size=size))
    report = render_timeline(
        cut(coded), burnt, RenderOptions(transcripts=words, burn_captions=True, preset="ultrafast", crf=10, size=size)
    )
    a, b = decode_video(plain), decode_video(burnt)
    assert len(a) == len(b) == report.frames
    assert report.caption_count == 2 and not report.captions  # burnt in only: no sidecars were asked for

    def changed(frame: int, rows: slice) -> int:
        return int((np.abs(a[frame].astype(int) - b[frame].astype(int))[rows] > 40).sum())

    assert changed(12, slice(120, 180)) > 200  # 0.5 s: under the first cue, text in the lower third
    assert changed(12, slice(0, 100)) == 0  # nothing drawn above it
    assert changed(60, slice(0, 180)) == 0  # 2.5 s: between the cues
