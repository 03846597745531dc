"""Where the next run starts reading QuickBooks' change data capture (CDC).

The planner reads CDC from its cursor and keeps its own start time as the next
cursor, so the next run's CDC returns every record this run wrote to
QuickBooks as well. One CDC answer holds at most 1,000 objects; past that the
client splits the window, one call per piece: a quiet day after a first sync
that wrote a few thousand records to QuickBooks costs a dozen CDC calls.

As for Bill.com (``billcom_cursors``), the cursor may only move past the run's
own writes if nobody else changed anything meanwhile. When the run wrote
enough records for that to matter, CDC is read once more from the planning
window's start after the plan is carried out; every record in it must be one
the run wrote (same ``SyncToken`` as QuickBooks answered the write) or one the
planning read saw (same ``SyncToken``). Then the cursor becomes the newest
``MetaData.LastUpdatedTime`` of those, less a second; otherwise the second
before the first record nobody accounts for (a person's edit during the run
is read by the next run). Such a cursor is a QuickBooks time, so it needs no
allowance for this machine's clock.
"""
import collections
import datetime
import hashlib
import logging
import mmap

from .errors import RemoteError
from .records import epoch_seconds

_log = logging.getLogger(__name__)

KEY = "qbo@cdc"       # a QuickBooks time (epoch seconds) to read CDC from, or "" for the planning time
# own writes worth one more CDC read after the run: as many as one CDC answer
# holds. That read returns what the next run's CDC would otherwise return, so
# it pays only when the run's own writes alone would split the next CDC read
# (after a large sync to QuickBooks, not on an ordinary busy day)
SETTLE_MIN = 1000


def last_updated(obj):
    """Epoch seconds of ``MetaData.LastUpdatedTime``, or None."""
    text = ((obj or {}).get("MetaData") or {}).get("LastUpdatedTime") if isinstance(obj, dict) else None
    seconds = epoch_seconds(text)
    return None if seconds is None else int(seconds)


class StampBook:
    """Which record had which version: each (where, id, version) kept as an
    8-byte digest in one of 256 buckets by its first byte, so a first sync that
    writes 250,000 records keeps 2 MB here rather than every id it wrote (a
    Python object per digest would cost ten times that), and a look-up is one
    search of a bucket in C. Each bucket is anonymous memory of its own
    (``mmap``), outside the allocator's heap: a bucket that grows in place
    neither moves nor leaves holes among the pages a run reads and frees, and
    only the pages written to count. Two different triples share a digest
    with a chance of one in 2**64 per pair, far below any other way a run can
    fail."""

    BUCKETS = 256
    CHUNK = 16 * 1024   # bytes of address space a bucket takes at a time (pages count once written)

    def __init__(self):
        self._buckets = [[] for _ in range(self.BUCKETS)]   # each: [mmap], the last one filling
        self._filled = [0] * self.BUCKETS                    # bytes used in a bucket's last chunk
        self._count = collections.Counter()  # records noted per ``where``

    @staticmethod
    def _digest(where, obj_id, version):
        return hashlib.blake2b(f"{where}\x1f{obj_id}\x1f{version}".encode(), digest_size=8).digest()

    def note(self, where, obj_id, version):
        digest = self._digest(where, obj_id, version)
        bucket, filled = self._buckets[digest[0]], self._filled[digest[0]]
        if not bucket or filled == self.CHUNK:
            bucket.append(mmap.mmap(-1, self.CHUNK))
            filled = 0
        bucket[-1][filled:filled + 8] = digest
        self._filled[digest[0]] = filled + 8
        self._count[where] += 1

    def has(self, where, obj_id, version):
        digest = self._digest(where, obj_id, version)
        bucket = self._buckets[digest[0]]
        for n, chunk in enumerate(bucket):
            end = self._filled[digest[0]] if n == len(bucket) - 1 else self.CHUNK
            at = chunk.find(digest, 0, end)
            while at >= 0:
                if at % 8 == 0:  # a match astride two digests is not one
                    return True
                at = chunk.find(digest, at + 1, end)
        return False

    def count(self, where=None):
        return self._count[where] if where is not None else sum(self._count.values())


class RunWindow:
    """Records changed since a run's planning window began, as the run knows
    them: ``seen`` by its planning read, ``own`` written by the run itself.
    ``_note`` says how one side keeps a record (its version then)."""

    def __init__(self):
        self.seen = StampBook()
        self.own = StampBook()

    def saw(self, where, obj):
        self._note(self.seen, where, obj)

    def wrote(self, where, obj):
        self._note(self.own, where, obj)

    def _note(self, book, where, obj):
        raise NotImplementedError


class QboWindow(RunWindow):
    """QuickBooks records changed since the planning window began, each with
    its SyncToken then (by entity)."""

    def __init__(self, start, entities):
        super().__init__()
        self.start = int(start)
        self.entities = list(entities)
        # a record last updated (in its own time zone) on a day before the UTC day
        # a day before the start is older than the window whatever its offset (a
        # local time is at most 12 hours behind UTC): it is passed without parsing its time
        self._days_before = datetime.datetime.fromtimestamp(
            self.start - 86400, datetime.timezone.utc).strftime("%Y-%m-%d")

    def _note(self, book, entity, obj):
        if not isinstance(obj, dict) or obj.get("Id") is None:
            return
        if self._on_a_day_before(obj):
            return  # most of a first sync's read: older than the window
        stamp = last_updated(obj)
        if stamp is None or stamp >= self.start - 1:
            book.note(entity, str(obj["Id"]), str(obj.get("SyncToken")))

    def _on_a_day_before(self, obj):
        meta = obj.get("MetaData")
        text = meta.get("LastUpdatedTime") if type(meta) is dict else None
        # "2025-07-24T10:35:08-07:00": the date first, so text order is time order
        return type(text) is str and len(text) >= 19 and text[4] == "-" and text[:10] < self._days_before

    def known(self, entity, obj):
        if obj.get("status") == "Deleted":
            return False
        version = (entity, str(obj.get("Id")), str(obj.get("SyncToken")))
        return self.own.has(*version) or self.seen.has(*version)

    def settle(self, qbo, cdc_entities):
        """{KEY: value}: a QuickBooks time to read CDC from next, or "" for the planning time."""
        if self.own.count() < SETTLE_MIN:
            return {KEY: ""}
        try:
            result = qbo.cdc(self.entities, datetime.datetime.fromtimestamp(self.start, datetime.timezone.utc))
        except RemoteError as exc:  # the planning time stays: nothing is lost, the next read is longer
            _log.info("QuickBooks: CDC cursor kept at the planning time (%s)", exc)
            return {KEY: ""}
        newest_known = first_unknown = None
        for entity, objects in cdc_entities(result):
            for obj in objects or ():
                stamp = last_updated(obj)
                if stamp is None:
                    return {KEY: ""}
                if self.known(entity, obj):
                    newest_known = stamp if newest_known is None else max(newest_known, stamp)
                else:
                    first_unknown = stamp if first_unknown is None else min(first_unknown, stamp)
        if newest_known is None:
            return {KEY: ""}
        # what the run accounts for was stamped before this read began; a change made
        # while it runs is stamped at or after the newest of them
        if first_unknown is not None and first_unknown < newest_known:
            _log.info("QuickBooks: changed by someone else while the run was writing; CDC read again from %s",
                      first_unknown - 1)
            return {KEY: str(first_unknown - 1)}
        return {KEY: str(newest_known - 1)}
