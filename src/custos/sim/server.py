"""The RTSP server process: one GstRtspServer, one shared pipeline per camera, controlled over stdin.

Run as `python -m custos.sim.server CONFIG_JSON` (SimCameras does this), it prints one JSON line
`{"event": "ready", "port": P}` once listening, then answers each JSON-line command on stdin with one
JSON line on stdout. Commands: `{"cmd": "cut" | "restart" | "freeze" | "thaw", "name": NAME}`,
`{"cmd": "stats"}`, `{"cmd": "stop"}`; a plain `cut cam01` line works too, for people typing.
End of stdin stops the server, so it never outlives the process that started it.

It lives in its own process so its CPU can be measured apart from the code under test, and so the
GLib main loop and the streaming threads never compete with a test's own threads for the GIL.

Measured here (2 cores, 1080p 4 Mbit/s loops, TCP clients): 16 streams cost 14-20 % of one core,
64 streams 44-60 %, all at 25.0 fps, with `stats` equal to the frames the clients received.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

from custos.errors import CustosError, Kind  # noqa: E402
from custos.sim import clock  # noqa: E402
from custos.sim.config import ServerConfig  # noqa: E402
from custos.sim.pipelines import (  # noqa: E402
    CLOCK_SOURCE_NAME,
    PARSER_NAME,
    PAYLOADER_NAME,
    counts_video_frames,
    launch_description,
    needs_pts_fix,
)
from custos.sim.spec import CameraSpec  # noqa: E402
from custos.sim.tally import CameraCounter, MediaTally  # noqa: E402

_ROLE = "camera-viewer"
LISTEN_BACKLOG = 256
SESSION_CLEANUP_S = 5


class _Camera:
    """One camera's mount state and its count of frames sent, which outlives its pipelines."""

    def __init__(self, spec: CameraSpec, launch: str) -> None:
        self.spec = spec
        self.launch = launch
        self.path = f"/{spec.name}"
        self.mounted = False
        self.frozen = False
        self.fault: str | None = None  # a picture fault set by command (clock cameras: custos.sim.clock)
        self.counter = CameraCounter()


def _once(command: Callable[[str], dict[str, Any]], name: str) -> Callable[[], bool]:
    """A GLib timeout callback that runs `command(name)` once."""

    def run() -> bool:
        command(name)
        return False

    return run


