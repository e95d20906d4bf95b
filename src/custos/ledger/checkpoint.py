"""Signed tree heads as C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed notes (c2sp.org/signed-note).

A checkpoint's body is `<origin>\\n<tree size>\\n<base64 root hash>\\n` plus optional extension lines; the
signed note is the body, a blank line, then lines `— <key name> <base64(key ID || signature)>\\n`, each
signature over the body bytes exactly. Using the standard format lets any C2SP-aware tool (Go's
golang.org/x/mod/sumdb/note, transparency-dev witnesses) check our tree heads, not only our own code.

Reading is strict: the one verifier we trust must have signed, a bad signature from it refuses the whole
note (signed-note's SHOULD), unknown signers are ignored (its MUST), base64 must be in canonical form,
and a body that is not exactly a checkpoint is refused; CheckpointError says which of these failed.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from custos.ledger.keys import SigningKey, VerifierKey, b64decode_strict, valid_key_name

__all__ = ["MAX_SIGNATURES", "Checkpoint", "CheckpointError", "open_note", "parse_signed", "sign_note", "split_note"]

MAX_SIGNATURES = 100  # signed-note requires accepting at least 16
_SIG_PREFIX = "\u2014 "  # em dash, space
_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class CheckpointError(ValueError):
    """A signed note or checkpoint that is malformed or not signed as required; the message says how."""


def sign_note(body: bytes, key: SigningKey) -> str:
    """The signed note of `body` (UTF-8 text ending in a newline) with one signature by `key`."""
    text = _decode(body, "note text")
    if not text.endswith("\n") or _CONTROL.search(text):
        raise CheckpointError("a note text must end with a newline and hold no control characters but newlines")
    sig = base64.b64encode(key.key_id + key.sign(body)).decode()
    return f"{text}\n{_SIG_PREFIX}{key.name} {sig}\n"


def split_note(note: str | bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The text (final newline included) and the (key name, key ID || signature) pairs of a signed note,
    checked for form only: nothing here is verified, see open_note."""
    text = _decode(note, "signed note")
    if _CONTROL.search(text):
        raise CheckpointError("a signed note must not contain control characters other than newline")
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise CheckpointError("not a signed note: no blank line before the signatures, or no final newline")
    body, sig_lines = text[: split + 1], text[split + 2 : -1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise CheckpointError(f"a signed note with {len(sig_lines)} signatures (at most {MAX_SIGNATURES})")
    sigs: list[tuple[str, bytes]] = []
    for n, line in enumerate(sig_lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise CheckpointError(f"signature line {n} does not start with an em dash and a space")
        parts = line[len(_SIG_PREFIX) :].split(" ")
        raw = b64decode_strict(parts[1]) if len(parts) == 2 else None
        if raw is None or not valid_key_name(parts[0]) or len(raw) < 5:
            raise CheckpointError(f"signature line {n} is not '— <key name> <base64 key ID and signature>'")
        sigs.append((parts[0], raw))
    try:
        return body.encode(), sigs
    except UnicodeEncodeError:
        raise CheckpointError("a signed note must be valid UTF-8") from None


def open_note(note: str | bytes, verifier: VerifierKey) -> bytes:
    """The text of `note` (as bytes, final newline included) once `verifier`'s signature on it checks out."""
    body, sigs = split_note(note)
    verified = False
    for n, (name, raw) in enumerate(sigs, 1):
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue  # another signer (a witness, a rotated key): not ours to judge
        if not verifier.verify(body, raw[4:]):
            raise CheckpointError(f"signature line {n} by {verifier.name}+{verifier.key_id.hex()} does not verify")
        verified = True
    if not verified:
        raise CheckpointError(f"the note carries no signature by {verifier.name}+{verifier.key_id.hex()}")
    return body


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log `origin`, its `size` in leaves, its RFC 6962 `root`, opaque `extensions`."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for what, line in [("origin", self.origin), *(("extension line", e) for e in self.extensions)]:
            if not isinstance(line, str) or not line or "\n" in line or _CONTROL.search(line):
                raise CheckpointError(f"invalid checkpoint {what} {line!r}: it must be a non-empty line of text")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size < 1 << 64:
            raise CheckpointError(f"invalid checkpoint tree size {self.size!r}")
        if not isinstance(self.root, bytes) or len(self.root) != 32:
            raise CheckpointError(f"a checkpoint root hash is 32 bytes, not {self.root!r}")

    def body(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()

    def sign(self, key: SigningKey) -> str:
        """The signed note text of this checkpoint."""
        return sign_note(self.body(), key)

    @classmethod
    def from_body(cls, body: bytes) -> Checkpoint:
        """Parse a checkpoint body. It proves nothing by itself: trust only what `parse_signed` returns."""
        text = _decode(body, "checkpoint body")
        if not text.endswith("\n"):
            raise CheckpointError("a checkpoint body must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointError(f"a checkpoint body has at least 3 lines, not {len(lines)}")
        origin, size, root, *extensions = lines
        if not origin:
            raise CheckpointError("the checkpoint origin is empty")
        if not _SIZE.fullmatch(size):
            raise CheckpointError(f"checkpoint tree size {size!r} is not a decimal without leading zeros")
        raw = b64decode_strict(root)
        if raw is None or len(raw) != 32:
            raise CheckpointError(f"checkpoint root hash {root!r} is not 32 bytes in canonical base64")
        if "" in extensions:
            raise CheckpointError("a checkpoint extension line is empty")
        return cls(origin, int(size), raw, tuple(extensions))

    @classmethod
    def parse_signed(cls, note: str | bytes, verifier: VerifierKey, *, origin: str | None = None) -> Checkpoint:
        """The checkpoint in `note`, signed by `verifier` (and of `origin`, if given), or CheckpointError."""
        checkpoint = cls.from_body(open_note(note, verifier))
        if origin is not None and checkpoint.origin != origin:
            raise CheckpointError(f"the checkpoint is of origin {checkpoint.origin!r}, not {origin!r}")
        return checkpoint


parse_signed = Checkpoint.parse_signed


def _decode(data: bytes | str, what: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"the {what} is not valid UTF-8") from None
