"""The console's registry, findings and PSB overview tabs in a real browser (Debian's Chromium) against a real
deployment: a unit admin adds a site and registers a camera by clicking on the map, sees it drawn and
activates it; a camera on a forbidden site is refused with its keys on screen (HB-8, CN-8); a filing turns a
camera's deadline from due to filed and the PSB's officer acknowledges it (HB-11, CN-14); the findings and
the overview show what a PSB supervises. One browser and one server for the module; SQLite."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Filing, Person, Site, Unit
from custos.registry import cameras, sites
from custos.registry.units import configure_unit
from custos.web.app import create_app

from browser import chromium, log_in, serve
from deployment import PASSWORD, Deployment, make_deployment

BOUNDARY = [[0, 0], [100, 0], [100, 100], [0, 100]]
SCHOOL = "Riverside School"


@dataclass
class Served:
    dep: Deployment
    url: str
    browser: Any

    def unit_id(self, name: str = SCHOOL) -> int:
        with self.dep.db.session() as s:
            found = s.scalar(select(Unit.id).where(Unit.name == name))
            assert found is not None
            return found

    def site(self, name: str, category: str, system_class: str = "operator_built", **kw: Any) -> int:
        """A site added by the local administrator (a toilet may be registered; a camera on it may not)."""
        with self.dep.db.session() as s:
            return sites.add_site(
                s,
                self.dep.ctx.policy,
                None,
                unit_id=self.unit_id(),
                name=name,
                category=category,
                part="interior",
                system_class=system_class,
                **kw,
            ).id

    def active_camera(self, name: str, site_id: int) -> None:
        """A camera registered, placed, signed and put into use by the local administrator."""
        with self.dep.db.session() as s:
            cam = cameras.register_camera(
                s,
                self.dep.ctx.policy,
                None,
                unit_id=self.unit_id(),
                name=name,
                url=f"rtsp://10.0.0.7/{name}",
                site_id=site_id,
                kind="dome",
                position=[70, 70],
                heading_deg=180.0,
                fov=[[70, 70], [60, 50], [80, 50]],
                signage=True,
            )
            cameras.activate_camera(s, self.dep.ctx.policy, None, cam.id)

    def camera(self, name: str) -> Camera | None:
        with self.dep.db.session() as s:
            cam = s.scalar(select(Camera).where(Camera.name == name))
            if cam is not None:
                s.expunge(cam)
            return cam


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("console_registry")
    db = Database(f"sqlite:///{tmp / 'catalog.db'}")
    db.migrate()
    dep = make_deployment(tmp, db, None)
    with dep.db.session() as s:
        school = s.scalar(select(Unit.id).where(Unit.name == SCHOOL))
        configure_unit(s, None, school, address="1 River Road", boundary=BOUNDARY)
    try:
        with serve(create_app(dep.ctx)) as url, chromium() as browser:
            yield Served(dep, url, browser)
    finally:
        db.dispose()


@contextlib.contextmanager
def logged_in(served: Served, username: str) -> Iterator[Any]:
    """A page of its own browser context (its own session cookie), logged in as `username`."""
    context = served.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("dialog", lambda d: d.accept())
        log_in(page, served.url, username, PASSWORD)
        # The shell opens its first tab after the login shows: a tab clicked before that would be hidden again.
        page.wait_for_selector('#tabs button[data-tab="cameras"].active')
        yield page
    finally:
        context.close()


def open_tab(page: Any, name: str) -> None:
    page.click(f'#tabs button[data-tab="{name}"]')
    page.wait_for_selector(f"#tab-{name}:not([hidden])")


def numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]


def numbers_pairs(text: str) -> list[tuple[float, float]]:
    n = numbers(text)
    return list(zip(n[0::2], n[1::2], strict=True))


class MapFrame:
    """Screen positions of world coordinates, from the map's layout (its box, border and viewBox) and the drawn
    boundary's corners ([0, 100] x [0, 100], y north); not from the stroked shapes' boxes, which Chromium
    inflates by the stroke's miter."""

    def __init__(self, page: Any) -> None:
        m = page.eval_on_selector(
            "#reg-map svg",
            """s => {
              const r = s.getBoundingClientRect(), vb = s.viewBox.baseVal;
              const pts = s.querySelector('polygon.m-boundary').getAttribute('points').trim().split(/\\s+/)
                .map(p => p.split(',').map(Number));
              return {left: r.left + s.clientLeft, top: r.top + s.clientTop, scale: s.clientWidth / vb.width, pts};
            }""",
        )
        self.m = m
        (self.x0, self.y0), _, (self.x1, self.y1), _ = m["pts"]  # world (0, 0), (100, 0), (100, 100), (0, 100)

    def drawn(self, vx: float, vy: float) -> tuple[float, float]:
        """A point of the drawing (viewBox units) on the screen."""
        return self.m["left"] + vx * self.m["scale"], self.m["top"] + vy * self.m["scale"]

    def screen(self, x: float, y: float) -> tuple[float, float]:
        return self.drawn(self.x0 + (self.x1 - self.x0) * x / 100, self.y0 + (self.y1 - self.y0) * y / 100)


