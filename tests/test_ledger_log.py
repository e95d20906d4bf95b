"""The persistent ledger: entries commit with their transaction or not at all, sequence numbers stay
gapless under concurrent appenders, and the stored tree matches RFC 6962 and its proofs, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from custos.catalog.db import Database
from custos.errors import CustosError, Kind
from custos.ledger import log, merkle


def test_entries_commit_with_their_transaction_or_not_at_all(db: Database) -> None:
    with db.session() as s:
        e = log.append(s, "test", {"n": 1})
    assert e.seq == 0
    with pytest.raises(RuntimeError), db.session() as s:
        log.append(s, "test", {"n": 2})
        raise RuntimeError("the catalog change failed")
    with db.session() as s:
        e3 = log.append(s, "test", {"n": 3})
    assert e3.seq == 1, "a rolled-back entry leaves no gap"
    with db.session() as s:
        assert [x.fields()["n"] for x in log.entries(s)] == [1, 3]
        assert log.head(s).size == 2


def test_concurrent_appenders_get_gapless_sequence_numbers(db: Database) -> None:
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            for i in range(25):
                with db.session() as s:
                    log.append(s, "test", {"w": w, "i": i})
                    log.append(s, "test", {"w": w, "i": i, "second": True})
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        entries = list(log.entries(s))
        head = log.head(s)
    assert [e.seq for e in entries] == list(range(200)) and head.size == 200
    # Both entries of a transaction are adjacent: nobody appended between them.
    for a, b in zip(entries[::2], entries[1::2], strict=True):
        fa, fb = a.fields(), b.fields()
        assert (fa["w"], fa["i"]) == (fb["w"], fb["i"]) and fb["second"]
    leaves = [merkle.leaf_hash(e.data) for e in entries]
    assert leaves == [e.leaf_hash for e in entries]
    assert merkle.root_hash(leaves) == head.root


def test_proofs_from_the_store_verify(db: Database) -> None:
    with db.session() as s:
        for i in range(37):
            log.append(s, "test", {"i": i})
    with db.session() as s:
        leaves = [e.leaf_hash for e in log.entries(s)]
        for size in (1, 2, 13, 36, 37):
            root = log.root_at(s, size)
            assert root == merkle.root_hash(leaves[:size])
            for seq in {0, size // 2, size - 1}:
                merkle.verify_inclusion(seq, size, leaves[seq], log.prove_inclusion(s, seq, size), root)
        merkle.verify_consistency(13, 37, log.root_at(s, 13), log.root_at(s, 37), log.prove_consistency(s, 13, 37))
        with pytest.raises(CustosError) as e:
            log.prove_inclusion(s, 37, 37)
        assert e.value.kind is Kind.INVALID_ARGUMENT
        with pytest.raises(CustosError) as e:
            log.prove_consistency(s, 5, 38)
        assert e.value.kind is Kind.INVALID_ARGUMENT and "outside the ledger" in e.value.message


def test_entries_are_canonical_and_refuse_what_cannot_be_replayed(db: Database) -> None:
    import datetime as dt

    with db.session() as s:
        e = log.append(s, "test", {"b": 1, "a": "é", "t": dt.datetime(2026, 11, 23, 8, tzinfo=dt.UTC)})
    assert e.data.startswith(b'{"a":"\xc3\xa9","at":"') and b'"t":"2026-11-23T08:00:00Z"' in e.data
    with pytest.raises(ValueError, match="naive"), db.session() as s:
        log.append(s, "test", {"t": dt.datetime(2026, 11, 23, 8)})
    with pytest.raises(ValueError, match="may not be named"), db.session() as s:
        log.append(s, "test", {"seq": 5})


def test_configuration_changes_are_entered_once_each_without_passwords(db: Database, tmp_path: object) -> None:
    import json

    from custos.config import load_settings
    from custos.ledger.config_record import record_configuration
    from custos.policy import load_policy

    s1 = load_settings(data_dir=tmp_path, database_url="postgresql+psycopg://custos:s3cret@db/custos")
    assert record_configuration(db, s1, load_policy(["CN"]), by="test")
    assert not record_configuration(db, s1, load_policy(["CN"]), by="test")  # unchanged: nothing new
    assert record_configuration(db, s1, load_policy(["CN", "HB"]), by="test")
    with db.session() as s:
        configs = [e for e in log.entries(s) if e.kind == "config"]
    assert len(configs) == 2 and b"s3cret" not in configs[0].data
    second = json.loads(configs[1].data)["settings"]["policy_in_force"]
    assert second == {"packs": ["CN", "HB"], "retention_days": {"standard": 30, "serious": 731}}
