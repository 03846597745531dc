"""The tie-out: proof that QuickBooks and Bill.com agree on every synced record.

For every link in the store it reads both twins as they are now and compares,
to the cent:

* documents (bills, invoices, vendor credits, credit memos): the total and the
  open balance (the remaining credit for credits); an open balance that differs
  by exactly the difference in totals is reported once, as the total;
* payments (bill payments, received payments): the amount, and whether each
  side still holds it (a payment voided on one side only is a difference);
* every linked vendor and customer: the open balance of its synced documents
  on each side, when that differs in a way the documents alone do not explain
  (a document that belongs to a different party on each side);
* a twin deleted or voided on one side after it synced.

Reads are batched: QuickBooks by ``select ... where Id in (...)`` chunks or a
paged ``select *`` (whichever costs fewer requests), Bill.com by list pages
(an ``id`` filter when only a few records are linked). Links are compared a
type and a page at a time, so a large company's tie-out holds a page of
links, their twins' few compared facts and a balance per vendor and customer,
never a type's documents. Money stays ``Decimal``.

    report = tie_out(config, store, remote)
    print(report.render())          # differences with likely causes, then the verdict
    report.agrees, report.verdict()
"""
import json
import math
import sqlite3
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from .mapping import CREDIT_APPLICATION, DOCUMENT_TYPES, ENTITIES, PAYMENT_TYPES, read_billcom, read_qbo
from .billcom.client import MAX_PAGE as BILLCOM_PAGE
from .qbo.client import MAX_PAGE as QBO_PAGE, quote
from .records import CENT, MappingError
from .store import in_list

QBO_ID_CHUNK = 200        # ids per "where Id in (...)" select
BILLCOM_ID_CHUNK = 50     # ids per Bill.com "id:in:" filter (one page of at most 100)
LINK_PAGE = 1000          # links compared at a time
LISTING_BATCH = 1000      # listed records looked up in the store at a time
SPILL_LOOKUP = 500        # ids per spill query
ZERO = Decimal("0.00")

SIDES = {"qbo": "QuickBooks", "billcom": "Bill.com"}
PARTY_OF = {"bill": "vendor", "vendor_credit": "vendor", "invoice": "customer", "credit_memo": "customer"}
PAYMENT_PARTY = {"bill_payment": "vendor", "received_payment": "customer"}
TYPE_LABEL = {"bill": "Bill", "invoice": "Invoice", "vendor_credit": "Vendor credit",
              "credit_memo": "Credit memo", "bill_payment": "Bill payment",
              "received_payment": "Received payment", "vendor": "Vendor", "customer": "Customer"}
# fields Bill.com uses for what is left of a vendor credit or credit memo

CAUSE_TOTAL = "amounts differ: a line, tax or discount was not carried"
CAUSE_BALANCE = "a payment or credit is recorded on one side only"
CAUSE_PAYMENT = "the payment amount was changed on one side after it synced"
CAUSE_PARTY = "a synced document belongs to a different {party} on each side"


def _deleted(side):
    return f"deleted in {SIDES[side]} after it synced"


def _voided(side):
    return f"voided in {SIDES[side]} after it synced"


@dataclass
class Difference:
    object_type: str
    record: str              # what a finance user recognises: "Bill NL-1001 (Norton Lumber)"
    qbo_id: str
    billcom_id: str
    field: str               # total | open balance | amount
    qbo_value: Decimal = None
    billcom_value: Decimal = None
    cause: str = None

    def as_dict(self):
        return {"object_type": self.object_type, "record": self.record, "qbo_id": self.qbo_id,
                "billcom_id": self.billcom_id, "field": self.field,
                "qbo_value": _json_money(self.qbo_value), "billcom_value": _json_money(self.billcom_value),
                "cause": self.cause}

    @classmethod
    def from_dict(cls, data):
        return cls(data["object_type"], data["record"], data["qbo_id"], data["billcom_id"], data["field"],
                   _money_or_none(data["qbo_value"]), _money_or_none(data["billcom_value"]), data["cause"])

    def short(self):
        return (f"{self.record} {self.field} QuickBooks {_plain(self.qbo_value)}, "
                f"Bill.com {_plain(self.billcom_value)}")


@dataclass
class PartyBalance:
    object_type: str         # vendor | customer
    name: str
    qbo_id: str
    billcom_id: str
    open_qbo: Decimal = ZERO
    open_billcom: Decimal = ZERO

    def as_dict(self):
        return {"object_type": self.object_type, "name": self.name, "qbo_id": self.qbo_id,
                "billcom_id": self.billcom_id, "open_qbo": _json_money(self.open_qbo),
                "open_billcom": _json_money(self.open_billcom)}


