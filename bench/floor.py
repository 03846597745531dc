"""The floor: the fewest requests the documented page, batch and bulk sizes
allow for a piece of work, and the least time those requests need under the
documented limits, whoever sends them.

Documented sizes: QBO query pages of 1,000, change data capture answers of up
to 1,000 objects, batches of 30; Bill.com list pages of 100, bulk creates of
100 bills or 20 of the others where a bulk endpoint exists (vendors, bills,
vendor credits, credit memos, chart of accounts, classes, locations, items),
100 a call through v2 with ``v2_bulk``, and one request per record where
none does (customers, invoices, payment terms, recorded payments, updates of
bills and invoices). Each side signs in once.

The time floor assumes each request takes exactly the latency and nothing
else: QBO requests may overlap but start at most 10 a second and 500 a minute
(batches 40 a minute); Bill.com requests run at most 3 at a time and, past
20,000 in an hour (one developer key), wait for the next hour; the two sides
work in parallel, except that a record is read on one side before it is
written on the other.
"""
import math

from sync_engine.billcom.bulk_v2 import ENTITIES as BILLCOM_V2_ENTITIES
from sync_engine.billcom.bulk_v2 import MAX_BULK as BILLCOM_V2_BULK
from sync_engine.billcom.client import BULK_CREATE as BILLCOM_BULK_COLLECTIONS
from sync_engine.billcom.client import BULK_LIMITS as BILLCOM_BULK_LIMITS
from sync_engine.billcom.client import DEFAULT_BULK_LIMIT as BILLCOM_BULK
from sync_engine.billcom.client import MAX_IN_FLIGHT as BILLCOM_IN_FLIGHT
from sync_engine.billcom.client import MAX_PAGE as BILLCOM_PAGE
from sync_engine.mapping import ENTITIES
from sync_engine.qbo.client import BATCH_MAX_ITEMS as QBO_BATCH
from sync_engine.qbo.client import BATCHES_PER_MINUTE as QBO_BATCHES_PER_MINUTE
from sync_engine.qbo.client import CDC_MAX_OBJECTS as QBO_CDC_PAGE
from sync_engine.qbo.client import MAX_PAGE as QBO_PAGE
from sync_engine.qbo.client import RATE_PER_MINUTE as QBO_PER_MINUTE
from sync_engine.qbo.client import RATE_PER_SECOND as QBO_PER_SECOND

BILLCOM_HOURLY = 20_000
SYNCED_TYPES = tuple(ENTITIES)
PER_RECORD_TYPES = ("account", "class", "location", "item", "term", "vendor", "customer", "bill", "invoice")


def pages(n, size):
    """Requests to read n objects: a list with nothing in it still takes one."""
    return max(1, math.ceil(n / size))


class Floor:
    """Requests by side and endpoint, keyed like the clients' own counters."""

    def __init__(self):
        self.qbo, self.billcom = {}, {}
        self.qbo_batches = 0
        self.qbo_writes = 0       # requests that write to QBO (batches)
        self.billcom_writes = 0   # requests that write to Bill.com

    def add(self, side, key, n):
        if n:
            target = self.qbo if side == "qbo" else self.billcom
            target[key] = target.get(key, 0) + n

    def total(self, side=None):
        if side == "qbo":
            return sum(self.qbo.values())
        if side == "billcom":
            return sum(self.billcom.values())
        return self.total("qbo") + self.total("billcom")

    def seconds(self, latency, quota=True):
        """The least wall time for these requests under the limits (see the module
        docstring); with ``quota``, Bill.com's 20,000 requests an hour included."""
        api = self.total("qbo") - self.qbo.get("POST token", 0)
        t_qbo = latency * min(1, self.qbo.get("POST token", 0)) + _qbo_time(api, self.qbo_batches, latency)
        t_bc = _billcom_time(self.total("billcom"), latency, quota)
        # a record is read on one side before it is written on the other: sign in, read, then write
        t_to_bc = 2 * latency + _billcom_time(self.billcom_writes, latency, quota)
        t_to_qbo = 2 * latency + _qbo_time(self.qbo_writes, self.qbo_batches, latency)
        return max(t_qbo, t_bc, t_to_bc if self.billcom_writes else 0, t_to_qbo if self.qbo_writes else 0)


