"""Check an evidence export package offline, on any machine: nothing but the package (and, to know whose it
is, the deployment's public key obtained from the deployment) is needed.

Checked, each failure a problem naming the file:
1. the manifest's signature, by the package's key (and that key is the trusted one, when given);
2. the signed tree head, by the same key;
3. every file's SHA-256 against the manifest; no file missing, none extra;
4. every original against its ledger entry (hash, size, storage key), and that entry's inclusion proof
   up to the signed root (RFC 6962);
5. the access record's entry: an allowed export of these cameras and range, and its inclusion proof.
Any byte changed anywhere in the package fails one of these.

A redacted package (manifest `variant: "redacted"`, custos.export.package) carries no originals: step 4 then
checks that each original's hash and size, as the manifest states them, are what its proved ledger entry
recorded, and that the package holds no original and no clear clip, only one derivative per camera, each
listed in `redaction` with the hash it has.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from custos.errors import CustosError
from custos.export.package import EVIDENCE, FORMAT, REDACTED, SIG_HEADER, member
from custos.ledger.checkpoint import Checkpoint, CheckpointError, open_note
from custos.ledger.keys import VerifierKey
from custos.ledger.merkle import ProofError, leaf_hash, verify_inclusion

# What zipfile raises on a damaged archive: a bad CRC or header, an unknown compression method, an
# "encrypted" flag (RuntimeError), a bad field value or a name it cannot decode.
DAMAGED = (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError, KeyError)
FIXED = {"manifest.json", "manifest.sig", "public-key.vkey", "README.txt"}
CHUNK = 1 << 20


def _sha256(z: zipfile.ZipFile, name: str) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    with z.open(name) as f:
        while data := f.read(CHUNK):
            h.update(data)
            n += len(data)
    return h.hexdigest(), n


def _prove(what: str, entry: str, seq: Any, proof: Any, cp: Checkpoint, problems: list[str]) -> dict[str, Any] | None:
    """The entry's fields once its inclusion in the signed tree is proved; None (and a problem) otherwise."""
    try:
        fields = json.loads(entry)
        if not isinstance(fields, dict) or fields.get("seq") != seq:
            raise ValueError(f"its entry is not ledger entry {seq}")
        verify_inclusion(seq, cp.size, leaf_hash(entry.encode()), [bytes.fromhex(p) for p in proof], cp.root)
    except (ValueError, TypeError, ProofError) as e:
        problems.append(f"{what}: not proved in the signed tree of {cp.size} entries ({e})")
        return None
    return fields


def verify_package(path: Path, trusted_key: str | None = None) -> list[str]:
    """Every problem found in the package at `path`; [] when it checks out."""
    try:
        z = zipfile.ZipFile(path)
    except DAMAGED as e:
        return [f"{path}: not a readable package ({type(e).__name__}: {e})"]
    try:
        with z:
            return _verify(z, path, trusted_key)
    except DAMAGED as e:  # a changed byte that the ZIP reader itself trips on (a CRC, a method, a flag)
        return [f"{path}: damaged ({type(e).__name__}: {e})"]


class _HashSink:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.h.update(data)
        return len(data)

    def flush(self) -> None:
        pass


def _structure_changed(z: zipfile.ZipFile, path: Path) -> bool:
    """Rebuild the package from its members as custos writes one and compare every byte of the file: a change
    in the ZIP's own structure (a time, an attribute, a comment) shows even where no content changed."""
    sink = _HashSink()
    with zipfile.ZipFile(sink, "w") as out:  # type: ignore[arg-type]
        for info in z.infolist():
            with z.open(info) as src, out.open(member(info.filename), "w", force_zip64=True) as dst:
                while data := src.read(CHUNK):
                    dst.write(data)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while data := f.read(CHUNK):
            h.update(data)
    return h.digest() != sink.h.digest()


