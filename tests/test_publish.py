"""Signing tree heads: only when the ledger grew, the same head in the catalog and the witness file, the
public key beside the private one, and a warning when the witness shares the data folder's disk."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import TreeHead
from custos.config import load_settings
from custos.errors import CustosError
from custos.ledger import log
from custos.ledger.checkpoint import Checkpoint
from custos.ledger.publish import Publisher, load_verifier


def test_heads_are_signed_when_the_ledger_grows_and_reach_the_witness(tmp_path: Path, db: Database) -> None:
    settings = load_settings(data_dir=tmp_path / "data", ledger={"witness_file": tmp_path / "w" / "custos.witness"})
    (tmp_path / "data").mkdir()
    pub = Publisher(db, settings)
    assert pub.publish() is None  # an empty ledger has nothing to sign
    with db.session() as s:
        log.append(s, "test", {"n": 1})
    first = pub.publish()
    assert first is not None and pub.publish() is None  # unchanged: no second head
    assert pub.publish(force=True) is not None
    verifier = load_verifier(settings)
    heads = pub.witness.read(verifier)
    with db.session() as s:
        rows = list(s.scalars(select(TreeHead).order_by(TreeHead.id)))
    assert [Checkpoint.parse_signed(r.checkpoint, verifier) for r in rows] == heads and heads[0].size == 1
    # A public key that is not the private key's is refused rather than silently replaced.
    (settings.key_file.with_suffix(".pub")).write_text("custos/other+01020304+AQID\n")
    with pytest.raises(CustosError, match="does not match the signing key"):
        Publisher(db, settings)


def test_a_witness_beside_the_data_folder_is_warned_about(
    tmp_path: Path, sqlite_db: Database, small_tmpfs: Callable[[str], Path], caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "data").mkdir()
    beside = load_settings(data_dir=tmp_path / "data")
    with caplog.at_level(logging.WARNING, logger="custos.ledger.publish"):
        Publisher(sqlite_db, beside)
    assert "same file system as the data folder" in caplog.text
    caplog.clear()
    elsewhere = load_settings(data_dir=tmp_path / "data", ledger={"witness_file": small_tmpfs("1m") / "custos.witness"})
    with caplog.at_level(logging.WARNING, logger="custos.ledger.publish"):
        Publisher(sqlite_db, elsewhere)
    assert "same file system" not in caplog.text
