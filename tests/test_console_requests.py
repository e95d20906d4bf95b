"""The console's requests and duties tabs in a real browser (Debian's Chromium), against a deployment with
real recordings: an authority request walked through by two officers, each in their own session, and an
approver, with its footage refused before approval and played after, every viewing an access record in the
ledger (HB-16, BJ-17, CN-20, HB-17.3); an overlapping roster shift refused with its keys (HB-17.1); an
incident report that puts footage on hold, shown in the holds list (HB-17.5, HB-17.6)."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, Hold, LedgerEntry
from custos.web.app import create_app

from browser import chromium, log_in, serve
from deployment import PASSWORD, Deployment, Recorded, make_deployment

CHINA = dt.timezone(dt.timedelta(hours=8))  # the browsers' time zone: Asia/Shanghai has no summer time
PDF = b"%PDF-1.4 approval of the Jianghan PSB for case 2026-117"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture
def served(tmp_path: Path, sqlite_db: Database, recorded: Recorded) -> Iterator[tuple[Deployment, str]]:
    dep = make_deployment(tmp_path, sqlite_db, recorded, packs=("CN", "HB", "BJ"))
    with serve(create_app(dep.ctx)) as url:
        yield dep, url


def open_as(browser: Any, url: str, username: str, tab: str) -> Any:
    """A browser context of its own (its own cookie: its own session) logged in on TAB."""
    context = browser.new_context(timezone_id="Asia/Shanghai")
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, f"{url}#{tab}", username, PASSWORD)
    page.wait_for_selector(f"#tab-{tab}:not([hidden]) h2")
    return page


def local(t: dt.datetime) -> str:
    """A datetime-local input's value in the browsers' time zone."""
    return t.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S")


def keys_shown(page: Any, selector: str) -> set[str]:
    page.wait_for_selector(f"{selector} .keys")
    return set(page.inner_text(f"{selector} .keys").split(", "))


def test_an_authority_request_is_walked_through_by_two_officers_and_an_approver(
    browser: Any, served: tuple[Deployment, str], recorded: Recorded
) -> None:
    dep, url = served
    assert dep.start_utc
    officer = open_as(browser, url, "officer", "requests")

    # Created by the first officer: without a legal basis it is refused with its keys, on the form.
    form = "#request-form"
    officer.check(f"{form} input[name=cameras][value=cam01]")
    officer.fill(f"{form} input[name=start]", local(dep.start_utc.replace(microsecond=0) - dt.timedelta(minutes=1)))
    officer.fill(f"{form} input[name=end]", local(recorded.end_utc.replace(microsecond=0) + dt.timedelta(minutes=1)))
    officer.fill(f"{form} input[name=purpose]", "case 2026-117: theft at the gate")
    officer.fill(f"{form} input[name=credential_ref]", "JH 0117")
    officer.click("#request-create")
    assert "CN-20" in keys_shown(officer, f"{form} .error")
    officer.fill(f"{form} input[name=legal_basis]", "PRC Criminal Procedure Law art. 54")
    officer.click("#request-create")
    officer.wait_for_selector("#request-created:has-text('created')")
    rid = int(re.findall(r"#(\d+)", officer.inner_text("#request-created"))[0])
    card = f"article[data-request='{rid}']"
    officer.wait_for_selector(f"{card} .officers li[data-username=officer]")

    # Before approval the gate refuses, and the screen says why and under which articles.
    officer.click(f"{card} button.view")
    assert {"HB-16", "BJ-17", "CN-20"} <= keys_shown(officer, f"{card} .view-error")
    assert "not approved" in officer.inner_text(f"{card} .view-error")
    assert officer.query_selector(f"{card} video") is None
    # One officer is not enough to submit it (HB-16, BJ-17: two).
    officer.click(f"{card} button.submit")
    assert {"HB-16", "BJ-17"} <= keys_shown(officer, f"{card} .action-error")
    assert "1 officer" in officer.inner_text(f"{card} .action-error")

    # The second officer joins in their own session, with their own credential.
    officer2 = open_as(browser, url, "officer2", "requests")
    assert "Jianghan PSB" in officer2.inner_text(f"{card} .requested-by")
    assert "Chen Jie (officer)" in officer2.inner_text(f"{card} .requested-by")
    officer2.fill(f"{card} input.credential", "JH 0242")
    officer2.click(f"{card} button.join")
    officer2.wait_for_selector(f"{card} .officers li[data-username=officer2]")
    # Only the creator, named by the request itself, is offered to withdraw it.
    assert officer2.locator(f"{card} button.withdraw").count() == 0
    assert officer.locator(f"{card} button.withdraw").count() == 1

    # The first officer attaches the PSB's approval document and submits.
    officer.click("#request-refresh")
    officer.wait_for_selector(f"{card} .officers li[data-username=officer2]")
    officer.set_input_files(
        f"{card} input.approval-file", files=[{"name": "approval.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    officer.click(f"{card} button.attach")
    officer.wait_for_selector(f"{card} .document:has-text('approval.pdf')")
    officer.click(f"{card} button.submit")
    officer.wait_for_selector(f"{card}[data-status=submitted]")

    # Submitted is not approved: the second officer is refused too.
    officer2.click("#request-refresh")
    officer2.click(f"{card}[data-status=submitted] button.view")
    assert {"HB-16", "BJ-17", "CN-20"} <= keys_shown(officer2, f"{card} .view-error")

    # The school's admin may not decide an authority's request; the PSB's approver, none of its people, does.
    admin = open_as(browser, url, "admin", "requests")
    admin.fill(f"{card} input.reason", "looks fine to me")
    admin.click(f"{card} button.approve")
    assert "HB-16" in keys_shown(admin, f"{card} .action-error")
    assert "approved by an approver" in admin.inner_text(f"{card} .action-error")
    approver = open_as(browser, url, "approver", "requests")
    approver.fill(f"{card} input.reason", "approved for case 2026-117")
    approver.click(f"{card} button.approve")
    approver.wait_for_selector(f"{card}[data-status=approved]")

    # Approved: the same button plays the footage in a <video>.
    officer.click("#request-refresh")
    officer.click(f"{card}[data-status=approved] button.view")
    video = f"{card} video"
    officer.wait_for_function(
        "(sel) => { const v = document.querySelector(sel); return v && v.readyState >= 2 && v.videoWidth === 320; }",
        arg=video,
    )
    first = officer.eval_on_selector(video, "v => v.currentTime")
    officer.wait_for_function(f"(sel) => document.querySelector(sel).currentTime > {first} + 0.3", arg=video)
    assert officer.inner_text(f"{card} .view-error") == ""
    shown = int(officer.get_attribute(video, "data-record") or 0)
    for page in (officer, officer2, admin, approver):
        page.context.close()

    # Every viewing is an access record in the ledger, the refused ones included; each step is an entry.
    dep.ctx.gate.flush()
    with dep.db.session() as s:
        recs = list(s.scalars(select(AccessRecord).where(AccessRecord.request_id == rid).order_by(AccessRecord.id)))
        entries = {e.seq: e for e in s.scalars(select(LedgerEntry))}
    assert [(r.username, r.allowed) for r in recs] == [("officer", False), ("officer2", False), ("officer", True)]
    assert recs[-1].id == shown and recs[-1].outcome == "completed" and (recs[-1].bytes_served or 0) > 0
    assert recs[-1].legal_basis == "PRC Criminal Procedure Law art. 54" and "SHA-256" in (recs[-1].approval_ref or "")
    for r in recs:
        assert r.purpose == "case 2026-117: theft at the gate" and r.cameras == ["cam01"] and r.mode == "playback"
        entry = entries[r.seq]
        data = json.loads(entry.data)
        assert entry.kind == "access" and data["username"] == r.username and data["allowed"] == r.allowed
        assert data["request_id"] == rid and data["keys"] == r.keys
    assert all({"HB-16", "BJ-17", "CN-20"} <= set(r.keys) for r in recs[:2])
    assert recs[-1].outcome_seq is not None and entries[recs[-1].outcome_seq].kind == "access.outcome"
    kinds = [e.kind for _, e in sorted(entries.items())]
    for kind in ("request.created", "document", "request.document", "request.submitted", "request.decided"):
        assert kind in kinds, kind
    assert kinds.count("request.officer") == 2


def test_an_overlapping_shift_is_refused_and_an_incident_puts_footage_on_hold(
    browser: Any, served: tuple[Deployment, str]
) -> None:
    dep, url = served
    admin = open_as(browser, url, "admin", "duties")
    admin.fill("#personnel-form input[name=full_name]", "Wang Fang")
    admin.fill("#personnel-form input[name=post]", "monitoring")
    admin.fill("#personnel-form input[name=trained_on]", "2025-03-01")
    admin.fill("#personnel-form input[name=training_ref]", "T-1")
    admin.click("#personnel-form button[type=submit]")
    admin.wait_for_selector("#duties-personnel td:has-text('Wang Fang')")
    # Her vetting (CN-16) is recorded from her row.
    admin.fill("#duties-personnel form.vetting input[name=vetted_on]", "2025-02-01")
    admin.fill("#duties-personnel form.vetting input[name=vetting_ref]", "V-7")
    admin.click("#duties-personnel form.vetting button[type=submit]")
    admin.wait_for_selector("#duties-personnel td:has-text('2025-02-01 (V-7)')")
    admin.wait_for_selector("#shift-form select[name=personnel_id] option:has-text('Wang Fang')", state="attached")

    start = dt.datetime.now(CHINA).replace(hour=1, minute=0, second=0, microsecond=0)  # in this week's view
    admin.fill("#shift-form input[name=post]", "monitoring room")
    admin.fill("#shift-form input[name=start]", local(start))
    admin.fill("#shift-form input[name=end]", local(start + dt.timedelta(hours=8)))
    admin.click("#shift-form button[type=submit]")
    admin.wait_for_selector("#duties-roster td:has-text('monitoring room')")
    admin.fill("#shift-form input[name=post]", "gate")
    admin.fill("#shift-form input[name=start]", local(start + dt.timedelta(hours=7)))
    admin.fill("#shift-form input[name=end]", local(start + dt.timedelta(hours=12)))
    admin.click("#shift-form button[type=submit]")
    assert "HB-17.1" in keys_shown(admin, "#shift-form .error")
    assert "is on shift" in admin.inner_text("#shift-form .error")
    assert admin.locator("#duties-roster td:has-text('gate')").count() == 0

    # An incident report: the footage of both cameras goes on hold, and the holds list shows it.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    admin.check("#incident-form input[name=camera_ids] >> nth=0")
    admin.check("#incident-form input[name=camera_ids] >> nth=1")
    admin.fill("#incident-form input[name=start]", local(now - dt.timedelta(minutes=20)))
    admin.fill("#incident-form input[name=end]", local(now - dt.timedelta(minutes=5)))
    admin.fill("#incident-form textarea[name=description]", "a man tried the school gate's lock")
    admin.click("#incident-form button[type=submit]")
    admin.wait_for_selector("#incident-result li[data-hold] >> nth=1")
    assert admin.locator("#incident-result li[data-hold]").count() == 2
    held = admin.inner_text("#duties-holds")
    assert "cam01" in held and "cam02" in held and "a man tried the school gate's lock" in held
    # Each hold names the report that placed it and the articles it keeps the footage under.
    report = admin.get_attribute("#duties-holds .hold-report >> nth=0", "data-report")
    assert admin.locator(f'#duties-holds .hold-report[data-report="{report}"]').count() == 2
    assert {"HB-17.5", "HB-17.6", "BJ-13.1"} <= set(admin.inner_text("#duties-holds td .keys >> nth=0").split(", "))
    assert admin.locator("#duties-holds form.release").count() == 2
    admin.context.close()
    with dep.db.session() as s:
        holds = list(s.scalars(select(Hold)))
    assert len(holds) == 2 and all(h.reason.startswith("incident report ") for h in holds)
    assert {h.retention_class for h in holds} == {"serious"}
