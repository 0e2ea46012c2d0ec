"""Journal throughput and recovery time on real files.

    python bench/bench_journal.py [--dir DIR] [--seconds S]

Prints ``name: value unit`` lines. Put ``--dir`` on the disk the stage server journals to: the
figures are fdatasync-bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine_server._journal import Journal

PAYLOAD = bytes(range(200))


def fresh(directory: Path) -> Journal:
    directory.mkdir()
    journal = Journal(directory)
    for _ in journal.recover(0):
        pass
    return journal


def commit_rate(directory: Path, batch: int, seconds: float) -> tuple[float, float]:
    """(commits/s, records/s) for one thread appending ``batch`` records per commit."""
    journal = fresh(directory)
    seq = commits = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(batch):
            seq += 1
            journal.append(seq, PAYLOAD)
        journal.commit()
        commits += 1
    elapsed = time.perf_counter() - start
    journal.close()
    return commits / elapsed, seq / elapsed


def group_commit(directory: Path, seconds: float) -> tuple[float, float, float]:
    """One thread appends flat out while another commits in a loop, as the server does.

    Returns (records/s, mean records per commit, p99 append latency in µs): the latency shows
    whether append waits on the disk.
    """
    journal = fresh(directory)
    stop = threading.Event()
    commits = 0

    def committer() -> None:
        nonlocal commits
        while not stop.is_set():
            journal.commit()
            commits += 1

    thread = threading.Thread(target=committer)
    thread.start()
    latencies = []
    seq = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        seq += 1
        before = time.perf_counter()
        journal.append(seq, PAYLOAD)
        latencies.append(time.perf_counter() - before)
    stop.set()
    thread.join()
    journal.commit()
    elapsed = time.perf_counter() - start
    journal.close()
    p99 = statistics.quantiles(latencies, n=100)[98] * 1e6
    return seq / elapsed, seq / max(commits, 1), p99


def recover_time(directory: Path, count: int) -> float:
    journal = fresh(directory)
    for seq in range(1, count + 1):
        journal.append(seq, PAYLOAD)
        if seq % 1000 == 0:
            journal.commit()
    journal.commit()
    journal.close()
    start = time.perf_counter()
    journal = Journal(directory)
    replayed = sum(1 for _ in journal.recover(0))
    elapsed = time.perf_counter() - start
    journal.close()
    if replayed != count:
        raise RuntimeError(f"recovered {replayed} records, wrote {count}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each timed run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        root = Path(scratch)
        figures = []
        for batch in (1, 10, 100):
            commits, records = commit_rate(root / f"batch{batch}", batch, args.seconds)
            figures.append((f"journal_commits_per_s_batch{batch}", f"{commits:.0f}", "commits/s"))
            figures.append((f"journal_records_per_s_batch{batch}", f"{records:.0f}", "records/s"))
        records, per_commit, p99 = group_commit(root / "group", args.seconds)
        figures.append(("journal_records_per_s_group_commit", f"{records:.0f}", "records/s"))
        figures.append(("journal_records_per_commit_group_commit", f"{per_commit:.1f}", "records/commit"))
        figures.append(("journal_append_p99_us_group_commit", f"{p99:.1f}", "us"))
        figures.append(("journal_recover_100k_s", f"{recover_time(root / 'recover', 100_000):.3f}", "s"))
    for name, value, unit in figures:
        print(f"{name}: {value} {unit}")


if __name__ == "__main__":
    main()
