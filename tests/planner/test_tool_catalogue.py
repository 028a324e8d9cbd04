"""The tool catalogue (#20): the shipped seed, the user's SQLite file over it, measurements, the price,
the migration from schema version 1, and the `tools` commands as a user runs them.

The user file is read back with ``sqlite3`` directly (not through the module) where the test is about
what is stored."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from planner.tool_catalogue import (
    SCHEMA_VERSION,
    CatalogueError,
    Measurement,
    ToolCatalogue,
    ToolSpec,
    load_seed,
)
from tests.conftest import run_cli


@pytest.fixture
def cat(tmp_path: Path):
    with ToolCatalogue(tmp_path / "tools.sqlite") as catalogue:
        yield catalogue


def _spec(**fields) -> ToolSpec:
    base = dict(id="gen-test", op="generate", model="m", modes=["text_to_video"], max_seconds=5.0,
                gpu_s_per_output_s=10.0, wall_s_per_output_s=12.0,
                fixed_overhead_s=5.0, wall_overhead_s=2.0)  # fmt: skip
    return ToolSpec(**{**base, **fields})


def test_the_shipped_catalogue_has_every_worker_op_and_generate_modes(cat: ToolCatalogue) -> None:
    from gpu_remote.ops import OPS

    tools = cat.tools()
    assert {t.op for t in tools} == set(OPS), "one tool at least per op the worker has, and no other op"
    for tool in tools:
        assert tool.origin == "shipped" and not tool.measured
        assert tool.figures_source, f"{tool.id}: a default figure must say where it comes from"
        if tool.op == "generate":
            assert tool.modes and tool.max_seconds and tool.resolutions and tool.fps
            assert set(tool.params) >= {"num_frames", "width", "height", "fps", "steps"}
            # The tool's own parameters are ones the worker's generate op accepts.
            from gpu_remote.ops.generate import GenerateParams

            GenerateParams(prompt="x", **tool.params)
            assert tool.params["num_frames"] / tool.params["fps"] <= tool.max_seconds + 1e-9
    for mode in ("text_to_video", "image_to_video", "first_last_frame"):
        makers = cat.generators(mode)
        assert makers, f"no shipped tool makes {mode}"
        rates = [cat.cost_rate(t) for t in makers]
        assert rates == sorted(rates), "generators() lists the cheapest per output second first"


def test_a_bad_seed_names_the_tool_and_field(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"format": 1, "tools": [{"id": "x", "op": "generate", "gpu_s_per_output_s": -1,
                                                        "wall_s_per_output_s": 1}]}))  # fmt: skip
    with pytest.raises(CatalogueError, match=r"seed.json: tool x: gpu_s_per_output_s"):
        load_seed(seed)
    seed.write_text(json.dumps({"format": 7, "tools": []}))
    with pytest.raises(CatalogueError, match="format 1"):
        load_seed(seed)
    seed.write_text("{")
    with pytest.raises(CatalogueError, match="line 1: not valid JSON"):
        load_seed(seed)


def test_user_tools_override_and_extend_the_shipped_ones(cat: ToolCatalogue) -> None:
    shipped = cat.get("generate-ltx-video")
    cat.add_tool(_spec(id="generate-ltx-video", modes=["text_to_video"], quality=0.9))
    over = cat.get("generate-ltx-video")
    assert over.origin == "user override" and over.gpu_s_per_output_s == 10.0 and over.quality == 0.9
    assert "image_to_video" not in over.modes  # the whole row is the user's
    cat.add_tool(_spec())
    assert cat.get("gen-test").origin == "user"
    assert len(cat.tools()) == len(load_seed()[0]) + 1
    cat.remove_tool("generate-ltx-video")
    assert cat.get("generate-ltx-video") == shipped
    with pytest.raises(CatalogueError, match="no tool or measurement 'generate-ltx-video'"):
        cat.remove_tool("generate-ltx-video")
    with pytest.raises(CatalogueError, match="no tool 'nope'.*known: .*noop"):
        cat.get("nope")
    # Another process opening the same file sees the user's rows.
    with ToolCatalogue(cat.path) as again:
        assert again.get("gen-test").origin == "user"


def test_the_latest_measurement_replaces_the_default_figures(cat: ToolCatalogue) -> None:
    def measure(at: float, rate: float) -> Measurement:
        return Measurement(tool_id="proxy-prores", measured_at=at, gpu="CPU (2 cores)", worker="http://w",
                           gpu_s_per_output_s=rate, wall_s_per_output_s=rate + 0.1, fixed_overhead_s=0.2,
                           wall_overhead_s=0.4, samples=2)  # fmt: skip

    now = time.time()
    cat.record_measurement(measure(now - 100, 0.3))
    tool = cat.record_measurement(measure(now, 0.25))
    assert tool.measured and tool.measured_gpu == "CPU (2 cores)" and tool.measured_at == now
    assert (tool.gpu_s_per_output_s, tool.wall_s_per_output_s, tool.fixed_overhead_s) == (0.25, 0.35, 0.2)
    assert tool.gpu_seconds(4.0) == pytest.approx(0.2 + 0.25 * 4)
    assert [m.gpu_s_per_output_s for m in cat.measurements("proxy-prores")] == [0.3, 0.25]
    assert not cat.get("proxy-h264").measured
    with pytest.raises(CatalogueError, match="no tool 'ghost'"):
        cat.record_measurement(measure(now, 1.0).model_copy(update={"tool_id": "ghost"}))
    # What is stored, read with sqlite3 itself.
    with sqlite3.connect(cat.path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = conn.execute("SELECT tool_id, gpu_s_per_output_s FROM measurements ORDER BY seq").fetchall()
    assert rows == [("proxy-prores", 0.3), ("proxy-prores", 0.25)]


def test_the_price_per_gpu_hour(cat: ToolCatalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = cat.settings()
    assert not settings.price_set and settings.price_from == "default" and settings.currency == "USD"
    cat.set_price(3.6, "eur")
    settings = cat.settings()
    assert (settings.price_per_gpu_hour, settings.currency, settings.price_from) == (3.6, "EUR", "catalogue")
    tool = cat.get("generate-wan2.1-t2v-1.3b")
    assert cat.cost_rate(tool) == pytest.approx(tool.gpu_s_per_output_s * 3.6 / 3600)
    cat.add_tool(_spec(price_per_gpu_hour=36.0))
    assert cat.price_of(cat.get("gen-test")) == 36.0  # a tool's own price wins
    monkeypatch.setenv("MONTAGE_GPU_PRICE", "1.5")
    assert cat.settings().price_per_gpu_hour == 1.5 and cat.settings().price_from == "environment"
    monkeypatch.setenv("MONTAGE_GPU_PRICE", "cheap")
    with pytest.raises(CatalogueError, match="MONTAGE_GPU_PRICE='cheap': not a price"):
        cat.settings()
    with pytest.raises(CatalogueError, match="number >= 0"):
        cat.set_price(-1)


V1_SCHEMA = """
CREATE TABLE tools (id TEXT PRIMARY KEY, op TEXT NOT NULL, model TEXT, params_json TEXT, capabilities_json TEXT,
    quality_notes TEXT, seconds_per_output_second REAL NOT NULL, overhead_s REAL NOT NULL, measured_at REAL,
    gpu TEXT, price_per_gpu_hour REAL);
