"""FCPXML 1.8–1.13 → OTIO timelines, frame-exact.

What becomes what (docs: DESIGN.md "Interchange formats"):

- Documents: ``library › event › project``, ``event › project``, a bare ``project``, in the order
  the file lists them; one project → a ``Timeline``, several → a ``SerializableCollection``
  (``convert`` writes one output per timeline). Browser clips beside projects are reported in the
  first timeline's warnings. With no project at all, each top-level or event clip is a timeline:
  a compound clip (``ref-clip``) is its own sequence (its contents, its tcStart); any other clip
  starts at its own start timecode, so record TC = source TC as in FCP's "Open Clip".
  ``.fcpxmld`` bundles are folders holding ``Info.fcpxml``. An empty spine gives an empty V1.
- Sequence: ``format@frameDuration`` → the exact rate (``metadata.montage_bridge.rate`` =
  "24000/1001"), ``tcStart`` → ``global_start_time``, ``tcFormat="DF"`` → ``drop_frame``.
- Storylines: the primary spine is V1 (A1 when it holds only audio-only media; left out when it
  holds only gaps and something is connected to it). Connected clips and secondary storylines
  become tracks by lane: lane n > 0 → V(n+1), lane -n → An. Two items overlapping on one lane
  (FCP nests connected clips, lanes are per parent) go to an extra track of that lane.
- Items: ``asset-clip``/``video``/``audio`` → Clip with an ExternalReference (``asset@src`` ≤ 1.8,
  ``media-rep@src`` ≥ 1.9; available range = asset start/duration at the asset's rate);
  ``gap`` → Gap; ``transition`` → Transition (in/out offsets around the cut); ``title``,
  ``live-drawing`` and effect ``video`` → Clip with a GeneratorReference; ``clip`` holding one
  media item → Clip of that media (its connected items listed in metadata), otherwise a nested
  Stack; ``sync-clip`` → its layers, as FCP shows them: its content on the storyline it sits on,
  each connected component (synced audio and its channels, video over, titles) on its own lane,
  a plain ``clip`` inside it laid out the same way, everything cut to the sync clip's range (a
  component wholly outside it is listed in ``hidden_components`` and the warnings); ``ref-clip``
  → nested Stack of the compound clip's own sequence; ``mc-clip`` → Clip of the active video
  angle, plus a Clip of the active audio angle on the lane below when that is another angle (all
  angles in metadata); ``audition`` → its active (first) pick with the pick's connected clips.
  ``caption`` → not a clip: listed in ``metadata.fcpxml.captions`` and the warnings (the loss
  report). Clips hidden under higher lanes stay clips. ``enabled="0"`` → ``enabled=False``.
  Markers and chapter markers → Markers in the clip's own (media) time; keywords, notes and roles
  (``audioRole``/``videoRole``/``role``) → ``metadata.fcpxml``.
- Time: record positions are timeline frames; a clip's source start is media frames at the media
  rate, its duration timeline frames (docs/time.md). Times off the frame grid round half up.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import xml.parsers.expat
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import urljoin, urlparse

import opentimelineio as otio

from kernel.media_url import path_to_url
from kernel.timebase import format_rate, frames_to_timecode, supports_drop_frame
from nle_adapters.errors import TimelineParseError
from nle_adapters.fcpxml.common import FCPXML_META, META
from nle_adapters.fcpxml.time import FcpxmlTimeError, parse_time, rate_from_frame_duration, to_frames
from nle_adapters.input_guard import read_timeline_bytes
from nle_adapters.mix import set_clip_mix
from nle_adapters.xml_safety import parse_xml, xml_text_to_bytes

MEDIA_TAGS = {"asset-clip", "video", "audio"}
CONTAINER_TAGS = {"clip", "sync-clip"}
GENERATOR_TAGS = {"title": "fcpx_title", "live-drawing": "fcpx_live_drawing"}
STORY_TAGS = MEDIA_TAGS | CONTAINER_TAGS | set(GENERATOR_TAGS) | {"mc-clip", "ref-clip", "audition", "gap"}
# Captions are anchored like clips but are not picture: they are listed in the metadata instead.
ANCHOR_TAGS = STORY_TAGS - {"gap"} | {"spine", "caption"}
MAX_NESTING = 32
_VERSION_RE = re.compile(r"^1\.(\d+)$")


@dataclass
class _Asset:
    id: str
    name: str
    url: str | None
    start: Fraction
    duration: Fraction | None
    rate: Fraction | None
    has_video: bool
    has_audio: bool


@dataclass
class _Entry:
    """An item or transition placed on the timeline, times in absolute sequence seconds."""

    start: Fraction
    end: Fraction
    item: otio.core.Composable
    # For clips: where the OTIO source range starts (seconds in the item's own coordinate) and
    # the rate its source range is counted in (media rate for media clips).
    source_start: Fraction = Fraction(0)
    source_rate: Fraction | None = None
    # metadata["fcpxml"] for the item, set once when the item is placed (OTIO metadata writes are slow)
    meta: dict = field(default_factory=dict)
    base_meta: dict | None = None  # the metadata a cloned prototype already carries
    # Media seconds per timeline second (a retimed clip's speed): trimming the entry's head by d
    # timeline seconds moves its source start by d × speed.
    speed: Fraction = Fraction(1)
    # An mc-clip whose active audio angle is another angle: (media element, media seconds, angle).
    companion: tuple | None = None


@dataclass
class _TimeMap:
    """A clip's retiming: ``(time, value)`` points, the adjusted clip time → the original clip time.

    Between points times are interpolated linearly, beyond the ends the end segments go on. The
    OTIO form is one speed (the first-to-last average), as OTIO's LinearTimeWarp has; a map whose
    points are not on one line (a speed ramp) keeps its points in the metadata."""

    points: list[tuple[Fraction, Fraction]]

    @property
    def speed(self) -> Fraction:
        (t0, v0), (t1, v1) = self.points[0], self.points[-1]
        return (v1 - v0) / (t1 - t0)

    @property
    def linear(self) -> bool:
        t0, v0 = self.points[0]
        return all(v0 + (t - t0) * self.speed == v for t, v in self.points)

    def media_time(self, t: Fraction) -> Fraction:
        pts = self.points
        k = next((i for i in range(1, len(pts) - 1) if t < pts[i][0]), len(pts) - 1)
        (ta, va), (tb, vb) = pts[k - 1], pts[k]
        return va + (t - ta) * (vb - va) / (tb - ta)

    def effect(self) -> otio.schema.Effect:
        if self.speed == 0:
            return otio.schema.FreezeFrame()
        return otio.schema.LinearTimeWarp(time_scalar=float(self.speed))


@dataclass
class _Run:
    lane: int
    entries: list[_Entry] = field(default_factory=list)


class _Document:
    """The parsed document plus what is needed to name the line of a bad element."""

    def __init__(self, data: bytes, source: str, base_url: str | None) -> None:
        self.data = data
        self.source = source
        self.base_url = base_url
        self.root = parse_xml(data, source)
        self._index: dict[int, int] | None = None

    def line_of(self, element) -> int | None:
        """Line of ``element`` (found on demand: only error paths pay for it)."""
        if self._index is None:
            self._index = {id(e): i for i, e in enumerate(self.root.iter())}
        target = self._index.get(id(element))
        if target is None:
            return None
        counter = {"n": -1, "line": None}
        parser = xml.parsers.expat.ParserCreate()

        def start(_name, _attrs):
            counter["n"] += 1
            if counter["n"] == target:
                counter["line"] = parser.CurrentLineNumber
                raise StopIteration

        parser.StartElementHandler = start
        try:
            parser.Parse(self.data, True)
        except (StopIteration, xml.parsers.expat.ExpatError):
            pass
        return counter["line"]

    def fail(self, element, problem: str, hint: str = "") -> TimelineParseError:
        return TimelineParseError(self.source, problem, line=self.line_of(element), hint=hint)


class _Reader:
    def __init__(self, doc: _Document) -> None:
        self.doc = doc
        self.version = "1.8"
        self.formats: dict[str, tuple[Fraction | None, int | None, int | None]] = {}
        self.assets: dict[str, _Asset] = {}
        self.effects: dict[str, tuple[str, str]] = {}
        self.media: dict[str, ET.Element] = {}
        self.rate = Fraction(24)
        self._depth = 0
        self._ranges: dict[tuple[str, Fraction], tuple[int, int]] = {}
        self._protos: dict[tuple[str, Fraction, str], tuple[otio.schema.Clip, dict]] = {}
        self._reset_timeline_state()

    def _reset_timeline_state(self) -> None:
        """What one timeline collects besides its items (reported in its metadata)."""
        self.warnings: list[str] = []
        self.captions: list[tuple[ET.Element, Fraction, Fraction, int]] = []  # (element, start, end, depth)
        self.hidden: list[str] = []  # components outside their sync clip's range

    # ---- attributes --------------------------------------------------------------------------

    def time(self, element, name: str, default: Fraction | None = None) -> Fraction:
        text = element.get(name)
        if text is None:
            if default is None:
                raise self.doc.fail(element, f"<{element.tag}> has no {name} attribute")
            return default
        try:
            return parse_time(text)
        except FcpxmlTimeError as exc:
            raise self.doc.fail(element, f"<{element.tag} {name}=…>: {exc}") from exc

    def lane(self, element) -> int:
        text = element.get("lane", "0")
        try:
            return int(text)
        except ValueError as exc:
            raise self.doc.fail(element, f"<{element.tag}> lane {text!r} is not a whole number") from exc

    # ---- resources ---------------------------------------------------------------------------

    def read_resources(self) -> None:
        resources = self.doc.root.find("resources")
        if resources is None:
            return
        for element in resources:
            rid = element.get("id")
            if element.tag == "format" and rid:
                rate = None
                frame_duration = element.get("frameDuration")
                if frame_duration:
                    try:
                        rate = rate_from_frame_duration(frame_duration)
                    except FcpxmlTimeError as exc:
                        raise self.doc.fail(element, f"format {rid}: {exc}") from exc
                width_text, height_text = element.get("width") or "", element.get("height") or ""
                width = int(width_text) if width_text.isdigit() else None
                height = int(height_text) if height_text.isdigit() else None
                self.formats[rid] = (rate, width, height)
            elif element.tag == "effect" and rid:
                self.effects[rid] = (element.get("name") or "", element.get("uid") or "")
            elif element.tag == "media" and rid:
                self.media[rid] = element
        for element in resources.iter("asset"):
            rid = element.get("id")
            if not rid:
                raise self.doc.fail(element, "<asset> has no id")
            src = element.get("src")
            if src is None:
                reps = element.findall("media-rep")
                original = [r for r in reps if r.get("kind", "original-media") == "original-media"]
                chosen = (original or reps)[:1]
                src = chosen[0].get("src") if chosen else None
            fmt = self.formats.get(element.get("format") or "")
            has_video = element.get("hasVideo") == "1"
            self.assets[rid] = _Asset(
                id=rid,
                name=element.get("name") or rid,
                url=self._url(src),
                start=self.time(element, "start", Fraction(0)),
                duration=self.time(element, "duration") if element.get("duration") else None,
                rate=fmt[0] if fmt else None,
                has_video=has_video,
                has_audio=element.get("hasAudio") == "1",
            )

    def _url(self, src: str | None) -> str | None:
        if not src:
            return None
        if urlparse(src).scheme or not self.doc.base_url:
            return src
        return urljoin(self.doc.base_url, src)

    # ---- documents ---------------------------------------------------------------------------

    def read(self):
        root = self.doc.root
        if root.tag != "fcpxml":
            raise self.doc.fail(root, f"not an FCPXML document (root element is <{root.tag}>, expected <fcpxml>)")
        version = root.get("version") or ""
        if not _VERSION_RE.match(version):
            raise self.doc.fail(root, f"unsupported FCPXML version {version!r}", hint="expected 1.8 to 1.13")
        self.version = version
        self.read_resources()
        projects: list[tuple[object, str | None]] = []
        clips: list[tuple[object, str | None]] = []
        containers = [(root, None)]
        for library in root.findall("library"):
            containers.extend((e, e.get("name")) for e in library.findall("event"))
        containers.extend((e, e.get("name")) for e in root.findall("event"))
        for container, event in containers:
            for child in container:
                if child.tag == "project":
                    projects.append((child, event))
                elif child.tag in STORY_TAGS - {"gap"}:
                    clips.append((child, event))
        # Timelines come in the order the file lists them (FCP's order), wherever they sit.
        order = {id(e): i for i, e in enumerate(root.iter())}
        projects.sort(key=lambda p: order[id(p[0])])
        clips.sort(key=lambda c: order[id(c[0])])
        if projects:
            timelines = [self.project(p, event) for p, event in projects]
            if clips:
                # An event export holds browser clips beside its projects: only projects are edits.
                names = ", ".join(repr(c.get("name") or c.tag) for c, _ in clips[:3])
                more = f" and {len(clips) - 3} more" if len(clips) > 3 else ""
                timelines[0].metadata[META].setdefault("warnings", []).append(
                    f"{len(clips)} event clip(s) beside the projects not read as timelines: {names}{more}"
                )
        else:
            timelines = [self.standalone_clip(c, event) for c, event in clips]
        if not timelines:
            raise self.doc.fail(root, "the document holds no project and no clip", hint="export a project from FCP")
        if len(timelines) == 1:
            return timelines[0]
        return otio.schema.SerializableCollection(name=self.doc.source, children=timelines)

    def _rate_of_format(self, element, format_id: str | None) -> tuple[Fraction, int | None, int | None]:
        fmt = self.formats.get(format_id or "")
        if fmt is None or fmt[0] is None:
            raise self.doc.fail(
                element, f"<{element.tag}> refers to format {format_id!r}, which is missing or has no frameDuration"
            )
        return fmt  # type: ignore[return-value]

    def project(self, project, event: str | None) -> otio.schema.Timeline:
        sequence = project.find("sequence")
        if sequence is None:
            raise self.doc.fail(project, f"project {project.get('name')!r} has no <sequence>")
        meta = {"version": self.version, "event": event, "project": project.get("name")}
        return self._sequence_timeline(sequence, project.get("name") or "", meta)

    def _sequence_timeline(self, sequence, name: str, fcpxml_meta: dict) -> otio.schema.Timeline:
        """A ``<sequence>`` (a project's, or a standalone compound clip's) → a Timeline."""
        self._reset_timeline_state()
        rate, width, height = self._rate_of_format(sequence, sequence.get("format"))
        self.rate = rate
        tc_start = self.time(sequence, "tcStart", Fraction(0))
        drop = sequence.get("tcFormat") == "DF" and supports_drop_frame(rate)
        spine = sequence.find("spine")
        if spine is None:
            raise self.doc.fail(sequence, "<sequence> has no <spine>")
        runs = self.read_spine(spine, shift=Fraction(0), lane=0)
        tracks = self.assemble(runs, tc_start, rate)
        size = {"width": width, "height": height} if width and height else {}
        return self._timeline(name, tracks, to_frames(tc_start, rate), rate, drop, tc_start, fcpxml_meta, size)

    def _timeline(self, name, tracks, start: int, rate, drop, origin, fcpxml_meta, extra) -> otio.schema.Timeline:
        """Wrap ``tracks`` (``start`` = the first frame's number, ``origin`` its time in seconds)."""
        if not len(tracks):
            # An empty storyline is still a timeline with a primary storyline (empty V1).
            empty = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
            empty.metadata[FCPXML_META] = {"lane": 0}
            tracks.append(empty)
        timeline = otio.schema.Timeline(name=name)
        timeline.tracks = tracks
        timeline.global_start_time = otio.opentime.RationalTime(start, float(rate))
        timeline.metadata[META] = {
            "rate": format_rate(rate),
            "start_timecode": frames_to_timecode(start, rate, drop),
            "drop_frame": drop,
            **extra,
        }
        meta = dict(fcpxml_meta)
        if self.captions:
            meta["captions"] = [self._caption_meta(c, origin, rate) for c in self.captions]
            # The timeline's own captions, in the shape every writer reads (nle_adapters.mix).
            cues = [
                {"start": c["start_frame"], "end": c["start_frame"] + c["duration_frames"], "text": c["text"]}
                for c in meta["captions"]
                if "start_frame" in c and c.get("text") and c["duration_frames"] > 0
            ]
            if cues:
                timeline.metadata[META]["captions"] = sorted(cues, key=lambda c: (c["start"], c["end"]))
            self.warnings.append(
                f"{len(self.captions)} caption(s) kept in the metadata only (not as clips): "
                + ", ".join(repr(c[0].get("name") or "caption") for c in self.captions[:3])
            )
        if self.hidden:
            meta["hidden_components"] = list(self.hidden)
            self.warnings.append(
                f"{len(self.hidden)} sync-clip component(s) entirely outside the sync clip's range (not visible in"
                f" FCP) left out: {', '.join(self.hidden[:3])}"
            )
        if self.warnings:
            timeline.metadata[META]["warnings"] = list(self.warnings)
        timeline.metadata[FCPXML_META] = meta
        return timeline

    def _caption_meta(self, caption, origin: Fraction, rate: Fraction) -> dict:
        element, start, end, depth = caption
        meta: dict[str, str | int] = {"name": element.get("name") or "", "role": element.get("role") or ""}
        text = " ".join("".join(t.itertext()).strip() for t in element.findall("text")).strip()
        if text:
            meta["text"] = text
        if depth == 0:  # in the timeline's own time (a caption inside a compound clip has none)
            start_frame = to_frames(start - origin, rate)
            meta["start_frame"] = start_frame
            meta["duration_frames"] = to_frames(end - origin, rate) - start_frame
        return meta

    def standalone_clip(self, element, event: str | None) -> otio.schema.Timeline:
        """A clip exported on its own (no project).

        A compound clip (``ref-clip``) is its own sequence: the timeline is the compound's
        contents. Any other clip becomes a timeline holding its contents from its own start
        timecode (the source TC FCP shows when the clip is opened), so record TC = source TC.
        """
        fcpxml_meta = {"version": self.version, "event": event, "clip": element.get("name")}
        if element.tag == "ref-clip":
            media = self.media.get(element.get("ref") or "")
            sequence = media.find("sequence") if media is not None else None
            if media is None or sequence is None:
                raise self.doc.fail(element, f"<ref-clip> media {element.get('ref')!r} holds no sequence")
            return self._sequence_timeline(sequence, element.get("name") or media.get("name") or "", fcpxml_meta)
        self._reset_timeline_state()
        pick = self._active_pick(element) if element.tag == "audition" else element
        rate = self._element_rate(pick)
        self.rate = rate
        duration = self._duration(element)
        start = self.time(pick, "start", self._default_start(pick))
        runs = [_Run(0)]
        self.place(element, start, start + duration, runs[0], runs, shift=Fraction(0), lane=0)
        tracks = self.assemble(runs, start, rate)
        drop = pick.get("tcFormat") == "DF" and supports_drop_frame(rate)
        name = element.get("name") or ""
        return self._timeline(name, tracks, to_frames(start, rate), rate, drop, start, fcpxml_meta, {})

    def _element_rate(self, element) -> Fraction:
        if element.get("format") in self.formats and self.formats[element.get("format")][0]:
            return self.formats[element.get("format")][0]  # type: ignore[return-value]
        asset = self.assets.get(element.get("ref") or "")
        if asset is not None and asset.rate:
            return asset.rate
        for rate, _, _ in self.formats.values():
            if rate:
                return rate
        raise self.doc.fail(element, f"cannot tell the frame rate of <{element.tag}>: no format with frameDuration")

    def _duration(self, element) -> Fraction:
        if element.tag == "audition" and element.get("duration") is None:
            picks = [c for c in element if c.tag in STORY_TAGS]
            if not picks:
                raise self.doc.fail(element, "<audition> holds no clip")
            return self._duration(picks[0])
        if element.get("duration") is None and element.tag == "asset-clip":
            asset = self._asset(element)
            if asset.duration is None:
                raise self.doc.fail(element, "<asset-clip> has no duration and its asset has none either")
            return asset.duration
        value = self.time(element, "duration")
        if value < 0:
            raise self.doc.fail(element, f"<{element.tag}> has a negative duration")
        return value

    def _asset(self, element) -> _Asset:
        asset = self.assets.get(element.get("ref") or "")
        if asset is None:
            raise self.doc.fail(
                element, f"<{element.tag}> refers to asset {element.get('ref')!r}, which is not defined"
            )
        return asset

    # ---- storylines --------------------------------------------------------------------------

    def read_spine(self, spine, shift: Fraction, lane: int, in_sync: bool = False) -> list[_Run]:
        """Items of ``spine`` (children offsets in its local time; timeline = local + ``shift``)."""
        run = _Run(lane)
        runs = [run]
        cursor = self.time(spine, "start", Fraction(0)) if spine.get("start") else None
        for child in spine:
            if child.tag == "transition":
                offset = self.time(child, "offset", cursor if cursor is not None else Fraction(0))
                duration = self._duration(child)
                transition = otio.schema.Transition(
                    name=child.get("name") or "Transition",
                    transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve
                    if "dissolve" in (child.get("name") or "").lower() or not child.get("name")
                    else otio.schema.TransitionTypes.Custom,
                )
                meta: dict[str, object] = {}
                filt = child.find("filter-video")
                if filt is not None and filt.get("ref") in self.effects:
                    meta["effect_name"], meta["effect_uid"] = self.effects[filt.get("ref")]
                markers = [m.get("value") for m in child if m.tag in ("marker", "chapter-marker")]
                if markers:
                    meta["markers"] = markers
                run.entries.append(_Entry(offset + shift, offset + duration + shift, transition, meta=meta))
                continue
            if child.tag not in STORY_TAGS:
                continue
            offset = self.time(child, "offset", cursor if cursor is not None else Fraction(0))
            duration = self._duration(child)
            self.place(child, offset + shift, offset + duration + shift, run, runs, shift, lane, in_sync=in_sync)
            cursor = offset + duration
        return runs

    def _active_pick(self, audition):
        """An audition's active pick: its first clip (FCP writes the active one first)."""
        picks = [c for c in audition if c.tag in STORY_TAGS]
        if not picks:
            raise self.doc.fail(audition, "<audition> holds no clip")
        return picks[0]

    def place(
        self, element, start: Fraction, end: Fraction, run: _Run, runs: list[_Run], shift, lane, in_sync: bool = False
    ) -> None:
        """Read one story element placed at [start, end) seconds into ``run``; its anchored items
        become further runs (appended to ``runs``). ``in_sync``: the element is a component of a
        sync clip (a plain ``clip`` there is laid out as layers too)."""
        if element.tag == "caption":
            self.captions.append((element, start, end, self._depth))
            return
        if element.tag == "audition":
            picks = [c for c in element if c.tag in STORY_TAGS]
            active = self._active_pick(element)
            before = len(run.entries)
            # The active pick is what plays; its connected clips play with it.
            self.place(active, start, end, run, runs, shift, lane, in_sync)
            if len(run.entries) > before:
                meta = run.entries[before].meta
                meta["audition_alternates"] = [p.get("name") or p.tag for p in picks[1:]]
            return
        if element.tag == "sync-clip" or (element.tag == "clip" and in_sync):
            if element.find("timeMap") is None:
                self._layers(element, start, end, run, runs, lane)
                return
            # A retimed sync clip's components would each need the map: read it as one clip.
            self.warnings.append(f"retimed <{element.tag}> {element.get('name')!r} read as one clip of its video")
        local_start = self.time(element, "start", self._default_start(element))
        entry = self.item(element, start, end, local_start)
        run.entries.append(entry)
        if entry.companion is not None:
            # A multicam clip listening to another angle: that angle's audio plays under it.
            media_element, media_in, angle = entry.companion
            audio = self._media_clip(element, media_element, start, end, media_in, element.get("name") or "")
            audio.meta.update({"element": "mc-clip", "multicam_audio_angle": angle})
            runs.append(_Run(lane - 1 if lane <= 0 else -1, [audio]))
        if element.tag in CONTAINER_TAGS:
            return  # a compound clip's own items belong to it (read by item())
        self._anchored(element, start - local_start, runs, lane, in_sync)

    def _anchored(self, element, child_shift: Fraction, runs: list[_Run], lane: int, in_sync: bool) -> None:
        """``element``'s connected items (offsets in its local time; timeline = local + ``child_shift``)."""
        for child in element:
            if child.tag not in ANCHOR_TAGS or child.get("lane") is None:
                continue
            effective = lane + self.lane(child)
            if child.tag == "spine":
                spine_shift = self.time(child, "offset", Fraction(0)) + child_shift
                spine_shift -= self.time(child, "start", Fraction(0))
                runs.extend(self.read_spine(child, spine_shift, effective, in_sync))
            else:
                offset = self.time(child, "offset", Fraction(0))
                child_run = _Run(effective)
                runs.append(child_run)
                child_start = offset + child_shift
                child_end = child_start + self._duration(child)
                self.place(child, child_start, child_end, child_run, runs, child_shift, effective, in_sync)

    def _layers(self, element, start: Fraction, end: Fraction, run: _Run, runs: list[_Run], lane: int) -> None:
        """A sync clip (or a clip inside one) laid out as what FCP shows: its content on ``run``,
        each connected component on its own lane, all cut to the container's own range."""
        local_start = self.time(element, "start", Fraction(0))
        shift = start - local_start
        mark, first_run = len(run.entries), len(runs)
        for child in element:
            if child.get("lane") is not None:
                continue
            if child.tag == "spine":
                spine_shift = self.time(child, "offset", Fraction(0)) + shift - self.time(child, "start", Fraction(0))
                runs.extend(self.read_spine(child, spine_shift, lane, in_sync=True))
            elif child.tag in STORY_TAGS:
                offset = self.time(child, "offset", Fraction(0)) + shift
                self.place(child, offset, offset + self._duration(child), run, runs, shift, lane, in_sync=True)
        self._anchored(element, shift, runs, lane, in_sync=True)
        name = element.get("name") or element.tag
        self._window(run.entries, mark, start, end, name)
        for other in runs[first_run:]:
            self._window(other.entries, 0, start, end, name)
        for entry in run.entries[mark:]:
            entry.meta["sync_clip"] = name
        for other in runs[first_run:]:
            for entry in other.entries:
                entry.meta["sync_clip"] = name
        # The container's whole range stays on its storyline, covered by its content or a gap.
        covered = max((e.end for e in run.entries[mark:]), default=start)
        if covered < end:
            run.entries.append(_Entry(covered, end, otio.schema.Gap(), Fraction(0), None))

    def _window(self, entries: list[_Entry], mark: int, lo: Fraction, hi: Fraction, container: str) -> None:
        """Cut ``entries[mark:]`` to [lo, hi) seconds: what lies outside a container is not seen."""
        kept = entries[:mark]
        for entry in entries[mark:]:
            first, last = max(entry.start, lo), min(entry.end, hi)
            if last <= first:
                if not isinstance(entry.item, (otio.schema.Gap, otio.schema.Transition)):
                    self.hidden.append(f"{entry.item.name or '?'} (in {container!r})")
                continue
            if first > entry.start and not isinstance(entry.item, otio.schema.Transition):
                entry.source_start += (first - entry.start) * entry.speed
            entry.start, entry.end = first, last
            kept.append(entry)
        entries[:] = kept

    def _default_start(self, element) -> Fraction:
        if element.tag in MEDIA_TAGS and element.get("ref") in self.assets:
            return self.assets[element.get("ref")].start
        return Fraction(0)

    # ---- items -------------------------------------------------------------------------------

    def item(self, element, start: Fraction, end: Fraction, local_start: Fraction) -> _Entry:
        tag = element.tag
        name = element.get("name") or ""
        if tag == "gap":
            item = otio.schema.Gap(name=name)
            entry = _Entry(start, end, item, Fraction(0), None)
            self._markers(element, entry, local_start)
            return entry
        if tag in MEDIA_TAGS and element.get("ref") in self.effects:
            return self._generator(element, start, end, local_start, "fcpx_generator")
        if tag in GENERATOR_TAGS:
            return self._generator(element, start, end, local_start, GENERATOR_TAGS[tag])
        retime = self._time_map(element)
        # A retimed clip's local times are "adjusted" times; its media starts where the map sends its start.
        media_start = retime.media_time(local_start) if retime else local_start
        if tag in MEDIA_TAGS:
            entry = self._media_clip(element, element, start, end, media_start, name)
        elif tag in CONTAINER_TAGS:
            entry = self._container(element, start, end, media_start, name)
        elif tag == "ref-clip":
            entry = self._ref_clip(element, start, end, media_start, name)
        elif tag == "mc-clip":
            entry = self._mc_clip(element, start, end, media_start, name)
        else:  # pragma: no cover - STORY_TAGS is exhaustive above
            raise self.doc.fail(element, f"unexpected <{tag}>")
        if element.get("enabled") == "0":
            entry.item.enabled = False
        meta = entry.meta
        meta["element"] = tag
        keywords = [k.get("value") for k in element.findall("keyword") if k.get("value")]
        if keywords:
            meta["keywords"] = keywords
        note = element.findtext("note")
        if note:
            meta["note"] = note
        for role in ("audioRole", "videoRole", "role"):
            if element.get(role):
                meta[role] = element.get(role)
        conform = element.find("conform-rate")
        if conform is not None and conform.get("srcFrameRate"):
            meta["conform_rate"] = conform.get("srcFrameRate")
        if tag in MEDIA_TAGS:
            mix = self._mix(element, local_start)
            if mix:
                set_clip_mix(entry.item, mix)
        if retime is not None:
            entry.speed = retime.speed
            entry.item.effects.append(retime.effect())
            meta["speed"] = float(retime.speed)
            if not retime.linear:
                meta["time_map"] = [[str(t), str(v)] for t, v in retime.points]
        self._markers(element, entry, local_start)
        return entry

    def _mix(self, element, local_start: Fraction) -> dict:
        """``adjust-volume › param amount`` as the clip mix of ``nle_adapters.mix``: fades in seconds,
        keyframes in timeline frames from the clip's first frame (dB). A constant ``amount`` other than
        0 dB (a clip level) becomes one keyframe."""
        adjust = element.find("adjust-volume")
        if adjust is None:
            return {}
        mix: dict = {}
        level = _decibels(adjust.get("amount"))
        param = next((p for p in adjust.findall("param") if p.get("name") == "amount"), None)
        if param is not None:
            for tag, side in (("fadeIn", "fade_in"), ("fadeOut", "fade_out")):
                fade = param.find(tag)
                if fade is not None:
                    mix[side] = float(self.time(fade, "duration"))
            keys = []
            for key in param.findall("keyframeAnimation/keyframe"):
                db = _decibels(key.get("value"))
                if db is None:
                    continue
                frames = (self.time(key, "time") - local_start) * self.rate
                value = int(frames) if frames.denominator == 1 else round(float(frames), 3)
                keys.append([value, round(db, 3)])  # keyframes animate amount: they replace it
            if keys:
                mix["volume"] = keys
        if "volume" not in mix and level:
            mix["volume"] = [[0, round(level, 3)]]
        return mix

    def _time_map(self, element) -> _TimeMap | None:
        """The element's ``<timeMap>`` (speed change), or None."""
        node = element.find("timeMap")
        if node is None or element.tag not in MEDIA_TAGS | CONTAINER_TAGS | {"ref-clip", "mc-clip"}:
            return None
        points = sorted((self.time(p, "time"), self.time(p, "value")) for p in node.findall("timept"))
        if len(points) < 2 or points[-1][0] == points[0][0]:
            raise self.doc.fail(node, "<timeMap> needs two or more <timept> at different times")
        return _TimeMap(points)

    def _reference(self, asset: _Asset, rate: Fraction) -> otio.core.MediaReference:
        if not asset.url:
            return otio.schema.MissingReference(name=asset.name, metadata={META: {"rate": format_rate(rate)}})
        available = None
        if asset.duration is not None:
            key = (asset.id, rate)
            if key not in self._ranges:
                first = to_frames(asset.start, rate)
                # Audio-accurate durations can end between frames: keep the whole frames only.
                last = int((asset.start + asset.duration) * rate)
                self._ranges[key] = (first, max(0, last - first))
            first, count = self._ranges[key]
            available = otio.opentime.TimeRange(
                otio.opentime.RationalTime(first, float(rate)), otio.opentime.RationalTime(count, float(rate))
            )
        return otio.schema.ExternalReference(
            target_url=asset.url, available_range=available, metadata={META: {"rate": format_rate(rate)}}
        )

    def _media_clip(self, element, media_element, start, end, media_in: Fraction, name: str) -> _Entry:
        """A Clip of ``media_element``'s asset whose source starts at ``media_in`` (media seconds)."""
        asset = self._asset(media_element)
        rate = asset.rate or self._format_rate(media_element) or self.rate
        # Building OTIO objects with metadata is slow; cloning a per-asset prototype is ~4x faster.
        key = (asset.id, rate, element.tag)
        if key not in self._protos:
            meta = {"asset": asset.name, "has_video": asset.has_video, "has_audio": asset.has_audio}
            meta["element"] = element.tag
            proto = otio.schema.Clip(
                name=asset.name,
                media_reference=self._reference(asset, rate),
                metadata={META: {"source_rate": format_rate(rate)}, FCPXML_META: meta},
            )
            self._protos[key] = (proto, meta)
        proto, meta = self._protos[key]
        clip = proto.clone()
        clip.name = name or asset.name
        return _Entry(start, end, clip, media_in, rate, meta=dict(meta), base_meta=meta)

    def _format_rate(self, element) -> Fraction | None:
        fmt = self.formats.get(element.get("format") or "")
        return fmt[0] if fmt else None

    def _generator(self, element, start, end, local_start, kind) -> _Entry:
        effect_name, effect_uid = self.effects.get(element.get("ref") or "", ("", ""))
        params = {"effect_name": effect_name, "effect_uid": effect_uid}
        text = " ".join("".join(t.itertext()).strip() for t in element.findall("text")).strip()
        if text:
            params["text"] = text
        clip = otio.schema.Clip(
            name=element.get("name") or effect_name,
            media_reference=otio.schema.GeneratorReference(name=effect_name, generator_kind=kind, parameters=params),
        )
        if element.get("enabled") == "0":
            clip.enabled = False
        entry = _Entry(start, end, clip, local_start, self.rate, meta={"element": element.tag})
        self._markers(element, entry, local_start)
        return entry

    def _content(self, container) -> list:
        return [c for c in container if c.get("lane") is None and (c.tag in STORY_TAGS or c.tag == "spine")]

    def _resolve_media(self, element, local_t: Fraction, depth: int = 0):
        """Follow single-item containers down to a media element: (element, media seconds) or None."""
        if depth > MAX_NESTING:
            raise self.doc.fail(element, "clips nested too deeply")
        if element.tag in MEDIA_TAGS:
            return (element, local_t) if element.get("ref") in self.assets else None
        if element.tag in CONTAINER_TAGS or element.tag == "spine":
            if element.tag == "spine":
                items = [c for c in element if c.tag in STORY_TAGS]
            else:
                items = [c for c in self._content(element)]
            if len(items) != 1:
                return None
            return self._resolve_child(items[0], local_t, depth)
        if element.tag == "gap":
            # FCP's detached-audio shape: clip › gap › audio (lane -1). A gap holding exactly one
            # anchored media item stands for that item.
            anchored = [c for c in element if c.get("lane") is not None and c.tag in ANCHOR_TAGS]
            if len(anchored) != 1:
                return None
            return self._resolve_child(anchored[0], local_t, depth)
        return None

    def _resolve_child(self, child, parent_t: Fraction, depth: int):
        offset = self.time(child, "offset", Fraction(0))
        child_start = self.time(child, "start", self._default_start(child))
        return self._resolve_media(child, child_start + (parent_t - offset), depth + 1)

    def _container(self, element, start, end, local_start, name) -> _Entry:
        resolved = self._resolve_media(element, local_start)
        if resolved is not None:
            media_element, media_in = resolved
            entry = self._media_clip(element, media_element, start, end, media_in, name)
            # Markers on the container are in its local time; shift them into media time.
            entry.source_start = media_in
            # Its connected items (a sync-clip's other sources, a compound's own audio) stay with it.
            others = [c.get("name") or c.tag for c in element.iter() if c.get("lane") is not None]
            if others:
                key = "sync_sources" if element.tag == "sync-clip" else "connected"
                entry.meta[key] = others
            return entry
        # Several items inside: a nested stack read like a sequence in the container's local time.
        runs: list[_Run] = []
        for child in self._content(element):
            if child.tag == "spine":
                runs.extend(self.read_spine(child, self.time(child, "offset", Fraction(0)), 0))
            else:
                run = _Run(0)
                runs.append(run)
                offset = self.time(child, "offset", Fraction(0))
                self.place(child, offset, offset + self._duration(child), run, runs, Fraction(0), 0)
        for child in element:
            if child.get("lane") is not None and child.tag in ANCHOR_TAGS:
                offset = self.time(child, "offset", Fraction(0))
                if child.tag == "spine":
                    runs.extend(
                        self.read_spine(child, offset - self.time(child, "start", Fraction(0)), self.lane(child))
                    )
                else:
                    run = _Run(self.lane(child))
                    runs.append(run)
                    self.place(child, offset, offset + self._duration(child), run, runs, Fraction(0), self.lane(child))
        return self._stack_entry(element, runs, start, end, local_start, Fraction(0), name)

    def _stack_entry(self, element, runs, start, end, local_start, origin, name) -> _Entry:
        stack = self.assemble(runs, origin, self.rate)
        stack.name = name
        return _Entry(start, end, stack, local_start - origin, self.rate)

    def _ref_clip(self, element, start, end, local_start, name) -> _Entry:
        media = self.media.get(element.get("ref") or "")
        if media is None:
            raise self.doc.fail(element, f"<ref-clip> refers to media {element.get('ref')!r}, which is not defined")
        sequence = media.find("sequence")
        if sequence is None or sequence.find("spine") is None:
            raise self.doc.fail(element, f"<ref-clip> media {element.get('ref')!r} holds no sequence")
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise self.doc.fail(element, "compound clips nested too deeply (or referring to themselves)")
        outer_rate = self.rate
        try:
            # The compound clip's own sequence is counted at its own rate.
            self.rate = self._format_rate(sequence) or outer_rate
            origin = self.time(sequence, "tcStart", Fraction(0))
            runs = self.read_spine(sequence.find("spine"), Fraction(0), 0)
            entry = self._stack_entry(element, runs, start, end, local_start, origin, name or media.get("name") or "")
        finally:
            self._depth -= 1
            self.rate = outer_rate
        entry.meta.update({"media": media.get("name"), "ref": element.get("ref")})
        return entry

    def _mc_clip(self, element, start, end, local_start, name) -> _Entry:
        media = self.media.get(element.get("ref") or "")
        multicam = media.find("multicam") if media is not None else None
        if media is None or multicam is None:
            raise self.doc.fail(element, f"<mc-clip> refers to media {element.get('ref')!r}, which holds no multicam")
        angles = multicam.findall("mc-angle")
        video_angle = audio_angle = None
        for source in element.findall("mc-source"):
            enable = source.get("srcEnable", "all")
            if enable in ("all", "video") and video_angle is None:
                video_angle = source.get("angleID")
            if enable in ("all", "audio") and audio_angle is None:
                audio_angle = source.get("angleID")
        angle = next((a for a in angles if a.get("angleID") == video_angle), angles[0] if angles else None)
        meta = {
            "multicam": media.get("name"),
            "active_video_angle": angle.get("name") if angle is not None else None,
            "active_audio_angle": next((a.get("name") for a in angles if a.get("angleID") == audio_angle), None),
            "angles": [a.get("name") for a in angles],
        }
        resolved = self._angle_media(angle, local_start) if angle is not None else None
        if resolved is None:
            clip = otio.schema.Clip(name=name, media_reference=otio.schema.MissingReference(name=name))
            entry = _Entry(start, end, clip, local_start, self.rate)
        else:
            entry = self._media_clip(element, resolved[0], start, end, resolved[1], name)
        entry.meta.update(meta)
        if audio_angle is not None and audio_angle != video_angle:
            heard = next((a for a in angles if a.get("angleID") == audio_angle), None)
            found = self._angle_media(heard, local_start) if heard is not None else None
            if heard is not None and found is not None:
                entry.companion = (found[0], found[1], heard.get("name"))
            else:
                self.warnings.append(f"<mc-clip> {name!r}: its audio angle has no media at the clip's start")
        return entry

    def _angle_media(self, angle, local_start: Fraction):
        """The media element (and media seconds) an mc-angle plays at multicam time ``local_start``."""
        for child in angle:
            if child.tag not in STORY_TAGS:
                continue
            offset = self.time(child, "offset", Fraction(0))
            if offset <= local_start < offset + self._duration(child):
                child_start = self.time(child, "start", self._default_start(child))
                return self._resolve_media(child, child_start + (local_start - offset))
        return None

    def _markers(self, element, entry: _Entry, local_start: Fraction) -> None:
        rate = entry.source_rate or self.rate
        item = entry.item
        if not isinstance(item, otio.core.Item):
            return
        for child in element:
            if child.tag not in ("marker", "chapter-marker"):
                continue
            at = self.time(child, "start")
            length = self.time(child, "duration", Fraction(0))
            # Marker times are in the element's local time; the OTIO source range may sit elsewhere.
            where = entry.source_start + (at - local_start)
            frames = to_frames(where, rate)
            span = max(0, to_frames(where + length, rate) - frames)
            if child.tag == "chapter-marker":
                color = otio.schema.MarkerColor.ORANGE
            elif child.get("completed") == "0":
                color = otio.schema.MarkerColor.RED
            elif child.get("completed") == "1":
                color = otio.schema.MarkerColor.GREEN
            else:
                color = otio.schema.MarkerColor.BLUE
            marker = otio.schema.Marker(
                name=child.get("value") or "",
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(frames, float(rate)), otio.opentime.RationalTime(span, float(rate))
                ),
                color=color,
            )
            fmeta = {"kind": child.tag}
            if child.get("note"):
                fmeta["note"] = child.get("note")
            marker.metadata[FCPXML_META] = fmeta
            item.markers.append(marker)

    # ---- tracks ------------------------------------------------------------------------------

    def assemble(self, runs: list[_Run], origin: Fraction, rate: Fraction) -> otio.schema.Stack:
        """Lay runs out on tracks; ``origin`` = the time of frame 0 (the sequence's tcStart)."""
        stack = otio.schema.Stack(name="tracks")
        runs = [r for r in runs if r.entries]
        primary = [r for r in runs if r.lane == 0]
        others = [r for r in runs if r.lane != 0]
        main_items = [e for r in primary for e in r.entries if not isinstance(e.item, otio.schema.Transition)]
        only_gaps = all(isinstance(e.item, otio.schema.Gap) for e in main_items)
        audio_only = (
            bool(main_items)
            and all(
                isinstance(e.item, otio.schema.Gap)
                or (
                    isinstance(e.item, otio.schema.Clip)
                    and e.meta.get("has_video") is False
                    and e.meta.get("has_audio") is True
                )
                for e in main_items
            )
            and not only_gaps
        )
        video_groups: dict[int, list[_Run]] = {}
        audio_groups: dict[int, list[_Run]] = {}
        if primary and not (only_gaps and others):
            (audio_groups if audio_only else video_groups)[0] = primary
        for run in others:
            if run.lane > 0:
                video_groups.setdefault(run.lane, []).append(run)
            else:
                audio_groups.setdefault(-run.lane, []).append(run)
        for kind, groups in ((otio.schema.TrackKind.Video, video_groups), (otio.schema.TrackKind.Audio, audio_groups)):
            letter = "V" if kind == otio.schema.TrackKind.Video else "A"
            for lane in sorted(groups):
                for track in self._tracks_for_lane(groups[lane], origin, rate, kind):
                    track.name = f"{letter}{len([t for t in stack if t.kind == kind]) + 1}"
                    # Which FCP lane the track came from (0 = the primary storyline).
                    track.metadata[FCPXML_META] = {"lane": lane if kind == otio.schema.TrackKind.Video else -lane}
                    stack.append(track)
        return stack

    def _tracks_for_lane(self, runs: list[_Run], origin, rate, kind) -> list[otio.schema.Track]:
        """One track per lane, more when items on the lane overlap."""
        laid: list[tuple[int, int, list]] = []  # (first frame, end frame, [(start, end, entry)])
        for run in runs:
            frames = [(to_frames(e.start - origin, rate), to_frames(e.end - origin, rate), e) for e in run.entries]
            items = [f for f in frames if not isinstance(f[2].item, otio.schema.Transition)]
            if not items:
                continue
            laid.append((min(f[0] for f in items), max(f[1] for f in items), frames))
        laid.sort(key=lambda x: x[0])
        lanes: list[tuple[int, list]] = []  # (end frame, [laid runs])
        for first, last, frames in laid:
            for i, (end, members) in enumerate(lanes):
                if first >= end:
                    members.append(frames)
                    lanes[i] = (last, members)
                    break
            else:
                lanes.append((last, [frames]))
        return [self._track(members, rate, kind) for _, members in lanes]

    def _track(self, members: list[list], rate: Fraction, kind) -> otio.schema.Track:
        track = otio.schema.Track(kind=kind)
        cursor = 0
        rt = otio.opentime.RationalTime
        for frames in members:
            for index, (first, last, entry) in enumerate(frames):
                item = entry.item
                if isinstance(item, otio.schema.Transition):
                    # The cut is where the next item starts (or the previous one ends at a run's end).
                    nxt = next(
                        (f for f in frames[index + 1 :] if not isinstance(f[2].item, otio.schema.Transition)), None
                    )
                    cut = max(nxt[0], cursor) if nxt is not None else cursor
                    item.in_offset = rt(max(0, cut - first), float(rate))
                    item.out_offset = rt(max(0, last - cut), float(rate))
                    if nxt is not None and nxt[0] > cursor:
                        track.append(otio.schema.Gap(source_range=_range(0, nxt[0] - cursor, rate)))
                        cursor = nxt[0]
                    if entry.meta:
                        item.metadata[FCPXML_META] = entry.meta
                    track.append(item)
                    continue
                first = max(first, cursor)
                if first > cursor:
                    track.append(otio.schema.Gap(source_range=_range(0, first - cursor, rate)))
                duration = max(0, last - first)
                source_rate = entry.source_rate or rate
                source_start = to_frames(entry.source_start, source_rate)
                item.source_range = otio.opentime.TimeRange(
                    rt(source_start, float(source_rate)), rt(duration, float(rate))
                )
                if entry.meta and entry.meta != entry.base_meta:
                    item.metadata[FCPXML_META] = entry.meta
                track.append(item)
                cursor = first + duration
        return track