@dataclass
class TieOut:
    differences: list = field(default_factory=list)
    documents: int = 0          # linked documents compared
    payments: int = 0           # linked payments compared
    open_qbo: Decimal = ZERO    # open balances of the linked documents, QuickBooks side
    open_billcom: Decimal = ZERO
    parties: list = field(default_factory=list)   # PartyBalance per linked vendor/customer with documents
    links: int = 0              # linked documents and payments to compare
    compared: int = 0           # of which compared
    stopped: bool = False       # the time allowed ran out first
    # stopped: what ``tie_out(..., resume=...)`` needs to go on from there (JSON-able)
    resume_state: dict = field(default=None, repr=False)

    @property
    def agrees(self):
        """Proven: every link compared, and no difference."""
        return not self.differences and not self.stopped

    def verdict(self):
        if self.stopped:
            count = len(self.differences)
            found = (f"{count} {'difference' if count == 1 else 'differences'} among them "
                     f"(first: {self.differences[0].short()})") if count else "no difference among them"
            return (f"Tie-out not finished: {self.compared:,} of {self.links:,} linked records compared "
                    f"before its time ran out, {found}")
        if self.agrees:
            noun = "document" if self.documents == 1 else "documents"
            return f"Books agree: {self.documents:,} {noun}, {_dollars(self.open_qbo)} open on both sides"
        count = len(self.differences)
        noun = "difference" if count == 1 else "differences"
        return (f"{count} {noun} between QuickBooks and Bill.com "
                f"(first: {self.differences[0].short()})")

    def render(self):
        """The differences as a table (record, field, both values, likely cause), then the verdict."""
        out = []
        if self.differences:
            headers = ("Record", "Field", "QuickBooks", "Bill.com", "Likely cause")
            rows = [(d.record, d.field, _plain(d.qbo_value), _plain(d.billcom_value), d.cause or "")
                    for d in self.differences]
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
            right = (False, False, True, True, False)

            def fmt(cells):
                return "  ".join((c.rjust(w) if r else c.ljust(w)) for c, w, r in zip(cells, widths, right)).rstrip()
            out.append(fmt(headers))
            out.append("  ".join("-" * w for w in widths))
            out.extend(fmt(r) for r in rows)
            out.append("")
        out.append(self.verdict())
        return "\n".join(out)

    def as_dict(self):
        return {"agrees": self.agrees, "verdict": self.verdict(), "complete": not self.stopped,
                "links": self.links, "compared": self.compared, "documents": self.documents,
                "payments": self.payments, "open_qbo": _json_money(self.open_qbo),
                "open_billcom": _json_money(self.open_billcom),
                "differences": [d.as_dict() for d in self.differences],
                "parties": [p.as_dict() for p in self.parties]}


def _dollars(amount):
    amount = Decimal(amount).quantize(CENT)
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _plain(amount):
    if amount is None:
        return "missing"
    return f"{Decimal(amount).quantize(CENT):,.2f}"


def _json_money(amount):
    return None if amount is None else str(Decimal(amount).quantize(CENT))


def _money_or_none(text):
    return None if text is None else Decimal(text)


def _dec(text):
    return Decimal(str(text)).quantize(CENT)


