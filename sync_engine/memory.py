"""Memory and the garbage collector during a run.

Freed memory is handed back to the system between the steps of a run:
glibc's allocator keeps what a step freed (the pages of records it read and
wrote) for later use, scattered among what is still in use, so a process's
resident memory drifts up step after step although what it holds does not:
the large company's first sync peaked 1–2 MB higher for it.
``malloc_trim(0)`` returns every wholly free page (glibc, ``man 3
malloc_trim``); where the C library has no such call, nothing is done.

A run also asks the garbage collector to pass less often (``fewer_collections``).
"""
import contextlib
import ctypes
import gc
import threading


def _malloc_trim():
    try:
        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):   # not glibc
        return None


_TRIM = _malloc_trim()


def give_back_freed_memory():
    """Return wholly free pages to the system (a few milliseconds at most)."""
    if _TRIM is not None:
        _TRIM(0)


# The cyclic garbage collector runs every 700 new container objects by default
# (``gc.get_threshold()``), and each time walks the young objects a run holds:
# decoding and planning a page of 1,000 records makes a few hundred thousand,
# nearly all freed by reference counting, not by the collector. During a run it
# runs every RUN_COLLECTION_THRESHOLD new objects instead: the collector had a
# tenth of the planning CPU of a first sync (11 s of the large company's 100 s).
# What it defers is bounded by that count, not by the size of the company.
RUN_COLLECTION_THRESHOLD = 50_000

_collections_lock = threading.Lock()
_runs_in_process = 0
_threshold_before = None


@contextlib.contextmanager
def fewer_collections():
    """Collect cyclic garbage less often while a run lasts. The process's own
    setting is given back when the last run in it ends (runs of several
    connections may overlap in one Odoo server), whatever way it ends."""
    global _runs_in_process, _threshold_before
    with _collections_lock:
        if _runs_in_process == 0:
            _threshold_before = gc.get_threshold()
            first, *older = _threshold_before
            if 0 < first < RUN_COLLECTION_THRESHOLD:   # 0: collection is off; leave it so
                gc.set_threshold(RUN_COLLECTION_THRESHOLD, *older)
        _runs_in_process += 1
    try:
        yield
    finally:
        with _collections_lock:
            _runs_in_process -= 1
            if _runs_in_process == 0:
                gc.set_threshold(*_threshold_before)
