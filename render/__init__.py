"""Render an edited timeline to a watchable file: picture, mix, loudness, captions, quality check.

Depends on ``nle_adapters`` (the OTIO timeline model) and ``analysis`` (ffmpeg, probing, speech
models); ``montage_bridge`` (the CLI) depends on it. Start at :func:`render.render.render_timeline`.
"""

from render.errors import RenderError
from render.render import CODECS, RenderOptions, RenderReport, render_timeline

__all__ = ["CODECS", "RenderError", "RenderOptions", "RenderReport", "render_timeline"]
