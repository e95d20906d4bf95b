"""The local-folder storage: atomic publication, ranged reads, partials for recovery, clear errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from custos.errors import CustosError, Kind
from custos.storage import LocalStorage


def test_put_then_read_ranges_and_stat(storage: LocalStorage) -> None:
    info = storage.put("a/b/c.bin", [b"hello ", b"world"])
    assert info.size_bytes == 11
    assert storage.read("a/b/c.bin") == b"hello world"
    assert storage.read("a/b/c.bin", 6, 3) == b"wor"
    assert storage.stat("a/b/c.bin").size_bytes == 11
    assert [o.key for o in storage.list()] == ["a/b/c.bin"]
    assert list((storage.root / "tmp").iterdir()) == []


def test_originals_are_never_replaced(storage: LocalStorage) -> None:
    storage.put("x.bin", b"1")
    with pytest.raises(CustosError) as e:
        storage.put("x.bin", b"2")
    assert e.value.kind is Kind.FAILED_PRECONDITION and "never replaced" in e.value.message
    assert storage.read("x.bin") == b"1"


@pytest.mark.parametrize("key", ["../evil", "/abs", "a//b", "a/./b", "", "a/b.partial", "sp ace"])
def test_bad_keys_are_refused(storage: LocalStorage, key: str) -> None:
    with pytest.raises(CustosError) as e:
        storage.put(key, b"x")
    assert e.value.kind is Kind.INVALID_ARGUMENT and repr(key) in e.value.message


def test_partial_is_invisible_until_commit_and_listed_for_recovery(storage: LocalStorage) -> None:
    w = storage.open_writer("cam/seg.mp4")
    w.write(b"abc")
    w.sync()
    assert not storage.exists("cam/seg.mp4")
    assert storage.partials() == ["cam/seg.mp4"]
    w.close()
    w2 = storage.open_partial("cam/seg.mp4")
    assert w2.size_bytes == 3 and w2.read(0, 3) == b"abc"
    w2.write(b"defg")
    w2.truncate(5)
    info = w2.commit()
    assert info.size_bytes == 5 and storage.read("cam/seg.mp4") == b"abcde"
    assert storage.partials() == []


def test_no_delete_is_exposed(storage: LocalStorage) -> None:
    assert not any(name for name in dir(storage) if "delete" in name or "remove" in name or "unlink" in name)


def test_full_disk_gives_a_clear_error_and_no_half_named_file(small_tmpfs: Callable[[str], Path]) -> None:
    st = LocalStorage(small_tmpfs("256k"))
    with pytest.raises(CustosError) as e:
        st.put("big.bin", b"x" * (1 << 20))
    assert e.value.kind is Kind.RESOURCE_EXHAUSTED and "storage is full" in e.value.message
    assert not st.exists("big.bin")
    assert list((st.root / "tmp").iterdir()) == []
    w = st.open_writer("seg.mp4")
    with pytest.raises(CustosError) as e2:
        w.write(b"y" * (1 << 20))
    assert e2.value.kind is Kind.RESOURCE_EXHAUSTED
    assert not st.exists("seg.mp4")


def test_a_commit_interrupted_between_link_and_unlink_is_finished(storage: LocalStorage) -> None:

    w = storage.open_writer("cam/seg.mp4")
    w.write(b"abc")
    w.close()
    final = storage.object_path("cam/seg.mp4")
    final.parent.mkdir(parents=True)
    os.link(storage.partial_path("cam/seg.mp4"), final)  # the state a crash inside commit() leaves
    assert storage.partials() == []
    assert storage.read("cam/seg.mp4") == b"abc"
    assert not storage.partial_path("cam/seg.mp4").exists()


def test_commit_refuses_to_replace_an_existing_object(storage: LocalStorage) -> None:
    w = storage.open_writer("k.bin")
    storage.put("k.bin", b"original")
    w.write(b"impostor")
    with pytest.raises(CustosError, match="never replaced"):
        w.commit()
    assert storage.read("k.bin") == b"original"


def test_one_writer_at_a_time(storage: LocalStorage) -> None:
    lock = storage.lock_writer()
    with pytest.raises(CustosError) as e:
        storage.lock_writer()
    assert e.value.kind is Kind.FAILED_PRECONDITION and f"pid {os.getpid()}" in e.value.message
    lock.release()
    storage.lock_writer().release()
