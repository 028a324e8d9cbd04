"""noop: does nothing but wait, report progress and honour cancel. Used by benchmarks and tests
to measure per-job overhead and to exercise leases, cancel and crash recovery."""

from __future__ import annotations

import json
import os
import socket

from pydantic import BaseModel, ConfigDict, Field

from gpu_remote.ops.base import Op, OpContext, OpResult


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_s: float = Field(default=0.0, ge=0.0, le=3600.0, description="seconds to wait")
    steps: int = Field(default=1, ge=1, le=10_000, description="progress reports over the wait")
    tag: str = Field(default="", max_length=200, description="echoed in the result; makes otherwise equal jobs differ")


def run(ctx: OpContext, params: NoopParams) -> OpResult:
    for step in range(params.steps):
        ctx.sleep(params.duration_s / params.steps)
        ctx.report((step + 1) / params.steps, "waiting")
    out = ctx.work_dir / "noop.json"
    info = {"job_id": ctx.job_id, "attempt": ctx.attempt, "host": socket.gethostname(), "pid": os.getpid()}
    out.write_text(json.dumps(info))
    return OpResult(outputs={"result": out}, result={**info, "tag": params.tag}, mimes={"result": "application/json"})


OP = Op(
    name="noop",
    version="1",
    description="Wait duration_s seconds with progress; for benchmarks and tests.",
    params=NoopParams,
    inputs=(),
    run=run,
    backend=lambda: "cpu",
)
