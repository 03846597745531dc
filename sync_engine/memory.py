"""Freed memory handed back to the system between the steps of a run.

glibc's allocator keeps what a step freed (the pages of records it read and
wrote) for later use, scattered among what is still in use, so a process's
resident memory drifts up step after step although what it holds does not:
the large company's first sync peaked 1–2 MB higher for it.
``malloc_trim(0)`` returns every wholly free page (glibc, ``man 3
malloc_trim``); where the C library has no such call, nothing is done.
"""
import ctypes


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
