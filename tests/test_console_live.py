"""Live view in a real browser (Debian's Chromium): a grid of the clock camera and an H.265 camera (through
the H.264 proxy), moving pictures, the glass-to-glass delay read off the screen, and the viewing's access
record in the ledger (HB-17.3, BJ-13.2, CN-16)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, LedgerEntry
from custos.web.app import create_app

from browser import chromium, log_in, serve
from deployment import PASSWORD
from livecams import live_deployment

MOVING = """() => {
  const v = [...document.querySelectorAll('#live-grid video')];
  return v.length === 2 && v.every(x => x.readyState >= 2 && x.videoWidth > 0 && x.currentTime > 1.0);
}"""


def test_live_grid_shows_moving_video_with_its_delay_and_records_the_viewing(
    tmp_path: Path, sqlite_db: Database
) -> None:
    with live_deployment(tmp_path, sqlite_db) as (dep, rec), serve(create_app(dep.ctx, rec)) as url, chromium() as b:
        page = b.new_page(viewport={"width": 1366, "height": 768})
        log_in(page, url, "op", PASSWORD)
        page.click("#tabs button[data-tab=live]")
        page.fill("#live-purpose", "watching the school gate")
        page.select_option("#live-layout", "4")
        page.click("#live-start")
        page.wait_for_function(MOVING, timeout=30_000)
        record = int(page.get_attribute("#live-grid", "data-record") or 0)
        assert record > 0
        tile = page.locator("#live-grid .tile[data-camera=cam01] video")
        t0 = tile.evaluate("v => v.currentTime")
        shot0 = tile.screenshot()
        time.sleep(1.0)
        shot1 = tile.screenshot()
        assert tile.evaluate("v => v.currentTime") > t0 + 0.5, "live video advances"
        assert shot0 != shot1, "two screenshots of live view differ"
        states = page.eval_on_selector_all("#live-grid .tile", "ts => ts.map(t => t.dataset.state)")
        assert states == ["ok", "ok"], states
        assert "H.264 proxy" in page.inner_text("#live-grid .tile[data-camera=cam02] .state")
        page.wait_for_function(
            "() => document.querySelector('#live-grid .tile[data-camera=cam01]').dataset.delay !== undefined",
            timeout=10_000,
        )
        delay = int(page.get_attribute("#live-grid .tile[data-camera=cam01]", "data-delay") or -1)
        assert 0 <= delay < 5000, f"glass-to-glass delay read off the screen: {delay} ms"  # target: bench/playback.py
        page.click("#live-stop")
        page.wait_for_selector("#live-grid .tile", state="detached")
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        r = s.get(AccessRecord, record)
        assert r is not None and (r.mode, r.cameras, r.purpose) == (
            "live",
            ["cam01", "cam02"],
            "watching the school gate",
        )
        assert r.outcome == "completed" and (r.bytes_served or 0) > 0
        entry = s.scalar(select(LedgerEntry).where(LedgerEntry.seq == r.seq))
        assert entry is not None and json.loads(entry.data)["mode"] == "live"
