"""Client-side pacing: stay under the remote APIs' documented limits.

Every wait goes through an injectable ``clock``/``sleep`` pair so tests can
check the pacing without real sleeping.
"""
import collections
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


class RateLimiter:
    """Sliding-window limiter over several (count, seconds) windows at once.

    ``acquire()`` returns at once while every window has room, and otherwise
    sleeps exactly until the oldest request in the full window leaves it.
    """

    def __init__(self, limits, clock=None):
        self.limits = [(int(n), float(s)) for n, s in limits]
        self.clock = clock or Clock()
        self._history = collections.deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def _wait_needed(self, now):
        longest = max((s for _, s in self.limits), default=0)
        while self._history and self._history[0] <= now - longest:
            self._history.popleft()
        wait = 0.0
        for count, seconds in self.limits:
            in_window = [t for t in self._recent(now, seconds)]
            if len(in_window) >= count:
                # the request that must leave the window before we may go
                oldest = in_window[len(in_window) - count]
                wait = max(wait, oldest + seconds - now)
        return wait

    def _recent(self, now, seconds):
        cutoff = now - seconds
        # history is ordered; walk from the right while inside the window
        out = []
        for t in reversed(self._history):
            if t <= cutoff:
                break
            out.append(t)
        out.reverse()
        return out

    def acquire(self):
        while True:
            with self._lock:
                now = self.clock.now()
                wait = self._wait_needed(now)
                if wait <= 0:
                    self._history.append(now)
                    return
            self.waited += wait
            self.clock.sleep(wait)


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
