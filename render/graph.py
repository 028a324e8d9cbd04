"""A render layout as ONE ffmpeg command: an input per clip, one filter graph, one encode.

Picture, per clip: the input is opened at the clip's first needed frame (``-ss`` half a frame
early, so timestamp jitter cannot pick a neighbour; ffmpeg's accurate seek decodes from the
keyframe before and drops what lies before), then the frames get exact timestamps from their
count (``settb`` to the media rate, ``setpts=N+offset``) and ``fps`` (rounding up) conforms them to
the timeline rate. The offset aligns media time 0 of the clip's in point with its record in point,
so record frame ``r`` shows exactly the media frame of :meth:`render.layout.Piece.source_frame`.
Clips joined by dissolves are chained with ``xfade``; runs and gaps (black) are joined with
``concat``; upper video tracks are laid over lower ones (their gaps transparent).

Sound, per clip: the input is opened at the clip's source time, resampled to 48 kHz stereo, cut to
the exact number of samples of its record span (sample positions rounded from record frames, so
tracks never drift), micro-faded at both ends, crossfaded (``acrossfade``) where a transition joins
clips, joined with silence for gaps; music tracks are ducked under speech; the tracks are summed
(``amix`` without normalisation, as an NLE's mixer does) and optionally loudness-normalised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import ceil

from kernel.timebase import round_half_up
from nle_adapters.reframe_meta import ffmpeg_crop
from render.layout import Gap, Layout, Piece, Run, TrackLayout
from render.mix import MICRO_FADE_SECONDS, Ducking, ducking_filter

AUDIO_RATE = 48000


def _q(value: Fraction) -> str:
    """A rational for an ffmpeg option: ``30000/1001`` or ``25``."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _sec(value: Fraction | float) -> str:
    return f"{float(value):.6f}"


def sample_at(rec: int, rate: Fraction) -> int:
    """The audio sample (48 kHz) where record frame ``rec`` starts, half up: tracks share one grid."""
    return round_half_up(Fraction(rec) * AUDIO_RATE / rate)


@dataclass
class Graph:
    """ffmpeg input arguments, the filter graph, and the output labels (``[v]``/``[a]``)."""

    inputs: list[list[str]] = field(default_factory=list)
    chains: list[str] = field(default_factory=list)
    video_label: str | None = None
    audio_label: str | None = None
    _labels: int = 0

    def label(self, stem: str) -> str:
        self._labels += 1
        return f"{stem}{self._labels}"

    def add_input(self, path: str, start: float, duration: float) -> int:
        self.inputs.append(["-ss", _sec(max(0.0, start)), "-t", _sec(duration), "-i", path])
        return len(self.inputs) - 1

    @property
    def filter_complex(self) -> str:
        return ";\n".join(self.chains)

    def input_args(self) -> list[str]:
        return [arg for group in self.inputs for arg in group]


def _video_piece(graph: Graph, piece: Piece, width: int, height: int, alpha: bool) -> tuple[str, int]:
    """One clip's picture as a stream of exactly ``rec_end - rec_start`` frames at the timeline rate."""
    media, rate = piece.media, piece.timeline_rate
    first = piece.source_frame(piece.rec_start)
    last = piece.source_frame(piece.rec_end - 1)
    start = media.video_offset + (first - 0.5) / float(media.rate)
    index = graph.add_input(str(media.path), start, (last - first + 1) / float(media.rate))
    # ratio media/timeline = p/q: shifting record time by K frames (a multiple of q) shifts media
    # time by a whole M frames, which keeps every timestamp >= 0 without changing the mapping.
    ratio = media.rate / rate
    p, q = ratio.numerator, ratio.denominator
    k0 = piece.rec_start - piece.rec_in  # <= 0: the dissolve head before the in point
    big_k = q * ceil(max(0, -k0) / q)
    big_m = big_k * p // q
    offset = (first - piece.src_in) + big_m
    length = piece.rec_end - piece.rec_start
    pix = "yuva420p" if alpha else "yuv420p"
    fades = ""
    alpha_fade = ":alpha=1" if alpha else ""
    if piece.fade_in:
        fades += f",fade=t=in:s={piece.head}:n={piece.fade_in}{alpha_fade}"
    if piece.fade_out:
        fades += f",fade=t=out:s={piece.rec_out - piece.rec_start - piece.fade_out}:n={piece.fade_out}{alpha_fade}"
    label = graph.label("v")
    # A reframed clip: its crop window (t = 0 shows media frame ``first``) before the fit to the frame.
    crop = f"{ffmpeg_crop(piece.reframe, first, media.rate)}," if piece.reframe else ""
    graph.chains.append(
        f"[{index}:v:0]settb=expr={_q(1 / media.rate)},setpts=N+{offset},"
        f"fps=fps={_q(rate)}:start_time={_sec(Fraction(k0 + big_k) / rate)}:round=up,"
        f"trim=end_frame={length},setpts=PTS-STARTPTS,{crop}"
        f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
        f"pad={width}:{height}:-1:-1:color=black,setsar=1,format={pix}{fades}[{label}]"
    )
    return label, length


