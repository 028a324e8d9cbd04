"""A worker URL that is not one is refused with a message naming it, at the CLI, before any request:
`gpu status --url --json` once reached requests as the URL "--json" and died with an internal error."""

from __future__ import annotations

import pytest

from gpu_remote.client import worker_url
from gpu_remote.errors import ClientError
from tests.conftest import run_cli


@pytest.mark.parametrize("bad", ["--json", "gpu-box:8765", "ftp://gpu-box/", "http://", "http://box:1/?a=b"])
def test_a_url_that_is_not_a_worker_url_is_named(bad: str) -> None:
    with pytest.raises(ClientError, match="worker URL"):
        worker_url(bad)


def test_good_urls_keep_their_path_without_the_trailing_slash() -> None:
    assert worker_url("http://gpu-box:8765/") == "http://gpu-box:8765"
    assert worker_url(" https://farm.example/gpu/ ") == "https://farm.example/gpu"


def test_the_cli_names_the_bad_url_and_exits_cleanly(tmp_path) -> None:
    env = {"MONTAGE_GPU_URL": "gpu-box:8765", "XDG_STATE_HOME": str(tmp_path)}
    proc = run_cli("gpu", "status", env=env, timeout=60)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "gpu-box:8765" in proc.stderr and "http://" in proc.stderr
