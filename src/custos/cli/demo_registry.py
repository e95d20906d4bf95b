"""The demo's registry: the school filed with the demo PSB, its sites, its cameras registered with
position, view and signs and put into use, the initial filing, a trained operator on the roster and a
safety inspection; so that the console's registry and findings show a unit that keeps its duties.
Made once, through the same functions (and refusals) as a real deployment, in the admin's name."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from custos.auth.sessions import authenticate, login
from custos.catalog.models import Camera, Site, Unit
from custos.context import Context
from custos.registry import cameras, duties, filings, sites, units

# The school's grounds in metres on a local grid, and where its sites are.
BOUNDARY = [[0, 0], [200, 0], [200, 120], [0, 120]]
SITES = [  # name, category, part, system class, camera position
    ("Main gate", "school", "entrance", "operator_built", (100, 5)),
    ("Corridor A", "school", "main_channel", "operator_built", (60, 60)),
    ("Records room", "school", "key_part", "operator_built", (160, 90)),
]


def seed_registry(ctx: Context, school: str, psb: str, admin: tuple[str, str]) -> None:
    with ctx.db.session() as s:
        unit = s.scalar(select(Unit).where(Unit.name == school))
        assert unit is not None
        if s.scalar(select(Site.id).where(Site.unit_id == unit.id)) is not None:
            return
        psb_unit = s.scalar(select(Unit).where(Unit.name == psb))
        assert psb_unit is not None
        units.configure_unit(s, None, psb_unit.id, county="Demo District")
        units.configure_unit(
            s, None, unit.id, psb=psb, county="Demo District", address="1 Demo Road", boundary=BOUNDARY
        )
        unit_id = unit.id
    token = login(ctx.db, ctx.settings.auth, admin[0], admin[1], client_address="demo setup").token
    now = dt.datetime.now(dt.UTC)
    with ctx.db.session() as s:
        who = authenticate(s, token)
        made = [
            sites.add_site(s, ctx.policy, who, unit_id=unit_id, name=n, category=c, part=p, system_class=k)
            for n, c, p, k, _ in SITES
        ]
        cams = list(s.scalars(select(Camera).where(Camera.unit_id == unit_id).order_by(Camera.name)))
        for i, cam in enumerate(cams):
            site = made[i % len(made)]
            x, y = SITES[i % len(SITES)][4]
            x, y = x + 3 * (i // len(SITES)), y
            view = [[x, y], [max(x - 25, 1), min(y + 40, 119)], [min(x + 25, 199), min(y + 40, 119)]]
            reg = cameras.register_camera(
                s, ctx.policy, who, unit_id=unit_id, name=cam.name, url=cam.url, site_id=site.id,
                kind="bullet" if i % 2 == 0 else "dome", position=[x, y], heading_deg=0.0, fov=view, signage=True,
            )  # fmt: skip
            cameras.activate_camera(s, ctx.policy, who, reg.id, in_use_since=now - dt.timedelta(days=2))
        filings.submit_filing(s, ctx.policy, who, unit_id=unit_id, kind="initial", note="demo: the initial filing")
        op = duties.add_personnel(
            s, ctx.policy, who, unit_id=unit_id, full_name="Demo Operator", post="monitoring",
            vetted_on=(now - dt.timedelta(days=40)).date(), vetting_ref="demo vetting 1",
            trained_on=(now - dt.timedelta(days=30)).date(), training_ref="demo training course 1",
        )  # fmt: skip
        duties.add_shift(
            s, ctx.policy, who, unit_id=unit_id, personnel_id=op.id, post="monitoring room",
            start_utc=now - dt.timedelta(hours=1), end_utc=now + dt.timedelta(hours=11),
        )  # fmt: skip
        filings.submit_filing(s, ctx.policy, who, unit_id=unit_id, kind="personnel", note="demo: monitoring staff")
        duties.record_inspection(
            s, ctx.policy, who, unit_id=unit_id, kind="safety", performed_at=now - dt.timedelta(days=1),
            performed_by="Demo Unit Admin", result="all cameras in place, signs visible, recorder running",
        )  # fmt: skip
