"""Shot search: ranking over words, descriptions and names; `montage-bridge search` on real speech."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from analysis.models import AnalysisResult, ClipAnalysis, Shot, Transcript, TranscriptSegment, Word
from kernel.ffmpeg_tools import ffmpeg_path
from kernel.media import MediaItem
from planner.shot_search import SearchError, ShotIndex, search_shots, stem, tokens
from tests.conftest import REPO, run_cli

SPEECH = REPO / "tests" / "data" / "speech" / "hello_fox.opus"


def clip(
    clip_id: str,
    descriptions: list[str | None],
    *,
    seconds: float = 4.0,
    words: list[tuple[float, str]] | None = None,
    name: str | None = None,
) -> ClipAnalysis:
    """A 25 fps clip of equal shots ``seconds`` long, with a description each and words said at times."""
    frames = round(seconds * 25)
    shots = [Shot(start=k * frames, end=(k + 1) * frames, description=d) for k, d in enumerate(descriptions)]
    media = MediaItem(
        path=Path(f"/footage/{name or clip_id + '.mp4'}"),
        name=name or f"{clip_id}.mp4",
        rate=Fraction(25),
        frames=frames * len(descriptions),
        duration_seconds=seconds * len(descriptions),
    )
    transcript = None
    if words:
        ws = [Word(start=t, end=t + 0.3, text=f" {w}") for t, w in words]
        transcript = Transcript(
            language="en",
            model="test",
            segments=[
                TranscriptSegment(start=ws[0].start, end=ws[-1].end, text=" ".join(w for _, w in words), words=ws)
            ],
        )
    return ClipAnalysis(id=clip_id, media=media, shots=shots, transcript=transcript)


def test_tokens_meet_their_base_words() -> None:
    assert tokens("Dogs running on the beaches") == tokens("a dog runs on a beach") == ["dog", "run", "beach"]
    assert tokens("BeachSunset_02.MP4") == ["beach", "sunset", "02"]
    for a, b in [("skies", "sky"), ("cities", "city"), ("dancing", "dance"), ("falling", "fall"), ("boxes", "box")]:
        assert stem(a) == stem(b), (a, b)
    assert stem("glass") == "glass" and stem("bus") == "bus"


def test_the_shot_that_shows_it_all_ranks_first() -> None:
    analysis = AnalysisResult(
        clips=[
            clip(
                "a",
                [
                    "A dog sleeps on a sofa in a living room.",
                    "A brown dog runs along a sandy beach, waves behind it.",
                    "Waves roll onto an empty beach at sunset.",
                ],
            ),
            clip("b", ["A city street at night with neon signs.", "Traffic on a bridge, aerial view."]),
        ]
    )
    hits = search_shots(analysis, "dogs running on the beach")
    assert [(h.clip_id, h.shot) for h in hits] == [("a", 1), ("a", 0), ("a", 2)]
    best = hits[0]
    assert best.score == 1.0 and best.matched == ["dogs", "running", "beach"]
    assert (best.source_in_seconds, best.source_out_seconds) == (4.0, 8.0)  # no words: the whole shot
    assert "described as 'A brown dog runs along a sandy beach" in best.why
    assert all(0 < h.score < 1 for h in hits[1:])
    # The rarer word counts more: "dog" is in 2 shots, "beach" in 2, "sofa" in 1.
    assert search_shots(analysis, "sofa beach")[0].shot == 0
    assert search_shots(analysis, "giraffe") == []
    # Equal shares: BM25's length normalisation puts the shorter (more focused) description first.
    assert [h.shot for h in search_shots(analysis, "beach", limit=2)] == [2, 1]
    assert search_shots(analysis, "dog beach sunset", min_score=0.5)[0].shot in (1, 2)


def test_spoken_words_give_the_source_range() -> None:
    said = [(0.5, "hello"), (1.0, "and"), (1.3, "welcome"), (5.2, "the"), (5.5, "quick"), (5.9, "brown"), (6.3, "fox")]
    said += [(6.8, "jumps"), (21.0, "fox")]  # a lone later "fox", far from the rest
    analysis = AnalysisResult(clips=[clip("talk", [None, None, None, None, None, None], words=said)])
    hits = search_shots(analysis, "the quick brown fox")
    top = hits[0]
    assert top.shot == 1 and top.matched == ["quick", "brown", "fox"]
    assert top.source_in_seconds == pytest.approx(5.25) and top.source_out_seconds == pytest.approx(6.85)
    assert "said 'quick' at 5.5 s, 'brown' at 5.9 s, 'fox' at 6.3 s" in top.why
    assert (top.shot_in_seconds, top.shot_out_seconds) == (4.0, 8.0)
    lone = hits[1]
    assert lone.shot == 5 and (lone.source_in_seconds, lone.source_out_seconds) == (20.75, 21.55)
    # Words near a cut stay inside their shot.
    hello = search_shots(analysis, "hello")[0]
    assert hello.shot == 0 and hello.source_in_seconds == 0.25


def test_file_names_and_audio_only_clips() -> None:
    silent = clip("c1", [None], name="Beach_Sunset_02.mov")
    voice = clip("memo", [None], words=[(1.0, "sunset"), (1.5, "colours")], name="memo.m4a")
    voice.media.has_video = False
    voice.shots = []
    analysis = AnalysisResult(clips=[silent, voice])
    hits = {h.clip_id: h for h in search_shots(analysis, "sunset")}
    assert "file name Beach_Sunset_02.mov (sunset)" in hits["c1"].why
    assert hits["memo"].shot is None and not hits["memo"].has_video
    assert hits["memo"].source_in_seconds == pytest.approx(0.75)


def test_queries_that_cannot_be_searched() -> None:
    index = ShotIndex(AnalysisResult(clips=[clip("a", ["A dog."])]))
    with pytest.raises(SearchError, match="has no words to search for"):
        index.search("the of and ...")
    with pytest.raises(SearchError, match="at most 2000"):
        index.search("dog " * 1000)
    assert ShotIndex(AnalysisResult(clips=[])).search("dog") == []


# ------------------------------------------------------------------------- the CLI on real speech


@pytest.fixture(scope="module")
def speech_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fox.mp4: grey picture with espeak-ng speech ("Hello and welcome to the montage bridge. The quick
    brown fox jumps over the lazy dog."); Beach_Sunset.mp4: a silent orange picture."""
    folder = tmp_path_factory.mktemp("search-footage")
    ff = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-y"]
    subprocess.run(
        ff
        + ["-f", "lavfi", "-i", "color=c=gray:s=160x90:r=10:d=7.1", "-i", str(SPEECH), "-shortest"]
        + ["-c:v", "libx264", "-c:a", "aac", str(folder / "fox.mp4")],
        check=True,
    )
    subprocess.run(
        ff
        + [
            "-f",
            "lavfi",
            "-i",
            "color=c=orange:s=160x90:r=10:d=2",
            "-c:v",
            "libx264",
            str(folder / "Beach_Sunset.mp4"),
        ],
        check=True,
    )
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return {"MONTAGE_CACHE_DIR": str(tmp_path_factory.mktemp("search-cache"))}


