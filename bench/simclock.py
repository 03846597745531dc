"""Simulated days: real time plus an offset that both the sandboxes and the
syncing process apply, so "the next day" can start a few seconds later
without anything noticing (cursors, change data capture windows, hourly
quotas and token lifetimes all move together)."""
import time

from sync_engine.pacing import Clock

DAY = 86400.0


class ShiftedClock(Clock):
    def __init__(self, offset=0.0):
        self.offset = float(offset)

    def now(self):
        return time.time() + self.offset
