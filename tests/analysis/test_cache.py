"""The content-keyed cache: a hit, a miss after a change, and a hit after a rename."""

from __future__ import annotations

import shutil
from pathlib import Path

from analysis.cache import AnalysisCache, fingerprint
from analysis.engine import EngineOptions, analyze_paths


def test_fingerprint_ignores_the_name_but_not_the_content(tmp_path: Path) -> None:
    a = tmp_path / "a.bin"
    a.write_bytes(bytes(range(256)) * 20000)  # 5 MB: sampled, not hashed whole
    b = tmp_path / "b.bin"
    shutil.copy(a, b)
    assert fingerprint(a) == fingerprint(b)
    data = bytearray(a.read_bytes())
    data[-10] ^= 0xFF  # a change in the last block (where a container keeps its index)
    b.write_bytes(bytes(data))
    assert fingerprint(a) != fingerprint(b)
    b.write_bytes(a.read_bytes() + b"\x00")
    assert fingerprint(a) != fingerprint(b)


def test_hit_miss_and_rename(sample_media: Path, tmp_path: Path) -> None:
    clip = tmp_path / "take1.mp4"
    shutil.copy(sample_media / "footage" / "beach_2398.mp4", clip)
    options = EngineOptions(jobs=1, cache_dir=tmp_path / "cache")
    first = analyze_paths([clip], options)
    assert (first.analyzed, first.cached) == (1, 0)
    again = analyze_paths([clip], options)
    assert (again.analyzed, again.cached) == (0, 1)
    assert again.clips[0].model_dump() == first.clips[0].model_dump()

    renamed = tmp_path / "moved" / "hero shot.mp4"
    renamed.parent.mkdir()
    clip.rename(renamed)
    moved = analyze_paths([renamed], options)
    assert (moved.analyzed, moved.cached) == (0, 1)
    assert moved.clips[0].media.path == renamed.resolve() and moved.clips[0].media.name == "hero shot.mp4"
    assert moved.clips[0].id == "hero_shot"
    assert all(s.thumbnail and s.thumbnail.is_file() for s in moved.clips[0].shots)

    shutil.copy(sample_media / "footage" / "city_25.mov", renamed)  # same name, other content
    changed = analyze_paths([renamed], options)
    assert (changed.analyzed, changed.cached) == (1, 0)
    assert changed.clips[0].media.rate != first.clips[0].media.rate


def test_parameters_and_version_are_part_of_the_key(tmp_path: Path) -> None:
    with AnalysisCache(tmp_path) as cache:
        cache.put("fp", "clip", "1", "p1", {"x": 1})
        assert cache.get("fp", "clip", "1", "p1") == {"x": 1}
        assert cache.get("fp", "clip", "2", "p1") is None
        assert cache.get("fp", "clip", "1", "p2") is None
        assert cache.get("fp", "speech", "1", "p1") is None


def test_deleted_thumbnails_are_a_miss(sample_media: Path, tmp_path: Path) -> None:
    options = EngineOptions(jobs=1, cache_dir=tmp_path / "cache")
    clip = sample_media / "footage" / "city_25.mov"
    first = analyze_paths([clip], options)
    first.clips[0].shots[0].thumbnail.unlink()
    assert analyze_paths([clip], options).analyzed == 1
