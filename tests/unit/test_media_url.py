"""kernel.media_url: the one URL ↔ path conversion, checked against the standard library's own
(pathlib's ``as_uri``, ``urllib.request.url2pathname`` and its Windows twin ``nturl2path``) and against
every media URL in the corpus of real NLE exports (tests/data)."""

from __future__ import annotations

import nturl2path
import re
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.media_url import is_url, path_to_url, url_to_path

DATA = Path(__file__).resolve().parents[1] / "data"
_URL_IN_FILE = re.compile(r"file:[^\s\"'<>]+")


def _corpus_urls() -> list[str]:
    found: set[str] = set()
    for path in DATA.rglob("*"):
        if path.is_file() and path.suffix.lower() in {".fcpxml", ".xml", ".otio", ".json", ".edl"}:
            text = path.read_text(encoding="utf-8", errors="replace")
            found.update(m.rstrip(",;)") for m in _URL_IN_FILE.findall(text))
    return sorted(found)


CORPUS = _corpus_urls()
# Names with what real media carries: spaces, %, #, ?, accents, CJK, emoji.
name = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='/\\:*"<>|'), min_size=1, max_size=12
).filter(lambda s: s.strip(". ") == s and s not in (".", ".."))
segments = st.lists(name, min_size=1, max_size=4)


def _stdlib_path(url: str) -> str:
    """What the standard library makes of a file URL, written with forward slashes."""
    parts = urlsplit(url)
    host = parts.netloc if parts.netloc.lower() != "localhost" else ""
    # nturl2path knows ``/D:/`` and ``/D|/``; Premiere percent-encodes the colon (``/D%3a/``).
    path = re.sub(r"^/([A-Za-z])%3[aA]/", r"/\1:/", parts.path)
    if host or re.match(r"^/[A-Za-z]:", path):
        return nturl2path.url2pathname(f"//{host}{path}" if host else path).replace("\\", "/")
    return url2pathname(path)


def test_the_corpus_has_urls_of_every_flavour() -> None:
    assert len(CORPUS) > 50
    assert any(u.startswith("file://localhost/") and "%3a" in u.lower() for u in CORPUS)  # Premiere, Windows
    assert any(u.startswith("file:///") for u in CORPUS)  # FCP, Resolve, OTIO


@pytest.mark.parametrize("url", CORPUS)
def test_corpus_urls_read_as_the_standard_library_reads_them(url: str) -> None:
    path = url_to_path(url)
    assert path == _stdlib_path(url)
    # ...and written back, they name the same file (the canonical spelling, host dropped).
    assert url_to_path(path_to_url(path)) == path


@given(segments)
def test_posix_paths_match_pathlib(parts: list[str]) -> None:
    path = PurePosixPath("/", *parts)
    url = path_to_url(path)
    assert url == path.as_uri()
    assert url_to_path(url) == str(path)
    assert url_to_path(url.replace("file://", "file://localhost", 1)) == str(path)


@given(st.sampled_from("CDZcd"), segments)
def test_windows_drive_paths_match_pathlib(drive: str, parts: list[str]) -> None:
    path = PureWindowsPath(f"{drive}:\\", *parts)
    url = path_to_url(path)
    assert url == path.as_uri()
    assert url_to_path(url) == path.as_posix()
    assert PureWindowsPath(nturl2path.url2pathname(url[len("file:") :])) == path


@given(segments)
def test_unc_shares_match_pathlib(parts: list[str]) -> None:
    path = PureWindowsPath("\\\\server\\share\\", *parts)
    url = path_to_url(path)
    assert url == path.as_uri()
    assert url_to_path(url) == path.as_posix()
    assert path_to_url(path.as_posix()) == url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("file://localhost/D%3a/media/sc01%20a.mov", "D:/media/sc01 a.mov"),  # Premiere
        ("file:///C:/Users/a/Cam%201.mp4", "C:/Users/a/Cam 1.mp4"),  # Resolve / FCP on Windows
        ("file://C:/media/a.mov", "C:/media/a.mov"),  # a malformed spelling some tools write
        ("file://server/share/a.mov", "//server/share/a.mov"),  # UNC
        ("file:////server/share/a.mov", "//server/share/a.mov"),  # UNC, the four-slash spelling
        ("FILE:///Volumes/Media/a.mov", "/Volumes/Media/a.mov"),  # the scheme is case-blind
        ("file:/Volumes/Media/a.mov", "/Volumes/Media/a.mov"),  # one slash: still absolute
        ("/Volumes/Media/a b.mov", "/Volumes/Media/a b.mov"),  # bare paths pass through
        ("https://cdn.example.com/a%20b.mov", "https://cdn.example.com/a%20b.mov"),  # so do other URLs
    ],
)
def test_url_to_path_spellings(url: str, path: str) -> None:
    assert url_to_path(url) == path


@pytest.mark.parametrize(
    ("location", "url"),
    [
        ("https://cdn.example.com/a.mov", "https://cdn.example.com/a.mov"),  # URLs pass through
        ("file:///a%20b.mov", "file:///a%20b.mov"),
        ("clips/a b.mov", "clips/a%20b.mov"),  # relative: a relative reference, no guessed root
        ("C:/media/a b.mov", "file:///C:/media/a%20b.mov"),
    ],
)
def test_path_to_url_spellings(location: str, url: str) -> None:
    assert path_to_url(location) == url


def test_host_names_the_machine() -> None:
    assert path_to_url("/a b.mov", host="localhost") == "file://localhost/a%20b.mov"
    assert path_to_url("D:\\m\\a.mov", host="localhost") == "file://localhost/D:/m/a.mov"


def test_a_drive_letter_is_not_a_scheme() -> None:
    assert not is_url("C:\\media\\a.mov") and not is_url("C:/media/a.mov")
    assert is_url("file:///a.mov") and is_url("s3://bucket/a.mov") and is_url("file:a.mov")
