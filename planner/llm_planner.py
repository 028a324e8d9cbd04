"""The LLM planner: a story editor over any OpenAI-compatible endpoint, with the heuristic as net.

Two steps, the way a story editor works:
1. brief + analysis summary → a **beat sheet** (story beats with target lengths);
2. for each beat → a **shot list** (clip id, in/out seconds, reason).
Each reply must be JSON following a schema: sent as ``response_format`` ``json_schema`` where the
server takes it, else ``json_object`` (JSON mode), else plain text; the reply is validated with
pydantic either way, and the schema is in the prompt too.

The shot list is checked against the analysis (clip ids, in/out inside the clip and one shot,
reuse) and conformed to the timeline (cuts snapped to the beat where the style cuts on the beat),
then validated like any plan. Anything wrong gets **one repair round** that sends the model its
reply and the validator's errors. If that fails too, or the server times out, errors or is
unreachable, the heuristic planner makes the plan and a warning says why. Requests are bounded
by a per-request timeout, the client's retry count and a deadline for the whole plan. The deadline
is a wall-clock bound that holds inside a request too (:func:`kernel.deadline.call_before`): httpx's
read timeout restarts on every byte, so a server that drips its reply would otherwise hold planning for ever. The plan
records the model's reason for every cut.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, TypeVar

import openai
from pydantic import ValidationError

from analysis.models import AnalysisResult, ClipAnalysis, Shot
from kernel.deadline import call_before
from kernel.timebase import rescale_frames, seconds_to_frames
from planner.brief import Brief
from planner.heuristic import plan_heuristic
from planner.llm_config import LLMConfig, LLMConfigError
from planner.llm_schemas import BeatSheet, Reply, ShotList, ShotPick, StoryBeat, schema_of
from planner.llm_summary import summarize
from planner.models import Cut, EditPlan, MusicBed, PlanMarker
from planner.remote_ops import remote_ops_for
from planner.style import Style
from planner.timeline_setup import beat_frames, music_markers, timeline_setup
from planner.validate import plan_problems

R = TypeVar("R", bound=Reply)

SYSTEM_PROMPT = (
    "You are a story editor planning a video edit from analysed footage. You only use clip ids and "
    "time ranges that exist in the analysis summary. Shots are listed per clip as "
    "[start_seconds, end_seconds, quality_score_0_to_1, motion_0_to_1, shake_0_to_1, faces_seen]; prefer "
    "steady shots (low shake) when the choice is otherwise equal; a range you pick must lie inside "
    "one listed shot. Answer with a single JSON object that follows the given JSON schema and nothing else."
)


class LLMFailure(Exception):
    """The model could not give a usable plan; the caller falls back to the heuristic planner."""


@dataclass
class _Pick:
    pick: ShotPick
    beat: int  # index into the beat sheet


def _extract_json(text: str) -> Any:
    """The JSON object in a reply, tolerating code fences and chatter around it."""
    text = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    if not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("no JSON object in the reply")
        text = text[start : end + 1]
    return json.loads(text)


def _errors(exc: ValidationError, limit: int = 4) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'reply'}: {e['msg']}" for e in exc.errors()[:limit]]
    return "; ".join(parts)


class LLMPlanner:
    """Plan with a model; ``client`` may be given (tests, custom transports), else one is built."""

    def __init__(self, config: LLMConfig, client: openai.OpenAI | None = None) -> None:
        self.config = config
        self._client = client
        self._format = "json_schema" if config.response_format == "auto" else config.response_format
        self._deadline = 0.0
        self.requests = 0
        self.log: list[str] = []

    # ---------------------------------------------------------------- public
    def plan(self, analysis: AnalysisResult, brief: Brief, style: Style) -> EditPlan:
        """A validated plan: the model's when it can make one, else the heuristic's with a warning."""
        try:
            plan = self._plan(analysis, brief, style)
        except (LLMFailure, LLMConfigError) as exc:
            reason = str(exc)
        except Exception as exc:  # an untrusted server must never crash planning
            reason = f"unexpected {exc.__class__.__name__}: {exc}"
        else:
            return plan
        fallback = plan_heuristic(analysis, brief, style)
        fallback.warnings.insert(0, f"LLM planner ({self.config.model}) failed: {reason}; used the heuristic planner")
        return fallback

    def begin(self) -> None:
        """Start the wall-clock budget (``total_timeout_seconds``) for a run of the steps below;
        :meth:`plan` does this itself."""
        self._deadline = time.monotonic() + self.config.total_timeout_seconds

    def beat_sheet(self, context: dict, target: float) -> list[StoryBeat]:
        """The story beats for ``context`` (the footage summary and brief), their lengths scaled to
        ``target`` seconds; one repair round included. Raises :class:`LLMFailure`."""
        return self._beat_sheet(context, target)

    def ask(self, question: str, model: type[R]) -> tuple[R | None, str]:
        """One question with the planner's system prompt: the validated reply (or None) and the error."""
        reply, error, _ = self._ask([self._system(), {"role": "user", "content": question}], model)
        return reply, error

    # ---------------------------------------------------------------- steps
    def _plan(self, analysis: AnalysisResult, brief: Brief, style: Style) -> EditPlan:
        cfg = self.config
        self.begin()
        if self._client is None:
            self._client = openai.OpenAI(
                base_url=cfg.base_url,
                api_key=cfg.client_key(),
                timeout=cfg.timeout_seconds,
                max_retries=cfg.max_retries,
            )
        target = self._target_seconds(analysis, brief)
        context = {
            "brief": {
                "mode": brief.mode,
                "target_seconds": round(target, 2),
                "aspect": brief.aspect or style.aspect or "16:9",
                "pace": brief.pace,
                "must_include": brief.must_include,
                "key_messages": brief.key_messages,
                "language": brief.language,
            },
            "style": {
                "name": style.name,
                "description": style.description,
                "shot_seconds": [style.pacing.min_shot_seconds, style.pacing.max_shot_seconds],
                "cuts_per_bar_low_mid_high": [
                    style.pacing.cuts_per_bar_low,
                    style.pacing.cuts_per_bar_mid,
                    style.pacing.cuts_per_bar_high,
                ],
                "reuse_limit": style.rules.reuse_limit,
            },
            "analysis": summarize(analysis, brief, cfg.token_budget),
        }
        beats = self._beat_sheet(context, target)
        picks: list[_Pick] = []
        problems: list[str] = []
        used: list[str] = []
        for k, beat in enumerate(beats):
            ask = (
                f"Task: shot_list for beat {k + 1} of {len(beats)}\n"
                f"Beat: {beat.title} — {beat.purpose}\nIt should last about {beat.target_seconds:.1f} s in total.\n"
                f"Clips already used in earlier beats: {', '.join(used[-20:]) or 'none'}.\n"
                f"Schema: {json.dumps(schema_of(ShotList))}\nContext: {json.dumps(context)}"
            )
            shots, error, _ = self._ask([self._system(), {"role": "user", "content": ask}], ShotList)
            if shots is None:
                problems.append(f"beat {k + 1} ({beat.title}): {error}")
                continue
            picks.extend(_Pick(p, k) for p in shots.shots)
            used.extend(p.clip_id for p in shots.shots)
        plan = None
        if not problems:
            plan, problems = self._assemble(picks, beats, analysis, brief, style, target)
        if plan is not None and not problems:
            return plan
        # One repair round: the whole shot list back with every problem found.
        sent = [{"beat": p.beat + 1, **p.pick.model_dump()} for p in picks]
        ask = (
            "Task: repair\nYour shot list below has problems. Reply with the complete corrected shot list for the "
            "whole edit (all beats, in order) as JSON following the schema.\n"
            "Problems:\n- " + "\n- ".join(problems[:30]) + f"\nYour shot list: {json.dumps(sent)}\n"
            f"Beats: {json.dumps([b.model_dump() for b in beats])}\n"
            f"Schema: {json.dumps(schema_of(ShotList))}\nContext: {json.dumps(context)}"
        )
        self.log.append("repair: " + "; ".join(problems[:5]))
        repaired, error, _ = self._ask([self._system(), {"role": "user", "content": ask}], ShotList)
        if repaired is None:
            raise LLMFailure(f"the repaired shot list was not usable ({error}); first problems: {problems[0]}")
        beat_of = self._beat_index(repaired.shots, beats)
        plan, problems = self._assemble(
            [_Pick(p, b) for p, b in zip(repaired.shots, beat_of)], beats, analysis, brief, style, target
        )
        if plan is None or problems:
            raise LLMFailure(f"the plan was still invalid after one repair: {'; '.join(problems[:3])}")
        plan.warnings.append("the LLM's first shot list needed one repair round")
        return plan

    def _beat_sheet(self, context: dict, target: float) -> list[StoryBeat]:
        ask = (
            f"Task: beat_sheet\nWrite the beat sheet for this edit: at most {self.config.max_beats} story beats "
            f"whose target_seconds add up to about {target:.1f} s.\n"
            f"Schema: {json.dumps(schema_of(BeatSheet))}\nContext: {json.dumps(context)}"
        )
        messages = [self._system(), {"role": "user", "content": ask}]
        sheet, error, text = self._ask(messages, BeatSheet)
        if sheet is None:
            self.log.append(f"repair beat sheet: {error}")
            messages += [
                {"role": "assistant", "content": text[:4000]},
                {
                    "role": "user",
                    "content": f"Task: repair_beat_sheet\nThat reply was not usable: {error}. "
                    "Reply with only the JSON object following the schema.",
                },
            ]
            sheet, error, _ = self._ask(messages, BeatSheet)
        if sheet is None:
            raise LLMFailure(f"no usable beat sheet after one repair ({error})")
        beats = sheet.beats[: self.config.max_beats]
        scale = target / sum(b.target_seconds for b in beats)
        return [b.model_copy(update={"target_seconds": b.target_seconds * scale}) for b in beats]

    # ---------------------------------------------------------------- transport
    def _system(self) -> dict:
        return {"role": "system", "content": SYSTEM_PROMPT}

    def _response_format(self, model: type[Reply]) -> dict | None:
        if self._format == "json_schema":
            return {
                "type": "json_schema",
                "json_schema": {"name": model.__name__, "schema": schema_of(model), "strict": False},
            }
        if self._format == "json_object":
            return {"type": "json_object"}
        return None

    def _ask(self, messages: list[dict], model: type[R]) -> tuple[R | None, str, str]:
        """One request; returns (parsed reply or None, what was wrong, raw text).

        Transport failures (timeouts, connection, HTTP errors) raise :class:`LLMFailure`: a repair
        cannot fix them. A server that rejects ``response_format`` is asked again with the next
        weaker format, remembered for later requests."""
        cfg = self.config
        while True:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise LLMFailure(f"no plan within {cfg.total_timeout_seconds:g} s")
            kwargs: dict[str, Any] = {
                "model": cfg.model,
                "messages": messages,
                "temperature": cfg.temperature,
                "timeout": min(cfg.timeout_seconds, remaining),
            }
            fmt = self._response_format(model)
            if fmt is not None:
                kwargs["response_format"] = fmt
            self.requests += 1
            assert self._client is not None
            try:
                response = call_before(
                    self._deadline, self._client.chat.completions.create, thread_name="llm-request", **kwargs
                )
            except TimeoutError as exc:
                raise LLMFailure(
                    f"no plan within {cfg.total_timeout_seconds:g} s (the server had not finished its reply)"
                ) from exc
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                if cfg.response_format == "auto" and self._format != "none":
                    weaker: Literal["json_object", "none"] = "json_object" if self._format == "json_schema" else "none"
                    self.log.append(
                        f"server refused response_format {self._format} ({exc.status_code}); trying {weaker}"
                    )
                    self._format = weaker
                    continue
                raise LLMFailure(f"the server refused the request (HTTP {exc.status_code})") from exc
            except openai.APITimeoutError as exc:
                raise LLMFailure(f"no reply within {kwargs['timeout']:.3g} s") from exc
            except openai.APIConnectionError as exc:
                raise LLMFailure(f"cannot reach {cfg.base_url or 'the OpenAI API'}") from exc
            except openai.APIStatusError as exc:
                raise LLMFailure(f"the server answered HTTP {exc.status_code}") from exc
            except openai.OpenAIError as exc:
                raise LLMFailure(f"bad answer from the server ({exc.__class__.__name__})") from exc
            return self._parse(response, model)

    @staticmethod
    def _parse(response: Any, model: type[R]) -> tuple[R | None, str, str]:
        choices = getattr(response, "choices", None) or []
        if not choices:
            return None, "the reply had no choices", ""
        choice = choices[0]
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None) or ""
        if not isinstance(text, str):
            return None, "the reply content was not text", ""
        if getattr(choice, "finish_reason", None) == "length":
            return None, "the reply was cut off (finish_reason=length): answer more briefly", text
        try:
            data = _extract_json(text)
        except (ValueError, json.JSONDecodeError) as exc:
            return None, f"not valid JSON ({exc})", text
        try:
            return model.model_validate(data), "", text
        except ValidationError as exc:
            return None, f"does not follow the schema ({_errors(exc)})", text

    # ---------------------------------------------------------------- assembly
    @staticmethod
    def _target_seconds(analysis: AnalysisResult, brief: Brief) -> float:
        music = analysis.music
        if brief.target_duration_seconds:
            target = brief.target_duration_seconds
        elif brief.mode == "talking_head":
            target = sum(c.media.frames / float(c.media.rate) for c in analysis.clips)
        else:
            target = min(60.0, music.duration_seconds) if music else 60.0
        if music is not None and brief.mode != "talking_head":
            target = min(target, music.duration_seconds)
        return target

    @staticmethod
    def _beat_index(shots: list[ShotPick], beats: list[StoryBeat]) -> list[int]:
        """Which story beat each repaired shot falls in, by running time against the beat sheet."""
        ends, total = [], 0.0
        for b in beats:
            total += b.target_seconds
            ends.append(total)
        out, pos = [], 0.0
        for shot in shots:
            out.append(next((k for k, e in enumerate(ends) if pos < e), len(beats) - 1))
            pos += max(0.0, shot.source_out_seconds - shot.source_in_seconds)
        return out

    def _check_pick(
        self, n: int, pick: ShotPick, clip: ClipAnalysis | None, style: Style
    ) -> tuple[Shot, int, int] | str:
        """The pick as (shot, in, out) clip frames, or what is wrong with it (for the repair prompt)."""
        if clip is None:
            return f"shot {n}: unknown clip id {pick.clip_id!r}: use an id from the summary"
        rate = clip.media.rate
        seconds = clip.media.frames / float(rate)
        a, b = pick.source_in_seconds, pick.source_out_seconds
        if b <= a:
            return f"shot {n} ({clip.id}): out {b:g} s is not after in {a:g} s"
        if a < 0 or b > seconds + 1 / float(rate):
            return f"shot {n} ({clip.id}): {a:g}–{b:g} s is outside the clip, which runs 0–{seconds:.2f} s"
        # The model wrote decimals: read them as the decimals they were, not their binary floats.
        lo = seconds_to_frames(Fraction(repr(a)), rate)
        hi = min(clip.media.frames, seconds_to_frames(Fraction(repr(b)), rate))
        if style.rules.allow_across_shots:
            return Shot(start=clip.shots[0].start, end=clip.shots[-1].end), lo, hi
        shot = next((s for s in clip.shots if s.start <= lo < s.end), None)
        if shot is None:
            return f"shot {n} ({clip.id}): {a:g} s is not inside any shot"
        if hi > shot.end + 1:  # one frame of rounding is trimmed, more is a real crossing
            return (
                f"shot {n} ({clip.id}): {a:g}–{b:g} s crosses a hard cut at {shot.end / float(rate):.2f} s "
                f"(that shot runs {shot.start / float(rate):.2f}–{shot.end / float(rate):.2f} s)"
            )
        return shot, lo, min(hi, shot.end)

    def _assemble(
        self,
        picks: list[_Pick],
        beats: list[StoryBeat],
        analysis: AnalysisResult,
        brief: Brief,
        style: Style,
        target_seconds: float,
    ) -> tuple[EditPlan | None, list[str]]:
        """Checked picks → a conformed, validated plan; or the problems to send back."""
        if not picks:
            return None, ["the shot list is empty"]
        checked, problems = self._check_picks(picks, analysis, style)
        if problems:
            return None, problems
        usable = [c for c in analysis.clips if c.media.has_video and c.shots] or [checked[0].clip]
        aspect = brief.aspect or style.aspect or "16:9"
        setup = timeline_setup(usable, brief.rate, aspect)
        rate = setup.rate
        music = analysis.music if brief.mode != "talking_head" else None
        grid = beat_frames(music, rate) if music is not None and style.pacing.cut_on != "any" else None
        target = seconds_to_frames(target_seconds, rate)
        # On the beat: the edit ends on the beat nearest the target length.
        end = min((f for f in grid if f > 0), key=lambda f: (abs(f - target), f), default=target) if grid else target
        laid = _lay_down(checked, beats, rate, grid, end)
        if laid.problems:
            return None, laid.problems
        if not laid.cuts:
            return None, ["no shot could be placed"]
        problems = self._reuse_problems(laid.cuts, style)
        used = {c.clip_id for c in laid.cuts}
        known = {c.id for c in analysis.clips}
        problems.extend(
            f"must-include clip {clip_id!r} is not used: add a shot from it"
            for clip_id in brief.must_include
            if clip_id in known and clip_id not in used
        )
        warnings = [f"{laid.left_out} shot(s) past the target length were left out"] if laid.left_out else []
        pos = laid.record_out
        plan = EditPlan(
            name=brief.name,
            **setup.plan_fields(),
            cuts=laid.cuts,
            music=MusicBed(path=str(music.path), record_in=0, record_out=pos) if music is not None else None,
            markers=sorted([*laid.markers, *(music_markers(music, rate, pos) if music else [])], key=lambda m: m.frame),
            planner=f"llm:{self.config.model}",
            warnings=warnings,
            aspect=aspect,
            mode=brief.mode,
            style=style.name,
            # Fixes the footage needs follow from the shots chosen, by the same rules as the heuristics.
            remote_ops=remote_ops_for(
                list(analysis.clips), laid.cuts, setup.width, setup.height, style.rules.stabilize_shake
            ),
        )
        problems.extend(plan_problems(plan, analysis, style=style, brief=brief))
        problems.extend(_length_problems(plan, brief, style, rate, target, target_seconds))
        return plan, list(dict.fromkeys(problems))

    def _check_picks(
        self, picks: list[_Pick], analysis: AnalysisResult, style: Style
    ) -> tuple[list[_Checked], list[str]]:
        """Each pick against its clip and shots: the ones that hold, and what is wrong with the others."""
        clips = {c.id: c for c in analysis.clips}
        checked: list[_Checked] = []
        problems: list[str] = []
        for n, p in enumerate(picks, 1):
            clip = clips.get(p.pick.clip_id)
            result = self._check_pick(n, p.pick, clip, style)
            if isinstance(result, str):
                problems.append(result)
            elif clip is not None:
                checked.append(_Checked(p, clip, *result))
        return checked, problems

    @staticmethod
    def _reuse_problems(cuts: list[Cut], style: Style) -> list[str]:
        """No source frame more often than the style's reuse limit."""
        spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for cut in cuts:
            spans[cut.clip_id].append((cut.source_in, cut.source_out))
        problems = []
        for clip_id, ranges in spans.items():
            events = sorted([(a, 1) for a, _ in ranges] + [(b, -1) for _, b in ranges])
            depth = 0
            for frame, step in events:
                depth += step
                if depth > style.rules.reuse_limit:
                    problems.append(
                        f"{clip_id}: frame {frame} is used {depth} times, more than the reuse limit "
                        f"{style.rules.reuse_limit}: pick different ranges"
                    )
                    break
        return problems


