"""Montage Bridge's OTIO adapter plugins.

Registered with OpenTimelineIO through the ``opentimelineio.plugins`` entry point (pyproject), so
``otio.adapters.read_from_file(..., adapter_name=...)`` and ``otioconvert`` find them. The manifest
beside this file lists each adapter and the suffixes it claims: ``mb_fcpxml`` (.fcpxml, .fcpxmld),
``mb_xmeml`` (.xml), ``mb_cmx3600`` (.edl) and ``mb_resolve_otio`` (none: name it). Each adapter module
is a thin OTIO-facing file that delegates to the real reader/writer in ``nle_adapters``.

Which adapter a suffix picks: OTIO takes the first adapter claiming it, in load order: manifests
named by ``$OTIO_PLUGIN_MANIFEST_PATH`` first, then entry-point plugins in the order Python's
``importlib.metadata`` discovers their distributions (which follows the site-packages directory
listing, so it differs between machines), then OTIO's built-ins. Montage Bridge installs no other
plugin that claims these suffixes (the upstream fcpx_xml, fcp_xml and cmx_3600 adapters are only in
the ``test`` extra, as the baseline we measure against), so on a plain install the suffix picks ours.
Where the upstream adapters are installed too, the choice is load order; to make ours win for
certain, name the adapter (``adapter_name="mb_fcpxml"``, ``otioconvert -a/-O mb_fcpxml``) or put
:data:`MANIFEST_PATH` first in ``$OTIO_PLUGIN_MANIFEST_PATH`` (the test suite does). The project's own
code always names the adapter (tests/interchange/test_adapter_registry.py checks it).
"""

from __future__ import annotations

from pathlib import Path

MANIFEST_PATH = Path(__file__).resolve().parent / "plugin_manifest.json"
"""This package's OTIO plugin manifest, for ``$OTIO_PLUGIN_MANIFEST_PATH``."""

ADAPTER_NAMES: tuple[str, ...] = ("mb_fcpxml", "mb_xmeml", "mb_cmx3600", "mb_resolve_otio")
"""The adapters this package registers."""
