"""Seeded mutation fuzzing of the timeline readers (FCPXML, xmeml, EDL, OTIO, AAF) — #19.

Every reader must answer a mutated file with a :class:`MontageError` (``TimelineParseError``,
``ConvertError``: one line, exit 2 at the CLI) or a timeline that passes the sanity check — never
another exception, a crash or a hang.

Cases run in a child process (``python -m tests.fuzz.harness --child …``) that writes a line before
and after each case; the parent kills it when one case runs past the per-case timeout (a hang) and
sees a signal exit (a crash), records the case, and starts a new child after it. Case ``i`` of a
format is the same file for the same seed on any machine, so a finding is reproduced with
``python -m tests.fuzz.harness FORMAT --seed S --only I --save DIR``.

    python -m tests.fuzz.harness [FORMAT ...] [--cases N] [--seed S] [--timeout SECONDS]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"

# Small real files per format: mutations of real structure reach deep into a reader.
SEEDS: dict[str, list[str]] = {
    "fcpxml": [
        "fcpxml/DAWFileKit__BasicMarkers_1HourProjectStart.fcpxml",
        "fcpxml/DAWFileKit__CompoundClips.fcpxml",
        "fcpxml/DAWFileKit__24With25Media.fcpxml",
        "fcpxml/DAWFileKit__TransitionMarkers1.fcpxml",
        "fcpxml/DAWFileKit__29.97d.fcpxml",
    ],
    "xml": ["fcp7xml/otio-fcp-adapter__hiero_xml_export.xml", "fcp7xml/otio-fcp-adapter__premiere_enable_property.xml"],
    "edl": [
        "edl/otio-cmx3600-adapter__multi_audio.edl",
        "edl/otio-cmx3600-adapter__avid_example.edl",
        "edl/otio-cmx3600-adapter__transition_duration.edl",
        "edl/otio-cmx3600-adapter__speed_effects_small.edl",
        "edl/otio-cmx3600-adapter__screening_example.edl",
    ],
    "otio": ["otio/OpenTimelineIO__transition.otio", "otio/otio-fcp-adapter__img_seq_media_reference.otio"],
    "aaf": ["aaf/otio-aaf-adapter__2997fps-DFTC.aaf"],
}
SUFFIX = {"fcpxml": ".fcpxml", "xml": ".xml", "edl": ".edl", "otio": ".otio", "aaf": ".aaf"}

HOSTILE = [
    "0",
    "-1",
    "1e308",
    "-1e308",
    "NaN",
    "inf",
    str(2**64),
    str(-(2**63)),
    "",
    " ",
    "x" * 5000,
    "1/0s",
    "0/0s",
    "-1/25s",
    "100/0",
    "1e308/1s",
    "18446744073709551616/1s",
    "3.5s",
    "abc",
    "%s%n",
    "\u202e\u0000",
    "99:99:99:99",
    "-00:00:00:01",
    "00:00:00;99",
    "../../../etc/passwd",
    "file:///dev/zero",
]
HOSTILE_JSON: list[object] = [
    0,
    -1,
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    2**64,
    -(2**63),
    "",
    "x" * 5000,
    None,
    [],
    {},
]


# --- mutators -----------------------------------------------------------------------------------

_ATTR = re.compile(r'([\w:.-]+)="([^"]*)"')
_TEXT = re.compile(r">([^<>\n]{1,60})<")


def _lines_op(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    if len(lines) < 2:
        return text
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.randrange(4)
    if op == 0:
        del lines[i]
    elif op == 1:
        lines.insert(j, lines[i])
    elif op == 2:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i : i + rng.randint(1, 8)] = []
    return "\n".join(lines)


def _char_flips(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        if chars:
            chars[rng.randrange(len(chars))] = chr(
                rng.choice(
                    [0, 9, 10, 13, 34, 38, 39, 47, 58, 59, 60, 62] + list(range(32, 127)) + [0x85, 0x2028, 0xFFFF]
                )
            )
    return "".join(chars)


def _sub_random(pattern: re.Pattern[str], text: str, rng: random.Random, group: int, value: str) -> str:
    matches = list(pattern.finditer(text))
    if not matches:
        return _char_flips(text, rng)
    m = rng.choice(matches)
    return text[: m.start(group)] + value + text[m.end(group) :]


def _xml_element_op(text: str, rng: random.Random) -> str:
    """Delete, duplicate or swap whole elements (lxml, no entities, no network)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return _lines_op(text, rng)
    elements = [e for e in root.iter() if e is not root and isinstance(e.tag, str)]
    if not elements:
        return _lines_op(text, rng)
    victim = rng.choice(elements)
    parent = victim.getparent()
    op = rng.randrange(3)
    if op == 0:
        parent.remove(victim)
    elif op == 1:
        import copy

        for _ in range(rng.choice([1, 1, 2, 50])):
            parent.insert(parent.index(victim), copy.deepcopy(victim))
    else:
        other = rng.choice(elements)
        if other is not victim and victim not in other.iterancestors() and other not in victim.iterancestors():
            other_parent = other.getparent()
            i, j = parent.index(victim), other_parent.index(other)
            parent.remove(victim)
            other_parent.remove(other)
            parent.insert(i, other) if parent is not other_parent or i <= j else parent.insert(i - 1, other)
            other_parent.insert(j, victim)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode")