# ---------------------------------------------------------------- reading
class _Twin:
    """One side of a link as read now, kept as the few facts the tie-out
    compares (never the whole document): what a page of links costs in memory
    does not depend on how many lines its documents have."""
    __slots__ = ("side", "label", "error", "missing", "voided", "archived", "total", "balance", "amount",
                 "party_id", "ref_name", "party_name")

    def __init__(self, side, label=None, error=None, missing=True, voided=False, archived=False, total=None,
                 balance=None, amount=None, party_id=None, ref_name=None, party_name=None):
        self.side, self.label, self.error = side, label, error
        self.missing, self.voided, self.archived = missing, voided, archived
        self.total, self.balance, self.amount = total, balance, amount
        self.party_id, self.ref_name, self.party_name = party_id, ref_name, party_name

    @classmethod
    def read(cls, side, object_type, obj):
        """The twin of ``obj`` (None: not found on its side)."""
        if obj is None:
            return cls(side)
        twin = cls(side, missing=False, archived=side == "billcom" and bool(obj.get("archived")))
        try:
            record = (read_qbo if side == "qbo" else read_billcom)(object_type, obj)
        except MappingError as exc:
            twin.error = str(exc)
            return twin
        twin.label = record.label
        twin.missing = record.deleted
        twin.voided = bool(record.facts.get("voided"))
        if record.deleted:
            return twin
        if object_type in PARTY_OF:
            twin.total, twin.balance = _dec(record.facts["total"]), _dec(record.facts["balance"])
            ref = record.values.get(PARTY_OF[object_type])
            if ref is not None:
                twin.party_id, twin.ref_name = ref.remote_id, ref.name
            twin.party_name = record.facts.get("party_name")
        else:
            twin.amount = _dec(record.values["amount"])
        return twin

    @property
    def gone(self):
        """Deleted, archived or voided: no longer part of the books on this side."""
        return self.missing or self.voided or self.archived

    def row(self):
        return json.dumps([self.label, self.error, self.missing, self.voided, self.archived,
                           _json_money(self.total), _json_money(self.balance), _json_money(self.amount),
                           self.party_id, self.ref_name, self.party_name])

    @classmethod
    def from_row(cls, side, text):
        label, error, missing, voided, archived, total, balance, amount, party_id, ref_name, party_name = \
            json.loads(text)
        money = [None if v is None else Decimal(v) for v in (total, balance, amount)]
        return cls(side, label, error, missing, voided, archived, *money, party_id, ref_name, party_name)


class _Spill:
    """The twins read from a whole listing, in a temporary SQLite file (deleted
    when closed) until their links' page comes: a listing is read once, in its
    own order, while links are compared a page at a time in theirs."""

    def __init__(self):
        self._db = None

    def _open(self):
        if self._db is None:
            self._db = sqlite3.connect("", isolation_level=None)   # "": a private file on disk, not memory
            self._db.execute("CREATE TABLE twins (side TEXT, id TEXT, twin TEXT, PRIMARY KEY (side, id))"
                             " WITHOUT ROWID")
        return self._db

    def put(self, side, twins):
        db = self._open()
        db.execute("BEGIN")
        db.executemany("INSERT OR REPLACE INTO twins VALUES (?, ?, ?)",
                       ((side, rid, twin.row()) for rid, twin in twins.items()))
        db.execute("COMMIT")

    def get(self, side, ids):
        found = {}
        if self._db is None:
            return found
        ids = list(ids)
        for start in range(0, len(ids), SPILL_LOOKUP):
            marks, chunk = in_list(ids[start:start + SPILL_LOOKUP])
            rows = self._db.execute(f"SELECT id, twin FROM twins WHERE side = ? AND id IN ({marks})", (side, *chunk))
            found.update((rid, _Twin.from_row(side, text)) for rid, text in rows)
        return found

    def clear(self):
        if self._db is not None:
            self._db.execute("DELETE FROM twins")

    def close(self):
        if self._db is not None:
            self._db.close()
            self._db = None


def _billcom_ids(links):
    # a credit applied in Bill.com outside a payment has no Bill.com record of its own
    return [l.billcom_id for l in links if not l.billcom_id.startswith(CREDIT_APPLICATION)]


