"""Briefs and styles as files: what users write, and the one-line errors when it is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.brief import BriefError, brief_from_mapping, load_brief
from planner.style import BUILTIN_DIR, StyleError, available_styles, load_style

REQUIRED = {"dynamic", "cinematic", "documentary", "vlog", "wedding", "social_vertical"}


def test_builtin_styles_load_and_cover_the_genres() -> None:
    styles = available_styles()
    assert REQUIRED <= set(styles)
    for style in styles.values():
        assert style.description and Path(style.source).parent == BUILTIN_DIR
        p = style.pacing
        assert p.cuts_per_bar(0.0) <= p.cuts_per_bar(0.5) <= p.cuts_per_bar(1.0)
    assert load_style("music video").name == "dynamic" and load_style("Trailer").name == "cinematic"
    assert load_style("reels").aspect == "9:16"


def test_brief_words_and_aliases(tmp_path: Path) -> None:
    brief = brief_from_mapping(
        {"mode": "Talking Head", "pace": "fast", "aspect": "vertical", "duration": 45, "must-include": ["a"]}
    )
    assert (brief.mode, brief.pace, brief.aspect, brief.target_duration_seconds, brief.must_include) == (
        "talking_head",
        1.5,
        "9:16",
        45,
        ["a"],
    )
    path = tmp_path / "b.toml"
    path.write_text('[brief]\nmusic = "song.wav"\nrate = "23.976"\n')
    loaded = load_brief(path)
    assert loaded.music == tmp_path / "song.wav" and str(loaded.rate) == "24000/1001"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pace = 'warp'\n", "pace"),
        ("aspect = '4:3'\n", "aspect"),
        ("mode = 'polka'\n", "mode"),
        ("colour = 'red'\n", "colour"),
        ("duration = 0\n", "target_duration_seconds"),
        ("jl_cut_frames = -1\n", "jl_cut_frames"),
        ("rate = 48000\n", "audio sample rate"),  # a sample rate typed as the timeline rate
    ],
)
def test_bad_briefs_name_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "brief.toml"
    path.write_text(text)
    with pytest.raises(BriefError) as info:
        load_brief(path)
    message = str(info.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_user_styles_shadow_builtins_and_bad_ones_are_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MONTAGE_BRIDGE_STYLES", str(tmp_path))
    (tmp_path / "dynamic.toml").write_text('name = "dynamic"\n[rules]\nreuse_limit = 5\n')
    assert load_style("dynamic").rules.reuse_limit == 5
    (tmp_path / "broken.toml").write_text('name = "broken"\n[pacing]\ncuts_per_bar_low = 4\ncuts_per_bar_mid = 1\n')
    with pytest.raises(StyleError, match=r"broken.toml: pacing: .*cuts_per_bar"):
        load_style("anything")
    (tmp_path / "broken.toml").write_text("name = \n")
    with pytest.raises(StyleError, match="not valid TOML"):
        load_style(tmp_path / "broken.toml")
    with pytest.raises(StyleError, match="style file not found"):
        load_style(tmp_path / "missing.toml")
