"""Policy as data (DESIGN principle 4): packs per jurisdiction (CN, HB, BJ), stacked, every answer citing keys."""

from custos.policy.decision import Decision
from custos.policy.pack import (
    BUILTIN_PACKS,
    LEVELS,
    OFFENCES,
    PARTIES,
    RULES,
    SPECS,
    Pack,
    Param,
    Spec,
    Stricter,
    Value,
    YuanRange,
    load_pack,
    parse_pack,
    spec_for,
)
from custos.policy.stack import Policy, Resolved, Setting, load_policy

__all__ = [
    "BUILTIN_PACKS",
    "LEVELS",
    "OFFENCES",
    "PARTIES",
    "RULES",
    "SPECS",
    "Decision",
    "Pack",
    "Param",
    "Policy",
    "Resolved",
    "Setting",
    "Spec",
    "Stricter",
    "Value",
    "YuanRange",
    "load_pack",
    "load_policy",
    "parse_pack",
    "spec_for",
]
