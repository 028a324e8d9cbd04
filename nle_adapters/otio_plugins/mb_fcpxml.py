"""OTIO adapter ``mb_fcpxml``: Final Cut Pro XML 1.8–1.13 in, 1.8–1.11 out (frame-exact).

Thin OTIO-facing layer; the work is in :mod:`nle_adapters.fcpxml`. Use it by name::

    otio.adapters.read_from_file("cut.fcpxml", adapter_name="mb_fcpxml")
    otio.adapters.write_to_string(timeline, "mb_fcpxml", version="1.10")
    otioconvert -i cut.otio -o cut.fcpxmld -A version=1.10

Writing to a ``.fcpxmld`` path makes a bundle: a folder holding ``Info.fcpxml``, as Final Cut Pro
10.6+ and Resolve write it; any other path gets a plain FCPXML file. Both are written atomically.
"""

from __future__ import annotations

from pathlib import Path

from nle_adapters.errors import UnsupportedFeature
from nle_adapters.fcpxml.common import DEFAULT_WRITE_VERSION, WRITE_VERSIONS
from nle_adapters.fcpxml.reader import read_fcpxml_file, read_fcpxml_string
from nle_adapters.fcpxml.writer import write_timeline
from nle_adapters.write_files import write_outputs

# otioconvert parses ``-A version=1.10`` as the float 1.1: a float cannot carry the trailing zero of
# FCPXML's two-digit minor versions, and FCPXML 1.1 is never written, so 1.1 can only mean 1.10.
_FLOAT_VERSIONS = {float(v): v for v in WRITE_VERSIONS if v != "1.10"} | {1.1: "1.10"}


def version_text(version: str | float) -> str:
    """The FCPXML version string for ``version`` given as text (``"1.10"``) or as the float OTIO's
    ``-A version=…`` makes of it (``1.1`` → ``"1.10"``, ``1.11`` → ``"1.11"``, ``1.9`` → ``"1.9"``)."""
    if isinstance(version, bool) or not isinstance(version, (str, float, int)):
        raise UnsupportedFeature(f'FCPXML version {version!r} is not a version; write it as text, e.g. "1.10"')
    if isinstance(version, str):
        return version.strip()
    if isinstance(version, float) and version in _FLOAT_VERSIONS:
        return _FLOAT_VERSIONS[version]
    raise UnsupportedFeature(f"FCPXML version {version!r} cannot be written; choose one of {', '.join(WRITE_VERSIONS)}")


def read_from_string(input_str, source: str = "<string>"):
    """FCPXML text → Timeline (one project) or SerializableCollection (several)."""
    return read_fcpxml_string(input_str, source=source)


def read_from_file(filepath, **_kwargs):
    """An ``.fcpxml`` file or ``.fcpxmld`` bundle → Timeline or SerializableCollection."""
    return read_fcpxml_file(filepath)


def write_to_string(input_otio, version: str | float = DEFAULT_WRITE_VERSION):
    """Timeline → FCPXML text of ``version`` (1.8, 1.9, 1.10 or 1.11; see :func:`version_text`)."""
    return write_timeline(input_otio, version=version_text(version))


def write_to_file(input_otio, filepath, version: str | float = DEFAULT_WRITE_VERSION):
    """Timeline → ``filepath``: a ``.fcpxmld`` bundle folder (``Info.fcpxml`` inside) or a plain file,
    rendered fully first and then written through a temp name and a rename."""
    text = write_to_string(input_otio, version=version)
    write_outputs([(Path(filepath), text)])
    return filepath
