"""Write one timeline to several interchange files, all or nothing.

:func:`write_outputs` is the one place interchange files reach the disk (``auto``, the daemon,
``convert`` and the ``mb_fcpxml`` OTIO adapter): each is staged beside its target and renamed into
place only when every one is staged, and a ``.fcpxmld`` target becomes an FCPXML bundle, a folder
holding ``Info.fcpxml``, as Final Cut Pro 10.6+ and Resolve write it.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import opentimelineio as otio

from kernel.errors import MontageError
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


FCPXML_BUNDLE_SUFFIX = ".fcpxmld"
BUNDLE_DOCUMENT = "Info.fcpxml"
"""The document inside an FCPXML bundle (``Cut.fcpxmld/Info.fcpxml``)."""


def is_bundle_path(path: Path) -> bool:
    """True when ``path`` names an FCPXML bundle (a folder) rather than a file."""
    return path.suffix.lower() == FCPXML_BUNDLE_SUFFIX


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o644)


def _stage(target: Path, text: str) -> Path:
    """Write ``text`` beside ``target`` under a hidden temp name: a file, or a bundle folder."""
    if is_bundle_path(target):
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
        os.chmod(tmp, 0o755)
        _write_synced(tmp / BUNDLE_DOCUMENT, text)
        return tmp
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    _write_synced(Path(name), text)
    return Path(name)


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def _commit(tmp: Path, target: Path) -> None:
    """Rename a staged output onto ``target``. A bundle replaces an older bundle folder whole: the
    old one is moved aside first (a folder cannot be renamed over a non-empty one) and put back if
    the new one cannot take its place."""
    if not tmp.is_dir() or not target.is_dir():
        os.replace(tmp, target)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rmdir(aside)
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(aside, target)
        raise
    _discard(aside)


def write_outputs(files: Sequence[tuple[Path, str]]) -> list[Path]:
    """Write each ``(path, text)``, all or nothing; a ``.fcpxmld`` path becomes a bundle folder.

    Everything is staged first (temp names beside the targets, fsynced); only when all are staged
    is each renamed into place, so a failure leaves no new or half-written output. A target that
    exists as the other kind (a folder where a file goes, or a file where a bundle goes) is refused
    before anything is written. Raises :class:`WriteError`.
    """
    for target, _ in files:
        if is_bundle_path(target) and target.exists() and not target.is_dir():
            raise WriteError(f"{target} exists and is not a folder; an .fcpxmld bundle is a folder: remove it first")
        if not is_bundle_path(target) and target.is_dir():
            raise WriteError(f"{target} is a folder; choose another output name")
    staged: list[tuple[Path, Path]] = []
    try:
        for target, text in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            staged.append((_stage(target, text), target))
        for index, (tmp, target) in enumerate(staged):
            _commit(tmp, target)
            staged[index] = (target, target)  # committed: no longer a temp to clean up
    except OSError as exc:
        for tmp, target in staged:
            if tmp != target:
                _discard(tmp)
        where = files[0][0].parent if files else Path(".")
        raise WriteError(f"cannot write timeline files to {where}: {exc.strerror or exc}") from exc
    return [target for target, _ in files]


def write_timeline_files(
    timeline: otio.schema.Timeline, out_dir: Path, stem: str, formats: tuple[str, ...] = DEFAULT_FORMATS
) -> list[Path]:
    """Write ``timeline`` as ``out_dir/stem.<suffix>`` for each format (EDL: ``stem.edl`` for V1,
    ``stem_V2.edl`` and on for further video tracks).

    Every format is rendered in memory first; only when all succeed are the files written, all or
    nothing (:func:`write_outputs`). A failure leaves no new file behind.
    """
    rendered = [
        (out_dir / f"{stem}{extra}{get_format(f).suffix}", text)
        for f in formats
        for extra, text in render_timeline(timeline, f)
    ]
    ensure_writable_dir(out_dir)
    return write_outputs(rendered)
