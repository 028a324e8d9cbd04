"""Shot descriptions against a real OpenAI-compatible HTTP server (tests/planner/fake_llm.py).

The clip is four flat colour shots, so each frame the model receives can be checked: the image in the
request is decoded with OpenCV (not our code) and must be the colour of the shot it claims to be.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.cache import AnalysisCache
from analysis.describe import (
    GIVE_UP_AFTER,
    MAX_DESCRIPTION_CHARS,
    DescribeError,
    VisionSettings,
    describe_shots,
    parse_reply,
)
from analysis.models import AnalysisResult, ClipAnalysis, Shot
from kernel.ffmpeg_tools import ffmpeg_path
from kernel.probe import probe_media
from planner.llm_config import load_llm_config
from tests.planner.fake_llm import Answer, FakeLLMServer, message_images, message_text

COLOURS = ["red", "blue", "green", "yellow"]
BGR = {"red": (0, 0, 255), "blue": (255, 0, 0), "green": (0, 128, 0), "yellow": (0, 255, 255)}


def make_colour_clip(target: Path, seconds: float) -> Path:
    """Four shots of flat colour, ``seconds`` each, at 10 fps: red, blue, green, yellow."""
    graph = ";".join(f"color=c={c}:s=160x90:r=10:d={seconds},format=yuv420p[v{i}]" for i, c in enumerate(COLOURS))
    graph += ";" + "".join(f"[v{i}]" for i in range(len(COLOURS))) + f"concat=n={len(COLOURS)}:v=1:a=0[out]"
    subprocess.run(
        [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y", "-filter_complex", graph, "-map", "[out]"]
        + ["-c:v", "libx264", "-g", "5", str(target)],
        check=True,
    )
    return target


@pytest.fixture(scope="module")
def colour_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four 0.5 s shots (frames 0-4 red, 5-9 blue, 10-14 green, 15-19 yellow)."""
    return make_colour_clip(tmp_path_factory.mktemp("describe") / "colours.mp4", 0.5)


def make_analysis(path: Path) -> AnalysisResult:
    media = probe_media(path)
    shots = [Shot(start=5 * i, end=5 * (i + 1)) for i in range(len(COLOURS))]
    return AnalysisResult(clips=[ClipAnalysis(id="colours", media=media, shots=shots)])


def colour_of(uri: str) -> str:
    """The named colour nearest the mean of a data-URI JPEG, decoded by OpenCV."""
    assert uri.startswith("data:image/jpeg;base64,")
    picture = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[0] > 0
    mean = picture.reshape(-1, 3).mean(axis=0)
    return min(BGR, key=lambda name: float(np.linalg.norm(mean - np.array(BGR[name]))))


def describing_responder(seen: list[str]):
    """Answers with the colour it was shown (so a description proves which frame was sent)."""

    def respond(task: str, body: dict) -> Answer:
        user = [m for m in body["messages"] if m["role"] == "user"][-1]
        images = message_images(user["content"])
        colour = colour_of(images[0])
        seen.append(colour)
        return Answer(json.dumps({"description": f"A flat {colour} card fills a static wide frame."}))

    return respond


def settings(server: FakeLLMServer, **kw: object) -> VisionSettings:
    fields: dict = {"model": "fake-vision", "base_url": server.base_url, "max_retries": 0, **kw}
    return VisionSettings(**fields)


