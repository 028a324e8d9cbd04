"""The production pipeline over HTTP: a real dashboard server (uvicorn on loopback), a fake OpenAI-compatible
server on a real socket (tests/planner/fake_llm.py), real footage analysis, the real sourcing and estimate.

The SSE streams are read with ``requests`` and parsed here; the final plan is validated with the pydantic
model the planner uses; LLM usage is what the fake server reported, priced with the test's prices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dashboard.app import DashboardConfig
from dashboard.production import LLMPrices, ProductionSettings
from planner.llm_config import LLMConfig
from planner.production import ProductionPlan, ShotNeed
from tests.dashboard.servers import running_dashboard
from tests.planner.fake_llm import Answer, FakeLLMServer

HEADERS = {"X-Montage-Dashboard": "1"}
BEATS = {
    "beats": [
        {"title": "Open", "purpose": "set the scene", "target_seconds": 3},
        {"title": "Close", "purpose": "end it", "target_seconds": 3},
    ]
}
NEEDS = {
    "shots": [
        {"description": "a red ball rolling on wet grass", "seconds": 3, "beat": "Open"},
        {"description": "title card: The End", "seconds": 3, "beat": "Close"},
    ]
}
# 0.01 USD per completion token; the fake server reports 1 prompt + 1 completion token per call, and a call is
# assumed to need 1000 reply tokens before it is made: 10 USD ahead of each call, 0.01 USD spent by it.
PRICES = LLMPrices(prompt_per_million=0.0, completion_per_million=10_000, completion_allowance_tokens=1000)


def _answer(task: str, body: dict) -> Answer:
    if task.startswith("Task: beat_sheet"):
        return Answer(json.dumps(BEATS))
    if task.startswith("Task: shot_needs"):
        return Answer(json.dumps(NEEDS))
    return Answer("not json", status=200)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[str, FakeLLMServer]]:
    with FakeLLMServer(_answer) as llm:
        settings = ProductionSettings(
            llm=LLMConfig(base_url=llm.base_url, model="fake", max_retries=0, timeout_seconds=10),
            prices=PRICES,
            folder=tmp_path / "productions",
        )
        with running_dashboard(DashboardConfig(production=settings)) as url:
            yield url, llm


def events(url: str, path: str, body: dict | None = None) -> list[tuple[str, dict]]:
    """POST ``path`` and read its SSE stream to the end: [(event, data), ...]."""
    response = requests.post(f"{url}{path}", json=body or {}, headers=HEADERS, stream=True, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    out: list[tuple[str, dict]] = []
    event, data = None, None
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and event is not None:
            out.append((event, data or {}))
            event, data = None, None
    return out


def steps(stream: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    return [(d["step"], d["state"]) for e, d in stream if e == "step" and d["state"] != "progress"]


def test_brief_to_production_plan_streams_every_step_and_records_llm_use(servers, tiny: dict) -> None:
    url, llm = servers
    footage = str(Path(tiny["clips"][0]).parent)
    brief = {"name": "Spot", "mode": "highlights", "duration": 6, "budget": 25}
    created = events(url, "/api/production/brief", {"brief": brief, "footage": footage})
    assert steps(created) == [("validate brief", "started"), ("validate brief", "done")]
    kind, result = created[-1]
    assert kind == "result" and result["brief"]["budget"] == 25 and result["footage"] == footage
    pid = result["id"]

    sheet = events(url, f"/api/production/{pid}/beat-sheet")
    assert steps(sheet) == [
        ("analyze footage", "started"),
        ("analyze footage", "done"),
        ("beat sheet", "started"),
        ("beat sheet", "done"),
    ]
    assert [d["detail"] for e, d in sheet if e == "step" and d["state"] == "progress"]  # one per clip
    assert [d for e, d in sheet if e == "usage"] == [
        {"calls": 1, "prompt_tokens": 1, "completion_tokens": 1, "cost": 0.01}
    ]
    kind, result = sheet[-1]
    assert kind == "result" and [b["title"] for b in result["beat_sheet"]["beats"]] == ["Open", "Close"]
    prompt = llm.requests[0]["messages"][-1]["content"]
    assert prompt.startswith("Task: beat_sheet") and '"clip0"' in prompt  # the footage's summary went along

    shots = events(url, f"/api/production/{pid}/shot-list")
    analysed = [("analyze footage", "started"), ("analyze footage", "done")]  # from the analysis cache
    assert steps(shots) == [("shot list", "started"), *analysed, ("shot list", "done")]
    kind, result = shots[-1]
    assert kind == "result", result
    needs = [ShotNeed.model_validate(s) for s in result["shots"]]
    assert [(n.index, n.seconds, n.beat) for n in needs] == [(0, 3.0, "Open"), (1, 3.0, "Close")]
    assert result["llm"] == {"calls": 2, "prompt_tokens": 2, "completion_tokens": 2, "cost": 0.02}

    planned = events(url, f"/api/production/{pid}/plan")
    assert steps(planned) == [
        *analysed,
        ("source shots", "started"),
        ("source shots", "done"),
        ("estimate", "started"),
        ("estimate", "done"),
    ]
    kind, result = planned[-1]
    assert kind == "result", result
    plan = ProductionPlan.model_validate(result["plan"])
    assert [s.need.description for s in plan.shots] == [n.description for n in needs]
    assert plan.shots[1].source.kind == "title"  # on-screen text is a title card
    assert plan.llm.calls == 2 and plan.llm.cost == 0.02 and plan.budget == 25
    assert plan.within_budget and result["fits"] is True

    record = requests.get(f"{url}/api/production/{pid}", timeout=10).json()
    assert record["llm"] == {"calls": 2, "prompt_tokens": 2, "completion_tokens": 2, "cost": 0.02}
    assert ProductionPlan.model_validate(record["plan"]) == plan
    assert len(llm.requests) == 2


def test_the_budget_cap_refuses_the_next_llm_call(servers) -> None:
    url, llm = servers
    created = events(url, "/api/production/brief", {"brief": {"name": "Tight", "duration": 6, "budget": 10.005}})
    pid = created[-1][1]["id"]
    assert events(url, f"/api/production/{pid}/beat-sheet")[-1][0] == "result"  # 0 + 10 ≤ 10.005
    refused = events(url, f"/api/production/{pid}/shot-list")  # 0.01 spent + 10 ahead > 10.005
    kind, error = refused[-1]
    assert kind == "error"
    message = error["message"]
    assert message.startswith("LLM budget: this production has spent 0.0100 USD on 1 call(s)")
    assert "would pass the brief's budget of 10.0050 USD" in message
    assert [t for t in llm.tasks() if t.startswith("Task: shot_needs")] == []  # the call was never made
    record = requests.get(f"{url}/api/production/{pid}", timeout=10).json()
    assert record["llm"]["calls"] == 1 and record["shots"] is None

    # A brief with its own shot list needs no LLM call, whatever the budget.
    own = events(url, "/api/production/brief", {"brief": {"budget": 0, "shots": ["a dog on a beach"]}})
    pid = own[-1][1]["id"]
    listed = events(url, f"/api/production/{pid}/shot-list")
    assert listed[-1][0] == "result" and listed[-1][1]["shots"][0]["description"] == "a dog on a beach"
    assert "no LLM call" in [d for e, d in listed if e == "step"][-1]["detail"]


def test_an_llm_that_fails_ends_the_stream_with_the_reason(tmp_path: Path) -> None:
    with FakeLLMServer(lambda task, body: Answer(status=500)) as llm:
        settings = ProductionSettings(
            llm=LLMConfig(base_url=llm.base_url, model="fake", max_retries=0), prices=PRICES, folder=tmp_path / "p"
        )
        with running_dashboard(DashboardConfig(production=settings)) as url:
            pid = events(url, "/api/production/brief", {"brief": {"budget": 100}})[-1][1]["id"]
            kind, error = events(url, f"/api/production/{pid}/beat-sheet")[-1]
    assert kind == "error" and error["message"] == "the LLM (fake) failed: the server answered HTTP 500"


def test_bad_requests_are_clear_and_the_guard_holds(servers, tmp_path: Path) -> None:
    url, _ = servers
    bad = requests.post(f"{url}/api/production/brief", json={"brief": {"pace": "warp"}}, headers=HEADERS, timeout=10)
    assert bad.status_code == 422 and "pace" in bad.json()["error"]
    extra = requests.post(f"{url}/api/production/brief", json={"brief": {}, "x": 1}, headers=HEADERS, timeout=10)
    assert extra.status_code == 422 and extra.json()["error"].startswith("x:")
    missing = requests.post(f"{url}/api/production/0123456789abcdef/plan", headers=HEADERS, timeout=10)
    assert missing.status_code == 404 and "no production" in missing.json()["error"]
    assert requests.get(f"{url}/api/production/..%2Fetc", timeout=10).status_code == 404
    # Actions need the dashboard's header (a page on another site cannot send it).
    forged = requests.post(f"{url}/api/production/brief", json={"brief": {}}, timeout=10)
    assert forged.status_code == 403
    nowhere = events(url, "/api/production/brief", {"brief": {}, "footage": str(tmp_path / "nope")})
    assert nowhere[-1][0] == "error" and "not a folder" in nowhere[-1][1]["message"]


def test_token_mode_needs_the_token(tmp_path: Path) -> None:
    config = DashboardConfig(token="s3cret-token", production=ProductionSettings(folder=tmp_path / "p"))
    with running_dashboard(config) as url:
        denied = requests.post(f"{url}/api/production/brief", json={"brief": {}}, headers=HEADERS, timeout=10)
        assert denied.status_code == 401
        auth = {**HEADERS, "Authorization": "Bearer s3cret-token"}
        response = requests.post(f"{url}/api/production/brief", json={"brief": {}}, headers=auth, timeout=10)
        assert response.status_code == 200 and "event: result" in response.text
