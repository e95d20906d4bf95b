"""What every command needs: the settings, the catalog (migrated) and the storage, built once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custos.catalog.db import Database
from custos.config import Settings, load_settings
from custos.storage import LocalStorage


@dataclass
class Context:
    settings: Settings
    db: Database
    storage: LocalStorage


def open_context(config: Path | None, data: Path | None, **overrides: Any) -> Context:
    if data is not None:
        overrides["data_dir"] = data
    settings = load_settings(config, **overrides)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    return Context(settings, db, LocalStorage(settings.footage_root))
