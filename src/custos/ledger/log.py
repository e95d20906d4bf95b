"""The persistent ledger: entries appended inside the caller's transaction, hashed into an RFC 6962 tree.

An entry is committed with the catalog change it describes, or not at all: an access record and its
ledger entry, a segment row and its hash, a hold and its reason (DESIGN principle 5: the ledger and the
catalog cannot disagree without `custos verify` saying so).

Appending takes the one-row `ledger_head` lock first (`UPDATE ... SET size = size`), which serialises
appenders on SQLite and PostgreSQL alike, so sequence numbers are gapless and in commit order. Entries
are buffered in the session and written with one `executemany` just before commit, together with the
new head: the tree's right edge (the roots of its complete subtrees), from which the root of every new
size is computed in O(log n) without reading old leaves.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from custos.catalog.models import LedgerEntry, LedgerHead
from custos.catalog.prepared import driver_execute, placeholder
from custos.errors import CustosError, Kind
from custos.ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    inclusion_proofs,
    leaf_hash,
    node_hash,
)

RESERVED = frozenset({"seq", "at", "kind"})
_PENDING = "custos.ledger.pending"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} in a ledger entry")
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | set | frozenset):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} cannot go into a ledger entry")


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The one byte form of an entry: sorted keys, no spaces, UTF-8, UTC times with Z."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode()


def utc_text(value: dt.datetime | None) -> str | None:
    """A time as it appears inside entries, for comparing catalog rows with them."""
    return None if value is None else _default(value)


class Frontier:
    """The right edge of a Merkle tree: (size, root) of its complete subtrees, sizes strictly decreasing."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        sizes = [1 << b for b in range(size.bit_length() - 1, -1, -1) if size >> b & 1]
        if len(sizes) != len(hashes):
            raise CustosError(Kind.DATA_LOSS, f"ledger head is corrupt: size {size} but {len(hashes)} subtree roots")
        self.size = size
        self._stack = list(zip(sizes, hashes, strict=True))

    def append(self, leaf: bytes) -> None:
        size, h = 1, leaf
        while self._stack and self._stack[-1][0] == size:
            left_size, left = self._stack.pop()
            h = node_hash(left, h)
            size += left_size
        self._stack.append((size, h))
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            h = node_hash(left, h)
        return h

    def hashes(self) -> list[bytes]:
        return [h for _, h in self._stack]


@dataclass
class _Pending:
    frontier: Frontier
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: str
    data: bytes
    leaf_hash: bytes

    def fields(self) -> dict[str, Any]:
        return json.loads(self.data)


def lock(session: Session) -> _Pending:
    """Take the ledger's append lock for the rest of `session`'s transaction (reads after it see every
    committed entry, and nothing else appends until this transaction ends)."""
    pending = session.info.get(_PENDING)
    if pending is None:
        # Lock the head and read it in one statement: a second appender waits here until this transaction
        # ends. Core, not the ORM: this runs on every gated request (bench/gate.py).
        rows = driver_execute(
            session.connection(), "UPDATE ledger_head SET size = size WHERE id = 1 RETURNING size, frontier", ()
        )
        if not rows:
            raise CustosError(Kind.FAILED_PRECONDITION, "the ledger has no head row: run the migrations")
        size, frontier = rows[0]
        frontier = json.loads(frontier) if isinstance(frontier, str) else frontier
        pending = _Pending(Frontier(size, [bytes.fromhex(h) for h in frontier]))
        session.info[_PENDING] = pending
    return pending


