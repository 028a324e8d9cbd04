"""The production pipeline over HTTP: brief → beat sheet → shot list → production plan, on the dashboard.

Each step is a ``POST`` that answers with Server-Sent Events (the dashboard's own SSE shape:
``event: NAME`` + ``data: JSON``) while it works, and ends with one ``result`` or one ``error`` event:

* ``POST /api/production/brief`` ``{"brief": {...}, "footage": "/folder"?}`` → a new production (its
  ``id``), the brief validated with :class:`planner.brief.Brief`;
* ``POST /api/production/{id}/beat-sheet`` → the LLM planner's beat sheet (:class:`planner.llm_schemas
  .BeatSheet`), from the brief (and the footage's analysis summary when a footage folder is given);
* ``POST /api/production/{id}/shot-list`` → the shots the edit needs (:class:`planner.production.ShotNeed`):
  the brief's own ``shots`` when it has them, else the LLM's, beat by beat;
* ``POST /api/production/{id}/plan`` → the :class:`planner.production.ProductionPlan`: the footage
  analysed, every need sourced (:mod:`planner.sourcing`), estimated against the worker's queue and fitted
  to the brief's budget and deadline (:mod:`planner.estimate`);
* ``GET /api/production/{id}`` → everything so far (brief, beat sheet, shots, plan, LLM usage).

Events: ``step`` ``{"step", "state": "started"|"done", "detail"}``, ``usage`` (the production's
:class:`planner.production.LLMUsage` after each LLM call), then ``result`` or ``error`` ``{"message"}``.
A request body that is not valid is answered at once with HTTP 422 (no stream); so is an unknown id (404)
or a step already running for the same production (409).

LLM use is metered per production: every call's ``usage`` (prompt and completion tokens) is added up and
priced with :class:`LLMPrices` (per million tokens, ``MONTAGE_LLM_PRICE_PROMPT`` /
``MONTAGE_LLM_PRICE_COMPLETION``). The brief's ``budget`` caps it: before each call the cost of the call
is estimated (prompt tokens ≈ characters / 4, plus ``completion_allowance_tokens`` of reply) and a call
that would take the spending past the budget is refused with an ``error`` that says what was spent and what
the next call would cost. Productions are kept as JSON files (atomic writes) in ``ProductionSettings.folder``.

The routes sit behind the dashboard's guard (loopback only, or the token cookie/bearer; POSTs need the
``X-Montage-Dashboard`` header and a same-origin ``Origin``).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from analysis.models import AnalysisResult
from kernel.atomic_io import write_text_atomic
from kernel.errors import MontageError
from kernel.media import Model
from kernel.paths import state_dir
from planner.brief import Brief
from planner.llm_config import LLMConfig, LLMConfigError, load_llm_config
from planner.llm_schemas import BeatSheet, Reply, schema_of
from planner.production import LLMUsage, ProductionPlan, ShotNeed

ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
Emit = Callable[[str, dict[str, Any]], None]


class LLMPrices(Model):
    """What the LLM's tokens cost, per million, in the catalogue's currency."""

    prompt_per_million: float = Field(0.0, ge=0, le=10_000)
    completion_per_million: float = Field(0.0, ge=0, le=10_000)
    completion_allowance_tokens: int = Field(
        2000, ge=1, le=200_000, description="reply tokens assumed for a call when checking the budget before it"
    )

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt_per_million + completion_tokens * self.completion_per_million) / 1e6

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> LLMPrices:
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        for name, key in (
            ("MONTAGE_LLM_PRICE_PROMPT", "prompt_per_million"),
            ("MONTAGE_LLM_PRICE_COMPLETION", "completion_per_million"),
        ):
            if env.get(name):
                data[key] = env[name]
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise LLMConfigError(f"LLM prices: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


@dataclass
class ProductionSettings:
    """The production endpoints' settings: LLM connection and prices, where productions are kept."""

    llm: LLMConfig | None = None  # None: load_llm_config() (MONTAGE_LLM_* settings) at each step
    prices: LLMPrices | None = None  # None: LLMPrices.from_env()
    folder: Path | None = None  # None: the per-user state folder's dashboard-production/
    worker_url: str | None = None  # for the estimate's queue (default: the dashboard's --worker)
    worker_token: str | None = None

    def productions_dir(self) -> Path:
        return self.folder or state_dir() / "dashboard-production"


