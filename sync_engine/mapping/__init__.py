"""QBO JSON <-> canonical records <-> Bill.com JSON, one mapper a type.

``read_qbo(type, obj)`` / ``read_billcom(type, obj)`` build a ``Record``;
``qbo_body(type, values, resolve, ctx)`` / ``billcom_body(...)`` build a
write body from neutral values (see ``neutral``), where ``resolve(token)``
turns a neutral reference into an id on the target side.

Neutral references are strings ``"<type>|<qbo id>"`` for anything QBO knows,
or ``"<type>|bc:<Bill.com id>"`` for a Bill.com record not linked yet.

Each family of object types has its module, holding for each type the reader
and the write body of both systems side by side (``lists``, ``parties``,
``documents``, ``payments``); ``MAPPERS`` gathers them, and the functions
below dispatch through it by object type.
"""
from decimal import Decimal, InvalidOperation

from ..records import MappingError, Record, blank, refs_in
from . import documents, lists, parties, payments
from .common import (CREDIT_TYPES, DOCUMENT_TYPES, ENTITIES, LIST_TYPES, NAME_TYPES, PAYMENT_TYPES, QBO_TYPE,
                     Mapper, _bc_id, _qbo_id, diff, name_key, neutral, qbo_voided)
from .documents import DISCOUNT_LINE, TAX_LINE, lines_total
from .lists import ACCOUNT_TYPES, ACCOUNT_TYPES_BACK, ITEM_TYPES, ITEM_TYPES_BACK
from .payments import (CREDIT_APPLICATION, PAYMENT_MARK_BILLCOM, PAYMENT_MARK_QBO, billcom_payment_body,
                       origin_mark, qbo_payment_body, read_origin_mark)

__all__ = [
    "ENTITIES", "QBO_TYPE", "LIST_TYPES", "NAME_TYPES", "DOCUMENT_TYPES", "PAYMENT_TYPES", "CREDIT_TYPES",
    "ACCOUNT_TYPES", "ACCOUNT_TYPES_BACK", "ITEM_TYPES", "ITEM_TYPES_BACK", "DISCOUNT_LINE", "TAX_LINE",
    "CREDIT_APPLICATION", "PAYMENT_MARK_QBO", "PAYMENT_MARK_BILLCOM", "MAPPERS", "Mapper",
    "read_qbo", "read_billcom", "qbo_body", "qbo_update_body", "billcom_body",
    "qbo_payment_body", "billcom_payment_body", "origin_mark", "read_origin_mark",
    "neutral", "refs_in", "diff", "lines_total", "record_money", "types_depending_on", "search_text_of",
]

# object type -> Mapper
MAPPERS = {**lists.MAPPERS, **parties.MAPPERS, **documents.MAPPERS, **payments.MAPPERS}


def type_label(object_type):
    """"vendor_credit" -> "Vendor credit"."""
    return object_type.replace("_", " ").capitalize()


def record_money(record):
    """(amount, currency) a finance user knows a record by: a document's total,
    a payment's amount, as ``Decimal`` and an upper-case currency code; (None,
    None) for lists, parties, deleted records and anything without an amount."""
    if record is None or isinstance(record, MappingError):
        return None, None
    if record.object_type in DOCUMENT_TYPES:
        amount = record.facts.get("total")
    elif record.object_type in PAYMENT_TYPES:
        amount = (record.values or {}).get("amount")
    else:  # most lines of a first sync: asked before anything else
        return None, None
    if blank(amount) or record.deleted:
        return None, None
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return None, None
    return amount, (record.facts.get("currency") or "USD").upper()


# The types whose records refer to a type's records: a record synced again
# may unblock those (a vendor its bills, a bill its payments).
DEPENDENTS = {
    **{t: DOCUMENT_TYPES + PAYMENT_TYPES for t in LIST_TYPES},
    "vendor": ("bill", "vendor_credit", "bill_payment"),
    "customer": ("invoice", "credit_memo", "received_payment"),
    "bill": ("bill_payment",), "vendor_credit": ("bill_payment",),
    "invoice": ("received_payment",), "credit_memo": ("received_payment",),
}


def types_depending_on(object_type):
    """``object_type`` and the types whose records may refer to it."""
    return [object_type, *DEPENDENTS.get(object_type, ())]


def search_text_of(label):
    """The name or number in a record's label, to find its twin by:
    "Bill NL-1002 (Norton Lumber)" -> "NL-1002", "Vendor Norton Lumber" -> "Norton Lumber"."""
    text = (label or "").split(" (")[0]
    for object_type in sorted(ENTITIES, key=lambda t: -len(t)):  # "Vendor credit" before "Vendor"
        prefix = type_label(object_type) + " "
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix):]
    return text


# object type -> its reader of each side, looked up once a record rather than through its Mapper
_QBO_READERS = {otype: mapper.read_qbo for otype, mapper in MAPPERS.items()}
_BILLCOM_READERS = {otype: mapper.read_billcom for otype, mapper in MAPPERS.items()}


def read_qbo(object_type, obj):
    """A QBO object as a Record; raises MappingError naming the field."""
    rid = _qbo_id(obj)
    if obj.get("status") == "Deleted":
        return Record(object_type, "qbo", rid, obj.get("SyncToken"), {}, f"{type_label(object_type)} {rid}",
                      facts={"deleted": True})
    try:
        values, label, key, facts = _QBO_READERS[object_type](obj)
    except MappingError as err:
        err.record = err.record or f"QuickBooks {ENTITIES[object_type][0]} {rid}"
        raise
    facts.setdefault("active", obj.get("Active", True) is not False)
    return Record(object_type, "qbo", rid, str(obj.get("SyncToken", "")), values, label, key, facts)


def read_billcom(object_type, obj):
    rid = _bc_id(obj)
    try:
        values, label, key, facts = _BILLCOM_READERS[object_type](obj)
    except MappingError as err:
        err.record = err.record or f"Bill.com {ENTITIES[object_type][1].split('/')[-1]} {rid}"
        raise
    facts.setdefault("active", not obj.get("archived", False))
    return Record(object_type, "billcom", rid, str(obj.get("updatedTime") or ""), values, label, key, facts)


def qbo_body(object_type, values, resolve, ctx):
    """A QBO create body from neutral values. ``resolve(token)`` -> QBO id."""
    write = getattr(MAPPERS.get(object_type), "qbo_body", None)
    if write is None:
        raise ValueError(f"no QBO body for {object_type}")
    return write(values, resolve, ctx)


def qbo_update_body(object_type, values, resolve, ctx, current):
    """A sparse QBO update: the create body plus Id and the current SyncToken."""
    body = qbo_body(object_type, values, resolve, ctx)
    body.update({"Id": current.remote_id, "SyncToken": current.version, "sparse": True})
    if object_type in LIST_TYPES + NAME_TYPES and "active" in values:
        body["Active"] = bool(values["active"])
    return body


def billcom_body(object_type, values, resolve):
    """A Bill.com create body from neutral values. ``resolve(token)`` -> Bill.com id."""
    write = getattr(MAPPERS.get(object_type), "billcom_body", None)
    if write is None:
        raise ValueError(f"no Bill.com body for {object_type}")
    return write(values, resolve)
