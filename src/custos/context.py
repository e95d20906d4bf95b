"""What every command needs: the settings, the catalog (migrated), the storage, the policy in force and
the gate, built once."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custos.catalog.db import Database
from custos.config import Settings, load_settings
from custos.gate import Gate
from custos.ledger.publish import Publisher
from custos.policy import Policy, load_policy
from custos.storage import LocalStorage


def policy_of(settings: Settings) -> Policy:
    packs: list[str | Path] = list(settings.policy.packs)
    if settings.policy.local_pack is not None:
        packs.append(settings.policy.local_pack)
    return load_policy(packs)


@dataclass
class Context:
    settings: Settings
    db: Database
    storage: LocalStorage
    policy: Policy
    publisher: Publisher | None = None  # the long-running process that signs tree heads has one
    gate: Gate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = Gate(self.db, self.storage, self.policy)


def open_context(config: Path | None, data: Path | None, *, publish: bool = False, **overrides: Any) -> Context:
    if data is not None:
        overrides["data_dir"] = data
    settings = load_settings(config, **overrides)
    policy = policy_of(settings)  # a bad pack is refused before anything is created
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    ctx = Context(settings, db, LocalStorage(settings.footage_root), policy)
    if publish:
        ctx.publisher = Publisher(db, settings)
    return ctx
