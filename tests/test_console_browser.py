"""The console in a real browser (Debian's Chromium): a login, then a recent clip of each camera played
through the gate, each viewing registered with the purpose typed in (HB-17.3, CN-16)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord
from custos.web.app import create_app

from browser import chromium, log_in, serve
from deployment import PASSWORD, Deployment, Recorded, make_deployment


@pytest.fixture
def served(tmp_path: Path, sqlite_db: Database, recorded: Recorded) -> Iterator[tuple[Deployment, str]]:
    dep = make_deployment(tmp_path, sqlite_db, recorded)
    with serve(create_app(dep.ctx)) as url:
        yield dep, url


def test_login_then_play_a_recent_clip_of_each_camera_through_the_gate(served: tuple[Deployment, str]) -> None:
    dep, url = served
    with chromium() as browser:
        page = browser.new_page()
        page.goto(url)
        page.fill("#username", "op")
        page.fill("#password", "not the password")
        page.click("#login-button")
        page.wait_for_selector("#login-error:has-text('wrong username or password')")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        page.wait_for_selector("#main:not([hidden])")
        assert "Wang Fang" in page.inner_text("#who")
        page.wait_for_selector("#cameras tr >> nth=1")
        page.fill("#purpose", "morning check of the gates")
        page.click("#play")
        page.wait_for_function(
            "() => { const v = [...document.querySelectorAll('#clips video')];"
            " return v.length === 2 && v.every(x => x.readyState >= 2 && x.videoWidth === 320 && x.currentTime > 0.5); }",
            timeout=30_000,
        )
        cams = page.eval_on_selector_all("#clips video", "vs => vs.map(v => v.dataset.camera)")
    assert sorted(cams) == ["cam01", "cam02"]
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        recs = list(s.scalars(select(AccessRecord)))
    assert recs and all(r.allowed and r.username == "op" and r.purpose == "morning check of the gates" for r in recs)
    assert {c for r in recs for c in r.cameras} == {"cam01", "cam02"}
    assert all(r.mode == "playback" and r.outcome in ("completed", "aborted") for r in recs)
    assert sum(r.bytes_served or 0 for r in recs) > 0


def test_an_ended_session_brings_the_login_back_over_the_page(served: tuple[Deployment, str]) -> None:
    from custos.catalog.models import LoginSession

    dep, url = served
    with chromium() as browser:
        page = browser.new_page()
        log_in(page, url, "op", PASSWORD)
        page.wait_for_selector("#cameras tr >> nth=1")
        page.fill("#purpose", "typed before the session ended")
        with dep.db.session() as s:  # the shift's login runs out
            for row in s.scalars(select(LoginSession)):
                row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        page.click("#play")
        page.wait_for_selector("#expired:not([hidden])")
        assert "session has ended" in page.inner_text("#expired")
        assert page.is_visible("#login") and page.is_visible("#main")  # the page stays underneath
        assert page.input_value("#purpose") == "typed before the session ended"  # nothing typed is lost
        page.fill("#username", "op")
        page.fill("#password", PASSWORD)
        page.click("#login-button")
        page.wait_for_selector("#expired", state="hidden")
        assert not page.is_visible("#login")
        page.wait_for_selector("#cameras tr >> nth=1")
