"""What every operation gets and must declare.

An op is a module-level ``Op`` instance: name, version, a pydantic ``Params`` model (its JSON
schema is published in /v1/capabilities), the named inputs it needs and ``run(ctx, params)``,
which returns named output files plus a small JSON result. Ops report progress through
``ctx.report`` and stop promptly when ``ctx.check_cancel()`` raises (it is also called inside
``ctx.run_ffmpeg`` every 100 ms, which kills the ffmpeg child on cancel).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gpu_remote.errors import Canceled, OpError
from kernel.ffmpeg_tools import ffmpeg_path

ProgressFn = Callable[[float, str], None]
PGIDS_FILE = ".pgids"
"""In an attempt's work folder: the process groups its children run in, one per line (host:pgid)."""


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Linux: SIGKILL this child when the thread that started it dies (the worker was killed).
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG


def spawn(cmd: list[str], work_dir: Path, **kwargs: Any) -> subprocess.Popen:
    """Start a child of a job in its own process group, recorded in ``work_dir``.

    The group is what cancel kills (``kill_group``), so helpers the child starts go with it; the
    kernel kills the child if the worker dies (parent-death signal); and the recorded group lets
    the reaper kill whatever is left of an attempt whose worker vanished.
    """
    proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_child_setup, **kwargs)  # noqa: PLW1509
    with contextlib.suppress(OSError), (work_dir / PGIDS_FILE).open("a") as handle:
        handle.write(f"{_host()}:{proc.pid}\n")
    return proc


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL ``proc``'s whole process group (it leads its own, see ``spawn``) and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    proc.wait()


def kill_recorded_groups(work_dir: Path) -> int:
    """Kill the process groups an attempt recorded on this host (its worker died); returns how many were alive."""
    try:
        lines = (work_dir / PGIDS_FILE).read_text().split()
    except OSError:
        return 0
    killed = 0
    for line in lines:
        host, _, pgid = line.rpartition(":")
        if host != _host() or not pgid.isdigit():
            continue
        try:
            os.killpg(int(pgid), signal.SIGKILL)
            killed += 1
        except (ProcessLookupError, PermissionError):
            continue
    return killed


def _host() -> str:
    import socket

    return socket.gethostname()


@dataclass
class OpResult:
    """Output files by name (the runner moves them into the blob store) and a small JSON result."""

    outputs: dict[str, Path]
    result: dict[str, Any] = field(default_factory=dict)
    mimes: dict[str, str] = field(default_factory=dict)


