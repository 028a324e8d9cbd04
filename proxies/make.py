"""Write proxies that an NLE (and :mod:`proxies.relink`) can swap with their originals frame for frame.

A proxy keeps its original's exact frame rate (the same rational, no conform), every frame (``-fps_mode
passthrough``: none dropped or doubled), the start timecode (a ``tmcd`` track), the audio channel count
and the clip/reel name (the file stem, the ``reel_name`` and ``title`` tags); only the picture size and
the codec change. Where the proxies go (beside each original):

* ``resolve``: ``<folder>/Proxy Media/<stem>.mov`` — where Resolve's "Link Proxy Media" looks;
* ``fcp``: ``<folder>/Transcoded Media/Proxy Media/<stem>.mov`` — the layout of FCP's own proxies.

Resumable: each proxy is written to a hidden ``.partial`` file and renamed when ffmpeg is done; a run
skips a proxy that already exists and matches its original (:func:`check_proxy`), and redoes one that
does not. Codecs: ``prores_proxy`` (ProRes 422 Proxy, PCM audio), ``dnxhr_lb`` (DNxHR LB, PCM), ``h264``
(CRF 23, AAC).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kernel.errors import MediaError
from kernel.ffmpeg_tools import ffmpeg_path
from kernel.media import MediaItem
from kernel.probe import probe_media
from kernel.proxy_recipe import ProxyError, check_proxy, proxy_args

LAYOUTS = {"resolve": ("Proxy Media",), "fcp": ("Transcoded Media", "Proxy Media")}
DEFAULT_SIZE = (960, 540)

FileProgress = Callable[[Path, int, int], None]
"""``progress(original, frames_done, frames_total)``."""


@dataclass
class ProxyResult:
    original: Path
    proxy: Path
    status: str  # "made", "up to date", "remade" or "failed"
    detail: str = ""


@dataclass
class ProxyRun:
    results: list[ProxyResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def proxy_dir(original: Path, layout: str) -> Path:
    """The folder the proxy of ``original`` goes in for ``layout`` (``resolve`` or ``fcp``)."""
    if layout not in LAYOUTS:
        raise ProxyError(f"unknown proxy layout {layout!r}; choose {' or '.join(LAYOUTS)}")
    return original.parent.joinpath(*LAYOUTS[layout])


def proxy_path(original: Path, layout: str) -> Path:
    return proxy_dir(original, layout) / f"{original.stem}.mov"


def find_proxy(original: Path) -> Path | None:
    """An existing proxy of ``original`` in either layout (Resolve's first)."""
    for layout in LAYOUTS:
        candidate = proxy_path(original, layout)
        if candidate.is_file():
            return candidate
    return None


def original_of(proxy: Path) -> Path | None:
    """The original a proxy in either layout stands for: the file with the proxy's stem in the
    folder above the layout's folders (any suffix; a unique match only)."""
    for parts in LAYOUTS.values():
        folder = proxy.parent
        if tuple(p.name for p in [folder, *folder.parents][: len(parts)][::-1]) != parts:
            continue
        base = proxy.parents[len(parts) - 1].parent
        matches = [p for p in base.glob(f"{_glob_escape(proxy.stem)}.*") if p.is_file()]
        if len(matches) == 1:
            return matches[0]
    return None


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


def require_match(original: MediaItem, proxy: MediaItem) -> None:
    """Raise :class:`ProxyError` naming ``proxy`` when it does not match ``original``."""
    problems = check_proxy(original, proxy)
    if problems:
        raise ProxyError(
            f"proxy {proxy.path} does not match its original {original.path.name}: {'; '.join(problems)} — "
            "remake it with `montage-bridge proxies`"
        )


def encode_args(media: MediaItem, target: Path, size: tuple[int, int], codec: str) -> list[str]:
    """The ffmpeg command that writes the proxy of ``media`` to ``target``."""
    args = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-progress", "pipe:1", "-nostats"]
    return [*args, *proxy_args(media, target, size, codec)]


def make_proxy(
    media: MediaItem,
    layout: str = "resolve",
    size: tuple[int, int] = DEFAULT_SIZE,
    codec: str = "prores_proxy",
    progress: FileProgress | None = None,
) -> ProxyResult:
    """Make (or keep, when it already matches) the proxy of ``media``; raises :class:`ProxyError`."""
    target = proxy_path(media.path, layout)
    status = "made"
    if target.is_file():
        try:
            problems = check_proxy(media, probe_media(target))
        except MediaError as exc:
            problems = [str(exc)]
        if not problems:
            return ProxyResult(media.path, target, "up to date")
        status = "remade"
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.stem}.partial.mov")
    proc = subprocess.Popen(
        encode_args(media, partial, size, codec), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("frame=") and progress:
            try:
                progress(media.path, int(line.split("=", 1)[1]), media.frames)
            except ValueError:
                pass
    error = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        partial.unlink(missing_ok=True)
        raise ProxyError(f"{media.path.name}: ffmpeg could not write its proxy: {error.strip()[-300:]}")
    problems = check_proxy(media, probe_media(partial))
    if problems:
        partial.unlink(missing_ok=True)
        raise ProxyError(f"{media.path.name}: the proxy came out different ({'; '.join(problems)}) — not kept")
    os.replace(partial, target)
    if progress:
        progress(media.path, media.frames, media.frames)
    return ProxyResult(media.path, target, status)


def make_proxies(
    originals: Iterable[Path],
    layout: str = "resolve",
    size: tuple[int, int] = DEFAULT_SIZE,
    codec: str = "prores_proxy",
    progress: FileProgress | None = None,
    keep_going: bool = True,
) -> ProxyRun:
    """Proxies of every file in ``originals`` (video files only; audio-only files are left out)."""
    run = ProxyRun()
    for path in originals:
        try:
            media = probe_media(path)
            if not media.has_video:
                continue
            run.results.append(make_proxy(media, layout, size, codec, progress))
        except (ProxyError, MediaError) as exc:
            if not keep_going:
                raise
            run.results.append(ProxyResult(Path(path), proxy_path(Path(path), layout), "failed", str(exc)))
    return run
