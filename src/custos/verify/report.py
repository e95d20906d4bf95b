"""What `custos verify` found: one finding per discrepancy, naming the file or record and the article."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Finding:
    code: str  # e.g. "segment.altered": stable, for scripts
    subject: str  # the file, record or entry concerned
    message: str
    keys: tuple[str, ...]


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    segments_hashed: int = 0
    bytes_hashed: int = 0
    entries_replayed: int = 0
    tree_heads_checked: int = 0
    witness_heads: int = 0
    rows_checked: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, code: str, subject: str, message: str, keys: tuple[str, ...]) -> None:
        self.findings.append(Finding(code, subject, message, keys))

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["findings"] = [{**asdict(f), "keys": list(f.keys)} for f in self.findings]
        return d
