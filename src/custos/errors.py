"""One error type with kinds (STYLE.md habit 4): only the API layer maps kinds to HTTP statuses.

Messages name the values that were wrong; a refusal names the article keys that refused it.
"""

from __future__ import annotations

import enum


class Kind(enum.Enum):
    INVALID_ARGUMENT = "invalid argument"
    NOT_FOUND = "not found"
    PERMISSION_DENIED = "permission denied"
    FAILED_PRECONDITION = "failed precondition"
    DATA_LOSS = "data loss"
    UNAVAILABLE = "unavailable"
    RESOURCE_EXHAUSTED = "resource exhausted"
    UNAUTHENTICATED = "unauthenticated"


class CustosError(Exception):
    """An error a person can act on: what was wrong, and for a refusal the article keys behind it."""

    def __init__(self, kind: Kind, message: str, *, keys: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.keys = keys

    def __str__(self) -> str:
        suffix = f" [{', '.join(self.keys)}]" if self.keys else ""
        return f"{self.kind.value}: {self.message}{suffix}"