def _verify(z: zipfile.ZipFile, path: Path, trusted_key: str | None) -> list[str]:
    problems: list[str] = []
    names = set(z.namelist())
    if missing := sorted(FIXED - names - {"README.txt"}):
        return [f"{path}: no {', '.join(missing)}: not a custos export package"]
    try:
        vkey = VerifierKey.parse(z.read("public-key.vkey").decode().strip())
    except (CustosError, UnicodeDecodeError) as e:
        return [f"public-key.vkey: not a verifier key ({e})"]
    if trusted_key is not None:
        try:
            trusted = VerifierKey.parse(trusted_key.strip())
        except CustosError as e:
            return [f"--key: not a verifier key ({e})"]
        if trusted != vkey:
            problems.append(f"the package is signed by {vkey.name} ({vkey.key_id.hex()}), not by the trusted key")
    body = z.read("manifest.json")
    try:
        note = open_note(z.read("manifest.sig"), vkey).decode()
    except CheckpointError as e:
        return [*problems, f"manifest.sig: the signature does not hold ({e})"]
    lines = note.split("\n")
    if len(lines) < 2 or lines[0] != SIG_HEADER or lines[1] != hashlib.sha256(body).hexdigest():
        return [*problems, "manifest.json: changed since it was signed (its SHA-256 is not the signed one)"]
    try:
        m = json.loads(body)
    except ValueError as e:
        return [*problems, f"manifest.json: not JSON ({e})"]
    if m.get("format") != FORMAT:
        return [*problems, f"manifest.json: format {m.get('format')!r}, this custos reads {FORMAT}"]
    variant = m.get("variant", EVIDENCE)
    if variant not in (EVIDENCE, REDACTED):
        return [*problems, f"manifest.json: variant {variant!r}, this custos reads {EVIDENCE} and {REDACTED}"]
    try:
        cp = Checkpoint.parse_signed(m["tree_head"]["checkpoint"], vkey)
    except (CheckpointError, KeyError, TypeError) as e:
        return [*problems, f"tree head: its signature does not hold ({e})"]
    files: dict[str, dict[str, Any]] = m.get("files", {})
    for name in sorted(names - FIXED - files.keys()):
        problems.append(f"{name}: a file the manifest does not list")
    for name, want in sorted(files.items()):
        if name not in names:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        digest, size = _sha256(z, name)
        if digest != want.get("sha256") or size != want.get("size_bytes"):
            problems.append(f"{name}: its bytes changed (SHA-256 {digest[:16]}…, the manifest says "
                            f"{str(want.get('sha256'))[:16]}…)")  # fmt: skip
    for seg in m.get("segments", []):
        what = f"{seg.get('file') or seg.get('storage_key')} (ledger entry {seg.get('ledger_seq')})"
        fields = _prove(what, seg.get("entry", ""), seg.get("ledger_seq"), seg.get("inclusion_proof", []), cp,
                        problems)  # fmt: skip
        if fields is None:
            continue
        # An evidence package's original is the file, checked above against the manifest; a redacted one's is
        # only named by its hash, which must be the ledger's.
        listed = files.get(seg.get("file"), {}) if variant == EVIDENCE else seg
        if (
            fields.get("kind") != "segment"
            or fields.get("sha256") != listed.get("sha256")
            or fields.get("size_bytes") != listed.get("size_bytes")
            or fields.get("storage_key") != seg.get("storage_key")
        ):
            problems.append(f"{what}: the file is not the original the ledger recorded")
    if variant == REDACTED:
        _check_redacted(m, names, files, problems)
    rec = m.get("access_record", {})
    fields = _prove(f"access record {rec.get('id')}", rec.get("entry", ""), rec.get("ledger_seq"),
                    rec.get("inclusion_proof", []), cp, problems)  # fmt: skip
    if fields is not None:
        if (
            fields.get("kind") != "access"
            or fields.get("allowed") is not True
            or fields.get("mode") != "export"
            or sorted(fields.get("cameras", [])) != sorted(m.get("cameras", []))
            or fields.get("start_utc") != m.get("start_utc")
            or fields.get("end_utc") != m.get("end_utc")
        ):
            problems.append(f"access record {rec.get('id')}: it does not grant this export")
    if not problems and _structure_changed(z, path):
        problems.append(f"{path}: the ZIP's structure was changed (its members are intact)")
    return problems


def _check_redacted(m: dict[str, Any], names: set[str], files: dict[str, Any], problems: list[str]) -> None:
    """A redacted package holds one listed derivative per camera and nothing of the evidence itself."""
    for name in sorted(names | files.keys()):
        if name.startswith(("originals/", "clips/")):
            problems.append(f"{name}: a redacted package must not carry originals or clear clips")
    for seg in m.get("segments", []):
        if seg.get("file") is not None:
            problems.append(f"{seg.get('storage_key')}: a redacted package names its originals, it does not hold them")
    redaction = m.get("redaction")
    derivatives = redaction.get("derivatives") if isinstance(redaction, dict) else None
    if not isinstance(derivatives, list):
        problems.append("manifest.json: a redacted package without its redaction record")
        return
    cameras = [d.get("camera") for d in derivatives if isinstance(d, dict)]
    if sorted(map(str, cameras)) != sorted(map(str, m.get("cameras", []))) or len(cameras) != len(derivatives):
        problems.append(f"manifest.json: the derivatives are of {cameras}, the export of {m.get('cameras')}")
    for d in derivatives:
        if not isinstance(d, dict):
            continue
        listed = files.get(d.get("file"), {})
        if not str(d.get("file")).startswith("redacted/") or listed.get("sha256") != d.get("sha256"):
            problems.append(f"{d.get('file')}: the derivative of {d.get('camera')} is not the one the package lists")
    for name in files:
        if name != "README.txt" and name not in {d.get("file") for d in derivatives if isinstance(d, dict)}:
            problems.append(f"{name}: a file in a redacted package that is no camera's derivative")
