"""Convert timeline files between formats with our adapters, and report what each target loses.

Formats are found from the content first (``<xmeml``, ``<fcpxml``, OTIO JSON, CMX events), then the
suffix. Every output is rendered in memory before anything is written, then written through temp
files and renames: a failure leaves no partial file. A ``.fcpxmld`` output is a bundle folder holding
``Info.fcpxml``. A folder conversion names each output after its input; inputs that share a name
(``cut.xml``, ``cut.edl``) keep their suffix (``cut.xml.fcpxml``), and outputs that would still land
on one another or on an input are refused before anything is written.

Adapters are always called by name through ``otio.adapters`` (``mb_xmeml``, ``mb_cmx3600``,
``mb_fcpxml``, ``mb_resolve_otio``, ``otio_json``, ``AAF``), never picked by suffix: with the upstream
OTIO adapters installed too, a suffix lookup depends on plugin load order.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio

from kernel.errors import MontageError
from nle_adapters.aaf_read import read_aaf as _read_aaf
from nle_adapters.errors import TimelineParseError
from nle_adapters.input_guard import decode_timeline_text, read_timeline_file
from nle_adapters.loss_report import LossItem, LossReport, analyze_losses
from nle_adapters.otio_json_guard import check_otio_json
from nle_adapters.timeline_facts import meta_view, stamp_drop_frame
from nle_adapters.timeline_sanity import check_timeline_sanity
from nle_adapters.write_files import WriteError, edl_per_video_track, is_bundle_path, write_outputs

# name → (suffix, read adapter, write adapter)
CONVERT_FORMATS: dict[str, tuple[str, str, str]] = {
    "otio": (".otio", "otio_json", "otio_json"),
    "resolve-otio": (".otio", "mb_resolve_otio", "mb_resolve_otio"),
    "fcpxml": (".fcpxml", "mb_fcpxml", "mb_fcpxml"),
    "xml": (".xml", "mb_xmeml", "mb_xmeml"),
    "edl": (".edl", "mb_cmx3600", "mb_cmx3600"),
}
_SUFFIXES = {".otio": "otio", ".fcpxml": "fcpxml", ".fcpxmld": "fcpxml", ".xml": "xml", ".edl": "edl"}
# Read-only inputs: Avid AAF through the otio-aaf-adapter plugin (DESIGN.md: AAF read, write optional).
_READ_ONLY_SUFFIXES = {".aaf": "aaf"}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # AAF is a Microsoft structured-storage file
_EDL_EVENT = re.compile(r"^\s*\d{1,6}\s+\S+\s+\S+\s+(C|D|W\d{3})\s", re.MULTILINE)


class ConvertError(MontageError):
    """A conversion that cannot be done (unknown format, unwritable output, writer failure)."""


@dataclass
class ConvertOptions:
    """Choices for one conversion. ``edl_track`` picks one video track (1-based) for EDL output;
    ``rate`` is the EDL input rate (EDLs state none; inferred when None)."""

    to: str | None = None
    fcpxml_version: str = "1.10"
    edl_track: int | None = None
    xmeml_version: int = 4
    rate: str | None = None
    # Applied to each timeline after reading, before writing (the CLI's --relink passes proxies.relink).
    transform: Callable[[otio.schema.Timeline], None] | None = None


def _read_text(path: Path) -> str:
    return decode_timeline_text(read_timeline_file(path), str(path))


def detect_format(path: Path, text: str | None = None) -> str:
    """The input format of ``path``: from its content when it says, else from its suffix."""
    head = (text if text is not None else _read_text(path))[:4096]
    stripped = head.lstrip("\ufeff \t\r\n")
    if "<xmeml" in head:
        return "xml"
    if "<fcpxml" in head:
        return "fcpxml"
    if stripped.startswith("{") and "OTIO_SCHEMA" in head:
        return "otio"
    if _EDL_EVENT.search(head) or stripped.upper().startswith("TITLE:"):
        return "edl"
    suffix = path.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise ConvertError(f"{path}: cannot tell the timeline format (not xmeml, FCPXML, OTIO or an EDL)")


def _is_aaf(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.suffix.lower() in _READ_ONLY_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(8) == _OLE2_MAGIC


def read_timelines(path: Path, rate: str | None = None) -> tuple[str, list[otio.schema.Timeline]]:
    """Read every timeline in ``path`` with our adapters; returns (format, timelines).

    Every timeline is checked for rates, times and speeds no NLE accepts before it is returned
    (:func:`~nle_adapters.timeline_sanity.check_timeline_sanity`)."""
    fmt, timelines = _read_timelines(path, rate)
    for timeline in timelines:
        check_timeline_sanity(timeline, str(path))
    return fmt, timelines


def _read_timelines(path: Path, rate: str | None) -> tuple[str, list[otio.schema.Timeline]]:
    if _is_aaf(path):
        return "aaf", _read_aaf(path)
    text = _read_text(path)
    fmt = detect_format(path, text)
    if fmt == "otio":
        # OTIO's C++ reader crashes or hangs on hostile JSON: check it in Python first.
        check_otio_json(text, str(path))
    adapter = CONVERT_FORMATS[fmt][1]
    kwargs: dict = {}
    if fmt == "edl":
        kwargs = {"rate": rate, "source": str(path)}
    elif fmt in ("xml", "fcpxml"):
        kwargs = {"source": str(path)}
    try:
        result = otio.adapters.read_from_string(text, adapter_name=adapter, **kwargs)
    except MontageError:
        raise
    except Exception as exc:  # an adapter can raise anything on a broken file
        raise TimelineParseError(str(path), f"cannot read as {fmt}: {exc.__class__.__name__}: {exc}") from exc
    if isinstance(result, otio.schema.Timeline):
        return fmt, [result]
    timelines = (
        [t for t in result.find_children(descended_from_type=otio.schema.Timeline)]
        if hasattr(result, "find_children")
        else []
    )
    timelines = timelines or [c for c in result if isinstance(c, otio.schema.Timeline)]
    if not timelines:
        raise TimelineParseError(str(path), f"no timeline found in this {fmt} file")
    return fmt, timelines


def _render(timeline: otio.schema.Timeline, fmt: str, options: ConvertOptions) -> list[tuple[str, str]]:
    """Render one timeline as (file-name suffix, text) pairs: several for EDLs of a multi-track timeline."""
    adapter = CONVERT_FORMATS[fmt][2]
    work = copy.deepcopy(timeline)  # writers only read, but a copy keeps the caller's timeline safe regardless
    if fmt == "otio":
        stamp_drop_frame(work)  # the DF choice every other format writes, said in the OTIO too
    try:
        if fmt == "edl":
            if options.edl_track is not None:
                return [("", otio.adapters.write_to_string(work, adapter, video_track=options.edl_track))]
            return edl_per_video_track(work, adapter)
        if fmt == "xml":
            return [("", otio.adapters.write_to_string(work, adapter, version=options.xmeml_version))]
        if fmt == "fcpxml":
            return [("", otio.adapters.write_to_string(work, adapter, version=options.fcpxml_version))]
        return [("", otio.adapters.write_to_string(work, adapter))]
    except MontageError:
        raise
    except Exception as exc:
        raise ConvertError(f"cannot write {timeline.name!r} as {fmt}: {exc.__class__.__name__}: {exc}") from exc


def _target_format(out: Path, options: ConvertOptions) -> str:
    if options.to:
        key = options.to.lower().lstrip(".")
        if key not in CONVERT_FORMATS:
            raise ConvertError(f"unknown target format {options.to!r}; choose from {', '.join(CONVERT_FORMATS)}")
        return key
    suffix = out.suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise ConvertError(f"{out}: cannot tell the target format from the name; pass --to ({', '.join(CONVERT_FORMATS)})")


def _write_all(files: list[tuple[Path, str]]) -> None:
    """Write every output all or nothing (a ``.fcpxmld`` output is a bundle folder with Info.fcpxml)."""
    try:
        write_outputs(files)
    except WriteError as exc:
        raise ConvertError(str(exc)) from exc


def plan_file(
    src: Path, out: Path, options: ConvertOptions, out_is_dir: bool, stem: str | None = None
) -> tuple[list[tuple[Path, str]], list[LossReport]]:
    """Read ``src`` and render its outputs (nothing written yet). With ``out_is_dir`` the outputs are
    named ``out/<stem><suffix>``, ``stem`` defaulting to ``src``'s name without its suffix."""
    fmt_in, timelines = read_timelines(src, options.rate)
    target = _target_format(out, options) if not out_is_dir else _target_format(Path("x"), options)
    suffix = CONVERT_FORMATS[target][0]
    files: list[tuple[Path, str]] = []
    reports: list[LossReport] = []
    for index, timeline in enumerate(timelines, start=1):
        if options.transform is not None:
            options.transform(timeline)
        if out_is_dir:
            base, ext = out / (stem or _stem(src)), suffix
        else:
            base, ext = (out.with_suffix(""), out.suffix) if out.suffix else (out, suffix)
        if len(timelines) > 1:
            base = base.with_name(f"{base.name}_{index}")
        outputs = []
        for extra, text in _render(timeline, target, options):
            path = base.with_name(base.name + extra + ext)
            files.append((path, text))
            outputs.append(str(path))
        losses = analyze_losses(timeline, target, edl_track=options.edl_track)
        meta = meta_view(timeline)
        warnings = list(meta.get("warnings") or [])
        if warnings:
            losses.append(
                LossItem(feature="unread lines", count=len(warnings), detail="skipped: " + "; ".join(warnings[:2]))
            )
        if target == "xml":
            sequences = [
                c for c in timeline.find_clips() if isinstance(c.media_reference, otio.schema.ImageSequenceReference)
            ]
            if sequences:
                losses.append(
                    LossItem(
                        feature="image sequences",
                        count=len(sequences),
                        detail="linked by the path of their first image, as Premiere writes them; "
                        "an NLE that does not gather the numbered files shows a still (import as numbered stills)",
                    )
                )
        if meta.get("rate_inferred"):
            losses.append(
                LossItem(
                    feature="rate", count=1, detail=f"the EDL states no rate: read at {meta.get('rate')} (use --rate)"
                )
            )
        reports.append(LossReport(source=str(src), target=target, format=fmt_in, outputs=outputs, losses=losses))
    return files, reports


