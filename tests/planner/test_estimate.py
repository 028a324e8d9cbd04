"""Estimates before spending (#20): per-shot and total GPU seconds, money and wall time from the tool
catalogue and the worker's queue, and the brief's budget and deadline enforced by changing sources.

Expected figures are worked out by hand from the tools' figures in each test (round numbers: a price
of 3.6 per GPU-hour is 0.001 per GPU-second)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.estimate import EstimateError, QueueState, estimate_plan, fit_plan
from planner.production import ImageRef, LLMUsage, ProductionPlan, ProductionShot, ShotNeed, ShotSource
from planner.tool_catalogue import ToolCatalogue, ToolSpec
from tests.conftest import REPO, run_cli


def _tool(
    id: str, rate: float, *, quality: float, overhead: float = 0.0, modes=("text_to_video",), **extra
) -> ToolSpec:
    return ToolSpec(id=id, op="generate", model=id, modes=list(modes), max_seconds=5.0, quality=quality,
                    gpu_s_per_output_s=rate, wall_s_per_output_s=rate, fixed_overhead_s=overhead,
                    wall_overhead_s=0.0, **extra)  # fmt: skip


@pytest.fixture
def cat(tmp_path: Path):
    """Only three generators, with figures chosen for hand arithmetic (the shipped ones are shadowed)."""
    with ToolCatalogue(tmp_path / "tools.sqlite", seed=_seed(tmp_path)) as catalogue:
        catalogue.set_price(3.6)
        catalogue.add_tool(_tool("best", 100.0, quality=0.9, overhead=10.0, modes=("text_to_video", "image_to_video")))
        catalogue.add_tool(_tool("good", 40.0, quality=0.7, overhead=10.0))
        catalogue.add_tool(_tool("fast", 10.0, quality=0.4))
        yield catalogue


def _seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed.json"
    path.write_text('{"format": 1, "tools": []}')
    return path


def gen(index: int, tool: str, seconds: float = 4.0, alternatives: list[ShotSource] | None = None) -> ProductionShot:
    return ProductionShot(
        need=ShotNeed(index=index, description=f"shot {index}", seconds=seconds),
        source=ShotSource(
            kind="generate", reason="nothing in the footage", tool=tool, mode="text_to_video", prompt=f"shot {index}"
        ),  # fmt: skip
        alternatives=alternatives or [],
    )


FOOTAGE = ShotSource(kind="footage", reason="close enough", clip_id="beach.mov", source_in_seconds=2.0,
                     source_out_seconds=6.0, match_score=0.7)  # fmt: skip
TITLE = ProductionShot(
    need=ShotNeed(index=9, description="title", seconds=3.0),
    source=ShotSource(kind="title", reason="r", text="The End"),
)


def test_per_shot_and_total_figures(cat: ToolCatalogue) -> None:
    plan = ProductionPlan(shots=[gen(0, "best"), gen(1, "fast", seconds=2.0), TITLE])
    out = estimate_plan(plan, cat)
    best, fast, title = (s.estimate for s in out.shots)
    assert best.gpu_seconds == pytest.approx(10 + 100 * 4) and best.cost == pytest.approx(0.41)
    assert fast.gpu_seconds == pytest.approx(20) and fast.cost == pytest.approx(0.02)
    assert title.gpu_seconds == 0 and title.cost == 0 and title.wall_seconds == 0
    # One slot (no worker asked): the second shot starts when the first is back.
    assert best.wall_seconds == pytest.approx(410) and best.queue_wait_seconds == 0
    assert fast.queue_wait_seconds == pytest.approx(410) and fast.wall_seconds == pytest.approx(430)
    assert out.total.gpu_seconds == pytest.approx(430) and out.total.cost == pytest.approx(0.43)
    assert out.total.wall_seconds == pytest.approx(430) and out.currency == "USD"
    assert not out.total.measured  # user tools carry default figures until bench-tools measures them
    assert any("no worker asked" in n for n in out.notes)
    assert any("default figures" in n and "best" in n and "fast" in n for n in out.notes)
    assert plan.total.cost == 0, "the input plan is left as it was"


def test_a_shot_longer_than_one_job_is_made_in_several(cat: ToolCatalogue) -> None:
    out = estimate_plan(ProductionPlan(shots=[gen(0, "good", seconds=12.0)]), cat, QueueState(slots=3))
    # max_seconds 5 → 3 jobs of 4 s, each 10 + 40*4 = 170 GPU-seconds, side by side on 3 slots.
    assert out.shots[0].estimate.gpu_seconds == pytest.approx(510)
    assert out.shots[0].estimate.wall_seconds == pytest.approx(170)


def test_the_worker_queue_delays_the_plan(cat: ToolCatalogue) -> None:
    queue = QueueState(worker="http://w", slots=2, running_remaining_s=[100.0], queued=2, queued_job_s=50.0)
    out = estimate_plan(ProductionPlan(shots=[gen(0, "fast"), gen(1, "fast")]), cat, queue)
    # Slots free at 0 and 100; the two queued 50 s jobs take 0→50→100; ours start at 100 and 100.
    first, second = (s.estimate for s in out.shots)
    assert first.queue_wait_seconds == pytest.approx(100) and first.wall_seconds == pytest.approx(140)
    assert second.queue_wait_seconds == pytest.approx(100) and second.wall_seconds == pytest.approx(140)
    assert out.total.queue_wait_seconds == pytest.approx(100) and out.total.wall_seconds == pytest.approx(140)
    # The worker's own estimates of when its queued jobs are done: slots free at the two latest ends.
    told = QueueState(slots=2, running_remaining_s=[100.0], queued_done_s=[150.0, 250.0])
    out = estimate_plan(ProductionPlan(shots=[gen(0, "fast"), gen(1, "fast")]), cat, told)
    assert [s.estimate.queue_wait_seconds for s in out.shots] == pytest.approx([150, 190])
    assert out.total.wall_seconds == pytest.approx(190 + 40)  # the second waits for the first, not for 250
    unknown = estimate_plan(ProductionPlan(shots=[gen(0, "fast")]), cat, QueueState(slots=1, queued=3))
    assert unknown.total.queue_wait_seconds == pytest.approx(120)  # 3 jobs assumed as long as ours (40 s)
    assert any("each assumed to take as long as this plan's average job" in n for n in unknown.notes)


def test_a_source_the_catalogue_cannot_make_is_a_clear_error(cat: ToolCatalogue) -> None:
    with pytest.raises(EstimateError, match=r"shot 0: no tool 'ghost'"):
        estimate_plan(ProductionPlan(shots=[gen(0, "ghost")]), cat)
    i2v = gen(3, "fast").model_copy(
        update={
            "source": ShotSource(
                kind="generate",
                reason="r",
                tool="fast",
                mode="image_to_video",
                prompt="p",
                image=ImageRef(clip_id="a", seconds=1.0),
            )
        }  # fmt: skip
    )
    with pytest.raises(EstimateError, match="shot 3: tool fast makes text_to_video, not image_to_video"):
        estimate_plan(ProductionPlan(shots=[i2v]), cat)


def test_within_the_caps_nothing_changes(cat: ToolCatalogue) -> None:
    plan = ProductionPlan(shots=[gen(0, "best")], budget=1.0, deadline_seconds=1000)
    result = fit_plan(plan, cat)
    assert result.fits and result.changes == []
    assert result.plan.shots[0].source.tool == "best"


def test_over_budget_the_cheapest_quality_loss_is_taken_first(cat: ToolCatalogue) -> None:
    plan = ProductionPlan(shots=[gen(0, "best"), gen(1, "best")], budget=0.5)
    result = fit_plan(plan, cat)  # 0.82 at first
    assert result.fits and result.plan.within_budget
    assert result.plan.total.cost <= 0.5
    # best→good on one shot saves 0.24 (0.82 → 0.58, still over); then on the other (→ 0.34): fits.
    # Going straight to "fast" would save more but give up more quality per unit saved.
    assert [s.source.tool for s in result.plan.shots] == ["good", "good"]
    assert len(result.changes) == 2 and all("best" in c and "good" in c for c in result.changes)
    assert result.changes == [n for n in result.plan.notes if n.startswith("shot ")]
    assert any("2 source change(s) made to fit the brief's budget" in n for n in result.plan.notes)


def test_the_footage_alternative_is_used_when_it_loses_least(cat: ToolCatalogue) -> None:
    plan = ProductionPlan(shots=[gen(0, "best", alternatives=[FOOTAGE])], budget=0.05)
    result = fit_plan(plan, cat)
    shot = result.plan.shots[0]
    # fast (quality 0.4, 0.04) fits too but loses more than the footage (match 0.7, free).
    assert result.fits and shot.source == FOOTAGE
    assert shot.alternatives[0].tool == "best", "the generated source stays as the first alternative"
    assert shot.estimate.cost == 0 and result.plan.total.cost == 0
    assert "footage beach.mov 2.00-6.00 s" in result.changes[0]


def test_a_deadline_on_two_slots_needs_both_shots_shortened(cat: ToolCatalogue) -> None:
    # Each shot takes 410 s; side by side on two slots the plan takes 410 s. Shortening one shot alone
    # does not move the end, so only the summed work says the first change helps.
    plan = ProductionPlan(shots=[gen(0, "best"), gen(1, "best")], deadline_seconds=200)
    result = fit_plan(plan, cat, QueueState(slots=2))
    assert result.fits and result.plan.total.wall_seconds <= 200
    assert [s.source.tool for s in result.plan.shots] == ["good", "good"]  # 170 s each
    assert any("to fit the brief's deadline" in n for n in result.plan.notes)


def test_when_nothing_fits_the_plan_says_so(cat: ToolCatalogue) -> None:
    plan = ProductionPlan(shots=[gen(0, "best"), gen(1, "best")], budget=0.01, deadline_seconds=30)
    result = fit_plan(plan, cat)
    assert not result.fits
    assert [s.source.tool for s in result.plan.shots] == ["fast", "fast"]  # as cheap as it gets
    budget = next(n for n in result.plan.notes if n.startswith("cannot fit the budget"))
    assert "0.01 USD" in budget and "0.08" in budget and "give shots 0, 1 footage alternatives" in budget
    deadline = next(n for n in result.plan.notes if n.startswith("cannot meet the deadline"))
    assert "30 s" in deadline and "80 s" in deadline


def test_the_llm_cost_counts_against_the_budget(cat: ToolCatalogue) -> None:
    plan = ProductionPlan(shots=[TITLE], budget=0.10, llm=LLMUsage(calls=3, cost=0.25))
    result = fit_plan(plan, cat)
    assert not result.fits
    note = next(n for n in result.plan.notes if n.startswith("cannot fit the budget"))
    assert "LLM 0.25" in note and "no shot is generated" in note


def test_the_caps_default_to_the_plans_own_and_are_recorded(cat: ToolCatalogue) -> None:
    result = fit_plan(ProductionPlan(shots=[gen(0, "best")]), cat, budget=0.1, deadline_seconds=500)
    assert result.plan.budget == 0.1 and result.plan.deadline_seconds == 500
    assert result.fits and result.plan.shots[0].source.tool == "fast"


# -- `plan --estimate`, as a user runs it ------------------------------------------------------------


def _analysis_and_brief(tmp_path: Path, **brief: object) -> tuple[Path, Path]:
    from tests.planner.test_sourcing import footage

    analysis = tmp_path / "day.json"
    analysis.write_text(footage().model_dump_json())
    fields = {"name": "Day", "mode": "highlights", **brief}
    brief_file = tmp_path / "brief.json"
    brief_file.write_text(json.dumps(fields))
    return analysis, brief_file


SHOTS = ["a dog running on the beach", "a hot air balloon over mountains at dawn", "title: Summer 2026"]


def test_plan_estimate_prints_the_table_and_fits_the_budget(tmp_path: Path) -> None:
    analysis, brief = _analysis_and_brief(tmp_path, shots=SHOTS, budget=0.1)
    env = {"MONTAGE_TOOL_CATALOGUE": str(tmp_path / "tools.sqlite")}
    done = run_cli("plan", str(analysis), "--brief", str(brief), "--estimate", env=env)
    assert done.returncode == 0, done.stderr
    assert "Production estimate — Day: 3 shot(s)" in done.stdout
    assert "budget 0.10 USD" in done.stdout and "(within)" in done.stdout
    plan = ProductionPlan.model_validate_json((tmp_path / "day.production.json").read_text())
    assert [s.source.kind for s in plan.shots] == ["footage", "generate", "title"]
    # The best text-to-video tool costs 0.24 for 4 s at the default price: over 0.10, so a cheaper one.
    assert plan.shots[1].source.tool != "generate-wan2.1-t2v-14b" and plan.within_budget and plan.budget == 0.1
    assert any(n.startswith("shot 1: generate with generate-wan2.1-t2v-14b") for n in plan.notes)
    assert plan.shots[1].estimate.cost == pytest.approx(plan.total.cost) and plan.total.cost > 0
    assert (tmp_path / "day.plan.json").is_file(), "the edit plan is made as without --estimate"


def test_plan_estimate_json_is_the_published_envelope(tmp_path: Path) -> None:
    import jsonschema

    analysis, brief = _analysis_and_brief(tmp_path, shots=SHOTS)
    env = {"MONTAGE_TOOL_CATALOGUE": str(tmp_path / "tools.sqlite")}
    done = run_cli("plan", str(analysis), "--brief", str(brief), "--estimate", "--deadline", "30", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    schema = json.loads((REPO / "docs" / "json-schemas" / "plan.schema.json").read_text())
    jsonschema.validate(doc, schema)
    production = ProductionPlan.model_validate(doc["result"]["production"])
    assert production == ProductionPlan.model_validate_json(Path(doc["result"]["production_file"]).read_text())
    # No tool makes 4 s within 30 s by the default figures (LTX-Video: 15 + 6 * 4 + 5): the shot falls back
    # to its last alternative, a title card, and the notes say why.
    assert production.deadline_seconds == 30 and production.within_deadline
    assert production.shots[1].source.kind == "title"
    assert [a.tool for a in production.shots[1].alternatives[:1]] == ["generate-ltx-video"]
    assert any("to fit the brief's deadline" in n for n in production.notes)
    assert doc["result"]["production_file"].endswith("day.production.json")


def test_plan_estimate_of_a_production_file_and_what_it_refuses(tmp_path: Path) -> None:
    analysis, brief = _analysis_and_brief(tmp_path)  # no shot list
    env = {"MONTAGE_TOOL_CATALOGUE": str(tmp_path / "tools.sqlite")}
    refused = run_cli("plan", str(analysis), "--brief", str(brief), "--estimate", env=env)
    assert refused.returncode == 2 and "the brief has no shot list" in refused.stderr
    assert not (tmp_path / "day.plan.json").exists(), "nothing is written when the estimate cannot be made"
    made = tmp_path / "made.json"
    made.write_text(ProductionPlan(shots=[gen(0, "generate-ltx-video", seconds=8.0)], budget=5.0).model_dump_json())
    done = run_cli("plan", str(analysis), "--brief", str(brief), "--production", str(made), env=env)
    assert done.returncode == 0, done.stderr
    plan = ProductionPlan.model_validate_json((tmp_path / "day.production.json").read_text())
    # LTX-Video by its default figures: 15 + 6 * 8 GPU-seconds (one job: it makes up to 10 s).
    assert plan.total.gpu_seconds == pytest.approx(15 + 6 * 8) and plan.budget == 5.0
    bad = tmp_path / "bad.json"
    bad.write_text('{"shots": [{"need": {"index": 0}}]}')
    broken = run_cli("plan", str(analysis), "--brief", str(brief), "--production", str(bad), env=env)
    assert (
        broken.returncode == 2
        and "--production" in broken.stderr
        and "bad.json: not a production plan" in broken.stderr
    )


def test_fitting_a_long_plan_takes_moments(cat: ToolCatalogue) -> None:
    import time

    alternative = FOOTAGE.model_copy(update={"match_score": 0.3})
    plan = ProductionPlan(shots=[gen(k, "best", alternatives=[alternative]) for k in range(60)], budget=3.0)
    started = time.perf_counter()
    result = fit_plan(plan, cat, QueueState(slots=2), deadline_seconds=4000)
    # 60 shots, dozens of changes: the search re-prices numbers, not models (it took ~30 s before).
    assert time.perf_counter() - started < 10
    assert result.fits and len(result.changes) >= 40 and result.plan.total.cost <= 3.0
