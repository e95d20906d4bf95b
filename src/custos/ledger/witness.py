"""The witness file: every signed tree head, appended to a file outside the data folder.

Whoever rewrites the database and the log together can sign a new history only with our key, but cannot
unsay the tree heads handed out before: those are also in this file, and a rewritten log will not prove
consistent with them (the caller checks that with merkle.verify_consistency). Keep it on another disk,
mount or host than the data folder. `append` refuses a tree head smaller than the last one, or a second
root for the same size, so a rolled-back database is caught at its first tree head.

Framing, one record per signed note: a header line `checkpoint <n>\\n`, the n bytes of the note (UTF-8,
ending in a newline), then a blank line `\\n`. The length makes the framing unambiguous although a note
holds a blank line itself; the closing blank line keeps the file readable and shows a record is whole.

A crash mid-append can leave a torn last record: cut short, or holding NUL bytes where the filesystem
allocated space the crash left unwritten (a note never holds NUL). It is never skipped silently: `read`
raises TornRecordError carrying the whole checkpoints before it, `append` refuses to write after it, and
`discard_torn_tail` removes it once the caller has recorded the loss. Anything else that is wrong (a
garbled record, a bad signature, a tree size that decreases, two roots for one size, a second origin) is a
WitnessError naming the record number.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from custos.durable import fsync_dir, makedirs_durable
from custos.errors import CustosError, Kind
from custos.ledger.checkpoint import Checkpoint, CheckpointError, split_note
from custos.ledger.keys import VerifierKey

__all__ = ["MAX_NOTE_BYTES", "TornRecordError", "Witness", "WitnessError"]

MAX_NOTE_BYTES = 1 << 20
_WORD = b"checkpoint "
_HEADER = re.compile(rb"checkpoint ([1-9][0-9]{0,6})")
_MAX_HEADER = len(_WORD) + 7


class WitnessError(CustosError):
    """The witness file does not hold a clean, growing history; `record` is the 1-based record at fault."""

    def __init__(self, message: str, *, record: int | None = None, kind: Kind = Kind.DATA_LOSS) -> None:
        super().__init__(kind, message)
        self.record = record


class TornRecordError(WitnessError):
    """The last record was cut short by a crash mid-append. `offset` is where it starts; from `read`,
    `checkpoints` are the verified checkpoints before it (from `append`, which verifies nothing, empty)."""

    def __init__(self, path: Path, record: int, offset: int, checkpoints: Sequence[Checkpoint] = ()) -> None:
        super().__init__(
            f"witness file {path}: record {record} (byte {offset}) is torn, as a crash mid-append leaves it",
            record=record,
        )
        self.offset = offset
        self.checkpoints = list(checkpoints)


class _Frame(NamedTuple):
    record: int
    offset: int
    note: bytes


def _could_be_torn(data: bytes, pos: int) -> bool:
    """Whether data[pos:] is the start of a header line, possibly followed by never-written NUL bytes."""
    tail = data[pos:].rstrip(b"\0")
    if len(tail) <= len(_WORD):
        return _WORD.startswith(tail)
    return len(tail) < _MAX_HEADER and tail.startswith(_WORD) and tail[len(_WORD) :].isdigit()


def _scan(data: bytes, path: Path) -> tuple[list[_Frame], int | None]:
    """The whole records in `data`, and the offset of a torn last record if there is one."""
    frames: list[_Frame] = []
    pos = 0
    while pos < len(data):
        record = len(frames) + 1
        where = f"witness file {path}: record {record} (byte {pos})"
        nl = data.find(b"\n", pos, pos + _MAX_HEADER + 1)
        m = _HEADER.fullmatch(data, pos, nl) if nl >= 0 else None
        if m is None:
            if _could_be_torn(data, pos):
                return frames, pos
            raise WitnessError(f"{where} does not start with a 'checkpoint <length>' line", record=record)
        n = int(m[1])
        if n > MAX_NOTE_BYTES:
            raise WitnessError(f"{where} claims {n} bytes, more than a note may have ({MAX_NOTE_BYTES})", record=record)
        start, end = nl + 1, nl + 1 + n
        if end + 1 > len(data):
            return frames, pos
        if b"\0" in data[start : end + 1]:
            if not data[end + 1 :].strip(b"\0"):
                return frames, pos
            raise WitnessError(f"{where} holds NUL bytes, which no note has", record=record)
        if data[end] != 0x0A:
            raise WitnessError(f"{where} is not followed by a blank line after its {n} bytes", record=record)
        frames.append(_Frame(record, pos, data[start:end]))
        pos = end + 1
    return frames, None


def _unverified(note: bytes) -> Checkpoint:
    """The checkpoint in a well-formed note, its signature unchecked: for append's sanity checks only."""
    return Checkpoint.from_body(split_note(note)[0])