def convert(src: Path, out: Path, options: ConvertOptions | None = None) -> list[LossReport]:
    """Convert ``src`` (a file or a folder of timeline files) to ``out`` (a file, or a folder)."""
    options = options or ConvertOptions()
    if not src.exists():
        raise ConvertError(f"{src}: no such file or folder")
    if src.is_dir() and src.suffix.lower() != ".fcpxmld":
        if (out.exists() and not out.is_dir()) or is_bundle_path(out):
            raise ConvertError(f"{out}: the input is a folder, so the output must be a folder too")
        if not options.to:
            raise ConvertError("converting a folder needs --to FORMAT")
        inputs = sorted(
            p
            for p in src.iterdir()
            if (p.is_file() and p.suffix.lower() in (_SUFFIXES.keys() | _READ_ONLY_SUFFIXES.keys()))
            or p.suffix.lower() == ".fcpxmld"
        )
        if not inputs:
            raise ConvertError(f"{src}: no timeline files (.otio, .fcpxml, .xml, .edl, .aaf) in this folder")
        stems = _output_stems(inputs)
        files: list[tuple[Path, str]] = []
        reports: list[LossReport] = []
        for item in inputs:
            item_files, item_reports = plan_file(item, out, options, out_is_dir=True, stem=stems[item])
            files += item_files
            reports += item_reports
    else:
        out_is_dir = out.is_dir() and not is_bundle_path(out)  # an existing .fcpxmld is replaced whole
        inputs = [src]
        files, reports = plan_file(src, out, options, out_is_dir=out_is_dir)
    _check_outputs(files, reports, inputs)
    _write_all(files)
    return reports


