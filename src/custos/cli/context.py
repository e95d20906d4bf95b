"""The commands' context is the deployment's: see custos.context."""

from custos.context import Context, open_context, policy_of

__all__ = ["Context", "open_context", "policy_of"]
