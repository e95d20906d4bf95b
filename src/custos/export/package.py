"""Build an evidence export package from a grant of the gate (mode `export`).

The package is one ZIP file (stored, not compressed: video does not compress) holding:
- `originals/<camera>/<file>`: every original segment the range touches, byte for byte, so that each
  file's SHA-256 equals the one the ledger recorded when it was written;
- `clips/<camera>.mp4`: the range itself as one playable MP4, joined without re-encoding;
- `manifest.json`: cameras, range, purpose and destination; for every original its ledger entry and the
  inclusion proof of that entry; the access record's ledger entry and its proof; the signed tree head
  (C2SP checkpoint) the proofs lead to; the SHA-256 of every file in the package;
- `manifest.sig`: a signed note over the manifest's SHA-256, by the deployment's ledger key;
- `public-key.vkey`: that key, so the package checks on a machine that has nothing else;
- `README.txt`: how to check it.
The record id is inside the manifest and the package's name, so every copy traces to its access record.
Written under a temporary name and renamed when complete: a half-written package never exists.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import TreeHead
from custos.durable import fsync_dir
from custos.errors import CustosError, Kind
from custos.gate import Grant
from custos.ledger import log
from custos.ledger.checkpoint import sign_note
from custos.ledger.log import utc_text
from custos.ledger.publish import Publisher

FORMAT = "custos-export/1"
SIG_HEADER = "custos export manifest v1"
README = """This is an evidence export of custos, an accountable video management system.

originals/   the recorded segment files, byte for byte (fragmented MP4)
clips/       the requested range of each camera as one MP4, not re-encoded
manifest.json  what was exported, by whom, why and where to; the SHA-256 of every file; each original's
               ledger entry and inclusion proof; the access record and its proof; the signed tree head
manifest.sig   the deployment's signature over the manifest
public-key.vkey  the deployment's public key

Check it on any machine with custos installed:  custos verify-export PACKAGE.zip [--key KEY]
Give --key the deployment's public key obtained from the deployment itself, not from the package, to
know that the package comes from that deployment.
"""


EPOCH = (1980, 1, 1, 0, 0, 0)


def member(name: str) -> zipfile.ZipInfo:
    """Every member is written the same way (fixed time and attributes, stored, ZIP64, streamed), so that the
    verifier can rebuild the package from its members and compare every byte of the file, the ZIP's own
    structure included (custos.export.verify)."""
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3
    info.external_attr = 0o644 << 16
    return info


class _Stream:
    """A write-only view of a file: zipfile then streams (data descriptors, no seeking back), the one layout
    that a rebuild into a hash reproduces exactly."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out

    def write(self, data: bytes) -> int:
        return self.out.write(data)

    def flush(self) -> None:
        self.out.flush()


@dataclass(frozen=True, slots=True)
class PackageInfo:
    path: Path
    record_id: int
    size_bytes: int
    files: int
    originals: int
    tree_size: int