def near(a: tuple[float, float], b: tuple[float, float], px: float = 1.5) -> bool:
    return abs(a[0] - b[0]) < px and abs(a[1] - b[1]) < px


def test_admin_adds_a_site_registers_a_camera_by_clicking_on_the_map_and_activates_it(served: Served) -> None:
    with logged_in(served, "admin") as page:
        open_tab(page, "registry")
        page.wait_for_selector("#reg-register")  # shown once the unit's registry is in
        assert "1 River Road" in page.inner_text("#reg-unit")
        assert "Jianghan PSB" in page.inner_text("#reg-unit")  # the unit's data names its PSB

        page.click("#reg-add-site")
        # The categories are the server's, each with what the packs in force say of it.
        toilet = page.inner_text('#reg-site-form select[name=category] option[value="toilet"]')
        assert "toilet 厕所" in toilet and "forbidden" in toilet
        page.select_option("#reg-site-form select[name=category]", "public_road")
        assert page.inner_text("#reg-category-says").startswith("no list")  # BJ-7 is not in force (CN + HB)
        page.fill("#reg-site-form input[name=name]", "Main gate")
        page.select_option("#reg-site-form select[name=category]", "school")
        page.select_option("#reg-site-form select[name=part]", "entrance")
        page.select_option("#reg-site-form select[name=system_class]", "operator_built")
        page.click("#reg-site-form button[type=submit]")
        page.wait_for_selector('#reg-sites tr[data-site="Main gate"]')

        page.click("#reg-register")
        form = "#reg-camera-form"
        page.fill(f"{form} input[name=name]", "gate01")
        page.fill(f"{form} input[name=url]", "rtsp://viewer:s3cret@10.0.0.9:554/gate01")
        page.select_option(f"{form} select[name=site_id]", label="Main gate · school 学校")
        page.fill(f"{form} input[name=kind]", "bullet")
        frame = MapFrame(page)
        # The position is the map's target as the form opens: one click sets it.
        page.mouse.click(*frame.screen(30, 40))
        x, y = numbers(page.input_value(f"{form} input[name=position]"))
        assert abs(x - 30) < 0.5 and abs(y - 40) < 0.5
        page.wait_for_selector("#reg-map g.m-draft circle.m-pos")
        # The heading by a click east of the camera, then three corners of the view.
        page.click("#reg-pick-heading_deg")
        page.mouse.click(*frame.screen(60, 40))
        assert abs(float(page.input_value(f"{form} input[name=heading_deg]")) - 90) < 1.5
        page.fill(f"{form} input[name=heading_deg]", "90")
        page.click("#reg-pick-fov")
        for point in [(30, 40), (60, 30), (60, 50)]:
            page.mouse.click(*frame.screen(*point))
        assert len(numbers(page.input_value(f"{form} textarea[name=fov]"))) == 6
        page.check(f"{form} input[name=signage]")
        page.click("#reg-camera-submit")

        row = '#reg-cameras tr[data-camera="gate01"]'
        page.wait_for_selector(row)
        assert "registered" in page.inner_text(row)
        drawn = '#reg-map g.m-camera[data-camera="gate01"]'
        page.wait_for_selector(f'{drawn}[data-status="registered"]')
        frame = MapFrame(page)
        dot = page.locator(f"{drawn} circle.m-pos")
        centre = frame.drawn(float(dot.get_attribute("cx")), float(dot.get_attribute("cy")))
        assert near(centre, frame.screen(30, 40)), centre
        box = dot.bounding_box()  # the rendered dot, centred where it was clicked
        assert near((box["x"] + box["width"] / 2, box["y"] + box["height"] / 2), frame.screen(30, 40))
        corners = [frame.drawn(*p) for p in numbers_pairs(page.get_attribute(f"{drawn} polygon.m-fov", "points"))]
        assert len(corners) == 3
        assert all(near(c, frame.screen(*w)) for c, w in zip(corners, [(30, 40), (60, 30), (60, 50)], strict=True))
        arrow = page.eval_on_selector(
            f"{drawn} line.m-heading", "l => ['x1','y1','x2','y2'].map(a => +l.getAttribute(a))"
        )
        assert arrow[2] - arrow[0] > 20 and abs(arrow[3] - arrow[1]) < 1  # pointing east on screen
        assert page.locator("#reg-legend").inner_text().count("Field of view") == 1

        cam = served.camera("gate01")
        assert cam is not None and cam.status == "registered" and cam.registration == 1
        assert cam.position is not None and abs(cam.position[0] - 30) < 0.5 and abs(cam.position[1] - 40) < 0.5
        assert cam.heading_deg == 90 and cam.signage and cam.kind == "bullet" and len(cam.fov or []) == 3

        page.click(f"{row} .reg-do-activate")
        page.wait_for_selector(f'{drawn}[data-status="active"]')
        page.wait_for_selector('#reg-deadlines tr[data-camera="gate01"] .deadline[data-status="due"]')
        assert "due in 30 days" in page.inner_text('#reg-deadlines tr[data-camera="gate01"]')
        assert "HB-11" in page.inner_text('#reg-deadlines tr[data-camera="gate01"] .keys')
    assert served.camera("gate01").status == "active"


