"""`montage-bridge plan` as a user runs it: analysis JSON + brief file → plan JSON."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from analysis.models import AnalysisResult, MusicSection
from planner.brief import Brief
from planner.models import EditPlan
from planner.style import load_style
from planner.validate import plan_problems
from tests.conftest import run_cli
from tests.planner.fake_llm import Answer, FakeLLMServer
from tests.planner.synth import make_clip, make_music, speech


@pytest.fixture(scope="module")
def analysis_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AnalysisResult]:
    clips = [make_clip(i, Fraction(24000, 1001), [240] * 5, [(0.7, 0.2 * i)]) for i in range(4)]
    clips.append(make_clip(9, Fraction(25), [400], transcript=speech([[(1.0, 1.4, "Hello"), (1.5, 2.0, "world.")]])))
    sections = [
        MusicSection(start=0, end=10, label="intro", energy=0.2),
        MusicSection(start=10, end=40, label="peak", energy=0.9),
    ]
    analysis = AnalysisResult(clips=clips, music=make_music(110, 40, sections=sections))
    path = tmp_path_factory.mktemp("plan-cli") / "analysis.json"
    path.write_text(analysis.model_dump_json(indent=2))
    return path, analysis


def test_plan_from_a_toml_brief(analysis_file, tmp_path: Path) -> None:
    path, analysis = analysis_file
    brief = tmp_path / "brief.toml"
    brief.write_text(
        'name = "Teaser"\nmode = "music montage"\nstyle = "trailer"\nduration = 20\naspect = "1:1"\n'
        'pace = "fast"\nmust_include = ["clip3"]\nkey_messages = ["we build bridges"]\n'
    )
    out = tmp_path / "teaser.plan.json"
    proc = run_cli("plan", str(path), "--brief", str(brief), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "heuristic.music_montage" in proc.stdout and f"wrote {out}" in proc.stdout.replace("\n", "")
    plan = EditPlan.model_validate_json(out.read_text())
    assert (plan.name, plan.style, plan.aspect, plan.width, plan.height) == ("Teaser", "cinematic", "1:1", 1080, 1080)
    assert "clip3" in {c.clip_id for c in plan.cuts}
    style = load_style("cinematic")
    assert plan_problems(plan, analysis, style=style, brief=Brief(target_duration_seconds=20)) == []


def test_flags_override_the_brief_and_default_output(analysis_file, tmp_path: Path) -> None:
    path, _ = analysis_file
    brief = tmp_path / "brief.json"
    brief.write_text(json.dumps({"mode": "highlights", "target_duration_seconds": 30}))
    proc = run_cli("plan", str(path), "--brief", str(brief), "--duration", "8", "--style", "documentary")
    assert proc.returncode == 0, proc.stderr
    plan = EditPlan.model_validate_json(path.with_name("analysis.plan.json").read_text())
    assert plan.mode == "highlights" and plan.style == "documentary"
    assert plan.duration_frames <= round(10 * 24000 / 1001)


def test_talking_head_without_a_brief_file(analysis_file, tmp_path: Path) -> None:
    path, _ = analysis_file
    out = tmp_path / "th.json"
    proc = run_cli("plan", str(path), "--mode", "talking_head", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    plan = EditPlan.model_validate_json(out.read_text())
    assert {c.clip_id for c in plan.cuts} == {"clip9"}


def test_llm_flag_uses_the_configured_server(analysis_file, tmp_path: Path) -> None:
    path, _ = analysis_file
    out = tmp_path / "llm.json"
    with FakeLLMServer(lambda task, body: Answer("{not json")) as server:
        proc = run_cli(
            "plan",
            str(path),
            "--duration",
            "10",
            "--llm",
            "-o",
            str(out),
            env={"MONTAGE_LLM_BASE_URL": server.base_url, "MONTAGE_LLM_MODEL": "tiny", "MONTAGE_LLM_TIMEOUT": "2"},
        )
    assert proc.returncode == 0, proc.stderr
    assert "LLM planner (tiny) failed" in proc.stderr and len(server.requests) == 2
    assert EditPlan.model_validate_json(out.read_text()).planner.startswith("heuristic.")


def _one_error_line(proc) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_bad_inputs_are_one_line_errors_and_write_nothing(analysis_file, tmp_path: Path) -> None:
    path, _ = analysis_file
    out = tmp_path / "never.json"
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"clips": [\n  {"id": 1,,}\n]}')
    assert "line 2" in _one_error_line(run_cli("plan", str(bad_json), "-o", str(out)))
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"clips": [{"id": "a"}]}))
    assert "clips.0.media" in _one_error_line(run_cli("plan", str(wrong), "-o", str(out)))
    brief = tmp_path / "b.toml"
    brief.write_text("duration = -3\n")
    assert "target_duration_seconds" in _one_error_line(run_cli("plan", str(path), "-b", str(brief), "-o", str(out)))
    brief.write_text("duration = [\n")
    assert "b.toml" in _one_error_line(run_cli("plan", str(path), "-b", str(brief), "-o", str(out)))
    line = _one_error_line(run_cli("plan", str(path), "--style", "polka", "-o", str(out)))
    assert "unknown style 'polka'" in line and "dynamic" in line
    assert "no such analysis" in _one_error_line(run_cli("plan", str(tmp_path / "nope.json")))
    assert not out.exists()


def test_user_styles_from_a_folder(analysis_file, tmp_path: Path) -> None:
    path, _ = analysis_file
    styles = tmp_path / "styles"
    styles.mkdir()
    (styles / "slowmo.toml").write_text(
        'name = "slowmo"\n[pacing]\ncut_on = "downbeat"\ncuts_per_bar_low = 0.25\ncuts_per_bar_mid = 0.25\n'
        "cuts_per_bar_high = 0.5\nmax_shot_seconds = 12\n[rules]\nreuse_limit = 1\n"
    )
    out = tmp_path / "slow.json"
    proc = run_cli(
        "plan", str(path), "--style", "slowmo", "-d", "20", "-o", str(out), env={"MONTAGE_BRIDGE_STYLES": str(styles)}
    )
    assert proc.returncode == 0, proc.stderr
    plan = EditPlan.model_validate_json(out.read_text())
    assert plan.style == "slowmo" and len(plan.cuts) <= 8


def test_music_flag_is_analyzed_when_the_analysis_has_none(
    analysis_file, sample_media: Path, facts: dict, tmp_path: Path
) -> None:
    _, analysis = analysis_file
    silent = tmp_path / "no-music.json"
    silent.write_text(analysis.model_copy(update={"music": None}).model_dump_json())
    out = tmp_path / "m.json"
    assert "needs music" in _one_error_line(run_cli("plan", str(silent), "-o", str(out)))
    proc = run_cli("plan", str(silent), "--music", str(sample_media / "music.wav"), "-d", "6", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    plan = EditPlan.model_validate_json(out.read_text())
    assert plan.music is not None and plan.music.path.endswith("music.wav")
    beats = {round(b * plan.rate) for b in facts["music"]["beats"]}
    assert all(c.record_in == 0 or min(abs(c.record_in - b) for b in beats) <= 1 for c in plan.cuts)


def test_auto_refuses_an_audio_sample_rate_as_the_timeline_rate(tmp_path: Path) -> None:
    proc = run_cli("auto", str(tmp_path), "--rate", "48000", "--output", str(tmp_path / "out"))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "audio sample rate" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