def _range(start: int, duration: int, rate: Fraction) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, float(rate)), otio.opentime.RationalTime(duration, float(rate))
    )


def _decibels(text: str | None) -> float | None:
    """``"-12dB"`` / ``"-12"`` → -12.0; None when absent or not a number."""
    if not text:
        return None
    try:
        return float(text.strip().removesuffix("dB").removesuffix("db").strip())
    except ValueError:
        return None


def read_fcpxml_string(text: str | bytes, source: str = "<string>", base_url: str | None = None):
    """FCPXML text → ``Timeline`` (one project) or ``SerializableCollection`` (several).

    Raises :class:`TimelineParseError` (file, line, problem) for anything that is not FCPXML.
    """
    data = xml_text_to_bytes(text) if isinstance(text, str) else text
    doc = _Document(data, source, base_url)
    try:
        return _Reader(doc).read()
    except TimelineParseError:
        raise
    except RecursionError as exc:
        raise TimelineParseError(source, "the document is nested too deeply to be a timeline") from exc


def read_fcpxml_file(path: str | Path):
    """An ``.fcpxml`` file or ``.fcpxmld`` bundle (a folder holding ``Info.fcpxml``) → timeline(s)."""
    path = Path(path)
    target = path / "Info.fcpxml" if path.is_dir() else path
    if path.is_dir() and not target.is_file():
        raise TimelineParseError(str(target), "no such file", hint="an .fcpxmld bundle must hold Info.fcpxml")
    # The same guarded read as `convert`: regular files only, the size cap counted as bytes arrive.
    data = read_timeline_bytes(target)
    base = path if path.is_dir() else path.parent
    return read_fcpxml_string(data, source=str(target), base_url=path_to_url(base.resolve()) + "/")


__all__ = ["read_fcpxml_file", "read_fcpxml_string"]
