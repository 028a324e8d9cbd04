"""Parse untrusted XML: no external entities, no entity expansion, no network, clear errors.

Every interchange reader goes through :func:`parse_xml`. defusedxml refuses entity declarations
(billion laughs, quadratic blowup) and external entities/DTD fetches; a plain ``<!DOCTYPE fcpxml>``
(as FCP and Resolve write) is allowed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from nle_adapters.errors import TimelineParseError

MAX_XML_BYTES = 512 * 1024 * 1024
_XML_DECL_ENCODING = re.compile(r"""\A(\ufeff?\s*<\?xml[^>]*?)\s+encoding\s*=\s*["'][^"']*["']""")


def xml_text_to_bytes(text: str) -> bytes:
    """UTF-8 bytes of already-decoded XML ``text``, without the declaration's ``encoding``: once
    decoded, a file's ``encoding="UTF-16"`` no longer describes the bytes expat will see."""
    return _XML_DECL_ENCODING.sub(r"\1", text, count=1).encode("utf-8")


def parse_xml(data: bytes | str, source: str = "<string>") -> ET.Element:
    """Parse ``data`` and return the root element, or raise :class:`TimelineParseError`
    naming ``source``, the line and the problem."""
    if isinstance(data, str):
        data = xml_text_to_bytes(data)
    if len(data) > MAX_XML_BYTES:
        raise TimelineParseError(
            source, f"file is larger than {MAX_XML_BYTES // 2**20} MiB", hint="is it really a timeline?"
        )
    if not data.strip():
        raise TimelineParseError(source, "file is empty")
    try:
        return DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise TimelineParseError(
            source,
            f"refused unsafe XML ({exc.__class__.__name__}): entity declarations and external "
            "references are not allowed",
        ) from exc
    except LookupError as exc:  # <?xml encoding="…"?> names a codec Python does not know
        raise TimelineParseError(source, f"unknown text encoding in the XML declaration ({exc})") from exc
    except ET.ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise TimelineParseError(
            source, f"malformed XML ({exc.msg if hasattr(exc, 'msg') else exc})", line=line
        ) from exc
