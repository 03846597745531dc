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
``updatedTime`` is the one Bill.com returned for that write) or the planning
read saw it with that same ``updatedTime``. Then the collection's cursor
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
import datetime
import logging

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
    """Bill.com records changed since the planning window began, each with the
    ``updatedTime`` it had then ({collection: {id: ms}})."""

    def __init__(self, start):
        super().__init__()
        self.start_ms = int(start * 1000)

    def _note(self, book, collection, obj):
        if not isinstance(obj, dict) or not obj.get("id"):
            return
        stamp = parse_stamp(obj.get("updatedTime"))
        if stamp is not None and stamp >= self.start_ms:
            book.note(collection, obj["id"], stamp)

    def known(self, collection, obj_id, stamp):
        return self.own.has(collection, obj_id, stamp) or self.seen.has(collection, obj_id, stamp)

    def worth_settling(self, collection):
        return self.own.count(collection) >= SETTLE_MIN

    def settle(self, billcom, collections, v2=None):
        """{cursor key: value} for ``collections``: a Bill.com time to read from
        (``gte``), or "" for the planning time less the overlap. ``v2``: a
        ``BulkV2`` that lists what it can 999 a page."""
        out = {key(collection): "" for collection in collections}
        todo = [collection for collection in collections if self.worth_settling(collection)]
        through_v2 = [c for c in todo if v2 is not None and c in V2_LISTS]
        through_v3 = [c for c in todo if c not in through_v2]
        # v3 listings (pages of 100) as many at a time as Bill.com allows
        results = list(zip(through_v3, billcom.map_concurrently(lambda c: self._settle_one(billcom, c), through_v3)))
        for collection in through_v2:  # pages of 999, ten times a v3 page's memory: one after the other
            try:
                results.append((collection, self._settle_one(v2, collection)))
            except RemoteError as exc:  # as map_concurrently hands it over
                results.append((collection, exc))
        for collection, result in results:
            if isinstance(result, RemoteError):  # the planning time stays: nothing is lost, the next read is longer
                _log.info("Bill.com %s: cursor kept at the planning time (%s)", collection, result)
            elif isinstance(result, Exception):
                raise result
            else:
                out[key(collection)] = result
        return out

    def _settle_one(self, lister, collection):
        newest_known = first_unknown = None
        filters = [("updatedTime", "gte", format_stamp(self.start_ms))]
        for obj in lister.list(collection, filters=filters):
            stamp = parse_stamp(obj.get("updatedTime"))
            if stamp is None:
                return ""
            if self.known(collection, obj.get("id"), stamp):
                newest_known = stamp if newest_known is None else max(newest_known, stamp)
            else:
                first_unknown = stamp if first_unknown is None else min(first_unknown, stamp)
        if newest_known is None:
            return ""
        # Everything the run accounts for was stamped before this listing began, so a
        # change made while it pages (even on a page already read) is stamped at or
        # after the newest of them: never read from later than that.
        if first_unknown is not None and first_unknown < newest_known:
            _log.info("Bill.com %s: changed by someone else while the run was writing; read again from %s",
                      collection, format_stamp(first_unknown))
            return format_stamp(first_unknown)
        return format_stamp(newest_known)
