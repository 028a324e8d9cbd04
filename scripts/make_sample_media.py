#!/usr/bin/env python3
"""Generate a small footage folder with known facts, for the demo and as the tests' oracle.

Writes into OUT_DIR:
  footage/  three short clips at 24000/1001, 25 and 30000/1001 fps, each with hard cuts at known
            frames; two carry a non-zero embedded start timecode (one of them drop-frame); one has
            a voice-like audio track (syllable bursts separated by known silences), or with
            --speech FILE that recording (the demo: real words, so its captions have text)
  music.wav synthesized drums at a steady, known tempo (kick on 1 and 3, snare on 2 and 4)
  facts.json the truth: rates, frame counts, cut frames, start timecodes, speech/silence spans,
             tempo and beat times

Only ffmpeg (PATH or imageio-ffmpeg) and numpy are needed. Run: python scripts/make_sample_media.py OUT_DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import wave
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernel.atomic_io import write_text_atomic  # noqa: E402
from kernel.ffmpeg_tools import run_ffmpeg  # noqa: E402
from kernel.timebase import format_rate, timecode_to_frames  # noqa: E402

SIZE = "320x180"
AUDIO_RATE = 48000

# Each clip: name, rate, start timecode (None = none embedded), segments of (lavfi source, frames).
CLIPS: list[dict] = [
    {
        "name": "beach_2398.mp4",
        "rate": Fraction(24000, 1001),
        "timecode": None,
        "segments": [("testsrc2", 72), ("smptehdbars", 84), ("mandelbrot", 96)],
        "audio": "ambience",
    },
    {
        "name": "city_25.mov",
        "rate": Fraction(25),
        "timecode": "10:00:00:00",
        "segments": [("gradients", 90), ("cellauto", 75), ("color_navy", 100)],
        "audio": "ambience",
    },
    {
        "name": "interview_2997.mp4",
        "rate": Fraction(30000, 1001),
        "timecode": "14:23:10;12",
        "segments": [("color_olive", 150), ("testsrc", 120), ("rgbtestsrc", 90)],
        "audio": "voice",
    },
]


def _source(kind: str, rate: Fraction) -> str:
    r = format_rate(rate)
    if kind.startswith("color_"):
        # Light temporal noise keeps a flat shot from being a trivially static frame.
        return f"color=c={kind[6:]}:s={SIZE}:r={r},noise=alls=12:allf=t:all_seed=7"
    if kind == "mandelbrot":
        return f"mandelbrot=s={SIZE}:r={r}"
    # ffmpeg picks gradient colours and automaton rows at random unless told: a grey draw made the
    # gradients->cellauto cut invisible on one CI run. Fixed colours and seeds keep the oracle true.
    if kind == "gradients":
        return f"gradients=s={SIZE}:r={r}:speed=0.02:nb_colors=2:c0=0xff8000:c1=0x0040ff:seed=11"
    if kind == "cellauto":
        return f"cellauto=s={SIZE}:r={r}:rule=110:seed=7"
    return f"{kind}=s={SIZE}:r={r}"


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """Write float samples in [-1, 1] (mono or (n, ch)) as 16-bit PCM."""
    data = np.clip(samples, -1, 1)
    if data.ndim == 1:
        data = data[:, None]
    pcm = (data * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(pcm.shape[1])
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def synth_voice(seconds: float, rng: np.random.Generator) -> tuple[np.ndarray, list[list[float]]]:
    """A voice-like signal: phrases of syllables (pulse train through formants) and silences.

    Returns the samples and the speech spans [[start, end], ...] in seconds.
    """
    n = int(seconds * AUDIO_RATE)
    out = np.zeros(n, dtype=np.float64)
    spans: list[list[float]] = []
    t = 0.8
    while t < seconds - 1.0:
        length = float(rng.uniform(1.2, 2.2))
        end = min(t + length, seconds - 0.6)
        i0, i1 = int(t * AUDIO_RATE), int(end * AUDIO_RATE)
        tt = np.arange(i1 - i0) / AUDIO_RATE
        f0 = 120 + 20 * np.sin(2 * np.pi * 0.7 * tt)
        phase = 2 * np.pi * np.cumsum(f0) / AUDIO_RATE
        voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
        formants = 0.6 * np.sin(2 * np.pi * 700 * tt) + 0.4 * np.sin(2 * np.pi * 1200 * tt)
        syllables = 0.5 * (1 - np.cos(2 * np.pi * 4.5 * tt)) ** 1.5
        out[i0:i1] = 0.25 * voiced * (1 + 0.3 * formants) * syllables
        spans.append([round(t, 3), round(end, 3)])
        t = end + float(rng.uniform(0.7, 1.1))
    return out, spans


def synth_drums(seconds: float, bpm: float) -> tuple[np.ndarray, list[float], list[float]]:
    """Kick on beats 1 and 3, snare on 2 and 4, hi-hat on eighths; returns stereo samples and beats."""
    n = int(seconds * AUDIO_RATE)
    out = np.zeros(n)
    rng = np.random.default_rng(7)
    period = 60.0 / bpm
    beats = [round(i * period, 6) for i in range(int(seconds / period) + 1) if i * period < seconds - 0.05]

    def add(at: float, sound: np.ndarray) -> None:
        i = int(round(at * AUDIO_RATE))
        j = min(n, i + sound.size)
        if i < n:
            out[i:j] += sound[: j - i]

    tk = np.arange(int(0.25 * AUDIO_RATE)) / AUDIO_RATE
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-tk * 30)) * tk) * np.exp(-tk * 12)
    ts = np.arange(int(0.18 * AUDIO_RATE)) / AUDIO_RATE
    snare = (rng.standard_normal(ts.size) * 0.6 + np.sin(2 * np.pi * 190 * ts) * 0.4) * np.exp(-ts * 22)
    th = np.arange(int(0.05 * AUDIO_RATE)) / AUDIO_RATE
    hat = rng.standard_normal(th.size) * np.exp(-th * 90) * 0.25
    for i, b in enumerate(beats):
        # The bar's first kick is accented so the downbeat is unambiguous.
        add(b, kick * (1.0 if i % 4 == 0 else 0.55) if i % 2 == 0 else snare * 0.8)
        add(b, hat)
        add(b + period / 2, hat * 0.6)
    out *= 0.6 / max(1e-9, np.max(np.abs(out)))
    return np.stack([out, out], axis=1), beats, beats[::4]


def real_voice(speech: Path, seconds: float, work: Path) -> tuple[np.ndarray, list[list[float]]]:
    """A recorded voice (any file ffmpeg reads) from 0.5 s on, cut to ``seconds``, and its speech spans:
    20 ms windows louder than -45 dBFS RMS, pauses shorter than 0.3 s bridged (seconds, rounded to ms)."""
    raw = work / "speech.wav"
    run_ffmpeg(["-i", str(speech), "-ac", "1", "-ar", str(AUDIO_RATE), "-c:a", "pcm_s16le", str(raw)], timeout=120)
    with wave.open(str(raw), "rb") as handle:
        voice = np.frombuffer(handle.readframes(handle.getnframes()), dtype=np.int16) / 32768.0
    out = np.zeros(int(seconds * AUDIO_RATE), dtype=np.float64)
    lead = int(0.5 * AUDIO_RATE)
    voice = voice[: max(0, len(out) - lead)]
    out[lead : lead + len(voice)] = voice * (0.5 / max(1e-9, float(np.max(np.abs(voice)))))
    window = AUDIO_RATE // 50
    frames = out[: len(out) // window * window].reshape(-1, window)
    loud = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12) > -45
    spans: list[list[float]] = []
    for index in np.flatnonzero(loud):
        start, end = index * window / AUDIO_RATE, (index + 1) * window / AUDIO_RATE
        if spans and start - spans[-1][1] < 0.3:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return out, [[round(a, 3), round(b, 3)] for a, b in spans]


def make_clip(spec: dict, out_dir: Path, rng: np.random.Generator, work: Path, speech: Path | None = None) -> dict:
    rate: Fraction = spec["rate"]
    frames = sum(n for _, n in spec["segments"])
    seconds = float(Fraction(frames) / rate)
    parts, labels = [], []
    for i, (kind, count) in enumerate(spec["segments"]):
        parts.append(f"{_source(kind, rate)},trim=end_frame={count},setpts=PTS-STARTPTS,format=yuv420p[v{i}]")
        labels.append(f"[v{i}]")
    graph = ";".join(parts) + f";{''.join(labels)}concat=n={len(labels)}:v=1:a=0[v]"
    facts: dict = {"rate": format_rate(rate), "frames": frames, "cuts": [], "speech": []}
    acc = 0
    for _, count in spec["segments"][:-1]:
        acc += count
        facts["cuts"].append(acc)
    audio_path = work / f"{spec['name']}.wav"
    if spec["audio"] == "voice" and speech is not None:
        samples, spans = real_voice(speech, seconds, work)
        facts["speech"] = spans
        facts["speech_file"] = speech.name
    elif spec["audio"] == "voice":
        samples, spans = synth_voice(seconds, rng)
        facts["speech"] = spans
    else:
        samples = rng.standard_normal(int(seconds * AUDIO_RATE)) * 0.01
    _write_wav(audio_path, samples, AUDIO_RATE)
    args = [
        "-filter_complex",
        graph,
        "-i",
        str(audio_path),
        "-map",
        "[v]",
        "-map",
        "0:a",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-crf",
        "23",
        "-r",
        format_rate(rate),
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-shortest",
    ]
    if spec["timecode"]:
        args += ["-timecode", spec["timecode"]]
    run_ffmpeg([*args, str(out_dir / spec["name"])], timeout=300)
    tc = spec["timecode"] or "00:00:00:00"
    drop = ";" in tc
    facts.update(
        start_timecode=tc,
        drop_frame=drop,
        start_frame=timecode_to_frames(tc, rate, drop),
        has_timecode=spec["timecode"] is not None,
    )
    return facts


def make_sample_media(
    out_dir: Path, *, bpm: float = 120.0, music_seconds: float = 40.0, speech: Path | None = None
) -> dict:
    """Generate the sample set into ``out_dir`` and return the facts (also written to facts.json).

    ``speech``: a recording to use as the interview's voice instead of the synthetic one (the demo
    uses tests/data/speech/hello_fox.opus so its captions have words)."""
    footage = out_dir / "footage"
    work = out_dir / ".work"
    footage.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    rng = np.random.default_rng(2024)
    facts: dict = {"clips": {}, "music": {}}
    for spec in CLIPS:
        facts["clips"][spec["name"]] = make_clip(spec, footage, rng, work, speech)
    samples, beats, downbeats = synth_drums(music_seconds, bpm)
    _write_wav(out_dir / "music.wav", samples, AUDIO_RATE)
    facts["music"] = {
        "file": "music.wav",
        "tempo_bpm": bpm,
        "beats": beats,
        "downbeats": downbeats,
        "duration": music_seconds,
    }
    for leftover in work.iterdir():
        leftover.unlink()
    work.rmdir()
    write_text_atomic(out_dir / "facts.json", json.dumps(facts, indent=2) + "\n")
    return facts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--music-seconds", type=float, default=40.0)
    parser.add_argument("--speech", type=Path, help="a voice recording for the interview clip (default: synthetic)")
    args = parser.parse_args(argv)
    facts = make_sample_media(args.out_dir, bpm=args.bpm, music_seconds=args.music_seconds, speech=args.speech)
    print(f"wrote {len(facts['clips'])} clips, music.wav and facts.json to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
