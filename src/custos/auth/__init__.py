"""People, roles and sessions: who is asking (BJ-14: named persons, no shared accounts)."""

from custos.auth.principal import Principal, Role

__all__ = ["Principal", "Role"]
