"""The HTML board laid out by a real headless browser: no page wider than 1,400 px.

Skipped where no Chromium is installed (Debian: ``apt-get install chromium``; ``.ci/run``
installs it where it can). Set ``ASCBENCH_SCREENSHOTS=<folder>`` to keep a screenshot of every
page checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ascbench.leaderboard import LeaderboardEntry, build_leaderboard, render_html
from ascbench.leaderboard.render import render_index

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 1400
WHEN = datetime(2026, 12, 5, tzinfo=timezone.utc)
BROWSER = next(
    (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
)
pytestmark = pytest.mark.skipif(BROWSER is None, reason="no Chromium installed")

#: Appended to a page: the document's width after layout, read back from the dumped DOM.
_PROBE = (
    "<script>document.body.setAttribute('data-scroll-width', Math.max("
    "document.documentElement.scrollWidth, document.body.scrollWidth))</script></body>"
)


def _browser(*args: str) -> str:
    result = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--window-size={WIDTH},900", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result.stdout


def laid_out_width(page: str, tmp_path: Path, name: str) -> int:
    """The width in CSS pixels a 1,400-px-wide browser window lays ``page`` out at."""
    path = tmp_path / f"{name}.html"
    path.write_text(page.replace("</body>", _PROBE, 1), encoding="utf-8")
    found = re.search(r'data-scroll-width="(\d+)"', _browser("--dump-dom", path.as_uri()))
    assert found, f"the browser did not lay out {path}"
    shots = os.environ.get("ASCBENCH_SCREENSHOTS")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        _browser(f"--screenshot={Path(shots, name + '.png').resolve()}", path.as_uri())
    return int(found.group(1))


def _default_board():
    """The committed default-run board: twelve real entries with real provenance."""
    data = json.loads((ROOT / "leaderboard/default-run/leaderboard-dcase2022.json").read_text())
    entries = [LeaderboardEntry.model_validate(e) for e in data["entries"]]
    return build_leaderboard(entries, WHEN)


def test_the_probe_sees_a_page_wider_than_the_window(tmp_path):
    """The check can fail: a 3,000-px block is measured as such."""
    page = "<!DOCTYPE html><html><body><div style='width:3000px'>x</div></body></html>"
    assert laid_out_width(page, tmp_path, "wide") > WIDTH


def test_the_default_board_page_fits_1400_px(tmp_path):
    """Its provenance table (hardware, versions) made it 2,576 px wide; long cells now wrap."""
    assert laid_out_width(render_html(_default_board()), tmp_path, "board") <= WIDTH


def test_a_board_of_24_systems_with_long_names_fits_1400_px(tmp_path, make_entry):
    entries = [
        make_entry(f"a_third_party_reconstruction_of_system_{i:02d}_with_a_long_name",
                   "dcase2022", accuracy=40 + i, log_loss=1.5 - i / 100)
        for i in range(24)
    ]  # fmt: skip
    board = build_leaderboard(entries, WHEN)
    assert laid_out_width(render_html(board), tmp_path, "board24") <= WIDTH
    index = render_index({"dcase2022": board, "dcase2021": board})
    assert laid_out_width(index, tmp_path, "index") <= WIDTH