class ProductionError(MontageError):
    """A production step that cannot go on; the message is sent as the stream's ``error`` event."""


class BudgetExceeded(ProductionError):
    """The next LLM call would take this production past its brief's budget."""


class ProductionRecord(Model):
    """One production as it goes through the steps."""

    id: str
    created_at: float
    brief: Brief
    footage: str | None = None
    beat_sheet: dict[str, Any] | None = None
    shots: list[ShotNeed] | None = None
    plan: ProductionPlan | None = None
    llm: LLMUsage = Field(default_factory=LLMUsage)
    currency: str = "USD"


class BriefRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brief: dict[str, Any] = Field(description="the brief's fields, as in a brief file")
    footage: str | None = Field(None, max_length=4096, description="a footage folder on the dashboard's machine")


class NeedReply(Reply):
    """One shot the edit needs, as the model describes it."""

    description: str = Field(min_length=1, max_length=2000)
    seconds: float = Field(gt=0, le=600)
    beat: str | None = Field(None, max_length=200)


class NeedList(Reply):
    shots: list[NeedReply] = Field(min_length=1, max_length=500)


# -- metering -------------------------------------------------------------------------------------------


class _Meter:
    """An OpenAI-client stand-in that checks the budget before each call and adds up the usage after it."""

    def __init__(self, client: Any, record: ProductionRecord, prices: LLMPrices, emit: Emit, save: Callable[[], None]):
        self._client = client
        self.record = record
        self.prices = prices
        self.emit = emit
        self.save = save
        self.chat = self
        self.completions = self

    def create(self, **kwargs: Any) -> Any:
        usage = self.record.llm
        prompt_estimate = max(1, len(json.dumps(kwargs.get("messages", []), ensure_ascii=False)) // 4)
        next_cost = self.prices.cost(prompt_estimate, self.prices.completion_allowance_tokens)
        budget = self.record.brief.budget
        currency = self.record.currency
        if budget is not None and usage.cost + next_cost > budget + 1e-12:
            raise BudgetExceeded(
                f"LLM budget: this production has spent {usage.cost:.4f} {currency} on {usage.calls} call(s) "
                f"({usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens); the next call "
                f"(about {prompt_estimate} prompt + {self.prices.completion_allowance_tokens} reply tokens, "
                f"~{next_cost:.4f} {currency}) would pass the brief's budget of {budget:.4f} {currency}: "
                "raise budget in the brief, or give the shots in the brief (shots = [...]) so no LLM call is needed"
            )
        response = self._client.chat.completions.create(**kwargs)
        used = getattr(response, "usage", None)
        prompt = int(getattr(used, "prompt_tokens", 0) or 0)
        completion = int(getattr(used, "completion_tokens", 0) or 0)
        if used is None:  # a server that reports nothing: count what was sent, and the allowance
            prompt, completion = prompt_estimate, self.prices.completion_allowance_tokens
        self.record.llm = LLMUsage(
            calls=usage.calls + 1,
            prompt_tokens=usage.prompt_tokens + prompt,
            completion_tokens=usage.completion_tokens + completion,
            cost=usage.cost + self.prices.cost(prompt, completion),
        )
        self.save()
        self.emit("usage", self.record.llm.model_dump())
        return response


# -- the store ------------------------------------------------------------------------------------------


class Productions:
    """Productions on disk (one JSON file each) and which of them has a step running."""

    def __init__(self, settings: ProductionSettings) -> None:
        self.settings = settings
        self._busy: set[str] = set()
        self._lock = threading.Lock()

    def path(self, production_id: str) -> Path:
        return self.settings.productions_dir() / f"{production_id}.json"

    def load(self, production_id: str) -> ProductionRecord | None:
        if not ID_PATTERN.match(production_id):
            return None
        try:
            return ProductionRecord.model_validate_json(self.path(production_id).read_text(encoding="utf-8"))
        except (OSError, ValidationError):
            return None

    def save(self, record: ProductionRecord) -> None:
        folder = self.settings.productions_dir()
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path(record.id), record.model_dump_json(indent=1) + "\n")

    def claim(self, production_id: str) -> bool:
        with self._lock:
            if production_id in self._busy:
                return False
            self._busy.add(production_id)
            return True

    def release(self, production_id: str) -> None:
        with self._lock:
            self._busy.discard(production_id)


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


