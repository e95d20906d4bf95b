"""What a reader asks the gate for: how, what, why and to where (HB-17.3, BJ-13.2, BJ-17.3, CN-16)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass


class Mode(enum.StrEnum):
    LIVE = "live"
    PLAYBACK = "playback"
    THUMBNAIL = "thumbnail"
    DOWNLOAD = "download"
    EXPORT = "export"
    COPY = "copy"

    @property
    def leaves_the_system(self) -> bool:
        """Footage that ends up in a file somewhere else: a destination must be named."""
        return self in {Mode.DOWNLOAD, Mode.EXPORT, Mode.COPY}


@dataclass(frozen=True, slots=True)
class AccessRequest:
    mode: Mode
    cameras: tuple[str, ...]
    purpose: str
    start_utc: dt.datetime | None = None
    end_utc: dt.datetime | None = None
    legal_basis: str | None = None
    approval_ref: str | None = None
    destination: str | None = None
    client_address: str | None = None
    request_id: int | None = None  # an authority, emergency or data-subject request (custos.registry.requests)

    def describe(self) -> str:
        span = (
            ""
            if self.start_utc is None
            else f" from {self.start_utc:%Y-%m-%d %H:%M:%S} to {self.end_utc:%Y-%m-%d %H:%M:%S} UTC"
        )
        via = "" if self.request_id is None else f" under request {self.request_id}"
        return f"{self.mode.value} of {', '.join(self.cameras)}{span}{via}"
