"""Where a camera may be and what it must have: the one rule behind registration refusals and findings.

- forbidden sites (HB-8, BJ-9, CN-8): refused on registration, a finding if one exists;
- public roads and squares are government's (BJ-7): a non-government unit's camera there is refused;
- the view must stay within the unit's own scope (BJ-6): an excess not covered by a privacy mask is
  refused when a pack in force has the rule, and a finding for cameras registered before it applied;
- next to a military or classified unit, that unit's consent comes first (CN-10): no activation without it;
- position, angle and range set, and a conspicuous sign (HB-9, BJ-15, CN-13): no activation without them.

`PlacementRules.of(policy)` resolves the packs once; `check` is pure, so the findings run it over a
province's cameras without a query per camera.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry

from custos.policy import Decision, Policy
from custos.registry.classes import applicable
from custos.registry.geometry import unmasked_excess

SEVERITIES = ("critical", "high", "medium", "low")
# What blocks which step; everything else is a finding only.
REFUSE_REGISTER = frozenset({"camera.forbidden_site", "camera.public_road_non_government", "camera.outside_scope"})
REFUSE_ACTIVATE = REFUSE_REGISTER | {"camera.no_classified_consent", "camera.no_signage", "camera.no_geometry"}


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    keys: tuple[str, ...]
    offence: str | None  # for the packs' penalty ranges (custos.policy.OFFENCES)
    severity: str
    message: str
    uncertain: bool = False


@dataclass(frozen=True, slots=True)
class SiteFacts:
    name: str
    category: str
    system_class: str
    near_classified_unit: bool = False
    has_consent: bool = False


@dataclass(frozen=True, slots=True)
class _CategoryRule:
    items: frozenset[str]
    keys: tuple[str, ...]
    uncertain: bool
    sentence: str


def _category_rule(policy: Policy, name: str) -> _CategoryRule:
    r = policy.param(name)
    items = frozenset(r.value) if isinstance(r.value, tuple) else frozenset()
    return _CategoryRule(items, r.keys, r.uncertain, r.sentence)


@dataclass(frozen=True)
class PlacementRules:
    forbidden: _CategoryRule
    government_only: _CategoryRule
    mandatory: _CategoryRule
    outside_scope_keys: tuple[str, ...]
    consent_keys: tuple[str, ...]
    consent_required: bool
    signage_keys: tuple[str, ...]
    _cache: dict[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, policy: Policy) -> PlacementRules:
        consent = policy.param("consent.near_classified_unit")
        return cls(
            forbidden=_category_rule(policy, "sites.forbidden"),
            government_only=_category_rule(policy, "sites.government_only"),
            mandatory=_category_rule(policy, "sites.mandatory"),
            outside_scope_keys=policy.keys_for("sites.outside_scope"),
            consent_keys=consent.keys,
            consent_required=consent.value is True,
            signage_keys=policy.keys_for("camera.fixed_and_signed"),
        )

    def check(
        self,
        *,
        camera: str,
        unit: str,
        government: bool,
        site: SiteFacts | None,
        boundary: BaseGeometry | None,
        fov: BaseGeometry | None,
        masks: Sequence[BaseGeometry] = (),
        has_position: bool = True,
        signage: bool = True,
    ) -> list[Problem]:
        """Every problem of one camera's placement, its keys already stripped of its class's exemptions."""
        out: list[Problem] = []
        cls = site.system_class if site else None

        def add(code: str, keys: tuple[str, ...], offence: str | None, severity: str, msg: str, unc: bool) -> None:
            kept = applicable(keys, cls)
            if kept:
                out.append(Problem(code, kept, offence, severity, msg, unc))

        if site is not None:
            if site.category in self.forbidden.items:
                add(
                    "camera.forbidden_site",
                    self.forbidden.keys,
                    "forbidden_site",
                    "critical",
                    f"camera {camera} is on site {site.name!r}, a {site.category.replace('_', ' ')}, where cameras are forbidden",
                    self.forbidden.uncertain,
                )
            if site.category in self.government_only.items and not government:
                add(
                    "camera.public_road_non_government",
                    self.government_only.keys,
                    "public_road_non_government",
                    "high",
                    f"camera {camera} of {unit}, which is not a government body, is on site {site.name!r}, a "
                    f"{site.category.replace('_', ' ')}, where only government builds",
                    self.government_only.uncertain,
                )
            if self.consent_required and site.near_classified_unit and not site.has_consent:
                add(
                    "camera.no_classified_consent",
                    self.consent_keys,
                    "no_classified_consent",
                    "critical",
                    f"camera {camera} is on site {site.name!r} next to a military or classified unit, and that "
                    "unit's consent is not on file",
                    False,
                )
        if self.outside_scope_keys and boundary is not None and fov is not None:
            share = unmasked_excess(fov, boundary, masks)
            if share > 0:
                add(
                    "camera.outside_scope",
                    self.outside_scope_keys,
                    "outside_scope",
                    "high",
                    f"{share:.0%} of camera {camera}'s field of view lies outside {unit}'s boundary with no privacy "
                    "mask over it",
                    False,
                )
        if self.signage_keys:
            if fov is None or not has_position:
                add(
                    "camera.no_geometry",
                    self.signage_keys,
                    "duties",
                    "medium",
                    f"camera {camera} has no registered position and field of view",
                    False,
                )
            if not signage:
                add(
                    "camera.no_signage",
                    self.signage_keys,
                    "duties",
                    "medium",
                    f"camera {camera} has no conspicuous sign registered",
                    False,
                )
        return out


def refusal(problems: Sequence[Problem], blocking: frozenset[str], action: str) -> Decision:
    """The decision on registering or activating: refused on the first blocking problem, citing its keys."""
    for p in problems:
        if p.code in blocking:
            return Decision.refuse(f"{action} refused: {p.message}", p.keys, uncertain=p.uncertain)
    return Decision.allow(f"{action} allowed")
