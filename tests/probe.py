"""FFmpeg as the judge of what custos writes: ffprobe's view of a file, and decoder errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def ffprobe_json(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(first stream, format) with every frame decoded and counted (`nb_read_frames`)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    j = json.loads(out)
    return j["streams"][0], j["format"]


def decode_errors(path: Path) -> str:
    """What FFmpeg's decoder complains about when it decodes the whole file ('' when nothing)."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"], capture_output=True, text=True
    ).stderr.strip()
