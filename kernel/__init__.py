"""The bottom layer every package shares: exact time (``timebase``), the app-wide errors
(``errors``), atomic file writes (``atomic_io``), media facts and probing (``media``, ``probe``),
media locations as ``file://`` URLs and paths (``media_url``), where ffmpeg is (``ffmpeg_tools``) and
the per-user folders (``paths``).

It imports nothing from the rest of the project, so ``gpu_remote`` and every layer above can
depend on it without depending on each other.
"""
