"""Read Avid AAF (``convert x.aaf …``) with the otio-aaf-adapter plugin, under a deadline.

AAF is a binary structured-storage file and pyaaf2 trusts its counts: a damaged or hostile file
made it allocate and index for minutes (found by tests/fuzz). The read therefore runs in a child
process that is killed when it passes :data:`AAF_READ_SECONDS` (``MONTAGE_AAF_TIMEOUT`` changes
it); the timelines come back as OTIO JSON. Inside a host application's embedded Python (Resolve
running a menu script) no child can be started, and the read runs in-process without the deadline.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import tempfile
from pathlib import Path

import opentimelineio as otio

from nle_adapters.errors import TimelineParseError

AAF_READ_SECONDS = 120.0
"""Default deadline (seconds) for reading one AAF; real ones read in a few seconds."""
TIMEOUT_ENV = "MONTAGE_AAF_TIMEOUT"


class _Pyaaf2Noise(logging.Filter):
    """Drops the records pyaaf2 logs through the root logger about odd-but-harmless values ("Fraction(0,0)
    not mathematically plausible", "unable to decode time"): it calls ``logging.warning`` at module level,
    so its records carry the root logger's name and only their source file tells them apart."""

    def __init__(self) -> None:
        super().__init__()
        import aaf2

        self.folder = str(Path(aaf2.__file__).resolve().parent) + os.sep

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.pathname.startswith(self.folder)


def _read_in_process(path: Path) -> list[otio.schema.Timeline]:
    # A logger filter sees only records logged on that logger itself, never those propagated from
    # named loggers: on the root logger, for the length of the read, this drops pyaaf2's and no one else's.
    root, quiet = logging.getLogger(), _Pyaaf2Noise()
    root.addFilter(quiet)
    try:
        result = otio.adapters.read_from_file(str(path), adapter_name="AAF")
    except Exception as exc:  # pyaaf2 raises anything on a damaged file
        # One line: pybind11 errors from OTIO's core span many (a mutated AAF, found by tests/fuzz).
        detail = (str(exc).strip().splitlines() or [""])[0].rstrip(":. ")
        raise TimelineParseError(str(path), f"cannot read as AAF: {exc.__class__.__name__}: {detail}") from exc
    finally:
        root.removeFilter(quiet)
    if isinstance(result, otio.schema.Timeline):
        return [result]
    timelines = [c for c in result if isinstance(c, otio.schema.Timeline)]
    if not timelines:
        raise TimelineParseError(str(path), "no composition (timeline) found in this AAF file")
    return timelines


def _child(path: str, out: str, err: str) -> None:
    """Child process: read ``path``; write the timelines as OTIO JSON to ``out`` or the error to ``err``."""
    try:
        timelines = _read_in_process(Path(path))
    except TimelineParseError as exc:
        Path(err).write_text(exc.problem, encoding="utf-8")
        return
    collection = otio.schema.SerializableCollection(children=[t.deepcopy() for t in timelines])
    Path(out).write_text(collection.to_json_string(indent=-1), encoding="utf-8")


def _deadline() -> float:
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        value = float(text) if text else AAF_READ_SECONDS
    except ValueError:
        value = AAF_READ_SECONDS
    return value if value > 0 else AAF_READ_SECONDS


def read_aaf(path: Path) -> list[otio.schema.Timeline]:
    """Every composition of the AAF ``path`` as a Timeline, or :class:`TimelineParseError` (one line)
    for a file that is damaged, holds no composition, or does not read within the deadline."""
    from analysis.engine import spawn_works

    if not spawn_works():
        return _read_in_process(path)
    seconds = _deadline()
    with tempfile.TemporaryDirectory(prefix="mb-aaf-") as tmp:
        out, err = Path(tmp) / "timelines.otio", Path(tmp) / "error.txt"
        proc = multiprocessing.get_context("spawn").Process(
            target=_child, args=(str(path), str(out), str(err)), name="montage-bridge-aaf-read", daemon=True
        )
        proc.start()
        proc.join(seconds)
        if proc.is_alive():
            proc.kill()
            proc.join(5)
            raise TimelineParseError(
                str(path),
                f"reading this AAF did not finish in {seconds:g} s: the file is damaged, or very large "
                f"(set {TIMEOUT_ENV}=SECONDS to allow longer)",
            )
        if err.is_file():
            raise TimelineParseError(str(path), err.read_text(encoding="utf-8").strip())
        if proc.exitcode != 0 or not out.is_file():
            raise TimelineParseError(
                str(path), f"cannot read as AAF: the reader stopped (exit {proc.exitcode}); the file is damaged"
            )
        collection = otio.adapters.read_from_string(out.read_text(encoding="utf-8"), adapter_name="otio_json")
    return [t for t in collection if isinstance(t, otio.schema.Timeline)]