def test_search_cli_json_finds_the_spoken_words(speech_folder: Path, cache: dict[str, str]) -> None:
    proc = run_cli("search", "quick brown fox", str(speech_folder), "--json", env=cache)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "montage-bridge/search@1" and doc["ok"] is True
    result = doc["result"]
    assert (result["clips"], result["with_speech"], result["described"]) == (2, 1, 0)
    top = result["hits"][0]
    assert top["clip_id"] == "fox" and top["matched"] == ["quick", "brown", "fox"]
    # espeak-ng said it at about 3.3-4.3 s (after 0.7 s of silence and the first sentence).
    assert 2.4 <= top["source_in_seconds"] < top["source_out_seconds"] <= 5.6
    assert top["source_out_seconds"] - top["source_in_seconds"] < 2.5
    assert "said 'quick' at" in top["why"]

    table = run_cli("search", "sunset", str(speech_folder), "--limit", "5", env=cache)  # all from the cache now
    assert table.returncode == 0, table.stderr
    assert "Beach_Sunset.mp4" in table.stdout and "file name Beach_Sunset.mp4 (sunset)" in table.stdout
    assert "fox.mp4" not in table.stdout


def test_search_in_process_and_errors(
    speech_folder: Path, cache: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from montage_bridge.cli import main

    monkeypatch.setenv("MONTAGE_CACHE_DIR", cache["MONTAGE_CACHE_DIR"])
    fox = search_json(main, capsys, "quick brown fox", str(speech_folder))
    hello = search_json(main, capsys, "hello welcome", str(speech_folder))
    first = hello["result"]["hits"][0]
    assert first["clip_id"] == "fox" and first["source_out_seconds"] < fox["result"]["hits"][0]["source_in_seconds"]

    # An analysis JSON (analyze --output) is searched as it is, descriptions included.
    saved = speech_folder.parent / "analysis.json"
    saved.write_text(AnalysisResult(clips=[clip("kids", [None, "Children build a sandcastle."])]).model_dump_json())
    found = search_json(main, capsys, "sandcastles", str(saved))["result"]["hits"]
    assert [(h["clip_id"], h["shot"], h["source_in_seconds"]) for h in found] == [("kids", 1, 4.0)]

    assert main(["search", "giraffe", str(speech_folder)]) == 0
    assert "no shot matches 'giraffe'" in capsys.readouterr().out

    assert main(["search", "the and of", str(speech_folder)]) == 2
    assert "has no words to search for" in capsys.readouterr().err
    assert main(["search", "dog", str(speech_folder / "nope"), "--json"]) == 2
    failed = json.loads(capsys.readouterr().out)
    assert failed["ok"] is False and "no such folder or file to search" in failed["error"]["message"]


def search_json(main, capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[no-untyped-def]
    code = main(["search", *args, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["ok"], doc
    return doc