def test_a_camera_on_a_forbidden_site_is_refused_with_its_keys_on_screen(served: Served) -> None:
    served.site("Staff toilet", "toilet")
    with logged_in(served, "admin") as page:
        open_tab(page, "registry")
        page.wait_for_selector("#reg-register")  # shown once the unit's registry is in
        page.click("#reg-register")
        form = "#reg-camera-form"
        page.fill(f"{form} input[name=name]", "wc01")
        page.fill(f"{form} input[name=url]", "rtsp://10.0.0.9/wc01")
        page.select_option(f"{form} select[name=site_id]", label="Staff toilet · toilet 厕所")
        page.mouse.click(*MapFrame(page).screen(80, 80))
        page.fill(f"{form} input[name=heading_deg]", "0")
        page.fill(f"{form} textarea[name=fov]", "80,80 75,90 85,90")
        page.click("#reg-camera-submit")
        page.wait_for_selector(f"{form} .error .keys")
        keys = page.inner_text(f"{form} .error .keys")
        detail = page.inner_text(f"{form} .error .detail")
    assert {"HB-8", "CN-8"} <= set(keys.split(", ")), keys
    assert "forbidden" in detail and "toilet" in detail
    assert served.camera("wc01") is None


def test_a_filing_turns_due_into_filed_and_the_officer_acknowledges_receipt(served: Served) -> None:
    served.active_camera("hall01", served.site("Hall", "lobby"))
    deadline = '#reg-deadlines tr[data-camera="hall01"] .deadline'
    with logged_in(served, "admin") as page:
        open_tab(page, "registry")
        page.wait_for_selector(f'{deadline}[data-status="due"]')
        assert re.search(r"due in (29|30) days", page.inner_text(deadline))

        # Dismantling before its filing is refused, in the camera's row, with HB-11.
        row = '#reg-cameras tr[data-camera="hall01"]'
        page.click(f"{row} .reg-do-dismantle")
        page.wait_for_selector(f"{row} .error .keys")
        assert "HB-11" in page.inner_text(f"{row} .error .keys")

        page.select_option("#reg-file-form select[name=kind]", "initial")
        page.fill("#reg-file-form input[name=note]", "all cameras of the school")
        page.click("#reg-file")
        page.wait_for_selector(f'{deadline}[data-status="filed"]')
        with served.dep.db.session() as s:
            filing_id = s.scalar(select(Filing.id).where(Filing.kind == "initial"))
        filed = f'#reg-filings-table tr[data-filing="{filing_id}"]'
        page.wait_for_selector(f'{filed} .filing-status[data-status="awaiting"]')
        assert "hall01" in page.inner_text(filed)
        pdf = page.request.get(served.url + page.get_attribute(f"{filed} a.form-pdf", "href").lstrip("/"))
        assert pdf.ok and pdf.body().startswith(b"%PDF")
        form = page.request.get(served.url + page.get_attribute(f"{filed} a.form-json", "href").lstrip("/"))
        assert form.ok and json.loads(form.body())["kind"] == "initial"

    with logged_in(served, "officer") as page:
        open_tab(page, "registry")
        page.select_option("#reg-unit-select", label=SCHOOL)
        page.wait_for_selector(f"{filed} .reg-receive")
        assert page.locator("#reg-register").count() == 0  # an officer registers nothing
        page.click(f"{filed} .reg-receive")
        page.wait_for_selector(f'{filed} .filing-status[data-status="received"]')
    with served.dep.db.session() as s:
        f = s.get(Filing, filing_id)
        officer = s.scalar(select(Person.id).where(Person.username == "officer"))
        assert f is not None and f.received_at is not None and f.received_by == officer


