"""Talking-head and highlights planners on synthetic transcripts and scored shots."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.models import AnalysisResult, TimeSpan
from kernel.timebase import seconds_to_frames
from planner.brief import Brief
from planner.heuristic import plan_heuristic
from planner.style import load_style
from planner.validate import plan_problems
from tests.planner.synth import INTERVIEW_WORDS, RATES, clip_specs, make_clip, make_music, speech

INTERVIEW = speech(INTERVIEW_WORDS)


def interview_clip(rate: Fraction = Fraction(25), shots: list[int] | None = None):
    return make_clip(0, rate, shots or [int(14 * rate)], transcript=INTERVIEW)


def _kept_seconds(plan, clip):
    rate = clip.media.rate
    return [(c.source_in / float(rate), c.source_out / float(rate)) for c in plan.cuts if c.kind == "video"]


def test_silences_and_fillers_go_sentences_stay() -> None:
    clip = interview_clip()
    analysis = AnalysisResult(clips=[clip])
    brief = Brief(mode="talking head", padding_seconds=0.1)
    plan = plan_heuristic(analysis, brief, load_style("vlog"))
    assert plan_problems(plan, analysis, brief=brief) == []
    kept = _kept_seconds(plan, clip)

    def covered(t: float) -> bool:
        return any(a <= t < b for a, b in kept)

    for t in (1.1, 2.6, 3.5, 6.1, 7.3, 10.2, 11.2):  # every real word is kept
        assert covered(t), t
    for t in (1.45, 2.0, 4.5, 6.85, 8.5):  # filler "um", the pause, the gap, "uh", the silence are cut
        assert not covered(t), t
    assert plan.cuts[0].record_in == 0
    for a, b in zip(plan.cuts, plan.cuts[1:]):
        assert a.record_out == b.record_in
    assert plan.duration_frames < seconds_to_frames(8, plan.rate)


def test_trim_to_target_keeps_whole_key_sentences() -> None:
    clip = interview_clip()
    brief = Brief(mode="talking_head", target_duration_seconds=2.0, key_messages=["budgets matter"])
    plan = plan_heuristic(AnalysisResult(clips=[clip]), brief, load_style("documentary"))
    kept = _kept_seconds(plan, clip)
    assert kept and all(a >= 9.5 for a, _ in kept)  # only the key sentence, whole
    assert any(m.kind == "note" for m in plan.markers)


def test_ranges_split_at_hard_cuts_and_jl_cuts() -> None:
    clip = interview_clip(Fraction(25), shots=[int(6.5 * 25), int(7.5 * 25)])
    analysis = AnalysisResult(clips=[clip])
    brief = Brief(mode="talking_head", jl_cut_frames=4)
    plan = plan_heuristic(analysis, brief, load_style("vlog"))
    assert plan_problems(plan, analysis, brief=brief) == []
    video = [c for c in plan.cuts if c.kind == "video"]
    audio = [c for c in plan.cuts if c.kind == "audio"]
    assert audio and len(audio) == len(video)
    assert {c.record_in for c in video} != {c.record_in for c in audio}  # the picture leads or lags
    assert video[-1].record_out == audio[-1].record_out


def test_no_transcript_falls_back_to_silences() -> None:
    clip = make_clip(0, Fraction(25), [250])
    clip.silences = [TimeSpan(start=2.0, end=5.0)]
    brief = Brief(mode="talking_head", padding_seconds=0.2)
    plan = plan_heuristic(AnalysisResult(clips=[clip]), brief, load_style("vlog"))
    assert plan.duration_frames == 250 - 75 + 2 * 5  # the 3 s silence goes, 0.2 s of room stays each side
    assert any("transcript" in w for w in plan.warnings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clip_specs, st.floats(min_value=2, max_value=30), st.booleans(), st.sampled_from(["dynamic", "documentary"]))
def test_highlights_properties(specs, target, with_music, style_name) -> None:
    clips = [make_clip(i, rate, lengths, q) for i, (rate, lengths, q) in enumerate(specs)]
    music = make_music(120, 40) if with_music else None
    analysis = AnalysisResult(clips=clips, music=music)
    brief = Brief(mode="highlights", target_duration_seconds=target)
    style = load_style(style_name)
    try:
        plan = plan_heuristic(analysis, brief, style)
    except Exception as exc:  # only the planner's own one-line error is acceptable
        assert type(exc).__name__ == "PlanningError", exc
        return
    assert plan_problems(plan, analysis, style=style, brief=brief) == []
    keys = [(c.clip_id, c.source_in) for c in plan.cuts]
    assert len(keys) == len(set(keys))
    if music is not None:
        beats = {seconds_to_frames(b, plan.rate) for b in music.beat_grid.beats}
        assert all(c.record_in == 0 or c.record_in in beats for c in plan.cuts)


def test_highlights_pick_the_best_shots_in_story_order() -> None:
    scores = [(0.2, 0.5), (0.95, 0.5), (0.3, 0.5), (0.9, 0.5)]
    clips = [make_clip(i, RATES[2], [100] * 4, scores) for i in range(2)]
    plan = plan_heuristic(
        AnalysisResult(clips=clips), Brief(mode="highlights", target_duration_seconds=15), load_style("documentary")
    )
    shots = [(c.clip_id, c.source_in // 100) for c in plan.cuts]
    assert shots == [("clip0", 1), ("clip0", 3), ("clip1", 1), ("clip1", 3)]


word_gaps = st.lists(
    st.tuples(st.floats(min_value=0.02, max_value=1.5), st.floats(min_value=0.1, max_value=0.8), st.booleans()),
    min_size=1,
    max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    word_gaps,
    st.integers(min_value=1, max_value=5),
    st.sampled_from(RATES),
    st.floats(min_value=0, max_value=0.3),
    st.one_of(st.none(), st.floats(min_value=1, max_value=20)),
    st.integers(min_value=0, max_value=6),
    st.lists(st.integers(min_value=30, max_value=300), min_size=1, max_size=4),
)
def test_talking_head_properties(words, per_sentence, rate, pad, target, jl, shots) -> None:
    t, sentence, sentences, fillers = 0.2, [], [], []
    for k, (gap, length, filler) in enumerate(words):
        t += gap
        word = (t, t + length, "um" if filler else f"w{k}")
        if filler:
            fillers.append(word)
        sentence.append(word)
        t += length
        if len(sentence) == per_sentence:
            sentences.append(sentence)
            sentence = []
    if sentence:
        sentences.append(sentence)
    frames = int((t + 1) * rate) + 1
    shot_lengths = [max(1, frames * s // sum(shots)) for s in shots]
    shot_lengths[-1] += frames - sum(shot_lengths)
    clip = make_clip(0, rate, shot_lengths, transcript=speech(sentences))
    analysis = AnalysisResult(clips=[clip])
    brief = Brief(mode="talking_head", padding_seconds=pad, target_duration_seconds=target, jl_cut_frames=jl)
    style = load_style("vlog")
    try:
        plan = plan_heuristic(analysis, brief, style)
    except Exception as exc:
        assert type(exc).__name__ == "PlanningError" and "\n" not in str(exc)
        return
    assert plan_problems(plan, analysis, style=style, brief=brief) == []
    audio = [c for c in plan.cuts if c.kind == "audio"] or [c for c in plan.cuts if c.kind == "video"]
    for a, b in zip(audio, audio[1:]):
        assert a.record_out == b.record_in  # speech plays without gaps or overlaps
    fps = float(clip.media.rate)
    for start, end, _ in fillers:  # the middle of every filler word is cut out of the sound
        mid = int((start + end) / 2 * fps)
        assert not any(c.source_in < mid < c.source_out - 1 for c in audio)
    if target is None:
        real = [w for s in sentences for w in s if w[2] != "um"]
        for start, end, _ in real:  # every real word is kept
            mid = (start + end) / 2 * fps
            assert any(c.source_in <= mid < c.source_out for c in audio)
