"""Footage against the ledger: every segment the ledger holds is there with its bytes, nothing else is.

The ledger's entry, not the catalog row, is the reference: a row can be edited, an entry cannot without
breaking the tree. Files are hashed on a few threads (hashlib releases the GIL on large buffers).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from custos.health import REFERENCES
from custos.registry.documents import PREFIX as DOCUMENTS
from custos.registry.documents import document_key
from custos.storage.base import Storage
from custos.verify.report import Report

CHUNK = 1 << 20


def sha256_of(storage: Storage, key: str) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with storage.open(key) as f:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while k := f.readinto(buf):  # type: ignore[attr-defined]
            h.update(view[:k])
            n += k
    return h.hexdigest(), n


def check_footage(
    storage: Storage,
    ledgered: dict[str, dict[str, Any]],
    deleted: dict[str, dict[str, Any]],
    report: Report,
    keys: tuple[str, ...],
    *,
    threads: int = 2,
) -> None:
    present = {info.key for info in storage.list() if not info.key.startswith((DOCUMENTS, REFERENCES))}
    for key in sorted(present - ledgered.keys()):
        report.add(
            "segment.extra",
            key,
            "footage in storage that the ledger never recorded: planted, or indexed in a database that was replaced",
            keys,
        )
    for key in sorted(present & deleted.keys()):
        report.add("segment.deleted_present", key, "the ledger records its deletion but the file is still there", keys)
    expected = [k for k in sorted(ledgered) if k not in deleted]
    for key in expected:
        if key not in present:
            report.add("segment.missing", key, "the ledger records this segment but its file is gone", keys)
    todo: Iterable[str] = [k for k in expected if k in present]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for key, (digest, size) in zip(todo, pool.map(lambda k: sha256_of(storage, k), todo), strict=True):
            report.segments_hashed += 1
            report.bytes_hashed += size
            want = ledgered[key]
            if digest != want["sha256"] or size != want["size_bytes"]:
                report.add(
                    "segment.altered",
                    key,
                    f"its bytes changed: SHA-256 {digest[:16]}… ({size} bytes), the ledger says {want['sha256'][:16]}… ({want['size_bytes']} bytes)",
                    keys,
                )


def check_documents(
    storage: Storage, documents: dict[str, dict[str, Any]], report: Report, keys: tuple[str, ...]
) -> None:
    """Uploaded documents (approval documents, credentials, consents) against their ledger entries: a swapped
    approval document would make a request look approved on other grounds (HB-16, BJ-17)."""
    present = {info.key for info in storage.list(DOCUMENTS)}
    expected = {document_key(sha): fields for sha, fields in documents.items()}
    for key in sorted(present - expected.keys()):
        report.add("document.extra", key, "a document in storage that the ledger never recorded", keys)
    for key, fields in sorted(expected.items()):
        if key not in present:
            report.add(
                "document.missing", key, f"the ledger records {fields.get('filename')!r} but the file is gone", keys
            )
            continue
        digest, size = sha256_of(storage, key)
        if digest != fields["sha256"] or size != fields.get("size_bytes"):
            report.add("document.altered", key, f"{fields.get('filename')!r} changed since it was uploaded", keys)


def check_references(storage: Storage, references: dict[str, str], report: Report, keys: tuple[str, ...]) -> None:
    """Reference views against their ledger entries: a swapped reference would hide a moved camera (HB-18.1)."""
    present = {info.key for info in storage.list(REFERENCES)}
    for key in sorted(present - references.keys()):
        report.add("reference.extra", key, "a reference view in storage that the ledger never recorded", keys)
    for key, want in sorted(references.items()):
        if key not in present:
            report.add("reference.missing", key, "the ledger records this reference view but its file is gone", keys)
        elif sha256_of(storage, key)[0] != want:
            report.add("reference.altered", key, "the reference view changed since it was taken", keys)
