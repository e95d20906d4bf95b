"""Configuration changes in the ledger: when a deployment starts with settings or policy packs that differ
from the last ones recorded, the new ones are entered (credentials in URLs redacted), so an inspector
sees when retention or the packs in force changed, and by which start."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import LedgerEntry
from custos.config.settings import Settings
from custos.ingest.urls import redact
from custos.ledger import log
from custos.ledger.log import canonical
from custos.policy import Policy


def _settings_view(settings: Settings, policy: Policy) -> dict[str, Any]:
    d: dict[str, Any] = json.loads(settings.model_dump_json())
    if d.get("database_url"):
        d["database_url"] = redact(d["database_url"])
    d["policy_in_force"] = {
        "packs": list(policy.ids),
        "retention_days": {c: policy.retention_days(c).value for c in policy.retention_classes()},
    }
    return d


def record_configuration(db: Database, settings: Settings, policy: Policy, *, by: str) -> bool:
    """Enter the configuration if it changed since the last `config` entry; True if an entry was made."""
    view = _settings_view(settings, policy)
    digest = hashlib.sha256(canonical(view)).hexdigest()
    with db.session() as s:
        log.lock(s)
        last = s.scalar(
            select(LedgerEntry.data).where(LedgerEntry.kind == "config").order_by(LedgerEntry.seq.desc()).limit(1)
        )
        if last is not None and json.loads(last).get("sha256") == digest:
            return False
        log.append(s, "config", {"settings": view, "sha256": digest, "by": by})
    return True