def test_findings_and_the_psb_overview(served: Served) -> None:
    school = served.unit_id()
    with logged_in(served, "officer") as page:
        open_tab(page, "findings")
        # cam01 was added to the recorder only: no position, no view, no sign (CN-13, HB-9).
        row = '#fd-table tr[data-code="camera.no_geometry"]'
        page.wait_for_selector(row)
        text = page.inner_text(row)
        assert "camera cam01" in page.inner_text("#fd-table") and "CN-13" in text and "HB-9" in text
        assert "yuan" in text and "HB-20" in text and "[object" not in text  # the packs' penalty ranges
        page.select_option("#fd-severity", "low")
        page.wait_for_selector("#fd-table tr[data-severity]")
        total = int(page.inner_text("#fd-count-total b"))
        assert total >= 1

        open_tab(page, "overview")
        page.wait_for_selector('#ov-table tr[data-unit="Riverside School"]')
        units = page.eval_on_selector_all("#ov-table tbody tr", "rs => rs.map(r => r.dataset.unit)")
        assert units == ["Riverside School", "Harbour Bank"]  # worst first; Wuchang PSB's units never appear
        page.click('#ov-table tr[data-unit="Riverside School"] .ov-unit')
        page.wait_for_selector("#ov-details:not([hidden]) #ov-show-findings")
        page.click("#ov-show-findings")
        page.wait_for_selector("#tab-findings:not([hidden])")
        page.wait_for_function(f"() => document.querySelector('#fd-unit').value === '{school}'")
        page.wait_for_selector("#fd-table tr[data-unit]")
        shown = page.eval_on_selector_all("#fd-table tbody tr", "rs => rs.map(r => r.dataset.unit)")
        assert shown and set(shown) == {"Riverside School"}

    with logged_in(served, "admin") as page:
        open_tab(page, "overview")
        page.wait_for_selector("#ov-msg .keys")
        assert "CN-14" in page.inner_text("#ov-msg .keys")


def test_consent_is_filed_on_a_site_and_a_known_camera_keeps_its_url(served: Served) -> None:
    fence = served.site("North fence", "school", near_classified_unit=True)
    before = served.camera("cam02")
    assert before is not None and before.registration == 0
    with logged_in(served, "admin") as page:
        open_tab(page, "registry")
        row = '#reg-sites tr[data-site="North fence"]'
        page.wait_for_selector(f"{row} .reg-file-consent")
        page.click(f"{row} .reg-file-consent")  # no file chosen: said where it happened
        page.wait_for_selector(f"{row} .error .detail")
        page.set_input_files(
            f"{row} input.reg-consent-file",
            files=[{"name": "consent.pdf", "mimeType": "application/pdf", "buffer": b"%PDF consent of unit 61"}],
        )
        page.click(f"{row} .reg-file-consent")
        page.wait_for_selector(f"{row} .ok:has-text('consent #')")

        # cam02 is the recorder's only: registering it asks for no URL, and the stored one stays.
        cam = '#reg-cameras tr[data-camera="cam02"]'
        page.click(f"{cam} .reg-do-register")
        form = "#reg-camera-form"
        assert page.get_attribute(f"{form} input[name=url]", "required") is None
        page.select_option(f"{form} select[name=site_id]", label="North fence · school 学校")
        page.mouse.click(*MapFrame(page).screen(50, 90))
        page.fill(f"{form} input[name=heading_deg]", "180")
        page.fill(f"{form} textarea[name=fov]", "50,90 40,70 60,70")
        page.click("#reg-camera-submit")
        page.wait_for_selector(f"{cam} .pill.status-registered")
    with served.dep.db.session() as s:
        site = s.get(Site, fence)
        assert site is not None and site.consent_document_id is not None
    after = served.camera("cam02")
    assert after is not None and after.registration == 1 and after.url == before.url and after.site_id == fence
