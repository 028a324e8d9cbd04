from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import pytest

from analysis.models import AnalysisResult
from nle_adapters import formats as formats_module
from nle_adapters.formats import TimelineFormat
from nle_adapters.plan_to_otio import build_timeline
from nle_adapters.write_files import WriteError, write_timeline_files
from planner.brief import Brief
from planner.heuristic import plan_heuristic
from planner.style import load_style
from tests.planner.synth import make_clip, make_music


def _timeline():
    clips = [make_clip(0, Fraction(25), [100, 100]), make_clip(1, Fraction(25), [100, 100])]
    analysis = AnalysisResult(clips=clips, music=make_music(100, 20))
    return build_timeline(plan_heuristic(analysis, Brief(target_duration_seconds=8), load_style("dynamic")), analysis)


def test_one_failing_format_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(formats_module.FORMATS, "broken", TimelineFormat("broken", ".bad", "no_such_adapter", "Broken"))
    with pytest.raises(WriteError, match="Broken"):
        write_timeline_files(_timeline(), tmp_path, "t", ("otio", "xml", "broken"))
    assert list(tmp_path.iterdir()) == []


def test_writes_every_format_atomically(tmp_path: Path) -> None:
    written = write_timeline_files(_timeline(), tmp_path, "t", ("otio", "xml", "edl"))
    assert sorted(p.name for p in written) == ["t.edl", "t.otio", "t.xml"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.edl", "t.otio", "t.xml"]  # no temp leftovers


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(WriteError, match="not writable"):
        write_timeline_files(_timeline(), locked / "sub", "t", ("otio",))


def test_multi_track_edit_gets_one_edl_per_video_track(tmp_path: Path) -> None:
    """An EDL holds one picture track; a V2 (B-roll, titles) must not be silently dropped."""
    import opentimelineio as otio

    timeline = _timeline()
    v1 = timeline.video_tracks()[0]
    v2 = otio.schema.Track(name="V2", kind=otio.schema.TrackKind.Video)
    v2.append(v1[0].deepcopy())
    timeline.tracks.insert(1, v2)
    written = write_timeline_files(timeline, tmp_path, "t", ("edl",))
    assert [p.name for p in written] == ["t.edl", "t_V2.edl"]
    first = otio.adapters.read_from_file(str(written[0]), "mb_cmx3600")
    second = otio.adapters.read_from_file(str(written[1]), "mb_cmx3600")
    assert len(list(first.video_tracks()[0].find_clips())) == len(list(v1.find_clips()))
    assert len(list(second.video_tracks()[0].find_clips())) == 1
    assert len(timeline.video_tracks()) == 2  # the caller's timeline is untouched
