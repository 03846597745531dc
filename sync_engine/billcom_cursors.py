"""Where the next run starts reading Bill.com, per collection.

The planner reads Bill.com changes with ``updatedTime`` after the cursor and
keeps its own start time as the next cursor. Everything the run then writes
in Bill.com carries a later ``updatedTime``, so without more care the next run
would list again every record this run wrote: after a first sync, every bill
and invoice, page after page, to find nothing to do.

The cursor may only move past those writes if nobody else changed anything
in between. So once a run has carried out its plan, each collection it wrote
many records to is listed once more from the planning window's start, and
every record in that list is accounted for: either the run wrote it (its
``updatedTime`` is the one Bill.com returned for that write, which the link
saved for the write keeps; the few writes no link keeps a time for, archives
and voids, are remembered in memory) or the planning read saw it with that
same ``updatedTime``. The store is asked for a chunk of the listing at a
time, from the executor's thread only. Then the collection's cursor
becomes the newest ``updatedTime`` of those records (read with ``gte``, so a
change in the same millisecond is read again rather than lost; a change made
while the listing pages is stamped after it). The first record nobody
accounts for (a person edited it, or created it, while the run was writing)
stops the cursor at its own ``updatedTime``, so the next run reads it and
everything after it.

When the connection signs in to Bill.com's v2 API too (``billcom_v2_bulk``),
vendors, customers, bills and invoices are listed through v2, 999 a page
instead of v3's 100: the check needs only each record's id and ``updatedTime``,
which both APIs show for the same instant (doc/billcom-v2-bulk.md §7). Should
v2 ever show a time v3 does not, the run's own records look unknown and the
cursor stays where it was: the next run reads more, and loses nothing.

Such a cursor is a time Bill.com itself stamped, not one from this machine's
clock, so it needs no allowance for clock skew. Collections the run wrote
fewer records to keep the planning time (less the usual overlap): their own
writes cost the next run at most a page more, and checking them would cost
this run as much (see SETTLE_MIN).
"""
import collections
import datetime
import logging
import queue
import threading

from .billcom.bulk_v2 import ENTITIES as V2_LISTS
from .billcom.client import MAX_PAGE
from .errors import RemoteError
from .qbo_cursor import RunWindow
from .records import epoch_seconds

_log = logging.getLogger(__name__)

PREFIX = "billcom@"     # cursor key of one collection: "billcom@<collection>"
# own writes in a collection worth one more listing after the run: two full
# pages. That listing reads what the next run would otherwise read again (its
# pages move from the next run to this one, plus one), so it pays only when
# the run's own writes would cost the next run pages of their own (after a
# first sync, not on an ordinary busy day)
SETTLE_MIN = 2 * MAX_PAGE


def key(collection):
    return PREFIX + collection


def parse_stamp(text):
    """Milliseconds since the epoch of a Bill.com time (``...T12:00:00.123+00:00``
    or ``...Z``), or None."""
    seconds = epoch_seconds(text)
    return None if seconds is None else int(round(seconds * 1000))