def append(session: Session, kind: str, fields: Mapping[str, Any], *, at: dt.datetime | None = None) -> Entry:
    """Append one entry in `session`'s transaction; it is written when the transaction commits."""
    clash = RESERVED & fields.keys()
    if clash:
        raise ValueError(f"ledger fields may not be named {sorted(clash)}")
    pending = lock(session)
    seq = pending.frontier.size
    data = canonical({**fields, "seq": seq, "at": at or dt.datetime.now(dt.UTC), "kind": kind})
    leaf = leaf_hash(data)
    pending.frontier.append(leaf)
    pending.rows.append({"seq": seq, "kind": kind, "data": data.decode(), "leaf_hash": leaf.hex()})
    return Entry(seq, kind, data, leaf)


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None or not pending.rows:
        return
    if session.new or session.dirty or session.deleted:
        session.flush()
    conn = session.connection()
    # Plain driver statements: four primitive columns and a JSON text need no type processing, and this
    # runs in every transaction that appends (bench/gate.py, bench/ledger.py).
    p = placeholder(conn)
    rows = [(r["seq"], r["kind"], r["data"], r["leaf_hash"]) for r in pending.rows]
    driver_execute(
        conn, f"INSERT INTO ledger_entry (seq, kind, data, leaf_hash) VALUES ({p}, {p}, {p}, {p})", rows, many=True
    )
    f = pending.frontier
    frontier = json.dumps([h.hex() for h in f.hashes()])
    sql = f"UPDATE ledger_head SET size = {p}, root = {p}, frontier = {p} WHERE id = 1"
    driver_execute(conn, sql, (f.size, f.root().hex(), frontier))


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending_soft(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


# Reading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Head:
    size: int
    root: bytes


def head(session: Session) -> Head:
    row = session.execute(select(LedgerHead.size, LedgerHead.root).where(LedgerHead.id == 1)).one_or_none()
    if row is None:
        raise CustosError(Kind.FAILED_PRECONDITION, "the ledger has no head row: run the migrations")
    return Head(row.size, bytes.fromhex(row.root))


def entries(session: Session, start: int = 0, stop: int | None = None, *, batch: int = 10_000) -> Iterator[Entry]:
    """Entries in sequence order, read in batches so a long ledger is never held in memory at once."""
    seq = start
    while stop is None or seq < stop:
        q = select(LedgerEntry).where(LedgerEntry.seq >= seq).order_by(LedgerEntry.seq).limit(batch)
        if stop is not None:
            q = q.where(LedgerEntry.seq < stop)
        rows = session.scalars(q).all()
        if not rows:
            return
        for r in rows:
            yield Entry(r.seq, r.kind, r.data.encode(), bytes.fromhex(r.leaf_hash))
        seq = rows[-1].seq + 1


def entry(session: Session, seq: int) -> Entry:
    r = session.get(LedgerEntry, seq)
    if r is None:
        raise CustosError(Kind.NOT_FOUND, f"the ledger has no entry {seq}")
    return Entry(r.seq, r.kind, r.data.encode(), bytes.fromhex(r.leaf_hash))


def _leaf_hashes(session: Session, size: int) -> list[bytes]:
    h = head(session)
    if not 0 <= size <= h.size:
        raise CustosError(Kind.INVALID_ARGUMENT, f"tree size {size} is outside the ledger (size {h.size})")
    rows = session.execute(
        text("SELECT leaf_hash FROM ledger_entry WHERE seq < :n ORDER BY seq"), {"n": size}
    ).scalars()
    leaves = [bytes.fromhex(x) for x in rows]
    if len(leaves) != size:
        raise CustosError(Kind.DATA_LOSS, f"the ledger holds {len(leaves)} entries below {size}: some are missing")
    return leaves


def prove_inclusion(session: Session, seq: int, size: int) -> list[bytes]:
    """Audit path of entry `seq` in the tree of `size` entries (RFC 6962 §2.1.1)."""
    if not 0 <= seq < size:
        raise CustosError(Kind.INVALID_ARGUMENT, f"entry {seq} is not inside a tree of {size} entries")
    return inclusion_proof(_leaf_hashes(session, size), seq)


def prove_inclusions(session: Session, seqs: Sequence[int], size: int) -> dict[int, list[bytes]]:
    """Audit paths of several entries in one tree, reading the leaves once (an export proves many)."""
    for seq in seqs:
        if not 0 <= seq < size:
            raise CustosError(Kind.INVALID_ARGUMENT, f"entry {seq} is not inside a tree of {size} entries")
    return inclusion_proofs(_leaf_hashes(session, size), list(dict.fromkeys(seqs)))


def prove_consistency(session: Session, size1: int, size2: int) -> list[bytes]:
    """Proof that the tree of `size2` entries extends the tree of `size1` (RFC 6962 §2.1.2)."""
    if not 0 < size1 <= size2:
        raise CustosError(Kind.INVALID_ARGUMENT, f"need 0 < first size ({size1}) <= second size ({size2})")
    return consistency_proof(_leaf_hashes(session, size2), size1)


def root_at(session: Session, size: int) -> bytes:
    f = Frontier()
    for leaf in _leaf_hashes(session, size):
        f.append(leaf)
    return f.root()
