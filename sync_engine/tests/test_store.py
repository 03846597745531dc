"""The embedded SQLite store: links survive, one run at a time, a dead run's lock is taken over."""
import os
import sqlite3
import subprocess
import sys

import pytest

from sync_engine.errors import SyncAlreadyRunning
from sync_engine.store import Link, RunLine, SQLiteStore

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(str(tmp_path / "state.sqlite"))
    yield s
    s.close()


def test_links_are_saved_durably_and_read_back(tmp_path, store):
    store.save_links([Link("vendor", "46", "00902ABC", "1", "t1", {"qbo": {"name": "Norton"}}),
                      Link("bill", "126", "00n02XYZ", "0", "t2", None)])
    again = SQLiteStore(str(tmp_path / "state.sqlite"))
    links = {l.qbo_id: l for l in again.load_links()}
    assert links["46"].billcom_id == "00902ABC" and links["46"].snapshot == {"qbo": {"name": "Norton"}}
    assert [l.qbo_id for l in again.load_links(["bill"])] == ["126"]
    # saving again updates in place (a re-synced record keeps one link)
    again.save_links([Link("vendor", "46", "00902ABC", "2", "t3", {"qbo": {"name": "Norton Lumber"}})])
    assert [l.qbo_version for l in again.load_links(["vendor"])] == ["2"]


def test_a_billcom_id_is_linked_once_per_object_type(store):
    store.save_links([Link("vendor", "46", "00902ABC")])
    with pytest.raises(sqlite3.IntegrityError):
        store.save_links([Link("vendor", "47", "00902ABC")])


def test_a_type_of_links_is_walked_a_page_at_a_time_each_link_once(store):
    store.save_links([Link("bill", str(i), f"00n{i:05d}") for i in range(7)]
                     + [Link("vendor", "46", "00902ABC")])
    assert store.count_links() == {"bill": 7, "vendor": 1}
    pages = list(store.link_pages("bill", size=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    walked = [l.qbo_id for p in pages for l in p]
    assert sorted(walked) == [str(i) for i in range(7)] and len(set(walked)) == 7
    assert all(l.object_type == "bill" for p in pages for l in p)
    # a type that fills its last page exactly ends without an empty page
    assert [len(p) for p in store.link_pages("bill", size=7)] == [7]
    assert list(store.link_pages("invoice", size=3)) == []


def _malloc_in_use():
    """Bytes the C allocator's main arena has handed out (glibc's mallinfo2), or None."""
    import ctypes

    class _Info(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
    try:   # the C library as sync_engine.memory finds malloc_trim
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _Info
    except (OSError, AttributeError, TypeError):
        return None
    return libc.mallinfo2().uordblks


def test_link_look_ups_of_every_length_find_their_links_and_hold_no_memory_for_it(store):
    # a long run asks for the links of pages of every size up to 500 ids; the
    # store once kept a prepared statement per length (about 100 KB each, up to 128)
    store.save_links([Link("bill", str(i), f"00n{i:05d}") for i in range(600)])
    before = _malloc_in_use()
    if before is None:
        pytest.skip("glibc's mallinfo2 is not available here: the memory cannot be read")
    for n in range(373, 501):
        ids = [str(i) for i in range(n)] + ["not-synced"]
        found = store.find_links("bill", "qbo", ids)
        assert sorted(int(l.qbo_id) for l in found) == list(range(n))
        assert [l.qbo_id for l in store.find_links("bill", "billcom", [f"00n{n:05d}"])] == [str(n)]
    held = (_malloc_in_use() - before) / 2 ** 20
    assert held < 3, f"{held:.1f} MB held after look-ups of 128 lengths"


def test_cursors_and_retries(store):
    store.set_cursors({"qbo": "100", "billcom": "200"})
    store.set_cursors({"qbo": "150"})
    assert store.get_cursors() == {"qbo": "150", "billcom": "200"}
    store.set_retries([("qbo", "bill", "1"), ("billcom", "vendor", "009x")])
    assert sorted(store.get_retries()) == [("billcom", "vendor", "009x"), ("qbo", "bill", "1")]
    store.set_retries([])
    assert store.get_retries() == []


def test_one_run_at_a_time_and_the_log(store):
    run_id = store.begin_run("cron", "scheduler")
    with pytest.raises(SyncAlreadyRunning, match="already running"):
        store.begin_run("manual", "alice")
    store.add_run_lines(run_id, [RunLine("bill", "qbo_to_billcom", "skip", "Bill PG-OCT", qbo_id="9",
                                         rule_code="paid_in_qbo", message="Fully paid", diff={"x": [1, 2]})])
    store.end_run(run_id, "done", {"bill|qbo_to_billcom|skip": 1})
    second = store.begin_run("manual", "alice")
    assert second != run_id
    store.end_run(second, "done", {})
    runs = store.runs()
    assert [r.state for r in runs] == ["done", "done"]
    lines = store.run_lines(run_id)
    assert lines[0].rule_code == "paid_in_qbo" and lines[0].diff == {"x": [1, 2]}


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    path = str(tmp_path / "state.sqlite")
    code = ("import sys; sys.path.insert(0, %r); from sync_engine.store import SQLiteStore; "
            "SQLiteStore(%r).begin_run('cron')" % (ROOT, path))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(tmp_path))
    store = SQLiteStore(path)
    run_id = store.begin_run("manual")
    states = {r.run_id: r.state for r in store.runs()}
    assert states[run_id] == "running" and list(states.values()).count("interrupted") == 1