def _stream(work: Callable[[Emit], dict[str, Any]], done: Callable[[], None]) -> StreamingResponse:
    """Run ``work(emit)`` in a thread; its events, then ``result`` (or ``error``), as an SSE stream."""
    events: queue.Queue[tuple[str, dict[str, Any]] | None] = queue.Queue()

    def emit(event: str, data: dict[str, Any]) -> None:
        events.put((event, data))

    def run() -> None:
        try:
            emit("result", work(emit))
        except (MontageError, LLMConfigError) as exc:
            emit("error", {"message": str(exc)})
        except Exception as exc:  # a step must end its stream with a reason, never hang the client
            emit("error", {"message": f"unexpected {exc.__class__.__name__}: {exc}"})
        finally:
            done()
            events.put(None)

    threading.Thread(target=run, name="production-step", daemon=True).start()

    def body() -> Iterator[str]:
        yield "retry: 2000\n\n"
        while (item := events.get()) is not None:
            yield _sse(*item)

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})


@contextlib.contextmanager
def _llm_failures(planner: Any) -> Iterator[None]:
    """The LLM planner's failures (server down, timeouts, no usable reply) as this step's error."""
    from planner.llm_planner import LLMFailure

    try:
        yield
    except LLMFailure as exc:
        raise ProductionError(f"the LLM ({planner.config.model}) failed: {exc}") from exc


class _Step:
    """Announces a step's start and end on the stream."""

    def __init__(self, emit: Emit, name: str) -> None:
        self.emit, self.name = emit, name

    def __enter__(self) -> _Step:
        self.emit("step", {"step": self.name, "state": "started"})
        return self

    def done(self, detail: str) -> None:
        self.emit("step", {"step": self.name, "state": "done", "detail": detail})

    def __exit__(self, *exc: object) -> None:
        return None


# -- the steps ------------------------------------------------------------------------------------------


