"""SimCameras: the handle tests and benchmarks hold on a running simulator process.

It pre-encodes (cached), starts `python -m custos.sim.server` with this interpreter, and speaks the
server's JSON-line protocol. The server is a separate process so benchmarks can read its CPU by pid and
so a test's own threads never share a GIL with the streaming threads.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import quote

from custos.errors import CustosError, Kind
from custos.sim.config import ServerConfig
from custos.sim.encode import ProgressFn, encode_all, print_progress
from custos.sim.spec import CameraSpec

READY_TIMEOUT_S = 30.0
REPLY_TIMEOUT_S = 15.0


class SimCameras:
    """Context manager over the simulator process; every command waits for the server's answer."""

    def __init__(
        self,
        cameras: Sequence[CameraSpec],
        *,
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        cache_dir: Path | None = None,
        host: str = "127.0.0.1",
        progress: ProgressFn | None = print_progress,
    ) -> None:
        names = [spec.name for spec in cameras]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise CustosError(Kind.INVALID_ARGUMENT, f"duplicate camera names: {', '.join(duplicates)}")
        if not cameras:
            raise CustosError(Kind.INVALID_ARGUMENT, "SimCameras needs at least one camera")
        if (username is None) != (password is None):
            raise CustosError(Kind.INVALID_ARGUMENT, "give both username and password, or neither")
        self._cameras = {spec.name: spec for spec in cameras}
        self._port = port
        self._username = username
        self._password = password
        self._cache_dir = cache_dir
        self._host = host
        self._progress = progress
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None
        self._reader: threading.Thread | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._bound_port: int | None = None

    # Lifecycle -----------------------------------------------------------------------------------

    def start(self) -> SimCameras:
        """Encode what the cache lacks, spawn the server, and return once it listens."""
        if self._process is not None:
            raise CustosError(Kind.FAILED_PRECONDITION, "SimCameras already started")
        files = encode_all(list(self._cameras.values()), self._cache_dir, progress=self._progress)
        config = ServerConfig(
            cameras=tuple((spec, files.get(spec.name)) for spec in self._cameras.values()),
            host=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
        )
        self._stderr = tempfile.TemporaryFile(mode="w+", prefix="custos-sim-", suffix=".stderr")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "custos.sim.server", config.to_json()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._read_stdout, args=(self._process.stdout,), daemon=True)
        self._reader.start()
        try:
            first = self._next_line(READY_TIMEOUT_S, "to start")
            if first.get("event") != "ready":
                reason = first.get("error", first)
                tail = self._stderr_tail()
                raise CustosError(Kind.UNAVAILABLE, f"sim server failed to start: {reason} {tail}")
        except CustosError:
            self._kill()
            self._release()
            raise
        self._bound_port = int(first["port"])
        return self

    def stop(self) -> None:
        """Ask the server to stop; kill it if it does not exit within a few seconds. Idempotent."""
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None and process.stdin is not None:
                process.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
                process.stdin.flush()
                process.stdin.close()
            process.wait(timeout=10)
        except (BrokenPipeError, OSError, subprocess.TimeoutExpired):
            self._kill()
        finally:
            self._release()

    def __enter__(self) -> SimCameras:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Queries -------------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self._running().pid

    @property
    def port(self) -> int:
        self._running()
        assert self._bound_port is not None
        return self._bound_port

    @property
    def names(self) -> list[str]:
        return list(self._cameras)

    def url(self, name: str, *, with_credentials: bool = True) -> str:
        """`rtsp://[user:password@]host:port/name`; a wildcard listen address is reached via loopback."""
        self._spec(name)
        host = "127.0.0.1" if self._host in ("0.0.0.0", "") else self._host
        credentials = ""
        if with_credentials and self._username is not None:
            credentials = f"{quote(self._username, safe='')}:{quote(self._password or '', safe='')}@"
        return f"rtsp://{credentials}{host}:{self.port}/{name}"

    def stats(self) -> dict[str, int]:
        """Frames each camera has sent to its clients since the server started (`custos.sim.tally` says
        exactly which frames count)."""
        frames = self._command({"cmd": "stats"})["frames"]
        return {str(name): int(count) for name, count in frames.items()}

    def pipelines(self) -> dict[str, int]:
        """Pipelines each camera runs now: 1 while it has clients (however many), else 0."""
        pipelines = self._command({"cmd": "stats"})["pipelines"]
        return {str(name): int(count) for name, count in pipelines.items()}

    # Faults --------------------------------------------------------------------------------------

    def cut(self, name: str) -> None:
        """The camera loses power: 404 for new clients, connections of current clients dropped."""
        self._command({"cmd": "cut", "name": self._spec(name).name})

    def restart(self, name: str) -> None:
        self._command({"cmd": "restart", "name": self._spec(name).name})

    def freeze(self, name: str) -> None:
        """The camera hangs: connections stay open, no more frames."""
        self._command({"cmd": "freeze", "name": self._spec(name).name})

    def fault(self, name: str, kind: str | None) -> None:
        """The picture goes black, blinding, covered, blurred, shifted or still (custos.sim.clock.FAULTS) while
        the stream goes on; None ends it. Clock cameras only: their pictures are drawn live."""
        self._command({"cmd": "fault", "name": self._spec(name).name, "kind": kind})

    def thaw(self, name: str) -> None:
        self._command({"cmd": "thaw", "name": self._spec(name).name})

    # Internals -----------------------------------------------------------------------------------

    def _spec(self, name: str) -> CameraSpec:
        spec = self._cameras.get(name)
        if spec is None:
            raise CustosError(Kind.NOT_FOUND, f"unknown camera {name!r}; known: {', '.join(self._cameras)}")
        return spec

    def _running(self) -> subprocess.Popen[str]:
        if self._process is None:
            raise CustosError(Kind.FAILED_PRECONDITION, "SimCameras is not running; call start() first")
        return self._process

    def _command(self, message: dict[str, Any]) -> dict[str, Any]:
        process = self._running()
        with self._lock:
            try:
                assert process.stdin is not None
                process.stdin.write(json.dumps(message) + "\n")
                process.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise CustosError(Kind.UNAVAILABLE, f"sim server is gone: {self._stderr_tail()}") from exc
            reply = self._next_line(REPLY_TIMEOUT_S, f"to answer {message}")
        if not reply.get("ok"):
            raise CustosError(Kind.FAILED_PRECONDITION, f"sim server refused {message}: {reply.get('error')}")
        return reply

    def _read_stdout(self, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _next_line(self, timeout_s: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise CustosError(Kind.UNAVAILABLE, f"sim server took over {timeout_s:.0f} s {what}") from None
        if line is None:
            process = self._process
            code = process.wait(timeout=5) if process is not None else None
            raise CustosError(Kind.UNAVAILABLE, f"sim server exited ({code}) {what}: {self._stderr_tail()}")
        try:
            parsed: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CustosError(Kind.UNAVAILABLE, f"sim server said {line.strip()!r}, not JSON") from exc
        return parsed

    def _stderr_tail(self, lines: int = 15) -> str:
        if self._stderr is None:
            return "(no stderr)"
        self._stderr.flush()
        self._stderr.seek(0)
        tail = self._stderr.read().strip().splitlines()[-lines:]
        return "\n".join(tail) or "(empty stderr)"

    def _release(self) -> None:
        """Close the pipes and the stderr file of an exited server (once its stdout reader is done)."""
        process, self._process = self._process, None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if process is not None:
            for pipe in (process.stdin, process.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass  # stdin to a dead server: its buffered bytes cannot be flushed
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=5)
