#!/usr/bin/env python3
"""Generate tiny media for the watch-folder tests and benchmark: a few 64x36, 2-second, 25 fps
H.264 clips (each a different test pattern, so each has different content) and a short drum
track at 120 BPM.

Run: python scripts/make_tiny_media.py OUT_DIR [--clips N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_sample_media import AUDIO_RATE, _write_wav, synth_drums  # noqa: E402

from kernel.ffmpeg_tools import run_ffmpeg  # noqa: E402

PATTERNS = ["testsrc2", "smptebars", "rgbtestsrc", "testsrc", "smptehdbars", "pal75bars", "yuvtestsrc", "colorspectrum"]
RATE = 25
SECONDS = 2


def make_tiny_media(out_dir: Path, *, clips: int = 4, music_seconds: float = 4.0) -> dict[str, list[Path] | Path]:
    """Write ``clip0.mp4``… and ``music.wav`` into ``out_dir``; returns ``{"clips": [...], "music": path}``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for i in range(clips):
        pattern = PATTERNS[i % len(PATTERNS)]
        # A hue shift per lap makes clips past the pattern list still differ in content.
        hue = f",hue=h={(i // len(PATTERNS)) * 40}" if i >= len(PATTERNS) else ""
        target = out_dir / f"clip{i}.mp4"
        run_ffmpeg(
            [
                "-f",
                "lavfi",
                "-i",
                f"{pattern}=s=64x36:r={RATE}:d={SECONDS}{hue}",
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                str(target),
            ],
            timeout=120,
        )
        paths.append(target)
    samples, _, _ = synth_drums(music_seconds, 120.0)
    music = out_dir / "music.wav"
    _write_wav(music, samples, AUDIO_RATE)
    return {"clips": paths, "music": music}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--clips", type=int, default=4)
    args = parser.parse_args(argv)
    made = make_tiny_media(args.out_dir, clips=args.clips)
    print(f"wrote {len(made['clips'])} clips and music.wav to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
