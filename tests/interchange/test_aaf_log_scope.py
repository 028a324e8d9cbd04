"""Reading an AAF silences pyaaf2's root-logger noise and nothing else; outside the read, nothing is filtered."""

from __future__ import annotations

import logging

import aaf2.rational
import opentimelineio as otio
import pytest

from nle_adapters import aaf_read


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def heard():
    root, keep = logging.getLogger(), _Keep()
    root.addHandler(keep)
    try:
        yield keep.messages
    finally:
        root.removeHandler(keep)


def test_only_pyaaf2_records_are_dropped_during_a_read(heard, monkeypatch, tmp_path) -> None:
    def fake_read(path: str, adapter_name: str):
        aaf2.rational.AAFRational(0, 0)  # pyaaf2: logging.warning("Fraction(0,0) not mathematically plausible…")
        logging.warning("ours, on the root logger")
        logging.getLogger("montage_bridge.test").warning("ours, on a named logger")
        return otio.schema.Timeline(name="t")

    monkeypatch.setattr(otio.adapters, "read_from_file", fake_read)
    (tmp_path / "cut.aaf").write_bytes(b"")
    # The read itself (a child process runs this same function under a deadline).
    assert [t.name for t in aaf_read._read_in_process(tmp_path / "cut.aaf")] == ["t"]
    assert heard == ["ours, on the root logger", "ours, on a named logger"]
    assert not logging.getLogger().filters  # the filter does not outlive the read

    aaf2.rational.AAFRational(0, 0)
    assert heard[-1].startswith("Fraction(0,0)")  # outside a read, pyaaf2's records are the caller's business
