"""The deployment's Ed25519 signing key for tree heads, and C2SP signed-note verifier keys.

The private key lives in its own file outside the database, so that whoever can rewrite the database
cannot also sign a new history. It is created on first use (PKCS#8 PEM, mode 0600, written to a
temporary name, fsynced and linked into place, so an existing key is never replaced and a crash leaves
either no key or a whole one) and loaded afterwards; a key file that group or others can access, or
that does not hold an Ed25519 key, is refused rather than used or replaced.

Key names and key IDs follow c2sp.org/signed-note: the name is the checkpoint origin, and the key ID
is SHA-256(name || 0x0A || 0x01 || public key)[:4], 0x01 being the Ed25519 signature type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from custos.durable import fsync_dir, makedirs_durable
from custos.errors import CustosError, Kind

__all__ = [
    "ED25519",
    "SigningKey",
    "VerifierKey",
    "b64decode_strict",
    "key_id",
    "load_or_create_key",
    "valid_key_name",
]

ED25519 = 0x01  # the signed-note signature type byte


def valid_key_name(name: str) -> bool:
    """signed-note: non-empty, no Unicode spaces, no '+'; we also refuse control characters."""
    return bool(name) and not any(c.isspace() or c == "+" or ord(c) < 0x20 or c == "\x7f" for c in name)


def _check_name(name: str) -> str:
    if not valid_key_name(name):
        raise CustosError(
            Kind.INVALID_ARGUMENT, f"invalid key name {name!r}: it must be non-empty, without spaces or '+'"
        )
    return name


def key_id(name: str, public_bytes: bytes) -> bytes:
    """The 4-byte signed-note key ID of an Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_bytes).digest()[:4]


class VerifierKey:
    """A public key with its name and key ID: what a reader needs to check signed tree heads."""

    def __init__(self, name: str, public_bytes: bytes) -> None:
        if len(public_bytes) != 32:
            raise CustosError(Kind.INVALID_ARGUMENT, f"an Ed25519 public key is 32 bytes, not {len(public_bytes)}")
        self.name = _check_name(name)
        self.public_bytes = bytes(public_bytes)
        self.key_id = key_id(name, self.public_bytes)
        self._key = Ed25519PublicKey.from_public_bytes(self.public_bytes)

    @classmethod
    def parse(cls, vkey: str) -> VerifierKey:
        """`<name>+<hex key id>+<base64(0x01 || public key)>`; the key ID must match the key."""
        parts = vkey.split("+", 2)  # the name and key ID hold no '+'; the base64 key may
        if len(parts) != 3:
            raise CustosError(Kind.INVALID_ARGUMENT, f"verifier key {vkey!r} is not <name>+<key id>+<key>")
        name, hex_id, b64 = parts
        raw = b64decode_strict(b64)
        if raw is None or len(raw) != 33 or raw[0] != ED25519:
            raise CustosError(Kind.INVALID_ARGUMENT, f"verifier key {vkey!r} does not hold an Ed25519 public key")
        key = cls(name, raw[1:])
        if hex_id != key.key_id.hex():
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"verifier key {vkey!r} names key ID {hex_id}, but its key's ID is {key.key_id.hex()}",
            )
        return key

    def verify(self, msg: bytes, sig: bytes) -> bool:
        try:
            self._key.verify(sig, msg)
        except InvalidSignature:
            return False
        return True

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ED25519]) + self.public_bytes).decode()}"

    def __repr__(self) -> str:
        return f"VerifierKey({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VerifierKey) and (self.name, self.public_bytes) == (other.name, other.public_bytes)

    def __hash__(self) -> int:
        return hash((self.name, self.public_bytes))


class SigningKey:
    """The private half; `name` is the key name in signature lines and the origin of our checkpoints."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self.name = _check_name(name)
        self._key = private_key
        self.public_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(name, self.public_bytes)

    def sign(self, msg: bytes) -> bytes:
        return self._key.sign(msg)

    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.public_bytes)

    def verifier_key(self) -> str:
        """The C2SP vkey string to hand to inspectors."""
        return str(self.verifier())

    def __repr__(self) -> str:
        return f"SigningKey({self.verifier_key()!r})"


def b64decode_strict(s: str) -> bytes | None:
    """Standard base64 in its one canonical spelling, or None: a second spelling of the same bytes would
    let a changed signature line pass for the original."""
    try:
        raw = base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if base64.b64encode(raw).decode() == s else None


def _key_error(path: Path, what: str, kind: Kind = Kind.FAILED_PRECONDITION) -> CustosError:
    return CustosError(kind, f"signing key file {path}: {what}")


def _load(path: Path, name: str) -> SigningKey:
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _key_error(path, "is not a regular file")
        if st.st_mode & 0o077:
            raise _key_error(
                path,
                f"group or others may access it (mode {stat.S_IMODE(st.st_mode):04o}); it must be 0600 or stricter",
            )
        data = b""
        while chunk := os.read(fd, 65536):
            data += chunk
    finally:
        os.close(fd)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _key_error(path, "does not hold an unencrypted PKCS#8 PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise _key_error(path, f"holds a {type(key).__name__}, not an Ed25519 private key")
    return SigningKey(name, key)


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    makedirs_durable(path.parent, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask: readable by us, by no one else
            view = memoryview(pem)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # unlike rename(), never replaces a key that appeared meanwhile
        except FileExistsError:
            pass  # another process created it first: load theirs
    finally:
        os.unlink(tmp)
        fsync_dir(path.parent)


def load_or_create_key(path: Path, name: str) -> SigningKey:
    """The key in `path`, created there on first use. CustosError names the file if it cannot be used."""
    _check_name(name)
    path = Path(path)
    try:
        try:
            return _load(path, name)
        except FileNotFoundError:
            pass
        _create(path)
        return _load(path, name)
    except CustosError:
        raise
    except OSError as exc:
        raise _key_error(path, f"cannot be read or created ({exc.strerror})", Kind.UNAVAILABLE) from exc
