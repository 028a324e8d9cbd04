"""Real FCPXML files (FCP 1.8–1.13, Resolve 1.9, OTIO-written 1.8) read through `mb_fcpxml`.

Every expectation is computed independently from the XML with lxml XPath, not by our reader:
number of timeline items, primary storyline duration, sequence rate and start TC (DF flag), and
which media file each clip links to.
"""

from __future__ import annotations

from collections import Counter
from fractions import Fraction
from pathlib import Path

import opentimelineio as otio
import pytest
from lxml import etree

from kernel.timebase import rate_from_float
from tests.conftest import TEST_DATA

DATA = TEST_DATA / "fcpxml"
LOCAL_FILES = sorted(DATA.glob("*.fcpxml"))
GPL_FILES = ("lossless-cut__FCPXML_1_9.fcpxml",)  # read from ../shared/corpus only

STORY = ("asset-clip", "video", "audio", "clip", "sync-clip", "ref-clip", "mc-clip", "title", "audition")
MEDIA = ("asset-clip", "video", "audio")
_IS_STORY = " or ".join(f"self::{t}" for t in STORY)
# Items that become timeline items: on a storyline (child of a spine) or connected (has a lane),
# and not inside a compound clip or an audition (those belong to the item that holds them). A
# sync clip is not an item: its components are (its content, and the clips connected inside it,
# a plain clip within it laid out the same way).
_IN_SYNC = "ancestor::sync-clip"
COUNTED = (
    f".//*[{_IS_STORY}][not(self::sync-clip) and not(self::clip and {_IN_SYNC})]"
    f"[parent::spine or @lane or parent::sync-clip or (parent::clip and {_IN_SYNC})]"
    f"[not(ancestor::clip[not({_IN_SYNC})] or ancestor::audition)]"
)


def _t(text: str | None, default: Fraction | None = None) -> Fraction:
    if text is None:
        assert default is not None
        return default
    assert text.endswith("s"), text
    return Fraction(text[:-1])


def _single_media(container):
    """The one media item a compound/sync clip stands for: its only content item, or the only item
    anchored to its only content gap (FCP's clip › gap › audio shape); None otherwise."""
    content = [c for c in container if c.get("lane") is None and (c.tag in STORY or c.tag in ("spine", "gap"))]
    if len(content) != 1:
        return None
    if content[0].tag in MEDIA:
        return content[0]
    if content[0].tag == "gap":
        anchored = [a for a in content[0] if a.get("lane") is not None]
        if len(anchored) == 1 and anchored[0].tag in MEDIA:
            return anchored[0]
    return None


class Expected:
    """What the XML says about one project, computed with XPath."""

    def __init__(self, root, project) -> None:
        formats = {f.get("id"): f for f in root.iter("format")}
        self.assets = {}
        for a in root.iter("asset"):
            src = a.get("src") or (a.xpath("media-rep[not(@kind) or @kind='original-media']/@src") or [None])[0]
            fmt = formats.get(a.get("format"))
            self.assets[a.get("id")] = (src, _t(a.get("start"), Fraction(0)), fmt)
        seq = project.find("sequence")
        fmt = formats[seq.get("format")]
        self.rate = 1 / _t(fmt.get("frameDuration"))
        self.start_frames = _t(seq.get("tcStart"), Fraction(0)) * self.rate
        self.drop = seq.get("tcFormat") == "DF"
        spine = seq.find("spine")
        total = Fraction(0)
        for child in spine:
            if child.tag in STORY or child.tag == "gap":
                total += self._duration(child)
        self.primary_frames = total * self.rate
        counted = seq.xpath(COUNTED)
        self.items = len(counted)
        urls = []
        self.mc_angle_urls: list[set[str]] = []
        # Retimed items: (speed, media seconds at the item's start) from the first and last timept.
        self.retimes: list[tuple[Fraction, Fraction]] = []
        for el in counted:
            points = sorted((_t(p.get("time")), _t(p.get("value"))) for p in el.xpath("timeMap/timept"))
            if len(points) >= 2:
                (t0, v0), (t1, v1) = points[0], points[-1]
                speed = (v1 - v0) / (t1 - t0)
                self.retimes.append((speed, v0 + (_t(el.get("start"), Fraction(0)) - t0) * speed))
        for el in counted:
            if el.tag == "audition":  # the active pick is the first child
                el = next(c for c in el if c.tag in STORY)
            if el.tag in MEDIA and el.get("ref") in self.assets:
                urls.append(self.assets[el.get("ref")][0])
            elif el.tag in ("clip", "sync-clip"):
                media = _single_media(el)
                if media is not None and media.get("ref") in self.assets:
                    urls.append(self.assets[media.get("ref")][0])
            elif el.tag == "mc-clip":
                media = root.xpath(f"//media[@id='{el.get('ref')}']")[0]
                refs = media.xpath(".//mc-angle//*[@ref]/@ref")
                self.mc_angle_urls.append({self.assets[r][0] for r in refs if r in self.assets})
        self.urls = Counter(urls)

    def _duration(self, el) -> Fraction:
        if el.tag == "audition":
            return self._duration(next(c for c in el if c.tag in STORY))
        if el.get("duration") is None and el.tag == "asset-clip":
            asset = el.getroottree().xpath(f"//asset[@id='{el.get('ref')}']")[0]
            return _t(asset.get("duration"))
        return _t(el.get("duration"))


