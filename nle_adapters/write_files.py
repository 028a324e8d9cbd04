"""Write one timeline to several interchange files, all or nothing."""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import opentimelineio as otio

from analysis.errors import MontageError
from nle_adapters.edl.writer import EmptyEdl, edl_video_tracks
from nle_adapters.formats import DEFAULT_FORMATS, get_format
from nle_adapters.timeline_facts import stamp_drop_frame


class WriteError(MontageError):
    """A timeline could not be written in some format or to some place."""


def edl_per_video_track(timeline: otio.schema.Timeline, adapter: str = "mb_cmx3600") -> list[tuple[str, str]]:
    """One CMX 3600 EDL per video track, as (name suffix, text): ``""`` for V1, ``"_V2"``, ... after.

    An EDL holds one picture track, so a multi-track edit needs one file per track; the audio events
    go with V1. A track with no clip (only gaps or nested sequences) gets no file, since an EDL with
    no event is one no reader accepts (the loss report lists it); when no track has a clip at all,
    ``EmptyEdl`` says so and nothing is written."""
    numbers = edl_video_tracks(timeline)
    if not numbers:
        raise EmptyEdl(
            f"timeline {timeline.name!r} holds no clip an EDL can describe (only gaps or nested sequences): "
            "no EDL written; convert it to OTIO, FCPXML or FCP7 XML instead"
        )
    return [
        ("" if n == 1 else f"_V{n}", otio.adapters.write_to_string(timeline, adapter, video_track=n)) for n in numbers
    ]


def render_timeline(timeline: otio.schema.Timeline, fmt: str) -> list[tuple[str, str]]:
    """Render ``timeline`` in format ``fmt`` as (name suffix, text) pairs: one pair, except EDL,
    which gets one file per video track. The input is never mutated (writers get a copy)."""
    spec = get_format(fmt)
    work = copy.deepcopy(timeline)
    if spec.name == "otio":
        stamp_drop_frame(work)  # the DF choice every other format writes, said in the OTIO too
    try:
        if spec.name == "edl":
            return edl_per_video_track(work, spec.adapter)
        return [("", otio.adapters.write_to_string(work, spec.adapter, **spec.write_options))]
    except Exception as exc:  # adapters raise anything from KeyError to NotSupportedError
        raise WriteError(f"cannot write {spec.description} ({spec.name}): {exc.__class__.__name__}: {exc}") from exc


def serialize_timeline(timeline: otio.schema.Timeline, fmt: str) -> str:
    """Render ``timeline`` in format ``fmt`` as one text (for EDL, V1 and the audio)."""
    return render_timeline(timeline, fmt)[0][1]


def ensure_writable_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and prove we can write there, before any long work starts."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise WriteError(f"output directory {out_dir} is not writable ({exc.strerror or exc})") from exc
    return out_dir


def write_timeline_files(
    timeline: otio.schema.Timeline, out_dir: Path, stem: str, formats: tuple[str, ...] = DEFAULT_FORMATS
) -> list[Path]:
    """Write ``timeline`` as ``out_dir/stem.<suffix>`` for each format (EDL: ``stem.edl`` for V1,
    ``stem_V2.edl`` and on for further video tracks).

    Every format is rendered in memory first; only when all succeed are the files written, each
    through a temp file and rename. A failure leaves no new file behind.
    """
    rendered = [
        (f"{stem}{extra}{get_format(f).suffix}", text) for f in formats for extra, text in render_timeline(timeline, f)
    ]
    ensure_writable_dir(out_dir)
    written: list[Path] = []
    temps: list[tuple[str, Path]] = []
    try:
        for name, text in rendered:
            target = out_dir / name
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=out_dir)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)
            temps.append((tmp, target))
        for tmp, target in temps:
            os.replace(tmp, target)
            written.append(target)
    except OSError as exc:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise WriteError(f"cannot write timeline files to {out_dir}: {exc.strerror or exc}") from exc
    return written
