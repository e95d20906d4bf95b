"""A decision about footage or a record: allowed or refused, with the article keys behind it.

Every decision carries its keys (STYLE.md habit 5), so a refusal shown to a person, written to the
ledger or returned by the API names the clauses that decided it. `uncertain` carries through when a
parameter the decision rests on came from an unclear text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from custos.errors import CustosError, Kind
from custos.policy.pack import KEY_RE

__all__ = ["Decision"]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    keys: tuple[str, ...]
    reason: str
    uncertain: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.keys, tuple) or not all(isinstance(k, str) and KEY_RE.fullmatch(k) for k in self.keys):
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"decision keys must be article keys like 'HB-17.6': {self.keys!r}"
            )
        if not self.reason.strip():
            raise CustosError(Kind.INVALID_ARGUMENT, "a decision needs a reason a person can read")

    @classmethod
    def allow(cls, reason: str, keys: Iterable[str] = (), *, uncertain: bool = False) -> Decision:
        return cls(True, tuple(keys), reason, uncertain)

    @classmethod
    def refuse(cls, reason: str, keys: Iterable[str] = (), *, uncertain: bool = False) -> Decision:
        return cls(False, tuple(keys), reason, uncertain)

    def __bool__(self) -> bool:
        return self.allowed

    def as_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "keys": list(self.keys), "reason": self.reason, "uncertain": self.uncertain}
