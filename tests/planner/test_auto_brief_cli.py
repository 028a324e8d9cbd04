"""`montage-bridge auto` with --brief, --style and --llm on the generated sample media."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from kernel.timebase import rate_from_float
from tests.conftest import run_cli
from tests.planner.fake_llm import Answer, FakeLLMServer


def test_auto_with_brief_style_and_llm_fallback(sample_media: Path, facts: dict, tmp_path: Path) -> None:
    brief = tmp_path / "brief.toml"
    brief.write_text(f'name = "Brief Cut"\nduration = 12\nmusic = "{sample_media / "music.wav"}"\nstyle = "vlog"\n')
    out = tmp_path / "out"
    with FakeLLMServer(lambda task, body: Answer(status=500)) as server:
        proc = run_cli(
            "auto",
            str(sample_media / "footage"),
            "--brief",
            str(brief),
            "--style",
            "cinematic",
            "--llm",
            "--formats",
            "otio",
            "-o",
            str(out),
            env={"MONTAGE_LLM_BASE_URL": server.base_url, "MONTAGE_LLM_RETRIES": "0"},
        )
    assert proc.returncode == 0, proc.stderr
    assert "LLM planner" in proc.stderr and "HTTP 500" in proc.stderr
    assert "cinematic" in proc.stdout
    timeline = otio.adapters.read_from_file(str(out / "Brief Cut.otio"))
    assert timeline.metadata["montage_bridge"]["planner"] == "heuristic.music_montage/1"
    rate = rate_from_float(timeline.global_start_time.rate)
    seconds = timeline.duration().to_seconds()
    assert abs(seconds - 12) <= 60 / facts["music"]["tempo_bpm"] + 1 / float(rate)
    beats = [round(b * rate) for b in facts["music"]["beats"]]
    video = timeline.video_tracks()[0]
    for clip in video.find_clips():
        start = int(video.range_of_child(clip).start_time.rescaled_to(float(rate)).value)
        if start > 0:
            assert min(abs(start - b) for b in beats) <= 1
