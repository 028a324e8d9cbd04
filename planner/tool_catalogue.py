"""The tool catalogue: what the GPU worker can make, how good it is, and what it costs per output second.

Two layers, both SQLite with one schema:

* the **shipped** catalogue, ``planner/catalogue/tools.json`` (versioned with the package), loaded into
  an in-memory database; its figures are defaults from published reports (``figures_source`` says
  which) and count as *not measured* (:attr:`planner.production.Estimate.measured` is False);
* the **user's** catalogue, ``tools.sqlite`` in the per-user data folder (``kernel.paths.data_dir()``,
  or the file ``MONTAGE_TOOL_CATALOGUE`` names): tools added or overridden by id, the measurements
  ``montage-bridge bench-tools`` records, and the price of an hour of the worker
  (``montage-bridge tools price 2.5``).

A tool's cost model is linear in the seconds of output it makes::

    gpu_seconds  = fixed_overhead_s + gpu_s_per_output_s  * output_seconds   (slot time on the worker)
    wall_seconds = wall_overhead_s  + wall_s_per_output_s * output_seconds   (submit → result back, no queue)
    money        = gpu_seconds / 3600 * price per GPU-hour

The latest measurement of a tool replaces its default figures. ``PRAGMA user_version`` holds the
user file's schema version; :data:`SCHEMA_VERSION` is this module's, and older files are migrated
in place when opened (version 1 kept one figure and the measurement inline on each tool row).
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from kernel.errors import MontageError
from kernel.media import Model
from kernel.paths import data_dir
from planner.production import GenerateMode

SCHEMA_VERSION = 2
SEED_FORMAT = 1
CATALOGUE_ENV = "MONTAGE_TOOL_CATALOGUE"
PRICE_ENV = "MONTAGE_GPU_PRICE"
DEFAULT_PRICE_PER_GPU_HOUR = 2.0
DEFAULT_CURRENCY = "USD"
OPS = ("noop", "proxy", "stabilize", "upscale", "transcribe", "generate")


class CatalogueError(MontageError):
    """A catalogue file, tool or setting that cannot be used."""


class ToolSpec(Model):
    """One tool: a worker op run with one model and parameters, what it can make and its figures."""

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:+-]*$")
    op: str = Field(min_length=1, max_length=64, description="the worker op (gpu_remote/ops): generate, proxy ...")
    model: str | None = Field(None, max_length=200, description="the model the op must have loaded, if any")
    params: dict[str, Any] = Field(default_factory=dict, description="op parameters this tool runs with")
    modes: list[GenerateMode] = Field(default_factory=list, description="generate: what it conditions on")
    max_seconds: float | None = Field(None, gt=0, le=600, description="longest output of one job, seconds")
    resolutions: list[str] = Field(default_factory=list, description="WIDTHxHEIGHT it makes, best supported first")
    fps: int | None = Field(None, ge=1, le=120)
    quality: float = Field(0.5, ge=0, le=1, description="relative picture quality among tools of one op, 0..1")
    quality_notes: str = Field("", max_length=2000)
    gpu_s_per_output_s: float = Field(ge=0, description="worker slot seconds per second of output")
    wall_s_per_output_s: float = Field(ge=0, description="seconds until the result is back, per output second")
    fixed_overhead_s: float = Field(0.0, ge=0, description="slot seconds every job costs (model load, encode setup)")
    wall_overhead_s: float = Field(0.0, ge=0, description="seconds every job adds for the client (upload, download)")
    figures_source: str = Field("", max_length=500, description="where the default figures come from")
    price_per_gpu_hour: float | None = Field(None, ge=0, description="this tool's own price, if not the user's")
    gpus: int = Field(1, ge=1, le=64, description="GPUs one job occupies")

    @field_validator("resolutions")
    @classmethod
    def _sizes(cls, value: list[str]) -> list[str]:
        for size in value:
            width, sep, height = size.partition("x")
            if not sep or not width.isdigit() or not height.isdigit():
                raise ValueError(f"resolution {size!r} is not WIDTHxHEIGHT")
        return value


class Measurement(Model):
    """Figures measured by ``bench-tools`` for one tool on one worker."""

    tool_id: str = Field(min_length=1, max_length=200)
    measured_at: float = Field(description="UNIX time")
    gpu: str = Field(max_length=200, description="what ran it: the worker's GPU name(s), or its CPU")
    worker: str = Field(max_length=500, description="the worker's URL")
    gpu_s_per_output_s: float = Field(ge=0)
    wall_s_per_output_s: float = Field(ge=0)
    fixed_overhead_s: float = Field(ge=0)
    wall_overhead_s: float = Field(ge=0)
    samples: int = Field(ge=1, description="jobs the figures were fitted to")
    max_output_seconds: float = Field(0.0, ge=0, description="longest sample, output seconds")


class Tool(ToolSpec):
    """A catalogue row as the planner sees it: the spec, with its latest measurement applied."""

    origin: Literal["shipped", "user", "user override"] = "shipped"
    measured: bool = False
    measured_at: float | None = None
    measured_gpu: str | None = None
    measured_worker: str | None = None

    def gpu_seconds(self, output_seconds: float) -> float:
        return (self.fixed_overhead_s + self.gpu_s_per_output_s * output_seconds) * self.gpus

    def run_seconds(self, output_seconds: float) -> float:
        """Wall seconds from submit to result, once a slot is free (no queue)."""
        return self.wall_overhead_s + self.wall_s_per_output_s * output_seconds

    def jobs_for(self, output_seconds: float) -> int:
        """Jobs needed for ``output_seconds`` of output (one per ``max_seconds``)."""
        if self.max_seconds is None:
            return 1
        return max(1, math.ceil(output_seconds / self.max_seconds - 1e-9))


class Sample(Model):
    """One bench job (or the median of its repeats): output seconds and the time it took."""

    output_seconds: float = Field(ge=0)
    slot_seconds: float = Field(ge=0, description="worker started_at → finished_at")
    wall_seconds: float = Field(ge=0, description="submit → outputs downloaded, this machine")
    steps: int | None = None


class ToolBench(Model):
    """What ``bench-tools`` did with one tool: measured (samples and the figures fitted), skipped or failed."""

    tool: str
    op: str
    status: Literal["measured", "skipped", "failed"]
    reason: str = ""
    samples: list[Sample] = Field(default_factory=list)
    measurement: Measurement | None = None


class BenchReport(Model):
    """A ``bench-tools`` run: the worker, what ran its jobs, one entry per tool considered."""

    worker: str
    gpu: str
    results: list[ToolBench] = Field(default_factory=list)


class CatalogueSettings(Model):
    price_per_gpu_hour: float = Field(DEFAULT_PRICE_PER_GPU_HOUR, ge=0)
    currency: str = Field(DEFAULT_CURRENCY, min_length=1, max_length=8)
    price_set: bool = Field(False, description="False while the price is the built-in default")
    price_from: str = Field("default", description="where the price comes from: catalogue, environment, default")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS tools (
    id TEXT PRIMARY KEY,
    op TEXT NOT NULL,
    model TEXT,
    params_json TEXT NOT NULL DEFAULT '{}',
    modes_json TEXT NOT NULL DEFAULT '[]',
    max_seconds REAL,
    resolutions_json TEXT NOT NULL DEFAULT '[]',
    fps INTEGER,
    quality REAL NOT NULL DEFAULT 0.5,
    quality_notes TEXT NOT NULL DEFAULT '',
    gpu_s_per_output_s REAL NOT NULL,
    wall_s_per_output_s REAL NOT NULL,
    fixed_overhead_s REAL NOT NULL DEFAULT 0,
    wall_overhead_s REAL NOT NULL DEFAULT 0,
    figures_source TEXT NOT NULL DEFAULT '',
    price_per_gpu_hour REAL,
    gpus INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS measurements (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tool_id TEXT NOT NULL,
    measured_at REAL NOT NULL,
    gpu TEXT NOT NULL,
    worker TEXT NOT NULL,
    gpu_s_per_output_s REAL NOT NULL,
    wall_s_per_output_s REAL NOT NULL,
    fixed_overhead_s REAL NOT NULL,
    wall_overhead_s REAL NOT NULL,
    samples INTEGER NOT NULL,
    max_output_seconds REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS measurements_tool ON measurements (tool_id, measured_at);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_TOOL_COLUMNS = (
    "id, op, model, params_json, modes_json, max_seconds, resolutions_json, fps, quality, quality_notes, "
    "gpu_s_per_output_s, wall_s_per_output_s, fixed_overhead_s, wall_overhead_s, figures_source, "
    "price_per_gpu_hour, gpus"
)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``script`` statement by statement (``executescript`` would commit the open transaction)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def default_path() -> Path:
    """The user's catalogue: ``$MONTAGE_TOOL_CATALOGUE`` or ``tools.sqlite`` in the per-user data folder."""
    explicit = os.environ.get(CATALOGUE_ENV)
    return Path(explicit) if explicit else data_dir() / "tools.sqlite"


