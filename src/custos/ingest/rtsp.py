"""An RTSP/1.0 client (RFC 2326) that receives one H.264/H.265 stream as RTP interleaved over TCP.

Built for a recorder that serves many cameras from ONE thread with a selector:

    session = RtspSession("rtsp://user:pass@cam/stream")
    params = session.connect()          # blocking handshake; run it in a worker thread
    selector.register(session, EVENT_READ)  # session.fileno() is the non-blocking socket
    ...every ~50 ms, for each readable session:
    units = session.read_batch()         # one recv_into (a few if the buffer filled), parse everything
    if session.keepalive_due(): session.send_keepalive()

`read_batch` reads everything the kernel holds in one `recv_into` of up to 1 MiB into a preallocated
buffer, walks the interleaved frames (`$`, channel, 16-bit length) with offsets, hands RTP packets to
`custos.ingest.rtp.Depacketizer` and keeps an incomplete tail for the next call. RTSP messages on the
same connection (answers to keepalives, a server's ANNOUNCE / GET_PARAMETER / TEARDOWN) and RTCP
sender reports on the odd channel are handled in the same walk. This costs a few syscalls per batch
where FFmpeg's demuxer makes several per RTP packet.

Errors are `CustosError`s that name the camera by its URL without the password: UNAVAILABLE for an
unreachable server, a timeout, a refused or closed connection and server errors; UNAUTHENTICATED for
missing or wrong credentials; PERMISSION_DENIED for 403; NOT_FOUND for 404; INVALID_ARGUMENT for a
stream custos does not record (see `custos.ingest.sdp.select_video`). The password never appears in
messages, logs or `repr`.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import quote, unquote, urlsplit

from custos.errors import CustosError, Kind
from custos.ingest.rtp import Depacketizer, build_receiver_report, parse_rtcp_sender_reports
from custos.ingest.rtsp_auth import Challenge
from custos.ingest.sdp import SessionDescription, VideoTrack, aggregate_url, parse_sdp, select_video
from custos.ingest.urls import redact
from custos.media.types import AccessUnit, StreamParams

__all__ = ["RtspSession", "SessionStats"]

log = logging.getLogger(__name__)

_FRAME_MAX = 4 + 0xFFFF  # an interleaved frame: '$', channel, 16-bit length, payload
_MESSAGE_MAX = 256 * 1024  # the largest RTSP message (head and body) accepted
_MAX_REDIRECTS = 3
_DEFAULT_SESSION_TIMEOUT_S = 60


@dataclass(frozen=True, slots=True)
class SessionStats:
    """A snapshot of a session's counters (see `custos.ingest.rtp.RtpStats` for the RTP ones)."""

    packets: int
    bytes: int
    lost_packets: int
    access_units: int
    dropped_units: int
    skipped_units: int
    unsupported_packets: int
    malformed_packets: int
    late_packets: int
    other_payload_packets: int
    discontinuities: int
    param_changes: int
    recv_calls: int  # recv/recv_into system calls since connect() began
    received_bytes: int  # bytes read from the socket (RTSP, RTP and RTCP)
    rtcp_packets: int
    sender_reports: int
    receiver_reports_sent: int
    rtsp_messages: int  # RTSP messages received after PLAY (keepalive answers, server requests)
    keepalives_sent: int
    other_channel_frames: int  # interleaved frames on channels that are not the video's
    junk_bytes: int  # bytes skipped because they were neither an interleaved frame nor RTSP


@dataclass(slots=True)
class _Message:
    first_line: str
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str, default: str | None = None) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else default

    @property
    def is_response(self) -> bool:
        return self.first_line.startswith("RTSP/")

    @property
    def status(self) -> int:
        parts = self.first_line.split(" ", 2)
        try:
            return int(parts[1])
        except (IndexError, ValueError):
            return 0

    @property
    def reason(self) -> str:
        parts = self.first_line.split(" ", 2)
        return parts[2] if len(parts) > 2 else ""

    @property
    def cseq(self) -> int:
        try:
            return int((self.header("cseq") or "-1").strip())
        except ValueError:
            return -1


