"""Run one ffmpeg render with a progress callback, keeping its log, and never leaving a partial file."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from kernel.ffmpeg_tools import ffmpeg_path
from render.errors import RenderError

# progress(done_seconds, total_seconds): called as ffmpeg reports (about twice a second).
Progress = Callable[[float, float], None]
# Longer filter graphs go through a file: one argv string is capped at 128 KiB on Linux.
_INLINE_GRAPH_LIMIT = 60_000


@contextlib.contextmanager
def temp_output(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` (same suffix, so ffmpeg picks the muxer); renamed onto
    ``target`` when the block succeeds, removed when it fails or is interrupted."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def run_ffmpeg_graph(
    inputs: list[str],
    filter_complex: str,
    outputs: list[str],
    *,
    total_seconds: float,
    progress: Progress | None = None,
    what: str = "render",
    timeout: float | None = None,
) -> str:
    """Run ``ffmpeg <inputs> -filter_complex <graph> <outputs>``; returns its log (stderr, level info).

    Raises RenderError with the last lines of the log when ffmpeg fails. The graph goes inline, or
    through ``-/filter_complex FILE`` when it is long.
    """
    with tempfile.TemporaryDirectory(prefix="mb-render-") as scratch:
        graph_args = ["-filter_complex", filter_complex]
        if len(filter_complex) > _INLINE_GRAPH_LIMIT:
            script = Path(scratch) / "graph.txt"
            script.write_text(filter_complex, encoding="utf-8")
            graph_args = ["-/filter_complex", str(script)]
        cmd = [
            ffmpeg_path(),
            "-hide_banner",
            "-nostdin",
            "-nostats",
            "-loglevel",
            "info",
            "-y",
            *inputs,
            *graph_args,
            "-progress",
            "pipe:1",
            *outputs,
        ]
        log_path = Path(scratch) / "ffmpeg.log"
        with log_path.open("w+", encoding="utf-8", errors="replace") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
            killer = None
            if timeout:
                killer = threading.Timer(timeout, proc.kill)
                killer.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    key, _, value = line.strip().partition("=")
                    if key == "out_time_us" and progress and value.lstrip("-").isdigit():
                        progress(min(total_seconds, max(0.0, int(value) / 1e6)), total_seconds)
                code = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                if killer:
                    killer.cancel()
            log.seek(0)
            text = log.read()
    if code != 0:
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "rror" in ln or "nvalid" in ln or "No such" in ln] or lines
        tail = " | ".join(x.strip() for x in errors[-3:])
        raise RenderError(f"ffmpeg {what} failed (exit {code}): {tail}")
    if progress:
        progress(total_seconds, total_seconds)
    return text


def elapsed(start: float) -> float:
    """Seconds since ``start`` (a ``time.perf_counter()`` value)."""
    return time.perf_counter() - start


__all__ = ["Progress", "elapsed", "run_ffmpeg_graph", "temp_output"]
