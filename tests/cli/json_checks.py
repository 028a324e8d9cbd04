"""Run a command with `--json` as a user does and check its stdout against the published JSON Schema
(docs/json-schemas/, validated by `jsonschema`, an implementation we did not write)."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tests.conftest import REPO, run_cli

SCHEMA_DIR = REPO / "docs" / "json-schemas"


@cache
def validator(command: str) -> Draft202012Validator:
    """The validator of ``command --json`` (``"gpu status"``), from its published schema file."""
    schema = json.loads((SCHEMA_DIR / f"{command.replace(' ', '-')}.schema.json").read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def check_document(command: str, proc: subprocess.CompletedProcess[str], exit_code: int) -> dict[str, Any]:
    """stdout is one JSON document, valid against ``command``'s schema, agreeing with the exit code."""
    assert proc.returncode == exit_code, f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
    doc = json.loads(proc.stdout)  # the whole of stdout: one document, nothing before or after it
    errors = sorted(validator(command).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])
    assert doc["schema"] == f"montage-bridge/{command.replace(' ', '-')}@1"
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    if exit_code == 0:
        assert doc["ok"] is True and "error" not in doc
    else:
        assert doc["ok"] is False and doc["error"]["exit_code"] == exit_code
        assert doc["error"]["message"] and "\n" not in doc["error"]["message"]
    return doc


def run_json(
    command: str,
    *args: str,
    exit_code: int = 0,
    env: dict[str, str] | None = None,
    timeout: float = 600,
    cwd: Path | None = None,
) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """``montage-bridge COMMAND ARGS --json``: (its document, checked; the finished process)."""
    proc = run_cli(*command.split(), *args, "--json", env=env, timeout=timeout, cwd=cwd)
    return check_document(command, proc, exit_code), proc


def progress_lines(stderr: str) -> list[dict[str, Any]]:
    """The `--progress json` lines among stderr's lines (schema montage-bridge.progress/1)."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            data = json.loads(line)
            if data.get("schema") == "montage-bridge.progress/1":
                lines.append(data)
    return lines
