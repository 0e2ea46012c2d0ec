"""The append-only command journal: every applied command, durable before it is acknowledged.

A journal is a directory of segments ``journal-<first seq, 20 digits>.log``. Each segment holds
records with contiguous sequence numbers, starting at the one in its name. A record is::

    offset  size  field
         0     4  magic  b"SCJ1"
         4     4  payload length, u32 little-endian
         8     8  seq, u64 little-endian
        16     4  CRC-32 (zlib) of bytes 0..16 followed by the payload, u32 little-endian
        20     n  payload

A record's payload is one ``event`` message (``event_payload`` / ``event_from_payload``).
``append`` buffers records; ``commit`` writes the whole buffer with one ``write`` and one
``os.fdatasync`` (group commit), so a record is durable once the ``commit`` that took it returns.
The writer only ever adds to the end of the newest segment; older segments are sealed.

Recovery tells a torn tail from corruption: a bad record at the end of the newest segment, with no
intact record after it, is the remains of a write a crash cut short. It was never committed, so it
is logged and truncated away. A bad record anywhere else (followed by an intact record, or in a
sealed segment), or a gap in the sequence numbers, is corruption and recovery refuses to go on.

Errors::

    StagecraftError
    └── JournalError      the journal is closed, not recovered yet, or a write to it failed
        └── JournalCorrupt  a damaged record or a gap; names the file and byte offset
"""

from __future__ import annotations

import logging
import os
import re
import struct
import threading
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from protocols import (
    COMMAND_TYPES,
    MAX_MESSAGE_BYTES,
    BadMessage,
    Command,
    Event,
    Frames,
    StagecraftError,
    decode,
    from_wire,
    registered_types,
    unpack_header,
)
from scene import fsync_directory

MAGIC = b"SCJ1"
MAX_PAYLOAD_BYTES = MAX_MESSAGE_BYTES
MAX_SEQ = (1 << 64) - 1
_PREFIX = struct.Struct("<4sIQ")
_CRC = struct.Struct("<I")
HEADER_BYTES = _PREFIX.size + _CRC.size
_SEGMENT_NAME = re.compile(r"journal-(\d{20})\.log")

_log = logging.getLogger("stagecraft.journal")


def event_payload(parts: list[Any]) -> bytes:
    """A journal record's payload: the frames of one encoded ``event`` message, as a msgpack list."""
    return msgpack.packb([bytes(p) for p in parts], use_bin_type=True)


def event_from_payload(payload: bytes) -> Event:
    """The event a journal record holds (decoded and validated as on the wire)."""
    return decode(msgpack.unpackb(payload, raw=False)).body


def journaled_command(payload: bytes) -> tuple[int, Command, bool]:
    """A record's seq and command, for replay, and whether an older protocol wrote it.

    Replay needs only the command: the result is not decoded. A record of protocol 1 carries no
    result; its command replays as always, and the caller takes a snapshot after it so that no
    follower is ever served a result-less event.
    """
    parts = msgpack.unpackb(payload, raw=False)
    header = msgpack.unpackb(parts[0], raw=False)
    old = header.get("v") == 1
    if not old:
        unpack_header(parts[0])  # the checks every message passes
    body = header.get("body")
    command = body.get("command") if isinstance(body, dict) else None
    if not isinstance(command, dict) or not isinstance(body.get("seq"), int):
        raise BadMessage("a journal record that is not an event")
    cls = registered_types().get(command.get("type", ""))
    if cls is None or cls not in COMMAND_TYPES:
        raise BadMessage(f"a journal record holds {command.get('type')!r}, not a stage command")
    decoded: Command = from_wire(cls, command, Frames(parts[1:]))
    return body["seq"], decoded, old


class JournalError(StagecraftError):
    """The journal cannot serve the call: closed, not recovered yet, or broken by a failed write."""


