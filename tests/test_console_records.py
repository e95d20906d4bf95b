"""The Access records tab in a real browser (Debian's Chromium), as an inspector: records made through the
gate (allowed and refused) are listed and filtered, and Verify checks one in the browser against the signed
ledger (the key, the tree head's signature, the leaf hash, the inclusion proof, every field shown). A catalog
row edited in the database, or a ledger entry's data, then fails, naming the step (HB-17.3, HB-18.4, CN-16)."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, text

from custos.catalog.db import Database
from custos.catalog.models import AccessRecord, TreeHead
from custos.errors import CustosError
from custos.gate import AccessRequest, Mode
from custos.ledger.keys import SigningKey
from custos.web.app import create_app

from browser import chromium, log_in, serve
from deployment import PASSWORD, Deployment, Recorded, make_deployment


@dataclasses.dataclass
class Served:
    dep: Deployment
    url: str
    ids: dict[str, int]  # which record is which: allowed, refused, edited_row, edited_entry


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def access(dep: Deployment, who: str, **kw: Any) -> int:
    """One access through the gate (a clip of cam01 when allowed); the record's id."""
    assert dep.start_utc and dep.end_utc
    fields: dict[str, Any] = dict(
        mode=Mode.PLAYBACK,
        cameras=("cam01",),
        purpose="check of the school gate after a reported fight",
        start_utc=dep.start_utc,
        end_utc=dep.end_utc,
        client_address="10.0.0.7",
    )
    fields.update(kw)
    try:
        with dep.ctx.gate.open(dep.tokens[who], AccessRequest(**fields)) as grant:
            grant.clip("cam01", io.BytesIO())
    except CustosError:
        pass  # refused, and recorded
    with dep.db.session() as s:
        return int(s.scalar(select(func.max(AccessRecord.id))))


@pytest.fixture
def served(tmp_path: Path, db: Database, recorded: Recorded) -> Iterator[Served]:
    dep = make_deployment(tmp_path, db, recorded)
    ids = {
        "allowed": access(dep, "op"),
        "refused": access(dep, "op2"),  # another unit's camera
        "edited_row": access(dep, "op", purpose="looking for the lost bicycle 寻找丢失的自行车"),
        "edited_entry": access(dep, "admin", mode=Mode.EXPORT),  # refused: names no destination
    }
    dep.ctx.gate.flush()  # the outcomes, in the ledger and on the rows
    with serve(create_app(dep.ctx)) as url:
        yield Served(dep, url, ids)


def verify(page: Any, record_id: int) -> tuple[bool, str, str]:
    """Click Verify on a record; (passed, the verdict shown, the step that failed)."""
    page.click(f'button.verify[data-record="{record_id}"]')
    sel = f'.verdict[data-record="{record_id}"]'
    page.wait_for_selector(f"{sel}.ok, {sel}.bad", timeout=15_000)
    el = page.query_selector(sel)
    return "ok" in el.get_attribute("class").split(), el.inner_text(), el.get_attribute("data-step") or ""


def search(page: Any, **filters: str) -> list[int]:
    """Fill the filter form, search, and wait for the list: the record ids shown."""
    for name, value in filters.items():
        sel = f'#records-filters [name="{name}"]'
        if page.eval_on_selector(sel, "e => e.tagName") == "SELECT":
            page.select_option(sel, value)
        else:
            page.fill(sel, value)
    # The list's content is replaced when the answer comes: mark what is there now and wait for it to go.
    page.evaluate("() => { const e = document.querySelector('#records-list > *'); if (e) e.dataset.stale = '1'; }")
    page.click("#records-filters button[type=submit]")
    page.wait_for_selector("#records-list > *:not([data-stale])")
    return [int(x) for x in page.eval_on_selector_all("button.verify", "bs => bs.map(b => b.dataset.record)")]