def _video_gap(graph: Graph, frames: int, rate: Fraction, width: int, height: int, alpha: bool) -> str:
    label = graph.label("g")
    color, pix = ("black@0.0", "yuva420p") if alpha else ("black", "yuv420p")
    graph.chains.append(
        f"color=c={color}:s={width}x{height}:r={_q(rate)}:d={_sec(Fraction(frames + 1) / rate)},"
        f"format={pix},trim=end_frame={frames},setsar=1[{label}]"
    )
    return label


def _video_run(graph: Graph, run: Run, width: int, height: int, alpha: bool) -> str:
    rate = run.pieces[0].timeline_rate
    current, length = _video_piece(graph, run.pieces[0], width, height, alpha)
    for before, after in zip(run.pieces, run.pieces[1:]):
        nxt, nxt_len = _video_piece(graph, after, width, height, alpha)
        overlap = before.tail + after.head
        label = graph.label("x")
        graph.chains.append(
            f"[{current}][{nxt}]xfade=transition=fade:duration={_sec(Fraction(overlap) / rate)}:"
            f"offset={_sec(Fraction(length - overlap) / rate)}[{label}]"
        )
        current, length = label, length + nxt_len - overlap
    return current


def _concat(graph: Graph, labels: list[str], kind: str) -> str:
    if len(labels) == 1:
        return labels[0]
    label = graph.label("c")
    flags = "v=1:a=0" if kind == "video" else "v=0:a=1"
    graph.chains.append("".join(f"[{x}]" for x in labels) + f"concat=n={len(labels)}:{flags}[{label}]")
    return label


def _video_track(graph: Graph, track: TrackLayout, layout: Layout, alpha: bool) -> str:
    labels = []
    for item in track.items:
        if isinstance(item, Gap):
            labels.append(
                _video_gap(graph, item.rec_end - item.rec_start, layout.rate, layout.width, layout.height, alpha)
            )
        else:
            labels.append(_video_run(graph, item, layout.width, layout.height, alpha))
    return _concat(graph, labels, "video")


def add_video(graph: Graph, layout: Layout, burn: str | None = None) -> None:
    """The picture: tracks bottom to top, upper ones laid over (their gaps transparent)."""
    tracks = [t for t in layout.video if t.pieces] or layout.video[:1]
    if not tracks:
        base = _video_gap(graph, layout.duration, layout.rate, layout.width, layout.height, False)
    else:
        base = _video_track(graph, tracks[0], layout, alpha=False)
        for track in tracks[1:]:
            top = _video_track(graph, track, layout, alpha=True)
            label = graph.label("o")
            graph.chains.append(f"[{base}][{top}]overlay=eof_action=pass:format=auto[{label}]")
            base = label
    final = "format=yuv420p"
    if burn:
        final += f",{burn}"
    graph.chains.append(f"[{base}]{final}[vout]")
    graph.video_label = "vout"


