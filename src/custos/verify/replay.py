"""Replay the ledger from its first entry: every leaf re-hashed from its data, the tree rebuilt, and the
roots compared with every signed tree head, those in the catalog and those in the witness file.

An edited entry shows as a leaf that does not match its data; an entry edited together with its leaf
hash, or a rebuilt log, shows as a root that differs from a signed head; a truncated ledger or a
database rolled back to an older copy shows as a signed head larger than the ledger (HB-18.4, BJ-13.3,
CN-15).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from custos.catalog.models import LedgerEntry, LedgerHead, TreeHead
from custos.ledger.checkpoint import Checkpoint, CheckpointError
from custos.ledger.keys import VerifierKey
from custos.ledger.log import Frontier
from custos.ledger.merkle import leaf_hash
from custos.ledger.witness import TornRecordError, Witness, WitnessError
from custos.verify.report import Report


@dataclass
class Replayed:
    size: int = 0
    root: bytes = b""
    roots: dict[int, bytes] = field(default_factory=dict)
    segments: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[int, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[int, dict[str, Any]] = field(default_factory=dict)
    holds: dict[int, dict[str, Any]] = field(default_factory=dict)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # by SHA-256
    events: dict[int, dict[str, Any]] = field(default_factory=dict)
    event_ends: dict[int, dict[str, Any]] = field(default_factory=dict)  # by the start's seq
    references: dict[str, str] = field(default_factory=dict)  # reference view objects: storage key -> SHA-256


@dataclass(frozen=True, slots=True)
class SignedHead:
    where: str  # "catalog tree head #3" or "witness record 7"
    checkpoint: Checkpoint


def signed_heads(
    s: Session, verifier: VerifierKey, witness_path: Path, report: Report, keys: tuple[str, ...]
) -> tuple[list[SignedHead], list[SignedHead]]:
    """Tree heads of the catalog and of the witness file whose signatures hold; bad ones become findings."""
    catalog: list[SignedHead] = []
    for th in s.scalars(select(TreeHead).order_by(TreeHead.id)):
        try:
            cp = Checkpoint.parse_signed(th.checkpoint, verifier, origin=verifier.name)
        except CheckpointError as e:
            report.add(
                "treehead.bad_signature", f"catalog tree head #{th.id}", f"its signature does not hold: {e}", keys
            )
            continue
        if cp.size != th.size or cp.root.hex() != th.root:
            report.add(
                "treehead.row_edited", f"catalog tree head #{th.id}", "its columns differ from the signed note", keys
            )
        catalog.append(SignedHead(f"catalog tree head #{th.id}", cp))
    witness: list[SignedHead] = []
    if not witness_path.exists():
        if catalog:
            report.add(
                "witness.missing",
                str(witness_path),
                "the witness file is gone, so a rollback of the whole data folder could not be detected",
                keys,
            )
        return catalog, witness
    try:
        cps = Witness(witness_path).read(verifier)
    except TornRecordError as e:
        cps = e.checkpoints
        report.add("witness.torn", str(witness_path), str(e), keys)
    except WitnessError as e:
        report.add("witness.invalid", str(witness_path), e.message, keys)
        cps = []
    witness = [SignedHead(f"witness record {i + 1}", cp) for i, cp in enumerate(cps)]
    return catalog, witness


def replay(
    s: Session, want_sizes: Iterable[int], report: Report, keys: tuple[str, ...], batch: int = 20_000
) -> Replayed:
    want = set(want_sizes)
    out = Replayed()
    f = Frontier()
    expected = 0
    last = -1
    while True:
        rows = s.execute(
            select(LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.data, LedgerEntry.leaf_hash)
            .where(LedgerEntry.seq > last)
            .order_by(LedgerEntry.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for seq, kind, data, stored_leaf in rows:
            last = seq
            if seq != expected:
                report.add(
                    "ledger.entry_missing",
                    f"ledger entries {expected}..{seq - 1}",
                    f"{seq - expected} entries are missing from the ledger",
                    keys,
                )
                expected = seq  # the tree cannot be rebuilt past a gap; the roots will not match any head
            raw = data.encode()
            leaf = leaf_hash(raw)
            if leaf.hex() != stored_leaf:
                report.add("ledger.entry_altered", f"ledger entry {seq}", "its data no longer hashes to its leaf", keys)
            f.append(leaf)
            expected += 1
            if f.size in want:
                out.roots[f.size] = f.root()
            try:
                fields = json.loads(data)
            except ValueError:
                fields = None
            if not isinstance(fields, dict):
                report.add("ledger.entry_altered", f"ledger entry {seq}", "its data is not a JSON object", keys)
                continue
            if fields.get("seq") != seq or fields.get("kind") != kind:
                report.add(
                    "ledger.entry_altered", f"ledger entry {seq}", "its sequence number or kind was changed", keys
                )
            # What the entry says is what was hashed; the kind column is not, so it is not trusted.
            if not _collect(out, str(fields.get("kind")), seq, fields):
                report.add("ledger.entry_altered", f"ledger entry {seq}", "its data lacks the fields of its kind", keys)
    report.entries_replayed = f.size
    out.size, out.root = f.size, f.root()
    head = s.get(LedgerHead, 1)
    if head is None or head.size != out.size or head.root != out.root.hex():
        have = "none" if head is None else f"size {head.size}"
        report.add(
            "ledger.head_mismatch",
            "ledger head",
            f"the head ({have}) does not match the {out.size} entries replayed: entries were removed or added behind its back",
            keys,
        )
    return out


def _collect(out: Replayed, kind: str, seq: int, fields: dict[str, Any]) -> bool:
    """File the entry by kind; False if it lacks the field that kind is found by."""
    try:
        match kind:
            case "segment":
                out.segments[str(fields["storage_key"])] = fields
            case "segment.deleted":
                out.deleted[str(fields["storage_key"])] = fields
            case "access":
                out.access[seq] = fields
            case "access.outcome":
                out.outcomes[int(fields["access_seq"])] = fields
            case "hold":
                out.holds[seq] = fields
            case "hold.released":
                out.releases[int(fields["hold_seq"])] = fields
            case "document":
                out.documents[str(fields["sha256"])] = fields
            case "event":
                out.events[seq] = fields
            case "event.ended":
                out.event_ends[int(fields["event_seq"])] = fields
            case "reference_view":
                out.references[str(fields["storage_key"])] = str(fields["sha256"])
                out.references[str(fields["picture_key"])] = str(fields["picture_sha256"])
    except (KeyError, TypeError, ValueError):
        return False
    return True


def check_heads(
    replayed: Replayed, catalog: list[SignedHead], witness: list[SignedHead], report: Report, keys: tuple[str, ...]
) -> None:
    report.tree_heads_checked = len(catalog) + len(witness)
    report.witness_heads = len(witness)
    catalog_sizes = {h.checkpoint.size for h in catalog}
    for h in catalog + witness:
        cp = h.checkpoint
        if cp.size > replayed.size:
            rolled_back = h in witness and cp.size not in catalog_sizes
            report.add(
                "ledger.rolled_back" if rolled_back else "ledger.truncated",
                h.where,
                f"a tree head signed over {cp.size} entries, but the ledger holds {replayed.size}: "
                + ("the database was replaced by an older copy" if rolled_back else "entries were cut off the end"),
                keys,
            )
        elif replayed.roots.get(cp.size) != cp.root:
            report.add(
                "ledger.rewritten",
                h.where,
                f"the ledger's first {cp.size} entries no longer hash to the root signed for them: history was rewritten",
                keys,
            )
