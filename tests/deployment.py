"""A whole deployment for accountability tests: real recorded footage (recorded once per test session
by the real recorder from the simulator), indexed into the test's own catalog, with units, people
and their sessions, the policy packs, the gate and the tree-head publisher."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from custos.auth import people
from custos.auth.sessions import login
from custos.catalog.db import Database
from custos.catalog.models import Camera, Segment, Unit
from custos.config import Settings, load_settings
from custos.context import Context
from custos.ingest.recovery import recover
from custos.ledger.publish import Publisher
from custos.policy import load_policy
from custos.storage import LocalStorage

from recording import SMALL, recorder_settings, start_recorder

PASSWORD = "correct horse battery staple"
CAMERAS = ("cam01", "cam02")
# username -> (full name, unit, role)
STAFF: dict[str, tuple[str, str, str]] = {
    "op": ("Wang Fang", "Riverside School", "operator"),
    "admin": ("Li Wei", "Riverside School", "unit_admin"),
    "op2": ("Zhao Min", "Harbour Bank", "operator"),
    "officer": ("Chen Jie", "Jianghan PSB", "psb_officer"),
    "approver": ("Liu Yang", "Jianghan PSB", "psb_approver"),
    "inspector": ("Sun Li", "Jianghan PSB", "inspector"),
    "auditor": ("Zhou Qiang", "Jianghan PSB", "auditor"),
    "officer2": ("Huang Lei", "Jianghan PSB", "psb_officer"),
    "far_officer": ("Xu Jing", "Wuchang PSB", "psb_officer"),
    "responder": ("Guo Ming", "Wuhan Emergency Bureau", "authority_officer"),
}
# Cheap hashing for tests only: the hash still verifies with argon2id, at a test's pace.
FAST_HASHING = {"argon2_memory_kib": 1024, "argon2_time_cost": 1}
UNITS = {
    "Riverside School": "using_unit",
    "Harbour Bank": "using_unit",
    "Jianghan PSB": "psb",
    "Wuchang PSB": "psb",
    "Wuhan Emergency Bureau": "authority",
}
# Using unit -> the PSB it files with (HB-11, CN-14); Wuchang PSB supervises none of the test's units.
FILED_WITH = {"Riverside School": "Jianghan PSB", "Harbour Bank": "Jianghan PSB"}
COUNTY = {"Jianghan PSB": "Jianghan District", "Wuchang PSB": "Wuchang District"}


@dataclass(frozen=True)
class Recorded:
    """Footage recorded once: segment files of CAMERAS and the span they cover."""

    root: Path
    start_utc: dt.datetime
    end_utc: dt.datetime


def record_once(folder: Path, seconds: float = 7.0) -> Recorded:
    from custos.sim import CameraSpec, SimCameras

    settings = recorder_settings(folder)
    settings.data_dir.mkdir(parents=True)
    db = Database(settings.db_url)
    db.migrate()
    storage = LocalStorage(settings.footage_root)
    with SimCameras([CameraSpec(c, **SMALL) for c in CAMERAS]) as sim:
        with db.session() as s:
            for c in CAMERAS:
                s.add(Camera(name=c, url=sim.url(c)))
        rec = start_recorder(settings, db, storage)
        try:
            time.sleep(seconds)
        finally:
            rec.stop()
    with db.session() as s:
        span = s.execute(select(Segment.start_utc, Segment.end_utc)).all()
    db.dispose()
    return Recorded(settings.footage_root, min(a for a, _ in span), max(b for _, b in span))


@dataclass
class Deployment:
    ctx: Context
    tokens: dict[str, str] = field(default_factory=dict)
    start_utc: dt.datetime | None = None
    end_utc: dt.datetime | None = None

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def settings(self) -> Settings:
        return self.ctx.settings


def make_deployment(
    tmp_path: Path, db: Database, recorded: Recorded | None, *, packs: tuple[str, ...] = ("CN", "HB"), **overrides: Any
) -> Deployment:
    """`db` is the test's catalog (SQLite or PostgreSQL); footage is copied in and indexed by recovery."""
    data = tmp_path / "data"
    # The settings name the test's own catalog, so that a CLI subprocess finds the same one.
    url = db.url if db.schema is None else f"{db.url}?options=-csearch_path%3D{db.schema}"
    settings = load_settings(
        data_dir=data,
        database_url=url,
        policy={"packs": packs},
        ledger={"witness_file": tmp_path / "witness" / "custos.witness"},
        **{"auth": FAST_HASHING, **overrides},
    )
    data.mkdir(exist_ok=True)
    storage = LocalStorage(settings.footage_root)
    with db.session() as s:
        for name, kind in UNITS.items():
            people.add_unit(s, name, kind)
        ids = {name: id_ for name, id_ in s.execute(select(Unit.name, Unit.id))}
        for name, psb in FILED_WITH.items():
            s.get(Unit, ids[name]).psb_unit_id = ids[psb]
        for name, county in COUNTY.items():
            s.get(Unit, ids[name]).county = county
        school = s.scalar(select(Unit.id).where(Unit.name == "Riverside School"))
        for c in CAMERAS:
            s.add(Camera(name=c, url=f"rtsp://127.0.0.1:9/{c}", unit_id=school))
        for username, (full_name, unit, role) in STAFF.items():
            people.add_person(
                s,
                username=username,
                full_name=full_name,
                unit=unit,
                role=role,
                password=PASSWORD,
                auth=settings.auth,
            )
    dep = Deployment(Context(settings, db, storage, load_policy(list(packs))))
    if recorded is not None:
        shutil.copytree(recorded.root / "objects", storage.root / "objects", dirs_exist_ok=True)
        report = recover(storage, db)
        assert report.problems == [] and report.reindexed, report
        with db.session() as s:
            dep.start_utc, dep.end_utc = s.execute(
                select(Segment.start_utc, Segment.end_utc).order_by(Segment.start_utc)
            ).all()[0]
    dep.ctx.publisher = Publisher(db, settings)
    for username in STAFF:
        dep.tokens[username] = login(db, settings.auth, username, PASSWORD, client_address="127.0.0.1").token
    return dep


