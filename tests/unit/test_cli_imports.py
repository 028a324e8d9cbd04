"""The CLI imports a command only when it runs: start-up (``--version``, and every spawned analysis
worker, which re-imports the console script) must not pay for numpy, PyAV, OTIO, rich or pydantic."""

from __future__ import annotations

import subprocess
import sys

import pytest

from montage_bridge import cli

HEAVY = ("numpy", "av", "opentimelineio", "rich", "pydantic", "requests", "librosa", "cv2", "scenedetect")


def test_importing_the_cli_and_asking_its_version_import_no_command() -> None:
    code = (
        "import sys\n"
        "from montage_bridge.cli import main\n"
        "code = main(['--version'])\n"
        f"print(code, sorted(m for m in {HEAVY!r} if m in sys.modules),"
        " sorted(m for m in sys.modules if m.startswith('montage_bridge.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 [] []"
    assert out.splitlines()[0].startswith("montage-bridge ")


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_registered_command_loads_under_its_name(name: str) -> None:
    command = cli.load_command(name)
    assert command.name == name
    assert command.help or command.callback is not None or getattr(command, "commands", None)


def test_running_one_command_imports_only_that_command() -> None:
    code = (
        "import sys\n"
        "from montage_bridge.cli import main\n"
        "main(['convert', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('montage_bridge.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "['montage_bridge.commands.convert']"