class SimServer:
    """The GstRtspServer with one mount per camera and the commands that break cameras on purpose."""

    def __init__(self, config: ServerConfig) -> None:
        Gst.init(None)
        self._config = config
        self._cameras = {spec.name: _Camera(spec, launch_description(spec, f)) for spec, f in config.cameras}
        self._server = GstRtspServer.RTSPServer()
        self._server.set_address(config.host)
        self._server.set_service(str(config.port))
        # GstRtspServer listens with a backlog of 5: 64 recorders connecting at once had SYNs dropped
        # and retried after 1, 3 and 7 s, so the last streams started seconds late.
        self._server.set_backlog(LISTEN_BACKLOG)
        self._mounts = self._server.get_mount_points()
        self._source_id = 0
        self._tallies: dict[GstRtspServer.RTSPMedia, tuple[str, MediaTally]] = {}
        self._playing: dict[GstRtspServer.RTSPClient, set[tuple[MediaTally, str]]] = {}
        self._feeders: dict[GstRtspServer.RTSPMedia, _ClockFeeder] = {}
        self._server.connect("client-connected", self._on_client_connected)
        self._server.get_session_pool().connect("session-removed", self._on_session_removed)
        if config.username is not None:
            self._server.set_auth(self._digest_auth(config.username, config.password or ""))

    @property
    def auth_enabled(self) -> bool:
        return self._config.username is not None

    def start(self) -> int:
        """Mount every camera and listen; return the bound port (useful when the config said 0)."""
        for camera in self._cameras.values():
            self._mount(camera)
        self._source_id = self._server.attach(None)
        if not self._source_id:
            raise CustosError(
                Kind.UNAVAILABLE, f"RTSP server could not listen on {self._config.host}:{self._config.port}"
            )
        # Expire sessions whose client vanished without TEARDOWN or a closed connection (UDP clients),
        # so their pipelines stop and their frames stop counting.
        pool = self._server.get_session_pool()
        GLib.timeout_add_seconds(SESSION_CLEANUP_S, lambda: pool.cleanup() >= 0)
        self._schedule_stream_faults()
        return int(self._server.get_bound_port())

    def _schedule_stream_faults(self) -> None:
        """Cut or freeze a camera from `from_s` to `to_s` after the simulator starts (CameraSpec.faults)."""
        actions = {"cut": (self.cut, self.restart), "freeze": (self.freeze, self.thaw)}
        for name, camera in self._cameras.items():
            for a, b, kind in camera.spec.faults:
                if kind in actions:
                    begin, end = actions[kind]
                    GLib.timeout_add(round(a * 1000), _once(begin, name))
                    GLib.timeout_add(round(b * 1000), _once(end, name))

    # Commands ------------------------------------------------------------------------------------

    def cut(self, name: str) -> dict[str, Any]:
        """Camera loses power: unmount (new DESCRIBE gets 404) and drop every connection playing it."""
        camera = self._camera(name)
        if camera.mounted:
            self._mounts.remove_factory(camera.path)
            camera.mounted = False
        return {"closed_clients": self._close_clients(camera.path)}

    def restart(self, name: str) -> dict[str, Any]:
        camera = self._camera(name)
        if not camera.mounted:
            self._mount(camera)
        return {}

    def freeze(self, name: str) -> dict[str, Any]:
        """Camera hangs: connections stay open, RTCP goes on, but no more frames leave it.

        New clients can still connect and play; they get the pipeline's preroll frame, then nothing.
        """
        self._camera(name).frozen = True
        return {}

    def fault(self, name: str, kind: str | None) -> dict[str, Any]:
        """Show a picture fault (custos.sim.clock.FAULTS) from now on, or none: a live-drawn camera only."""
        camera = self._camera(name)
        if camera.spec.codec != "clock":
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"camera {name}: picture faults need a live-drawn (clock) camera, not {camera.spec.codec}",
            )
        if kind is not None and kind not in clock.FAULTS:
            raise CustosError(Kind.INVALID_ARGUMENT, f"fault {kind!r} is not one of {', '.join(clock.FAULTS)}")
        camera.fault = kind
        return {"fault": kind}

    def thaw(self, name: str) -> dict[str, Any]:
        self._camera(name).frozen = False
        return {}

    def stats(self) -> dict[str, Any]:
        """Frames sent per camera since start, and how many pipelines each runs now (0 or 1: shared)."""
        pipelines = dict.fromkeys(self._cameras, 0)
        for name, _tally in self._tallies.values():
            pipelines[name] += 1
        frames = {name: camera.counter.value() for name, camera in self._cameras.items()}
        return {"frames": frames, "pipelines": pipelines}

    def stop(self) -> dict[str, Any]:
        """Unmount everything and close every client so pipelines shut down before the loop ends."""
        for camera in self._cameras.values():
            if camera.mounted:
                self._mounts.remove_factory(camera.path)
                camera.mounted = False
        self._server.client_filter(lambda _server, _client, *_: GstRtspServer.RTSPFilterResult.REMOVE)
        if self._source_id:
            GLib.source_remove(self._source_id)
            self._source_id = 0
        return {}

    # Internals -----------------------------------------------------------------------------------

    def _camera(self, name: str) -> _Camera:
        camera = self._cameras.get(name)
        if camera is None:
            raise CustosError(Kind.NOT_FOUND, f"unknown camera {name!r}; known: {', '.join(self._cameras)}")
        return camera

    def _mount(self, camera: _Camera) -> None:
        """A fresh shared factory each time: a restarted camera never reuses a pipeline from its past."""
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(camera.launch)
        factory.set_shared(True)
        if self.auth_enabled:
            role = Gst.Structure.new_from_string(
                f"{_ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
            factory.add_role_from_structure(role)
        factory.connect("media-configure", self._on_media_configure, camera)
        self._mounts.add_factory(camera.path, factory)
        camera.mounted = True

    def _on_media_configure(
        self, _factory: GstRtspServer.RTSPMediaFactory, media: GstRtspServer.RTSPMedia, camera: _Camera
    ) -> None:
        bin_ = media.get_element()
        if needs_pts_fix(camera.spec):
            parser_src = bin_.get_by_name(PARSER_NAME).get_static_pad("src")
            parser_src.add_probe(Gst.PadProbeType.BUFFER, _copy_dts_to_pts)
        tally = MediaTally(camera.counter)
        count = counts_video_frames(camera.spec)

        def on_payloader_input(_pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
            # A frozen camera still lets its first frame through: GstRtspServer waits for a new
            # pipeline to preroll in the main loop, so dropping that frame stalled every camera's
            # RTSP requests for 20 s and then answered 503. A client joining a frozen camera gets
            # that one frame, then nothing.
            if camera.frozen and tally.has_played:
                return Gst.PadProbeReturn.DROP
            if count:
                tally.frame()
            return Gst.PadProbeReturn.OK

        payloader_sink = bin_.get_by_name(PAYLOADER_NAME).get_static_pad("sink")
        payloader_sink.add_probe(Gst.PadProbeType.BUFFER, on_payloader_input)
        self._tallies[media] = (camera.spec.name, tally)
        if camera.spec.codec == "clock":
            self._feeders[media] = _ClockFeeder(camera, bin_.get_by_name(CLOCK_SOURCE_NAME))
        media.connect("unprepared", self._on_media_unprepared)

    def _on_media_unprepared(self, media: GstRtspServer.RTSPMedia) -> None:
        self._tallies.pop(media, None)
        feeder = self._feeders.pop(media, None)
        if feeder is not None:
            feeder.stop()

    def _on_client_connected(self, _server: Any, client: GstRtspServer.RTSPClient) -> None:
        """Follow each client's PLAY / PAUSE / TEARDOWN / disconnect: they decide which frames count."""
        client.connect("play-request", self._on_play)
        client.connect("pause-request", self._on_stop_playing)
        client.connect("teardown-request", self._on_stop_playing)
        client.connect("closed", self._on_client_closed)

    def _session_tally(self, ctx: GstRtspServer.RTSPContext) -> tuple[MediaTally, str] | None:
        if ctx.sessmedia is None or ctx.session is None:
            return None
        entry = self._tallies.get(ctx.sessmedia.get_media())
        return (entry[1], ctx.session.get_sessionid()) if entry is not None else None

    def _on_play(self, client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext) -> None:
        found = self._session_tally(ctx)
        if found is not None:
            _send_without_waiting(ctx.sessmedia.get_media().get_element().get_parent())
            found[0].attach(found[1])
            self._playing.setdefault(client, set()).add(found)

    def _on_stop_playing(self, client: GstRtspServer.RTSPClient, ctx: GstRtspServer.RTSPContext) -> None:
        found = self._session_tally(ctx)
        if found is not None:
            found[0].detach(found[1])
            self._playing.get(client, set()).discard(found)

    def _on_session_removed(self, _pool: Any, session: GstRtspServer.RTSPSession) -> None:
        session_id = session.get_sessionid()
        for _name, tally in list(self._tallies.values()):
            tally.detach(session_id)

    def _on_client_closed(self, client: GstRtspServer.RTSPClient) -> None:
        for tally, session_id in self._playing.pop(client, set()):
            tally.detach(session_id)

    def _close_clients(self, path: str) -> int:
        """Close (TCP and all) every client with a session on `path`, as a powered-off camera would."""
        closed = 0

        def has_session_on_path(client: GstRtspServer.RTSPClient) -> bool:
            found = False

            def check_session(_client: Any, session: GstRtspServer.RTSPSession, *_: Any) -> Any:
                nonlocal found

                def check_media(_session: Any, session_media: GstRtspServer.RTSPSessionMedia, *_: Any) -> Any:
                    nonlocal found
                    matches, _matched = session_media.matches(path)
                    found = found or bool(matches)
                    return GstRtspServer.RTSPFilterResult.KEEP

                session.filter(check_media)
                return GstRtspServer.RTSPFilterResult.KEEP

            client.session_filter(check_session)
            return found

        def choose(_server: Any, client: GstRtspServer.RTSPClient, *_: Any) -> Any:
            nonlocal closed
            if has_session_on_path(client):
                closed += 1
                return GstRtspServer.RTSPFilterResult.REMOVE
            return GstRtspServer.RTSPFilterResult.KEEP

        self._server.client_filter(choose)
        return closed

    @staticmethod
    def _digest_auth(username: str, password: str) -> GstRtspServer.RTSPAuth:
        """Digest only, one user; no default token, so anonymous and wrong credentials both get 401."""
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.set_realm("custos-sim")
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", _ROLE)
        auth.add_digest(username, password, token)
        return auth


class _ClockFeeder:
    """Pushes a clock camera's frames into its appsrc at the camera's rate, each stamped with the wall
    clock as it is made (custos.sim.clock), until the media is torn down."""

    def __init__(self, camera: _Camera, appsrc: Gst.Element) -> None:
        self._camera = camera
        self._spec = camera.spec
        self._src = appsrc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"clock-{self._spec.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = 1.0 / self._spec.fps
        n = 0
        started = next_at = time.monotonic()
        last = b""
        while not self._stop.is_set():
            fault = self._camera.fault or self._spec.scheduled_fault(time.monotonic() - started)
            if fault == "still" and last:
                data = last  # the picture freezes; the stream goes on
            else:
                data = clock.frame_i420(self._spec.width, self._spec.height, n, clock.stamp_ms(), fault)
            last = data
            ret = self._src.emit("push-buffer", Gst.Buffer.new_wrapped(data))
            if ret not in (Gst.FlowReturn.OK, Gst.FlowReturn.FLUSHING):
                return
            n += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -1.0:  # far behind (the machine stalled): start pacing afresh, don't burst
                next_at = time.monotonic()
            elif delay > 0:
                self._stop.wait(delay)

    def stop(self) -> None:
        self._stop.set()


def _send_without_waiting(pipeline: Gst.Bin) -> None:
    """Stop the RTSP stream's sinks from syncing to the clock: frames are already paced upstream.

    The media pipeline reports 20 ms of live latency, so a syncing sink held every frame 20 ms after it
    was counted, and a client tearing down in that window was counted a frame it never got (seen on
    10 of 16 sessions). Without the wait a frame reaches the socket ~0.3 ms after its count. The sinks
    exist only once a client has set up a transport, and rtsp-stream sets `sync` itself after adding
    them (during PLAY), hence doing this when each PLAY has been handled.
    """
    iterator = pipeline.iterate_sinks()
    while True:
        result, element = iterator.next()
        if result == Gst.IteratorResult.RESYNC:
            iterator.resync()
            continue
        if result != Gst.IteratorResult.OK:
            return
        factory = element.get_factory()
        if factory is not None and factory.get_name() in ("appsink", "multiudpsink"):
            element.set_property("sync", False)


def _copy_dts_to_pts(_pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
    buffer = info.get_buffer()
    if buffer.pts == Gst.CLOCK_TIME_NONE:
        buffer.pts = buffer.dts
    return Gst.PadProbeReturn.OK


def parse_command(line: str) -> tuple[str, str | None]:
    """`{"cmd": "cut", "name": "cam01"}` or `cut cam01` -> ("cut", "cam01")."""
    text = line.strip()
    if text.startswith("{"):
        data = json.loads(text)
        return str(data.get("cmd", "")), data.get("name")
    words = text.split()
    if not words:
        return "", None
    return words[0], (words[1] if len(words) > 1 else None)


class Controller:
    """Reads commands on a thread, runs them on the GLib main loop, writes one reply line each."""

    def __init__(self, server: SimServer, loop: GLib.MainLoop, stdin: TextIO, stdout: TextIO) -> None:
        self._server = server
        self._loop = loop
        self._stdin = stdin
        self._stdout = stdout
        self._stopping = False
        self._named: dict[str, Callable[[str], dict[str, Any]]] = {
            "cut": server.cut,
            "restart": server.restart,
            "freeze": server.freeze,
            "thaw": server.thaw,
        }

    def reply(self, message: dict[str, Any]) -> None:
        self._stdout.write(json.dumps(message) + "\n")
        self._stdout.flush()

    def start(self) -> None:
        threading.Thread(target=self._read, name="sim-control", daemon=True).start()

    def _read(self) -> None:
        for line in self._stdin:
            if line.strip():
                GLib.idle_add(self._handle, line)
        GLib.idle_add(self.request_stop)

    def request_stop(self) -> bool:
        """Stop once, whatever asked first (command, end of stdin, signal); a GLib callback, runs once."""
        if not self._stopping:
            self._stopping = True
            self._server.stop()
            # Give the closed clients' sessions a moment to tear their pipelines down.
            GLib.timeout_add(200, self._quit)
        return False

    def _handle(self, line: str) -> bool:
        try:
            cmd, name = parse_command(line)
            if cmd in self._named:
                if name is None:
                    raise CustosError(Kind.INVALID_ARGUMENT, f"command {cmd!r} needs a camera name")
                result = self._named[cmd](name)
            elif cmd == "fault":
                data = json.loads(line)
                if name is None:
                    raise CustosError(Kind.INVALID_ARGUMENT, "command 'fault' needs a camera name")
                result = self._server.fault(name, data.get("kind"))
            elif cmd == "stats":
                result = self._server.stats()
            elif cmd == "stop":
                self.request_stop()
                result = {}
            else:
                raise CustosError(Kind.INVALID_ARGUMENT, f"unknown command {cmd!r} in {line.strip()!r}")
            self.reply({"ok": True, "cmd": cmd, **result})
        except (CustosError, ValueError) as exc:
            self.reply({"ok": False, "error": str(exc)})
        return False

    def _quit(self) -> bool:
        self._loop.quit()
        return False


def serve(config: ServerConfig, *, stdin: TextIO, stdout: TextIO, announce: Callable[[int], None]) -> None:
    """Start, announce the port, run the main loop until `stop`, end of stdin, SIGINT or SIGTERM."""
    server = SimServer(config)
    loop = GLib.MainLoop()
    controller = Controller(server, loop, stdin, stdout)
    port = server.start()
    for signum in (signal.SIGINT, signal.SIGTERM):  # stop cleanly instead of dying mid-write
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, controller.request_stop)
    announce(port)
    controller.start()
    loop.run()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m custos.sim.server CONFIG_JSON", file=sys.stderr)
        return 2
    try:
        config = ServerConfig.from_json(args[0])

        def announce(port: int) -> None:
            sys.stdout.write(json.dumps({"event": "ready", "port": port}) + "\n")
            sys.stdout.flush()

        serve(config, stdin=sys.stdin, stdout=sys.stdout, announce=announce)
    except CustosError as exc:
        sys.stdout.write(json.dumps({"event": "error", "error": str(exc)}) + "\n")
        sys.stdout.flush()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
