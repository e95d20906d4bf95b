"""Pre-encode each camera's loop once with FFmpeg, into a cache keyed by everything that shapes the file.

Serving a pre-encoded Annex-B loop costs ~1 % of a core per 1080p stream; live x264 costs ~65 %
(FACTS.md, Video). So the loop is encoded once per distinct recipe and reused by every later run.
The picture is `testsrc2` with the camera name, the loop clock and the frame number burnt in, so two
cameras never send identical frames and a viewer can see time pass.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from custos.errors import CustosError, Kind
from custos.sim.spec import PREENCODED_CODECS, CameraSpec

RECIPE_VERSION = 1
"""Bump when the command line changes in a way the parameters below do not capture."""

FONT_FILE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf")
_EXTENSIONS = {"h264": "h264", "h265": "h265"}


@dataclass(frozen=True)
class EncodeProgress:
    """One camera's loop is ready: `cached` when it was already in the cache (then `seconds` is ~0)."""

    spec: CameraSpec
    path: Path
    cached: bool
    seconds: float
    done: int
    total: int


ProgressFn = Callable[[EncodeProgress], None]


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/custos/sim`, else `~/.cache/custos/sim`; read when called, never at import."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "custos" / "sim"


def print_progress(event: EncodeProgress) -> None:
    """Report fresh encodes on stderr (cache hits are silent): 64 1080p loops take minutes."""
    if not event.cached:
        spec = event.spec
        print(
            f"custos.sim: encoded {spec.name} ({spec.codec} {spec.width}x{spec.height} {spec.loop_s}s) "
            f"in {event.seconds:.1f} s [{event.done}/{event.total}]",
            file=sys.stderr,
            flush=True,
        )


def ffmpeg_args(spec: CameraSpec, output: Path) -> list[str]:
    """The full FFmpeg command for one loop; the cache key hashes it, so any change re-encodes."""
    if spec.codec not in PREENCODED_CODECS:
        raise CustosError(Kind.INVALID_ARGUMENT, f"camera {spec.name}: codec {spec.codec} is not pre-encoded")
    font = f"fontfile={FONT_FILE}:" if FONT_FILE.exists() else ""
    size = max(12, spec.height // 10)
    drawtext = (
        f"drawtext={font}text='{spec.name} %{{pts\\:hms}} #%{{n}}':fontsize={size}:fontcolor=white"
        f":box=1:boxcolor=black@0.6:boxborderw={max(2, size // 6)}:x={size // 2}:y={size // 2}"
    )
    source = f"testsrc2=size={spec.width}x{spec.height}:rate={spec.fps},{drawtext}"
    gop = spec.gop_s * spec.fps
    rate = f"{spec.bitrate_kbps}k"
    common = ["-pix_fmt", "yuv420p", "-b:v", rate, "-maxrate", rate, "-bufsize", rate]
    if spec.codec == "h264":
        # veryfast keeps High profile with CABAC (what real cameras send) at ~5 CPU-s per 10 s of 1080p.
        codec = [
            "-c:v", "libx264", "-preset", "veryfast", "-threads", "1",
            "-bf", "0", "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-flags", "+cgop",
            "-f", "h264",
        ]  # fmt: skip
    else:
        # x265 is ~4x slower than x264; ultrafast keeps a 10 s 1080p loop near 11 CPU-s.
        params = (
            f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop=0:repeat-headers=1"
            ":pools=1:frame-threads=1:log-level=error"
        )
        codec = ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", params, "-f", "hevc"]
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", source, "-frames:v", str(spec.fps * spec.loop_s), "-an",
        *common, *codec, str(output),
    ]  # fmt: skip


def cache_path(spec: CameraSpec, cache_dir: Path) -> Path:
    """Readable name plus a digest of the recipe, so every parameter (and the recipe itself) is in the key."""
    recipe = json.dumps(
        {"version": RECIPE_VERSION, "spec": spec.to_json(), "args": ffmpeg_args(spec, Path("OUT"))},
        sort_keys=True,
    )
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    stem = (
        f"{spec.name}_{spec.codec}_{spec.width}x{spec.height}_{spec.fps}fps_{spec.bitrate_kbps}k"
        f"_gop{spec.gop_s}s_loop{spec.loop_s}s_{digest}"
    )
    return cache_dir / f"{stem}.{_EXTENSIONS[spec.codec]}"


def encode(spec: CameraSpec, cache_dir: Path | None = None) -> tuple[Path, bool]:
    """Return the loop's path and whether it was a cache hit; encode it first if missing.

    FFmpeg writes to a temporary name in the cache directory, renamed only after success, so a crash or
    a concurrent run never leaves a half file under the final name.
    """
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    final = cache_path(spec, directory)
    if final.exists():
        return final, True
    directory.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    args = ffmpeg_args(spec, temporary)
    try:
        result = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not temporary.exists() or temporary.stat().st_size == 0:
            tail = "\n".join((result.stderr or "").strip().splitlines()[-15:])
            raise CustosError(
                Kind.FAILED_PRECONDITION,
                f"ffmpeg failed (exit {result.returncode}) encoding camera {spec.name} "
                f"({spec.codec} {spec.width}x{spec.height}): {tail or '(no stderr)'}",
            )
        os.replace(temporary, final)
    except FileNotFoundError as exc:
        raise CustosError(Kind.FAILED_PRECONDITION, f"cannot run ffmpeg: {exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
    return final, False


def encode_all(
    specs: Sequence[CameraSpec],
    cache_dir: Path | None = None,
    *,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Path]:
    """Encode every pre-encoded camera's loop (in parallel, one single-threaded FFmpeg per core).

    Single-threaded encoders side by side beat one multi-threaded encoder here: `testsrc2` and the
    lookahead serialise most of a single FFmpeg run. Cameras with live codecs are skipped.
    """
    todo = [spec for spec in specs if spec.codec in PREENCODED_CODECS]
    workers = max(1, jobs if jobs is not None else (os.cpu_count() or 1))
    paths: dict[str, Path] = {}
    done = 0

    def one(spec: CameraSpec) -> tuple[CameraSpec, Path, bool, float]:
        started = time.monotonic()
        path, cached = encode(spec, cache_dir)
        return spec, path, cached, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=min(workers, max(1, len(todo)))) as pool:
        for spec, path, cached, seconds in pool.map(one, todo):
            done += 1
            paths[spec.name] = path
            if progress is not None:
                progress(EncodeProgress(spec, path, cached, seconds, done, len(todo)))
    return paths
