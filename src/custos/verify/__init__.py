"""`custos verify`: offline proof that nothing was deleted, altered or seen without a record.

From the data folder alone (and the witness file kept outside it): replay the ledger, check it against
every signed tree head, check the catalog against the ledger, and re-hash every segment. Each
discrepancy is a finding naming the file or record and the article it breaks.
"""

from __future__ import annotations

import time

from custos.catalog.db import Database
from custos.config.settings import Settings
from custos.ledger.publish import load_verifier
from custos.policy import Policy
from custos.storage.local import LocalStorage
from custos.verify.catalog import check_access, check_events, check_holds, check_segments
from custos.verify.footage import check_documents, check_footage, check_references
from custos.verify.replay import check_heads, replay, signed_heads
from custos.verify.report import Finding, Report

__all__ = ["Finding", "Report", "verify"]


def verify(
    settings: Settings, policy: Policy, *, vkey: str | None = None, footage: bool = True, threads: int = 2
) -> Report:
    report = Report()
    originals = policy.keys_for("footage.no_deletion")
    integrity = tuple(dict.fromkeys(policy.keys_for("security.integrity") + originals))
    register = policy.keys_for("access.register")
    holds = policy.keys_for("retention.keep")
    events = tuple(dict.fromkeys(policy.keys_for("health.report") + integrity))
    moves = tuple(dict.fromkeys(policy.keys_for("camera.no_unauthorised_move") + integrity))
    verifier = load_verifier(settings, vkey)
    db = Database(settings.db_url)
    try:
        t = time.perf_counter()
        with db.session() as s:
            catalog, witness = signed_heads(s, verifier, settings.witness_file, report, integrity)
            sizes = {h.checkpoint.size for h in catalog + witness}
            replayed = replay(s, sizes, report, integrity)
            check_heads(replayed, catalog, witness, report, integrity)
            report.seconds["ledger"] = time.perf_counter() - t
            t = time.perf_counter()
            check_segments(s, replayed, report, originals)
            check_access(s, replayed, report, register)
            check_holds(s, replayed, report, holds)
            check_events(s, replayed, report, events)
            report.seconds["catalog"] = time.perf_counter() - t
        if footage:
            t = time.perf_counter()
            check_footage(
                LocalStorage(settings.footage_root),
                replayed.segments,
                replayed.deleted,
                report,
                originals,
                threads=threads,
            )
            check_documents(LocalStorage(settings.footage_root), replayed.documents, report, integrity)
            check_references(LocalStorage(settings.footage_root), replayed.references, report, moves)
            report.seconds["footage"] = time.perf_counter() - t
    finally:
        db.dispose()
    return report
