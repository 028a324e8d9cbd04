"""Remote GPU worker: a job server (FastAPI + SQLite, optional Celery scale-out) and its client.

Independent of the rest of Montage Bridge except for ``analysis`` utilities (errors, atomic
writes, ffmpeg lookup). See gpu_remote/README.md for the protocol and the scale-out recipe.
"""

__version__ = "0.1.0"