def _qbo_time(n, batches, latency):
    if n <= 0:
        return 0.0
    starts = max((n - 1) // QBO_PER_SECOND * 1.0, (n - 1) // QBO_PER_MINUTE * 60.0,
                 ((batches - 1) // QBO_BATCHES_PER_MINUTE * 60.0) if batches else 0.0)
    return starts + latency


def _billcom_time(n, latency, quota=False):
    """n requests at most 3 in flight; with ``quota``, past 20,000 everything waits for
    the next hour (the floor starts at the top of an hour)."""
    if n <= 0:
        return 0.0
    hours = quota_hours(n) if quota else 0
    last = n - hours * BILLCOM_HOURLY
    return max(hours * 3600.0 + math.ceil(last / BILLCOM_IN_FLIGHT) * latency,
               math.ceil(n / BILLCOM_IN_FLIGHT) * latency)


def first_sync(census, v2_bulk=False):
    """Read every synced type on both sides (Bill.com starts empty), read the
    attachments once (rule no_attachments), create what the rules allow. With
    ``v2_bulk`` (the connection setting ``billcom_v2_bulk``), what Bill.com's v2
    bulk endpoint takes is created 100 a call, after one v2 sign-in."""
    f = Floor()
    f.add("qbo", "POST token", 1)
    f.add("billcom", "POST login", 1)
    if v2_bulk:
        f.add("billcom", "POST v2/Login.json", 1)
    for otype, (entity, collection) in ENTITIES.items():
        f.add("qbo", "GET query", pages(census["qbo"].get(entity, 0), QBO_PAGE))
        f.add("billcom", f"GET {collection}", pages(0, BILLCOM_PAGE))
    f.add("qbo", "GET query", pages(census["qbo"].get("Attachable", 0), QBO_PAGE))
    for otype, n in census["creates"].items():
        collection = ENTITIES[otype][1]
        if not n:
            continue
        v3_limit = BILLCOM_BULK_LIMITS.get(collection, BILLCOM_BULK) if collection in BILLCOM_BULK_COLLECTIONS else 1
        if v2_bulk and collection in BILLCOM_V2_ENTITIES and v3_limit < BILLCOM_V2_BULK:
            requests = math.ceil(n / BILLCOM_V2_BULK)
            key = f"POST v2/Bulk/Crud/Create/{BILLCOM_V2_ENTITIES[collection]}.json"
        elif collection in BILLCOM_BULK_COLLECTIONS:
            requests, key = math.ceil(n / v3_limit), f"POST {collection}/bulk"
        else:
            requests, key = n, f"POST {collection}"
        f.add("billcom", key, requests)
        f.billcom_writes += requests
    return f


def per_record(census):
    """The per-record way (``bench.per_record``): the same reads of QBO, a sign-in,
    then for every record to create one look-up and one create on Bill.com."""
    f = Floor()
    f.add("qbo", "POST token", 1)
    for otype, (entity, collection) in ENTITIES.items():
        if otype in PER_RECORD_TYPES:
            f.add("qbo", "GET query", pages(census["qbo"].get(entity, 0), QBO_PAGE))
    f.add("billcom", "POST login", 1)
    for otype, n in census["creates"].items():
        if otype in PER_RECORD_TYPES and n:
            collection = ENTITIES[otype][1]
            f.add("billcom", f"GET {collection}", n)
            f.add("billcom", f"POST {collection}", n)
            f.billcom_writes += 2 * n
    return f


def quiet_day():
    """No change anywhere: one change-data-capture request on QBO, one filtered list
    page per type on Bill.com."""
    f = Floor()
    f.add("qbo", "POST token", 1)
    f.add("qbo", "GET cdc", 1)
    f.add("billcom", "POST login", 1)
    for _, collection in ENTITIES.values():
        f.add("billcom", f"GET {collection}", 1)
    return f


def busy_day(edited_bills, edited_invoices, payments):
    """Documents edited in QBO go to Bill.com one update each (no bulk update for
    bills and invoices); bills paid in Bill.com come back as changed bills plus
    new payments, and each payment goes to QBO in batches of 30."""
    f = Floor()
    f.add("qbo", "POST token", 1)
    f.add("qbo", "GET cdc", pages(edited_bills + edited_invoices, QBO_CDC_PAGE))
    f.add("billcom", "POST login", 1)
    changed = {"bills": payments, "payments": payments}
    for _, collection in ENTITIES.values():
        f.add("billcom", f"GET {collection}", pages(changed.get(collection, 0), BILLCOM_PAGE))
    f.add("billcom", "PATCH bills/{id}", edited_bills)
    f.add("billcom", "PUT invoices/{id}", edited_invoices)
    f.billcom_writes += edited_bills + edited_invoices
    batches = math.ceil(payments / QBO_BATCH)
    f.add("qbo", "POST batch", batches)
    f.qbo_batches = f.qbo_writes = batches
    return f


def quota_hours(billcom_requests):
    """Whole hours a 20,000 requests/hour quota makes this many requests wait."""
    return max(0, math.ceil(billcom_requests / BILLCOM_HOURLY) - 1)
