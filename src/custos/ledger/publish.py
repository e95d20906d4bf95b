"""Signed tree heads: sign the ledger's head as a C2SP checkpoint, keep it in the catalog and append it
to the witness file outside the data folder, at an interval and on demand.

The public half of the key is written beside it as a C2SP verifier key (`ledger.pub`), which an
inspector copies once and then checks every tree head and export against, offline.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from pathlib import Path

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import TreeHead
from custos.config.settings import Settings
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.ledger.checkpoint import Checkpoint
from custos.ledger.keys import SigningKey, VerifierKey, load_or_create_key
from custos.ledger.witness import Witness

_log = logging.getLogger(__name__)


def origin_of(settings: Settings) -> str:
    return settings.ledger.origin or f"custos/{settings.data_dir.resolve().name}"


def verifier_path(settings: Settings) -> Path:
    return settings.key_file.with_suffix(".pub")


def load_verifier(settings: Settings, vkey: str | None = None) -> VerifierKey:
    """The verifier key an inspector gave (`vkey`), else the one written beside the signing key."""
    if vkey is None:
        path = verifier_path(settings)
        try:
            vkey = path.read_text().strip()
        except FileNotFoundError:
            raise CustosError(
                Kind.NOT_FOUND, f"no verifier key at {path}: pass the deployment's key with --vkey"
            ) from None
    return VerifierKey.parse(vkey)


def _warn_if_beside(settings: Settings) -> None:
    """The witness is worth most on another disk or host: say so when it shares the data folder's."""
    try:
        data_dev = os.stat(settings.data_dir).st_dev
        witness_dir = settings.witness_file.parent
        same = witness_dir.exists() and os.stat(witness_dir).st_dev == data_dev
    except OSError:
        return
    if same:
        _log.warning(
            "the witness file %s is on the same file system as the data folder %s: put it on another disk or "
            "host (ledger.witness_file), so that a rollback of both together is still detected",
            settings.witness_file,
            settings.data_dir,
        )


class Publisher:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.key: SigningKey = load_or_create_key(settings.key_file, origin_of(settings))
        self.verifier = self.key.verifier()
        pub = verifier_path(settings)
        if pub.exists():
            if pub.read_text().strip() != self.key.verifier_key():
                raise CustosError(
                    Kind.FAILED_PRECONDITION,
                    f"{pub} does not match the signing key {settings.key_file}: which one is ours?",
                )
        else:
            pub.write_text(self.key.verifier_key() + "\n")
        self.witness = Witness(settings.witness_file)
        _warn_if_beside(settings)
        self.interval_s = settings.ledger.checkpoint_interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def publish(self, *, force: bool = False) -> TreeHead | None:
        """Sign the current head if it grew since the last one (or always, with `force`); None if not."""
        with self.db.session() as s:
            log.lock(s)  # the head cannot move, and a second publisher waits: tree heads reach the witness in order
            head = log.head(s)
            last = s.scalar(select(TreeHead).order_by(TreeHead.size.desc(), TreeHead.id.desc()).limit(1))
            if head.size == 0 or (not force and last is not None and last.size == head.size):
                return None
            now = dt.datetime.now(dt.UTC)
            note = Checkpoint(self.key.name, head.size, head.root).sign(self.key)
            self.witness.append(note, self.verifier)
            th = TreeHead(size=head.size, root=head.root.hex(), signed_at=now, checkpoint=note)
            s.add(th)
        return th

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="tree-heads", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.publish()
            except Exception:
                _log.exception("could not publish a tree head")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.publish()
        except Exception:
            _log.exception("could not publish the last tree head")