PRAGMA user_version = 1;
"""


def test_a_version_1_catalogue_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute(
            "INSERT INTO tools VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            ("my-wan", "generate", "Wan-custom", '{"steps": 20}',
             '{"modes": ["image_to_video"], "max_seconds": 5, "resolutions": ["832x480"], "fps": 16}',
             "my notes", 40.0, 12.0, 1700000000.0, "NVIDIA L40S", 1.2),
        )  # fmt: skip
        conn.execute(
            "INSERT INTO tools VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            ("proxy-prores", "proxy", None, "{}", "{}", "", 0.4, 0.5, None, None, None),
        )
    conn.close()
    with ToolCatalogue(path) as cat:
        mine = cat.get("my-wan")
        assert mine.origin == "user" and mine.modes == ["image_to_video"] and mine.params == {"steps": 20}
        assert mine.measured and mine.measured_gpu == "NVIDIA L40S" and mine.measured_at == 1700000000.0
        assert (mine.gpu_s_per_output_s, mine.fixed_overhead_s, mine.price_per_gpu_hour) == (40.0, 12.0, 1.2)
        prores = cat.get("proxy-prores")
        assert prores.origin == "user override" and not prores.measured and prores.gpu_s_per_output_s == 0.4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert {"tools", "measurements", "settings"} <= tables and "tools_v1" not in tables
    with ToolCatalogue(path) as again:  # opening a migrated file again changes nothing
        assert again.get("my-wan") == mine


def test_a_version_1_row_that_cannot_be_migrated_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_SCHEMA)
        conn.execute(
            "INSERT INTO tools VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            ("broken", "generate", None, "{}", "{}", "", -5.0, 1.0, None, None, None),
        )
    conn.close()
    with pytest.raises(
        CatalogueError, match=r"old.sqlite: tool 'broken' of the version 1 catalogue cannot be migrated"
    ):
        ToolCatalogue(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("SELECT id FROM tools").fetchall() == [("broken",)]
    conn.close()


def test_files_that_are_not_this_catalogue_are_refused_clearly(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute("CREATE TABLE tools (id TEXT)")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(CatalogueError, match="schema version 99, newer than this montage-bridge reads"):
        ToolCatalogue(newer)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE songs (id TEXT)")
    conn.close()
    with pytest.raises(CatalogueError, match="not a tool catalogue"):
        ToolCatalogue(other)
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(CatalogueError, match="not a readable tool catalogue"):
        ToolCatalogue(garbage)


def test_the_tools_commands(tmp_path: Path) -> None:
    env = {"MONTAGE_TOOL_CATALOGUE": str(tmp_path / "cli.sqlite")}
    shown = run_cli("tools", "price", env=env)
    assert shown.returncode == 0 and "2.00 USD (built-in default)" in shown.stdout
    priced = run_cli("tools", "price", "2.5", "--currency", "eur", env=env)
    assert priced.returncode == 0, priced.stderr
    assert "2.50 EUR" in priced.stdout
    spec = tmp_path / "tool.json"
    spec.write_text(_spec(id="gen-cli").model_dump_json())
    added = run_cli("tools", "add", str(spec), env=env)
    assert added.returncode == 0 and "user: gen-cli (generate)" in added.stdout, added.stderr
    listed = run_cli("tools", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)["result"]  # the --json envelope (docs/json-output.md)
    assert doc["settings"]["price_per_gpu_hour"] == 2.5 and doc["settings"]["currency"] == "EUR"
    assert {t["id"]: t["origin"] for t in doc["tools"]}["gen-cli"] == "user"
    table = run_cli("tools", "list", "--op", "generate", env=env)
    assert table.returncode == 0 and "gen-cli" in table.stdout and "2.50 EUR/GPU-hour" in table.stdout
    assert "proxy-prores" not in table.stdout
    show = run_cli("tools", "show", "gen-cli", env=env)
    assert json.loads(show.stdout)["gpu_s_per_output_s"] == 10.0
    # Round trip: what `tools show` prints is what `tools add` takes.
    (tmp_path / "shown.json").write_text(show.stdout.replace("gen-cli", "gen-copy"))
    assert run_cli("tools", "add", str(tmp_path / "shown.json"), env=env).returncode == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"id": "x", "op": "generate", "gpu_s_per_output_s": "fast", "wall_s_per_output_s": 1}))
    refused = run_cli("tools", "add", str(bad), env=env)
    assert refused.returncode == 2 and "bad.json: tool #0: gpu_s_per_output_s" in refused.stderr
    assert "Traceback" not in refused.stderr
    missing = run_cli("tools", "show", "nope", env=env)
    assert missing.returncode == 2 and "no tool 'nope'" in missing.stderr
    negative = run_cli("tools", "price", "--", "-3", env=env)
    assert negative.returncode == 2 and "number >= 0" in negative.stderr
