"""`--json` as a user meets it, for the commands that need no media: one document on stdout, valid
against the published schema, the same exit code as without --json, failures included."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from montage_bridge import cli, json_output
from tests.cli.json_checks import SCHEMA_DIR, run_json
from tests.conftest import REPO, TEST_DATA

NESTED = TEST_DATA / "otio" / "OpenTimelineIO__nested_example.otio"


def test_the_published_schemas_and_page_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "json_schemas.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    page = (REPO / "docs" / "json-output.md").read_text(encoding="utf-8")
    for command in json_output.RESULTS:
        assert json_output.schema_id(command) in page
        assert (SCHEMA_DIR / f"{command.replace(' ', '-')}.schema.json").is_file()


def _json_commands() -> set[str]:
    """Every command and subcommand of the real CLI that has a --json option."""
    found: set[str] = set()
    for name in cli.COMMANDS:
        command = cli.load_command(name)
        subcommands = getattr(command, "commands", None)
        pairs = [(f"{name} {sub}", c) for sub, c in subcommands.items()] if subcommands else [(name, command)]
        for full, cmd in pairs:
            if any("--json" in getattr(p, "opts", ()) for p in cmd.params):
                found.add(full)
    return found


def test_every_command_with_json_has_a_published_schema_and_the_reverse() -> None:
    found = _json_commands()
    # `watch` is one command whose first word selects status / retry / repair.
    published = {c for c in json_output.RESULTS if not c.startswith("watch ")}
    assert found == published


def test_convert_success_lists_every_loss(tmp_path: Path) -> None:
    doc, proc = run_json("convert", str(NESTED), str(tmp_path / "cut.fcpxml"))
    (conversion,) = doc["result"]["conversions"]
    assert conversion["outputs"] == [str(tmp_path / "cut.fcpxml")] and (tmp_path / "cut.fcpxml").is_file()
    assert conversion["target"] == "fcpxml" and conversion["lossless"] is (not conversion["losses"])
    assert "clip without media" in {loss["feature"] for loss in conversion["losses"]}


@pytest.mark.parametrize(
    ("args", "kind", "needle"),
    [
        (["{tmp}/missing.otio", "{tmp}/cut.xml"], "failed", "no such file"),
        (["{tmp}/broken.fcpxml", "{tmp}/cut.otio"], "failed", "broken.fcpxml"),
        ([str(NESTED), "{tmp}/cut.unknown"], "failed", "pass --to"),
        ([str(NESTED), "{tmp}/cut.xml", "--xmeml-version", "9"], "usage", "--xmeml-version"),
    ],
    ids=["missing input", "garbage input", "unknown target", "bad option"],
)
def test_convert_failures_are_one_document(tmp_path: Path, args: list[str], kind: str, needle: str) -> None:
    (tmp_path / "broken.fcpxml").write_text("<fcpxml version='1.10'><resources>", encoding="utf-8")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    doc, proc = run_json("convert", *argv, exit_code=2)
    assert doc["error"]["kind"] == kind and needle in doc["error"]["message"]
    assert "result" not in doc
    assert needle in proc.stderr  # the one-line error is still on stderr for a person
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.fcpxml"]  # nothing partial written


def test_show_without_a_picture_fails_as_json(tmp_path: Path) -> None:
    doc, _ = run_json("show", str(tmp_path / "nowhere"), exit_code=2)
    assert doc["error"]["kind"] == "failed" and "no such file or folder" in doc["error"]["message"]
    doc, _ = run_json("show", str(tmp_path), exit_code=2)
    assert "no edit.html here" in doc["error"]["message"]


def test_watch_repair_status_retry_and_once(tmp_path: Path) -> None:
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    outbox.mkdir()
    inbox.mkdir()
    doc, _ = run_json("watch status", "--out", str(outbox), exit_code=2)
    assert doc["error"]["kind"] == "failed" and "no watch journal here" in doc["error"]["message"]
    doc, _ = run_json("watch repair", "--out", str(outbox))
    assert doc["result"]["healthy"] is False and doc["result"]["rebuilt"] == [] and doc["result"]["damage"] is None
    doc, _ = run_json("watch", str(inbox), "--out", str(outbox), "--once")  # the daemon, once: schema `watch`
    assert doc["result"] == {"written": [], "failed": []}
    doc, _ = run_json("watch status", "--out", str(outbox))
    assert doc["result"]["jobs"] == [] and doc["result"]["files_waiting"] == 0
    assert Path(doc["result"]["journal"]).parent == outbox
    doc, _ = run_json("watch retry", "--out", str(outbox))
    assert doc["result"]["failed_jobs"] == 0 and doc["result"]["resolve_builds"] == 0
    # A daemon that keeps watching has no result: --json needs --once (a usage error, as JSON).
    doc, proc = run_json("watch", str(inbox), "--out", str(outbox), exit_code=2)
    assert doc["error"]["kind"] == "usage" and "--once" in doc["error"]["message"]


def test_tools_show_price_add_list_remove(tmp_path: Path) -> None:
    env = {"MONTAGE_TOOL_CATALOGUE": str(tmp_path / "tools.sqlite")}
    doc, _ = run_json("tools list", env=env)
    first = doc["result"]["tools"][0]
    doc, _ = run_json("tools show", first["id"], env=env)
    assert doc["result"]["tool"] == first and doc["result"]["measurements"] == []
    doc, _ = run_json("tools price", "3.5", "--currency", "EUR", env=env)
    assert doc["result"]["settings"]["price_per_gpu_hour"] == 3.5 and doc["result"]["settings"]["currency"] == "EUR"
    spec = tmp_path / "tool.json"
    spec.write_text(json.dumps({**first, "id": "my-copy"}), encoding="utf-8")
    doc, _ = run_json("tools add", str(spec), env=env)
    (added,) = doc["result"]["tools"]
    assert added["id"] == "my-copy" and added["origin"] == "user"
    doc, _ = run_json("tools remove", "my-copy", env=env)
    assert doc["result"]["removed"] == "my-copy" and doc["result"]["catalogue"] == str(tmp_path / "tools.sqlite")
    doc, _ = run_json("tools show", "my-copy", env=env, exit_code=2)
    assert doc["error"]["kind"] == "failed" and "my-copy" in doc["error"]["message"]
    spec.write_text("{not json", encoding="utf-8")
    doc, _ = run_json("tools add", str(spec), env=env, exit_code=2)
    assert "not valid JSON" in doc["error"]["message"]


def test_a_usage_error_before_the_command_starts_is_json_too(tmp_path: Path) -> None:
    doc, proc = run_json("render", str(tmp_path / "cut.otio"), "--no-such-flag", exit_code=2)
    assert doc["error"]["kind"] == "usage" and "--no-such-flag" in doc["error"]["message"]
    assert "Usage:" in proc.stderr
    doc, _ = run_json("gpu status", "--timeout", "3", exit_code=2)  # an option gpu status does not have
    assert doc["error"]["kind"] == "usage" and "--timeout" in doc["error"]["message"]


def test_a_command_without_json_is_not_given_an_envelope(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    proc = run_cli("dashboard", "--json")
    assert proc.returncode == 2 and proc.stdout == "" and "No such option: --json" in proc.stderr


def test_while_json_runs_everything_else_on_stdout_goes_to_stderr() -> None:
    """Python prints, rich consoles and child processes (ffmpeg) writing to stdout land on stderr;
    stdout receives the document alone, and is stdout again afterwards."""
    code = (
        "import os, subprocess, sys\n"
        "from montage_bridge import json_output\n"
        "from montage_bridge.console import out\n"
        "json_output.begin('show')\n"
        "print('python print')\n"
        "out.print('rich print')\n"
        "subprocess.run([sys.executable, '-c', 'print(\"child print\")'], check=True)\n"
        "json_output.emit(json_output.ShowResult(page='/p/edit.html', url='file:///p/edit.html', opened=False))\n"
        "json_output.finish(['show', '--json'], 0, None)\n"
        "print('after')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    document, after = proc.stdout.rsplit("}\n", 1)
    assert json.loads(document + "}")["result"]["page"] == "/p/edit.html" and after == "after\n"
    for line in ("python print", "rich print", "child print"):
        assert line in proc.stderr


def test_finish_reports_a_command_that_wrote_no_document(capsys: pytest.CaptureFixture[str]) -> None:
    """The safety net: a --json command that returns without its document is a bug, said as JSON."""
    json_output.begin("show")
    code = json_output.finish(["show", "x", "--json"], 0, None)
    assert code == 70 and not json_output.active()
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is False and doc["error"]["kind"] == "internal" and doc["error"]["exit_code"] == 70


def test_command_of_reads_the_command_line() -> None:
    assert json_output.command_of(["gpu", "status", "--json"]) == "gpu status"
    assert json_output.command_of(["watch", "status", "--out", "x", "--json"]) == "watch status"
    assert json_output.command_of(["watch", "inbox", "--once", "--json"]) == "watch"
    assert json_output.command_of(["auto", "Footage", "--json"]) == "auto"
    assert json_output.command_of(["dashboard", "--json"]) is None
    assert json_output.command_of(["--json"]) is None
