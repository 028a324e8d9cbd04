"""Shot sourcing: footage when it matches, generation when nothing does, bridges, no reuse, reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.models import AnalysisResult
from planner.brief import Brief, BriefError, load_brief
from planner.llm_schemas import BeatSheet, ShotList, ShotPick, StoryBeat
from planner.production import ProductionPlan, ShotNeed
from planner.sourcing import (
    chooser_from_tools,
    needs_from_beats,
    needs_from_brief,
    needs_from_descriptions,
    needs_from_shot_list,
    source_shots,
)
from planner.tool_catalogue import ToolCatalogue
from tests.planner.test_shot_search import clip


@pytest.fixture
def catalogue(tmp_path: Path):
    with ToolCatalogue(tmp_path / "tools.sqlite") as cat:
        yield cat


def footage() -> AnalysisResult:
    """Two clips of 4 s shots (25 fps): a beach day and a city night, and an interview with words."""
    return AnalysisResult(
        clips=[
            clip(
                "beach",
                [
                    "A brown dog runs along a sandy beach, waves behind it.",
                    "Children build a sandcastle on the beach.",
                    "Waves roll onto an empty beach at sunset.",
                ],
            ),
            clip("city", ["A city street at night with neon signs and traffic.", "A skyline of towers at dusk."]),
            clip(
                "interview",
                [None, None],
                words=[(0.5, "we"), (0.8, "started"), (1.2, "the"), (1.4, "bakery"), (2.0, "in"), (2.2, "2019")],
            ),
        ]
    )


def need(index: int, text: str, seconds: float = 3.0, beat: str | None = None) -> ShotNeed:
    return ShotNeed(index=index, description=text, seconds=seconds, beat=beat)


def no_overlaps(plan: ProductionPlan) -> None:
    ranges: dict[str, list[tuple[float, float]]] = {}
    for shot in plan.shots:
        s = shot.source
        if s.kind == "footage":
            assert s.clip_id is not None and s.source_in_seconds is not None and s.source_out_seconds is not None
            assert s.source_out_seconds - s.source_in_seconds == pytest.approx(shot.need.seconds, abs=0.02)
            ranges.setdefault(s.clip_id, []).append((s.source_in_seconds, s.source_out_seconds))
    for spans in ranges.values():
        spans.sort()
        for (_, a_out), (b_in, _) in zip(spans, spans[1:]):
            assert a_out <= b_in + 1e-6, spans


def test_footage_when_it_matches(catalogue: ToolCatalogue) -> None:
    plan = source_shots([need(0, "a dog running on the beach")], footage(), Brief(name="Day"), catalogue)
    shot = plan.shots[0]
    src = shot.source
    assert src.kind == "footage" and src.clip_id == "beach"
    assert 0.0 <= src.source_in_seconds < src.source_out_seconds <= 4.0  # type: ignore[operator]
    assert src.match_score == 1.0
    assert src.reason.startswith("best match: beach.mp4") and "described as 'A brown dog runs" in src.reason
    # Alternatives: other beach shots (lower scores), then generation as the last resort.
    kinds = [a.kind for a in shot.alternatives]
    assert kinds[0] == "footage" and kinds[-1] == "generate"
    assert plan.name == "Day" and plan.currency == "USD" and plan.notes[0].startswith("1 shot(s) from footage")


def test_spoken_words_pick_the_range(catalogue: ToolCatalogue) -> None:
    plan = source_shots([need(0, "we started the bakery", seconds=2.0)], footage(), Brief(), catalogue)
    src = plan.shots[0].source
    assert src.kind == "footage" and src.clip_id == "interview"
    # "started" at 0.8 s … "bakery" ends at 1.7 s: the 2 s range holds them.
    assert src.source_in_seconds <= 0.8 and src.source_out_seconds >= 1.7  # type: ignore[operator]
    assert "said 'started' at 0.8 s" in src.reason


def test_generates_when_nothing_matches(catalogue: ToolCatalogue) -> None:
    plan = source_shots([need(0, "a giraffe eating leaves")], footage(), Brief(), catalogue)
    shot = plan.shots[0]
    src = shot.source
    assert src.kind == "generate" and src.mode == "text_to_video"
    assert src.tool == "generate-wan2.1-t2v-14b"  # the best quality text-to-video tool of the shipped catalogue
    assert src.prompt == "a giraffe eating leaves"
    assert src.reason.startswith("no footage matches its words; generate 'a giraffe eating leaves'")
    # A cheaper tool for the same shot, and a title card as the last resort.
    assert shot.alternatives[0].kind == "generate" and shot.alternatives[0].tool == "generate-cogvideox-5b"
    assert shot.alternatives[-1].kind == "title"


def test_image_to_video_from_the_closest_shot(catalogue: ToolCatalogue) -> None:
    plan = source_shots([need(0, "a dog on a snowy mountain")], footage(), Brief(), catalogue)
    src = plan.shots[0].source
    assert src.kind == "generate" and src.mode == "image_to_video"
    assert src.image is not None and src.image.clip_id == "beach" and 0 <= src.image.seconds < 4.0
    assert "no footage matches well enough (best: beach.mp4" in src.reason
    assert "image-to-video from the closest shot's frame" in src.reason
    # Footage that matched in part stays an alternative (so the estimate can swap to it when over budget).
    assert any(a.kind == "footage" and a.clip_id == "beach" for a in plan.shots[0].alternatives)


def test_a_transition_bridges_the_shots_around_it(catalogue: ToolCatalogue) -> None:
    needs = [
        need(0, "a dog running on the beach"),
        need(1, "transition from the beach to the city", seconds=2.0),
        need(2, "city street at night with neon", seconds=3.0),
    ]
    plan = source_shots(needs, footage(), Brief(), catalogue)
    before, bridge, after = (s.source for s in plan.shots)
    assert before.kind == after.kind == "footage" and after.clip_id == "city"
    assert bridge.kind == "generate" and bridge.mode == "first_last_frame"
    assert bridge.tool == "generate-wan2.1-flf2v-14b-720p"
    assert bridge.image is not None and bridge.last_image is not None
    assert bridge.image.clip_id == "beach" and bridge.image.seconds == pytest.approx(before.source_out_seconds - 0.04)
    assert bridge.last_image.clip_id == "city" and bridge.last_image.seconds == after.source_in_seconds
    assert bridge.reason.startswith("transition: a bridge from the last frame of beach")

    # With a generated neighbour there is nothing to bridge: the transition is sourced like any shot.
    needs[2] = need(2, "a giraffe eating leaves")
    plan = source_shots(needs, footage(), Brief(), catalogue)
    assert plan.shots[1].source.mode != "first_last_frame"


def test_never_reuses_a_range(catalogue: ToolCatalogue) -> None:
    needs = [need(k, "dog running on the beach", seconds=1.5) for k in range(4)]
    plan = source_shots(needs, footage(), Brief(), catalogue)
    # The one 4 s dog shot holds two 1.5 s ranges, one after the other; the others cannot have it again.
    first, second = (s.source for s in plan.shots[:2])
    assert (first.kind, first.clip_id, first.source_in_seconds, first.source_out_seconds) == (
        "footage",
        "beach",
        0,
        1.5,
    )
    assert (second.kind, second.clip_id, second.source_in_seconds, second.source_out_seconds) == (
        "footage",
        "beach",
        1.5,
        3.0,
    )
    assert [s.source.kind for s in plan.shots[2:]] == ["generate", "generate"]
    no_overlaps(plan)
    third = plan.shots[2].source
    assert third.kind == "generate"
    assert "(beach.mp4 shot at 0.00 s, score 1.00) has no 1.5 s left that an earlier shot does not use" in third.reason
    short = source_shots([need(0, "dog running on the beach", seconds=6)], footage(), Brief(), catalogue)
    assert "is 4.00 s long, shorter than the 6 s needed" in short.shots[0].source.reason


WORDS = ["dog", "beach", "waves", "city", "night", "sunset", "children", "skyline", "bakery", "giraffe"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), st.floats(0.5, 5.0)),
        min_size=1,
        max_size=8,
    )
)
def test_no_range_is_used_twice_and_every_shot_has_a_reason(spec: list[tuple[list[str], float]]) -> None:
    needs = [need(k, " ".join(words), round(seconds, 2)) for k, (words, seconds) in enumerate(spec)]
    choose = chooser_from_tools([("t2v", ["text_to_video"]), ("i2v", ["image_to_video"])])
    plan = source_shots(needs, footage(), Brief(), choose_tool=choose)
    assert [s.need.index for s in plan.shots] == list(range(len(needs)))
    no_overlaps(plan)
    for shot in plan.shots:
        assert shot.source.reason
        assert all(a.reason for a in shot.alternatives)
        if shot.source.kind == "footage":
            assert shot.source.match_score is not None and shot.source.match_score >= 0.45


def test_titles_and_no_generation_tools() -> None:
    needs = [need(0, 'Title card: "Summer 2026"'), need(1, "a giraffe eating leaves")]
    plan = source_shots(needs, footage(), Brief(budget=5, deadline_seconds=600))
    title, fallback = (s.source for s in plan.shots)
    assert title.kind == "title" and title.text == "Summer 2026" and "asks for on-screen text" in title.reason
    assert fallback.kind == "title" and "no tool that generates video" in fallback.reason
    assert "no generation tool is available: shots without footage are title cards" in plan.notes
    assert (plan.budget, plan.deadline_seconds) == (5, 600)


def test_needs_from_a_brief_a_beat_sheet_and_a_shot_list(tmp_path: Path) -> None:
    path = tmp_path / "brief.toml"
    path.write_text(
        'name = "Day"\nduration = 12\nshots = ["a dog on the beach", "  city at night ", "title: The End"]\n'
    )
    needs = needs_from_brief(load_brief(path))
    assert [(n.index, n.description, n.seconds) for n in needs] == [
        (0, "a dog on the beach", 4.0),
        (1, "city at night", 4.0),
        (2, "title: The End", 4.0),
    ]
    assert [n.seconds for n in needs_from_descriptions(["a", "b"])] == [4.0, 4.0]
    path.write_text('shots = ["ok", ""]\n')
    with pytest.raises(BriefError, match="shots.1"):
        load_brief(path)

    beats = BeatSheet(beats=[StoryBeat(title="Hook", purpose="a dog runs into the sea", target_seconds=5)])
    assert needs_from_beats(beats) == [
        ShotNeed(index=0, description="Hook: a dog runs into the sea", seconds=5, beat="Hook")
    ]

    shots = ShotList(
        shots=[
            ShotPick(clip_id="beach", source_in_seconds=4.5, source_out_seconds=6.0, reason=""),
            ShotPick(clip_id="city", source_in_seconds=0, source_out_seconds=2, reason="neon street"),
        ]
    )
    needs = needs_from_shot_list(shots, footage(), beat="Hook")
    assert needs[0].description == "Children build a sandcastle on the beach." and needs[0].seconds == 1.5
    assert needs[1].description == "neon street" and needs[1].beat == "Hook"