def _timelines(result) -> list[otio.schema.Timeline]:
    if isinstance(result, otio.schema.Timeline):
        return [result]
    assert isinstance(result, otio.schema.SerializableCollection)
    return list(result)


def _frames(t: otio.opentime.RationalTime, rate: Fraction) -> Fraction:
    return Fraction(t.value).limit_denominator(10**6) / rate_from_float(t.rate) * rate


def check_file(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    projects = root.xpath("//project")
    result = otio.adapters.read_from_file(str(path), adapter_name="mb_fcpxml")
    timelines = _timelines(result)
    assert len(timelines) == len(projects), "one timeline per project"
    for project, timeline in zip(projects, timelines):
        want = Expected(root, project)
        meta = timeline.metadata["montage_bridge"]
        assert Fraction(meta["rate"]) == want.rate
        assert rate_from_float(timeline.global_start_time.rate) == want.rate
        assert timeline.global_start_time.value == want.start_frames
        assert meta["drop_frame"] is want.drop
        top = [c for t in timeline.tracks for c in t if not isinstance(c, (otio.schema.Gap, otio.schema.Transition))]
        assert len(top) == want.items, f"{project.get('name')}: timeline items"
        primary = [t for t in timeline.tracks if t.metadata["fcpxml"]["lane"] == 0]
        assert len(primary) == 1
        assert _frames(primary[0].duration(), want.rate) == want.primary_frames
        linked = [c for c in top if isinstance(getattr(c, "media_reference", None), otio.schema.ExternalReference)]
        mc = [c for c in linked if "multicam" in c.metadata.get("fcpxml", {})]
        plain = [c for c in linked if "multicam" not in c.metadata.get("fcpxml", {})]
        assert Counter(c.media_reference.target_url for c in plain) == want.urls
        assert len(mc) == len(want.mc_angle_urls)
        warped = [(c, e) for c in top for e in getattr(c, "effects", []) if isinstance(e, otio.schema.LinearTimeWarp)]
        assert len(warped) == len(want.retimes), f"{project.get('name')}: retimed clips"
        ours = sorted((e.time_scalar, c.source_range.start_time) for c, e in warped)
        for (scalar, start), (speed, media_in) in zip(ours, sorted(want.retimes)):
            assert scalar == pytest.approx(float(speed), rel=1e-9)
            assert abs(Fraction(start.value) - media_in * rate_from_float(start.rate)) <= Fraction(1, 2)
        for clip, angle_urls in zip(mc, want.mc_angle_urls):
            assert clip.media_reference.target_url in angle_urls
        for clip in linked:
            # available_range = the asset's start (embedded TC) at the asset's own rate.
            src_assets = [a for a in want.assets.values() if a[0] == clip.media_reference.target_url]
            starts = {s for _, s, _ in src_assets}
            avail = clip.media_reference.available_range
            assert Fraction(avail.start_time.value).limit_denominator(10**6) / rate_from_float(
                avail.start_time.rate
            ) in {
                Fraction(round(s * rate_from_float(avail.start_time.rate))) / rate_from_float(avail.start_time.rate)
                for s in starts
            }


@pytest.mark.parametrize("path", LOCAL_FILES, ids=lambda p: p.name)
def test_corpus_file_matches_its_xml(path: Path) -> None:
    check_file(path)


@pytest.mark.corpus
@pytest.mark.parametrize("name", GPL_FILES)
def test_gpl_corpus_file_matches_its_xml(shared_corpus: Path, name: str) -> None:
    check_file(shared_corpus / "fcpxml" / name)


def test_every_shared_fcpxml_reads(shared_corpus: Path) -> None:
    files = sorted((shared_corpus / "fcpxml").glob("*.fcpxml"))
    assert len(files) >= 14
    for path in files:
        check_file(path)


def test_resolve_export_links_every_clip(shared_corpus: Path) -> None:
    # Upstream fcpx_xml reads all 173 clips of this Resolve 1.9 export as MissingReference.
    timeline = otio.adapters.read_from_file(str(shared_corpus / "fcpxml" / GPL_FILES[0]), adapter_name="mb_fcpxml")
    clips = list(timeline.find_clips())
    assert len(clips) == 173
    assert all(isinstance(c.media_reference, otio.schema.ExternalReference) for c in clips)
    assert timeline.global_start_time.value == 90000 and timeline.global_start_time.rate == 25


def test_specific_facts() -> None:
    """Facts a reader of the files checked by hand (not derived from our reader)."""
    ntsc = otio.adapters.read_from_file(str(DATA / "DAWFileKit__29.97d.fcpxml"), adapter_name="mb_fcpxml")
    assert ntsc.metadata["montage_bridge"]["rate"] == "30000/1001"
    assert ntsc.metadata["montage_bridge"]["drop_frame"] is True
    mixed = otio.adapters.read_from_file(str(DATA / "DAWFileKit__24With25Media.fcpxml"), adapter_name="mb_fcpxml")
    assert mixed.metadata["montage_bridge"]["start_timecode"] == "01:00:00:00"
    first = mixed.video_tracks()[0].find_clips()[0]
    # asset-clip start="684/25s" at 25 fps media = frame 684; duration 9/4 s = 54 frames at 24.
    assert first.source_range.start_time.value == 684 and first.source_range.start_time.rate == 25
    assert first.source_range.duration.value == 54 and first.source_range.duration.rate == 24
    assert mixed.video_tracks()[0].range_of_child(first).start_time.value == 240  # after a 10 s gap
    assert [m.name for m in first.markers] == ["Marker 1"]
    assert first.markers[0].marked_range.start_time.value == 685  # 137/5 s at 25 fps
    assert list(first.metadata["fcpxml"]["keywords"]) == ["keyword1", "keyword2"]
    transitions = otio.adapters.read_from_file(str(DATA / "DAWFileKit__TransitionMarkers1.fcpxml"))
    kinds = [type(c).__name__ for c in transitions.tracks[0]]
    assert kinds.count("Transition") == 4
    titles = [c for c in transitions.find_clips() if isinstance(c.media_reference, otio.schema.GeneratorReference)]
    assert titles and all(c.media_reference.generator_kind == "fcpx_title" for c in titles)
    sync = otio.adapters.read_from_file(str(DATA / "DAWFileKit__SyncClip.fcpxml"))
    # The sync clip's components are layers: its video on V1, the synced audio (lane -1) on A1.
    (video,) = sync.video_tracks()[0].find_clips()
    (audio,) = sync.audio_tracks()[0].find_clips()
    assert video.media_reference.target_url.endswith("TestVideo.m4v")
    assert audio.media_reference.target_url.endswith("TestAudio.wav")
    assert (
        video.metadata["fcpxml"]["sync_clip"]
        == audio.metadata["fcpxml"]["sync_clip"]
        == ("TestVideo - Synchronized Clip")
    )
    assert video.metadata["fcpxml"]["videoRole"] == "Sample Role"
    multicam = otio.adapters.read_from_file(str(DATA / "DAWFileKit__MulticamMarkers.fcpxml"))
    angles = [c.metadata["fcpxml"] for c in multicam.find_clips()]
    # mc-source angleIDs in the file: the first mc-clip shows angle D (Cam 4), the second B (Cam 2).
    assert [(a["active_video_angle"], a["asset"]) for a in angles] == [("D", "Cam 4"), ("B", "Cam 2")]
    assert all(list(a["angles"]) == ["A", "B", "C", "D", "Music Angle"] for a in angles)
    compound = otio.adapters.read_from_file(str(DATA / "DAWFileKit__CompoundClips.fcpxml"))
    assert all(isinstance(c, otio.schema.Stack) for c in compound.tracks[0])
