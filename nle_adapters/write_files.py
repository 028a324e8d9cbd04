"""Write one timeline to several interchange files, all or nothing."""

from __future__ import annotations

import copy
import os
import tempfile
from pathlib import Path

import opentimelineio as otio

from analysis.errors import MontageError
from nle_adapters.formats import DEFAULT_FORMATS, get_format


class WriteError(MontageError):
    """A timeline could not be written in some format or to some place."""


def serialize_timeline(timeline: otio.schema.Timeline, fmt: str) -> str:
    """Render ``timeline`` in format ``fmt`` as text. The input is never mutated (writers get a copy)."""
    spec = get_format(fmt)
    try:
        return otio.adapters.write_to_string(copy.deepcopy(timeline), spec.adapter, **spec.write_options)
    except Exception as exc:  # adapters raise anything from KeyError to NotSupportedError
        raise WriteError(f"cannot write {spec.description} ({spec.name}): {exc.__class__.__name__}: {exc}") from exc


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
    """Write ``timeline`` as ``out_dir/stem.<suffix>`` for each format.

    Every format is rendered in memory first; only when all succeed are the files written, each
    through a temp file and rename. A failure leaves no new file behind.
    """
    rendered = [(get_format(f), serialize_timeline(timeline, f)) for f in formats]
    ensure_writable_dir(out_dir)
    written: list[Path] = []
    temps: list[tuple[str, Path]] = []
    try:
        for spec, text in rendered:
            target = out_dir / f"{stem}{spec.suffix}"
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
