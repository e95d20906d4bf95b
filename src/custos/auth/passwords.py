"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's second recommended profile)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from custos.errors import CustosError, Kind

_hasher = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """Verified against when the account does not exist, so that an unknown name costs as long as a wrong
    password. Made on first use, not on import: hashing takes 64 MiB and 0.17 s, which every process importing
    this module paid (`custos record`'s peak memory among them); the web app makes it when it starts."""
    return _hasher.hash("custos: no such account")


def check_strength(password: str, min_length: int) -> None:
    if len(password) < min_length:
        raise CustosError(Kind.INVALID_ARGUMENT, f"a password needs at least {min_length} characters")
    if password.strip() != password or len(set(password)) < 4:
        raise CustosError(Kind.INVALID_ARGUMENT, "a password may not start or end with spaces or repeat few characters")


def hash_password(password: str, *, memory_kib: int = 65536, time_cost: int = 3) -> str:
    """Hash with the deployment's cost; verifying reads the cost back from the hash itself."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib).hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or dummy_hash(), password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
