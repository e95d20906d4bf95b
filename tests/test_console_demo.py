"""The console against `custos demo` itself (a real process: synthetic cameras, the recorder, the web console),
driven in Debian's Chromium as its users would: an operator logs in and watches live video, scrubs the
timeline, exports a package with a progress bar that `custos verify-export` then checks, and is refused a
delete inside retention with the articles that refuse it; two PSB officers and an approver walk an authority
request through, footage refused before approval and shown after. Every step's access record is in the
ledger (HB-17.3, BJ-13.2, CN-16, HB-16, CN-20)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, LedgerEntry

from browser import chromium, free_port, log_in

pytestmark = pytest.mark.timeout(600)
PDF = b"%PDF-1.4\n% approval of the Demo PSB for case 2026-201\n%%EOF\n"


class Demo:
    def __init__(self, data: Path, url: str) -> None:
        self.data, self.url = data, url
        lines = (data / "demo-logins.txt").read_text().splitlines()
        self.passwords = {u: p for u, p, *_ in (line.split("\t") for line in lines)}

    def page(self, browser: Any, username: str, tab: str = "cameras") -> Any:
        """A context of its own (its own session cookie), logged in, on TAB."""
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        page.set_default_timeout(20_000)
        page.on("dialog", lambda d: d.accept())
        log_in(page, f"{self.url}#{tab}", username, self.passwords[username])
        return page

    def records(self) -> list[AccessRecord]:
        db = Database(f"sqlite:///{self.data / 'custos.db'}")
        try:
            with db.session() as s:
                return list(s.scalars(select(AccessRecord).order_by(AccessRecord.id)))
        finally:
            db.dispose()

    def entries(self) -> dict[int, LedgerEntry]:
        db = Database(f"sqlite:///{self.data / 'custos.db'}")
        try:
            with db.session() as s:
                return {e.seq: e for e in s.scalars(select(LedgerEntry))}
        finally:
            db.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("demo") / "data"
    port = free_port()
    args = ["demo", "--data", str(data), "--cameras", "2", "--port", str(port), "--width", "320", "--height", "240"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "custos.cli.main", *args, "--segment-s", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=dict(os.environ, COLUMNS="200"),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:  # up, and both cameras have finished segments to play back
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "the demo exited"
            assert time.monotonic() < deadline, "the demo did not come up"
            try:
                d = Demo(data, url)
                with urllib.request.urlopen(f"{url}api/v1/health", timeout=2):
                    pass
                db = Database(f"sqlite:///{data / 'custos.db'}")
                try:
                    with db.session() as s:
                        n = s.execute(select(LedgerEntry.seq).where(LedgerEntry.kind == "segment")).all()
                finally:
                    db.dispose()
                if len(n) >= 4:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        yield d
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def keys_shown(page: Any, selector: str) -> set[str]:
    page.wait_for_selector(f"{selector} .keys")
    return set(page.inner_text(f"{selector} .keys").split(", "))


def test_operator_watches_live_video(demo: Demo, browser: Any) -> None:
    page = demo.page(browser, "operator", "live")
    page.fill("#live-purpose", "watching the gates at dismissal")
    page.click("#live-start")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#live-grid video')].filter(v => v.readyState >= 2 && v.currentTime > 1).length === 2",
        timeout=30_000,
    )
    video = page.locator("#live-grid .tile[data-camera=cam01] video")
    t0, shot0 = video.evaluate("v => v.currentTime"), video.screenshot()
    time.sleep(1.0)
    assert video.evaluate("v => v.currentTime") > t0 + 0.5 and video.screenshot() != shot0
    record = int(page.get_attribute("#live-grid", "data-record") or 0)
    page.click("#live-stop")
    page.context.close()
    time.sleep(0.5)
    [r] = [r for r in demo.records() if r.id == record]
    assert (r.mode, r.username, r.purpose, r.allowed) == ("live", "operator", "watching the gates at dismissal", True)
    assert json.loads(demo.entries()[r.seq].data)["mode"] == "live"


def test_operator_scrubs_the_timeline_and_is_refused_a_delete_with_its_keys(demo: Demo, browser: Any) -> None:
    page = demo.page(browser, "operator", "playback")
    page.select_option("#pb-camera", "cam02")
    page.fill("#pb-purpose", "looking for the parcel delivery")
    page.select_option("#pb-zoom", "60")
    page.click("#pb-go")
    page.wait_for_function("() => document.querySelector('#pb-video').dataset.seekMs !== undefined", timeout=30_000)
    rec = page.locator("#pb-timeline .rec").first.bounding_box()
    tl = page.locator("#pb-timeline").bounding_box()
    assert rec and tl
    page.evaluate("() => { const v = document.querySelector('#pb-video'); v.pause(); delete v.dataset.seekMs; }")
    x = rec["x"] - tl["x"] + rec["width"] * 0.3
    page.locator("#pb-timeline").click(position={"x": x, "y": 60})
    page.wait_for_function("() => document.querySelector('#pb-video').dataset.seekMs !== undefined")
    page.evaluate("() => document.querySelector('#pb-video').pause()")
    t_start = float(page.get_attribute("#pb-timeline", "data-start") or 0)
    t_end = float(page.get_attribute("#pb-timeline", "data-end") or 0)
    clicked = t_start + (t_end - t_start) * x / tl["width"]
    shown = float(page.get_attribute("#pb-video", "data-wall-ms") or 0)
    assert abs(shown - clicked) < 150, (shown, clicked)  # the picture of the instant clicked
    assert page.evaluate("() => document.querySelector('#pb-video').videoWidth") == 320
    page.click("#pb-delete")
    keys = keys_shown(page, "#pb-delete-error")
    assert {"CN-23", "HB-18.4"} <= keys, keys  # no one on duty deletes footage (and none inside retention)
    page.context.close()
    recs = [r for r in demo.records() if r.purpose == "looking for the parcel delivery"]
    assert recs and all(r.allowed and r.mode in ("playback", "thumbnail") and r.username == "operator" for r in recs)
    refusals = [json.loads(e.data) for e in demo.entries().values() if e.kind == "refusal"]
    assert any(r["action"] == "delete segment" and r["by"] == "operator" for r in refusals)


def test_admin_exports_with_progress_and_the_package_verifies(demo: Demo, browser: Any, tmp_path: Path) -> None:
    page = demo.page(browser, "admin", "export")
    page.check("#ex-cams input[value=cam01]")
    page.check("#ex-cams input[value=cam02]")
    now = time.time()
    page.evaluate(
        """([a, b]) => {
          const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);
          document.querySelector('#ex-start').value = local(a); document.querySelector('#ex-end').value = local(b);
        }""",
        [(now - 120) * 1000, now * 1000],  # the last two minutes: the package stays small however long the demo ran
    )
    page.fill("#ex-purpose", "evidence for case 2026-201")
    page.fill("#ex-destination", "Demo PSB case file 2026-201")
    page.click("#ex-start-button")
    page.wait_for_selector(".ex-job progress")
    page.wait_for_selector(".ex-job[data-state=done] a", timeout=60_000)
    assert page.eval_on_selector(".ex-job progress", "p => p.value") == 1
    with page.expect_download() as dl:
        page.click(".ex-job a")
    pkg = tmp_path / "package.zip"
    dl.value.save_as(pkg)
    record = int(page.get_attribute(".ex-job", "data-record") or 0)
    page.context.close()
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "custos.cli.main",
            "verify-export",
            str(pkg),
            "--key",
            str(demo.data / "keys" / "ledger.pub"),
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    data = bytearray(pkg.read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / "changed.zip").write_bytes(bytes(data))
    bad = subprocess.run(
        [sys.executable, "-m", "custos.cli.main", "verify-export", str(tmp_path / "changed.zip")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0
    [r] = [r for r in demo.records() if r.id == record]
    assert (r.mode, r.username, r.destination, r.allowed) == ("export", "admin", "Demo PSB case file 2026-201", True)


def test_an_authority_request_is_refused_before_approval_and_shown_after(demo: Demo, browser: Any) -> None:
    officer = demo.page(browser, "officer", "requests")
    officer.wait_for_selector("#tab-requests h2")
    form = "#request-form"
    officer.check(f"{form} input[name=cameras][value=cam01]")
    start = officer.evaluate(
        "() => { const d = new Date(Date.now() - 3600e3); return new Date(d - d.getTimezoneOffset() * 6e4).toISOString().slice(0, 19); }"
    )
    end = officer.evaluate(
        "() => { const d = new Date(Date.now() + 60e3); return new Date(d - d.getTimezoneOffset() * 6e4).toISOString().slice(0, 19); }"
    )
    officer.fill(f"{form} input[name=start]", start)
    officer.fill(f"{form} input[name=end]", end)
    officer.fill(f"{form} input[name=purpose]", "case 2026-201: parcel theft")
    officer.fill(f"{form} input[name=credential_ref]", "DEMO 0201")
    officer.fill(f"{form} input[name=legal_basis]", "PRC Criminal Procedure Law art. 54")
    officer.click("#request-create")
    officer.wait_for_selector("#request-created:has-text('created')")
    rid = int(re.findall(r"#(\d+)", officer.inner_text("#request-created"))[0])
    card = f"article[data-request='{rid}']"
    officer.click(f"{card} button.view")
    assert {"HB-16", "CN-20"} <= keys_shown(officer, f"{card} .view-error")
    officer2 = demo.page(browser, "officer2", "requests")
    officer2.fill(f"{card} input.credential", "DEMO 0202")
    officer2.click(f"{card} button.join")
    officer2.wait_for_selector(f"{card} .officers li[data-username=officer2]")
    officer.click("#request-refresh")
    officer.wait_for_selector(f"{card} .officers li[data-username=officer2]")  # the card re-drawn
    officer.set_input_files(
        f"{card} input.approval-file", files=[{"name": "approval.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    officer.click(f"{card} button.attach")
    officer.wait_for_selector(f"{card} .document:has-text('approval.pdf')")
    officer.click(f"{card} button.submit")
    officer.wait_for_selector(f"{card}[data-status=submitted]")
    approver = demo.page(browser, "approver", "requests")
    approver.fill(f"{card} input.reason", "approved for case 2026-201")
    approver.click(f"{card} button.approve")
    approver.wait_for_selector(f"{card}[data-status=approved]")
    officer.click("#request-refresh")
    officer.click(f"{card}[data-status=approved] button.view")
    try:
        officer.wait_for_function(
            "(sel) => { const v = document.querySelector(sel); return v && v.readyState >= 2 && v.videoWidth === 320; }",
            arg=f"{card} video",
            timeout=60_000,
        )
    except Exception:
        raise AssertionError(f"approved footage did not play: {officer.inner_text(card)}") from None
    for p in (officer, officer2, approver):
        p.context.close()
    time.sleep(0.5)
    recs = [r for r in demo.records() if r.request_id == rid]
    assert [(r.username, r.allowed) for r in recs] == [("officer", False), ("officer", True)]
    entries = demo.entries()
    for r in recs:
        data = json.loads(entries[r.seq].data)
        assert data["request_id"] == rid and data["allowed"] == r.allowed
