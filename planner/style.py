"""Edit styles: pacing, shot lengths, transitions and reuse as data (TOML files).

Built-in styles live in ``planner/styles/*.toml``. Users add their own by dropping a TOML file in
``$MONTAGE_BRIDGE_STYLES`` (one or more folders, ``os.pathsep``-separated) or ``styles`` in the
per-user config folder (``$XDG_CONFIG_HOME/montage-bridge/styles`` on Linux, see ``kernel.paths``),
or by passing a file path as the style. A user file whose name matches a built-in replaces it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal, get_args

from pydantic import Field, ValidationError, model_validator

from kernel.errors import MontageError
from kernel.media import Model
from kernel.paths import config_dir
from planner.toml_compat import TOMLDecodeError, loads

BUILTIN_DIR = Path(__file__).resolve().parent / "styles"
Aspect = Literal["16:9", "9:16", "1:1", "4:5"]
Mode = Literal["music_montage", "talking_head", "highlights"]


class StyleError(MontageError):
    """A style that cannot be found or whose file is not valid."""


class Pacing(Model):
    """How fast to cut. Energies are the music's normalised 0..1 energy; lengths in seconds."""

    cut_on: Literal["beat", "downbeat", "any"] = "beat"
    cuts_per_bar_low: float = Field(1.0, gt=0, le=16)
    cuts_per_bar_mid: float = Field(2.0, gt=0, le=16)
    cuts_per_bar_high: float = Field(4.0, gt=0, le=16)
    low_energy: float = Field(0.35, ge=0, le=1)
    high_energy: float = Field(0.7, ge=0, le=1)
    min_shot_seconds: float = Field(0.3, gt=0)
    max_shot_seconds: float = Field(4.0, gt=0)
    prefer_motion: float = Field(0.5, ge=0, le=1, description="0 = calm shots, 1 = action")
    # Shot-length bounds per energy band, seconds [shortest, longest]: the music montage holds each
    # shot for 1, 2 or 4 beats, a bar or two bars, whichever lands inside the band at the song's
    # tempo. Absent: derived from cuts_per_bar at 120 BPM (see shot_bounds), so older style files
    # keep their feel and gain tempo-independent lengths.
    shot_seconds_low: tuple[float, float] | None = Field(None, description="quiet passages (energy < low_energy)")
    shot_seconds_mid: tuple[float, float] | None = None
    shot_seconds_high: tuple[float, float] | None = Field(None, description="loud passages (energy >= high_energy)")

    @model_validator(mode="after")
    def _consistent(self) -> Pacing:
        if self.high_energy < self.low_energy:
            raise ValueError("high_energy must be >= low_energy")
        if self.max_shot_seconds < self.min_shot_seconds:
            raise ValueError("max_shot_seconds must be >= min_shot_seconds")
        if not self.cuts_per_bar_low <= self.cuts_per_bar_mid <= self.cuts_per_bar_high:
            raise ValueError("cuts_per_bar must not fall as energy rises (low <= mid <= high)")
        bands = [self.shot_seconds_low, self.shot_seconds_mid, self.shot_seconds_high]
        for name, band in zip(("low", "mid", "high"), bands):
            if band is None:
                continue
            lo, hi = band
            if not 0 < lo <= hi:
                raise ValueError(f"shot_seconds_{name} must be [shortest, longest] with 0 < shortest <= longest")
            if hi < self.min_shot_seconds or lo > self.max_shot_seconds:
                raise ValueError(
                    f"shot_seconds_{name} {list(band)} lies outside min/max_shot_seconds "
                    f"[{self.min_shot_seconds}, {self.max_shot_seconds}]"
                )
        given = [b for b in bands if b is not None]
        if any(a[0] < b[0] or a[1] < b[1] for a, b in zip(given, given[1:])):
            raise ValueError("shot_seconds bands must not lengthen as energy rises (low >= mid >= high)")
        return self

    def cuts_per_bar(self, energy: float) -> float:
        """Cuts per bar at a normalised energy: the low, mid or high band."""
        if energy < self.low_energy:
            return self.cuts_per_bar_low
        if energy >= self.high_energy:
            return self.cuts_per_bar_high
        return self.cuts_per_bar_mid

    def shot_bounds(self, energy: float) -> tuple[float, float]:
        """Shot-length bounds in seconds ``(shortest, longest)`` at a normalised energy: the
        style's band for it, or one derived from cuts per bar at 120 BPM (a bar is 2 s there: the
        band spans a factor of two around ``2 / cuts_per_bar`` seconds), always inside
        ``[min_shot_seconds, max_shot_seconds]``."""
        if energy < self.low_energy:
            band = self.shot_seconds_low
        elif energy >= self.high_energy:
            band = self.shot_seconds_high
        else:
            band = self.shot_seconds_mid
        if band is None:
            typical = 2.0 / self.cuts_per_bar(energy)
            band = (typical / 2**0.5, typical * 2**0.5)
        lo = min(self.max_shot_seconds, max(self.min_shot_seconds, band[0]))
        hi = max(lo, min(self.max_shot_seconds, band[1]))
        return lo, hi