class _TypeReader:
    """The twins of one object type's links, a page of links at a time.

    Each side is read whichever way costs fewer requests for the type's whole
    count of links: QuickBooks by ``where Id in (...)`` chunks of the page, or
    one paged ``select *``; Bill.com by ``id`` filters when the type has only
    a few links, or its whole listing. A listing is read once, before the first
    page, and what it holds of linked records waits in the spill. ``by_ids``
    (a tie-out that goes on): ids only, whatever the count."""

    def __init__(self, store, remote, object_type, count, spill, time_left, by_ids=False):
        self.store, self.remote, self.object_type, self.spill = store, remote, object_type, spill
        self.time_left = time_left   # raises once the tie-out's time is up
        self.entity, self.collection = ENTITIES[object_type]
        chunk_requests = math.ceil(count / QBO_ID_CHUNK)
        self.qbo_listed = not by_ids and chunk_requests > 1 and chunk_requests > math.ceil(
            max(1, remote.qbo.query_count(self.entity)) / QBO_PAGE)
        self.billcom_listed = not by_ids and count > BILLCOM_ID_CHUNK
        if self.qbo_listed:
            self._spill_listing("qbo", remote.qbo.query(f"select * from {self.entity}", page_size=QBO_PAGE),
                                lambda obj: str(obj.get("Id")))
        if self.billcom_listed:
            self._spill_listing("billcom", remote.billcom.list(self.collection, page_size=BILLCOM_PAGE),
                                lambda obj: obj.get("id"))

    def _spill_listing(self, side, rows, id_of):
        """Read a whole listing a page at a time and keep the twins of linked records only."""
        page = {}
        for obj in rows:
            if isinstance(obj, dict):
                page[id_of(obj)] = obj
            if len(page) >= LISTING_BATCH:
                self._spill_linked(side, page)
                page = {}
                self.time_left()
        self._spill_linked(side, page)

    def _spill_linked(self, side, objs):
        if not objs:
            return
        linked = self.store.find_links(self.object_type, side, [i for i in objs if i is not None])
        ids = {l.qbo_id if side == "qbo" else l.billcom_id for l in linked}
        self.spill.put(side, {rid: _Twin.read(side, self.object_type, objs[rid]) for rid in ids if rid in objs})

    def twins(self, links):
        """({qbo id: twin}, {Bill.com id: twin}) for a page of links; a record not found is absent."""
        q_ids = sorted({str(l.qbo_id) for l in links}, key=lambda i: (len(i), i))
        b_ids = sorted(set(_billcom_ids(links)))
        if self.qbo_listed:
            q_twins = self.spill.get("qbo", q_ids)
        else:
            q_twins = {rid: _Twin.read("qbo", self.object_type, obj)
                       for rid, obj in self._qbo_by_ids(q_ids).items()}
        if self.billcom_listed:
            b_twins = self.spill.get("billcom", b_ids)
        else:
            b_twins = {rid: _Twin.read("billcom", self.object_type, obj)
                       for rid, obj in self._billcom_by_ids(b_ids).items()}
        return q_twins, b_twins

    def _qbo_by_ids(self, ids):
        found = {}
        for start in range(0, len(ids), QBO_ID_CHUNK):
            chunk = ids[start:start + QBO_ID_CHUNK]
            select = f"select * from {self.entity} where Id in ({', '.join(quote(i) for i in chunk)})"
            for obj in self.remote.qbo.query(select, page_size=QBO_PAGE):
                found[str(obj.get("Id"))] = obj
        wanted = set(ids)
        return {k: v for k, v in found.items() if k in wanted}

    def _billcom_by_ids(self, ids):
        """Bill.com records by ``id`` filters of ``BILLCOM_ID_CHUNK``, as many in flight
        as the client allows."""
        chunks = [ids[start:start + BILLCOM_ID_CHUNK] for start in range(0, len(ids), BILLCOM_ID_CHUNK)]
        billcom = self.remote.billcom

        def read(chunk):
            rows = billcom.list(self.collection, filters=[("id", "in", chunk)], page_size=BILLCOM_PAGE)
            return [obj for obj in rows if isinstance(obj, dict)]
        wanted = set(ids)
        found = {}
        for rows in billcom.map_concurrently(read, chunks, return_exceptions=False):
            # an ignored filter only costs reads: the ids are checked here
            found.update((obj.get("id"), obj) for obj in rows if obj.get("id") in wanted)
        return found


