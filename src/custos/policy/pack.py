"""One policy pack: a jurisdiction's parameters as TOML data, loaded and validated strictly.

A pack maps article keys (`HB-17.6`) to parameters (days, counts, site categories, fines) and to
the obligations code cites (`rules`). Every parameter a pack may hold is named once, in `SPECS`,
with the direction in which it is stricter; stacking (`custos.policy.stack`) reads that direction
and nothing else. A figure the translated text does not give is left out, never guessed: such a
parameter has no value and must say `uncertain = true` with a note quoting the text (DESIGN
principle 4). Anything unexpected in a pack file is refused with the file and the parameter named.
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from custos.errors import CustosError, Kind

__all__ = [
    "BUILTIN_PACKS",
    "LEVELS",
    "OFFENCES",
    "PARTIES",
    "RULES",
    "SPECS",
    "Pack",
    "Param",
    "Spec",
    "Stricter",
    "Value",
    "YuanRange",
    "load_pack",
    "parse_pack",
    "spec_for",
]

BUILTIN_PACKS: Final = ("CN", "HB", "BJ")
# Stacking order, most general first: ties in a stack are cited national first.
LEVELS: Final = ("national", "provincial", "local")

KEY_RE: Final = re.compile(r"[A-Z]{2}-[1-9][0-9]*(\.[1-9][0-9]*)?")
IDENT_RE: Final = re.compile(r"[a-z][a-z0-9_]*")
PACK_ID_RE: Final = re.compile(r"[A-Z][A-Z0-9_-]{0,31}")


class Stricter(enum.Enum):
    """Which of two packs' values is stricter; the value type follows from it."""

    LARGER = "larger"  # a positive int: more days kept, more officers
    SMALLER = "smaller"  # a positive int: fewer days to file
    TRUE = "true"  # a bool: a requirement beats its absence
    UNION = "union"  # a list of identifiers: every pack's items apply
    SIDE_BY_SIDE = "side by side"  # a fine in yuan (min/max): each pack's range is its own, none wins


@dataclass(frozen=True, slots=True)
class Spec:
    stricter: Stricter
    label: str  # completes "… is" / "…:" in a sentence; `{}` takes the wildcard segment


@dataclass(frozen=True, slots=True)
class YuanRange:
    """A fine in yuan; a missing bound is one the text does not give."""

    min_yuan: int | None = None
    max_yuan: int | None = None

    def __str__(self) -> str:
        lo, hi = self.min_yuan, self.max_yuan
        if lo is not None and hi is not None:
            return f"{lo:,}–{hi:,} yuan"
        if hi is not None:
            return f"up to {hi:,} yuan"
        if lo is not None:
            return f"at least {lo:,} yuan"
        return "no amount given"


Value = int | bool | tuple[str, ...] | YuanRange

OFFENCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "not_installed": "not installing a system where one is mandatory, or not to standard",
        "outside_scope": "capturing public areas outside the unit's own scope",
        "public_road_non_government": "a non-government system on a public road or square",
        "forbidden_site": "installing on a forbidden site",
        "unauthorised_installer": "installing without being entitled to",
        "no_classified_consent": "installing next to a military or classified unit without its consent",
        "not_filed": "not filing, or filing falsely",
        "duties": "failing the using unit's duties of operation",
        "information_security": "breaking the rules on registering, keeping, viewing or copying footage",
        "interference": "moving, removing or tampering with cameras, footage or records",
        "refused_provision": "refusing footage to the authorities",
    }
)
PARTIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "unit": "the unit",
        "individual": "an individual",
        "responsible": "the unit's head and directly responsible staff",
    }
)

