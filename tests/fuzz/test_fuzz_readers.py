"""Mutation fuzzing of every timeline reader, as part of the suite (#19).

A few hundred seeded cases per reader here (``FUZZ_CASES``, default 250; ``make fuzz`` runs
thousands): each reader must answer with a one-line ``MontageError`` (exit 2 at the CLI) or a
timeline that passes the sanity check — never another exception, a crash or a hang. Cases run in a
child process with a per-case timeout (see ``tests/fuzz/harness.py``); a sample also goes through
the real CLI. Crash samples found so far are kept in ``tests/data/fuzz/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fuzz.harness import SEEDS, SUFFIX, check_bytes, make_case, run_format

CASES = int(os.environ.get("FUZZ_CASES", "250"))
SEED = int(os.environ.get("FUZZ_SEED", "19"))
REGRESSIONS = REPO / "tests" / "data" / "fuzz"
# AAF is a 285 KB binary read by pyaaf2 (pure Python, slower): fewer cases, same rules.
PER_FORMAT = {"aaf": max(10, CASES // 10)}


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_mutated_inputs_get_an_error_or_a_valid_timeline(fmt: str, tmp_path: Path) -> None:
    result = run_format(fmt, PER_FORMAT.get(fmt, CASES), SEED, timeout=10.0, workdir=tmp_path)
    assert result.cases == PER_FORMAT.get(fmt, CASES)
    detail = "\n".join(f"case {f.index} [{f.kind}] {f.detail}" for f in result.findings)
    assert not result.findings, (
        f"{len(result.findings)} finding(s); reproduce with `python -m tests.fuzz.harness {fmt} --seed {SEED} "
        f"--only N --save tests/data/fuzz`:\n{detail}"
    )


def test_the_harness_sees_a_crash_a_hang_and_an_exception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The oracle itself: a reader that raises, hangs or dies is reported, not passed."""
    from tests.fuzz import harness

    assert check_bytes("edl", b"TITLE: x\n", tmp_path) is None  # an EDL with no events: a clean answer
    monkeypatch.setattr("nle_adapters.convert.read_timelines", lambda *_a, **_k: 1 / 0)
    assert check_bytes("edl", b"TITLE: x\n", tmp_path) == "ZeroDivisionError: division by zero"
    # Crash and hang through the child process, driven by an environment hook in a sitecustomize.
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import os, time, signal\n"
        "import tests.fuzz.harness as h\n"
        "real = h.check_bytes\n"
        "def check(fmt, data, workdir, index=0):\n"
        "    if index == 1: os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    if index == 3: time.sleep(60)\n"
        "    return real(fmt, data, workdir, index)\n"
        "h.check_bytes = check\n"
    )
    monkeypatch.setenv("PYTHONPATH", f"{hook}{os.pathsep}{REPO}")
    monkeypatch.setattr(harness, "REPO", REPO)
    result = run_format("edl", 5, SEED, timeout=1.0, workdir=tmp_path)
    kinds = {f.index: f.kind for f in result.findings}
    assert kinds == {1: "crash", 3: "hang"}, result.findings
    assert result.cases == 5


def _regression_files() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.suffix in set(SUFFIX.values()))


@pytest.mark.parametrize("path", _regression_files(), ids=lambda p: p.name)
def test_kept_crash_samples_get_a_one_line_error_at_the_cli(path: Path, tmp_path: Path) -> None:
    # A short AAF deadline: aaf-slow-index-read.aaf ran for ~145 s before reads had one.
    env = {**os.environ, "PYTHONPATH": str(REPO), "MONTAGE_AAF_TIMEOUT": "8"}
    out = tmp_path / "out.edl"
    done = subprocess.run(
        [sys.executable, "-m", "montage_bridge", "convert", str(path), str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("montage-bridge: error: ") and str(path) in lines[0], lines
    assert "internal error" not in lines[0] and "Traceback" not in done.stderr, lines[0]
    if path.suffix != ".aaf":  # our readers say it in our words; pyaaf2's errors keep their class name
        assert "Error:" not in lines[0], lines[0]
    assert not out.exists()


def test_a_sample_of_mutated_cases_through_the_cli(tmp_path: Path) -> None:
    """A few cases per format through `montage-bridge convert` in parallel: exit 0 or 2, never a signal."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = []
    for fmt in ("fcpxml", "xml", "edl", "otio"):
        for index in (0, 1):
            _source, data = make_case(fmt, SEED, index)
            src = tmp_path / f"{fmt}-{index}{SUFFIX[fmt]}"
            src.write_bytes(data)
            out = tmp_path / f"{fmt}-{index}-out.otio"
            procs.append(
                (
                    src,
                    subprocess.Popen(
                        [sys.executable, "-m", "montage_bridge", "convert", str(src), str(out)],
                        cwd=REPO,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    ),
                )
            )
    for src, proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode in (0, 2), (src.name, proc.returncode, err)
        if proc.returncode == 2:
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, (src.name, err)
