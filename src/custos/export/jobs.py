"""Export jobs for the console: the gate decides and records at once (a refusal answers with its keys), the
package is then built in the background with its progress, into DATA/exports/, and only the person who
asked may fetch it. Jobs live in the serving process; the packages and their access records outlive it.
A redacted package (for release, CN-22) is named `export-<record>-redacted.zip`."""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from custos.errors import CustosError, Kind
from custos.export.package import build_package
from custos.gate import AccessRequest, Gate
from custos.ledger.publish import Publisher

_log = logging.getLogger(__name__)


@dataclass
class Job:
    id: int
    person_id: int
    record_id: int
    path: Path
    state: str = "running"  # running | done | failed
    done_bytes: int = 0
    total_bytes: int | None = None
    error: str | None = None
    size_bytes: int | None = None
    redacted: bool = False
    public_release: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "access_record": self.record_id,
            "state": self.state,
            "done_bytes": self.done_bytes,
            "total_bytes": self.total_bytes,
            "progress": (self.done_bytes / self.total_bytes)
            if self.total_bytes
            else (1.0 if self.state == "done" else 0.0),
            "error": self.error,
            "size_bytes": self.size_bytes,
            "redacted": self.redacted,
            "public_release": self.public_release,
            "file": self.path.name if self.state == "done" else None,
        }


@dataclass
class ExportJobs:
    gate: Gate
    publisher: Publisher
    folder: Path
    _jobs: dict[int, Job] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(
        self, token: str | None, req: AccessRequest, *, redacted: bool = False, public_release: bool = False
    ) -> Job:
        """`public_release` implies `redacted` and blurs faces (CN-22); see custos.export.package."""
        redacted = redacted or public_release
        grant = self.gate.open(token, req)  # recorded first; a refusal raises here with its keys
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            job = Job(
                next(self._ids),
                grant.principal.person_id,
                grant.record_id,
                self.folder / f"export-{grant.record_id}{'-redacted' if redacted else ''}.zip",
                redacted=redacted,
                public_release=public_release,
            )
            self._jobs[job.id] = job

        def progress(done: int, total: int) -> None:
            job.done_bytes, job.total_bytes = done, total

        def run() -> None:
            try:
                with grant:
                    info = build_package(
                        grant,
                        self.publisher,
                        job.path,
                        redacted=redacted,
                        public_release=public_release,
                        progress=progress,
                    )
                job.size_bytes, job.state = info.size_bytes, "done"
            except Exception as e:  # the job reports it; the access record's outcome says "failed"
                _log.exception("export job %d (access record %d) failed", job.id, job.record_id)
                job.error = str(e) if isinstance(e, CustosError) else f"{type(e).__name__}: {e}"
                job.state = "failed"

        threading.Thread(target=run, name=f"export-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: int, person_id: int) -> Job:
        """The job, for the person who started it only; anyone else is told there is none (no oracle)."""
        job = self._jobs.get(job_id)
        if job is None or job.person_id != person_id:
            raise CustosError(Kind.NOT_FOUND, f"no export job {job_id} of yours")
        return job