def test_an_inspector_verifies_records_in_the_browser_and_sees_edits(browser: Any, served: Served) -> None:
    dep, ids = served.dep, served.ids
    assert dep.ctx.publisher is not None
    key = dep.ctx.publisher.key
    with dep.db.session() as s:
        assert s.scalar(select(func.count()).select_from(TreeHead)) == 0  # the console signs the first itself
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, served.url, "inspector", PASSWORD)
    page.click("#tabs button[data-tab=records]")
    page.wait_for_selector(f'button.verify[data-record="{ids["allowed"]}"]')
    page.wait_for_selector("#records-keyinfo[data-keyhash]")

    # The key, to compare with the one handed over: as ledger.pub holds it, with its key hash.
    assert page.inner_text("#records-vkey") == key.verifier_key()
    assert page.get_attribute("#records-keyinfo", "data-keyhash") == key.key_id.hex()
    assert sorted(search(page)) == sorted(ids.values())
    row = page.inner_text(f'tr:has(button.verify[data-record="{ids["edited_row"]}"])')
    assert "looking for the lost bicycle 寻找丢失的自行车" in row and "Wang Fang (op)" in row and "completed" in row

    # An allowed record (and its outcome) and a refused one prove against the tree head the console signed.
    ok, verdict, _ = verify(page, ids["allowed"])
    with dep.db.session() as s:
        size = s.scalar(select(TreeHead.size))
    assert ok, verdict
    assert f"included in the signed tree of {size} entries" in verdict and f"signature by {key.name} valid" in verdict
    assert page.get_attribute("#records-proof li[data-step=outcome]", "class") == "ok"
    ok, verdict, _ = verify(page, ids["refused"])
    assert ok and f"signed tree of {size} entries" in verdict, verdict

    # A key that is not the deployment's: the tree head carries no signature by it.
    other = SigningKey(key.name, Ed25519PrivateKey.generate()).verifier_key()
    page.fill("#records-trusted-key", other)
    page.wait_for_selector("#records-trusted-note.bad")
    ok, verdict, step = verify(page, ids["allowed"])
    assert not ok and step == "signature" and "no signature by" in verdict, verdict
    page.fill("#records-trusted-key", key.verifier_key())  # the one handed over: the same as the server's
    page.wait_for_selector("#records-trusted-note.ok")
    assert verify(page, ids["allowed"])[0]

    # Someone with the database edits a catalog row, and the stored data of a ledger entry.
    rec = ids["edited_row"]
    with dep.db.session() as s:
        s.execute(
            text("UPDATE access_record SET purpose = 'routine check', bytes_served = 1 WHERE id = :id"), {"id": rec}
        )
        seq = s.scalar(select(AccessRecord.seq).where(AccessRecord.id == ids["edited_entry"]))
        s.execute(
            text(
                'UPDATE ledger_entry SET data = replace(data, \'"username":"admin"\', \'"username":"op"\') WHERE seq = :s'
            ),
            {"s": seq},
        )
    assert sorted(search(page)) == sorted(ids.values())
    assert "routine check" in page.inner_text(f'tr:has(button.verify[data-record="{rec}"])')
    ok, verdict, step = verify(page, rec)
    assert not ok and step == "record" and "purpose" in verdict, verdict
    diffs = page.inner_text("#records-proof li[data-step=record]")
    assert "routine check" in diffs and "looking for the lost bicycle" in diffs  # the row, and what the ledger says
    marked = page.eval_on_selector_all(
        f'tr:has(button.verify[data-record="{rec}"]) td[data-differs]', "ts => ts.map(t => t.innerText)"
    )
    assert marked == ["routine check", "1"]  # the cells that differ: the purpose, the bytes
    assert page.get_attribute("#records-proof li[data-step=outcome]", "class") == "bad"
    assert "bytes_served" in page.inner_text("#records-proof li[data-step=outcome]")
    ok, verdict, step = verify(page, ids["edited_entry"])
    assert not ok and step == "leaf" and "changed after it was entered" in verdict, verdict
    assert verify(page, ids["allowed"])[0] and verify(page, ids["refused"])[0]  # the others still hold

    # Filters: refused ones, one person's, a mode.
    assert sorted(search(page, allowed="false")) == sorted([ids["refused"], ids["edited_entry"]])
    assert sorted(search(page, allowed="", username="op")) == sorted([ids["allowed"], ids["edited_row"]])
    assert search(page, username="", mode="export") == [ids["edited_entry"]]
    assert search(page, mode="", camera="cam02") == []
    assert page.inner_text("#records-count") == "0–0 / 0"

    # A forged second row for an access the ledger recorded once (a copy of a true one) fails it too.
    with dep.db.session() as s:
        orig = s.get(AccessRecord, ids["allowed"])
        columns = [c.key for c in AccessRecord.__table__.columns if c.key != "id"]
        s.add(AccessRecord(**{c: getattr(orig, c) for c in columns}))
    assert len(search(page, camera="")) == len(ids) + 1
    ok, verdict, step = verify(page, ids["allowed"])
    assert not ok and step == "record" and "claim the same entry" in page.inner_text("#records-proof"), verdict
    assert errors == []
    page.close()