def _spec_row(spec: ToolSpec) -> tuple[Any, ...]:
    return (
        spec.id,
        spec.op,
        spec.model,
        json.dumps(spec.params, sort_keys=True),
        json.dumps(list(spec.modes)),
        spec.max_seconds,
        json.dumps(spec.resolutions),
        spec.fps,
        spec.quality,
        spec.quality_notes,
        spec.gpu_s_per_output_s,
        spec.wall_s_per_output_s,
        spec.fixed_overhead_s,
        spec.wall_overhead_s,
        spec.figures_source,
        spec.price_per_gpu_hour,
        spec.gpus,
    )


def _row_spec(row: sqlite3.Row, where: str) -> ToolSpec:
    try:
        return ToolSpec(
            id=row["id"],
            op=row["op"],
            model=row["model"],
            params=json.loads(row["params_json"]),
            modes=json.loads(row["modes_json"]),
            max_seconds=row["max_seconds"],
            resolutions=json.loads(row["resolutions_json"]),
            fps=row["fps"],
            quality=row["quality"],
            quality_notes=row["quality_notes"],
            gpu_s_per_output_s=row["gpu_s_per_output_s"],
            wall_s_per_output_s=row["wall_s_per_output_s"],
            fixed_overhead_s=row["fixed_overhead_s"],
            wall_overhead_s=row["wall_overhead_s"],
            figures_source=row["figures_source"],
            price_per_gpu_hour=row["price_per_gpu_hour"],
            gpus=row["gpus"],
        )
    except (ValidationError, ValueError) as exc:
        raise CatalogueError(f"{where}: tool {row['id']!r} is not valid: {_first_error(exc)}") from exc


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"{'.'.join(str(p) for p in err['loc']) or 'row'}: {err['msg']}"
    return str(exc)


