"""Uploaded documents: approval documents, officers' credentials, consents, signage photos.

A document is stored once under its SHA-256 (`documents/<hash>`), through the storage interface, and
entered in the ledger with its hash before anyone can cite it, so a request's approval document cannot be
swapped afterwards without `custos verify` seeing it (HB-16 (C), BJ-17 (ii))."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy.orm import Session

from custos.auth.principal import Principal
from custos.catalog.models import Document
from custos.errors import CustosError, Kind
from custos.ledger import log
from custos.storage.base import Storage

DOCUMENT_KINDS = ("approval_document", "credential", "consent", "signage_photo", "legal_basis", "other")
MAX_BYTES = 32 * 1024 * 1024
_FILENAME = re.compile(r"[^/\\\x00-\x1f]{1,255}")
PREFIX = "documents/"


def document_key(sha256: str) -> str:
    """Where a document lives in storage: by its hash, so the same file uploaded twice is stored once."""
    return f"{PREFIX}{sha256[:2]}/{sha256}"


def store_document(
    session: Session,
    storage: Storage,
    who: Principal,
    *,
    kind: str,
    filename: str,
    data: bytes,
    media_type: str = "application/octet-stream",
) -> Document:
    if kind not in DOCUMENT_KINDS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"document kind {kind!r} is not one of {', '.join(DOCUMENT_KINDS)}")
    if not _FILENAME.fullmatch(filename or ""):
        raise CustosError(Kind.INVALID_ARGUMENT, f"file name {filename!r}: give a plain name without folders")
    if not data:
        raise CustosError(Kind.INVALID_ARGUMENT, f"document {filename!r} is empty")
    if len(data) > MAX_BYTES:
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"document {filename!r} has {len(data):,} bytes; at most {MAX_BYTES:,} are accepted"
        )
    digest = hashlib.sha256(data).hexdigest()
    key = document_key(digest)
    if storage.exists(key):
        # The same bytes were uploaded before: stored once, and only if what is stored still has the hash
        # (a swapped file must not pass for the one uploaded now).
        if hashlib.sha256(storage.read(key)).hexdigest() != digest:
            raise CustosError(Kind.DATA_LOSS, f"the stored copy of {filename!r} ({key}) no longer has its SHA-256")
    else:
        storage.put(key, data)  # atomic and durable before the row that cites it commits
    fields = {
        "document_kind": kind,
        "filename": filename,
        "media_type": media_type,
        "size_bytes": len(data),
        "sha256": digest,
        "unit": who.unit,
        "by": who.username,
    }
    entry = log.append(session, "document", fields)
    doc = Document(
        unit_id=who.unit_id,
        kind=kind,
        filename=filename,
        media_type=media_type,
        size_bytes=len(data),
        sha256=digest,
        storage_key=key,
        uploaded_by=who.person_id,
        seq=entry.seq,
    )
    session.add(doc)
    session.flush()
    return doc


def document_of(session: Session, document_id: int, *, unit_id: int | None = None, kind: str | None = None) -> Document:
    """A document by id, checked to be of `kind` and uploaded by `unit_id` when given."""
    doc = session.get(Document, document_id)
    if doc is None or (unit_id is not None and doc.unit_id != unit_id):
        raise CustosError(Kind.NOT_FOUND, f"no document {document_id} of your unit")
    if kind is not None and doc.kind != kind:
        raise CustosError(Kind.INVALID_ARGUMENT, f"document {document_id} is a {doc.kind}, not a {kind}")
    return doc


def read_document(storage: Storage, doc: Document) -> bytes:
    """A document's bytes, checked against the SHA-256 entered in the ledger when it was uploaded: a swapped
    file is refused (DATA_LOSS), never served as if it were the one cited. Who may read it is the caller's
    question (web/api_registry.py)."""
    if not doc.storage_key.startswith(PREFIX):
        raise CustosError(Kind.DATA_LOSS, f"document {doc.id} points outside the documents: {doc.storage_key}")
    data = storage.read(doc.storage_key)
    if hashlib.sha256(data).hexdigest() != doc.sha256:
        raise CustosError(
            Kind.DATA_LOSS, f"document {doc.id} ({doc.filename}) no longer has the SHA-256 it was entered with"
        )
    return data
