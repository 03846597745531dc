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
(an ``id`` filter when only a few records are linked). Money stays ``Decimal``.

    report = tie_out(config, store, remote)
    print(report.render())          # differences with likely causes, then the verdict
    report.agrees, report.verdict()
"""
import math
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from .mapping import CREDIT_APPLICATION, DOCUMENT_TYPES, ENTITIES, PAYMENT_TYPES, read_billcom, read_qbo
from .billcom.client import MAX_PAGE as BILLCOM_PAGE
from .qbo.client import MAX_PAGE as QBO_PAGE, quote
from .records import CENT, MappingError

QBO_ID_CHUNK = 200        # ids per "where Id in (...)" select
BILLCOM_ID_CHUNK = 50     # ids per Bill.com "id:in:" filter (one page of at most 100)
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

    @property
    def agrees(self):
        return not self.differences

    def verdict(self):
        if self.agrees:
            noun = "document" if self.documents == 1 else "documents"
            return f"Books agree: {self.documents} {noun}, {_dollars(self.open_qbo)} open on both sides"
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
        return {"agrees": self.agrees, "verdict": self.verdict(), "documents": self.documents,
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


def _dec(text):
    return Decimal(str(text)).quantize(CENT)


# ---------------------------------------------------------------- reading
def _read_qbo_side(qbo, entity, ids):
    """QuickBooks objects of ``entity`` with these ids, keyed by id, in as few requests as we can."""
    ids = sorted(set(ids), key=lambda i: (len(i), i))
    if not ids:
        return {}
    chunk_requests = math.ceil(len(ids) / QBO_ID_CHUNK)
    use_chunks = chunk_requests == 1
    if not use_chunks:
        use_chunks = chunk_requests <= math.ceil(max(1, qbo.query_count(entity)) / QBO_PAGE)
    found = {}
    if use_chunks:
        for start in range(0, len(ids), QBO_ID_CHUNK):
            chunk = ids[start:start + QBO_ID_CHUNK]
            select = f"select * from {entity} where Id in ({', '.join(quote(i) for i in chunk)})"
            for obj in qbo.query(select, page_size=QBO_PAGE):
                found[str(obj.get("Id"))] = obj
    else:
        for obj in qbo.query(f"select * from {entity}", page_size=QBO_PAGE):
            found[str(obj.get("Id"))] = obj
    wanted = set(ids)
    return {k: v for k, v in found.items() if k in wanted}


def _read_billcom_side(billcom, collection, ids):
    """Bill.com objects of ``collection`` with these ids, keyed by id (archived ones included)."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    if len(ids) <= BILLCOM_ID_CHUNK:
        rows = billcom.list(collection, filters=[("id", "in", ids)], page_size=BILLCOM_PAGE)
    else:
        rows = billcom.list(collection, page_size=BILLCOM_PAGE)
    wanted = set(ids)
    # an ignored filter only costs reads: the ids are checked here
    return {obj.get("id"): obj for obj in rows if isinstance(obj, dict) and obj.get("id") in wanted}


class _Twin:
    """One side of a link as read now: the record, or why there is none."""

    def __init__(self, side, object_type, obj, reader):
        self.side = side
        self.obj = obj
        self.record = None
        self.error = None
        if obj is not None:
            try:
                self.record = reader(object_type, obj)
            except MappingError as exc:
                self.error = str(exc)

    @property
    def missing(self):
        return self.obj is None or (self.record is not None and self.record.deleted)

    @property
    def gone(self):
        """Deleted, archived or voided: no longer part of the books on this side."""
        return self.missing or self.voided or self.archived

    @property
    def archived(self):
        return self.side == "billcom" and bool(self.obj and self.obj.get("archived"))

    @property
    def voided(self):
        return bool(self.record and self.record.facts.get("voided"))

    def label(self):
        return self.record.label if self.record else None


def _snapshot_label(link):
    snap = (link.snapshot or {}).get("qbo") or (link.snapshot or {}).get("billcom") or {}
    number = snap.get("number") if isinstance(snap, dict) else None
    return f"{TYPE_LABEL.get(link.object_type, link.object_type)} {number or link.qbo_id}"


