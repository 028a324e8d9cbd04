"""Title cards become real clips (#20): `auto --generate-missing` renders a production plan's title shots with
ffmpeg and cuts them in like generated clips. Checked with readers we did not write: PyAV probes the file
(frames, rate, size, the silent track's samples), OpenCV reads a frame back (text pixels in the middle,
black corners), and the timeline files are parsed with OTIO, ElementTree and the EDL text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from kernel.ffmpeg_tools import run_ffmpeg
from render.title_card import TitleCardError, TitleCardSpec, layout_text, render_title_card
from resolve_bridge.apply import current_project, walk_folders
from resolve_bridge.fake import FakeResolve
from resolve_bridge.timeline_builder import build_in_resolve
from tests.conftest import run_cli

TEXT = 'Chapter "One": 100% \\ done'


def _plan() -> dict:
    return {
        "name": "Titled",
        "shots": [
            {
                "need": {"index": 0, "description": "the opening", "seconds": 2.0},
                "source": {
                    "kind": "footage",
                    "reason": "best match",
                    "clip_id": "wide",
                    "source_in_seconds": 0.0,
                    "source_out_seconds": 2.0,
                },
            },
            {
                "need": {"index": 1, "description": f"title card: {TEXT}", "seconds": 1.5},
                "source": {"kind": "title", "reason": "asks for on-screen text", "text": TEXT},
            },
        ],
    }


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("titles")
    footage = root / "footage"
    footage.mkdir()
    run_ffmpeg(  # picture and stereo sound, so the card needs a silent stereo track
        ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25,trim=duration=4"]
        + ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000,aformat=channel_layouts=stereo"]
        + ["-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"]
        + [str(footage / "wide.mov")]
    )
    brief = root / "brief.toml"
    brief.write_text('name = "Titled"\nmode = "highlights"\nduration = 4\nrate = "25"\n')
    plan = root / "production.json"
    plan.write_text(json.dumps(_plan()))
    return {"root": root, "footage": footage, "brief": brief, "plan": plan}


def _auto(job: dict[str, Path], out: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli(
        "auto",
        str(job["footage"]),
        "--brief",
        str(job["brief"]),
        "--formats",
        "otio,fcpxml,xml,edl",
        "-o",
        str(out),
        "--gpu",
        "http://127.0.0.1:9",  # nothing to generate: the worker is never asked
        "--generate-missing",
        "--production-plan",
        str(job["plan"]),
        "--json",
        "--save-plan",
        env={
            "MONTAGE_CACHE_DIR": str(job["root"] / "cache"),
            "MONTAGE_GPU_STATE": str(job["root"] / "gpu-state"),
            **(env or {}),
        },
        timeout=300,
    )


def _read_back(path: Path) -> tuple[dict, np.ndarray]:
    """What PyAV and OpenCV see in a rendered card."""
    import av
    import cv2

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        facts: dict = {
            "rate": video.average_rate,
            "size": (video.codec_context.width, video.codec_context.height),
        }
        frames = facts["frames"] = sum(1 for _ in container.decode(video))
    with av.open(str(path)) as container:
        audio = container.streams.audio[0] if container.streams.audio else None
        facts["channels"] = audio.codec_context.channels if audio is not None else 0
        facts["sample_rate"] = audio.codec_context.sample_rate if audio is not None else 0
        facts["samples"] = sum(f.samples for f in container.decode(audio)) if audio is not None else 0
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, frames // 2)
    ok, picture = capture.read()
    capture.release()
    assert ok
    return facts, picture


def test_a_title_shot_is_rendered_placed_and_tagged_in_every_format(job: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _auto(job, out)
    assert proc.returncode == 0, proc.stderr
    cards = list((out / "generated").glob("title-002-*.mov"))
    assert len(cards) == 1 and cards[0].name.startswith("title-002-Chapter_One_100_done-")
    card = cards[0]

    facts, picture = _read_back(card)
    edit = json.loads((out / "plan.json").read_text())
    # 1.5 s at 25 fps = 38 frames (nearest frame, half up), at the timeline's size; the silent stereo
    # track lasts exactly as long: 38 / 25 s × 48000 samples.
    assert facts["frames"] == 38 and facts["rate"] == Fraction(25) and str(edit["rate"]) in ("25", "25/1")
    assert facts["size"] == (edit["width"], edit["height"]) == (320, 180)
    assert facts["channels"] == 2 and facts["sample_rate"] == 48000 and facts["samples"] == 72960
    h, w = picture.shape[:2]
    middle = picture[h // 3 : 2 * h // 3, w // 8 : 7 * w // 8]
    assert (middle > 200).any(axis=2).mean() > 0.01  # white text in the middle
    for corner in (picture[:20, :20], picture[:20, -20:], picture[-20:, :20], picture[-20:, -20:]):
        assert corner.max() < 24  # black around it

    # Placed at 2.0 s (frame 50) for 38 frames on video track 1, tagged in OTIO.
    timeline = otio.adapters.read_from_file(str(out / "Titled.otio"))
    track = timeline.video_tracks()[0]
    placed = [
        (c, track.range_of_child(c)) for c in track.find_clips() if "title" in c.metadata.get("montage_bridge", {})
    ]
    assert len(placed) == 1
    clip, span = placed[0]
    assert (span.start_time.to_frames(), span.duration.to_frames()) == (50, 38)
    assert dict(clip.metadata["montage_bridge"]["title"]) == {"text": TEXT}
    assert clip.media_reference.target_url.endswith(card.name)
    assert [m.name for m in clip.markers] == [f"Title: {TEXT}"]

    # FCPXML: the marker on the card's clip; FCP 7 XML: name and comment; EDL: the clip name and the locator.
    root = ET.parse(out / "Titled.fcpxml").getroot()
    values = [
        m.get("value") for el in root.iter("asset-clip") if el.get("name") == card.name for m in el.iter("marker")
    ]
    assert values == [f"Title: {TEXT}"]
    xmeml = ET.parse(out / "Titled.xml").getroot()
    comments = {m.findtext("name"): m.findtext("comment") for m in xmeml.iter("marker")}
    assert comments[f"Title: {TEXT}"] == f"title card: {TEXT}"
    edl = (out / "Titled.edl").read_text()
    assert card.name in edl and "Title: Chapter" in edl

    # Resolve (fake): the card in the "Generated" bin and on the timeline.
    fake = FakeResolve("19")
    built = build_in_resolve(fake, timeline, bins={"Generated": [str(card)]})
    assert built.ok, built.lines()
    pool = current_project(fake).GetMediaPool()
    bins = {
        f.GetName(): [i.GetClipProperty("File Path") for i in f.GetClipList()]
        for f in walk_folders(pool.GetRootFolder())
    }
    assert bins["Generated"] == [str(card)]
    items = current_project(fake).GetCurrentTimeline().GetItemListInTrack("video", 1)
    assert str(card) in {item.GetMediaPoolItem().GetClipProperty("File Path") for item in items}

    # A rerun reuses the card (same text, size, rate, length and sound).
    before = card.stat().st_mtime_ns
    again = _auto(job, out)
    assert again.returncode == 0, again.stderr
    assert card.stat().st_mtime_ns == before


def test_no_font_keeps_the_placeholder_with_a_warning(job: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _auto(job, out, env={"MONTAGE_TITLE_FONT": str(tmp_path / "missing.ttf")})
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    warning = next(w for w in doc["warnings"] if "title card" in w)
    assert "shot 2" in warning and "missing.ttf: no such font file" in warning and "keeps what the planner" in warning
    assert not list((out / "generated").glob("title-*"))
    timeline = otio.adapters.read_from_file(str(out / "Titled.otio"))
    assert not any("title" in c.metadata.get("montage_bridge", {}) for c in timeline.find_clips())
    assert "Traceback" not in proc.stderr


def test_render_title_card_directly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = TitleCardSpec(
        text="A much longer title that has to wrap over more than one line to fit",
        width=640,
        height=360,
        rate="30000/1001",
        frames=7,
        background="#102030",
    )
    lines, size = layout_text(spec.text, spec.width, spec.height)
    assert len(lines) >= 2 and size <= 36
    card = render_title_card(spec, tmp_path / "card.mov")
    facts, picture = _read_back(card)
    assert facts["frames"] == 7 and facts["rate"] == Fraction(30000, 1001) and facts["channels"] == 0
    b, g, r = (int(v) for v in picture[5, 5])
    assert abs(r - 0x10) < 8 and abs(g - 0x20) < 8 and abs(b - 0x30) < 8  # the background colour asked for
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.mov"]  # no .part left behind

    monkeypatch.setenv("MONTAGE_TITLE_FONT", str(tmp_path / "nope.ttf"))
    with pytest.raises(TitleCardError, match="no such font file"):
        render_title_card(spec, tmp_path / "bad.mov")
    with pytest.raises(ValueError, match="not a colour"):
        TitleCardSpec(text="x", width=64, height=64, rate="25", frames=1, background="red;drawtext")
    assert not (tmp_path / "bad.mov").exists()
