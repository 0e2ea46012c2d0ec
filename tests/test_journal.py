"""The journal on real files: framing, group commit, recovery, torn tails, corruption, crashes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine_server._journal import (
    HEADER_BYTES,
    MAX_SEQ,
    FrameError,
    Journal,
    JournalCorrupt,
    JournalError,
    JournalRecord,
    decode_record,
    encode_record,
)
from protocols import StagecraftError

REPO = Path(__file__).resolve().parent.parent


def payload_for(seq: int) -> bytes:
    return f"event {seq} ".encode() * (1 + seq % 7)


def open_journal(directory: Path, after_seq: int = 0) -> tuple[Journal, list[JournalRecord]]:
    journal = Journal(directory)
    return journal, list(journal.recover(after_seq))


def write(directory: Path, count: int, batch: int = 1) -> None:
    journal, _ = open_journal(directory)
    for seq in range(1, count + 1):
        journal.append(seq, payload_for(seq))
        if seq % batch == 0:
            journal.commit()
    journal.commit()
    journal.close()


def only_segment(directory: Path) -> Path:
    (segment,) = directory.glob("journal-*.log")
    return segment


def expected(first: int, last: int) -> list[JournalRecord]:
    return [JournalRecord(seq, payload_for(seq)) for seq in range(first, last + 1)]


def test_round_trip_many_records(tmp_path: Path) -> None:
    write(tmp_path, 1000, batch=37)
    journal, records = open_journal(tmp_path)
    assert records == expected(1, 1000)
    assert journal.last_seq == 1000
    assert journal.read(0, 5000) == records
    journal.close()


def test_empty_journal(tmp_path: Path) -> None:
    journal, records = open_journal(tmp_path)
    assert records == []
    assert journal.last_seq == 0
    assert journal.read(0, 10) == []
    assert [p.name for p in tmp_path.iterdir()] == [f"journal-{1:020d}.log"]
    journal.close()


def test_group_commit_writes_a_batch_at_once(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    segment = only_segment(tmp_path)
    for seq in range(1, 101):
        journal.append(seq, payload_for(seq))
    assert segment.stat().st_size == 0
    assert journal.last_seq == 0
    assert journal.read(0, 1000) == []
    journal.commit()
    assert journal.last_seq == 100
    assert segment.stat().st_size == sum(HEADER_BYTES + len(payload_for(s)) for s in range(1, 101))
    journal.commit()  # nothing buffered: a no-op
    assert journal.last_seq == 100
    journal.close()


def test_append_checks_the_sequence(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    journal.append(1, b"a")
    with pytest.raises(ValueError, match="next seq is 2"):
        journal.append(3, b"c")
    with pytest.raises(ValueError, match="next seq is 2"):
        journal.append(1, b"a")
    journal.append(2, b"b")
    journal.commit()
    journal.close()
    journal, _ = open_journal(tmp_path)
    with pytest.raises(ValueError, match="next seq is 3"):
        journal.append(5, b"e")
    journal.close()


def test_uncommitted_records_are_not_durable(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    journal.append(1, b"kept")
    journal.commit()
    journal.append(2, b"lost")
    journal.close()
    journal, records = open_journal(tmp_path)
    assert records == [JournalRecord(1, b"kept")]
    journal.close()


def test_recover_after_reopening_and_appending_again(tmp_path: Path) -> None:
    write(tmp_path, 50, batch=10)
    journal, records = open_journal(tmp_path, after_seq=20)
    assert records == expected(21, 50)
    for seq in range(51, 61):
        journal.append(seq, payload_for(seq))
    journal.commit()
    journal.close()
    journal, records = open_journal(tmp_path)
    assert records == expected(1, 60)
    journal.close()


def test_lifecycle_errors(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    with pytest.raises(JournalError, match="recover"):
        journal.append(1, b"x")
    list(journal.recover(0))
    with pytest.raises(JournalError, match="once"):
        journal.recover(0)
    journal.close()
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.commit()
    with pytest.raises(JournalError, match="closed"):
        journal.read(0, 1)
    assert issubclass(JournalCorrupt, JournalError)
    assert issubclass(JournalError, StagecraftError)


def test_torn_tail_at_every_offset_is_dropped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, 20, batch=5)
    segment = only_segment(tmp_path)
    whole = segment.read_bytes()
    last_start = len(whole) - HEADER_BYTES - len(payload_for(20))
    for cut in range(last_start + 1, len(whole)):
        segment.write_bytes(whole[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="stagecraft.journal"):
            journal, records = open_journal(tmp_path)
        assert records == expected(1, 19), cut
        assert journal.last_seq == 19
        (message,) = [r.getMessage() for r in caplog.records if r.name == "stagecraft.journal"]
        assert f"{cut - last_start} bytes from offset {last_start}" in message
        assert str(segment) in message
        assert segment.stat().st_size == last_start
        journal.append(20, payload_for(20))  # the journal carries on after the truncation
        journal.commit()
        journal.close()
        assert segment.read_bytes() == whole


def test_flipped_byte_in_the_last_record_drops_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, 10)
    segment = only_segment(tmp_path)
    whole = segment.read_bytes()
    last_start = len(whole) - HEADER_BYTES - len(payload_for(10))
    for position in (last_start, last_start + 5, last_start + 9, last_start + 17, len(whole) - 1):
        damaged = bytearray(whole)
        damaged[position] ^= 0x40
        segment.write_bytes(bytes(damaged))
        with caplog.at_level(logging.WARNING, logger="stagecraft.journal"):
            journal, records = open_journal(tmp_path)
        assert records == expected(1, 9)
        assert "dropping a torn record" in caplog.text
        journal.close()
        segment.write_bytes(whole)


def test_corruption_mid_file_refuses_to_start(tmp_path: Path) -> None:
    write(tmp_path, 10)
    segment = only_segment(tmp_path)
    whole = bytearray(segment.read_bytes())
    fifth = 4 * HEADER_BYTES + sum(len(payload_for(s)) for s in range(1, 5))
    whole[fifth + HEADER_BYTES + 2] ^= 0xFF
    segment.write_bytes(bytes(whole))
    journal = Journal(tmp_path)
    with pytest.raises(JournalCorrupt) as caught:
        journal.recover(0)
    assert caught.value.path == segment
    assert caught.value.offset == fifth
    assert str(segment) in str(caught.value) and f"offset {fifth}" in str(caught.value)
    assert segment.read_bytes() == bytes(whole)  # nothing truncated


def test_a_gap_in_the_sequence_is_corruption(tmp_path: Path) -> None:
    segment = tmp_path / f"journal-{1:020d}.log"
    segment.write_bytes(encode_record(1, b"a") + encode_record(3, b"c"))
    with pytest.raises(JournalCorrupt, match="seq 3, expected 2"):
        Journal(tmp_path).recover(0)


def test_rotation_deletes_old_segments_and_recovery_spans_segments(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    for seq in range(1, 31):
        journal.append(seq, payload_for(seq))
        if seq % 10 == 0:
            journal.commit()
            journal.rotate(max(0, seq - 20))  # a snapshot two segments behind
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"journal-{11:020d}.log",
        f"journal-{21:020d}.log",
        f"journal-{31:020d}.log",
    ]
    assert journal.read(0, 100) == expected(11, 30)  # the gap shows in the first seq
    journal.close()
    journal, records = open_journal(tmp_path, after_seq=15)
    assert records == expected(16, 30)
    journal.rotate(30)
    assert [p.name for p in tmp_path.iterdir()] == [f"journal-{31:020d}.log"]
    journal.close()


def test_rotate_with_buffered_records_keeps_them(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    for seq in range(1, 6):
        journal.append(seq, payload_for(seq))
    journal.commit()
    journal.append(6, payload_for(6))
    journal.rotate(6)  # the snapshot already holds seq 6, which is not committed yet
    journal.commit()
    journal.close()
    journal, records = open_journal(tmp_path, after_seq=5)
    assert records == expected(6, 6)
    with pytest.raises(ValueError, match=r"not in 0\.\.6"):
        journal.rotate(7)
    journal.close()


def test_a_snapshot_past_the_journal_restarts_it(tmp_path: Path) -> None:
    write(tmp_path, 5)
    journal, records = open_journal(tmp_path, after_seq=8)
    assert records == []
    assert journal.last_seq == 8
    journal.append(9, b"nine")
    journal.commit()
    journal.close()
    journal, records = open_journal(tmp_path, after_seq=8)
    assert records == [JournalRecord(9, b"nine")]
    journal.close()


def test_a_snapshot_before_the_journal_start_is_refused(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    for seq in range(1, 11):
        journal.append(seq, payload_for(seq))
    journal.commit()
    journal.rotate(10)
    journal.append(11, payload_for(11))
    journal.commit()
    journal.close()
    with pytest.raises(JournalCorrupt, match="starts at seq 11"):
        Journal(tmp_path).recover(3)


def test_a_torn_record_in_a_sealed_segment_is_corruption(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    for seq in range(1, 11):
        journal.append(seq, payload_for(seq))
        if seq % 5 == 0:
            journal.commit()
            journal.rotate(0)
    journal.close()
    first = tmp_path / f"journal-{1:020d}.log"
    os.truncate(first, first.stat().st_size - 1)
    with pytest.raises(JournalCorrupt, match="sealed segment") as caught:
        Journal(tmp_path).recover(0)
    assert caught.value.path == first


def test_read_while_appending(tmp_path: Path) -> None:
    journal, _ = open_journal(tmp_path)
    total = 1000

    def writer() -> None:
        for seq in range(1, total + 1):
            journal.append(seq, payload_for(seq))
            if seq % 7 == 0:
                journal.commit()
        journal.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    after = 0
    while after < total:
        finished = not thread.is_alive()
        committed = journal.last_seq
        batch = journal.read(after, 100)
        assert batch == expected(after + 1, after + len(batch))
        assert after + len(batch) >= min(committed, after + 100)
        after += len(batch)
        if finished and not batch:
            break
    thread.join()
    assert after == total
    assert journal.read(total - 3, 10) == expected(total - 2, total)
    assert journal.read(total, 10) == []
    assert journal.read(0, 0) == []
    journal.close()


CHILD = """
import sys
from pathlib import Path
from engine_server._journal import Journal

