"""`montage-bridge tools`: the tool catalogue — list, show, price per GPU-hour, add and remove user tools."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError

from montage_bridge import json_output
from montage_bridge.console import out
from montage_bridge.json_output import JsonOpt
from planner.tool_catalogue import CatalogueError, ToolSpec, open_catalogue

tools_app = typer.Typer(
    help="The tool catalogue: what the GPU worker can make, measured speed, price per GPU-hour.",
    no_args_is_help=True,
)
CatalogueOpt = Annotated[
    Optional[Path],
    typer.Option("--catalogue", help="User catalogue file (default: tools.sqlite in the per-user data folder)."),
]


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else ""


@tools_app.command("list")
def list_tools(
    op: Annotated[Optional[str], typer.Option("--op", help="Only tools of this op (generate, proxy ...).")] = None,
    catalogue: CatalogueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every tool with its capabilities and figures: measured (when, on what) or default."""
    from rich.table import Table

    if as_json:
        json_output.begin("tools list")

    with open_catalogue(catalogue) as cat:
        tools = cat.tools(op)
        settings = cat.settings()
        rates = {t.id: cat.cost_rate(t) for t in tools}
    if op is not None and not tools:
        raise CatalogueError(f"no tool runs op {op!r} in the catalogue")
    if as_json:
        json_output.emit(json_output.ToolsListResult(settings=settings, tools=tools))
        return
    price = f"{settings.price_per_gpu_hour:.2f} {settings.currency}/GPU-hour" + (
        "" if settings.price_set else " (default: set with `montage-bridge tools price AMOUNT`)"
    )
    table = Table(title=f"Tool catalogue — {price}")
    for column in ("tool", "op", "makes", "max s", "GPU s/out s", "wall s/out s", "overhead s", "money/out s"):
        table.add_column(column, justify="left" if column in ("tool", "op", "makes") else "right")
    table.add_column("figures")
    table.add_column("quality", justify="right")
    for tool in tools:
        makes = ", ".join(tool.modes) or (", ".join(tool.resolutions) if tool.resolutions else "")
        figures = f"measured {_when(tool.measured_at)} on {tool.measured_gpu}" if tool.measured else "default"
        table.add_row(
            tool.id,
            tool.op,
            makes,
            f"{tool.max_seconds:.1f}" if tool.max_seconds else "",
            f"{tool.gpu_s_per_output_s:.3f}",
            f"{tool.wall_s_per_output_s:.3f}",
            f"{tool.fixed_overhead_s:.2f}",
            f"{rates[tool.id]:.5f}",
            figures + ("" if tool.origin == "shipped" else f" ({tool.origin})"),
            f"{tool.quality:.2f}",
        )
    out.print(table)


@tools_app.command("show")
def show_tool(
    tool_id: Annotated[str, typer.Argument(help="Tool id (see `tools list`).")],
    catalogue: CatalogueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One tool as JSON, with every measurement recorded for it (--json: in the envelope)."""
    if as_json:
        json_output.begin("tools show")
    with open_catalogue(catalogue) as cat:
        tool = cat.get(tool_id)
        measurements = cat.measurements(tool_id)
    if as_json:
        json_output.emit(json_output.ToolsShowResult(tool=tool, measurements=measurements))
        return
    doc = {**tool.model_dump(), "measurements": [m.model_dump() for m in measurements]}
    print(json.dumps(doc, indent=1))


@tools_app.command("price")
def price(
    amount: Annotated[Optional[float], typer.Argument(help="Money per GPU-hour (omit to show it).")] = None,
    currency: Annotated[Optional[str], typer.Option("--currency", help="Currency code, e.g. USD or EUR.")] = None,
    catalogue: CatalogueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set (or show) what an hour of the worker costs; estimates multiply GPU seconds by it."""
    if as_json:
        json_output.begin("tools price")
    with open_catalogue(catalogue) as cat:
        if amount is not None:
            settings = cat.set_price(amount, currency)
        elif currency is not None:
            raise CatalogueError("--currency goes with a price: `montage-bridge tools price 2.5 --currency EUR`")
        else:
            settings = cat.settings()
        path = cat.path
    if as_json:
        json_output.emit(json_output.ToolsPriceResult(settings=settings, catalogue=str(path)))
        return
    where = {"catalogue": str(path), "environment": "MONTAGE_GPU_PRICE", "default": "built-in default"}
    out.print(
        f"price per GPU-hour: {settings.price_per_gpu_hour:.2f} {settings.currency} ({where[settings.price_from]})"
    )


@tools_app.command("add")
def add(
    file: Annotated[Path, typer.Argument(help="JSON file: one tool, or a list of tools (fields as `tools show`).")],
    catalogue: CatalogueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add tools to your catalogue, or override shipped ones by id."""
    if as_json:
        json_output.begin("tools add")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{file}: cannot read it ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{file}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
    items = data if isinstance(data, list) else [data]
    specs: list[ToolSpec] = []
    for number, item in enumerate(items):
        if isinstance(item, dict):  # what `tools show` prints carries the view's fields too
            item = {k: v for k, v in item.items() if k in ToolSpec.model_fields}
        try:
            specs.append(ToolSpec.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "tool"
            raise CatalogueError(f"{file}: tool #{number}: {where}: {err['msg']}") from exc
    added = []
    with open_catalogue(catalogue) as cat:
        for spec in specs:
            tool = cat.add_tool(spec)
            added.append(tool)
            if not as_json:
                out.print(f"{tool.origin}: {tool.id} ({tool.op}) in {cat.path}")
        path = cat.path
    json_output.emit(json_output.ToolsAddResult(catalogue=str(path), tools=added))


@tools_app.command("remove")
def remove(
    tool_id: Annotated[str, typer.Argument(help="Tool id in your catalogue.")],
    catalogue: CatalogueOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove your row and measurements of a tool (a shipped tool goes back to its defaults)."""
    if as_json:
        json_output.begin("tools remove")
    with open_catalogue(catalogue) as cat:
        cat.remove_tool(tool_id)
        path = cat.path
    if as_json:
        json_output.emit(json_output.ToolsRemoveResult(catalogue=str(path), removed=tool_id))
        return
    out.print(f"removed {tool_id} from {path}")
