"""Validate FCPXML against Apple's DTD for its version (lxml).

Apple's DTDs ("Copyright (c) Apple Inc. All rights reserved", redistributed by CommandPost) are
kept as test/validation data, not shipped in the package: pass ``dtd_dir`` or set
``MONTAGE_BRIDGE_FCPXML_DTD_DIR`` to a folder holding ``FCPXMLv1_N.dtd`` files (the repository's
``tests/data/fcpxml/dtd`` or CommandPost's ``src/extensions/cp/apple/fcpxml/dtd``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from kernel.errors import MontageError

DTD_DIR_ENV = "MONTAGE_BRIDGE_FCPXML_DTD_DIR"


class DtdUnavailable(MontageError):
    """No DTD for the document's FCPXML version was found (or lxml is missing)."""


def find_dtd(version: str, dtd_dir: str | Path | None = None) -> Path:
    """The DTD file for FCPXML ``version`` ("1.10") in ``dtd_dir`` or ``$MONTAGE_BRIDGE_FCPXML_DTD_DIR``."""
    folders = [Path(p) for p in (dtd_dir, os.environ.get(DTD_DIR_ENV)) if p]
    stem = "FCPXMLv" + version.replace(".", "_")
    for folder in folders:
        for name in (f"{stem}.dtd", f"CommandPost__{stem}.dtd"):
            if (folder / name).is_file():
                return folder / name
    where = ", ".join(str(f) for f in folders) or f"nowhere (set {DTD_DIR_ENV})"
    raise DtdUnavailable(f"no DTD for FCPXML {version} in {where}; put {stem}.dtd there")


@functools.lru_cache(maxsize=16)
def _load_dtd(path: Path):
    from lxml import etree

    with open(path, "rb") as handle:
        return etree.DTD(handle)


def validate(document: str | bytes, dtd_dir: str | Path | None = None, version: str | None = None) -> list[str]:
    """Validate an FCPXML document against the DTD of its ``fcpxml@version`` (or ``version``).

    Returns the DTD errors as ``"line N: message"`` strings; an empty list means valid.
    """
    try:
        from lxml import etree
    except ImportError as exc:  # pragma: no cover - lxml is a core dependency
        raise DtdUnavailable("FCPXML validation needs lxml: pip install lxml") from exc
    data = document.encode("utf-8") if isinstance(document, str) else document
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: not well-formed XML: {exc.msg}"]
    version = version or root.get("version") or ""
    dtd = _load_dtd(find_dtd(version, dtd_dir))
    if dtd.validate(root):
        return []
    return [f"line {e.line}: {e.message}" for e in dtd.error_log.filter_from_errors()]
