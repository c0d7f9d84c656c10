"""Traffic as a newcomer meets it: the demo's charts in ``hostbot shell``, and ``hostbot traffic import``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from PIL import Image

from tests.support.cli import hostbot, output, shell


def test_the_demo_charts_a_year_in_the_shell(tmp_path: Path) -> None:
    out = shell(tmp_path, "traffic web-1 year\n3\n", "--lang", "tr")
    assert "web-1, son 12 ay: " in out and "web-1, son 30 gün: " in out  # the third button: a month
    charts = re.findall(r"📎 (\S+\.png)", out)
    assert [Path(c).name for c in charts] == ["traffic-web-1-year.png", "traffic-web-1-month.png"]
    for chart in charts:
        with Image.open(chart) as image:
            assert image.size == (1200, 600) and image.info["Title"].startswith("web-1 trafiği, son ")


def test_import_a_file_twice(tmp_path: Path) -> None:
    output(tmp_path, "migrate", "--demo")
    hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    samples = tmp_path / "samples.csv"
    samples.write_text(
        "server,timestamp,seconds,bytes_in,bytes_out\n"
        f"1,{hour.isoformat()},300,1000,2000\n"
        f"web-1,{hour.isoformat()},300,1000,2000\n"
    )
    for _ in range(2):
        done = hostbot(tmp_path, "traffic", "import", str(samples))
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert "samples stored: 1, intervals written: 1" in done.stdout
        assert "line 3: 4 servers are named 'web-1': use the server's number" in done.stderr
