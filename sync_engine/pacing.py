"""Client-side pacing: stay under the remote APIs' documented limits.

Every wait goes through an injectable ``clock``/``sleep`` pair so tests can
check the pacing without real sleeping.

The limits belong to the remote account (a QBO realm, a Bill.com developer key
and organization), not to a process: a preview followed at once by a sync in
another process, or two Odoo workers, must draw from the same windows. The
windows therefore live on a ``PacingBoard``:

* ``LocalBoard``: in this process only (the default, thread-safe);
* ``FileBoard``: an ``fcntl``-locked JSON file, for every process on one
  machine (the command line);
* the Odoo layer implements the same methods over PostgreSQL.

A request counts in its windows from when its answer came back, not from when
it was allowed to go: the server counts arrivals, and a request may wait for a
free connection or a scheduler turn after its slot was taken. Counting from the
answer (``RateLimiter.request``) keeps every window the server sees inside the
limit, whatever the delay between our clock and its.
"""
import bisect
import collections
import contextlib
import email.utils
import fcntl
import hashlib
import json
import os
import random
import threading
import time


class Clock:
    """Wall clock and sleep, swappable in tests (see ``FakeClock``)."""

    def now(self):
        return time.time()

    def sleep(self, seconds):
        if seconds > 0:
            time.sleep(seconds)


class FakeClock(Clock):
    """A clock that only moves when slept on or advanced; records every sleep."""

    def __init__(self, start=1_700_000_000.0):
        self._now = float(start)
        self.sleeps = []
        self._lock = threading.Lock()

    def now(self):
        with self._lock:
            return self._now

    def sleep(self, seconds):
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds):
        with self._lock:
            self._now += seconds


# ================================================================ boards
class PacingBoard:
    """Where the request windows of remote accounts are kept (the protocol).

    ``take(key, limits, now) -> float``: atomically, if every ``(count,
    seconds)`` window of ``key`` has room at ``now`` (and no penalty holds
    ``key``), record one request at ``now`` and return ``0.0``; otherwise
    record nothing and return the seconds to wait until a slot frees.
    ``limits`` may be empty: then only a penalty can make it wait.

    ``restamp(key, taken, now)``: the request recorded at ``taken`` has had
    its answer at ``now``: count it from ``now`` instead (the history stays
    in time order). Nothing happens when ``taken`` is no longer recorded.

    ``penalize(key, until)``: the server said "wait until ``until``" (a 429,
    a Retry-After, a quota used up); every ``take`` of ``key`` answers a
    positive wait until then, in every process that shares the board.

    Timestamps are seconds of the caller's clock; processes sharing a board
    must share the clock (the wall clock).
    """

    def take(self, key, limits, now):
        raise NotImplementedError

    def restamp(self, key, taken, now):
        raise NotImplementedError

    def penalize(self, key, until):
        raise NotImplementedError


def moved_stamp(history, taken, now):
    """``history`` (ordered times) with the request at ``taken`` moved to ``now``,
    or None when ``taken`` is not in it."""
    history = list(history)
    try:
        history.remove(taken)
    except ValueError:
        return None
    bisect.insort(history, max(now, taken))
    return history


def window_wait(history, limits, now, held_until=0.0):
    """Seconds to wait before one more request may go, given the ordered
    ``history`` of request times of one key (0.0: go now)."""
    wait = max(0.0, held_until - now)
    size = len(history)
    for count, seconds in limits:
        # the history is in time order: the requests in the window are its newest
        in_window = size - bisect.bisect_right(history, now - seconds)
        if in_window >= count:
            # the request that must leave the window before we may go
            oldest = history[size - count] if count > 0 else now
            wait = max(wait, oldest + seconds - now)
    return wait


def _longest(limits):
    return max((float(s) for _, s in limits), default=0.0)


class LocalBoard(PacingBoard):
    """The windows of this process (thread-safe): today's behaviour."""

    def __init__(self):
        self._history = collections.defaultdict(collections.deque)
        self._held = {}
        self._lock = threading.Lock()

    def take(self, key, limits, now):
        with self._lock:
            history = self._history[key]
            longest = _longest(limits)
            while history and history[0] <= now - longest:
                history.popleft()
            wait = window_wait(history, limits, now, self._held.get(key, 0.0))
            if wait > 0:
                return wait
            self._held.pop(key, None)
            history.append(now)
            return 0.0

    def restamp(self, key, taken, now):
        with self._lock:
            history = self._history.get(key)
            if not history:
                return
            # a request is nearly always among the last few taken: look from the end
            # (an hour's window holds thousands of stamps)
            at = len(history) - 1
            while at >= 0 and history[at] != taken:
                at -= 1
            if at < 0:
                return
            del history[at]
            stamp = max(now, taken)
            at = len(history)
            while at > 0 and history[at - 1] > stamp:
                at -= 1
            history.insert(at, stamp)

    def penalize(self, key, until):
        with self._lock:
            self._held[key] = max(self._held.get(key, 0.0), float(until))

    def history(self, key):
        with self._lock:
            return list(self._history.get(key, ()))


