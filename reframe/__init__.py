"""Reframing for vertical and square timelines: a crop window that follows the subject.

- :mod:`reframe.detect` — faces (MediaPipe's BlazeFace from a wheel, run by OpenCV) and salient motion;
- :mod:`reframe.track` — what the subject is over a clip's frames (face, group, speaker, motion);
- :mod:`reframe.path` — the virtual camera operator (dead zone, speed and acceleration limits) and
  the keyframes that reproduce its path;
- :mod:`nle_adapters.reframe_meta` — the metadata shape timeline clips carry, and how FCPXML and the
  renderer state it;
- :mod:`reframe.timeline` — reframe every picture clip of an OTIO timeline.

Layering: :mod:`nle_adapters.reframe_meta` and :mod:`reframe.path` import nothing of ours but each other, so the
timeline writers in ``nle_adapters`` may use them; :mod:`reframe.timeline` reads OTIO timelines through
``nle_adapters.timeline_facts`` and is called by the app (``montage_bridge.pipeline``).
"""
