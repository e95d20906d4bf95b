"""System classes under Order 799 and the duties each is exempt from (CN-7, CN-9, CN-33).

A site's class decides which of the national duties apply: systems in other public places (Art. 9) are
exempt from Arts. 11, 14, 15, 16 para. 2 and 17; a finding about such a site never cites those keys. The
provincial texts know no classes, so their keys stay: a finding that still has keys after the exemption
stands on them alone, and one left with none is not a finding. Keys cite articles, not paragraphs, so
CN-16 as a whole is dropped for an exempt class (its para. 2 is the duty in question).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from custos.catalog.models import SYSTEM_CLASSES


@dataclass(frozen=True, slots=True)
class SystemClass:
    name: str
    keys: tuple[str, ...]  # the articles that define it
    exempt: frozenset[str]  # national keys of duties that do not apply
    label: str
    uncertain: bool = False


_ART9_EXEMPT = frozenset({"CN-11", "CN-14", "CN-15", "CN-16", "CN-17"})

CLASSES: dict[str, SystemClass] = {
    "government_built": SystemClass(
        "government_built",
        ("CN-7",),
        frozenset(),
        "built by government (main roads, bridges, tunnels, squares, key units)",
    ),
    "operator_built": SystemClass(
        "operator_built",
        ("CN-7",),
        frozenset(),
        "built by the operator (crowded places, transport hubs, public vehicles, service areas)",
    ),
    "other_public": SystemClass("other_public", ("CN-9",), _ART9_EXEMPT, "in another public place"),
    "non_public": SystemClass(
        "non_public",
        ("CN-33",),
        _ART9_EXEMPT,
        "in a non-public place",
        # ARTICLES.md names the class but not its duties: custos applies Art. 9's exemptions to it.
        uncertain=True,
    ),
}
assert set(CLASSES) == set(SYSTEM_CLASSES)


def applicable(keys: Iterable[str], system_class: str | None) -> tuple[str, ...]:
    """`keys` without those of duties the class is exempt from; a site without a class keeps every key."""
    if system_class is None:
        return tuple(keys)
    exempt = CLASSES[system_class].exempt
    return tuple(k for k in keys if k not in exempt)
