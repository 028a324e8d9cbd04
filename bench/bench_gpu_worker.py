"""GPU worker protocol overheads on loopback (127.0.0.1 only, bounded loops).

- upload throughput of the resumable protocol (client.upload, hashing excluded) vs a raw TCP
  copy of the same bytes over loopback;
- per-job overhead: a no-op job, PUT → completed event seen by the client, p50/p99;
- 200 concurrent submissions (PUT) from 32 threads: errors must be zero, all jobs must finish.

Writes bench/results/gpu_worker.json.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpu_remote.client import GpuClient  # noqa: E402
from gpu_remote.models import JobSpec  # noqa: E402
from kernel.atomic_io import write_text_atomic  # noqa: E402

TOKEN = "bench-token-7c1d0e9f2a3b4c5d6e7f"
UPLOAD_MIB = 256
LARGE_UPLOAD_MIB = 1024
OVERHEAD_JOBS = 200
CONCURRENT_JOBS = 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_worker(data: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "MONTAGE_WORKER_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "montage_bridge", "worker", "serve", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    client = GpuClient(url, TOKEN, state_dir=data.parent / "probe")
    deadline = time.monotonic() + 60
    while True:
        try:
            client.health()
            return proc, url
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.2)


def raw_loopback_mib_s(path: Path) -> float:
    """Send the file over a plain TCP socket on 127.0.0.1 to a reader that writes it to disk."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    sink = path.with_suffix(".copy")

    def receive() -> None:
        conn, _ = server.accept()
        with conn, sink.open("wb") as out:
            while chunk := conn.recv(1 << 20):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())

    reader = threading.Thread(target=receive)
    reader.start()
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, path.open("rb") as src:
        sock.sendfile(src)
    reader.join()
    elapsed = time.perf_counter() - t0
    server.close()
    sink.unlink()
    return path.stat().st_size / (1 << 20) / elapsed


RAW_RECEIVER = """
import os, socket, sys
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(1)
print(server.getsockname()[1], flush=True)
conn, _ = server.accept()
with conn, open(sys.argv[1], "wb") as out:
    while chunk := conn.recv(1 << 20):
        out.write(chunk)
    out.flush(); os.fsync(out.fileno())
"""
RAW_SENDER = """
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as sock, open(sys.argv[2], "rb") as src:
    sock.sendfile(src)
"""
UPLOADER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from gpu_remote.client import GpuClient
GpuClient(sys.argv[2], sys.argv[3], state_dir=Path(sys.argv[4])).upload(Path(sys.argv[5]))
"""


def _process_cpu(pid: int) -> float:
    """CPU-seconds (user+sys) a running process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_cpu(argv: list[str]) -> float:
    """Run a process to completion; its CPU-seconds (user+sys, from wait4)."""
    proc = subprocess.Popen(argv)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, argv)
    return usage.ru_utime + usage.ru_stime


def upload_whole_process(
    url: str, tmp: Path, data: Path, rounds: int = 3, mib: int = 256, worker_pid: int | None = None
) -> dict[str, object]:
    """#12's upload target as whole processes, interleaved: a client process uploading a file vs a
    raw TCP copy (sender process → receiver process writing to the worker's disk, fsync), medians.

    Each round uploads a new file (the worker would dedupe a repeat); its hash is computed before
    the timing (the client caches hashes by path, size and mtime; hashing is once per file). CPU-s
    are recorded too (client + worker vs sender + receiver): on a loaded, shared machine they move
    far less than the wall times the target is stated in.
    """
    ours, raw, ours_cpu, raw_cpu = [], [], [], []
    for i in range(rounds):
        media = tmp / f"up{i}.bin"
        with media.open("wb") as handle:
            for _ in range(mib):
                handle.write(os.urandom(1 << 20))
        GpuClient(url, TOKEN, state_dir=tmp / "upstate").hashes.sha256(media)
        sink = data / f"raw{i}.bin"
        receiver = subprocess.Popen([sys.executable, "-c", RAW_RECEIVER, str(sink)], stdout=subprocess.PIPE, text=True)
        port = receiver.stdout.readline().strip()  # type: ignore[union-attr]
        t0 = time.perf_counter()
        sender_cpu = _run_cpu([sys.executable, "-c", RAW_SENDER, port, str(media)])
        _, _, usage = os.wait4(receiver.pid, 0)
        receiver.returncode = 0
        raw.append(time.perf_counter() - t0)
        raw_cpu.append(sender_cpu + usage.ru_utime + usage.ru_stime)
        sink.unlink()
        worker_before = _process_cpu(worker_pid) if worker_pid else 0.0
        t0 = time.perf_counter()
        client_cpu = _run_cpu([sys.executable, "-c", UPLOADER, str(REPO), url, TOKEN, str(tmp / "upstate"), str(media)])
        ours.append(time.perf_counter() - t0)
        ours_cpu.append(client_cpu + ((_process_cpu(worker_pid) - worker_before) if worker_pid else 0.0))
        media.unlink()
    ours_s, raw_s = statistics.median(ours), statistics.median(raw)
    ratio = raw_s / ours_s
    return {
        "mib": mib,
        "rounds": rounds,
        "ours_median_s": round(ours_s, 3),
        "raw_tcp_median_s": round(raw_s, 3),
        "ours_runs_s": [round(x, 3) for x in ours],
        "raw_tcp_runs_s": [round(x, 3) for x in raw],
        "ours_cpu_s": round(statistics.median(ours_cpu), 2) if worker_pid else None,
        "raw_tcp_cpu_s": round(statistics.median(raw_cpu), 2),
        "load_average": round(os.getloadavg()[0], 1),
        "ours_mib_s": round(mib / ours_s, 1),
        "raw_tcp_mib_s": round(mib / raw_s, 1),
        "ratio": round(ratio, 3),
        "target": ">= 0.8",
        "pass": ratio >= 0.8,
        "what": "whole processes, interleaved: client upload (hash cached) vs TCP sendfile to a receiver "
        "writing to the same disk with fsync; both pay interpreter start-up",
    }


