"""Run the ``hostbot`` command as a subprocess, the way a newcomer or a Procfile does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment with a fresh SQLite file in ``tmp_path`` and no locale from the machine."""
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hostbot.db'}",
        "LANG": "C",
        **extra,
    }


def hostbot(
    tmp_path: Path, *args: str, stdin: str = "", **environment: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env(tmp_path, **environment),
        timeout=120,
        check=False,
    )


def output(tmp_path: Path, *args: str, stdin: str = "") -> str:
    """What a successful command printed; fails the test on an error exit or a traceback."""
    done = hostbot(tmp_path, *args, stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def shell(tmp_path: Path, script: str, *args: str) -> str:
    """Pipe ``script`` into ``hostbot shell`` and return what it answered."""
    return output(tmp_path, "shell", *args, stdin=script)