@dataclass
class _Checked:
    """A pick that holds: its clip, the shot it lies in and its source frames ``[source_in, source_out)``."""

    pick: _Pick
    clip: ClipAnalysis
    shot: Shot
    source_in: int
    source_out: int


@dataclass
class _Laid:
    """The picks laid end to end on the timeline."""

    cuts: list[Cut]
    markers: list[PlanMarker]  # a chapter marker where each story beat begins
    record_out: int  # where the last cut ends
    left_out: int  # picks past the end of the edit
    problems: list[str]


def _lay_down(
    checked: list[_Checked], beats: list[StoryBeat], rate: Fraction, grid: list[int] | None, end: int
) -> _Laid:
    """Lay the checked picks end to end up to ``end``, each cut ending on a beat of ``grid`` (None: anywhere)."""
    laid = _Laid([], [], 0, 0, [])
    last_beat = -1
    pos = 0
    for n, c in enumerate(checked, 1):
        if pos >= end:
            laid.left_out += 1
            continue
        media_rate = c.clip.media.rate
        room = _room_in_shot(c, rate)
        want = max(1, rescale_frames(c.source_out - c.source_in, media_rate, rate))
        if grid is not None:
            reachable = [f for f in grid if pos < f <= min(pos + room, end)]
            if not reachable:
                laid.problems.append(
                    f"shot {n} ({c.clip.id}): {c.pick.pick.source_in_seconds:g} s leaves only "
                    f"{room / float(rate):.2f} s in its shot, less than the next beat: pick a longer range"
                )
                continue
            stop = min(reachable, key=lambda f: (abs(f - (pos + want)), f))
        else:
            stop = min(pos + min(want, room), end)
        if stop <= pos:
            continue
        beat = c.pick.beat
        if beat != last_beat and beat < len(beats):
            laid.markers.append(PlanMarker(frame=pos, name=beats[beat].title[:80], kind="chapter", color="GREEN"))
            last_beat = beat
        laid.cuts.append(_cut(c, beats, pos, stop, rate))
        pos = stop
    laid.record_out = pos
    return laid