def main() -> None:
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        proc, url = start_worker(tmp / "worker")
        try:
            client = GpuClient(url, TOKEN, state_dir=tmp / "state")
            media = tmp / "big.bin"
            with media.open("wb") as handle:
                for _ in range(UPLOAD_MIB):
                    handle.write(os.urandom(1 << 20))
            t0 = time.perf_counter()
            client.hashes.sha256(media)  # hashing is a one-off per file, measured apart
            hash_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.upload(media)
            upload_s = time.perf_counter() - t0
            raw = raw_loopback_mib_s(media)
            t0 = time.perf_counter()
            client.upload(media)  # dedupe: HEAD only
            dedupe_s = time.perf_counter() - t0
            report["upload"] = {
                "mib": UPLOAD_MIB,
                "protocol_mib_s": round(UPLOAD_MIB / upload_s, 1),
                "raw_loopback_mib_s": round(raw, 1),
                "ratio_vs_raw": round((UPLOAD_MIB / upload_s) / raw, 3),
                "client_hash_mib_s": round(UPLOAD_MIB / hash_s, 1),
                "second_upload_dedupe_ms": round(dedupe_s * 1000, 2),
                "note": "protocol time includes the worker's sha256 verification of the whole blob",
            }
            media.unlink()
            report["upload_whole_process"] = upload_whole_process(url, tmp, tmp / "worker", worker_pid=proc.pid)
            # At 256 MiB the client's interpreter start-up (~0.2 s) is a visible share of the time;
            # 1 GiB is a file a user waits for. Needs twice its size free (the file and the blob).
            if shutil.disk_usage(tmp).free > 4 * (LARGE_UPLOAD_MIB << 20):
                report["upload_whole_process_large"] = upload_whole_process(
                    url, tmp, tmp / "worker", mib=LARGE_UPLOAD_MIB, worker_pid=proc.pid
                )

            latencies: list[float] = []
            for i in range(OVERHEAD_JOBS):
                t0 = time.perf_counter()
                job, _ = client.put_job(f"bench-noop-{i:05d}", JobSpec(op="noop", params={"tag": f"seq{i}"}))
                for _event in client.events(job.id):
                    pass
                latencies.append(time.perf_counter() - t0)
            latencies.sort()
            report["noop_job_overhead_ms"] = {
                "jobs": OVERHEAD_JOBS,
                "p50": round(statistics.median(latencies) * 1000, 1),
                "p99": round(latencies[int(0.99 * (len(latencies) - 1))] * 1000, 1),
                "max": round(latencies[-1] * 1000, 1),
                "what": "PUT /v1/jobs/{id} until the SSE 'completed' event, sequential, from a client "
                "process to the worker process on loopback",
                "target": "p50 < 20, p99 < 100",
                "pass": statistics.median(latencies) < 0.020 and latencies[int(0.99 * (len(latencies) - 1))] < 0.100,
            }

            errors: list[str] = []
            ids = [f"bench-conc-{i:05d}" for i in range(CONCURRENT_JOBS)]
            conc_client = GpuClient(url, TOKEN, state_dir=tmp / "state2", pool_size=32)

            def submit(job_id: str) -> None:
                try:
                    conc_client.put_job(job_id, JobSpec(op="noop", params={"tag": job_id}))
                except Exception as exc:  # counted, not raised: the benchmark reports errors
                    errors.append(f"{job_id}: {exc}")

            t0 = time.perf_counter()
            with ThreadPoolExecutor(max_workers=32) as pool:
                list(pool.map(submit, ids))
            submit_s = time.perf_counter() - t0
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                jobs = conc_client.jobs(ids)
                if len(jobs) == len(ids) and all(j.state.terminal for j in jobs):
                    break
                time.sleep(0.2)
            all_s = time.perf_counter() - t0
            jobs = conc_client.jobs(ids)
            report["concurrent_submissions"] = {
                "jobs": CONCURRENT_JOBS,
                "threads": 32,
                "errors": len(errors),
                "error_samples": errors[:3],
                "submit_seconds": round(submit_s, 3),
                "submissions_per_s": round(CONCURRENT_JOBS / submit_s, 1),
                "all_finished_seconds": round(all_s, 3),
                "succeeded": sum(j.state.value == "succeeded" for j in jobs),
            }
        finally:
            proc.terminate()
            proc.wait(10)
    report["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    write_text_atomic(results / "gpu_worker.json", json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    if report["concurrent_submissions"]["errors"]:  # type: ignore[index]
        sys.exit(1)


if __name__ == "__main__":
    main()