journal = Journal(Path(sys.argv[1]))
for _ in journal.recover(0):
    pass
seq = journal.last_seq
while True:
    for _ in range(int(sys.argv[2])):
        seq += 1
        journal.append(seq, (b"%d|" % seq) * 40)
    journal.commit()
    sys.stdout.write(f"{seq}\\n")
    sys.stdout.flush()
"""


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 50])
def test_sigkill_loses_no_committed_record(tmp_path: Path, batch: int) -> None:
    committed = 0
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path), str(batch)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(200):
            line = child.stdout.readline()
            if not line:
                pytest.fail(f"the child died: {child.stderr.read().decode()}")
            committed = int(line)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        child.stderr.close()
        journal, records = open_journal(tmp_path)
        assert journal.last_seq >= committed
        assert [r.seq for r in records] == list(range(1, journal.last_seq + 1))
        assert all(r.payload == (b"%d|" % r.seq) * 40 for r in records)
        journal.close()


@given(seq=st.integers(1, MAX_SEQ), payload=st.binary(max_size=300))
def test_framing_round_trips(seq: int, payload: bytes) -> None:
    frame = encode_record(seq, payload)
    assert len(frame) == HEADER_BYTES + len(payload)
    assert decode_record(b"junk" + frame + b"more", 4) == (JournalRecord(seq, payload), 4 + len(frame))


@given(payload=st.binary(max_size=64), data=st.data())
def test_framing_detects_any_flipped_byte_or_cut(payload: bytes, data: st.DataObject) -> None:
    frame = encode_record(7, payload)
    position = data.draw(st.integers(0, len(frame) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = bytearray(frame)
    damaged[position] ^= flip
    with pytest.raises(FrameError):
        decode_record(bytes(damaged), 0)
    with pytest.raises(FrameError):
        decode_record(frame[: data.draw(st.integers(0, len(frame) - 1))], 0)


def test_encode_validates() -> None:
    with pytest.raises(ValueError):
        encode_record(0, b"")
    with pytest.raises(ValueError):
        encode_record(MAX_SEQ + 1, b"")
    with pytest.raises(TypeError):
        encode_record(1, "text")  # type: ignore[arg-type]


def test_a_torn_tail_carrying_a_forged_record_is_still_a_torn_tail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A payload may hold a record's bytes (an array a client sent); cut short, it is a torn tail."""
    write(tmp_path, 5)
    forged = encode_record(6, b"forged")
    journal, _ = open_journal(tmp_path)
    journal.append(6, b"client data " + forged + b" and more client data")
    journal.commit()
    journal.close()
    segment = only_segment(tmp_path)
    whole = segment.read_bytes()
    segment.write_bytes(whole[: len(whole) - 5])  # the crash cut the last record short
    with caplog.at_level(logging.WARNING, logger="stagecraft.journal"):
        journal, records = open_journal(tmp_path)
    assert records == expected(1, 5)
    assert "dropping a torn record" in caplog.text
    journal.close()