class FileBoard(PacingBoard):
    """The windows in one JSON file, locked with ``fcntl.flock`` for each
    ``take``: every process on this machine that opens the same path shares
    them. The file is created 0600. Its content::

        {"keys": {key: {"window": longest_seconds, "times": [t, ...]}},
         "held": {key: until}}

    Each key keeps only the requests inside its longest window, and expired
    penalties are dropped, so the file stays small (QBO: at most 500 times).
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self._lock = threading.Lock()  # flock is per open file; this orders our own threads

    def _update(self, change):
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                with os.fdopen(os.dup(fd), "r+", encoding="utf-8") as f:
                    raw = f.read()
                    try:
                        state = json.loads(raw) if raw.strip() else {}
                    except ValueError:
                        state = {}  # a torn or foreign file: start the windows again
                    if not isinstance(state, dict):
                        state = {}
                    state.setdefault("keys", {})
                    state.setdefault("held", {})
                    result, dirty = change(state)
                    if dirty:
                        f.seek(0)
                        f.truncate()
                        f.write(json.dumps(state, separators=(",", ":")))
                        f.flush()
                return result
            finally:
                os.close(fd)  # releases the flock

    @staticmethod
    def _prune(state, now):
        for key, entry in list(state["keys"].items()):
            cutoff = now - float(entry.get("window", 0))
            entry["times"] = [t for t in entry.get("times", []) if t > cutoff]
            if not entry["times"]:
                del state["keys"][key]
        for key, until in list(state["held"].items()):
            if until <= now:
                del state["held"][key]

    def take(self, key, limits, now):
        limits = [(int(n), float(s)) for n, s in limits]

        def change(state):
            self._prune(state, now)
            entry = state["keys"].get(key) or {"window": 0.0, "times": []}
            wait = window_wait(entry["times"], limits, now, state["held"].get(key, 0.0))
            if wait > 0:
                return wait, False
            if limits:
                entry["window"] = max(float(entry.get("window", 0)), _longest(limits))
                entry["times"].append(now)
                state["keys"][key] = entry
            return 0.0, True

        return self._update(change)

    def restamp(self, key, taken, now):
        def change(state):
            entry = state["keys"].get(key)
            moved = moved_stamp(entry["times"], taken, now) if entry else None
            if moved is None:
                return None, False
            entry["times"] = moved
            return None, True

        self._update(change)

    def penalize(self, key, until):
        def change(state):
            state["held"][key] = max(float(state["held"].get(key, 0.0)), float(until))
            return None, True

        self._update(change)

    def history(self, key):
        def change(state):
            return list(state["keys"].get(key, {}).get("times", [])), False

        return self._update(change)


def account_key(*parts):
    """A board key part that does not reveal a secret (a developer key, ...)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16]


# ============================================================== limiters
class RateLimiter:
    """Sliding-window limiter over several (count, seconds) windows at once.

    ``acquire()`` returns at once while every window has room, and otherwise
    sleeps exactly until the oldest request in the full window leaves it (or
    a penalty recorded by ``penalize`` ends), then asks again. The windows are
    on ``board`` under ``key``: a private ``LocalBoard`` when none is given.
    ``with limiter.request():`` around the HTTP call acquires, and counts the
    request from when its answer came back (see the module's docstring).
    """

    def __init__(self, limits, clock=None, board=None, key=None):
        self.limits = [(int(n), float(s)) for n, s in limits]
        self.clock = clock or Clock()
        self.board = board if board is not None else LocalBoard()
        self.key = key or f"limiter:{id(self)}"
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self):
        """Wait for room in every window; the time the request was recorded at."""
        while True:
            now = self.clock.now()
            wait = self.board.take(self.key, self.limits, now)
            if wait <= 0:
                return now
            with self._lock:
                self.waited += wait
            self.clock.sleep(wait)

    @contextlib.contextmanager
    def request(self):
        """Acquire for the request made inside the block; once it has its answer
        (or failed), count it from then, which is no earlier than the server saw it."""
        taken = self.acquire()
        try:
            yield
        finally:
            if self.limits:
                self.board.restamp(self.key, taken, self.clock.now())

    def penalize(self, seconds):
        """Hold every user of this key (in every process of the board) ``seconds`` from now."""
        if seconds > 0:
            self.board.penalize(self.key, self.clock.now() + seconds)

    @property
    def _history(self):
        history = getattr(self.board, "history", None)
        return history(self.key) if history else []


class InFlightGate:
    """At most ``limit`` requests in flight at once (Bill.com: 3 per organization)."""

    def __init__(self, limit):
        self.limit = limit
        self._sem = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __enter__(self):
        self._sem.acquire()
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        return self

    def __exit__(self, *exc):
        with self._lock:
            self.in_flight -= 1
        self._sem.release()
        return False


def backoff_delays(retries, base=0.5, cap=30.0, jitter=0.0, rng=None):
    """Bounded exponential backoff: ``retries`` delays, each at most ``cap``."""
    rng = rng or random.Random()
    for attempt in range(retries):
        delay = min(cap, base * (2 ** attempt))
        if jitter:
            delay += rng.uniform(0, jitter * delay)
        yield min(cap, delay)


def retry_after(headers, now, cap=None):
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP-date,
    RFC 9110 section 10.2.3), or None when it is absent or unreadable."""
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    value = str(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - now
    seconds = max(0.0, seconds)
    return min(seconds, cap) if cap is not None else seconds


_SHARED = {}
_SHARED_LOCK = threading.Lock()


def shared(kind, account, clock, factory):
    """One limiter (or gate) per remote account and clock in this process.

    The limits are per account, not per client object: a run that starts right
    after a preview, or two connections that share a developer key, must count
    against the same windows, or the second client bursts into a 429.
    ``account`` None (not connected yet) gets a private one."""
    if not account:
        return factory()
    clock_key = "wall" if type(clock) is Clock else id(clock)
    key = (kind, account, clock_key)
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = factory()
        return _SHARED[key]


def limiter(kind, account, key, limits, clock, board=None):
    """The limiter of one remote account's windows.

    With a ``board``, a limiter over ``board`` under ``key`` (the board is
    what is shared, across processes if it is); without one, as before: one
    limiter per ``(kind, account)`` and clock in this process."""
    if board is not None and account:
        return RateLimiter(limits, clock, board=board, key=key)
    return shared(kind, account, clock, lambda: RateLimiter(limits, clock))
