"""Compliance findings over the registry, each citing its articles and the packs' penalty ranges, and the
PSB's overview of the units filed with it."""

from custos.findings.evaluate import Assessment, assess, evaluate
from custos.findings.finding import SEVERITIES, Finding, PackRange, Penalty, at_least
from custos.findings.overview import psb_overview

__all__ = [
    "SEVERITIES",
    "Assessment",
    "Finding",
    "PackRange",
    "Penalty",
    "assess",
    "at_least",
    "evaluate",
    "psb_overview",
]