class _Parties:
    """The open balance of each linked vendor and customer that a synced
    document names, found in the store as documents name them."""

    def __init__(self, store):
        self.store = store
        # (party type, side) -> {remote id: PartyBalance, or None when not linked}: keyed by
        # the id alone, since a (type, side, id) tuple a key cost 5 MB at 40,000 parties
        self._by_remote = defaultdict(dict)
        self.touched = {}       # id(PartyBalance) -> PartyBalance, in the order first met
        self.explained = defaultdict(lambda: ZERO)   # id(PartyBalance) -> qbo minus billcom already reported

    def learn(self, party_type, twins):
        """Look up, one query per side, the links of the parties these twins name."""
        for side in ("qbo", "billcom"):
            known = self._by_remote[(party_type, side)]
            ids = {t.party_id for t in twins if t.side == side and t.party_id and t.party_id not in known}
            if not ids:
                continue
            for link in self.store.find_links(party_type, side, ids):
                balance = PartyBalance(party_type, None, link.qbo_id, link.billcom_id)
                self._by_remote[(party_type, "qbo")].setdefault(link.qbo_id, balance)
                self._by_remote[(party_type, "billcom")].setdefault(link.billcom_id, balance)
            for rid in ids:
                known.setdefault(rid, None)

    def state(self):
        """The balances so far, JSON-able, for a tie-out that goes on later."""
        return [[p.object_type, p.name, p.qbo_id, p.billcom_id, _json_money(p.open_qbo),
                 _json_money(p.open_billcom), _json_money(self.explained[id(p)])] for p in self.touched.values()]

    def restore(self, rows):
        for party_type, name, qbo_id, billcom_id, open_qbo, open_billcom, explained in rows:
            party = PartyBalance(party_type, name, qbo_id, billcom_id, Decimal(open_qbo), Decimal(open_billcom))
            self._by_remote[(party_type, "qbo")][qbo_id] = party
            self._by_remote[(party_type, "billcom")][billcom_id] = party
            self.touched[id(party)] = party
            self.explained[id(party)] = Decimal(explained)

    def of(self, party_type, twin):
        party = self._by_remote[(party_type, twin.side)].get(twin.party_id) if twin.party_id else None
        if party is not None:
            self.touched.setdefault(id(party), party)
        return party

    def report(self, report):
        for party in self.touched.values():
            report.parties.append(party)
            unexplained = (party.open_qbo - party.open_billcom) - self.explained[id(party)]
            if unexplained:
                report.differences.append(Difference(
                    party.object_type, party.name or f"{TYPE_LABEL[party.object_type]} {party.qbo_id}",
                    party.qbo_id, party.billcom_id, "open balance of synced documents",
                    party.open_qbo, party.open_billcom, CAUSE_PARTY.format(party=party.object_type)))


def _snapshot_label(link):
    snap = (link.snapshot or {}).get("qbo") or (link.snapshot or {}).get("billcom") or {}
    number = snap.get("number") if isinstance(snap, dict) else None
    return f"{TYPE_LABEL.get(link.object_type, link.object_type)} {number or link.qbo_id}"


# -------------------------------------------------------------- the tie-out
def tie_out(config, store, remote, deadline=None, clock=time.monotonic, resume=None):
    """Compare every linked document, payment and party on both sides, now.

    Links are walked one type and one page of ``LINK_PAGE`` at a time, and only
    the parties the documents name are kept: the tie-out of a large company
    holds what a small one's does, plus a balance per vendor and customer.

    ``deadline`` (a ``clock()`` time): stop reading when it has passed, between
    two pages, and say how far the comparison got (``stopped``); a scheduler
    that would kill a job past its time limit gets an answer instead, and
    ``report.resume_state`` to go on from there in its next round
    (``resume``). A tie-out that goes on reads by ids, a page at a time (a
    whole listing may be what did not fit in the time), and compares one page
    at least whatever the time: each round gets further."""
    counts = store.count_links()
    compared_types = DOCUMENT_TYPES + PAYMENT_TYPES
    report = TieOut(links=sum(counts.get(t, 0) for t in compared_types))
    parties = _Parties(store)
    position = _Position(compared_types[0], None)
    if resume:
        position = _restore(resume, report, parties)
    by_ids = bool(resume)
    # the type it stopped in and those after it, in the fixed order (a type may have lost its links since)
    start = compared_types.index(position.object_type) if position.object_type in compared_types \
        else len(compared_types)
    order = [t for t in compared_types[start:] if counts.get(t)]
    spill = _Spill()
    compared_before = report.compared

    def time_left():
        if deadline is None or clock() < deadline:
            return
        if by_ids and report.compared == compared_before:
            return   # a tie-out that goes on compares a page at least: each round gets further
        raise _TimeUp()

    try:
        for otype in order:
            after = position.after if otype == position.object_type else None
            position = _Position(otype, after)
            time_left()
            reader = _TypeReader(store, remote, otype, counts[otype], spill, time_left, by_ids=by_ids)
            for links in store.link_pages(otype, LINK_PAGE, after=after):
                time_left()
                q_twins, b_twins = reader.twins(links)
                if otype in PARTY_OF:
                    parties.learn(PARTY_OF[otype], [*q_twins.values(), *b_twins.values()])
                for link in links:
                    q = q_twins.get(str(link.qbo_id)) or _Twin("qbo")
                    b = b_twins.get(link.billcom_id) or _Twin("billcom")
                    if otype in DOCUMENT_TYPES:
                        _compare_document(report, link, q, b, parties)
                    else:
                        _compare_payment(report, link, q, b)
                report.compared += len(links)
                position = _Position(otype, links[-1].qbo_id)
            spill.clear()
    except _TimeUp:
        # a party's balance over part of its documents proves nothing yet: kept to go on with
        report.stopped = True
        report.resume_state = _resume_state(position, report, parties)
        return report
    finally:
        spill.close()
    parties.report(report)
    return report


