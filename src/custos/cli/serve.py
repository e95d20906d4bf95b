"""One running deployment: the recorder, tree heads signed at an interval, the retention sweeper, and
the web console, until stopped. `custos serve` and `custos demo` both run this."""

from __future__ import annotations

import gc
import logging
import signal
import threading

import uvicorn
from rich.console import Console

from custos.context import Context
from custos.health.service import start_health
from custos.ingest.recorder import Recorder
from custos.ledger.config_record import record_configuration
from custos.ledger.publish import Publisher
from custos.retention.sweeper import sweep
from custos.web.app import create_app

_log = logging.getLogger(__name__)
SWEEP_INTERVAL_S = 3600.0


class Sweeper:
    """Runs the retention sweep at an interval on a thread of its own."""

    def __init__(self, ctx: Context, interval_s: float = SWEEP_INTERVAL_S) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                r = sweep(self.ctx.db, self.ctx.storage, self.ctx.policy)
                if r.deleted:
                    _log.info("sweeper: deleted %d expired segment(s), %d bytes", len(r.deleted), r.bytes_freed)
            except Exception:
                _log.exception("sweeper failed; it will try again")
            if self._stop.wait(self.interval_s):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def run(ctx: Context, console: Console, *, banner: str = "") -> None:
    # uvicorn shuts down on SIGTERM and then raises the signal again with the handler it found; make that
    # handler unwind the stack like Ctrl-C, so the recorder closes its segments and a last tree head is signed.
    signal.signal(signal.SIGTERM, _interrupt)
    record_configuration(ctx.db, ctx.settings, ctx.policy, by="custos serve")
    recorder = Recorder(ctx.settings, ctx.db, ctx.storage)
    report = recorder.prepare()
    if report.recovered or report.reindexed:
        console.print(f"recovered {len(report.recovered)} and re-indexed {len(report.reindexed)} segment(s)")
    ctx.publisher = ctx.publisher or Publisher(ctx.db, ctx.settings)
    sweeper = Sweeper(ctx)
    recorder.start()
    health = start_health(ctx.settings, ctx.db, ctx.storage, ctx.policy, recorder)
    ctx.publisher.start()
    sweeper.start()
    # What start-up allocated lives as long as the process: keep the collector off it, so its full
    # collections stay short on the request path (bench/gate.py measures with the same).
    gc.collect()
    gc.freeze()
    try:
        console.print(
            f"{banner}console: [bold]http://{ctx.settings.web.host}:{ctx.settings.web.port}/[/bold]\n"
            f"footage: {ctx.settings.footage_root} · witness file: {ctx.settings.witness_file}\n"
            "press Ctrl-C to stop; open segments are closed and indexed and a last tree head is signed on the way out",
            highlight=False,
        )
        try:
            uvicorn.run(
                create_app(ctx, recorder), host=ctx.settings.web.host, port=ctx.settings.web.port, log_level="warning"
            )
        except KeyboardInterrupt:
            pass
    finally:
        if health is not None:
            health.stop()
        recorder.stop()
        sweeper.stop()
        ctx.gate.flush()  # the outcomes of the last accesses, before the last tree head
        ctx.publisher.stop()
