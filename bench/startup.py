"""Benchmark: how soon ``hostbot run`` answers, how long a one-shot command takes, and how much
memory an idle ``hostbot run`` holds.

    .venv/bin/python -m bench.startup [--runs 7] [--settle 3]

The project's bytecode is compiled first (as an installation has it). Every process is started
the way a platform starts it (``python -m bot.cli ...``) in a fresh
temporary data directory, on SQLite, with the demo configuration (no platform token, the default
drivers), on a free port:

- ``hostbot run`` on a fresh data directory (it creates the database), ``--runs`` times, each in a
  new one: the median time from launch until ``/healthz`` answers 200; each time, ``--settle``
  seconds later, its resident memory (``VmRSS``), and it is stopped with SIGTERM. Then the same on
  the database the last one created (the usual restart), ``--runs`` times: the median.
- ``hostbot link-code 1 --platform shell`` on the demo database, ``--runs`` times: the median wall
  time and CPU time (user + system) of the whole process.

The machine's load average is printed with the figures: wall times on a loaded machine say more
about the machine than about the code, the CPU times less so. Results go to
``bench/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"healthz_s": 1.5, "link_code_s": 1.0, "idle_rss_mb": 120.0}


def _env(data: Path, **extra: str) -> dict[str, str]:
    """The environment of an installed bot: its modules' bytecode cached (as ``pip install``
    leaves it), whatever ``PYTHONDONTWRITEBYTECODE`` says here."""
    return {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'hostbot.db'}",
        "SECRET_KEY_FILE": str(data / "secret_key"),
        "LANG": "C",
        **extra,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def run_once(data: Path, settle: float) -> dict[str, float]:
    """Launch ``hostbot run`` in ``data`` (made if missing); seconds until /healthz answers; its
    RSS ``settle`` s later."""
    data.mkdir(exist_ok=True)
    port = _free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=data,
        env=_env(data, PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((proc.stderr.read() if proc.stderr else b"").decode()) from None
                time.sleep(0.005)
        healthz = time.perf_counter() - started
        time.sleep(settle)
        rss = _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    return {"healthz_s": healthz, "idle_rss_mb": rss}


def command_once(data: Path, *args: str) -> dict[str, float]:
    """Wall and CPU seconds of one ``hostbot`` command, from launch to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=data,
        env=_env(data),
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode())
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def measure(runs: int, settle: float) -> dict[str, Any]:
    subprocess.run(  # the bytecode an installation has: a first start does not compile the project
        [sys.executable, "-m", "compileall", "-q", "bot", "handlers", "services", "storage"],
        cwd=ROOT,
        env=_env(ROOT),
        check=True,
    )
    with tempfile.TemporaryDirectory() as data:
        fresh = [run_once(Path(data) / str(n), settle) for n in range(runs)]  # each in a new directory
        restarts = [run_once(Path(data) / str(runs - 1), settle) for _ in range(runs)]
    with tempfile.TemporaryDirectory() as demo:
        data = Path(demo)
        subprocess.run(  # the demo database: created, migrated and filled by the shell
            [sys.executable, "-m", "bot.cli", "shell"],
            cwd=data,
            env=_env(data),
            input=b"",
            capture_output=True,
            check=True,
        )
        links = [command_once(data, "link-code", "1", "--platform", "shell") for _ in range(runs)]
    return {
        "runs": runs,
        "load_average": os.getloadavg(),
        "healthz_fresh_s": statistics.median(r["healthz_s"] for r in fresh),
        "healthz_restart_s": statistics.median(r["healthz_s"] for r in restarts),
        "idle_rss_mb": statistics.median(r["idle_rss_mb"] for r in fresh + restarts),
        "link_code_s": statistics.median(r["wall_s"] for r in links),
        "link_code_cpu_s": statistics.median(r["cpu_s"] for r in links),
        "link_code_all_s": [r["wall_s"] for r in links],
        "goals": GOALS,
    }


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="restarts and link-code runs (median)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after /healthz before the RSS")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "startup.json")
    args = parser.parse_args()
    r = measure(args.runs, args.settle)

    def verdict(figure: float, goal: float) -> str:
        return "met" if figure <= goal else "NOT MET"

    load = ", ".join(f"{x:.1f}" for x in r["load_average"])
    print(
        f"load average {load} ({os.cpu_count()} cores); medians of {r['runs']} runs\n"
        f"hostbot run, launch -> /healthz, fresh data dir: {r['healthz_fresh_s']:.3f} s "
        f"(goal <= {GOALS['healthz_s']} s: {verdict(r['healthz_fresh_s'], GOALS['healthz_s'])})\n"
        f"hostbot run, launch -> /healthz, restart:        {r['healthz_restart_s']:.3f} s "
        f"(goal <= {GOALS['healthz_s']} s: {verdict(r['healthz_restart_s'], GOALS['healthz_s'])})\n"
        f"hostbot run, idle RSS:                           {r['idle_rss_mb']:.1f} MB "
        f"(goal <= {GOALS['idle_rss_mb']:.0f} MB: {verdict(r['idle_rss_mb'], GOALS['idle_rss_mb'])})\n"
        f"hostbot link-code, wall:                         {r['link_code_s']:.3f} s "
        f"(goal well under {GOALS['link_code_s']} s: {verdict(r['link_code_s'], GOALS['link_code_s'])}); "
        f"CPU {r['link_code_cpu_s']:.3f} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    cli()
