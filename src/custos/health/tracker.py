"""When a fault seen on keyframes becomes an event: raised after it persists, cleared after it has gone.

One keyframe is one look (`custos.health.analysis.look`, about every 10 s per camera). A fault is raised after
`raise_after` consecutive looks with it and cleared after `clear_after` consecutive looks without it, so that a
bus passing in front of the lens (one odd keyframe) raises nothing, and a fault that flickers around its
threshold is neither raised nor cleared over and over (the looks themselves also use looser levels for raised
faults: `Thresholds`). Faults reported this way keep the picture's faults on record (HB-17.4, BJ-12.3).

Motion is raised on the first look with motion and cleared after `clear_after` looks without it.

A sticky kind is never cleared by looks, only by `reset`: a displaced camera stays displaced until it is
registered again with a new reference view (HB-18.1, BJ-12.4, CN-23: no one may move a camera).
"""

from __future__ import annotations

from dataclasses import dataclass

from custos.health.analysis import FAULT_KINDS, Look, Thresholds

MOTION = "motion"
KINDS = (*FAULT_KINDS, MOTION)

_NO_LOOK = Look(faults=frozenset(), motion=False, measures={})


@dataclass(frozen=True)
class Change:
    kind: str
    """A FAULT_KINDS member or "motion"."""
    raised: bool
    """True: raised now; False: cleared now."""
    look: Look
    """The look that decided it (for a `reset`, the last look the tracker was given)."""


class Tracker:
    """The raised faults of one camera, from its looks in order."""

    def __init__(self, thresholds: Thresholds, *, sticky: frozenset[str] = frozenset()) -> None:
        unknown = set(sticky) - set(KINDS)
        if unknown:
            raise ValueError(f"sticky kinds {sorted(unknown)} are not among {', '.join(KINDS)}")
        self.thresholds = thresholds
        self.sticky = frozenset(sticky)
        self._raised: set[str] = set()
        self._seen: dict[str, int] = dict.fromkeys(KINDS, 0)  # consecutive looks with it
        self._unseen: dict[str, int] = dict.fromkeys(KINDS, 0)  # consecutive looks without it
        self._last = _NO_LOOK

    @property
    def raised(self) -> frozenset[str]:
        """The faults (and "motion") raised now."""
        return frozenset(self._raised)

    def update(self, look: Look) -> list[Change]:
        """Take the next look; the kinds raised or cleared by it, in FAULT_KINDS order, motion last."""
        self._last = look
        changes = []
        for kind in KINDS:
            present = look.motion if kind == MOTION else kind in look.faults
            if present:
                self._seen[kind] += 1
                self._unseen[kind] = 0
            else:
                self._unseen[kind] += 1
                self._seen[kind] = 0
            needed = 1 if kind == MOTION else self.thresholds.raise_after
            if kind not in self._raised and present and self._seen[kind] >= needed:
                self._raised.add(kind)
                changes.append(Change(kind, True, look))
            elif (
                kind in self._raised
                and not present
                and kind not in self.sticky
                and self._unseen[kind] >= self.thresholds.clear_after
            ):
                self._raised.discard(kind)
                changes.append(Change(kind, False, look))
        return changes

    def reset(self, kind: str) -> Change | None:
        """Clear `kind` from outside (the only way a sticky kind is cleared); None if it was not raised.

        Its count starts afresh: if the fault is still seen it is raised again after `raise_after` looks.
        """
        if kind not in KINDS:
            raise ValueError(f"{kind!r} is not one of {', '.join(KINDS)}")
        self._seen[kind] = 0
        self._unseen[kind] = 0
        if kind not in self._raised:
            return None
        self._raised.discard(kind)
        return Change(kind, False, self._last)
