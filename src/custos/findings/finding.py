"""One compliance finding: what is wrong, where, the articles it rests on and the packs' penalty ranges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from custos.policy import Policy, YuanRange

SEVERITIES = ("critical", "high", "medium", "low")
RANK = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True, slots=True)
class PackRange:
    pack: str
    range: str  # str(YuanRange): "10,000–20,000 yuan", "up to 3,000 yuan", "no amount given"
    keys: tuple[str, ...]
    uncertain: bool

    def as_dict(self) -> dict[str, Any]:
        return {"pack": self.pack, "range": self.range, "keys": list(self.keys), "uncertain": self.uncertain}


@dataclass(frozen=True, slots=True)
class Penalty:
    party: str  # unit | individual | responsible (custos.policy.PARTIES)
    ranges: tuple[PackRange, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"party": self.party, "ranges": [r.as_dict() for r in self.ranges]}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # stable, for scripts: "camera.forbidden_site"
    severity: str  # critical | high | medium | low
    unit_id: int | None
    unit: str
    subject: str  # "camera cam01", "site Main gate", "unit Riverside School"
    message: str
    keys: tuple[str, ...]  # never empty
    uncertain: bool  # a parameter behind it is uncertain
    penalties: tuple[Penalty, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "unit_id": self.unit_id,
            "unit": self.unit,
            "subject": self.subject,
            "message": self.message,
            "keys": list(self.keys),
            "uncertain": self.uncertain,
            "penalties": [p.as_dict() for p in self.penalties],
        }


def at_least(severity: str) -> frozenset[str]:
    """The severities at or above `severity`."""
    if severity not in RANK:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return frozenset(SEVERITIES[: RANK[severity] + 1])


def sort_key(f: Finding) -> tuple[int, str, int, str, str]:
    return (RANK[f.severity], f.unit, f.unit_id or 0, f.code, f.subject)


_Row = tuple[str, str, str, tuple[str, ...], bool]  # party, pack, range, keys, uncertain


class Penalties:
    """The packs' penalty ranges per offence, resolved once; a pack's range is shown only while the finding
    still cites one of that pack's keys (a class exemption that removed them removes its fine too)."""

    def __init__(self, policy: Policy) -> None:
        self._policy = policy
        self._cache: dict[str, tuple[_Row, ...]] = {}
        self._pack_keys: dict[str, frozenset[str]] = {}
        for p in policy.packs:
            ks = {k for param in p.params.values() for k in param.keys}
            ks |= {k for keys in p.rules.values() for k in keys}
            self._pack_keys[p.id] = frozenset(ks)
        self._memo: dict[tuple[str, tuple[str, ...]], tuple[Penalty, ...]] = {}

    def _ranges(self, offence: str) -> tuple[_Row, ...]:
        if offence not in self._cache:
            out: list[_Row] = []
            for r in self._policy.penalties(offence):
                party = r.name.rpartition(".")[2]
                for s in r.settings:
                    value = s.param.value
                    text = str(value) if isinstance(value, YuanRange) else str(YuanRange())
                    out.append((party, s.pack, text, s.param.keys, s.param.uncertain))
            self._cache[offence] = tuple(out)
        return self._cache[offence]

    def of(self, offence: str | None, keys: Iterable[str]) -> tuple[Penalty, ...]:
        if offence is None:
            return ()
        keys = tuple(keys)
        memo = self._memo.get((offence, keys))
        if memo is not None:
            return memo
        cited = set(keys)
        by_party: dict[str, list[PackRange]] = {}
        for party, pack, text, pkeys, unc in self._ranges(offence):
            if not (self._pack_keys.get(pack, frozenset()) & cited):
                continue
            by_party.setdefault(party, []).append(PackRange(pack, text, tuple(pkeys), unc))
        result = tuple(Penalty(party, tuple(ranges)) for party, ranges in by_party.items())
        self._memo[(offence, keys)] = result
        return result