def _room_in_shot(c: _Checked, rate: Fraction) -> int:
    """Timeline frames from the pick's in point to its shot's end (never reaching past the shot)."""
    media_rate = c.clip.media.rate
    frames_left = c.shot.end - c.source_in
    room = rescale_frames(frames_left, media_rate, rate)
    while room > 0 and rescale_frames(room, rate, media_rate) > frames_left:
        room -= 1
    return room


def _cut(c: _Checked, beats: list[StoryBeat], record_in: int, record_out: int, rate: Fraction) -> Cut:
    src_len = rescale_frames(record_out - record_in, rate, c.clip.media.rate)
    title = beats[c.pick.beat].title if c.pick.beat < len(beats) else ""
    return Cut(
        clip_id=c.clip.id,
        source_in=c.source_in,
        source_out=c.source_in + src_len,
        record_in=record_in,
        record_out=record_out,
        reason=f"llm [{title[:60]}]: {c.pick.pick.reason[:300]}".strip(),
    )


def _length_problems(
    plan: EditPlan, brief: Brief, style: Style, rate: Fraction, target: int, target_seconds: float
) -> list[str]:
    """A music montage that falls short of its (style's) length goes back to the model; other modes keep
    the plan with a warning in it."""
    short = (target - plan.duration_frames) / float(rate)
    if short <= style.rules.duration_tolerance_seconds:
        return []
    if brief.mode == "music_montage" and brief.target_duration_seconds is None:
        return [f"the edit is {short:.1f} s shorter than the {target_seconds:.1f} s target: add shots"]
    if brief.mode != "music_montage":
        plan.warnings.append(f"the edit is {short:.1f} s shorter than the {target_seconds:.1f} s target")
    return []


def plan_with_llm(
    analysis: AnalysisResult, brief: Brief, style: Style, config: LLMConfig, client: openai.OpenAI | None = None
) -> EditPlan:
    """Convenience wrapper: :class:`LLMPlanner` with ``config``."""
    return LLMPlanner(config, client).plan(analysis, brief, style)


__all__ = ["LLMPlanner", "LLMFailure", "plan_with_llm"]
