"""Final Cut Pro XML (FCPXML) ↔ OTIO, frame-exact: read 1.8–1.13 and ``.fcpxmld`` bundles, write
1.8–1.11 (default 1.10) valid against Apple's DTDs. The OTIO adapter ``mb_fcpxml``
(``nle_adapters/otio_plugins/mb_fcpxml.py``) delegates here; docs/fcpxml.md has the mapping."""

from nle_adapters.fcpxml.losses import fcpxml_losses
from nle_adapters.fcpxml.reader import read_fcpxml_file, read_fcpxml_string
from nle_adapters.fcpxml.writer import FcpxmlWriteError, write_timeline

__all__ = ["FcpxmlWriteError", "fcpxml_losses", "read_fcpxml_file", "read_fcpxml_string", "write_timeline"]
