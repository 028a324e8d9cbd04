"""Watch-folder configuration: a TOML file validated by pydantic, refused whole at start-up if wrong.

Example (every key optional)::

    quiet_seconds = 5          # a file/folder must be unchanged this long before it counts
    workers = 2                # jobs analysed at once
    formats = ["otio", "fcpxml", "xml", "edl"]

    [[rule]]
    match = "wedding-*"        # glob on the job (sub)folder name; first matching rule wins
    music = "score/*.wav"      # glob inside the job folder, or an absolute path
    formats = ["otio", "xml"]
    brief = "upbeat 30 s teaser"
    duration_seconds = 30
    resolve_project = "Weddings"  # also build the timeline in this DaVinci Resolve project
    resolve_bin = "Watch"          # top-level media-pool bin for its clips (default "Montage Bridge")
"""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kernel.errors import MontageError
from kernel.timebase import parse_rate
from nle_adapters.formats import DEFAULT_FORMATS, FORMATS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

# Documents editors keep beside footage; never media, so never a reason to fail a job.
DEFAULT_IGNORE = ["*.txt", "*.md", "*.pdf", "*.rtf", "*.doc", "*.docx", "*.csv", "*.json", "*.xml", "*.edl"]


class ConfigError(MontageError):
    """The watch configuration file is missing, not TOML, or has a bad value."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_formats(value: Optional[list[str]]) -> Optional[list[str]]:
    if value is None:
        return value
    if not value:
        raise ValueError("must name at least one format")
    unknown = [f for f in value if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}")
    return value


def _check_resolve_name(value: Optional[str]) -> Optional[str]:
    """A Resolve project or bin name: what the scripting API takes, checked before any job runs."""
    if value is None:
        return value
    if not value.strip():
        raise ValueError("must not be empty")
    if value != value.strip():
        raise ValueError("must not start or end with spaces (Resolve would keep them in the name)")
    if any(ord(ch) < 32 for ch in value):
        raise ValueError("must be one line without control characters")
    if len(value) > 255:
        raise ValueError("is longer than 255 characters")
    return value


def _check_bin(value: Optional[str]) -> Optional[str]:
    value = _check_resolve_name(value)
    if value is not None and "/" in value:
        raise ValueError("names one top-level media-pool bin; nested bins ('A/B') are not supported")
    return value


def _check_rate(value: Optional[str]) -> Optional[str]:
    if value is not None:
        parse_rate(value)  # raises ValueError with a readable message
    return value


class JobSettings(_Strict):
    """Settings a rule may override per job. ``None`` means: inherit from the top level."""

    music: Optional[str] = Field(
        None, description="glob inside the job folder (e.g. 'music.*') or an absolute path to one audio file"
    )
    formats: Optional[list[str]] = None
    duration_seconds: Optional[float] = Field(None, gt=0, description="target length in seconds")
    rate: Optional[str] = Field(None, description="timeline rate, e.g. '25' or '24000/1001'")
    name: Optional[str] = Field(None, description="timeline name (default: the job folder name)")
    brief: Optional[str] = Field(None, description="what the edit is for; kept in the job report for the planner")
    style: Optional[str] = Field(None, description="edit style name; kept in the job report for the planner")
    skip_unreadable: Optional[bool] = None
    resolve_project: Optional[str] = Field(None, description="also build the timeline in this Resolve project")
    resolve_bin: Optional[str] = Field(None, description="media-pool bin for the clips in Resolve")

    _formats = field_validator("formats")(_check_formats)
    _rate = field_validator("rate")(_check_rate)
    _project = field_validator("resolve_project")(_check_resolve_name)
    _bin = field_validator("resolve_bin")(_check_bin)


class Rule(JobSettings):
    """``[[rule]]``: settings for the jobs whose folder name matches ``match`` (fnmatch glob)."""

    match: str = Field(min_length=1)


class EffectiveSettings(_Strict):
    """The settings one job runs with, after its rule is applied (recorded in its report)."""

    rule: Optional[str] = None
    music: Optional[str] = None
    formats: list[str]
    duration_seconds: Optional[float] = None
    rate: Optional[str] = None
    name: Optional[str] = None
    brief: Optional[str] = None
    style: Optional[str] = None
    skip_unreadable: bool = False
    resolve_project: Optional[str] = None
    resolve_bin: Optional[str] = None


class WatchConfig(JobSettings):
    """The whole file. Times in seconds."""

    quiet_seconds: float = Field(5.0, gt=0, le=3600, description="unchanged this long = arrived")
    probe_retry_seconds: float = Field(
        30.0, ge=0, le=86400, description="a stable file that still does not probe is damaged after this long"
    )
    rescan_seconds: float = Field(30.0, gt=0, le=86400, description="full rescan period (events can be missed)")
    events: bool = Field(
        True, description="use filesystem events (inotify/FSEvents); false: poll every rescan_seconds only"
    )
    workers: int = Field(2, ge=1, le=64, description="jobs processed at once")
    max_attempts: int = Field(3, ge=1, le=100, description="starts of one job content before it is failed")
    shutdown_grace_seconds: float = Field(30.0, ge=0, le=3600, description="wait for running jobs on SIGTERM")
    disk_retry_seconds: float = Field(
        10.0, gt=0, le=3600, description="while the outbox's disk is full, look for freed space this often"
    )
    ignore: list[str] = Field(default_factory=lambda: list(DEFAULT_IGNORE), description="extra globs to skip")
    journal: Optional[Path] = Field(None, description="SQLite journal (default OUTBOX/.montage-watch.sqlite)")
    formats: Optional[list[str]] = Field(default_factory=lambda: list(DEFAULT_FORMATS))
    rule: list[Rule] = Field(default_factory=list)

    def settings_for(self, job: str) -> EffectiveSettings:
        """The first rule whose glob matches the job name, layered over the top-level settings."""
        chosen = next((r for r in self.rule if fnmatch.fnmatchcase(job, r.match)), None)
        merged: dict[str, object] = {}
        for key in JobSettings.model_fields:
            value = getattr(chosen, key) if chosen is not None else None
            merged[key] = value if value is not None else getattr(self, key)
        merged["formats"] = merged["formats"] or list(DEFAULT_FORMATS)
        merged["skip_unreadable"] = bool(merged["skip_unreadable"])
        return EffectiveSettings(rule=chosen.match if chosen else None, **merged)

    def uses_resolve(self) -> bool:
        return bool(self.resolve_project or any(r.resolve_project for r in self.rule))

    @model_validator(mode="after")
    def _bin_needs_project(self) -> WatchConfig:
        # A bin with no project anywhere would be silently ignored: say so at start-up instead.
        if (self.resolve_bin or any(r.resolve_bin for r in self.rule)) and not self.uses_resolve():
            raise ValueError("resolve_bin is set but no resolve_project is: name the Resolve project too")
        return self


def load_config(path: Optional[Path]) -> WatchConfig:
    """Read and validate ``path`` (None: all defaults). Errors name the file, the key and the fix."""
    if path is None:
        return WatchConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: config file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    try:
        config = WatchConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc)}") from exc
    if config.journal is not None:
        # Relative to the config file, not to wherever a service manager happens to start us.
        journal = config.journal.expanduser()
        config.journal = journal if journal.is_absolute() else path.parent / journal
    return config


def _describe(exc: ValidationError) -> str:
    """The first problem as 'key.sub: message (got VALUE)'; pydantic's own text is many lines."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        known = ", ".join(sorted(WatchConfig.model_fields))
        return f"unknown key {where!r} — known keys: {known}"
    extra = f" (and {exc.error_count() - 1} more problem(s))" if exc.error_count() > 1 else ""
    if not first["loc"]:  # a whole-file check: its input is the whole file, no use to quote
        return f"{message}{extra}"
    return f"{where}: {message} (got {first.get('input')!r}){extra}"
