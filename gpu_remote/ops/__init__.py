"""The operations this worker can run, by name."""

from __future__ import annotations

from gpu_remote.ops import generate, noop, proxy, stabilize, transcribe, upscale
from gpu_remote.ops.base import Op, OpContext, OpResult

OPS: dict[str, Op] = {op.name: op for op in (noop.OP, stabilize.OP, upscale.OP, transcribe.OP, generate.OP, proxy.OP)}

__all__ = ["OPS", "Op", "OpContext", "OpResult"]
