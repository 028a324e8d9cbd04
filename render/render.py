"""Render an OTIO timeline to a video file: layout, optional loudness pass, one encode, quality check.

The order of work:
1. :func:`render.layout.layout_timeline`: every clip's record span and exact source frames;
2. with a loudness target, pass 1 renders only the sound (cheap: no picture is decoded) through
   ``loudnorm`` to measure it;
3. pass 2 is the render: one ffmpeg process, one filter graph (render/graph.py), written to a
   temporary file beside the output and renamed onto it only when ffmpeg succeeded;
4. the quality check (render/qc.py) decodes the result once; captions sidecars are written last.
A failure at any step leaves no output (the temporary file is removed).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import opentimelineio as otio

from analysis.models import Transcript
from kernel.atomic_io import write_text_atomic
from render import captions as cap
from render.errors import RenderError
from render.ffmpeg_run import Progress, run_ffmpeg_graph, temp_output
from render.graph import AUDIO_RATE, Graph, add_audio, add_video
from render.layout import ClipAudio, Layout, layout_timeline
from render.loudness import (
    DEFAULT_CEILING,
    Measurement,
    loudnorm_measure_filter,
    measurement_from_loudnorm,
    normalize_filter,
    parse_loudnorm_json,
)
from render.mix import Ducking, ducking_for_style
from render.qc import QualityReport, check_render, meter

# codec → (video args, audio args, allowed output suffixes, default crf)
CODECS: dict[str, tuple[list[str], list[str], set[str], int | None]] = {
    "h264": (
        ["-c:v", "libx264", "-preset", "medium", "-pix_fmt", "yuv420p"],
        ["-c:a", "aac", "-b:a", "192k"],
        {".mp4", ".mov", ".mkv", ".m4v"},
        20,
    ),
    "h265": (
        ["-c:v", "libx265", "-preset", "medium", "-pix_fmt", "yuv420p", "-x265-params", "log-level=error"],
        ["-c:a", "aac", "-b:a", "192k"],
        {".mp4", ".mov", ".mkv", ".m4v"},
        24,
    ),
    "prores": (
        ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"],
        ["-c:a", "pcm_s16le"],
        {".mov"},
        None,
    ),
    "vp9": (
        ["-c:v", "libvpx-vp9", "-b:v", "0", "-row-mt", "1", "-deadline", "good", "-cpu-used", "4"],
        ["-c:a", "libopus", "-b:a", "160k"],
        {".webm", ".mkv"},
        32,
    ),
}
LOSSY_AUDIO = {"h264", "h265", "vp9"}
# Loudness fitting (see _fit_loudness): passes at most, how close to the target (LU), peak margin (dB).
FIT_PASSES = 6
_LOUDNESS_FIT = 0.3
_TP_SAFETY = 0.2


@dataclass
class RenderOptions:
    """What to render and how. ``size``: (width, height) in pixels; ``loudness``: LUFS target or None
    (no normalisation); ``ceiling``: true-peak ceiling, dBTP; ``transcripts``: speech per media file,
    for captions and the ducking spans; ``ducking``: None means the timeline style's, ``duck=False``
    turns ducking off; ``check``: run the quality check (render/qc.py) on the result."""

    codec: str = "h264"
    crf: int | None = None
    size: tuple[int, int] | None = None
    loudness: float | None = None
    ceiling: float = DEFAULT_CEILING
    clip_audio: ClipAudio = "auto"
    duck: bool = True
    ducking: Ducking | None = None
    transcripts: dict[Path, Transcript] | None = None
    captions: bool = False
    burn_captions: bool = False
    check: bool = True
    preset: str | None = None


@dataclass
class RenderReport:
    """What was rendered and measured. Times in seconds; ``frames`` in timeline frames."""

    output: Path
    frames: int
    rate: str
    seconds: float
    codec: str
    width: int
    height: int
    elapsed: float
    measured: Measurement | None = None  # the mix before normalisation (pass 1)
    normalization: str | None = None  # pass 2: "linear" gain, or "linear+limiter" (true-peak limited)
    quality: QualityReport | None = None
    captions: list[Path] = field(default_factory=list)
    caption_count: int = 0
    captions_too_fast: int = 0
    ducked_spans: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return list(self.quality.failures) if self.quality else []

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict:
        q = self.quality
        return {
            "output": str(self.output),
            "frames": self.frames,
            "rate": self.rate,
            "seconds": round(self.seconds, 3),
            "codec": self.codec,
            "size": f"{self.width}x{self.height}",
            "elapsed_seconds": round(self.elapsed, 2),
            "speed": round(self.seconds / self.elapsed, 2) if self.elapsed else None,
            "loudness_before": _m(self.measured),
            "normalization": self.normalization,
            "loudness_after": _m(q.loudness) if q else None,
            "frames_rendered": q.frames if q else None,
            "captions": [str(p) for p in self.captions],
            "caption_count": self.caption_count,
            "captions_too_fast": self.captions_too_fast,
            "ducked_spans": self.ducked_spans,
            "warnings": self.warnings,
            "failures": self.failures,
            "ok": self.ok,
        }


def _m(m: Measurement | None) -> dict | None:
    if m is None:
        return None
    return {
        "integrated_lufs": round(m.integrated, 2),
        "lra_lu": round(m.lra, 2),
        "true_peak_dbtp": round(m.true_peak, 2),
    }


def _codec_args(options: RenderOptions, output: Path) -> tuple[list[str], list[str]]:
    if options.codec not in CODECS:
        raise RenderError(f"unknown codec {options.codec!r}: choose from {', '.join(CODECS)}")
    video, audio, suffixes, default_crf = CODECS[options.codec]
    if output.suffix.lower() not in suffixes:
        raise RenderError(
            f"{output}: {options.codec} goes in {' or '.join(sorted(suffixes))} files — rename the output"
        )
    video = list(video)
    if options.preset and options.codec in ("h264", "h265"):
        video[video.index("-preset") + 1] = options.preset
    if options.crf is not None:
        if default_crf is None:
            raise RenderError(f"--crf does not apply to {options.codec} (a fixed-quality intermediate codec)")
        if not 0 <= options.crf <= 63:
            raise RenderError(f"--crf {options.crf} is out of range (0-51 for h264/h265, 0-63 for vp9)")
    if default_crf is not None:
        video += ["-crf", str(options.crf if options.crf is not None else default_crf)]
    return video, list(audio)


def _speech_spans(layout: Layout, words: list[cap.TimedWord] | None) -> list[tuple[float, float]]:
    """Where speech is heard (seconds): the kept words when a transcript is known, else the dialogue clips."""
    if words:
        return [(w.start, w.end) for w in words]
    rate = layout.rate
    return [(float(a / rate), float(b / rate)) for a, b in layout.sound_spans("dialogue")]


def _burn_filter(srt: Path, layout: Layout) -> str:
    """The ``subtitles`` filter (libass) for ``srt``, sized to the frame; fonts from the system or DejaVu."""
    path = str(srt).replace("\\", "/").replace(":", "\\:").replace("'", "\\'")
    size = max(8, round(layout.height / 18))
    fonts = next(
        (d for d in ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts", "/Library/Fonts") if Path(d).is_dir()),
        None,
    )
    extra = f":fontsdir='{fonts}'" if fonts else ""
    style = f"FontName=DejaVu Sans,FontSize={size},Outline=2,MarginV={max(4, layout.height // 20)}"
    # original_size: libass scales FontSize from a 384x288 script unless told the real frame size.
    return f"subtitles=filename='{path}':original_size={layout.width}x{layout.height}:force_style='{style}'{extra}"


def _measure_encoded(layout: Layout, audio_args: list[str], post: str, **mix) -> Measurement:
    """Encode only the sound through ``post`` with the render's audio codec and meter the result
    with ebur128: lossy codecs raise the true peak, so the figure that counts is the encoded one."""
    with tempfile.TemporaryDirectory(prefix="mb-loudness-") as scratch:
        encoded = Path(scratch) / "sound.mka"
        sound = Graph()
        add_audio(sound, layout, post=post, **mix)
        outputs = ["-map", "[aout]", *audio_args, "-ar", str(AUDIO_RATE), str(encoded)]
        seconds = float(layout.duration / layout.rate)
        run_ffmpeg_graph(sound.input_args(), sound.filter_complex, outputs, total_seconds=seconds, what="loudness pass")
        measured = meter(encoded)
    if measured is None:
        raise RenderError("ffmpeg's ebur128 meter printed no result for the normalised sound")
    return measured


def _fit_loudness(
    layout: Layout,
    audio_args: list[str],
    measured: Measurement,
    target: float,
    ceiling: float,
    **mix,
) -> tuple[str, str]:
    """The normalisation chain that lands the *encoded* sound on ``target`` under ``ceiling``.

    Starts from the linear gain (target - measured) and, when needed, the true-peak limiter; then
    encodes the sound alone (cheap: no picture) and meters it. A limiter that took loudness away,
    or a codec that raised the peak, is corrected (more gain, a lower limit) for up to
    ``FIT_PASSES`` passes. Returns (filter chain, mode)."""
    gain, limit = target - measured.integrated, ceiling - _TP_SAFETY
    chain, mode = normalize_filter(target, limit, measured)
    best: tuple[float, str, str] | None = None
    slope, last = 1.0, None  # LU gained per dB of gain: 1 when linear, less once the limiter works
    for _ in range(FIT_PASSES):
        result = _measure_encoded(layout, audio_args, chain, **mix)
        # How far off, in dB: loudness beyond the fit window, true peak over the ceiling (weighted up).
        miss = max(0.0, abs(result.integrated - target) - _LOUDNESS_FIT) + 2 * max(
            0.0, result.true_peak - (ceiling - _TP_SAFETY / 2)
        )
        if best is None or miss < best[0]:
            best = (miss, chain, mode)
        if miss == 0:
            break
        if last is not None and abs(gain - last[0]) > 0.05:
            slope = min(1.0, max(0.2, (result.integrated - last[1]) / (gain - last[0])))
        last = (gain, result.integrated)
        gain += (target - result.integrated) / slope
        if result.true_peak > ceiling - _TP_SAFETY / 2:
            limit -= result.true_peak - (ceiling - _TP_SAFETY)
        adjusted = Measurement(target - gain, measured.lra, measured.true_peak, measured.threshold)
        chain, mode = normalize_filter(target, limit, adjusted)
    assert best is not None
    return best[1], best[2]


def render_timeline(
    timeline: otio.schema.Timeline,
    output: Path,
    options: RenderOptions | None = None,
    *,
    progress: Progress | None = None,
) -> RenderReport:
    """Render ``timeline`` to ``output`` (see the module doc). Raises RenderError; leaves no partial file."""
    options = options or RenderOptions()
    output = Path(output)
    video_args, audio_args = _codec_args(options, output)
    layout = layout_timeline(timeline, clip_audio=options.clip_audio, size=options.size)
    started = time.perf_counter()
    rate = layout.rate
    seconds = float(layout.duration / rate)
    report = RenderReport(
        output=output,
        frames=layout.duration,
        rate=f"{rate.numerator}/{rate.denominator}" if rate.denominator != 1 else str(rate.numerator),
        seconds=seconds,
        codec=options.codec,
        width=layout.width,
        height=layout.height,
        elapsed=0.0,
        warnings=list(layout.warnings),
    )
    words = cap.retime_words(layout, options.transcripts) if options.transcripts else None
    cues = cap.build_cues(words, seconds) if words else []
    if (options.captions or options.burn_captions) and not options.transcripts:
        raise RenderError("captions need the speech analysis: none was given for this timeline's media")
    if (options.captions or options.burn_captions) and not cues:
        report.warnings.append("no speech survives the edit: no captions written")
    ducking = (options.ducking or ducking_for_style(layout.style)) if options.duck else None
    spans = _speech_spans(layout, words) if ducking else []
    has_music = any(t.role == "music" and t.pieces for t in layout.audio)
    report.ducked_spans = len(spans) if ducking and has_music else 0
    ceiling = options.ceiling
    aim_tp = ceiling
    has_sound = bool(layout.sound_spans())
    post = None
    if options.loudness is not None and has_sound:
        sound = Graph()
        add_audio(
            sound, layout, ducking=ducking, speech_spans=spans, post=loudnorm_measure_filter(options.loudness, aim_tp)
        )
        log = run_ffmpeg_graph(
            sound.input_args(), sound.filter_complex, ["-map", "[aout]", "-f", "null", "-"],
            total_seconds=seconds, what="loudness measurement",
        )  # fmt: skip
        report.measured = measurement_from_loudnorm(parse_loudnorm_json(log))
        post, report.normalization = _fit_loudness(
            layout, audio_args, report.measured, options.loudness, ceiling, ducking=ducking, speech_spans=spans
        )
    elif options.loudness is not None:
        report.warnings.append("the timeline has no sound: --loudness ignored")
    scratch = Path(tempfile.mkdtemp(prefix="mb-captions-"))
    try:
        burn = None
        if options.burn_captions and cues:
            srt = scratch / "captions.srt"
            srt.write_text(cap.to_srt(cues), encoding="utf-8")
            burn = _burn_filter(srt, layout)
        graph = Graph()
        add_video(graph, layout, burn=burn)
        add_audio(graph, layout, ducking=ducking, speech_spans=spans, post=post)
        with temp_output(output) as tmp:
            outputs = ["-map", "[vout]", "-map", "[aout]", *video_args, *audio_args, "-ar", str(AUDIO_RATE)]
            outputs += ["-r", report.rate, "-fps_mode", "cfr"]
            if output.suffix.lower() in (".mp4", ".mov", ".m4v"):
                outputs += ["-movflags", "+faststart", "-timecode", layout.timecode(0)]
            outputs.append(str(tmp))
            run_ffmpeg_graph(
                graph.input_args(), graph.filter_complex, outputs, total_seconds=seconds, progress=progress
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report.elapsed = time.perf_counter() - started
    if options.check:
        report.quality = check_render(
            output,
            layout,
            target=options.loudness if has_sound else None,
            ceiling=ceiling if options.loudness else None,
        )
    if options.captions and cues:
        for suffix, text in ((".srt", cap.to_srt(cues)), (".vtt", cap.to_vtt(cues))):
            path = output.with_suffix(suffix)
            write_text_atomic(path, text)
            report.captions.append(path)
    report.caption_count = len(cues)
    report.captions_too_fast = cap.too_fast(cues)
    return report


__all__ = ["CODECS", "RenderOptions", "RenderReport", "render_timeline"]