def load_seed(path: Path | None = None) -> tuple[list[ToolSpec], str]:
    """The shipped tools (or those of the seed file ``path``) and their currency; errors name the tool."""
    try:
        text = (
            path.read_text(encoding="utf-8")
            if path
            else resources.files("planner.catalogue").joinpath("tools.json").read_text(encoding="utf-8")
        )
    except OSError as exc:
        raise CatalogueError(f"{path or 'the shipped tool catalogue'}: cannot read it ({exc})") from exc
    where = str(path) if path else "planner/catalogue/tools.json"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{where}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict) or data.get("format") != SEED_FORMAT or not isinstance(data.get("tools"), list):
        raise CatalogueError(f"{where}: not a tool catalogue seed of format {SEED_FORMAT} (with a 'tools' list)")
    specs: list[ToolSpec] = []
    for number, item in enumerate(data["tools"]):
        try:
            specs.append(ToolSpec.model_validate(item))
        except ValidationError as exc:
            name = item.get("id", f"#{number}") if isinstance(item, dict) else f"#{number}"
            raise CatalogueError(f"{where}: tool {name}: {_first_error(exc)}") from exc
    ids = [s.id for s in specs]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CatalogueError(f"{where}: tool ids appear twice: {', '.join(dupes)}")
    return specs, str(data.get("currency", DEFAULT_CURRENCY))


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 1 kept one ``seconds_per_output_second`` and ``overhead_s`` per tool, with the
    measurement (``measured_at``, ``gpu``) on the same row, capabilities as one JSON object and a
    price per tool. Version 2 splits GPU from wall figures and keeps measurements as their own rows."""
    old = conn.execute("SELECT * FROM tools").fetchall()
    conn.execute("ALTER TABLE tools RENAME TO tools_v1")
    _run_script(conn, _SCHEMA)
    for row in old:
        try:
            spec = _v1_spec(row)
        except (ValidationError, ValueError, TypeError) as exc:
            raise CatalogueError(
                f"tool {row['id']!r} of the version 1 catalogue cannot be migrated: {_first_error(exc)}; "
                "fix or delete that row (sqlite3), or move the file away"
            ) from exc
        conn.execute(f"INSERT INTO tools ({_TOOL_COLUMNS}) VALUES ({','.join('?' * 17)})", _spec_row(spec))
        if row["measured_at"] is not None:
            conn.execute(
                "INSERT INTO measurements (tool_id, measured_at, gpu, worker, gpu_s_per_output_s, wall_s_per_output_s,"
                " fixed_overhead_s, wall_overhead_s, samples) VALUES (?,?,?,?,?,?,?,?,1)",
                (
                    spec.id,
                    row["measured_at"],
                    row["gpu"] or "unknown",
                    "unknown (catalogue version 1)",
                    spec.gpu_s_per_output_s,
                    spec.wall_s_per_output_s,
                    spec.fixed_overhead_s,
                    spec.wall_overhead_s,
                ),
            )
    conn.execute("DROP TABLE tools_v1")


def _v1_spec(row: sqlite3.Row) -> ToolSpec:
    caps = json.loads(row["capabilities_json"] or "{}")
    return ToolSpec(
        id=row["id"],
        op=row["op"],
        model=row["model"],
        params=json.loads(row["params_json"] or "{}"),
        modes=caps.get("modes", []),
        max_seconds=caps.get("max_seconds"),
        resolutions=caps.get("resolutions", []),
        fps=caps.get("fps"),
        quality_notes=row["quality_notes"] or "",
        gpu_s_per_output_s=row["seconds_per_output_second"],
        wall_s_per_output_s=row["seconds_per_output_second"],
        fixed_overhead_s=row["overhead_s"],
        wall_overhead_s=row["overhead_s"],
        figures_source="catalogue version 1",
        price_per_gpu_hour=row["price_per_gpu_hour"],
    )


MIGRATIONS = {1: _migrate_1_to_2}


def open_user_db(path: Path) -> sqlite3.Connection:
    """Open (creating or migrating to :data:`SCHEMA_VERSION`) the user's catalogue file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise CatalogueError(f"{path}: cannot open the tool catalogue ({exc})") from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == 0 and not tables:
            _run_script(conn, _SCHEMA)
            version = SCHEMA_VERSION
        elif version > SCHEMA_VERSION:
            raise CatalogueError(
                f"{path}: the tool catalogue is schema version {version}, newer than this montage-bridge "
                f"reads ({SCHEMA_VERSION}): upgrade montage-bridge, or point {CATALOGUE_ENV} at another file"
            )
        elif version == 0:
            raise CatalogueError(
                f"{path}: not a tool catalogue (tables {', '.join(sorted(tables))}, no schema version)"
            )
        while version < SCHEMA_VERSION:
            try:
                MIGRATIONS[version](conn)
            except CatalogueError as exc:
                raise CatalogueError(f"{path}: {exc}") from exc
            version += 1
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise CatalogueError(f"{path}: not a readable tool catalogue ({exc})") from exc
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
        raise
    return conn