def mutate_xml(text: str, rng: random.Random) -> str:
    for _ in range(rng.choice([1, 1, 2, 3])):
        op = rng.randrange(6)
        if op <= 1:
            text = _sub_random(_ATTR, text, rng, 2, rng.choice(HOSTILE))
        elif op == 2:
            text = _sub_random(_TEXT, text, rng, 1, rng.choice(HOSTILE))
        elif op == 3:
            text = _xml_element_op(text, rng)
        elif op == 4:
            text = _lines_op(text, rng)
        else:
            text = _char_flips(text, rng)
    return text


_EDL_TOKEN = re.compile(r"\S+")


def mutate_edl(text: str, rng: random.Random) -> str:
    for _ in range(rng.choice([1, 1, 2, 3])):
        op = rng.randrange(5)
        if op <= 1:
            text = _sub_random(_EDL_TOKEN, text, rng, 0, rng.choice(HOSTILE).replace("\n", "") or "''")
        elif op == 2:
            tc = re.compile(r"\d\d[:;]\d\d[:;]\d\d[:;]\d\d")
            text = _sub_random(tc, text, rng, 0, rng.choice(["99:99:99:99", "23:59:59:29", "00:00:00:00", "-1"]))
        elif op == 3:
            text = _lines_op(text, rng)
        else:
            text = _char_flips(text, rng)
    return text


def _json_nodes(node: object, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _json_nodes(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _json_nodes(v, path + (i,))
    return out


def mutate_otio(text: str, rng: random.Random) -> str:
    try:
        doc = json.loads(text)
    except ValueError:
        return _char_flips(text, rng)
    for _ in range(rng.choice([1, 1, 2, 3])):
        paths = [p for p in _json_nodes(doc) if p]
        if not paths:
            break
        path = rng.choice(paths)
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        key = path[-1]
        op = rng.randrange(5)
        if op <= 1:
            parent[key] = rng.choice(HOSTILE_JSON)
        elif op == 2:
            if isinstance(parent, dict):
                del parent[key]
            else:
                parent.pop(key)
        elif op == 3 and isinstance(parent, list):
            parent.insert(key, json.loads(json.dumps(parent[key], allow_nan=True)))
        elif isinstance(parent.get(key) if isinstance(parent, dict) else None, str) and key == "OTIO_SCHEMA":
            name, _, version = parent[key].partition(".")
            parent[key] = rng.choice([f"{name}.{rng.choice(['0', '2', '99', 'x'])}", f"{name[::-1]}.{version}"])
        else:
            parent[key] = rng.choice(HOSTILE_JSON)
    text = json.dumps(doc, allow_nan=True, indent=rng.choice([None, 2]))
    return _char_flips(text, rng) if rng.random() < 0.15 else text


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 32)):
        i = rng.randrange(len(buf))
        buf[i] = rng.randrange(256) if rng.random() < 0.7 else rng.choice([0, 0xFF, 0x7F, 0x80])
    if rng.random() < 0.1:
        del buf[rng.randrange(len(buf)) :]
    return bytes(buf)


