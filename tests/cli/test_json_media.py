"""`--json` on the commands that work on footage (auto, analyze, plan, render, proxies, show), run as a
user runs them on generated sample media; every document is validated against its published schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.json_checks import progress_lines, run_json


@pytest.fixture(scope="module")
def auto_run(sample_media: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    """One `auto --render --resolve --json --progress json` run (fake Resolve): (document, stderr, folder)."""
    out = tmp_path_factory.mktemp("auto-json") / "out"
    env = {"MONTAGE_RESOLVE": "fake", "MONTAGE_RESOLVE_PROFILE": "studio-19"}
    doc, proc = run_json(
        "auto",
        str(sample_media / "footage"),
        "--music",
        str(sample_media / "music.wav"),
        "--duration",
        "4",
        "--formats",
        "otio,fcpxml",
        "--output",
        str(out),
        "--render",
        "--resolve",
        "--progress",
        "json",
        env=env,
    )
    return doc, proc.stderr, out


def test_auto_json_holds_the_edit_the_files_the_render_and_the_resolve_build(auto_run, facts: dict) -> None:
    doc, stderr, out = auto_run
    result = doc["result"]
    assert result["rate"] == "24000/1001" and result["clips_analyzed"] == len(facts["clips"])
    assert [Path(p).name for p in result["files"]] == ["footage.otio", "footage.fcpxml"]
    assert all(Path(p).is_file() for p in [*result["files"], *result["picture"]])
    assert result["cuts_on_beat"] is not None and 0 < result["cuts_on_beat"] <= result["cut_points"]
    assert abs(result["duration_seconds"] - 4) < 0.1
    render = result["render"]
    assert Path(render["output"]) == out / "footage.mp4" and Path(render["output"]).is_file()
    assert render["frames"] == result["duration_frames"] and render["checked"] and render["failures"] == []
    resolve = result["resolve"]
    assert resolve["ok"] and resolve["clips_placed"] == resolve["clips_expected"] > 0
    # --json with --progress json: stdout held only the document; the progress lines went to stderr.
    lines = progress_lines(stderr)
    assert {"analysis", "planning", "writing", "render"} <= {line["task"] for line in lines}
    assert all(line["command"] == "auto" for line in lines)


def test_show_json_names_the_picture_auto_drew(auto_run) -> None:
    _, _, out = auto_run
    doc, _ = run_json("show", str(out / "footage.otio"), "--no-open")
    assert doc["result"] == {
        "page": str((out / "edit.html").resolve()),
        "url": (out / "edit.html").resolve().as_uri(),
        "opened": False,
    }


def test_render_json_alone(auto_run, tmp_path: Path) -> None:
    _, _, out = auto_run
    target = tmp_path / "small.mp4"
    doc, proc = run_json("render", str(out), "-o", str(target), "--size", "320x180", "--no-check")
    result = doc["result"]
    assert Path(result["output"]) == target and target.is_file()
    assert (result["width"], result["height"]) == (320, 180) and result["checked"] is False
    assert result["loudness_before"]["integrated_lufs"] < 0
    assert progress_lines(proc.stderr)[-1]["state"] == "done"  # --json makes `--progress auto` JSON lines


def test_a_failed_quality_check_is_ok_false_with_the_result(auto_run, sample_media: Path, tmp_path: Path) -> None:
    """Digital silence where the timeline has music: rendered and kept, exit code 3, kind check_failed."""
    from kernel.ffmpeg_tools import run_ffmpeg

    _, _, out = auto_run
    silent = tmp_path / "silent.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-t", "30", str(silent)])
    text = (out / "footage.otio").read_text(encoding="utf-8")
    assert str(sample_media / "music.wav") in text
    source = tmp_path / "silent.otio"
    source.write_text(text.replace(str(sample_media / "music.wav"), str(silent)), encoding="utf-8")
    target = tmp_path / "silent.mp4"
    doc, _ = run_json("render", str(source), "-o", str(target), "--size", "320x180", "--loudness", "off", exit_code=3)
    assert doc["error"]["kind"] == "check_failed" and target.is_file()
    assert any("silence" in failure for failure in doc["result"]["failures"])
    assert doc["result"]["loudness_after"]["true_peak_dbtp"] is None  # minus infinity: null, as documented


def test_analyze_then_plan_as_json(sample_media: Path, facts: dict, tmp_path: Path) -> None:
    written = tmp_path / "analysis.json"
    doc, _ = run_json("analyze", str(sample_media / "footage"), "-o", str(written))
    result = doc["result"]
    assert result["files"] == len(facts["clips"]) and result["output"] == str(written)
    assert result["analysis"] == json.loads(written.read_text())  # the same analysis as the file
    assert {c["id"] for c in result["analysis"]["clips"]} == {Path(n).stem for n in facts["clips"]}

    plan_file = tmp_path / "cut.plan.json"
    doc, _ = run_json(
        "plan", str(written), "--music", str(sample_media / "music.wav"), "--duration", "5", "-o", str(plan_file)
    )
    result = doc["result"]
    assert result["plan_file"] == str(plan_file) and plan_file.is_file()
    plan = json.loads(plan_file.read_text())
    assert result["duration_frames"] == sum(
        c["record_out"] - c["record_in"] for c in plan["cuts"] if c["kind"] == "video" and c["track"] == 1
    )
    assert result["clips_analyzed"] == len(facts["clips"]) and (tmp_path / "edit.html").is_file()


def test_analyze_and_plan_refuse_bad_input_files_as_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not a movie")
    doc, proc = run_json("analyze", str(broken), exit_code=2)
    assert doc["error"]["kind"] == "failed" and "broken.mp4" in doc["error"]["message"]
    assert "--skip-unreadable" in doc["error"]["message"]
    doc, _ = run_json("plan", str(broken), exit_code=2)
    assert doc["error"]["kind"] == "failed" and "broken.mp4" in doc["error"]["message"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4"]  # nothing written


def test_proxies_json_then_up_to_date(sample_media: Path, facts: dict, tmp_path: Path) -> None:
    import shutil

    footage = tmp_path / "footage"
    shutil.copytree(sample_media / "footage", footage)
    args = (str(footage), "--codec", "h264", "--size", "160x90")
    doc, _ = run_json("proxies", *args)
    result = doc["result"]
    assert (result["codec"], result["max_width"], result["max_height"]) == ("h264", 160, 90)
    assert sorted(Path(p["original"]).name for p in result["proxies"]) == sorted(facts["clips"])
    assert {p["status"] for p in result["proxies"]} == {"made"}
    assert all(Path(p["proxy"]).is_file() for p in result["proxies"])
    again, _ = run_json("proxies", *args)
    assert {p["status"] for p in again["result"]["proxies"]} == {"up to date"}
    doc, _ = run_json("proxies", str(tmp_path / "nothing"), exit_code=2)
    assert doc["error"]["kind"] == "usage" and "no such file or folder" in doc["error"]["message"]