# The one table of parameters. A `*` segment is any identifier (a retention class).
SPECS: Final[Mapping[str, Spec]] = MappingProxyType(
    {
        "retain_days.*": Spec(Stricter.LARGER, "days footage of class '{}' is kept"),
        "filing.deadline_days": Spec(Stricter.SMALLER, "days after going into use to file with the PSB"),
        "filing.legacy_deadline_days": Spec(
            Stricter.SMALLER, "days after the winning pack's in_force date for systems already in use to file"
        ),
        "filing.dismantle_notice_days": Spec(Stricter.LARGER, "days before dismantling to file"),
        "filing.fields": Spec(Stricter.UNION, "fields of a filing"),
        "filing.refile_on_change": Spec(Stricter.TRUE, "re-filing required when filed facts change"),
        "authority_access.min_officers": Spec(Stricter.LARGER, "officers an authority sends to access footage"),
        "authority_access.credentials_required": Spec(Stricter.TRUE, "officers' credentials required"),
        "authority_access.approval_document_required": Spec(Stricter.TRUE, "an approval document required"),
        "authority_access.legal_basis_required": Spec(Stricter.TRUE, "a legal basis required for state organs"),
        "access.register_fields": Spec(Stricter.UNION, "fields registered for every viewing or retrieval"),
        "sites.mandatory": Spec(Stricter.UNION, "site categories that must have cameras"),
        "sites.forbidden": Spec(Stricter.UNION, "site categories where cameras are forbidden"),
        "sites.government_only": Spec(Stricter.UNION, "site categories where only government may build"),
        "sites.government_built": Spec(Stricter.UNION, "site categories whose systems government builds"),
        "sites.operator_built": Spec(Stricter.UNION, "site categories whose systems the operator builds"),
        "consent.near_classified_unit": Spec(Stricter.TRUE, "consent of a neighbouring classified unit required"),
        "events.hold_kinds": Spec(Stricter.UNION, "kinds of event whose footage goes on hold"),
        **{
            f"penalty_yuan.{offence}.{party}": Spec(Stricter.SIDE_BY_SIDE, f"fine on {who} for {what}")
            for offence, what in OFFENCES.items()
            for party, who in PARTIES.items()
        },
    }
)

# Obligations without a figure: what `Policy.keys_for` cites for the packs in force.
RULES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "system.records": "acquire, transmit, display, store and manage video",
        "sites.system_class": "the class of a site's system decides which duties apply",
        "sites.outside_scope": "capture nothing public outside the unit's own scope",
        "sites.forbidden_inspection": "managers of private spaces inspect for cameras and report them",
        "camera.fixed_and_signed": "fixed position and range, set to need, with clear signage",
        "camera.no_unauthorised_move": "no unauthorised moving or blocking of a camera",
        "filing.required": "file the system with the PSB",
        "filing.before_dismantling": "file before dismantling a system",
        "duty.systems": "security, monitoring, maintenance, inspection and duty systems",
        "staff.training": "vet and train staff; report them to the PSB",
        "access.register": "register every viewing and retrieval of footage",
        "access.authorised_staff_only": "only authorised staff view or copy footage",
        "access.authority": "authority access needs officers, credentials and an approval or legal basis",
        "access.authority_rights": "the PSB and authorities may obtain, view and copy footage",
        "health.report": "keep the system working; report outages and moved cameras to the PSB",
        "events.report": "report suspicious information to the PSB",
        "retention.keep": "keep footage for the retention period",
        "footage.no_deletion": "no unauthorised deletion, alteration or destruction of footage or records",
        "footage.purpose_bound": "no use beyond the stated purpose; no selling, copying or distributing",
        "privacy.protect": "protect state secrets, commercial secrets and personal privacy",
        "security.integrity": "protect against attack and leaks; keep footage original and complete",
        "interconnect.interface": "an interface for the PSB and emergency command",
        "officials.liable": "officials who access outside the rules are liable",
        "subject.view": "the person concerned may view (not copy) footage with the operator's consent",
        "release.redact": "protect faces, plates and names before public release",
    }
)


def spec_for(name: str) -> Spec | None:
    """The spec of a parameter name, or None for a name no pack may hold."""
    if name in SPECS:
        return SPECS[name]
    head, _, tail = name.rpartition(".")
    if IDENT_RE.fullmatch(tail) and f"{head}.*" in SPECS:
        return SPECS[f"{head}.*"]
    return None


@dataclass(frozen=True, slots=True)
class Param:
    """One pack's setting of one parameter; `value` None means the text gives no figure."""

    name: str
    keys: tuple[str, ...]
    value: Value | None
    uncertain: bool = False
    note: str = ""  # whitespace folded: notes may wrap in the TOML file


