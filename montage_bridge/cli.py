"""The `montage-bridge` command line. Each command lives in `montage_bridge.commands.*`.

Commands are imported when they are run (or listed in ``--help``), not when the CLI starts:
``montage-bridge --version`` stays a fraction of a second, one command does not pay for the
imports of the others (numpy, PyAV, OTIO, rich, the GPU client), and the analysis engine's worker
processes, which re-run this console script's module under spawn, import only this file.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator, MutableMapping

import typer
from typer.core import TyperGroup

from kernel.errors import MontageError

# name → (module, attribute): a command function, or a Typer app for a command group; in the order
# ``--help`` lists them (typer lists commands before groups).
COMMANDS: dict[str, tuple[str, str]] = {
    "auto": ("montage_bridge.commands.auto", "auto"),
    "convert": ("montage_bridge.commands.convert", "convert_command"),
    "analyze": ("montage_bridge.commands.analyze", "analyze"),
    "watch": ("montage_bridge.commands.watch", "watch"),
    "plan": ("montage_bridge.commands.plan", "plan"),
    "render": ("montage_bridge.commands.render", "render_command"),
    "proxies": ("montage_bridge.commands.proxies", "proxies_command"),
    "show": ("montage_bridge.commands.show", "show"),
    "search": ("montage_bridge.commands.search", "search"),
    "dashboard": ("montage_bridge.commands.dashboard", "dashboard"),
    "resolve": ("montage_bridge.commands.resolve", "app"),
    "worker": ("montage_bridge.commands.worker", "worker_app"),
    "gpu": ("montage_bridge.commands.gpu", "gpu_app"),
    "bench-tools": ("montage_bridge.commands.bench_tools", "bench_tools"),
    "tools": ("montage_bridge.commands.tools", "tools_app"),
}


def load_command(name: str):  # type: ignore[no-untyped-def]
    """The click command for ``name``, importing its module now."""
    module, attr = COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name = name
        return group
    single = typer.Typer(add_completion=False)
    single.command(name)(target)
    return typer.main.get_command(single)


class _LazyCommands(MutableMapping):
    """The root group's command table: names known up front, each command built on first use."""

    def __init__(self) -> None:
        self._built: dict = {}

    def __getitem__(self, name: str):  # type: ignore[no-untyped-def]
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command) -> None:  # type: ignore[no-untyped-def]
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (n for n in self._built if n not in COMMANDS)

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._built))


class _LazyGroup(TyperGroup):
    def __init__(self, **attrs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**attrs)
        lazy = _LazyCommands()
        for name, command in self.commands.items():
            lazy[name] = command
        self.commands = lazy


app = typer.Typer(
    name="montage-bridge",
    help="Footage in, an edited timeline in your NLE out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    cls=_LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        from montage_bridge import __version__  # reads package metadata: only when asked

        print(f"montage-bridge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Footage in, an edited timeline in your NLE out."""


def _configure_logging() -> None:
    """The one place logging is configured (library code only names its loggers, ``montage_bridge.*``):
    warnings and errors as their bare message on stderr, as an unconfigured Python prints them, and with
    ``MONTAGE_DEBUG`` our own debug records too, each with its logger's name. A no-op when the process
    (a test runner, an embedding app) configured logging first."""
    import logging

    if os.environ.get("MONTAGE_DEBUG"):
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
        logging.getLogger("montage_bridge").setLevel(logging.DEBUG)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI; user-facing errors become one line on stderr and exit code 2.

    With ``--json`` the command's stdout is one JSON document, its failures included
    (``montage_bridge.json_output``)."""
    _configure_logging()
    args = sys.argv[1:] if argv is None else list(argv)
    code, failure = _run(args)
    if "--json" in args or "montage_bridge.json_output" in sys.modules:
        from montage_bridge import json_output

        code = json_output.finish(args, code, failure)
    return code


def _run(args: list[str]) -> tuple[int, tuple[str, str] | None]:
    """Run the command line: (exit code, (kind, message) of the error that ended it, or None)."""
    try:
        # With standalone_mode=False click *returns* the code of a `typer.Exit(n)` instead of raising.
        code = app(args=args, standalone_mode=False)
    except MontageError as exc:
        print(f"montage-bridge: error: {exc}", file=sys.stderr)
        return 2, ("failed", str(exc))
    except typer.Exit as exc:
        code = exc.exit_code
    except typer.Abort:
        print("montage-bridge: aborted", file=sys.stderr)
        return 130, ("interrupted", "aborted")
    except KeyboardInterrupt:
        print("montage-bridge: interrupted", file=sys.stderr)
        return 130, ("interrupted", "interrupted")
    except Exception as exc:  # click usage errors
        # Duck-typed: typer >= 0.20 raises its vendored click's exceptions, which are not click.ClickException.
        show, format_message = getattr(exc, "show", None), getattr(exc, "format_message", None)
        if callable(show) and hasattr(exc, "exit_code"):  # click's (and typer's vendored click's) exceptions
            show()
            message = format_message() if callable(format_message) else str(exc)
            return exc.exit_code, ("usage", message)
        if os.environ.get("MONTAGE_DEBUG"):
            raise
        message = (
            f"internal error: {exc.__class__.__name__}: {exc} "
            "(rerun with MONTAGE_DEBUG=1 for details and please report it)"
        )
        print(f"montage-bridge: {message}", file=sys.stderr)
        return 70, ("internal", message)
    code = code if isinstance(code, int) else 0
    if code == 130:  # typer turns Ctrl-C (KeyboardInterrupt) into Exit(130), which click returns
        print("montage-bridge: interrupted", file=sys.stderr)
        return 130, ("interrupted", "interrupted by the user (Ctrl-C)")
    return code, None


if __name__ == "__main__":
    sys.exit(main())