def make_case(fmt: str, seed: int, index: int) -> tuple[str, bytes]:
    """Case ``index`` of ``fmt``: (seed file name, mutated bytes). Deterministic for (fmt, seed, index)."""
    rng = random.Random(f"{fmt}:{seed}:{index}")
    source = rng.choice(SEEDS[fmt])
    raw = (DATA / source).read_bytes()
    if fmt == "aaf":
        return source, mutate_bytes(raw, rng)
    text = raw.decode("utf-8")
    mutate = {"fcpxml": mutate_xml, "xml": mutate_xml, "edl": mutate_edl, "otio": mutate_otio}[fmt]
    out = mutate(text, rng)
    if rng.random() < 0.05:
        out = out[: rng.randrange(max(1, len(out)))]  # truncated, as a copy cut short
    return source, out.encode("utf-8", "surrogatepass")


# --- checking one case ----------------------------------------------------------------------------


def check_bytes(fmt: str, data: bytes, workdir: Path, index: int = 0) -> Optional[str]:
    """None when the readers answered properly; else a one-line description of the finding."""
    import opentimelineio as otio

    from kernel.errors import MontageError
    from nle_adapters.convert import read_timelines

    path = workdir / f"case{index}{SUFFIX[fmt]}"
    path.write_bytes(data)
    try:
        _reader_only(fmt, path)
        _fmt, timelines = read_timelines(path)
        for timeline in timelines:
            timeline.duration()
            for clip in timeline.find_clips():
                clip.trimmed_range()
    except MontageError as exc:
        text = str(exc)
        if "\n" in text.strip():
            return f"multi-line message: {text[:200]!r}"
        return None
    except otio.exceptions.OTIOError as exc:  # escaped the reader's guard
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        return f"{exc.__class__.__name__}: {str(exc)[:200]}"
    finally:
        path.unlink(missing_ok=True)
    return None


def _reader_only(fmt: str, path: Path) -> None:
    """Our readers without ``read_timelines``' catch-all, so a library exception is seen as one.

    (AAF and OTIO JSON are read by upstream code behind a guard; ``read_timelines`` wraps their
    exceptions, and crashes or hangs there are still caught by the parent process.)"""
    import opentimelineio as otio

    from kernel.errors import MontageError
    from nle_adapters.convert import CONVERT_FORMATS, _read_text, detect_format

    if fmt in ("aaf", "otio"):
        return
    try:
        text = _read_text(path)
        detected = detect_format(path, text)
    except MontageError:
        return
    if detected == "otio":
        return
    kwargs: dict = {"source": str(path)} if detected in ("xml", "fcpxml", "edl") else {}
    try:
        otio.adapters.read_from_string(text, adapter_name=CONVERT_FORMATS[detected][1], **kwargs)
    except MontageError:
        return


# --- the child and the parent ---------------------------------------------------------------------


_MARK = "@@fuzz "


def _child(fmt: str, seed: int, start: int, stop: int, workdir: Path) -> None:
    # The protocol gets its own descriptor; whatever a library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for index in range(start, stop):
        out.write(f"{_MARK}start {index}\n")
        out.flush()
        _source, data = make_case(fmt, seed, index)
        # Looked up on the importable module (not __main__), so a test can swap the check in.
        from tests.fuzz import harness

        finding = harness.check_bytes(fmt, data, workdir, index)
        out.write(_MARK + json.dumps({"index": index, "finding": finding}) + "\n")
        out.flush()


@dataclass
class Finding:
    fmt: str
    index: int
    kind: str  # 'exception' | 'crash' | 'hang'
    detail: str