class _Hashing:
    """A sink that hashes and counts what passes through it."""

    def __init__(self, out: BinaryIO) -> None:
        self.out, self.h, self.n = out, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.out.write(data)
        self.h.update(data)
        self.n += len(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def _tree_head(db: Database, publisher: Publisher, need: int) -> TreeHead:
    """A signed tree head that covers entry `need`: the access record was entered just now."""
    publisher.publish()
    with db.session() as s:
        th = s.scalar(select(TreeHead).order_by(TreeHead.size.desc(), TreeHead.id.desc()).limit(1))
    if th is None or th.size <= need:
        th = publisher.publish(force=True)
    if th is None or th.size <= need:
        raise CustosError(Kind.UNAVAILABLE, "no signed tree head covers the access record yet; try again")
    return th


def build_package(
    grant: Grant,
    publisher: Publisher,
    out: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> PackageInfo:
    """Write the package of `grant` (an export) to `out`, which must not exist. `progress(done, total)` is
    called with bytes of originals copied so far."""
    req = grant.request
    if req.start_utc is None or req.end_utc is None:
        raise CustosError(Kind.INVALID_ARGUMENT, "an export package needs a time range")
    if out.exists():
        raise CustosError(Kind.FAILED_PRECONDITION, f"{out} exists already: an export never overwrites a file")
    db = grant.gate.db
    originals = {cam: grant.originals(cam) for cam in req.cameras}
    total = sum(seg.size_bytes for segs in originals.values() for seg in segs)
    files: dict[str, dict[str, Any]] = {}
    segments: list[dict[str, Any]] = []
    clips: list[dict[str, Any]] = []
    tmp = out.with_name(f".{out.name}.partial")
    done = 0
    try:
        with open(tmp, "xb") as raw, zipfile.ZipFile(_Stream(raw), "w") as z:  # type: ignore[arg-type]
            for cam, segs in originals.items():
                for seg in segs:
                    name = f"originals/{cam}/{seg.storage_key.rsplit('/', 1)[-1]}"
                    with z.open(member(name), "w", force_zip64=True) as m:
                        sink = _Hashing(m)  # type: ignore[arg-type]
                        grant.copy_original(cam, seg, sink)  # type: ignore[arg-type]
                    digest = sink.h.hexdigest()
                    if digest != seg.sha256 or sink.n != seg.size_bytes:
                        # CN-15: an altered original is not passed on as evidence; verify will name it.
                        raise CustosError(
                            Kind.DATA_LOSS,
                            f"original {seg.storage_key} no longer matches its recorded hash: not exported; "
                            "run custos verify",
                        )
                    if seg.seq is None:
                        raise CustosError(
                            Kind.DATA_LOSS, f"original {seg.storage_key} has no ledger entry: run custos verify"
                        )
                    files[name] = {"sha256": digest, "size_bytes": sink.n}
                    segments.append(
                        {
                            "camera": cam,
                            "file": name,
                            "storage_key": seg.storage_key,
                            "start_utc": utc_text(seg.start_utc),
                            "end_utc": utc_text(seg.end_utc),
                            "sha256": seg.sha256,
                            "size_bytes": seg.size_bytes,
                            "ledger_seq": seg.seq,
                        }
                    )
                    done += sink.n
                    if progress is not None:
                        progress(done, total)
                name = f"clips/{cam}.mp4"
                with z.open(member(name), "w", force_zip64=True) as m:
                    sink = _Hashing(m)  # type: ignore[arg-type]
                    info = grant.clip(cam, sink)  # type: ignore[arg-type]
                files[name] = {"sha256": sink.h.hexdigest(), "size_bytes": sink.n}
                clips.append({"camera": cam, "file": name, "frames": info.frame_count, "size_bytes": sink.n})
            need = max([grant.seq, *(s["ledger_seq"] for s in segments)])
            th = _tree_head(db, publisher, need)
            with db.session() as s:
                proofs = log.prove_inclusions(s, [grant.seq, *(x["ledger_seq"] for x in segments)], th.size)
                entries = {seq: log.entry(s, seq).data.decode() for seq in proofs}
            for x in segments:
                x["entry"] = entries[x["ledger_seq"]]
                x["inclusion_proof"] = [p.hex() for p in proofs[x["ledger_seq"]]]
            manifest = {
                "format": FORMAT,
                "created_at": utc_text(dt.datetime.now(dt.UTC)),
                "cameras": list(req.cameras),
                "start_utc": utc_text(req.start_utc),
                "end_utc": utc_text(req.end_utc),
                "purpose": req.purpose,
                "destination": req.destination,
                "request_id": req.request_id,
                "exported_by": {"username": grant.principal.username, "full_name": grant.principal.full_name,
                                "unit": grant.principal.unit, "role": grant.principal.role.value},
                "access_record": {
                    "id": grant.record_id,
                    "ledger_seq": grant.seq,
                    "entry": entries[grant.seq],
                    "inclusion_proof": [p.hex() for p in proofs[grant.seq]],
                },
                "tree_head": {"size": th.size, "root": th.root, "checkpoint": th.checkpoint},
                "segments": segments,
                "clips": clips,
                "files": files,
            }  # fmt: skip
            body = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode()
            note = f"{SIG_HEADER}\n{hashlib.sha256(body).hexdigest()}\nrecord {grant.record_id}\n"
            for name, data in (
                ("manifest.json", body),
                ("manifest.sig", sign_note(note.encode(), publisher.key).encode()),
                ("public-key.vkey", (publisher.key.verifier_key() + "\n").encode()),
                ("README.txt", README.encode()),
            ):
                with z.open(member(name), "w", force_zip64=True) as m:
                    m.write(data)
            z.close()
            raw.flush()
            os.fsync(raw.fileno())
        os.rename(tmp, out)
        fsync_dir(out.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return PackageInfo(out, grant.record_id, out.stat().st_size, len(files) + 4, len(segments), th.size)