class ToolCatalogue:
    """The shipped tools overlaid with the user's: tools by id, measurements, the price of an hour."""

    def __init__(self, user_path: Path | None = None, *, seed: Path | None = None) -> None:
        self.path = Path(user_path) if user_path else default_path()
        specs, self.shipped_currency = load_seed(seed)
        conn = open_user_db(self.path)
        conn.close()
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        _run_script(self._conn, _SCHEMA)
        self._conn.executemany(
            f"INSERT INTO tools ({_TOOL_COLUMNS}) VALUES ({','.join('?' * 17)})", map(_spec_row, specs)
        )
        self._conn.execute("ATTACH DATABASE ? AS user", (str(self.path),))
        self._tools: list[Tool] | None = None
        self._by_id: dict[str, Tool] = {}
        self._stored: dict[str, str] | None = None
        self._conn.execute("PRAGMA user.busy_timeout=30000")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ToolCatalogue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        self._tools = self._stored = None
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # -- reading ---------------------------------------------------------------------------------

    def tools(self, op: str | None = None) -> list[Tool]:
        """Every tool (the user's rows win by id), each with its latest measurement, by op then id.

        Read once per catalogue object (the planner asks thousands of times while fitting a plan) and
        again after each write through it; another process's writes are seen by a new object."""
        if self._tools is None:
            self._tools = self._read_tools()
            self._by_id = {t.id: t for t in self._tools}
        return [t for t in self._tools if op is None or t.op == op]

    def _read_tools(self) -> list[Tool]:
        rows = self._conn.execute(
            f"SELECT {_TOOL_COLUMNS}, 'user' AS layer FROM user.tools "
            f"UNION ALL SELECT {_TOOL_COLUMNS}, 'shipped' AS layer FROM main.tools "
            "WHERE id NOT IN (SELECT id FROM user.tools) ORDER BY op, id"
        ).fetchall()
        shipped_ids = {r[0] for r in self._conn.execute("SELECT id FROM main.tools")}
        latest = {
            r["tool_id"]: r
            for r in self._conn.execute("SELECT * FROM user.measurements ORDER BY measured_at, seq").fetchall()
        }
        found: list[Tool] = []
        for row in rows:
            where = str(self.path) if row["layer"] == "user" else "planner/catalogue/tools.json"
            spec = _row_spec(row, where)
            origin = "shipped" if row["layer"] == "shipped" else "user override" if spec.id in shipped_ids else "user"
            data = spec.model_dump()
            extra: dict[str, Any] = {"origin": origin}
            m = latest.get(spec.id)
            if m is not None:
                for key in ("gpu_s_per_output_s", "wall_s_per_output_s", "fixed_overhead_s", "wall_overhead_s"):
                    data[key] = m[key]
                extra.update(
                    measured=True, measured_at=m["measured_at"], measured_gpu=m["gpu"], measured_worker=m["worker"]
                )
            found.append(Tool(**data, **extra))
        return found

    def get(self, tool_id: str) -> Tool:
        self.tools()
        if tool_id in self._by_id:
            return self._by_id[tool_id]
        known = ", ".join(t.id for t in self.tools())
        raise CatalogueError(f"no tool {tool_id!r} in the catalogue ({self.path}); known: {known}")

    def generators(self, mode: GenerateMode) -> list[Tool]:
        """Tools that generate ``mode``, cheapest per output second first."""
        return sorted((t for t in self.tools("generate") if mode in t.modes), key=lambda t: (self.cost_rate(t), t.id))

    def measurements(self, tool_id: str | None = None) -> list[Measurement]:
        sql, args = "SELECT * FROM user.measurements", []
        if tool_id is not None:
            sql, args = sql + " WHERE tool_id=?", [tool_id]
        rows = self._conn.execute(sql + " ORDER BY measured_at, seq", args).fetchall()
        return [Measurement(**{k: r[k] for k in Measurement.model_fields}) for r in rows]

    def settings(self) -> CatalogueSettings:
        if self._stored is None:
            self._stored = {r["key"]: r["value"] for r in self._conn.execute("SELECT key, value FROM user.settings")}
        stored = self._stored
        currency = stored.get("currency", self.shipped_currency)
        env = os.environ.get(PRICE_ENV)
        if env:
            try:
                price = float(env)
                if not math.isfinite(price) or price < 0:
                    raise ValueError
            except ValueError as exc:
                raise CatalogueError(f"{PRICE_ENV}={env!r}: not a price (a number >= 0, per GPU-hour)") from exc
            return CatalogueSettings(
                price_per_gpu_hour=price, currency=currency, price_set=True, price_from="environment"
            )
        if "price_per_gpu_hour" in stored:
            return CatalogueSettings(
                price_per_gpu_hour=float(stored["price_per_gpu_hour"]),
                currency=currency,
                price_set=True,
                price_from="catalogue",
            )
        return CatalogueSettings(currency=currency)

    def price_of(self, tool: Tool) -> float:
        """Money per GPU-hour for ``tool``: its own price if it has one, else the user's."""
        return tool.price_per_gpu_hour if tool.price_per_gpu_hour is not None else self.settings().price_per_gpu_hour

    def cost_rate(self, tool: Tool) -> float:
        """Money per output second (the per-job overhead left out), for ordering tools."""
        return tool.gpu_s_per_output_s * tool.gpus / 3600.0 * self.price_of(tool)

    # -- writing ---------------------------------------------------------------------------------

    def set_price(self, price: float, currency: str | None = None) -> CatalogueSettings:
        if not math.isfinite(price) or price < 0:
            raise CatalogueError(f"price {price}: a price per GPU-hour is a number >= 0")
        if currency is not None and not (1 <= len(currency.strip()) <= 8):
            raise CatalogueError(f"currency {currency!r}: use a short code such as USD or EUR")
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO user.settings VALUES ('price_per_gpu_hour', ?)", (repr(float(price)),))
            if currency is not None:
                conn.execute("INSERT OR REPLACE INTO user.settings VALUES ('currency', ?)", (currency.strip().upper(),))
        return self.settings()

    def add_tool(self, spec: ToolSpec) -> Tool:
        """Add a tool to the user's catalogue, or override the shipped (or user) tool of that id."""
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO user.tools ({_TOOL_COLUMNS}) VALUES ({','.join('?' * 17)})", _spec_row(spec)
            )
        return self.get(spec.id)

    def remove_tool(self, tool_id: str) -> None:
        """Drop the user's row of ``tool_id`` (a shipped tool comes back as shipped) and its measurements."""
        with self._write() as conn:
            gone = conn.execute("DELETE FROM user.tools WHERE id=?", (tool_id,)).rowcount
            gone += conn.execute("DELETE FROM user.measurements WHERE tool_id=?", (tool_id,)).rowcount
        if not gone:
            raise CatalogueError(f"the user catalogue ({self.path}) has no tool or measurement {tool_id!r}")

    def record_measurement(self, measurement: Measurement) -> Tool:
        self.get(measurement.tool_id)  # the tool must exist
        with self._write() as conn:
            conn.execute(
                "INSERT INTO user.measurements (tool_id, measured_at, gpu, worker, gpu_s_per_output_s, "
                "wall_s_per_output_s, fixed_overhead_s, wall_overhead_s, samples, max_output_seconds) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    measurement.tool_id,
                    measurement.measured_at,
                    measurement.gpu,
                    measurement.worker,
                    measurement.gpu_s_per_output_s,
                    measurement.wall_s_per_output_s,
                    measurement.fixed_overhead_s,
                    measurement.wall_overhead_s,
                    measurement.samples,
                    measurement.max_output_seconds,
                ),
            )
        return self.get(measurement.tool_id)


def open_catalogue(path: Path | None = None) -> ToolCatalogue:
    """The catalogue: shipped tools plus the user's file (``path``, else :func:`default_path`)."""
    return ToolCatalogue(path)