def test_each_shot_is_described_from_its_own_frame_and_cached(colour_clip: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    with FakeLLMServer(describing_responder(seen)) as server, AnalysisCache(tmp_path / "cache") as cache:
        analysis = make_analysis(colour_clip)
        report = describe_shots(analysis, settings(server), cache)
        assert (report.described, report.calls, report.failed, report.cached) == (4, 4, 0, 0)
        assert seen == COLOURS  # the frame sent for shot k is shot k's picture
        assert [s.description for s in analysis.clips[0].shots] == [
            f"A flat {c} card fills a static wide frame." for c in COLOURS
        ]
        body = server.requests[0]
        assert body["model"] == "fake-vision" and body["max_tokens"] == 200
        assert message_text(body["messages"][-1]["content"]).startswith("Task: describe shot\nFile colours.mp4")

        # A fresh analysis of the same file: everything comes from the cache, no request is made.
        again = make_analysis(colour_clip)
        second = describe_shots(again, settings(server), cache)
        assert (second.calls, second.cached, second.described) == (0, 4, 0)
        assert len(server.requests) == 4
        assert [s.description for s in again.clips[0].shots] == [s.description for s in analysis.clips[0].shots]

        # Another model is another key: it is asked again.
        third = describe_shots(make_analysis(colour_clip), settings(server, model="other-vision"), cache)
        assert third.calls == 4 and len(server.requests) == 8


def test_several_frames_per_shot_and_the_thumbnail(colour_clip: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    with FakeLLMServer(describing_responder(seen)) as server:
        analysis = make_analysis(colour_clip)
        describe_shots(analysis, settings(server, frames_per_shot=2))
        for body, colour in zip(server.requests, COLOURS):
            images = message_images(body["messages"][-1]["content"])
            assert [colour_of(u) for u in images] == [colour, colour]

        # With one frame asked, a shot's thumbnail is what is sent (here a white picture).
        thumb = tmp_path / "thumb.jpg"
        cv2.imwrite(str(thumb), np.full((300, 900, 3), 255, np.uint8))
        analysis = make_analysis(colour_clip)
        analysis.clips[0].shots[0].thumbnail = thumb
        server.requests.clear()
        seen.clear()
        describe_shots(analysis, settings(server))
        first = message_images(server.requests[0]["messages"][-1]["content"])[0]
        picture = cv2.imdecode(np.frombuffer(base64.b64decode(first.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape[:2] == (171, 512)  # scaled to fit 512 px
        assert picture.mean() > 250
        assert seen[1:] == COLOURS[1:]


HOSTILE = {
    "huge": Answer(json.dumps({"description": "x " * 60_000})),
    "prose": Answer("Sure! This is a red card."),
    "broken": Answer('{"description": "a red card"'),
    "wrong key": Answer(json.dumps({"caption": "a red card"})),
    "wrong type": Answer(json.dumps({"description": ["a", "red", "card"]})),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_replies_leave_the_shot_undescribed(colour_clip: Path, tmp_path: Path, kind: str) -> None:
    with FakeLLMServer(lambda task, body: HOSTILE[kind]) as server, AnalysisCache(tmp_path / "cache") as cache:
        analysis = make_analysis(colour_clip)
        report = describe_shots(analysis, settings(server), cache)
        # Three failures in a row stop the run; the fourth shot is never asked.
        assert report.failed == GIVE_UP_AFTER and report.calls == GIVE_UP_AFTER and report.skipped == 1
        assert all(s.description is None for s in analysis.clips[0].shots)
        assert len(report.warnings) == GIVE_UP_AFTER + 1
        assert "colours shot 1: no description (the reply" in report.warnings[0]
        assert "stopped: 3 requests in a row failed; 1 shot(s) left undescribed" in report.warnings[-1]
        # Nothing bad was cached: the next run asks again.
        assert cache.count() == 0


def test_control_characters_and_length_are_cleaned() -> None:
    nasty = "A red\x1b[31m card\u202e on\x00 a\n\n\ttable.\u200b"
    assert parse_reply(json.dumps({"description": nasty, "extra": 1})) == "A red[31m card on a table."
    long = parse_reply(json.dumps({"description": "word " * 500}))
    assert len(long) <= MAX_DESCRIPTION_CHARS and long.endswith("word…")
    assert parse_reply('Here you go:\n```json\n{"description": "A dog."}\n```') == "A dog."
    for bad, reason in [
        ("", "not a JSON object"),
        ('{"description": "\\u0000\\u0001"}', "does not fit the schema"),
        ("{" + " " * 30_000 + "}", "characters long"),
    ]:
        with pytest.raises(ValueError, match=reason):
            parse_reply(bad)


def test_server_errors_and_a_dripping_server_are_bounded(colour_clip: Path) -> None:
    with FakeLLMServer(lambda task, body: Answer(status=500)) as server:
        report = describe_shots(make_analysis(colour_clip), settings(server))
        assert report.failed == GIVE_UP_AFTER and "HTTP 500" in report.warnings[0]
    good = json.dumps({"description": "A slow answer."})
    with FakeLLMServer(lambda task, body: Answer(good, drip=0.2)) as server:
        analysis = make_analysis(colour_clip)
        analysis.clips[0].shots = analysis.clips[0].shots[:1]
        report = describe_shots(analysis, settings(server, timeout_seconds=0.5))
        assert report.failed == 1 and "no answer in time" in report.warnings[0]


def test_no_vision_model_means_no_descriptions(colour_clip: Path) -> None:
    analysis = make_analysis(colour_clip)
    report = describe_shots(analysis, None)
    assert (report.calls, report.described, report.warnings) == (0, 0, [])
    assert all(s.description is None for s in analysis.clips[0].shots)
    assert load_llm_config(env={}).vision_settings() is None
    cfg = load_llm_config(env={"MONTAGE_LLM_VISION_MODEL": "llava", "MONTAGE_LLM_BASE_URL": "http://h:1/v1"})
    vision = cfg.vision_settings()
    assert vision is not None and vision.model == "llava" and vision.base_url == "http://h:1/v1"
    with pytest.raises(DescribeError, match="no API key for shot descriptions"):
        VisionSettings(model="gpt-4o").client_key()


def test_search_command_describes_once_and_finds_by_description(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`montage-bridge search --vision-model`: the shots are described (from the analysis thumbnails),
    the descriptions are searched, and a second search asks the model nothing."""
    from montage_bridge.cli import main

    folder = tmp_path / "footage"
    folder.mkdir()
    make_colour_clip(folder / "colours.mp4", 1.5)  # long enough for the shot detector to cut each colour
    monkeypatch.setenv("MONTAGE_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[str] = []
    with FakeLLMServer(describing_responder(seen)) as server:
        args = ["search", "yellow card", str(folder), "--no-speech", "--json"]
        args += ["--vision-model", "fake-vision", "--llm-base-url", server.base_url]
        assert main(args) == 0
        doc = json.loads(capsys.readouterr().out)
        asked = len(server.requests)
        assert asked == 4 and doc["result"]["described"] == 4 and seen == COLOURS
        top = doc["result"]["hits"][0]
        assert "described as 'A flat yellow card" in top["why"] and top["matched"] == ["yellow", "card"]
        assert top["source_in_seconds"] == pytest.approx(4.5, abs=0.15) and top["source_out_seconds"] == 6.0
        assert main(args) == 0
        again = json.loads(capsys.readouterr().out)
        assert len(server.requests) == asked and again["result"]["hits"] == doc["result"]["hits"]


def test_a_missing_file_is_skipped_with_a_warning(colour_clip: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone.mp4"
    gone.write_bytes(colour_clip.read_bytes())
    with FakeLLMServer(describing_responder([])) as server, AnalysisCache(tmp_path / "cache") as cache:
        analysis = make_analysis(gone)
        gone.unlink()
        report = describe_shots(analysis, settings(server))  # no cache: the frames are what is missing
        assert report.calls == 0 and report.skipped == 4
        assert report.warnings[0] == "colours shot 1: no frame could be read to describe it"
        report = describe_shots(analysis, settings(server), cache)  # the cache needs its fingerprint first
        assert report.calls == 0 and report.skipped == 4
        assert report.warnings[0].startswith(f"colours: cannot read {gone} to describe it")