def principal_of(dep: Deployment, username: str) -> Any:
    from custos.auth.sessions import authenticate

    with dep.db.session() as s:
        return authenticate(s, dep.tokens[username])


def approved_request(
    dep: Deployment,
    *,
    cameras: tuple[str, ...] = ("cam01",),
    officers: tuple[str, ...] = ("officer", "officer2"),
    approver: str | None = "approver",
    submit: bool = True,
    modes: tuple[str, ...] | None = None,
) -> int:
    """An authority request walked through the workflow (HB-16, BJ-17): officers join with credentials,
    the approval document is attached, then a separate approver approves. Returns its id."""
    from custos.registry import requests as rq
    from custos.registry.documents import store_document

    assert dep.start_utc and dep.end_utc
    first, *others = officers
    with dep.db.session() as s:
        r = rq.create_request(
            s,
            dep.ctx.policy,
            dep.settings.registry,
            principal_of(dep, first),
            kind="authority",
            cameras=cameras,
            start_utc=dep.start_utc - dt.timedelta(minutes=5),
            end_utc=dep.end_utc + dt.timedelta(minutes=5),
            purpose="case 2026-117: theft at the gate",
            legal_basis="PRC Criminal Procedure Law art. 54",
            credential_ref=f"badge {first}",
            modes=modes,
        )
        rid = r.id
        for o in others:
            rq.join_request(s, dep.ctx.policy, principal_of(dep, o), rid, credential_ref=f"badge {o}")
        doc = store_document(
            s,
            dep.ctx.storage,
            principal_of(dep, first),
            kind="approval_document",
            filename="approval.pdf",
            data=b"%PDF-1.4 approval of the Jianghan PSB for case 2026-117",
        )
        rq.attach_approval(s, dep.ctx.policy, principal_of(dep, first), rid, doc.id)
        if submit:
            rq.submit_request(s, dep.ctx.policy, principal_of(dep, first), rid)
            if approver is not None:
                rq.decide_request(
                    s,
                    dep.ctx.policy,
                    dep.settings.registry,
                    principal_of(dep, approver),
                    rid,
                    approve=True,
                    reason="approved for case 2026-117",
                )
    return rid
