"""The GPUs this machine can use, as workers register them and ``/v1/capabilities`` reports them."""

from __future__ import annotations

import sys
from typing import Any


def gpus() -> list[dict[str, Any]]:
    """CUDA GPUs this worker can use, each {index, name, memory_bytes}.

    CTranslate2 (always installed, via faster-whisper) counts them cheaply; torch gives names and
    memory but is consulted only if an op already imported it (its import takes seconds).
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return [
            {
                "index": i,
                "name": torch.cuda.get_device_name(i),
                "memory_bytes": torch.cuda.get_device_properties(i).total_memory,
            }
            for i in range(torch.cuda.device_count())
        ]
    try:
        import ctranslate2

        return [{"index": i, "name": "cuda", "memory_bytes": None} for i in range(ctranslate2.get_cuda_device_count())]
    except (ImportError, RuntimeError):
        return []