@dataclass
class _Position:
    object_type: str      # the type being compared
    after: str            # the QuickBooks id of the last link compared in it (None: none yet)


def _resume_state(position, report, parties):
    return {"object_type": position.object_type, "after": position.after,
            "documents": report.documents, "payments": report.payments, "compared": report.compared,
            "open_qbo": _json_money(report.open_qbo), "open_billcom": _json_money(report.open_billcom),
            "differences": [d.as_dict() for d in report.differences],
            "parties": parties.state()}


def _restore(state, report, parties):
    """Put a stopped tie-out's counts, differences and party balances back; where it goes on."""
    report.documents, report.payments = state["documents"], state["payments"]
    report.compared = state["compared"]
    report.open_qbo, report.open_billcom = Decimal(state["open_qbo"]), Decimal(state["open_billcom"])
    report.differences = [Difference.from_dict(d) for d in state["differences"]]
    parties.restore(state["parties"])
    return _Position(state["object_type"], state["after"])


class _TimeUp(Exception):
    """The tie-out's deadline has passed."""


def _compare_document(report, link, q, b, parties):
    otype = link.object_type
    label = q.label or b.label or _snapshot_label(link)

    def diff(field_name, qv, bv, cause):
        report.differences.append(Difference(otype, label, link.qbo_id, link.billcom_id, field_name, qv, bv, cause))

    for twin in (q, b):
        if twin.error:
            diff("open balance", None, None, f"{SIDES[twin.side]} holds a record the sync cannot read: {twin.error}")
            return
    if q.gone and b.gone:
        return   # gone on both sides: nothing left to agree on
    report.documents += 1
    q_open = q.balance if not q.gone else None
    b_open = b.balance if not b.gone else None
    report.open_qbo += q_open or ZERO
    report.open_billcom += b_open or ZERO
    party_type = PARTY_OF[otype]
    for twin, amount in ((q, q_open), (b, b_open)):
        party = parties.of(party_type, twin) if amount is not None else None
        if party is None:
            continue
        if twin.side == "qbo":
            party.open_qbo += amount
            party.name = party.name or twin.ref_name or twin.party_name
        else:
            party.open_billcom += amount
            party.name = party.name or twin.party_name or twin.ref_name
    if q.gone or b.gone:
        gone = q if q.gone else b
        cause = _voided(gone.side) if gone.voided else _deleted(gone.side)
        diff("open balance", q_open, b_open, cause)
        delta = (q_open or ZERO) - (b_open or ZERO)
    else:
        delta = q_open - b_open
        if q.total != b.total:
            diff("total", q.total, b.total, CAUSE_TOTAL)
        # an open balance off by exactly the difference in totals is that same difference
        if delta and delta != q.total - b.total:
            diff("open balance", q_open, b_open, CAUSE_BALANCE)
    if delta:
        # the document's own line explains this much of its party's difference
        for twin in (q, b):
            party = parties.of(party_type, twin)
            if party is not None:
                parties.explained[id(party)] += delta
                break


def _compare_payment(report, link, q, b):
    otype = link.object_type
    label = q.label or b.label or f"{TYPE_LABEL[otype]} {link.qbo_id}"

    def diff(qv, bv, cause):
        report.differences.append(Difference(otype, label, link.qbo_id, link.billcom_id, "amount", qv, bv, cause))

    for twin in (q, b):
        if twin.error:
            diff(None, None, f"{SIDES[twin.side]} holds a record the sync cannot read: {twin.error}")
            return
    if link.billcom_id.startswith(CREDIT_APPLICATION):
        # a credit applied in Bill.com outside a payment: its effect is in the
        # documents' balances; QuickBooks must still hold the payment applying it
        report.payments += 1
        if q.gone:
            diff(None, None, _voided("qbo") if q.voided else _deleted("qbo"))
        return
    if q.gone and b.gone:
        return
    report.payments += 1
    q_amount = q.amount if not q.gone else None
    b_amount = b.amount if not b.gone else None
    if q.gone or b.gone:
        gone = q if q.gone else b
        diff(q_amount, b_amount, _voided(gone.side) if gone.voided else _deleted(gone.side))
    elif q_amount != b_amount:
        diff(q_amount, b_amount, CAUSE_PAYMENT)
