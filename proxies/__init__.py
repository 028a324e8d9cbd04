"""Proxies: small edit-friendly copies of the footage that NLEs (and our timelines) swap with the
originals frame for frame.

- :mod:`proxies.make` — write proxies beside the originals in the layout each NLE expects, check
  that a proxy matches its original (rate, frame count, start timecode, audio channels);
- :mod:`proxies.relink` — switch a timeline's media between originals and proxies, frame-exact.
"""