class TransitionRules(Model):
    """Where the planner may dissolve instead of cutting; lengths in timeline frames."""

    default: Literal["cut", "dissolve"] = "cut"
    dissolve_frames: int = Field(0, ge=0, le=240)
    dissolve_at: list[Literal["section_change", "low_energy", "all"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _sized(self) -> TransitionRules:
        if (self.default == "dissolve" or self.dissolve_at) and self.dissolve_frames < 2:
            raise ValueError("dissolves need dissolve_frames >= 2")
        return self


class Rules(Model):
    reuse_limit: int = Field(2, ge=1, le=20, description="most times any source frame may appear")
    allow_across_shots: bool = Field(False, description="allow a used range to span a detected hard cut")
    duration_tolerance_seconds: float = Field(1.0, ge=0)
    stabilize_shake: float | None = Field(
        0.5, gt=0, le=1, description="ask the GPU worker to stabilize used shots this shaky (0..1); null: never"
    )


class Style(Model):
    """One edit style. Every field has a default, so a user file need only say what differs."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    modes: list[Mode] = Field(default_factory=lambda: list(get_args(Mode)))
    aspect: Aspect | None = None
    pacing: Pacing = Field(default_factory=Pacing)
    transitions: TransitionRules = Field(default_factory=TransitionRules)
    rules: Rules = Field(default_factory=Rules)
    source: str = Field("", description="where the style was loaded from")


def style_dirs() -> list[Path]:
    """Folders searched for styles, highest priority first (user folders before built-ins)."""
    dirs: list[Path] = []
    env = os.environ.get("MONTAGE_BRIDGE_STYLES")
    if env:
        dirs.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    dirs.append(config_dir() / "styles")
    dirs.append(BUILTIN_DIR)
    return dirs


def load_style_file(path: Path) -> Style:
    """Read one style file (TOML, or JSON by extension); errors name the file and the field."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise StyleError(f"{path}: cannot read style file ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else loads(text)
    except (TOMLDecodeError, json.JSONDecodeError) as exc:
        raise StyleError(f"{path}: not valid {'JSON' if path.suffix.lower() == '.json' else 'TOML'}: {exc}") from exc
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
        data["source"] = str(path)
    try:
        return Style.model_validate(data)
    except ValidationError as exc:
        raise StyleError(f"{path}: {_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "style"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{more}"


def available_styles() -> dict[str, Style]:
    """Every style found, by name; a user file shadows a built-in of the same name."""
    found: dict[str, Style] = {}
    for folder in reversed(style_dirs()):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            style = load_style_file(path)
            found[style.name] = style
    return found


def _key(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def load_style(name_or_path: str | Path) -> Style:
    """A style by name, alias, or file path. Unknown names list what exists."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix.lower() in (".toml", ".json") or candidate.is_file():
        if not candidate.is_file():
            raise StyleError(f"{candidate}: style file not found")
        return load_style_file(candidate)
    wanted = _key(str(name_or_path))
    styles = available_styles()
    for style in styles.values():
        if _key(style.name) == wanted or wanted in {_key(a) for a in style.aliases}:
            return style
    raise StyleError(
        f"unknown style {str(name_or_path)!r}: choose from {', '.join(sorted(styles))} "
        f"or pass a .toml file (folders searched: {', '.join(str(d) for d in style_dirs())})"
    )


DEFAULT_STYLE_FOR_MODE: dict[str, str] = {
    "music_montage": "dynamic",
    "talking_head": "vlog",
    "highlights": "dynamic",
}
