"""Hostile timeline inputs get a one-line error and exit 2: never a crash, a hang or exit 0 (#19 items 6, 8, 9)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from nle_adapters.errors import TimelineParseError
from nle_adapters.input_guard import read_timeline_bytes
from nle_adapters.otio_json_guard import check_otio_json
from tests.conftest import run_cli

DATA = Path(__file__).resolve().parents[1] / "data"
TRANSITION = DATA / "otio" / "OpenTimelineIO__transition.otio"


def deep(levels: int) -> str:
    return '{"OTIO_SCHEMA":"Timeline.1","metadata":{"x":' + "[" * levels + "]" * levels + "}}"


def hostile_documents() -> dict[str, str]:
    clean = TRANSITION.read_text()
    assert '"OTIO_SCHEMA": "Clip.1"' in clean and '"value": 3' in clean
    return {
        "deep_50000": deep(50_000),  # crashed OTIO's C++ reader (SIGSEGV)
        "deep_20000": deep(20_000),  # hung it for over 300 s
        "evil_schema": '{"OTIO_SCHEMA":"Evil.1"}',  # exit 70 "internal error"
        "mutated_schema": clean.replace('"OTIO_SCHEMA": "Clip.1"', '"OTIO_SCHEMA": "Clip.x2"', 1),
        "future_version": clean.replace('"OTIO_SCHEMA": "Clip.1"', '"OTIO_SCHEMA": "Clip.9"', 1),
        "plugin_in_timeline": clean.replace('"OTIO_SCHEMA": "Clip.1"', '"OTIO_SCHEMA": "SchemaDef.1"', 1),
        "nan_time": clean.replace('"value": 3', '"value": NaN', 1),
        "infinite_rate": clean.replace('"rate": 24', '"rate": Infinity', 1),
        "zero_rate": clean.replace('"rate": 24', '"rate": 0', 1),
        "not_otio": '{"tracks": []}',
        "truncated": clean[: len(clean) // 2],
    }


def test_every_corpus_otio_file_passes_the_guard() -> None:
    files = sorted((DATA / "otio").glob("*.otio"))
    assert files
    for path in files:
        check_otio_json(path.read_text(), str(path))


@pytest.mark.parametrize("name", sorted(hostile_documents()))
def test_the_guard_refuses_hostile_otio(name: str) -> None:
    with pytest.raises(TimelineParseError):
        check_otio_json(hostile_documents()[name], name)


@pytest.mark.parametrize("name", ["deep_50000", "evil_schema", "nan_time", "zero_rate"])
def test_convert_refuses_hostile_otio_in_one_line(tmp_path: Path, name: str) -> None:
    src = tmp_path / f"{name}.otio"
    src.write_text(hostile_documents()[name])
    out = tmp_path / "out.edl"
    proc = run_cli("convert", str(src), str(out), timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-400:])
    assert str(src) in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not out.exists()


def test_non_regular_files_are_refused_without_opening_them(tmp_path: Path) -> None:
    fifo = tmp_path / "cut.otio"
    os.mkfifo(fifo)
    result: list[BaseException | bytes] = []
    reader = threading.Thread(target=lambda: result.append(_try(read_timeline_bytes, fifo)), daemon=True)
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO hung"
    assert isinstance(result[0], TimelineParseError) and "named pipe" in str(result[0])
    for device in ("/dev/zero", "/dev/urandom"):
        with pytest.raises(TimelineParseError, match="character device"):
            read_timeline_bytes(device)


def test_the_size_cap_counts_bytes_read_not_st_size(tmp_path: Path) -> None:
    big = tmp_path / "big.fcpxml"
    big.write_bytes(b"<fcpxml>" + b" " * 2000 + b"</fcpxml>")
    with pytest.raises(TimelineParseError, match="larger than"):
        read_timeline_bytes(big, max_bytes=1024)
    assert read_timeline_bytes(big, max_bytes=4096).startswith(b"<fcpxml>")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "fifo"])
def test_convert_refuses_devices_and_fifos(tmp_path: Path, device: str) -> None:
    if device == "fifo":
        device = str(tmp_path / "pipe.edl")
        os.mkfifo(device)
    proc = run_cli("convert", device, str(tmp_path / "out.otio"), timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "not a timeline file" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def _try(func, *args):  # noqa: ANN001, ANN202 - tiny test helper
    try:
        return func(*args)
    except BaseException as exc:  # handed back to the test thread
        return exc


def test_hostile_documents_are_really_hostile_to_a_bare_json_reader() -> None:
    # The oracle for "deep": Python's own json refuses it, so the fixture is what it claims.
    with pytest.raises(RecursionError):
        json.loads(deep(50_000))


def _nonsense_inputs(tmp: Path) -> dict[str, Path]:
    import re

    premiere = (DATA / "fcp7xml" / "otio-fcp-adapter__premiere_example.xml").read_text()
    fcpxml = (DATA / "fcpxml" / "DAWFileKit__25i.fcpxml").read_text()
    otio_text = TRANSITION.read_text()
    docs = {
        "huge.xml": re.sub(r"<duration>\d+</duration>", f"<duration>{2**64}</duration>", premiere, count=3),
        "huge.fcpxml": re.sub(r'duration="[^"]*"', f'duration="{2**64}/1s"', fcpxml, count=4),
        "big.otio": otio_text.replace('"value": 3', '"value": 1e308', 1),
    }
    out = {}
    for name, text in docs.items():
        (tmp / name).write_text(text)
        out[name] = tmp / name
    return out


@pytest.mark.parametrize("name", ["huge.xml", "huge.fcpxml", "big.otio"])
def test_times_no_nle_accepts_are_refused_not_written(tmp_path: Path, name: str) -> None:
    # 1e308 s and 2**64 frames became 300-digit EDL hours with exit 0 (#19 item 10).
    src = _nonsense_inputs(tmp_path)[name]
    out = tmp_path / "out.edl"
    proc = run_cli("convert", str(src), str(out), timeout=60)
    assert proc.returncode == 2, proc.stderr[-400:]
    assert "beyond 48 hours" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("fixture", ["fcpxml/DAWFileKit__25i.fcpxml", "fcp7xml/otio-fcp-adapter__premiere_example.xml"])
def test_utf16_and_utf32_timelines_read_like_utf8(tmp_path: Path, codec: str, fixture: str) -> None:
    # Windows tools write UTF-16, with or without a BOM; it was refused as "malformed XML" (#19 item 11).
    import opentimelineio as otio

    text = (DATA / fixture).read_text(encoding="utf-8")
    if text.startswith("<?xml"):
        text = text.replace('encoding="UTF-8"', f'encoding="{codec.upper()}"', 1)
    else:
        text = f'<?xml version="1.0" encoding="{codec.upper()}"?>\n' + text
    src = tmp_path / f"{codec}{Path(fixture).suffix}"
    src.write_bytes(text.encode(codec))
    plain = tmp_path / f"plain{Path(fixture).suffix}"
    plain.write_bytes((DATA / fixture).read_bytes())
    for path in (src, plain):
        proc = run_cli("convert", str(path), str(path.with_suffix(".otio")), timeout=60)
        assert proc.returncode == 0, proc.stderr
    wide = otio.adapters.read_from_file(str(src.with_suffix(".otio")), adapter_name="otio_json")
    narrow = otio.adapters.read_from_file(str(plain.with_suffix(".otio")), adapter_name="otio_json")
    assert [c.name for c in wide.find_clips()] == [c.name for c in narrow.find_clips()]
    assert [c.source_range for c in wide.find_clips()] == [c.source_range for c in narrow.find_clips()]


def test_the_fcpxml_plugin_refuses_a_fifo_too(tmp_path: Path) -> None:
    # otioconvert and otio.adapters.read_from_file reach our reader without `convert`'s guard.
    import opentimelineio as otio

    fifo = tmp_path / "cut.fcpxml"
    os.mkfifo(fifo)
    result: list[BaseException | object] = []
    reader = threading.Thread(
        target=lambda: result.append(_try(otio.adapters.read_from_file, str(fifo), "mb_fcpxml")), daemon=True
    )
    reader.start()
    reader.join(5)
    assert not reader.is_alive(), "reading a FIFO through the plugin hung"
    assert isinstance(result[0], TimelineParseError) and "named pipe" in str(result[0])