@dataclass(slots=True)
class _Target:
    """Where to connect: the URL split, credentials kept apart from what is shown."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    request_url: str  # the URL without credentials: what goes into requests and digests
    display_url: str  # the URL with the user name but never the password

    @classmethod
    def parse(cls, url: str) -> _Target:
        try:
            parts = urlsplit(url)
            port = parts.port or 554
        except ValueError:
            # ValueError's text may quote part of the password, so it is left out
            raise CustosError(
                Kind.INVALID_ARGUMENT,
                f"{redact(url)} is not a valid RTSP URL (a bad port, or "
                "a user name or password with ':', '/' or '@' not percent-encoded)",
            ) from None
        if parts.scheme.lower() != "rtsp" or not parts.hostname:
            raise CustosError(Kind.INVALID_ARGUMENT, f"{redact(url)} is not an rtsp://host[:port]/path URL")
        host = parts.hostname
        hostport = parts.netloc.rpartition("@")[2]
        path = parts.path or "/"
        query = f"?{parts.query}" if parts.query else ""
        request_url = f"rtsp://{hostport}{path}{query}"
        username = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(host, port, username, password, request_url, _display(request_url, parts.username))

    def with_credentials(self, username: str | None, password: str | None) -> _Target:
        display = _display(self.request_url, quote(username, safe="") if username else None)
        return _Target(self.host, self.port, username, password, self.request_url, display)


def _display(request_url: str, quoted_user: str | None) -> str:
    return request_url.replace("rtsp://", f"rtsp://{quoted_user}@", 1) if quoted_user else request_url


class RtspSession:
    """One camera: handshake (`connect`), then `read_batch` from a selector loop, then `close`."""

    def __init__(self, url: str, *, timeout_s: float = 10.0, user_agent: str = "custos") -> None:
        if timeout_s <= 0:
            raise CustosError(Kind.INVALID_ARGUMENT, f"timeout_s {timeout_s} is not positive")
        self._target = _Target.parse(url)
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self._sock: socket.socket | None = None
        self._cseq = 0
        self._challenge: Challenge | None = None
        self._session_id: str | None = None
        self._session_timeout_s = _DEFAULT_SESSION_TIMEOUT_S
        self._public: set[str] = set()
        self._playing = False
        self._closed = False
        self._error: CustosError | None = None
        self.sdp: SessionDescription | None = None
        self.track: VideoTrack | None = None
        self._control_url = ""
        self._dep: Depacketizer | None = None
        self._rtp_channel = 0
        self._rtcp_channel = 1
        self._awaiting = -1
        self._reply: _Message | None = None
        self._pending: list[AccessUnit] = []
        self.param_changes: list[tuple[int, StreamParams]] = []
        # receive buffer: [_start, _end) holds bytes not parsed yet
        self._buf = bytearray(0)
        self._view = memoryview(self._buf)
        self._start = 0
        self._end = 0
        self._wbuf = bytearray()
        self._max_bytes = 0
        # timing and RTCP
        self._next_keepalive = 0.0
        self._last_receive = time.monotonic()
        self._sr_pts_90k: int | None = None
        self._sr_unix_ns = 0
        self._sr_ntp = 0
        self._sr_arrival = 0.0
        self._ssrc = int.from_bytes(os.urandom(4), "big")
        # counters
        self._recv_calls = 0
        self._received_bytes = 0
        self._rtcp_packets = 0
        self._sender_reports = 0
        self._receiver_reports = 0
        self._rtsp_messages = 0
        self._keepalives = 0
        self._other_channel = 0
        self._junk = 0

    # -- public properties ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The camera's URL with the user name and without the password."""
        return self._target.display_url

    @property
    def params(self) -> StreamParams | None:
        """The current parameter sets: from the SDP, replaced by in-band ones at keyframes."""
        return self._dep.params if self._dep is not None else None

    @property
    def codec(self) -> str | None:
        return self.track.codec if self.track is not None else None

    @property
    def session_timeout_s(self) -> int:
        return self._session_timeout_s

    @property
    def idle_s(self) -> float:
        """Seconds since the last byte arrived (a frozen camera keeps its connection open)."""
        return time.monotonic() - self._last_receive

    @property
    def stats(self) -> SessionStats:
        rtp = (
            self._dep.stats.as_dict()
            if self._dep is not None
            else {f: 0 for f in SessionStats.__dataclass_fields__ if f in _RTP_FIELDS}
        )
        return SessionStats(
            **rtp,
            recv_calls=self._recv_calls,
            received_bytes=self._received_bytes,
            rtcp_packets=self._rtcp_packets,
            sender_reports=self._sender_reports,
            receiver_reports_sent=self._receiver_reports,
            rtsp_messages=self._rtsp_messages,
            keepalives_sent=self._keepalives,
            other_channel_frames=self._other_channel,
            junk_bytes=self._junk,
        )

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def wants_write(self) -> bool:
        """True while a keepalive or report is partly unsent: register for EVENT_WRITE and `flush`."""
        return bool(self._wbuf)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "playing" if self._playing else "new"
        return f"RtspSession({self.url!r}, {state})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- handshake -----------------------------------------------------------------------------

    def connect(self) -> StreamParams:
        """OPTIONS, DESCRIBE, SETUP (interleaved TCP), PLAY; blocking, each step within `timeout_s`.

        Returns the stream's parameters: from the SDP's sprop when present, otherwise from the first
        whole keyframe, which this waits for (up to `timeout_s`). Afterwards the socket is
        non-blocking and `read_batch` returns the units (any received here come first).
        """
        if self._sock is not None or self._closed:
            raise CustosError(Kind.FAILED_PRECONDITION, f"{self.url}: connect() was already called")
        try:
            for _ in range(_MAX_REDIRECTS + 1):
                location = self._handshake()
                if location is None:
                    break
                self._follow(location)
            else:
                raise CustosError(Kind.UNAVAILABLE, f"{self.url} redirected more than {_MAX_REDIRECTS} times")
            params = self._await_params()
            assert self._sock is not None
            self._sock.setblocking(False)
            self._next_keepalive = time.monotonic() + self._keepalive_interval_s()
            return params
        except BaseException:
            self._closed = True  # one connect() per session: make a new RtspSession to retry
            self._drop_socket()
            raise

    def _handshake(self) -> str | None:
        """Run the handshake on a new connection; returns a redirect location, or None when playing."""
        target = self._target
        self._open_socket()
        options = self._request("OPTIONS", target.request_url, {})
        if options.status in (301, 302, 303, 305, 307) and options.header("location"):
            return options.header("location")
        self._public = {m.strip().upper() for m in (options.header("public") or "").split(",") if m.strip()}

        describe = self._request("DESCRIBE", target.request_url, {"Accept": "application/sdp"})
        if describe.status in (301, 302, 303, 305, 307) and describe.header("location"):
            return describe.header("location")
        self._check(describe, "DESCRIBE")
        base = describe.header("content-base") or describe.header("content-location") or target.request_url
        self.sdp = parse_sdp(describe.body)
        self.track = track = select_video(self.sdp, base.strip(), self.url)
        self._control_url = aggregate_url(self.sdp, base.strip())

        setup = self._request("SETUP", track.control_url, {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
        self._check(setup, "SETUP")
        self._apply_session(setup.header("session"))
        transport = setup.header("transport") or ""
        if "TCP" not in transport.upper():
            raise CustosError(
                Kind.INVALID_ARGUMENT, f"{self.url} answered SETUP with transport {transport!r}, not RTP over TCP"
            )
        match = re.search(r"interleaved=(\d+)(?:-(\d+))?", transport)
        if match:
            self._rtp_channel = int(match.group(1))
            self._rtcp_channel = int(match.group(2)) if match.group(2) else self._rtp_channel + 1
        self._dep = Depacketizer(
            track.codec, clock_rate=track.clock_rate, payload_type=track.payload_type, params=track.params
        )

        play = self._request("PLAY", self._control_url, {"Range": "npt=0.000-"})
        self._check(play, "PLAY")
        if play.header("session"):
            self._apply_session(play.header("session"))
        self._playing = True
        return None

    def _follow(self, location: str) -> None:
        old = self._target
        self._drop_socket()
        new = _Target.parse(location.strip())
        if new.username is None and new.host == old.host:  # credentials stay with their host
            new = new.with_credentials(old.username, old.password)
        log.info("%s redirects to %s", old.display_url, new.display_url)
        self._target = new
        self._challenge = None
        self._session_id = None

    def _await_params(self) -> StreamParams:
        dep = self._dep
        assert dep is not None
        if dep.params is not None:
            return dep.params
        deadline = time.monotonic() + self.timeout_s
        while dep.params is None:
            self._recv_blocking(deadline, "the first keyframe with its parameter sets (SPS/PPS)")
            self._parse(time.time_ns(), self._pending)
            dep.detach()
        params = dep.params
        dep.changes = [change for change in dep.changes if change[1] is not params]  # connect() returns it
        return params

    def _open_socket(self) -> None:
        t = self._target
        try:
            self._sock = socket.create_connection((t.host, t.port), timeout=self.timeout_s)
        except socket.gaierror as e:
            raise CustosError(
                Kind.UNAVAILABLE, f"{self.url} is unreachable: cannot resolve host {t.host!r} ({e.strerror})"
            ) from None
        except ConnectionRefusedError:
            raise CustosError(
                Kind.UNAVAILABLE, f"{self.url} is unreachable: connection refused by {t.host}:{t.port}"
            ) from None
        except TimeoutError:
            raise CustosError(
                Kind.UNAVAILABLE,
                f"{self.url} is unreachable: no TCP answer from {t.host}:{t.port} within {self.timeout_s:g} s",
            ) from None
        except OSError as e:
            raise CustosError(Kind.UNAVAILABLE, f"{self.url} is unreachable: {e.strerror or e}") from None
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._ensure_buffer(1 << 16)

    def _request(self, method: str, url: str, headers: dict[str, str]) -> _Message:
        """Send a request and wait for its answer, answering a 401 challenge when we can."""
        t = self._target
        for attempt in range(3):
            used = self._challenge
            sent_nonce = used.nonce if used is not None else None
            reply = self._exchange(method, url, headers)
            if reply.status != 401:
                return reply
            challenge = Challenge.pick(reply.headers.get("www-authenticate", []))
            if t.username is None:
                raise CustosError(
                    Kind.UNAUTHENTICATED, f"{self.url} needs credentials: {method} answered 401 Unauthorized"
                )
            if challenge is None:
                offered = "; ".join(reply.headers.get("www-authenticate", [])) or "no WWW-Authenticate"
                raise CustosError(
                    Kind.UNAUTHENTICATED,
                    f"{self.url} asks for an authentication custos cannot answer ({offered[:120]})",
                )
            self._challenge = challenge
            retry = used is None or challenge.stale or (attempt == 0 and challenge.nonce != sent_nonce)
            if not retry:
                break
        raise CustosError(
            Kind.UNAUTHENTICATED,
            f"{self.url} refused the credentials of user {t.username!r}: wrong credentials "
            f"({method} answered 401 Unauthorized)",
        )

    def _exchange(self, method: str, url: str, headers: dict[str, str]) -> _Message:
        cseq = self._send_request(method, url, headers)
        self._awaiting = cseq
        self._reply = None
        deadline = time.monotonic() + self.timeout_s
        try:
            while self._reply is None:
                self._recv_blocking(deadline, f"an answer to {method}")
                self._parse(time.time_ns(), self._pending)
                if self._dep is not None:
                    self._dep.detach()
        finally:
            self._awaiting = -1
        reply, self._reply = self._reply, None
        return reply

    def _send_request(self, method: str, url: str, headers: dict[str, str]) -> int:
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}", f"User-Agent: {self.user_agent}"]
        t = self._target
        if self._challenge is not None and t.username is not None:
            lines.append("Authorization: " + self._challenge.header(method, url, t.username, t.password or ""))
        if self._session_id is not None:
            lines.append(f"Session: {self._session_id}")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        if self._playing:
            self._send(data)
        else:
            assert self._sock is not None
            try:
                self._sock.sendall(data)
            except TimeoutError:
                raise CustosError(
                    Kind.UNAVAILABLE, f"{self.url} did not take the {method} request within {self.timeout_s:g} s"
                ) from None
            except OSError as e:
                raise CustosError(
                    Kind.UNAVAILABLE, f"{self.url} closed the connection ({method}: {e.strerror or e})"
                ) from None
        return self._cseq

    def _check(self, reply: _Message, method: str) -> None:
        status = reply.status
        if 200 <= status < 300:
            return
        what = f"{self.url} answered {status} {reply.reason} to {method}"
        if status == 404:
            raise CustosError(Kind.NOT_FOUND, f"{what}: no such stream on the server")
        if status == 403:
            raise CustosError(Kind.PERMISSION_DENIED, f"{what}: the user may not view this stream")
        if status == 461:
            raise CustosError(Kind.INVALID_ARGUMENT, f"{what}: the server does not send RTP over TCP")
        if status in (301, 302, 303, 305, 307):
            location = redact(reply.header("location") or "?")
            raise CustosError(
                Kind.UNAVAILABLE, f"{what}: a redirect to {location}, followed only for OPTIONS and DESCRIBE"
            )
        raise CustosError(Kind.UNAVAILABLE, what)

    def _apply_session(self, value: str | None) -> None:
        if not value:
            return
        parts = value.split(";")
        self._session_id = parts[0].strip()
        for part in parts[1:]:
            key, _, val = part.strip().partition("=")
            if key.lower() == "timeout" and val.strip().isdigit():
                self._session_timeout_s = max(5, int(val.strip()))

    def _recv_blocking(self, deadline: float, waiting_for: str) -> None:
        sock = self._sock
        assert sock is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CustosError(Kind.UNAVAILABLE, f"{self.url} did not send {waiting_for} within {self.timeout_s:g} s")
        sock.settimeout(remaining)
        self._make_room(1 << 16)
        try:
            n = sock.recv_into(self._view[self._end :])
        except TimeoutError:
            raise CustosError(
                Kind.UNAVAILABLE, f"{self.url} did not send {waiting_for} within {self.timeout_s:g} s"
            ) from None
        except OSError as e:
            raise CustosError(Kind.UNAVAILABLE, f"{self.url} closed the connection ({e.strerror or e})") from None
        self._recv_calls += 1
        if n == 0:
            raise CustosError(
                Kind.UNAVAILABLE, f"{self.url} closed the connection while custos waited for {waiting_for}"
            )
        self._received_bytes += n
        self._end += n
        self._last_receive = time.monotonic()

    # -- streaming -----------------------------------------------------------------------------

    def read_batch(self, max_bytes: int = 1 << 20) -> list[AccessUnit]:
        """Read what the socket holds (one `recv_into`, more only while the buffer fills) and return
        the access units completed by it. `param_changes` then lists (index into the returned list,
        new params) for each unit from which on new parameter sets apply.

        Raises UNAVAILABLE when the server closed the connection or ended the session; units
        completed before that are returned first and the error comes with the next call.
        """
        if self.param_changes:
            self.param_changes = []
        if self._error is not None:
            raise self._error
        sock, dep = self._sock, self._dep
        if sock is None or dep is None or not self._playing:
            raise CustosError(Kind.FAILED_PRECONDITION, f"{self.url}: read_batch() before connect() or after close()")
        if self._wbuf:
            self.flush()
        out, self._pending = self._pending, []
        if max_bytes != self._max_bytes:
            self._ensure_buffer(max_bytes)
            self._max_bytes = max_bytes
        for _ in range(8):
            if self._start == self._end:
                self._start = self._end = 0
            elif len(self._buf) - self._end < max_bytes:
                self._make_room(max_bytes)
            want = min(max_bytes, len(self._buf) - self._end)
            try:
                n = sock.recv_into(self._view[self._end :], want)
            except (BlockingIOError, InterruptedError):
                self._recv_calls += 1
                break
            except OSError as e:
                self._fail(CustosError(Kind.UNAVAILABLE, f"{self.url} closed the connection ({e.strerror or e})"))
                break
            self._recv_calls += 1
            if n == 0:
                self._fail(CustosError(Kind.UNAVAILABLE, f"{self.url} closed the connection"))
                break
            self._received_bytes += n
            self._end += n
            self._last_receive = time.monotonic()
            self._parse(time.time_ns(), out)
            dep.detach()
            if n < want or self._error is not None:
                break
        if dep.changes:
            where = {id(u): i for i, u in enumerate(out)}
            self.param_changes = [(where[id(u)], p) for u, p in dep.changes if id(u) in where]
            dep.changes.clear()
        if self._error is not None and not out:
            raise self._error
        return out

    def _fail(self, error: CustosError) -> None:
        self._error = error
        self._playing = False

    def keepalive_due(self, now: float | None = None) -> bool:
        """True when a keepalive should be sent (half the server's session timeout has passed)."""
        return self._playing and (time.monotonic() if now is None else now) >= self._next_keepalive

    def send_keepalive(self) -> None:
        """GET_PARAMETER (or OPTIONS when the server does not list it) on the aggregate URL; the answer
        is read by `read_batch`. Never blocks."""
        if not self._playing:
            return
        method = "GET_PARAMETER" if "GET_PARAMETER" in self._public else "OPTIONS"
        self._send_request(method, self._control_url if method == "GET_PARAMETER" else self._target.request_url, {})
        self._keepalives += 1
        self._next_keepalive = time.monotonic() + self._keepalive_interval_s()

    def _keepalive_interval_s(self) -> float:
        return max(2.0, self._session_timeout_s / 2)

    def wallclock_for(self, pts_90k: int) -> int | None:
        """The sender's wall clock (Unix ns) for a pts, from the latest RTCP sender report; None before one."""
        if self._sr_pts_90k is None:
            return None
        return self._sr_unix_ns + (pts_90k - self._sr_pts_90k) * 1_000_000_000 // 90_000

    def flush(self) -> None:
        """Send what is left of queued keepalives and reports (non-blocking)."""
        sock = self._sock
        if sock is None or not self._wbuf:
            return
        try:
            n = sock.send(self._wbuf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._error = self._error or CustosError(
                Kind.UNAVAILABLE, f"{self.url} closed the connection ({e.strerror or e})"
            )
            self._wbuf.clear()
            return
        del self._wbuf[:n]

    def _send(self, data: bytes) -> None:
        self._wbuf += data
        self.flush()

    def close(self) -> None:
        """TEARDOWN (best effort, not awaited) and close the socket. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._sock is not None and self._session_id is not None and self._error is None:
            try:
                self._playing = False
                self._cseq += 1
                lines = [
                    f"TEARDOWN {self._control_url or self._target.request_url} RTSP/1.0",
                    f"CSeq: {self._cseq}",
                    f"User-Agent: {self.user_agent}",
                    f"Session: {self._session_id}",
                ]
                t = self._target
                if self._challenge is not None and t.username is not None:
                    lines.append(
                        "Authorization: "
                        + self._challenge.header(
                            "TEARDOWN", self._control_url or t.request_url, t.username, t.password or ""
                        )
                    )
                self._sock.setblocking(False)
                self._sock.send(bytes(self._wbuf) + ("\r\n".join(lines) + "\r\n\r\n").encode())
            except OSError:
                pass
        self._playing = False
        self._drop_socket()

    def _drop_socket(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None
        self._wbuf.clear()
        self._start = self._end = 0

    # -- the receive buffer --------------------------------------------------------------------

    def _ensure_buffer(self, max_bytes: int) -> None:
        size = max(max_bytes, 1 << 16) + _MESSAGE_MAX + _FRAME_MAX
        if len(self._buf) < size:
            tail = bytes(self._view[self._start : self._end])
            self._buf = bytearray(size)
            self._view = memoryview(self._buf)
            self._buf[: len(tail)] = tail
            self._start, self._end = 0, len(tail)

    def _make_room(self, want: int) -> None:
        """Move the unparsed tail to the front when less than `want` bytes are free behind it."""
        if self._start == self._end:
            self._start = self._end = 0
        elif len(self._buf) - self._end < want and self._start > 0:
            tail = bytes(self._view[self._start : self._end])
            self._buf[: len(tail)] = tail
            self._start, self._end = 0, len(tail)
        if self._end - self._start > _MESSAGE_MAX + _FRAME_MAX:
            raise CustosError(Kind.UNAVAILABLE, f"{self.url} sent a message of more than {_MESSAGE_MAX} bytes")

    def _parse(self, received_ns: int, out: list[AccessUnit]) -> None:
        """Walk the complete interleaved frames and RTSP messages in the buffer."""
        buf = self._buf
        view = self._view
        dep = self._dep
        rtp_ch = self._rtp_channel
        p = self._start
        end = self._end
        while p < end:
            if buf[p] == 0x24:  # '$'
                if p + 4 > end:
                    break
                q = p + 4 + ((buf[p + 2] << 8) | buf[p + 3])
                if q > end:
                    break
                ch = buf[p + 1]
                if ch == rtp_ch and dep is not None:
                    dep.push(view, p + 4, q, received_ns, out)
                elif ch == self._rtcp_channel:
                    self._on_rtcp(view, p + 4, q)
                else:
                    self._other_channel += 1
                p = q
            else:
                q = self._parse_message(p, end)
                if q < 0:
                    break
                p = q
        self._start = p

    def _parse_message(self, p: int, end: int) -> int:
        """Parse one RTSP message at p; returns where it ends, or -1 when it is incomplete."""
        buf = self._buf
        eol = buf.find(b"\r\n", p, end)
        if eol < 0:
            if end - p >= 1024 or not _looks_like_rtsp(bytes(buf[p : min(end, p + 16)]), complete=False):
                return self._skip_junk(p, end)
            return -1
        first = bytes(buf[p:eol]).decode("latin-1")
        if not _looks_like_rtsp(first.encode("latin-1"), complete=True):
            return self._skip_junk(p, end)
        head_end = buf.find(b"\r\n\r\n", p, end)
        if head_end < 0:
            if end - p > _MESSAGE_MAX:
                raise CustosError(Kind.UNAVAILABLE, f"{self.url} sent an RTSP header of more than {_MESSAGE_MAX} bytes")
            return -1
        headers: dict[str, list[str]] = {}
        for line in bytes(buf[eol + 2 : head_end]).decode("utf-8", errors="replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        try:
            length = int((headers.get("content-length") or ["0"])[0])
        except ValueError:
            length = 0
        body_start = head_end + 4
        if body_start + length > end:
            if body_start + length - p > _MESSAGE_MAX:
                raise CustosError(Kind.UNAVAILABLE, f"{self.url} sent an RTSP message of {length} bytes")
            return -1
        self._on_message(_Message(first, headers, bytes(buf[body_start : body_start + length])))
        return body_start + length

    def _skip_junk(self, p: int, end: int) -> int:
        q = self._buf.find(b"$", p + 1, end)
        q = end if q < 0 else q
        self._junk += q - p
        return q

    def _on_message(self, msg: _Message) -> None:
        if msg.is_response:
            if msg.cseq == self._awaiting or (self._awaiting >= 0 and msg.cseq < 0):
                self._reply = msg
                return
            self._rtsp_messages += 1
            if msg.status == 401:
                challenge = Challenge.pick(msg.headers.get("www-authenticate", []))
                if challenge is not None:
                    self._challenge = challenge  # a new nonce for the next keepalive
            elif msg.status == 454:
                self._fail(
                    CustosError(Kind.UNAVAILABLE, f"{self.url} no longer knows the session (454 Session Not Found)")
                )
            elif msg.status >= 400:
                log.info("%s answered a keepalive with %s %s", self.url, msg.status, msg.reason)
            return
        # a request from the server
        self._rtsp_messages += 1
        method = msg.first_line.split(" ", 1)[0].upper()
        lines = ["RTSP/1.0 200 OK", f"CSeq: {msg.header('cseq', '0')}"]
        if self._session_id is not None:
            lines.append(f"Session: {self._session_id}")
        reply = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if self._playing:
            self._send(reply)
        elif self._sock is not None:
            try:
                self._sock.sendall(reply)
            except OSError:
                pass
        if method == "TEARDOWN":
            self._fail(CustosError(Kind.UNAVAILABLE, f"{self.url} ended the session (TEARDOWN from the server)"))

    def _on_rtcp(self, view: memoryview, start: int, end: int) -> None:
        self._rtcp_packets += 1
        dep = self._dep
        if dep is None:
            return
        for sr in parse_rtcp_sender_reports(view, start, end):
            if dep.ssrc is not None and sr.ssrc != dep.ssrc:
                continue
            ext = dep.extend(sr.rtp_ts)
            if ext is None:
                continue
            self._sender_reports += 1
            self._sr_pts_90k = dep.to_90k(ext)
            self._sr_unix_ns = sr.unix_ns
            self._sr_ntp = sr.ntp
            self._sr_arrival = time.monotonic()
            if self._playing:
                self._send_receiver_report(sr.ssrc)

    def _send_receiver_report(self, source_ssrc: int) -> None:
        dep = self._dep
        assert dep is not None
        st = dep.stats
        rr = build_receiver_report(
            reporter_ssrc=self._ssrc,
            source_ssrc=source_ssrc,
            highest_seq=dep.highest_seq,
            cumulative_lost=st.lost_packets,
            last_sr_ntp=self._sr_ntp,
            delay_since_sr_65536=0,
        )
        self._send(bytes((0x24, self._rtcp_channel)) + len(rr).to_bytes(2, "big") + rr)
        self._receiver_reports += 1


_RTP_FIELDS = frozenset(
    (
        "packets",
        "bytes",
        "lost_packets",
        "access_units",
        "dropped_units",
        "skipped_units",
        "unsupported_packets",
        "malformed_packets",
        "late_packets",
        "other_payload_packets",
        "discontinuities",
        "param_changes",
    )
)

_METHODS = (
    b"OPTIONS",
    b"DESCRIBE",
    b"ANNOUNCE",
    b"SETUP",
    b"PLAY",
    b"PAUSE",
    b"TEARDOWN",
    b"GET_PARAMETER",
    b"SET_PARAMETER",
    b"REDIRECT",
    b"RECORD",
)


def _looks_like_rtsp(first: bytes, *, complete: bool) -> bool:
    """Whether bytes start an RTSP message: a status line or a request line of a known method."""
    if complete:
        if first.startswith(b"RTSP/"):
            return True
        method = first.split(b" ", 1)[0]
        return method in _METHODS and first.endswith(b"RTSP/1.0")
    return any(m.startswith(first) or first.startswith(m) for m in (b"RTSP/", *_METHODS))
