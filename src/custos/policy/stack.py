"""A policy is a stack of packs: the national floor, a province on top, perhaps a deployment's own.

Where two packs set the same parameter the stricter value wins (the direction comes from
`SPECS`) and the answer cites the keys of every pack that set it, the winner's first. Packs are
kept in one canonical order (national, provincial, local, then by id), so the order they are
named in never changes an answer. A pack that does not name a parameter takes no part; a pack
that names it without a figure takes no part in the value but keeps the answer `uncertain`, unless
another pack fills the figure under the same keys (a deployment's local pack setting BJ-13.3's
"prescribed period"). A value of None means "not set": callers must read it as "no limit of this
kind" (retention not set: keep the footage), never as zero.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import cast

from custos.errors import CustosError, Kind
from custos.policy.pack import (
    IDENT_RE,
    LEVELS,
    OFFENCES,
    PARTIES,
    RULES,
    Pack,
    Param,
    Spec,
    Stricter,
    Value,
    YuanRange,
    load_pack,
    spec_for,
)

__all__ = ["Policy", "Resolved", "Setting", "load_policy"]

STANDARD = "standard"


@dataclass(frozen=True, slots=True)
class Setting:
    """One pack's say on a parameter."""

    pack: str
    param: Param


@dataclass(frozen=True, slots=True)
class Resolved:
    """The stack's answer for one parameter.

    `value` is the winner's value; for a union, every pack's items; for fines (side by side), one
    `(pack id, YuanRange | None)` pair per pack. `pack` is the winner's id (None for a union, for
    fines, and when nothing is set). `settings` holds every pack's own setting, winner first.
    """

    name: str
    value: Value | tuple[tuple[str, YuanRange | None], ...] | None
    keys: tuple[str, ...]
    pack: str | None
    uncertain: bool
    sentence: str
    settings: tuple[Setting, ...] = ()

    @property
    def is_set(self) -> bool:
        return self.value is not None


class Policy:
    """The packs in force, in canonical order; every answer cites the keys behind it."""

    __slots__ = ("packs",)

    def __init__(self, packs: Iterable[Pack]) -> None:
        ordered = tuple(sorted(packs, key=lambda p: (LEVELS.index(p.level), p.id)))
        if not ordered:
            raise CustosError(Kind.INVALID_ARGUMENT, "a policy needs at least one pack")
        ids = [p.id for p in ordered]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise CustosError(Kind.INVALID_ARGUMENT, f"pack id(s) {', '.join(dupes)} given more than once")
        self.packs = ordered

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.packs)

    def __repr__(self) -> str:
        return f"Policy({'+'.join(self.ids)})"

    def param(self, name: str) -> Resolved:
        spec = _spec(name)
        return _resolve(name, spec, _label(name, spec), self._settings(name), self.ids)

    def retention_classes(self) -> tuple[str, ...]:
        """Classes any pack in force names, "standard" first."""
        names = {n.partition(".")[2] for p in self.packs for n in p.params if n.startswith("retain_days.")}
        return tuple(sorted(names, key=lambda c: (c != STANDARD, c)))

    def retention_days(self, class_name: str) -> Resolved:
        """Days footage of a class is kept. Every class is kept at least as long as "standard"
        (CN-17's floor covers all footage), so the standard settings take part for every class.
        A class no pack in force names is refused rather than guessed."""
        if class_name not in self.retention_classes():
            known = ", ".join(self.retention_classes()) or "none"
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"no pack in force ({', '.join(self.ids)}) names retention class {class_name!r}; known: {known}",
            )
        name = f"retain_days.{class_name}"
        spec = _spec(name)
        settings = self._settings(name)
        label = _label(name, spec)
        if class_name != STANDARD:
            settings += self._settings(f"retain_days.{STANDARD}")
            label += f" (at least as long as class '{STANDARD}')"
        resolved = _resolve(name, spec, label, settings, self.ids)
        if resolved.value is None:
            return replace(resolved, sentence=resolved.sentence + " Footage is kept until a pack sets a period.")
        return resolved

    def keys_for(self, rule: str) -> tuple[str, ...]:
        """The keys behind an obligation in the packs in force; () when none of them has it."""
        if rule not in RULES:
            raise CustosError(Kind.INVALID_ARGUMENT, f"unknown rule {rule!r}; the rules are {', '.join(RULES)}")
        return _dedupe(k for p in self.packs for k in p.rules.get(rule, ()))

    def penalties(self, offence: str) -> tuple[Resolved, ...]:
        """Every party's fines for an offence, each pack's range side by side; () when no pack has one."""
        if offence not in OFFENCES:
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"unknown offence {offence!r}; the offences are {', '.join(OFFENCES)}"
            )
        found = (self.param(f"penalty_yuan.{offence}.{party}") for party in PARTIES)
        return tuple(r for r in found if r.settings)

    def _settings(self, name: str) -> tuple[Setting, ...]:
        return tuple(Setting(p.id, p.params[name]) for p in self.packs if name in p.params)


