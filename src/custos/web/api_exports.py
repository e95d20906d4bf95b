"""Evidence exports from the console: start a job (the gate records the access at once), follow its
progress, fetch the package. `custos verify-export` checks a package offline (HB-18.2, HB-21.5). A redacted
package, for release outside the evidence chain, carries re-encoded copies with the cameras' image masks
blacked out and a watermark, faces blurred too for a public release (CN-22), and no originals."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from custos.errors import CustosError, Kind
from custos.export.jobs import ExportJobs
from custos.gate import AccessRequest, Mode
from custos.ledger.publish import Publisher
from custos.web.deps import Ctx, Id, Who, aware, client_address, token_of

router = APIRouter(prefix="/api/v1", tags=["exports"])


class NewExport(BaseModel):
    cameras: list[str] = Field(min_length=1)
    start: dt.datetime
    end: dt.datetime
    purpose: str
    destination: str
    request_id: Id | None = Field(None, description="For authorities: the approved request (HB-16, BJ-17, CN-20).")
    redacted: bool = Field(
        False,
        description="Release copy: no originals, no clear clips; each camera re-encoded with its image masks "
        "blacked out and a watermark naming the access record.",
    )
    public_release: bool = Field(False, description="For a public release: redacted, and faces blurred (CN-22).")


def _jobs(request: Request, ctx: Ctx) -> ExportJobs:
    jobs: ExportJobs | None = getattr(request.app.state, "exports", None)
    if jobs is None:
        publisher = ctx.publisher or Publisher(ctx.db, ctx.settings)
        jobs = ExportJobs(ctx.gate, publisher, ctx.settings.data_dir / "exports")
        request.app.state.exports = jobs
    return jobs


@router.post("/exports", status_code=202)
def start(request: Request, ctx: Ctx, who: Who, body: NewExport) -> dict[str, Any]:
    """Start an export package of CAMERAS from START to END; 202 with the job to follow."""
    req = AccessRequest(
        mode=Mode.EXPORT,
        cameras=tuple(dict.fromkeys(body.cameras)),
        purpose=body.purpose,
        start_utc=aware(body.start, "start"),
        end_utc=aware(body.end, "end"),
        destination=body.destination,
        request_id=body.request_id,
        client_address=client_address(request),
    )
    job = _jobs(request, ctx).start(token_of(request), req, redacted=body.redacted, public_release=body.public_release)
    return job.view()


@router.get("/exports/{job_id}")
def status(request: Request, ctx: Ctx, who: Who, job_id: Id) -> dict[str, Any]:
    return _jobs(request, ctx).get(job_id, who.person_id).view()


@router.get("/exports/{job_id}/package.zip", response_class=FileResponse)
def package(request: Request, ctx: Ctx, who: Who, job_id: Id) -> FileResponse:
    """The finished package, to the person who asked for it (its access record was written before it was made)."""
    job = _jobs(request, ctx).get(job_id, who.person_id)
    if job.state != "done":
        raise CustosError(
            Kind.FAILED_PRECONDITION, f"export job {job_id} is {job.state}: {job.error or 'not finished'}"
        )
    return FileResponse(
        job.path,
        media_type="application/zip",
        filename=job.path.name,
        headers={"X-Custos-Access-Record": str(job.record_id), "Cache-Control": "no-store"},
    )
