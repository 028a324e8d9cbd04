"""Montage Bridge's OTIO adapter plugins.

Registered with OpenTimelineIO through the ``opentimelineio.plugins`` entry point (pyproject), so
``otio.adapters.read_from_file(..., adapter_name=...)`` and ``otioconvert`` find them. The manifest
beside this file lists each adapter; each adapter module is a thin OTIO-facing file that
delegates to the real reader/writer in ``nle_adapters``.
"""
