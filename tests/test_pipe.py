"""The clip pipe (web/pipe.py): bytes come out in order as they are written, an error before the first
byte is raised to the route (a problem answer, not a broken stream), and a reader that stops early stops
the writer thread instead of leaving it blocked."""

from __future__ import annotations

import threading
import time
from typing import BinaryIO

import pytest

from custos.errors import CustosError, Kind
from custos.web.pipe import CHUNK, stream


def test_bytes_arrive_in_order_and_the_first_at_once() -> None:
    gate = threading.Event()

    def write(out: BinaryIO) -> None:
        out.write(b"head")
        gate.wait(5)  # the header is out before the rest is even produced
        for i in range(50):
            out.write(bytes([i]) * 10_000)

    t0 = time.monotonic()
    chunks = stream(write)
    first = next(chunks)
    assert first == b"head" and time.monotonic() - t0 < 2
    gate.set()
    rest = b"".join(chunks)
    assert rest == b"".join(bytes([i]) * 10_000 for i in range(50))


def test_an_error_before_the_first_byte_is_raised_by_stream() -> None:
    def write(out: BinaryIO) -> None:
        raise CustosError(Kind.NOT_FOUND, "no recording there")

    with pytest.raises(CustosError) as e:
        stream(write)
    assert e.value.kind is Kind.NOT_FOUND


def test_a_reader_that_stops_stops_the_writer() -> None:
    stopped = threading.Event()

    def write(out: BinaryIO) -> None:
        try:
            while True:
                out.write(b"x" * CHUNK)
        finally:
            stopped.set()

    chunks = stream(write)
    next(chunks)
    chunks.close()  # type: ignore[attr-defined]  # the client went away
    assert stopped.wait(5), "the writer thread kept writing into a pipe nobody reads"


def test_a_response_dropped_before_its_body_stops_the_writer() -> None:
    stopped = threading.Event()

    def write(out: BinaryIO) -> None:
        try:
            while True:
                out.write(b"x" * CHUNK)
        finally:
            stopped.set()

    chunks = stream(write)
    del chunks  # the client left before the body was sent: nothing ever iterates it
    assert stopped.wait(5), "the writer thread waits forever for a reader that is gone"