class Pipeline:
    def __init__(self, settings: ProductionSettings, worker_url: str | None, worker_token: str | None) -> None:
        self.settings = settings
        self.store = Productions(settings)
        self.worker_url = settings.worker_url or worker_url
        self.worker_token = settings.worker_token or worker_token

    def llm_config(self) -> LLMConfig:
        return self.settings.llm or load_llm_config()

    def prices(self) -> LLMPrices:
        return self.settings.prices or LLMPrices.from_env()

    def currency(self) -> str:
        from planner.tool_catalogue import open_catalogue

        with open_catalogue() as catalogue:
            return str(catalogue.settings().currency)

    def planner(self, record: ProductionRecord, emit: Emit) -> Any:
        """An LLMPlanner whose client is metered against ``record``'s budget."""
        import openai

        from planner.llm_planner import LLMPlanner

        cfg = self.llm_config()
        client = openai.OpenAI(
            base_url=cfg.base_url, api_key=cfg.client_key(), timeout=cfg.timeout_seconds, max_retries=cfg.max_retries
        )
        planner = LLMPlanner(cfg, _Meter(client, record, self.prices(), emit, lambda: self.store.save(record)))  # type: ignore[arg-type]
        planner.begin()
        return planner

    def analysis(self, record: ProductionRecord, emit: Emit) -> AnalysisResult | None:
        if not record.footage:
            return None
        from analysis.engine import EngineOptions, analyze_paths
        from analysis.footage import find_footage

        with _Step(emit, "analyze footage") as step:
            files, _skipped = find_footage(Path(record.footage), False)
            if not files:
                raise ProductionError(f"{record.footage}: no footage files in that folder")

            def progress(event: Any) -> None:
                if event.stage in ("done", "cached", "failed"):
                    emit("step", {"step": "analyze footage", "state": "progress", "detail": f"{event.path.name}"})

            engine = analyze_paths(files, EngineOptions(require_video=True), progress=progress)
            if not engine.clips:
                raise ProductionError(f"{record.footage}: none of its files is usable video")
            result = AnalysisResult(clips=engine.clips)
            step.done(f"{len(engine.clips)} clip(s) analysed, {len(engine.failures)} skipped")
        return result

    def context(self, record: ProductionRecord, emit: Emit) -> tuple[dict[str, Any], float]:
        from planner.llm_summary import summarize

        brief = record.brief
        target = brief.target_duration_seconds or 60.0
        context: dict[str, Any] = {
            "brief": {
                "name": brief.name,
                "mode": brief.mode,
                "target_seconds": round(target, 2),
                "aspect": brief.aspect or "16:9",
                "key_messages": brief.key_messages,
                "language": brief.language,
            }
        }
        analysis = self.analysis(record, emit)
        if analysis is not None:
            context["analysis"] = summarize(analysis, brief, self.llm_config().token_budget)
        return context, target

    # ---- POST handlers (bodies validated; each returns the result event's data)

    def new(self, body: BriefRequest, emit: Emit) -> dict[str, Any]:
        with _Step(emit, "validate brief") as step:
            from planner.brief import brief_from_mapping

            brief = brief_from_mapping(body.brief, "brief")
            step.done(f"{brief.name}: {brief.mode}, budget {brief.budget}, deadline {brief.deadline_seconds}")
        if body.footage is not None and not Path(body.footage).is_dir():
            raise ProductionError(f"footage {body.footage}: not a folder on the dashboard's machine")
        record = ProductionRecord(
            id=uuid.uuid4().hex[:16],
            created_at=time.time(),
            brief=brief,
            footage=str(Path(body.footage).resolve()) if body.footage else None,
            currency=self.currency(),
        )
        self.store.save(record)
        return {"id": record.id, "brief": record.brief.model_dump(mode="json"), "footage": record.footage}

    def beat_sheet(self, record: ProductionRecord, emit: Emit) -> dict[str, Any]:
        context, target = self.context(record, emit)
        with _Step(emit, "beat sheet") as step:
            planner = self.planner(record, emit)
            with _llm_failures(planner):
                beats = planner.beat_sheet(context, target)  # one repair round included; scaled to the target
            sheet = BeatSheet(beats=beats)
            record.beat_sheet = sheet.model_dump()
            record.shots = None
            record.plan = None
            self.store.save(record)
            step.done(f"{len(beats)} beat(s), {sum(b.target_seconds for b in beats):.1f} s")
        return {"beat_sheet": record.beat_sheet, "llm": record.llm.model_dump()}

    def shot_list(self, record: ProductionRecord, emit: Emit) -> dict[str, Any]:
        from planner.sourcing import needs_from_brief

        with _Step(emit, "shot list") as step:
            needs = needs_from_brief(record.brief)
            if needs:
                step.done(f"{len(needs)} shot(s) from the brief's own shot list (no LLM call)")
            else:
                if record.beat_sheet is None:
                    raise ProductionError("no beat sheet yet: POST …/beat-sheet first (or give shots in the brief)")
                needs = self._needs_from_llm(record, emit)
                step.done(f"{len(needs)} shot(s) from the LLM, {sum(n.seconds for n in needs):.1f} s")
        record.shots = needs
        record.plan = None
        self.store.save(record)
        return {"shots": [n.model_dump() for n in needs], "llm": record.llm.model_dump()}

    def _needs_from_llm(self, record: ProductionRecord, emit: Emit) -> list[ShotNeed]:
        context, _ = self.context(record, emit)
        sheet = BeatSheet.model_validate(record.beat_sheet)
        planner = self.planner(record, emit)
        ask = (
            "Task: shot_needs\nFor every beat of the beat sheet, in order, list the shots the edit needs: what each "
            "picture shows, in words a search or a video model can use, and how many seconds it lasts (each beat's "
            "shots add up to its target_seconds); say which beat it belongs to.\n"
            f"Beats: {json.dumps(sheet.model_dump()['beats'])}\n"
            f"Schema: {json.dumps(schema_of(NeedList))}\nContext: {json.dumps(context)}"
        )
        with _llm_failures(planner):
            reply, error = planner.ask(ask, NeedList)
        if reply is None:
            raise ProductionError(f"the LLM's shot list was not usable: {error}")
        return [
            ShotNeed(index=k, description=n.description, seconds=n.seconds, beat=n.beat)
            for k, n in enumerate(reply.shots)
        ]

    def plan(self, record: ProductionRecord, emit: Emit) -> dict[str, Any]:
        from planner.estimate import fit_plan
        from planner.sourcing import source_shots
        from planner.tool_catalogue import open_catalogue

        if not record.shots:
            raise ProductionError("no shot list yet: POST …/shot-list first")
        analysis = self.analysis(record, emit) or AnalysisResult(clips=[])
        queue_state = self._queue(emit)
        with open_catalogue() as catalogue:
            with _Step(emit, "source shots") as step:
                sourced = source_shots(record.shots, analysis, record.brief, catalogue)
                kinds = [s.source.kind for s in sourced.shots]
                step.done(", ".join(f"{kinds.count(k)} {k}" for k in ("footage", "generate", "title")))
            with _Step(emit, "estimate") as step:
                sourced = sourced.model_copy(update={"llm": record.llm.model_copy()})
                fitted = fit_plan(sourced, catalogue, queue_state)
                plan = ProductionPlan.model_validate(fitted.plan.model_dump())  # the same model validates it
                step.done(
                    f"GPU {plan.total.gpu_seconds:.0f} s, {plan.total.cost + plan.llm.cost:.4f} {plan.currency} "
                    f"with the LLM, {plan.total.wall_seconds:.0f} s wall; "
                    + ("within budget" if plan.within_budget else "over budget")
                )
        record.plan = plan
        self.store.save(record)
        return {"plan": plan.model_dump(mode="json"), "fits": fitted.fits, "llm": record.llm.model_dump()}

    def _queue(self, emit: Emit) -> Any:
        if not self.worker_url:
            return None
        with _Step(emit, "worker queue") as step:
            try:
                from gpu_remote.client import GpuClient
                from montage_bridge.commands.bench_tools import read_queue

                state = read_queue(GpuClient(self.worker_url, self.worker_token))
            except (ImportError, MontageError) as exc:
                step.done(f"not read ({exc}): an empty queue is assumed")
                return None
            step.done(f"{state.slots} slot(s), {state.queued} queued")
            return state