def _pread_all(fd: int, size: int) -> bytes:
    chunks: list[bytes] = []
    done = 0
    while done < size and (chunk := os.pread(fd, size - done, done)):
        chunks.append(chunk)
        done += len(chunk)
    return b"".join(chunks)


def _check_follows(prev: Checkpoint, cp: Checkpoint) -> str | None:
    """Why `cp` cannot come after `prev` in a witness file, or None."""
    if cp.origin != prev.origin:
        return f"is of origin {cp.origin!r}, after {prev.origin!r}"
    if cp.size < prev.size:
        return f"has tree size {cp.size}, smaller than the {prev.size} witnessed before it"
    if cp.size == prev.size and cp.root != prev.root:
        return f"has another root for tree size {cp.size} than the one witnessed before it"
    return None


class Witness:
    """The append-only witness file at `path`; a file that does not exist yet reads as empty."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._end: int | None = None  # the file size when last scanned or appended to by us
        self._last: Checkpoint | None = None  # the last checkpoint in the file then

    def _error(self, action: str, exc: OSError) -> CustosError:
        return CustosError(Kind.UNAVAILABLE, f"witness file {self.path}: could not {action} ({exc.strerror})")

    def append(self, note: str, verifier: VerifierKey | None = None) -> None:
        """Append one signed checkpoint note and fsync; refuse one that does not follow the last one.

        With `verifier` its signature is checked first, so that a bad note can never poison the file;
        without, only its form is (the file is append-only: pass the verifier when you have it)."""
        try:
            data = note.encode()
            if len(data) > MAX_NOTE_BYTES:
                raise CheckpointError(f"a note for the witness is at most {MAX_NOTE_BYTES} bytes")
            cp = _unverified(data) if verifier is None else Checkpoint.parse_signed(data, verifier)
        except (CheckpointError, UnicodeError) as exc:
            raise WitnessError(f"not a signed checkpoint: {exc}", kind=Kind.INVALID_ARGUMENT) from None
        try:
            makedirs_durable(self.path.parent)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
                created = True
            except FileExistsError:
                fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
                created = False
        except OSError as exc:
            raise self._error("open", exc) from exc
        try:
            if created:
                fsync_dir(self.path.parent)
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size != self._end:
                self._rescan(fd, size)
            if self._last is not None and (why := _check_follows(self._last, cp)):
                raise WitnessError(f"witness file {self.path}: refusing a checkpoint that {why}")
            record = b"checkpoint %d\n" % len(data) + data + b"\n"
            try:
                view = memoryview(record)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError:
                os.ftruncate(fd, size)  # leave no torn record behind if we still can
                os.fsync(fd)
                raise
            self._end, self._last = size + len(record), cp
        except OSError as exc:
            self._end = None
            raise self._error("append to it", exc) from exc
        finally:
            os.close(fd)

    def _rescan(self, fd: int, size: int) -> None:
        frames, torn = _scan(_pread_all(fd, size), self.path)
        if torn is not None:
            raise TornRecordError(self.path, len(frames) + 1, torn)
        try:
            self._last = _unverified(frames[-1].note) if frames else None
        except CheckpointError as exc:
            raise WitnessError(f"witness file {self.path}: record {len(frames)}: {exc}", record=len(frames)) from None
        self._end = size

    def _read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise self._error("read it", exc) from exc

    def read(self, verifier: VerifierKey) -> list[Checkpoint]:
        """Every checkpoint, each signature verified and the sizes checked never to decrease.

        Raises WitnessError naming the first bad record, or TornRecordError if only the last is torn."""
        frames, torn = _scan(self._read_bytes(), self.path)
        checkpoints: list[Checkpoint] = []
        for frame in frames:
            where = f"witness file {self.path}: record {frame.record} (byte {frame.offset})"
            try:
                cp = Checkpoint.parse_signed(frame.note, verifier)
            except CheckpointError as exc:
                raise WitnessError(f"{where}: {exc}", record=frame.record) from None
            if checkpoints and (why := _check_follows(checkpoints[-1], cp)):
                raise WitnessError(f"{where} {why}", record=frame.record)
            checkpoints.append(cp)
        if torn is not None:
            raise TornRecordError(self.path, len(frames) + 1, torn, checkpoints)
        return checkpoints

    def latest(self, verifier: VerifierKey) -> Checkpoint | None:
        """The last checkpoint, after `read` has checked the whole file; None if there is none."""
        checkpoints = self.read(verifier)
        return checkpoints[-1] if checkpoints else None

    def discard_torn_tail(self) -> int:
        """Cut off a torn last record (see TornRecordError) and return how many bytes went; 0 if none.
        Only a tail that a crash mid-append can leave is cut; anything else is a WitnessError."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise self._error("open", exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            _, torn = _scan(_pread_all(fd, size), self.path)
            if torn is None:
                return 0
            os.ftruncate(fd, torn)
            os.fsync(fd)
            self._end = None
            return size - torn
        except OSError as exc:
            raise self._error("truncate it", exc) from exc
        finally:
            os.close(fd)