def format_stamp(ms):
    """A filter value Bill.com accepts, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


class BillComWindow(RunWindow):
    """Bill.com records changed since the planning window began: what the
    planning read saw (``seen``), the run's writes no link keeps the
    ``updatedTime`` of (``own``: archives and voids), and how many writes
    each collection had whose link keeps it (``linked_writes``): the check
    after the run finds those in the store, a page at a time, so a first sync
    of 250,000 records keeps no stamp of each in memory."""

    CHECK_CHUNK = 500   # records of a listing checked against the store at once

    def __init__(self, start):
        super().__init__()
        self.start_ms = int(start * 1000)
        self.linked_writes = collections.Counter()

    def _note(self, book, collection, obj):
        if not isinstance(obj, dict) or not obj.get("id"):
            return
        stamp = parse_stamp(obj.get("updatedTime"))
        if stamp is not None and stamp >= self.start_ms:
            book.note(collection, obj["id"], stamp)

    def wrote(self, collection, obj, linked=False):
        """A write of this run. ``linked``: the link saved for it keeps the
        ``updatedTime`` Bill.com answered (``Link.billcom_version``)."""
        if not linked:
            super().wrote(collection, obj)
        elif isinstance(obj, dict) and obj.get("id"):
            self.linked_writes[collection] += 1

    def worth_settling(self, collection):
        return self.own.count(collection) + self.linked_writes[collection] >= SETTLE_MIN

    def settle(self, billcom, collections, v2=None, linked_stamps=None):
        """{cursor key: value} for ``collections``: a Bill.com time to read from
        (``gte``), or "" for the planning time less the overlap. ``v2``: a
        ``BulkV2`` that lists what it can 999 a page. ``linked_stamps(collection,
        ids)``: {Bill.com id: updatedTime in ms} the store's links keep; it is
        called from this thread only (a store may not be shared by threads)."""
        out = {key(collection): "" for collection in collections}
        todo = [collection for collection in collections if self.worth_settling(collection)]
        through_v2 = [c for c in todo if v2 is not None and c in V2_LISTS]
        through_v3 = [c for c in todo if c not in through_v2]
        results = []
        for collection in through_v2:  # pages of 999, ten times a v3 page's memory: one after the other
            try:
                results.append((collection, self._settle_one(v2, collection, linked_stamps)))
            except RemoteError as exc:
                results.append((collection, exc))
        # v3 listings (pages of 100) as many at a time as Bill.com allows, checked here
        results += self._settle_in_threads(billcom, through_v3, linked_stamps)
        for collection, result in results:
            if isinstance(result, RemoteError):  # the planning time stays: nothing is lost, the next read is longer
                _log.info("Bill.com %s: cursor kept at the planning time (%s)", collection, result)
            elif isinstance(result, Exception):
                raise result
            else:
                out[key(collection)] = result
        return out

    def _settle_one(self, lister, collection, linked_stamps=None):
        """One collection's cursor, listed and checked in this thread."""
        tally = _Tally()
        for chunk in _chunks(lister.list(collection, filters=self._filters()), self.CHECK_CHUNK):
            self._check(collection, chunk, linked_stamps, tally)
        return tally.cursor(collection)

    def _filters(self):
        return [("updatedTime", "gte", format_stamp(self.start_ms))]

    def _settle_in_threads(self, billcom, collections, linked_stamps):
        """[(collection, cursor or exception)]: each collection listed by a thread
        of its own (Bill.com's gate keeps the requests in flight within its
        limit), each chunk checked in this thread as it arrives."""
        if not collections:
            return []
        chunks = queue.Queue(maxsize=2 * len(collections))
        stop = threading.Event()

        def lister(collection):
            try:
                for chunk in _chunks(billcom.list(collection, filters=self._filters()), self.CHECK_CHUNK):
                    if not _put(chunks, (collection, chunk), stop):
                        return
                _put(chunks, (collection, None), stop)
            except Exception as exc:  # handed to this thread, in the collection's place
                _put(chunks, (collection, exc), stop)

        threads = [threading.Thread(target=lister, args=(c,), name=f"billcom-check-{c}", daemon=True)
                   for c in collections]
        for thread in threads:
            thread.start()
        tallies = {collection: _Tally() for collection in collections}
        results = {}
        try:
            while len(results) < len(collections):
                collection, chunk = chunks.get()
                if chunk is None:
                    results[collection] = tallies[collection].cursor(collection)
                elif isinstance(chunk, Exception):
                    results[collection] = chunk
                elif collection not in results:
                    self._check(collection, chunk, linked_stamps, tallies[collection])
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        return [(collection, results[collection]) for collection in collections]

    def _check(self, collection, chunk, linked_stamps, tally):
        """Account for each (id, updatedTime) of ``chunk``: known when the run
        saw or wrote that very version."""
        books = [book for book in (self.own, self.seen) if book.count()]  # a first sync's are empty
        by_book = [stamp is not None and any(book.has(collection, rid, stamp) for book in books)
                   for rid, stamp in chunk]
        ask = [rid for (rid, stamp), known in zip(chunk, by_book) if not known and rid and stamp is not None]
        linked = linked_stamps(collection, ask) if ask and linked_stamps is not None else {}
        for (rid, stamp), known in zip(chunk, by_book):
            tally.add(stamp, known or (stamp is not None and linked.get(rid) == stamp))


class _Tally:
    """Where one collection's cursor can move: the newest time the run accounts
    for, and the first time it does not."""

    def __init__(self):
        self.newest_known = self.first_unknown = None
        self.unreadable = False

    def add(self, stamp, known):
        if stamp is None:
            self.unreadable = True
        elif known:
            self.newest_known = stamp if self.newest_known is None else max(self.newest_known, stamp)
        else:
            self.first_unknown = stamp if self.first_unknown is None else min(self.first_unknown, stamp)

    def cursor(self, collection):
        if self.unreadable or self.newest_known is None:
            return ""
        # Everything the run accounts for was stamped before this listing began, so a
        # change made while it pages (even on a page already read) is stamped at or
        # after the newest of them: never read from later than that.
        if self.first_unknown is not None and self.first_unknown < self.newest_known:
            _log.info("Bill.com %s: changed by someone else while the run was writing; read again from %s",
                      collection, format_stamp(self.first_unknown))
            return format_stamp(self.first_unknown)
        return format_stamp(self.newest_known)


def _chunks(objects, size):
    """(id, updatedTime in ms) of listed objects, ``size`` at a time."""
    chunk = []
    for obj in objects:
        chunk.append((obj.get("id"), parse_stamp(obj.get("updatedTime"))))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _put(chunks, item, stop):
    """Hand ``item`` over unless the check stopped; whether it was handed over."""
    while not stop.is_set():
        try:
            chunks.put(item, timeout=0.2)
            return True
        except queue.Full:
            continue
    return False