def mount_production(
    app: FastAPI, settings: ProductionSettings, worker_url: str | None, worker_token: str | None
) -> None:
    """Add the production routes (see the module docstring) to the dashboard ``app``."""
    pipeline = Pipeline(settings, worker_url, worker_token)

    async def body_of(request: Request, model: type[BaseModel]) -> BaseModel | JSONResponse:
        try:
            raw = await request.body()
            return model.model_validate_json(raw or b"{}")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return JSONResponse({"error": f"{where}: {first['msg']}"}, 422)

    @app.post("/api/production/brief")
    async def new_production(request: Request) -> Response:
        body = await body_of(request, BriefRequest)
        if isinstance(body, JSONResponse):
            return body
        assert isinstance(body, BriefRequest)
        try:  # a brief that is not valid is a bad request, not a stream
            from planner.brief import brief_from_mapping

            brief_from_mapping(body.brief, "brief")
        except MontageError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return _stream(lambda emit: pipeline.new(body, emit), lambda: None)

    def step_route(name: str, run: Callable[[ProductionRecord, Emit], dict[str, Any]]) -> None:
        async def handler(production_id: str) -> Response:
            record = pipeline.store.load(production_id)
            if record is None:
                return JSONResponse({"error": f"no production {production_id!r}"}, 404)
            if not pipeline.store.claim(record.id):
                return JSONResponse({"error": f"production {record.id} has a step running: wait for it"}, 409)
            return _stream(lambda emit: run(record, emit), lambda: pipeline.store.release(record.id))

        app.post(f"/api/production/{{production_id}}/{name}", name=f"production_{name}")(handler)

    step_route("beat-sheet", pipeline.beat_sheet)
    step_route("shot-list", pipeline.shot_list)
    step_route("plan", pipeline.plan)

    @app.get("/api/production/{production_id}")
    def get_production(production_id: str) -> JSONResponse:
        record = pipeline.store.load(production_id)
        if record is None:
            return JSONResponse({"error": f"no production {production_id!r}"}, 404)
        return JSONResponse(record.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


__all__ = ["LLMPrices", "ProductionSettings", "mount_production"]