@dataclass(frozen=True, slots=True)
class Pack:
    id: str
    title: str
    source: str
    in_force: date
    level: str
    params: Mapping[str, Param]
    rules: Mapping[str, tuple[str, ...]]
    origin: str  # the file it came from, for messages


def load_pack(name_or_path: str | os.PathLike[str]) -> Pack:
    """A built-in pack by id ("CN", "HB", "BJ", any case) or a deployment's own pack file."""
    if isinstance(name_or_path, str) and name_or_path.upper() in BUILTIN_PACKS:
        file = f"{name_or_path.lower()}.toml"
        text = resources.files("custos.policy").joinpath("packs", file).read_text(encoding="utf-8")
        return parse_pack(_toml(text, f"built-in pack {file}"), f"built-in pack {file}")
    path = Path(name_or_path)
    if not path.is_file():
        if isinstance(name_or_path, str) and path.suffix != ".toml" and len(path.parts) == 1:
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"unknown policy pack {name_or_path!r}: the built-in packs are {', '.join(BUILTIN_PACKS)}; "
                "a deployment's own pack is given as the path of its .toml file",
            )
        raise CustosError(Kind.NOT_FOUND, f"policy pack file {str(path)!r} does not exist")
    return parse_pack(_toml(path.read_text(encoding="utf-8"), str(path)), str(path))


def _toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CustosError(Kind.INVALID_ARGUMENT, f"{origin}: not valid TOML: {e}") from None


def _bad(origin: str, what: str, message: str) -> CustosError:
    return CustosError(Kind.INVALID_ARGUMENT, f"{origin}: {what}: {message}")


def parse_pack(data: Mapping[str, Any], origin: str) -> Pack:
    """Validate a parsed pack file; `origin` names it in every message."""
    if "pack" not in data or not isinstance(data["pack"], dict):
        raise _bad(origin, "header", "a [pack] table with id, title, source, in_force and level is required")
    header = _header(data["pack"], origin)
    rules_raw = data.get("rules", {})
    if not isinstance(rules_raw, dict):
        raise _bad(origin, "rules", "must be a table of rule = [keys]")
    params: dict[str, Param] = {}
    for name, raw in _leaves({k: v for k, v in data.items() if k not in ("pack", "rules")}, ""):
        params[name] = _param(name, raw, origin)
    rules = {name: _rule(name, raw, origin) for name, raw in _leaves(rules_raw, "", rules=True)}
    return Pack(**header, params=MappingProxyType(params), rules=MappingProxyType(rules), origin=origin)


def _leaves(table: Mapping[str, Any], prefix: str, *, rules: bool = False) -> Iterator[tuple[str, Any]]:
    """Dotted names down to a parameter (the first table holding no tables) or a rule (a list of keys)."""
    for name, value in table.items():
        full = f"{prefix}.{name}" if prefix else name
        if isinstance(value, dict) and (rules or (value and all(isinstance(v, dict) for v in value.values()))):
            yield from _leaves(value, full, rules=rules)
        else:
            yield full, value


def _header(raw: Mapping[str, Any], origin: str) -> dict[str, Any]:
    fields: dict[str, type] = {"id": str, "title": str, "source": str, "in_force": date, "level": str}
    if extra := sorted(set(raw) - set(fields)):
        raise _bad(origin, "[pack]", f"unknown field(s) {', '.join(extra)}; expected {', '.join(fields)}")
    for name, kind in fields.items():
        if name not in raw:
            raise _bad(origin, "[pack]", f"missing {name}")
        # tomllib gives datetime (a date subclass) for a date-time: only a bare date is a date here.
        if type(raw[name]) is not kind or (kind is str and not raw[name].strip()):
            raise _bad(origin, f"[pack] {name}", f"expected a {'date (YYYY-MM-DD)' if kind is date else 'text'}")
    if not PACK_ID_RE.fullmatch(raw["id"]):
        raise _bad(origin, "[pack] id", f"{raw['id']!r} is not an upper-case id like 'CN' or 'BJ-LOCAL'")
    if raw["level"] not in LEVELS:
        raise _bad(origin, "[pack] level", f"{raw['level']!r} is not one of {', '.join(LEVELS)}")
    return dict(raw)


