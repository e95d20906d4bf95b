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

A *redacted* package (`redacted=True`) is for release outside the evidence chain: to the public (CN-22) or to
someone who is not to hold the evidence itself. It carries neither the originals nor the clear clips, only
`redacted/<camera>.mp4`: the range re-encoded with the camera's image masks blacked out, faces blurred for a
public release (`public_release=True`, CN-22), and a visible watermark naming the access record, the camera and
each frame's UTC time (custos.media.redact). Its manifest still lists every original's SHA-256 with its ledger
entry and inclusion proof, and the access record with its proof, so the derivative traces to the originals it
was made from and to the access that released it (HB-18.2, HB-18.3, HB-21.5); `redaction` says what was done
and the derivative's SHA-256. It is signed the same way, and `custos verify-export` checks both kinds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from custos.catalog.db import Database
from custos.catalog.models import Camera, Segment, TreeHead
from custos.durable import fsync_dir
from custos.errors import CustosError, Kind
from custos.gate import Grant
from custos.ledger import log
from custos.ledger.checkpoint import sign_note
from custos.ledger.log import utc_text
from custos.ledger.publish import Publisher
from custos.media.redact import FACE_METHOD, SEPARATOR, redact_clip

FORMAT = "custos-export/1"
EVIDENCE, REDACTED = "evidence", "redacted"  # the manifest's `variant`; a manifest without one is evidence
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
README_REDACTED = """This is a redacted release of custos, an accountable video management system.
It is NOT the evidence: the recorded originals are not in it, and its video was re-encoded.

redacted/    the requested range of each camera, re-encoded (H.264) with the camera's image masks blacked
             out, faces blurred where the manifest says so (public release, CN-22), and a watermark naming
             the access record, the camera and each frame's UTC time
manifest.json  what was released, by whom, why and where to; what was redacted and how; the SHA-256 of every
               file; the SHA-256 of each original it was made from (not included) with its ledger entry and
               inclusion proof; the access record and its proof; the signed tree head
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
    redacted: bool = False


class _Hashing:
    """A sink that hashes and counts what passes through it (to `out`, or nowhere).

    With a `hasher` thread, SHA-256 of one chunk runs there while this thread passes the chunk on (zipfile's
    CRC-32 and the file write): both release the GIL, and on a small machine the two hashes, not the disk,
    bound an export (bench/playback.py). Chunks are hashed in order: each waits for the one before."""

    def __init__(self, out: BinaryIO | None, hasher: ThreadPoolExecutor | None = None) -> None:
        self.out, self.h, self.n = out, hashlib.sha256(), 0
        self._hasher = hasher
        self._pending: Future[None] | None = None

    def write(self, data: bytes) -> int:
        data = bytes(data)  # hashed on another thread: it must not change under the hash
        if self._pending is not None:
            self._pending.result()
        if self._hasher is not None:
            self._pending = self._hasher.submit(self.h.update, data)
        else:
            self.h.update(data)
        if self.out is not None:
            self.out.write(data)
        self.n += len(data)
        return len(data)

    def hexdigest(self) -> str:
        if self._pending is not None:
            self._pending.result()
            self._pending = None
        return self.h.hexdigest()

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()


def _check_original(seg: Segment, digest: str, size: int) -> None:
    if digest != seg.sha256 or size != seg.size_bytes:
        # CN-15: an altered original is not passed on as evidence, nor redacted for release; verify will name it.
        raise CustosError(
            Kind.DATA_LOSS,
            f"original {seg.storage_key} no longer matches its recorded hash: not exported; run custos verify",
        )
    if seg.seq is None:
        raise CustosError(Kind.DATA_LOSS, f"original {seg.storage_key} has no ledger entry: run custos verify")


def _segment_fields(cam: str, seg: Segment, file: str | None) -> dict[str, Any]:
    x: dict[str, Any] = {"camera": cam} | ({"file": file} if file is not None else {})
    return x | {
        "storage_key": seg.storage_key,
        "start_utc": utc_text(seg.start_utc),
        "end_utc": utc_text(seg.end_utc),
        "sha256": seg.sha256,
        "size_bytes": seg.size_bytes,
        "ledger_seq": seg.seq,
    }


def _image_masks(db: Database, cameras: tuple[str, ...]) -> dict[str, tuple[list[Any], int]]:
    """Each camera's image masks as registered now, with the registration they belong to."""
    with db.session() as s:
        rows = s.execute(
            select(Camera.name, Camera.image_masks, Camera.registration).where(Camera.name.in_(cameras))
        ).all()
    return {name: (list(masks or []), registration) for name, masks, registration in rows}


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
    redacted: bool = False,
    public_release: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PackageInfo:
    """Write the package of `grant` (an export) to `out`, which must not exist. `progress(done, total)` is
    called with bytes of originals copied so far (for a redacted package: of originals whose range is redacted).

    `public_release` (CN-22: faces protected before a lawful public release) makes the package redacted and
    blurs faces; `redacted` alone blacks out the image masks and burns in the watermark."""
    req = grant.request
    if req.start_utc is None or req.end_utc is None:
        raise CustosError(Kind.INVALID_ARGUMENT, "an export package needs a time range")
    if out.exists():
        raise CustosError(Kind.FAILED_PRECONDITION, f"{out} exists already: an export never overwrites a file")
    redacted = redacted or public_release
    db = grant.gate.db
    originals = {cam: grant.originals(cam) for cam in req.cameras}
    masks = _image_masks(db, req.cameras) if redacted else {}
    total = sum(seg.size_bytes for segs in originals.values() for seg in segs)
    files: dict[str, dict[str, Any]] = {}
    segments: list[dict[str, Any]] = []
    clips: list[dict[str, Any]] = []
    derivatives: list[dict[str, Any]] = []
    tmp = out.with_name(f".{out.name}.partial")
    done = 0
    try:
        with (
            open(tmp, "xb") as raw,
            zipfile.ZipFile(_Stream(raw), "w") as z,  # type: ignore[arg-type]
            ThreadPoolExecutor(1, thread_name_prefix="export-sha256") as hasher,
        ):
            for cam, segs in originals.items():
                if redacted:
                    # The originals stay home; each is hashed against the ledger first, so that a derivative is
                    # only ever made of footage that is as recorded (CN-15). Hashed here, not served.
                    for seg in segs:
                        sink = _Hashing(None)
                        hashed = grant.copy_original(cam, seg, sink)  # type: ignore[arg-type]
                        grant.bytes_served -= hashed  # (read after the call, which counted them)
                        _check_original(seg, sink.hexdigest(), sink.n)
                        segments.append(_segment_fields(cam, seg, None))
                    cam_bytes = sum(seg.size_bytes for seg in segs)

                    def frames_done(d: int, t: int | None, base: int = done, n: int = cam_bytes) -> None:
                        if progress is not None and t:  # frames redacted, as the share of this camera's originals
                            progress(base + n * min(d, t) // t, total)

                    d = _redact(grant, z, cam, masks.get(cam, ([], 0)), public_release, out.parent, frames_done)
                    derivatives.append(d)
                    files[d["file"]] = {"sha256": d["sha256"], "size_bytes": d["size_bytes"]}
                    done += cam_bytes
                    if progress is not None:
                        progress(done, total)
                    continue
                for seg in segs:
                    name = f"originals/{cam}/{seg.storage_key.rsplit('/', 1)[-1]}"
                    with z.open(member(name), "w", force_zip64=True) as m:
                        sink = _Hashing(m, hasher)  # type: ignore[arg-type]
                        grant.copy_original(cam, seg, sink)  # type: ignore[arg-type]
                    digest = sink.hexdigest()
                    _check_original(seg, digest, sink.n)
                    files[name] = {"sha256": digest, "size_bytes": sink.n}
                    segments.append(_segment_fields(cam, seg, name))
                    done += sink.n
                    if progress is not None:
                        progress(done, total)
                name = f"clips/{cam}.mp4"
                with z.open(member(name), "w", force_zip64=True) as m:
                    sink = _Hashing(m, hasher)  # type: ignore[arg-type]
                    info = grant.clip(cam, sink)  # type: ignore[arg-type]
                files[name] = {"sha256": sink.hexdigest(), "size_bytes": sink.n}
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
                "variant": REDACTED if redacted else EVIDENCE,
                "segments": segments,
            }  # fmt: skip
            readme = README_REDACTED if redacted else README
            if redacted:
                manifest["redaction"] = {
                    "public_release": public_release,
                    "faces_blurred": public_release,
                    "face_method": FACE_METHOD if public_release else None,
                    "keys": list(grant.gate.policy.keys_for("release.redact")) if public_release else [],
                    "watermark": SEPARATOR.join((_watermark(grant.record_id, "<camera>"), "<UTC time of the frame>")),
                    "derivatives": derivatives,
                }
            else:
                manifest["clips"] = clips
            # The README is listed too, so that no byte of the package goes unchecked.
            files["README.txt"] = {
                "sha256": hashlib.sha256(readme.encode()).hexdigest(),
                "size_bytes": len(readme.encode()),
            }
            manifest["files"] = files
            body = json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=False).encode()
            note = f"{SIG_HEADER}\n{hashlib.sha256(body).hexdigest()}\nrecord {grant.record_id}\n"
            for name, data in (
                ("manifest.json", body),
                ("manifest.sig", sign_note(note.encode(), publisher.key).encode()),
                ("public-key.vkey", (publisher.key.verifier_key() + "\n").encode()),
                ("README.txt", readme.encode()),
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
    return PackageInfo(out, grant.record_id, out.stat().st_size, len(files) + 3, len(segments), th.size, redacted)


def _watermark(record_id: int, camera: str) -> str:
    return SEPARATOR.join(("custos export", f"access record {record_id}", camera))


def _redact(
    grant: Grant,
    z: zipfile.ZipFile,
    cam: str,
    masks: tuple[list[Any], int],
    blur_faces: bool,
    work_dir: Path,
    progress: Callable[[int, int | None], None],
) -> dict[str, Any]:
    """Write `redacted/<cam>.mp4` into the package: the clear clip goes to a temporary file beside the package
    (never into it), the derivative into the package. Only the derivative's bytes count as served."""
    polygons, registration = masks
    name = f"redacted/{cam}.mp4"
    with tempfile.TemporaryFile(dir=work_dir, prefix=".custos-clip-") as clear:
        first: list[dt.datetime] = []  # when the clip's first picture was taken, told by the clip itself
        info = grant.clip(cam, clear, count=False, planned=lambda at, _s, _c: first.append(at))  # type: ignore[arg-type]
        clear.seek(0)
        start = first[0]
        with z.open(member(name), "w", force_zip64=True) as m:
            sink = _Hashing(m)  # type: ignore[arg-type]
            r = redact_clip(
                clear,
                sink,  # type: ignore[arg-type]
                watermark=_watermark(grant.record_id, cam),
                masks=polygons,
                blur_faces=blur_faces,
                start_utc=start,
                total_frames=info.frame_count,
                progress=progress,
                work_dir=work_dir,
            )
    grant.bytes_served += sink.n
    return {
        "camera": cam,
        "file": name,
        "sha256": sink.hexdigest(),
        "size_bytes": sink.n,
        "frames": r.frames,
        "source_frames": info.frame_count,
        "width": r.width,
        "height": r.height,
        "first_frame_utc": utc_text(start),
        "image_masks": polygons,
        "camera_registration": registration,
        "faces_blurred": blur_faces,
        "frames_with_faces_blurred": r.face_frames,
        "watermark": SEPARATOR.join((_watermark(grant.record_id, cam), "<UTC time of the frame>")),
        "encoding": "H.264 (libx264, yuv420p), MP4 with moov first; time base and frame times of the clip",
    }