def load_policy(packs: Iterable[str | os.PathLike[str]] | str | os.PathLike[str]) -> Policy:
    """Load and stack packs by built-in id or file path: `load_policy(["CN", "HB"])`."""
    if isinstance(packs, str | os.PathLike):
        packs = [packs]
    return Policy(load_pack(p) for p in packs)


def _spec(name: str) -> Spec:
    spec = spec_for(name)
    if spec is None or (name.startswith("retain_days.") and not IDENT_RE.fullmatch(name.partition(".")[2])):
        raise CustosError(Kind.INVALID_ARGUMENT, f"unknown policy parameter {name!r}")
    return spec


def _label(name: str, spec: Spec) -> str:
    return spec.label.format(name.rpartition(".")[2])


def _dedupe(keys: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(keys))


def _say(value: object) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    return str(value)


def _cite(s: Setting) -> str:
    flag = ", uncertain" if s.param.uncertain else ""
    return f"{s.pack} ({', '.join(s.param.keys)}{flag}): {_say(s.param.value)}"


_WHY = {
    Stricter.LARGER: "the larger is stricter",
    Stricter.SMALLER: "the smaller is stricter",
    Stricter.TRUE: "a requirement is stricter than none",
}


def _resolve(name: str, spec: Spec, label: str, settings: Sequence[Setting], ids: tuple[str, ...]) -> Resolved:
    """The pure stacking rule; `settings` come in canonical pack order."""
    head = label[0].upper() + label[1:]
    if not settings:
        return Resolved(name, None, (), None, False, f"{head}: not set; no pack in force ({', '.join(ids)}) sets it.")
    keys = _dedupe(k for s in settings for k in s.param.keys)
    any_uncertain = any(s.param.uncertain for s in settings)
    cites = "; ".join(_cite(s) for s in settings)
    if spec.stricter is Stricter.SIDE_BY_SIDE:
        ranges = tuple((s.pack, cast(YuanRange | None, s.param.value)) for s in settings)
        sentence = f"{head}: {cites}. Each pack's range stands on its own."
        return Resolved(name, ranges, keys, None, any_uncertain, sentence, tuple(settings))
    if spec.stricter is Stricter.UNION:
        items = sorted({x for s in settings for x in cast(tuple[str, ...], s.param.value or ())})
        value = tuple(items) or None
        sentence = f"{head}: {_say(value)}. The union of {cites}."
        return Resolved(name, value, keys, None, any_uncertain, sentence, tuple(settings))
    with_value = [s for s in settings if s.param.value is not None]
    if not with_value:
        sentence = f"{head}: not set. {cites}; no pack in force gives a figure."
        return Resolved(name, None, keys, None, any_uncertain, sentence, tuple(settings))
    if spec.stricter is Stricter.SMALLER:
        best = min(cast(int, s.param.value) for s in with_value)
    else:  # LARGER, and TRUE (True > False)
        best = max(cast(int, s.param.value) for s in with_value)
    # On a tie a certain setting wins over an uncertain one, then the canonical order decides.
    winner = min((s for s in with_value if s.param.value == best), key=lambda s: s.param.uncertain)
    ordered = (winner, *(s for s in settings if s is not winner))
    filled = {k for s in with_value for k in s.param.keys}
    unfilled = any(s.param.value is None and not set(s.param.keys) <= filled for s in settings)
    uncertain = winner.param.uncertain or unfilled
    sentence = f"{head}: {_say(winner.param.value)}, from {_cite(winner)}."
    if len(ordered) > 1:
        others = "; ".join(_cite(s) for s in ordered[1:])
        sentence += f" Also {others}; {_WHY[spec.stricter]}."
    if unfilled:
        sentence += " A pack names it without a figure, so a stricter value may apply."
    cited = _dedupe(k for s in ordered for k in s.param.keys)
    return Resolved(name, winner.param.value, cited, winner.pack, uncertain, sentence, ordered)
