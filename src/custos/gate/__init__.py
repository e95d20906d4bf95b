"""The gate: the only way footage leaves storage for a reader (DESIGN principle 1)."""

from custos.gate.gate import Gate, Grant
from custos.gate.request import AccessRequest, Mode

__all__ = ["AccessRequest", "Gate", "Grant", "Mode"]