def _stem(path: Path) -> str:
    return path.name[: -len(path.suffix)] if path.suffix else path.name


def _output_stems(inputs: list[Path]) -> dict[Path, str]:
    """The output stem of each input of a folder conversion: its name without the suffix, except
    where several inputs share that stem (``cut.xml``, ``cut.edl``): those keep their suffix
    (``cut.xml.fcpxml``, ``cut.edl.fcpxml``) so that no output lands on another's name."""
    counts: dict[str, int] = {}
    for path in inputs:
        counts[_stem(path).lower()] = counts.get(_stem(path).lower(), 0) + 1
    return {path: (path.name if counts[_stem(path).lower()] > 1 else _stem(path)) for path in inputs}


def _check_outputs(files: list[tuple[Path, str]], reports: list[LossReport], inputs: list[Path]) -> None:
    """Refuse, before anything is written, outputs that would land on each other or on an input.

    Output names are compared case-insensitively: on macOS and Windows ``Cut.fcpxml`` and
    ``cut.fcpxml`` are one file."""
    writers: dict[str, list[str]] = {}
    for report in reports:
        for output in report.outputs:
            writers.setdefault(output.lower(), []).append(report.source)
    for output, sources in writers.items():
        if len(sources) > 1:
            raise ConvertError(
                f"{output}: {' and '.join(sorted(set(sources)))} would all be written to this one file; "
                "rename one of the inputs or convert them one at a time"
            )
    for path, _ in files:
        for source in inputs:
            if path.exists() and source.exists() and os.path.samefile(path, source):
                raise ConvertError(f"{path}: converting would overwrite the input {source}; choose another output")


__all__ = ["CONVERT_FORMATS", "ConvertError", "ConvertOptions", "convert", "detect_format", "read_timelines"]
