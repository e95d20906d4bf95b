"""Making file-system changes survive a crash: fsync a folder after changing its entries, and create
folders so that each new entry is on disk before anything inside it is relied upon."""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def makedirs_durable(path: Path, *, stop: Path | None = None, mode: int = 0o777) -> None:
    """Create `path` and its missing parents (up to `stop`), fsyncing each parent whose entries changed."""
    missing: list[Path] = []
    p = path
    while not p.exists() and p != stop:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode)
        except FileExistsError:
            pass
        fsync_dir(d.parent)