class JournalCorrupt(JournalError):
    """A journal file is damaged somewhere other than a torn tail; start-up must not go on."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"journal corrupt: {path} at byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset


class FrameError(ValueError):
    """Bytes that are not one whole, intact record."""


@dataclass(frozen=True, slots=True)
class JournalRecord:
    seq: int
    payload: bytes


def encode_record(seq: int, payload: bytes) -> bytes:
    """The framed bytes of one record."""
    if not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise ValueError(f"a journal seq is an int in 1..{MAX_SEQ}, not {seq!r}")
    if not isinstance(payload, bytes):
        raise TypeError(f"a journal payload is bytes, not {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(payload)} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")
    prefix = _PREFIX.pack(MAGIC, len(payload), seq)
    return prefix + _CRC.pack(zlib.crc32(payload, zlib.crc32(prefix))) + payload


def decode_record(data: bytes, offset: int) -> tuple[JournalRecord, int]:
    """The record framed at ``data[offset:]`` and the offset just past it; FrameError if damaged."""
    body = offset + HEADER_BYTES
    if body > len(data):
        raise FrameError(f"{len(data) - offset} bytes, too short for a {HEADER_BYTES}-byte header")
    magic, length, seq = _PREFIX.unpack_from(data, offset)
    if magic != MAGIC:
        raise FrameError(f"bad magic {magic!r}")
    if length > MAX_PAYLOAD_BYTES:
        raise FrameError(f"payload length {length} is over the limit")
    end = body + length
    if end > len(data):
        raise FrameError(f"payload cut short: {len(data) - body} of {length} bytes")
    (crc,) = _CRC.unpack_from(data, offset + _PREFIX.size)
    payload = data[body:end]
    if zlib.crc32(payload, zlib.crc32(data[offset : offset + _PREFIX.size])) != crc:
        raise FrameError("CRC mismatch")
    return JournalRecord(seq, payload), end


@dataclass(eq=False)
class _Segment:
    """One segment file and where its committed records start."""

    path: Path
    first_seq: int
    offsets: array = field(default_factory=lambda: array("Q"))
    size: int = 0

    @property
    def last_seq(self) -> int:
        return self.first_seq + len(self.offsets) - 1


class Journal:
    """A segmented append-only journal with group commit.

    ``append`` (one thread) may run while ``commit`` / ``rotate`` run on another, and ``read`` from
    any thread. ``commit`` writes and syncs outside the buffer lock, so appends never wait on disk.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._io_lock = threading.Lock()  # commit / rotate / close, one at a time
        self._buffer_lock = threading.Lock()  # _pending, _next_seq
        self._index_lock = threading.Lock()  # _segments, their offsets, _last_seq
        self._segments: list[_Segment] | None = None
        self._pending: list[bytes] = []
        self._next_seq = 1
        self._last_seq = 0
        self._fd: int | None = None
        self._closed = False
        self._failure: OSError | None = None

    @property
    def last_seq(self) -> int:
        """The highest committed seq (0 for an empty journal)."""
        return self._last_seq

    def first_seq(self) -> int:
        """The seq of the oldest record held (``last_seq + 1`` when it holds none)."""
        with self._index_lock:
            segments, _ = self._check_usable()
            return next((s.first_seq for s in segments if s.offsets), self._last_seq + 1)

    def recover(self, after_seq: int) -> Iterator[JournalRecord]:
        """Check every segment, truncate a torn tail, open for appending; iterate records > after_seq.

        The checks and the truncation happen in this call; the iterator reads the records back
        and should be consumed before the first ``rotate``. If ``after_seq`` (a snapshot's seq) is
        past the journal's end, the snapshot holds all of it: the journal restarts after it.
        """
        if not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"after_seq is an int >= 0, not {after_seq!r}")
        with self._io_lock:
            if self._closed or self._segments is not None:
                raise JournalError("recover() is called once, on a freshly opened journal")
            segments = self._scan_all()
            last = segments[-1].last_seq if segments else 0
            if segments and after_seq < segments[0].first_seq - 1:
                raise JournalCorrupt(
                    segments[0].path,
                    0,
                    f"replay needs the records after seq {after_seq}, "
                    f"but the journal starts at seq {segments[0].first_seq}",
                )
            replay = list(segments)
            if after_seq > last or not segments:
                if segments:
                    _log.warning(
                        "snapshot seq %d is past the journal's last seq %d; restarting the journal after it",
                        after_seq,
                        last,
                    )
                self._delete(segments)
                segments = [self._create_segment(after_seq + 1)]
                last = after_seq
                replay = []
            self._fd = os.open(segments[-1].path, os.O_WRONLY | os.O_APPEND)
            with self._index_lock:
                self._segments = segments
                self._last_seq = last
            with self._buffer_lock:
                self._next_seq = last + 1
        return self._replay(replay, after_seq)

    def append(self, seq: int, payload: bytes) -> None:
        """Buffer a record; ``seq`` must follow the last one appended. Not durable until commit()."""
        frame = encode_record(seq, payload)
        with self._buffer_lock:
            self._check_usable()
            if seq != self._next_seq:
                raise ValueError(f"append got seq {seq}; the next seq is {self._next_seq}")
            self._pending.append(frame)
            self._next_seq += 1

    def commit(self) -> None:
        """Write every buffered record and fdatasync; when this returns they are durable."""
        with self._io_lock:
            segments, fd = self._check_usable()
            with self._buffer_lock:
                batch, self._pending = self._pending, []
            if not batch:
                return
            segment = segments[-1]
            try:
                _write_all(fd, b"".join(batch))
                os.fdatasync(fd)
            except OSError as exc:
                self._failure = exc
                raise JournalError(f"writing {segment.path} failed; restart the server: {exc}") from exc
            with self._index_lock:
                offset = segment.size
                for frame in batch:
                    segment.offsets.append(offset)
                    offset += len(frame)
                segment.size = offset
                self._last_seq += len(batch)

    def rotate(self, snapshot_seq: int) -> None:
        """A snapshot holding every record <= snapshot_seq is durable: seal the segment, drop old ones."""
        with self._io_lock:
            segments, fd = self._check_usable()
            with self._buffer_lock:
                appended = self._next_seq - 1
            if not isinstance(snapshot_seq, int) or not 0 <= snapshot_seq <= appended:
                raise ValueError(f"snapshot seq {snapshot_seq!r} is not in 0..{appended} (the last appended)")
            if segments[-1].offsets:
                segment = self._create_segment(self._last_seq + 1)
                os.close(fd)
                self._fd = os.open(segment.path, os.O_WRONLY | os.O_APPEND)
                with self._index_lock:
                    segments.append(segment)
            with self._index_lock:
                doomed = [s for s in segments[:-1] if s.last_seq <= snapshot_seq]
                self._segments = [s for s in segments if s not in doomed]
            self._delete(doomed)

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        """Up to ``limit`` committed records with seq > after_seq, in order.

        If those records were already dropped by ``rotate``, the list starts at the oldest record
        still held; callers see the gap from its first seq.
        """
        if not isinstance(after_seq, int) or after_seq < 0:
            raise ValueError(f"after_seq is an int >= 0, not {after_seq!r}")
        if not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit is an int >= 0, not {limit!r}")
        records: list[JournalRecord] = []
        with self._index_lock:
            segments, _ = self._check_usable()
            for segment in segments:
                if len(records) == limit:
                    break
                if not segment.offsets or segment.last_seq <= after_seq:
                    continue
                start = max(0, after_seq + 1 - segment.first_seq)
                stop = min(len(segment.offsets), start + limit - len(records))
                begin = segment.offsets[start]
                end = segment.offsets[stop] if stop < len(segment.offsets) else segment.size
                with open(segment.path, "rb") as file:
                    data = os.pread(file.fileno(), end - begin, begin)
                records.extend(_decode_all(segment.path, data, begin))
        return records

    def close(self) -> None:
        """Close the journal; records appended but not committed are discarded."""
        with self._io_lock:
            if self._closed:
                return
            self._closed = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            with self._buffer_lock:
                self._pending = []

    def _check_usable(self) -> tuple[list[_Segment], int]:
        """The open segments and the write descriptor; JournalError if the journal is not usable."""
        if self._closed:
            raise JournalError(f"the journal in {self.directory} is closed")
        if self._segments is None or self._fd is None:
            raise JournalError("call recover() before using the journal")
        if self._failure is not None:
            raise JournalError(
                f"an earlier write to the journal failed ({self._failure}); restart the server"
            )
        return self._segments, self._fd

    def _scan_all(self) -> list[_Segment]:
        named = []
        for path in self.directory.iterdir():
            match = _SEGMENT_NAME.fullmatch(path.name)
            if match:
                named.append(_Segment(path, int(match.group(1))))
        named.sort(key=lambda s: s.first_seq)
        for index, segment in enumerate(named):
            if index and segment.first_seq != named[index - 1].last_seq + 1:
                raise JournalCorrupt(
                    segment.path,
                    0,
                    f"segment starts at seq {segment.first_seq} but the one before ends at seq "
                    f"{named[index - 1].last_seq}",
                )
            _scan(segment, is_last=index == len(named) - 1)
        return named

    def _create_segment(self, first_seq: int) -> _Segment:
        segment = _Segment(self.directory / f"journal-{first_seq:020d}.log", first_seq)
        os.close(os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        fsync_directory(self.directory)
        return segment

    def _delete(self, segments: list[_Segment]) -> None:
        for segment in segments:
            segment.path.unlink()
        if segments:
            fsync_directory(self.directory)

    def _replay(self, segments: list[_Segment], after_seq: int) -> Iterator[JournalRecord]:
        for segment in segments:
            if not segment.offsets or segment.last_seq <= after_seq:
                continue
            begin = segment.offsets[max(0, after_seq + 1 - segment.first_seq)]
            with open(segment.path, "rb") as file:
                data = os.pread(file.fileno(), segment.size - begin, begin)
            yield from _decode_all(segment.path, data, begin)


def _scan(segment: _Segment, *, is_last: bool) -> None:
    """Index ``segment``'s records; truncate a torn tail if it is the newest segment."""
    data = segment.path.read_bytes()
    offset = 0
    while offset < len(data):
        try:
            record, end = decode_record(data, offset)
        except FrameError as exc:
            if not is_last:
                raise JournalCorrupt(segment.path, offset, f"{exc} in a sealed segment") from None
            expected = segment.first_seq + len(segment.offsets)
            if _intact_records_follow(data, offset + 1, expected):
                raise JournalCorrupt(segment.path, offset, f"{exc}, and intact records follow") from None
            _log.warning(
                "dropping a torn record at the end of %s: %d bytes from offset %d (%s)",
                segment.path,
                len(data) - offset,
                offset,
                exc,
            )
            _truncate(segment.path, offset)
            break
        expected = segment.first_seq + len(segment.offsets)
        if record.seq != expected:
            raise JournalCorrupt(segment.path, offset, f"record has seq {record.seq}, expected {expected}")
        segment.offsets.append(offset)
        offset = end
    segment.size = offset


def _intact_records_follow(data: bytes, start: int, expected_seq: int) -> bool:
    """Whether an intact run of later records, with consecutive seqs, reaches the end of ``data``.

    That is what a damaged record in the middle of a journal looks like. Bytes that merely look
    like a record (a payload may carry a record's bytes, e.g. inside an array) do not end
    exactly where the file ends in a consecutive run, so a torn tail holding them is still torn.
    """
    position = data.find(MAGIC, start)
    while position != -1:
        if _run_to_end(data, position, expected_seq):
            return True
        position = data.find(MAGIC, position + 1)
    return False


def _run_to_end(data: bytes, offset: int, expected_seq: int) -> bool:
    previous = None
    while offset < len(data):
        try:
            record, offset = decode_record(data, offset)
        except FrameError:
            return False
        if record.seq <= expected_seq or (previous is not None and record.seq != previous + 1):
            return False
        previous = record.seq
    return previous is not None


def _decode_all(path: Path, data: bytes, base: int) -> Iterator[JournalRecord]:
    offset = 0
    while offset < len(data):
        try:
            record, offset = decode_record(data, offset)
        except FrameError as exc:
            raise JournalCorrupt(path, base + offset, f"{exc} in a committed record") from None
        yield record


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
