"""The server process's configuration: what SimCameras hands to `python -m custos.sim.server` as JSON.

Kept apart from the server so the handle can build it without importing GStreamer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from custos.sim.spec import CameraSpec


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server process needs, passed as one JSON argument."""

    cameras: tuple[tuple[CameraSpec, Path | None], ...]
    host: str = "127.0.0.1"
    port: int = 0
    username: str | None = None
    password: str | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "cameras": [{"spec": s.to_json(), "file": str(f) if f else None} for s, f in self.cameras],
                "host": self.host,
                "port": self.port,
                "username": self.username,
                "password": self.password,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ServerConfig:
        data = json.loads(text)
        cameras = tuple(
            (CameraSpec.from_json(c["spec"]), Path(c["file"]) if c["file"] else None) for c in data["cameras"]
        )
        return cls(cameras, data["host"], data["port"], data["username"], data["password"])