def _keys(raw: Mapping[str, Any], what: str, origin: str) -> tuple[str, ...]:
    if ("key" in raw) == ("keys" in raw):
        raise _bad(origin, what, 'give exactly one of key = "XX-N" or keys = [...] (the article it comes from)')
    keys = [raw["key"]] if "key" in raw else raw["keys"]
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise _bad(origin, what, "keys must be a non-empty list of article keys")
    return _key_list(keys, what, origin)


def _key_list(keys: list[str], what: str, origin: str) -> tuple[str, ...]:
    for k in keys:
        if not KEY_RE.fullmatch(k):
            raise _bad(origin, what, f"{k!r} is not an article key of the form XX-N or XX-N.N (e.g. HB-17.6)")
    if len(set(keys)) != len(keys):
        raise _bad(origin, what, f"repeated key in {keys}")
    return tuple(keys)


def _param(name: str, raw: Any, origin: str) -> Param:
    spec = spec_for(name)
    what = f"parameter {name!r}"
    if spec is None:
        raise _bad(origin, what, "unknown parameter (the known ones are listed in custos.policy.SPECS)")
    if not isinstance(raw, dict):
        raise _bad(origin, what, "expected a table with key and value")
    is_range = spec.stricter is Stricter.SIDE_BY_SIDE
    allowed = {"key", "keys", "uncertain", "note"} | ({"min", "max"} if is_range else {"value"})
    if extra := sorted(set(raw) - allowed):
        raise _bad(origin, what, f"unknown field(s) {', '.join(extra)}; expected {', '.join(sorted(allowed))}")
    keys = _keys(raw, what, origin)
    uncertain, note = raw.get("uncertain", False), raw.get("note", "")
    if not isinstance(uncertain, bool):
        raise _bad(origin, what, "uncertain must be true or false")
    if not isinstance(note, str):
        raise _bad(origin, what, "note must be text")
    if uncertain and not note.strip():
        raise _bad(origin, what, "uncertain = true needs a note quoting what the text says")
    value = _range(raw, what, origin) if is_range else _value(spec, raw, what, origin)
    if value is None and not uncertain:
        raise _bad(origin, what, "no value: leave a figure out only with uncertain = true and a note quoting the text")
    return Param(name, keys, value, uncertain, " ".join(note.split()))


def _value(spec: Spec, raw: Mapping[str, Any], what: str, origin: str) -> Value | None:
    if "value" not in raw:
        return None
    v = raw["value"]
    if spec.stricter in (Stricter.LARGER, Stricter.SMALLER):
        if type(v) is not int or v < 1:
            raise _bad(origin, what, f"value must be a positive whole number, not {v!r}")
        return v
    if spec.stricter is Stricter.TRUE:
        if not isinstance(v, bool):
            raise _bad(origin, what, f"value must be true or false, not {v!r}")
        return v
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and IDENT_RE.fullmatch(x) for x in v):
        raise _bad(origin, what, f'value must be a non-empty list of identifiers like "hotel_room", not {v!r}')
    if len(set(v)) != len(v):
        raise _bad(origin, what, f"repeated item in {v}")
    return tuple(v)


def _range(raw: Mapping[str, Any], what: str, origin: str) -> YuanRange | None:
    for bound in ("min", "max"):
        if bound in raw and (type(raw[bound]) is not int or raw[bound] < 0):
            raise _bad(origin, what, f"{bound} must be a whole number of yuan, not {raw[bound]!r}")
    lo, hi = raw.get("min"), raw.get("max")
    if lo is not None and hi is not None and lo > hi:
        raise _bad(origin, what, f"min {lo} is above max {hi}")
    return None if lo is None and hi is None else YuanRange(lo, hi)


def _rule(name: str, raw: Any, origin: str) -> tuple[str, ...]:
    what = f"rule {name!r}"
    if name not in RULES:
        raise _bad(origin, what, "unknown rule (the known ones are listed in custos.policy.RULES)")
    if not isinstance(raw, list) or not raw or not all(isinstance(k, str) for k in raw):
        raise _bad(origin, what, "expected a non-empty list of article keys")
    return _key_list(raw, what, origin)
