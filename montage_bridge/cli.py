"""The `montage-bridge` command line. Each command lives in `montage_bridge.commands.*`."""

from __future__ import annotations

import os
import sys

import typer

from analysis.errors import MontageError
from montage_bridge import __version__
from montage_bridge.commands.analyze import analyze
from montage_bridge.commands.auto import auto
from montage_bridge.commands.convert import convert_command
from montage_bridge.commands.gpu import gpu_app
from montage_bridge.commands.plan import plan
from montage_bridge.commands.render import render_command
from montage_bridge.commands.resolve import app as resolve_app
from montage_bridge.commands.watch import watch
from montage_bridge.commands.worker import worker_app

app = typer.Typer(
    name="montage-bridge",
    help="Footage in, an edited timeline in your NLE out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"montage-bridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Footage in, an edited timeline in your NLE out."""


app.command("auto")(auto)
app.command("convert")(convert_command)
app.command("analyze")(analyze)
app.add_typer(resolve_app, name="resolve")
app.command("watch")(watch)
app.add_typer(worker_app, name="worker")
app.add_typer(gpu_app, name="gpu")
app.command("plan")(plan)
app.command("render")(render_command)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; user-facing errors become one line on stderr and exit code 2."""
    try:
        # With standalone_mode=False click *returns* the code of a `typer.Exit(n)` instead of raising.
        code = app(args=argv, standalone_mode=False)
    except MontageError as exc:
        print(f"montage-bridge: error: {exc}", file=sys.stderr)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        print("montage-bridge: aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("montage-bridge: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # click usage errors
        import click

        # typer >= 0.20 raises its vendored click's exceptions, which are not click.ClickException.
        if isinstance(exc, click.ClickException) or (
            callable(getattr(exc, "show", None)) and hasattr(exc, "exit_code")
        ):
            exc.show()
            return exc.exit_code
        if os.environ.get("MONTAGE_DEBUG"):
            raise
        print(
            f"montage-bridge: internal error: {exc.__class__.__name__}: {exc} "
            "(rerun with MONTAGE_DEBUG=1 for details and please report it)",
            file=sys.stderr,
        )
        return 70
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
