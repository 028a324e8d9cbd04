"""Build profiles and export constants of the fake Resolve (no imports from the rest of the fake).

Profiles are the builds the fake can play; each is the version tuple ``GetVersion()`` reports.
Methods a build lacks are listed per class in ``objects`` (``_since``), so capability probes on
``dir(obj)`` see what a real build of that version would show (research/resolve_api.md §2.11).
"""

from __future__ import annotations

PROFILES: dict[str, tuple[int, int, int, int]] = {
    "18.0": (18, 0, 4, 3),
    "18.5": (18, 5, 1, 6),
    "19": (19, 1, 3, 7),
    "20": (20, 3, 2, 9),
    "21": (21, 0, 4, 5),
    "21.1": (21, 1, 0, 8),
}

# Export constants: real values are undocumented, so the fake picks distinct numbers; callers must
# always read them from the resolve object. Second item: first version that has it.
EXPORT_CONSTANTS: dict[str, tuple[int, tuple[int, ...]]] = {
    "EXPORT_AAF": (1, (17,)),
    "EXPORT_DRT": (2, (17,)),
    "EXPORT_EDL": (3, (17,)),
    "EXPORT_FCP_7_XML": (4, (17,)),
    "EXPORT_FCPXML_1_8": (5, (17,)),
    "EXPORT_FCPXML_1_9": (6, (18,)),
    "EXPORT_FCPXML_1_10": (7, (18,)),
    "EXPORT_HDR_10_PROFILE_A": (8, (17,)),
    "EXPORT_HDR_10_PROFILE_B": (9, (17,)),
    "EXPORT_TEXT_CSV": (10, (17,)),
    "EXPORT_TEXT_TAB": (11, (17,)),
    "EXPORT_DOLBY_VISION_VER_2_9": (12, (17,)),
    "EXPORT_DOLBY_VISION_VER_4_0": (13, (17,)),
    "EXPORT_DOLBY_VISION_VER_5_1": (14, (18, 1, 3)),
    "EXPORT_OTIO": (15, (18, 5)),
    "EXPORT_ALE": (16, (19,)),
    "EXPORT_ALE_CDL": (17, (19,)),
    "EXPORT_NONE": (100, (17,)),
    "EXPORT_AAF_NEW": (101, (17,)),
    "EXPORT_AAF_EXISTING": (102, (17,)),
    "EXPORT_CDL": (103, (17,)),
    "EXPORT_SDL": (104, (17,)),
    "EXPORT_MISSING_CLIPS": (105, (17,)),
}
# Export types the fake can write through our writers, and the format name they use.
EXPORT_FORMATS = {
    "EXPORT_OTIO": "otio",
    "EXPORT_FCPXML_1_8": "fcpxml",
    "EXPORT_FCPXML_1_9": "fcpxml",
    "EXPORT_FCPXML_1_10": "fcpxml",
    "EXPORT_FCP_7_XML": "xml",
    "EXPORT_EDL": "edl",
}
VIDEO_SUFFIXES = {".mov", ".mp4", ".mxf", ".mkv", ".avi", ".m4v", ".braw", ".r3d", ".mts"}
AUDIO_SUFFIXES = {".wav", ".aif", ".aiff", ".mp3", ".m4a", ".flac"}
