"""The snapshot store on real files: publish, latest, prune, crash leftovers."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine_server._snapshots import SnapshotError, SnapshotStore
from protocols import StagecraftError

BLEND = b"BLENDER-v500RENDH" + bytes(64)


def save(store: SnapshotStore, seq: int, content: bytes = BLEND) -> Path:
    store.reserve(seq).write_bytes(content + str(seq).encode())
    return store.commit(seq)


def test_an_empty_store_has_no_latest(tmp_path: Path) -> None:
    assert SnapshotStore(tmp_path / "snapshots").latest() is None


def test_commit_publishes_and_latest_finds_it(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    partial = store.reserve(42)
    assert partial.parent == tmp_path and not partial.exists()
    partial.write_bytes(BLEND)
    final = store.commit(42)
    assert final == tmp_path / f"snapshot-{42:020d}.blend"
    assert not partial.exists()
    assert final.read_bytes() == BLEND
    assert store.latest() == (42, final)
    assert SnapshotStore(tmp_path).latest() == (42, final)


def test_only_the_two_newest_are_kept(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    paths = [save(store, seq) for seq in (5, 9, 100, 1000)]
    assert sorted(tmp_path.glob("*.blend")) == paths[2:]
    assert sorted(p.stem for p in tmp_path.glob("*.manifest")) == [p.stem for p in paths[2:]]
    assert store.latest() == (1000, paths[3])
    assert store.oldest_seq() == 100
    assert paths[3].read_bytes() == BLEND + b"1000"


def test_a_half_written_snapshot_is_ignored_and_cleaned_up(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    good = save(store, 10)
    store.reserve(20).write_bytes(BLEND[:5])
    (tmp_path / f"snapshot-{30:020d}.partial.blend@").write_bytes(b"BLEN")  # Blender's own temp
    (tmp_path / f".snapshot-{30:020d}.partial.tmp77.blend@").write_bytes(b"BLEN")  # a save's temp
    (tmp_path / f"snapshot-{40:020d}.manifest").write_text("{}")  # a manifest without its .blend
    assert store.latest() == (10, good)
    reopened = SnapshotStore(tmp_path)
    assert reopened.latest() == (10, good)
    assert sorted(p.name for p in tmp_path.iterdir()) == [good.name, good.with_suffix(".manifest").name]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda p: p.write_bytes(p.read_bytes()[:-1]), id="truncated"),
        pytest.param(
            lambda p: p.write_bytes(bytes([p.read_bytes()[0] ^ 1]) + p.read_bytes()[1:]), id="bit-flip"
        ),
        pytest.param(lambda p: p.with_suffix(".manifest").unlink(), id="no-manifest"),
        pytest.param(lambda p: p.with_suffix(".manifest").write_text("not json"), id="bad-manifest"),
    ],
)
def test_a_damaged_newest_snapshot_falls_back_to_the_previous(tmp_path: Path, damage, caplog) -> None:
    store = SnapshotStore(tmp_path)
    older = save(store, 10)
    newest = save(store, 20)
    damage(newest)
    assert SnapshotStore(tmp_path).latest() == (10, older)
    assert f"snapshot {newest.name} is damaged" in caplog.text


def test_same_seq_again_replaces_it(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    save(store, 7, BLEND + b"old")
    final = save(store, 7, BLEND + b"new")
    assert store.latest() == (7, final)
    assert final.read_bytes() == BLEND + b"new7"


def test_commit_refuses_a_missing_or_foreign_file(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    with pytest.raises(SnapshotError, match="no snapshot was saved"):
        store.commit(3)
    store.reserve(3).write_bytes(b"")
    with pytest.raises(SnapshotError, match=r"not a \.blend"):
        store.commit(3)
    store.reserve(3).write_bytes(b"\x28\xb5\x2f\xfd" + bytes(16))  # zstd-compressed .blend
    store.commit(3)
    assert store.latest()[0] == 3
    assert issubclass(SnapshotError, StagecraftError)


def test_reserve_validates_the_seq(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path)
    save(store, 50)
    with pytest.raises(ValueError, match="older than the newest"):
        store.reserve(49)
    with pytest.raises(ValueError):
        store.reserve(-1)
    assert store.reserve(0 + 50).name == f"snapshot-{50:020d}.partial.blend"