@dataclass
class OpContext:
    """Per-run environment: input files by name, a scratch folder, progress, cancellation."""

    job_id: str
    attempt: int
    inputs: dict[str, Path]
    work_dir: Path
    report: ProgressFn
    cancel_event: threading.Event
    log: Callable[[str], None] = lambda _msg: None
    cancel_reason: list[str] = field(default_factory=lambda: ["canceled"])

    def check_cancel(self) -> None:
        """Raise Canceled if the job was canceled or timed out; call at step/frame boundaries."""
        if self.cancel_event.is_set():
            raise Canceled(self.cancel_reason[0])

    def sleep(self, seconds: float) -> None:
        """Sleep that wakes up at once on cancel."""
        if self.cancel_event.wait(seconds):
            raise Canceled(self.cancel_reason[0])

    def run_ffmpeg(
        self, args: list[str], *, duration_s: float | None, span: tuple[float, float] = (0.0, 1.0), stage: str = ""
    ) -> None:
        """Run ffmpeg with ``-progress`` on stdout; map its out_time onto ``span`` of this job's progress.

        ``duration_s`` (seconds of media) turns out_time into a fraction. On cancel the child is
        killed within ~100 ms and Canceled raised; a failing ffmpeg raises OpError with its stderr.
        """
        cmd = [ffmpeg_path(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-progress", "pipe:1", *args]
        proc = spawn(cmd, self.work_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        last = [0.0]

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if key == "out_time_us" and duration_s and value.isdigit():
                    frac = min(1.0, int(value) / 1e6 / duration_s)
                    now = time.monotonic()
                    if now - last[0] >= 0.5:  # progress events at most 2/s
                        last[0] = now
                        self.report(span[0] + (span[1] - span[0]) * frac, stage)

        stderr_chunks: list[str] = []
        reader = threading.Thread(target=pump, daemon=True)
        err_reader = threading.Thread(target=lambda: stderr_chunks.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        err_reader.start()
        try:
            while proc.poll() is None:
                if self.cancel_event.wait(0.1):
                    kill_group(proc)
                    raise Canceled(self.cancel_reason[0])
        finally:
            if proc.poll() is None:
                kill_group(proc)
            reader.join(timeout=5)
            err_reader.join(timeout=5)
        if proc.returncode != 0:
            tail = " | ".join("".join(stderr_chunks).strip().splitlines()[-3:])
            raise OpError(f"ffmpeg failed (exit {proc.returncode}): {tail}", code="op_failed")
        self.report(span[1], stage)


@dataclass(frozen=True)
class Op:
    """A declared operation."""

    name: str
    version: str
    description: str
    params: type[BaseModel]
    inputs: tuple[str, ...]
    run: Callable[[OpContext, Any], OpResult]
    backend: Callable[[], str]
    optional_inputs: tuple[str, ...] = ()
    # A processed clip: its output "video" is checked against this input by the quality gate
    # (gpu_remote/quality.assess_processed), the report kept in result["quality"].
    quality_source: str | None = None


def media_duration_s(path: Path) -> float | None:
    """Duration of a media file in seconds via PyAV, or None if it has none."""
    import av

    try:
        with av.open(str(path)) as container:
            if container.duration:
                return container.duration / 1_000_000
            for stream in container.streams:
                if stream.duration and stream.time_base:
                    return float(stream.duration * stream.time_base)
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise OpError(f"input {path.name} is not readable media: {exc}", code="invalid_input") from exc
    return None


def source_timecode(path: Path) -> str | None:
    """The embedded start timecode of ``path`` (video stream, then tmcd/data stream, then container tag).

    Keys are matched case-insensitively: Matroska stores ``TIMECODE``, MP4/MOV ``timecode``.
    """
    import av

    def find(metadata: dict[str, str]) -> str | None:
        for key, value in metadata.items():
            if key.lower() == "timecode" and value:
                return str(value)
        return None

    try:
        with av.open(str(path)) as container:
            streams = sorted(container.streams, key=lambda s: s.type != "video")
            for stream in streams:
                found = find(dict(stream.metadata))
                if found:
                    return found
            return find(dict(container.metadata))
    except av.error.FFmpegError as exc:  # type: ignore[attr-defined]
        raise OpError(f"input {path.name} is not readable media: {exc}", code="invalid_input") from exc


def timecode_args(src: Path) -> list[str]:
    """ffmpeg output options that give the output ``src``'s start timecode (a tmcd track in MP4/MOV).

    NLEs link a processed file to the timeline by its source timecode, so an op that drops or
    shifts it would make every clip land on the wrong frames. ffmpeg usually carries the tag over
    from the input's stream metadata, but not when the picture was re-encoded elsewhere (PyAV) or
    the tag is only on the container; stating it explicitly covers every path.
    """
    tc = source_timecode(src)
    return ["-timecode", tc] if tc else []


def reencode_video_args(src: Path, video_filter: str, crf: int, out: Path) -> list[str]:
    """ffmpeg arguments that filter ``src``'s first video stream into ``out`` as H.264 (``crf``,
    veryfast, yuv420p), copying every audio stream, the start timecode and the colour tags
    (matrix, range, primaries, transfer: stated, since not every ffmpeg passes them on)."""
    from gpu_remote.ops.colour import colour_args, probe_colour

    return [
        "-i", str(src), "-vf", video_filter,
        "-map", "0:v:0", "-map", "0:a?",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-pix_fmt", "yuv420p",
        *colour_args(probe_colour(src)),
        "-c:a", "copy",
        *timecode_args(src),
        str(out),
    ]  # fmt: skip
