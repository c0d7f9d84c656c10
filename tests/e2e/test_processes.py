"""The Procfile processes start as a platform would start them."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support.cli import ROOT, env, hostbot


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_web_process_answers_healthz_on_port(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=env(tmp_path, PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200
                    assert b'"ok"' in response.read()
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "web process did not come up"
                time.sleep(0.2)  # polling a starting process, not synchronising test steps
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_worker_once(tmp_path: Path) -> None:
    done = hostbot(tmp_path, "worker", "--once")
    assert done.returncode == 0, done.stderr
    assert "housekeeping" in done.stderr
