"""Who is asking: the person behind a session, with the unit and role that decide what they may ask for."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    OPERATOR = "operator"
    UNIT_ADMIN = "unit_admin"
    PSB_OFFICER = "psb_officer"
    PSB_APPROVER = "psb_approver"
    AUTHORITY_OFFICER = "authority_officer"
    INSPECTOR = "inspector"
    AUDITOR = "auditor"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Principal:
    person_id: int
    username: str
    full_name: str
    unit_id: int
    unit: str
    unit_kind: str
    role: Role
    session_id: int | None = None

    def describe(self) -> str:
        return f"{self.full_name} ({self.username}, {self.role.value}, {self.unit})"