def _audio_piece(graph: Graph, piece: Piece, rate: Fraction) -> tuple[str, int]:
    """One clip's sound: exactly the samples of its record span, micro-faded at both ends."""
    start_sample, end_sample = sample_at(piece.rec_start, rate), sample_at(piece.rec_end, rate)
    samples = end_sample - start_sample
    label = graph.label("a")
    if not piece.media.has_audio:
        graph.chains.append(
            f"anullsrc=r={AUDIO_RATE}:cl=stereo,aformat=sample_fmts=fltp,atrim=end_sample={samples}[{label}]"
        )
        return label, samples
    media_time = piece.source_seconds(piece.rec_start)
    start = piece.media.video_offset + float(media_time)
    lead = 0
    if start < 0:  # a dissolve head before the media's first sample: silence there
        lead = int(round(-start * AUDIO_RATE))
    index = graph.add_input(str(piece.media.path), start, samples / AUDIO_RATE + 0.1)
    layout = "pan=stereo|c0=c0|c1=c0," if piece.media.audio_channels == 1 else ""
    fade = max(1, min(int(MICRO_FADE_SECONDS * AUDIO_RATE), samples // 4))
    fade_in = fade_out = ""
    if piece.fade_in:  # a fade from silence over the clip's first fade_in frames (after any head)
        first = sample_at(piece.rec_in, rate) - start_sample
        fade_in = f",afade=t=in:ss={first}:ns={sample_at(piece.rec_in + piece.fade_in, rate) - first - start_sample}"
    if piece.fade_out:  # to silence over its last fade_out frames
        begin = sample_at(piece.rec_out - piece.fade_out, rate) - start_sample
        fade_out = f",afade=t=out:ss={begin}:ns={sample_at(piece.rec_out, rate) - start_sample - begin}"
    delay = f"adelay={lead}S:all=1," if lead else ""
    graph.chains.append(
        f"[{index}:a:0]aresample={AUDIO_RATE},{layout}"
        f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo,{delay}"
        f"asetpts=N/SR/TB,atrim=end_sample={samples},apad=whole_len={samples},"
        f"afade=t=in:ss=0:ns={fade},afade=t=out:ss={samples - fade}:ns={fade}{fade_in}{fade_out}[{label}]"
    )
    return label, samples


def _audio_track(graph: Graph, track: TrackLayout, layout: Layout) -> str:
    labels = []
    for item in track.items:
        if isinstance(item, Gap):
            samples = sample_at(item.rec_end, layout.rate) - sample_at(item.rec_start, layout.rate)
            label = graph.label("s")
            graph.chains.append(
                f"anullsrc=r={AUDIO_RATE}:cl=stereo,aformat=sample_fmts=fltp,atrim=end_sample={samples}[{label}]"
            )
            labels.append(label)
            continue
        current, _ = _audio_piece(graph, item.pieces[0], layout.rate)
        for before, after in zip(item.pieces, item.pieces[1:]):
            nxt, _ = _audio_piece(graph, after, layout.rate)
            overlap = sample_at(before.rec_end, layout.rate) - sample_at(after.rec_start, layout.rate)
            label = graph.label("xa")
            graph.chains.append(f"[{current}][{nxt}]acrossfade=ns={overlap}:c1=tri:c2=tri[{label}]")
            current = label
        labels.append(current)
    return _concat(graph, labels, "audio")


def add_audio(
    graph: Graph,
    layout: Layout,
    *,
    ducking: Ducking | None = None,
    speech_spans: list[tuple[float, float]] | None = None,
    post: str | None = None,
) -> None:
    """The sound: every audio track, music ducked under ``speech_spans`` (seconds), summed, then ``post``."""
    total = sample_at(layout.duration, layout.rate)
    labels = []
    for track in layout.audio:
        if not track.pieces:
            continue
        label = _audio_track(graph, track, layout)
        duck = ducking_filter(speech_spans or [], ducking) if ducking and track.role == "music" else None
        if duck:
            ducked = graph.label("d")
            graph.chains.append(f"[{label}]{duck}[{ducked}]")
            label = ducked
        labels.append(label)
    if not labels:
        silent = graph.label("s")
        graph.chains.append(
            f"anullsrc=r={AUDIO_RATE}:cl=stereo,aformat=sample_fmts=fltp,atrim=end_sample={total}[{silent}]"
        )
        labels = [silent]
    if len(labels) > 1:
        mixed = graph.label("m")
        graph.chains.append(
            "".join(f"[{x}]" for x in labels) + f"amix=inputs={len(labels)}:normalize=0:duration=longest[{mixed}]"
        )
        base = mixed
    else:
        base = labels[0]
    chain = f"{post}," if post else ""
    graph.chains.append(
        f"[{base}]{chain}aresample={AUDIO_RATE},aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts=stereo,"
        f"asetpts=N/SR/TB,atrim=end_sample={total},apad=whole_len={total}[aout]"
    )
    graph.audio_label = "aout"


__all__ = ["AUDIO_RATE", "Graph", "add_audio", "add_video", "sample_at"]