@dataclass
class Result:
    fmt: str
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0


def run_format(fmt: str, cases: int, seed: int, timeout: float, workdir: Path) -> Result:
    """Run cases ``0..cases-1`` of ``fmt`` in child processes; crashes and hangs are findings too."""
    result = Result(fmt)
    began = time.monotonic()
    start = 0
    path = os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(REPO)) if p)
    env = {**os.environ, "PYTHONPATH": path, "PYTHONHASHSEED": "0"}
    errors = workdir / f"{fmt}-child-stderr.txt"
    while start < cases:
        err_handle = errors.open("wb")  # a file, not a pipe: a chatty child must never block on it
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.harness", "--child", fmt, "--seed", str(seed)]
            + ["--start", str(start), "--stop", str(cases), "--workdir", str(workdir)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err_handle,
        )
        err_handle.close()
        current, last_line = None, time.monotonic()
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        buffer = ""
        first = True
        while True:
            chunk = proc.stdout.read()
            if chunk:
                buffer += chunk.decode("utf-8", "replace")
                last_line = time.monotonic()
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    if not line.startswith(_MARK):
                        continue
                    line = line[len(_MARK) :]
                    if line.startswith("start "):
                        current = int(line.split()[1])
                        first = False
                    elif line:
                        done = json.loads(line)
                        result.cases += 1
                        current = None
                        if done["finding"]:
                            result.findings.append(Finding(fmt, done["index"], "exception", done["finding"]))
            if proc.poll() is not None and not chunk:
                break
            # The first case also pays for the child's imports.
            if current is not None and time.monotonic() - last_line > timeout + (10 if first else 0):
                proc.kill()
                proc.wait()
                result.findings.append(Finding(fmt, current, "hang", f"no answer within {timeout:g} s"))
                result.cases += 1
                break
            time.sleep(0.005)
        stderr = errors.read_text(encoding="utf-8", errors="replace")
        if proc.returncode not in (0, None, -signal.SIGKILL) and current is not None:
            result.findings.append(Finding(fmt, current, "crash", f"exit {proc.returncode}: {stderr[-300:]}"))
            result.cases += 1
        elif proc.returncode not in (0, -signal.SIGKILL) and current is None and result.cases < cases:
            raise RuntimeError(f"fuzz child for {fmt} failed outside a case (exit {proc.returncode}):\n{stderr}")
        if current is None:
            break
        start = current + 1
    result.seconds = time.monotonic() - began
    return result


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("formats", nargs="*", default=list(SEEDS))
    parser.add_argument("--cases", type=int, default=3000, help="mutated cases per format")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "19")))
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one case may take")
    parser.add_argument("--save", type=Path, help="write each finding's case here")
    parser.add_argument("--only", type=int, help="check this one case in this process and print the answer")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.formats[0], args.seed, args.start, args.stop, args.workdir)
        return 0
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mb-fuzz-") as tmp:
        workdir = Path(tmp)
        if args.only is not None:
            fmt = args.formats[0]
            source, data = make_case(fmt, args.seed, args.only)
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"{fmt}-seed{args.seed}-case{args.only}{SUFFIX[fmt]}").write_bytes(data)
            print(f"{fmt} case {args.only} (from {source}): {check_bytes(fmt, data, workdir) or 'ok'}")
            return 0
        failed = False
        for fmt in args.formats:
            result = run_format(fmt, args.cases, args.seed, args.timeout, workdir)
            print(f"{fmt}: {result.cases} cases in {result.seconds:.1f} s, {len(result.findings)} finding(s)")
            for f in result.findings:
                failed = True
                print(f"  case {f.index} [{f.kind}] {f.detail}")
                if args.save:
                    args.save.mkdir(parents=True, exist_ok=True)
                    _, data = make_case(fmt, args.seed, f.index)
                    (args.save / f"{fmt}-seed{args.seed}-case{f.index}{SUFFIX[fmt]}").write_bytes(data)
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