# -------------------------------------------------------------- the tie-out
def tie_out(config, store, remote):
    """Compare every linked document, payment and party on both sides, now."""
    links = store.load_links()
    by_type = defaultdict(list)
    for link in links:
        by_type[link.object_type].append(link)
    report = TieOut()
    parties = {}   # (party type, side, remote id) -> PartyBalance
    party_list = []
    for party_type in ("vendor", "customer"):
        for link in by_type.get(party_type, ()):
            balance = PartyBalance(party_type, None, link.qbo_id, link.billcom_id)
            party_list.append(balance)
            parties[(party_type, "qbo", link.qbo_id)] = balance
            parties[(party_type, "billcom", link.billcom_id)] = balance
    explained = defaultdict(lambda: ZERO)   # PartyBalance id -> qbo minus billcom already reported
    touched = {}

    for otype in DOCUMENT_TYPES + PAYMENT_TYPES:
        type_links = by_type.get(otype)
        if not type_links:
            continue
        entity, collection = ENTITIES[otype]
        q_objs = _read_qbo_side(remote.qbo, entity, [l.qbo_id for l in type_links])
        b_objs = _read_billcom_side(remote.billcom, collection, [l.billcom_id for l in type_links
                                                                 if not l.billcom_id.startswith(CREDIT_APPLICATION)])
        for link in type_links:
            q = _Twin("qbo", otype, q_objs.get(str(link.qbo_id)), read_qbo)
            b = _Twin("billcom", otype, b_objs.get(link.billcom_id), read_billcom)
            if otype in DOCUMENT_TYPES:
                _compare_document(report, link, q, b, parties, explained, touched)
            else:
                _compare_payment(report, link, q, b)

    for party in party_list:
        if id(party) not in touched:
            continue
        report.parties.append(party)
        unexplained = (party.open_qbo - party.open_billcom) - explained[id(party)]
        if unexplained:
            report.differences.append(Difference(
                party.object_type, party.name or f"{TYPE_LABEL[party.object_type]} {party.qbo_id}",
                party.qbo_id, party.billcom_id, "open balance of synced documents",
                party.open_qbo, party.open_billcom, CAUSE_PARTY.format(party=party.object_type)))
    return report


def _compare_document(report, link, q, b, parties, explained, touched):
    otype = link.object_type
    label = q.label() or b.label() or _snapshot_label(link)

    def diff(field_name, qv, bv, cause):
        report.differences.append(Difference(otype, label, link.qbo_id, link.billcom_id, field_name, qv, bv, cause))

    for twin in (q, b):
        if twin.error:
            diff("open balance", None, None, f"{SIDES[twin.side]} holds a record the sync cannot read: {twin.error}")
            return
    if q.gone and b.gone:
        return   # gone on both sides: nothing left to agree on
    report.documents += 1
    q_open = _dec(q.record.facts["balance"]) if not q.gone else None
    b_open = _dec(b.record.facts["balance"]) if not b.gone else None
    report.open_qbo += q_open or ZERO
    report.open_billcom += b_open or ZERO
    party_type = PARTY_OF[otype]
    delta = ZERO
    for twin, amount in ((q, q_open), (b, b_open)):
        if twin.gone or amount is None:
            continue
        ref = twin.record.values.get(party_type)
        party = parties.get((party_type, twin.side, ref.remote_id)) if ref else None
        if party is None:
            continue
        touched[id(party)] = party
        if twin.side == "qbo":
            party.open_qbo += amount
            party.name = party.name or ref.name or twin.record.facts.get("party_name")
        else:
            party.open_billcom += amount
            party.name = party.name or twin.record.facts.get("party_name") or ref.name
    if q.gone or b.gone:
        gone = q if q.gone else b
        cause = _voided(gone.side) if gone.voided else _deleted(gone.side)
        diff("open balance", q_open, b_open, cause)
        delta = (q_open or ZERO) - (b_open or ZERO)
    else:
        q_total, b_total = _dec(q.record.facts["total"]), _dec(b.record.facts["total"])
        delta = q_open - b_open
        if q_total != b_total:
            diff("total", q_total, b_total, CAUSE_TOTAL)
        # an open balance off by exactly the difference in totals is that same difference
        if delta and delta != q_total - b_total:
            diff("open balance", q_open, b_open, CAUSE_BALANCE)
    if delta:
        # the document's own line explains this much of its party's difference
        for twin in (q, b):
            if twin.record is None:
                continue
            ref = twin.record.values.get(party_type)
            party = parties.get((party_type, twin.side, ref.remote_id)) if ref else None
            if party is not None:
                explained[id(party)] += delta
                touched[id(party)] = party
                break


def _compare_payment(report, link, q, b):
    otype = link.object_type
    label = q.label() or b.label() or f"{TYPE_LABEL[otype]} {link.qbo_id}"

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
    q_amount = _dec(q.record.values["amount"]) if not q.gone else None
    b_amount = _dec(b.record.values["amount"]) if not b.gone else None
    if q.gone or b.gone:
        gone = q if q.gone else b
        diff(q_amount, b_amount, _voided(gone.side) if gone.voided else _deleted(gone.side))
    elif q_amount != b_amount:
        diff(q_amount, b_amount, CAUSE_PAYMENT)
