"""What every mapper shares: the object types, reading references, ids and
JSON shapes, and comparing neutral values.

Neutral references are strings ``"<type>|<qbo id>"`` for anything QBO knows,
or ``"<type>|bc:<Bill.com id>"`` for a Bill.com record not linked yet.
"""
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Callable, NamedTuple, Optional

from ..records import PLAIN_JSON_TYPES as _PLAIN, MappingError, Ref, blank

# object type -> (QBO entity, Bill.com collection)
ENTITIES = {
    "account": ("Account", "classifications/chart-of-accounts"),
    "class": ("Class", "classifications/accounting-classes"),
    "location": ("Department", "classifications/locations"),  # QBO calls its Departments "Location" by default
    "item": ("Item", "classifications/items"),
    "term": ("Term", "payment-terms"),
    "vendor": ("Vendor", "vendors"),
    "customer": ("Customer", "customers"),
    "bill": ("Bill", "bills"),
    "invoice": ("Invoice", "invoices"),
    "vendor_credit": ("VendorCredit", "vendor-credits"),
    "credit_memo": ("CreditMemo", "credit-memos"),
    "bill_payment": ("BillPayment", "payments"),
    "received_payment": ("Payment", "receivable-payments"),
}
QBO_TYPE = {entity: t for t, (entity, _) in ENTITIES.items()}
LIST_TYPES = ("account", "class", "location", "item", "term")
NAME_TYPES = ("vendor", "customer")
DOCUMENT_TYPES = ("bill", "invoice", "vendor_credit", "credit_memo")
PAYMENT_TYPES = ("bill_payment", "received_payment")
CREDIT_TYPES = ("vendor_credit", "credit_memo")


class Mapper(NamedTuple):
    """One object type in both systems: how each side's JSON reads as a
    Record's parts (values, label, natural key, facts) and how neutral values
    become a create body on each side (payments have bodies of their own)."""
    read_qbo: Callable
    read_billcom: Callable
    qbo_body: Optional[Callable] = None        # (values, resolve, ctx) -> QBO body
    billcom_body: Optional[Callable] = None    # (values, resolve) -> Bill.com body


# Thousands of documents name the same few thousand vendors, customers, terms
# and accounts, and a Ref never changes: the most recent references read are
# kept, so each is one object rather than one per mention (less to build, and
# less for the garbage collector to walk while a plan holds its records). A
# mid-size company has about 5,000 records that documents refer to.
@lru_cache(maxsize=8192)
def _shared_ref(object_type, remote_id, name):
    return Ref(object_type, remote_id, name)


def forget_shared_refs():
    """Drop the shared references (a step is done): kept past their page, the
    survivors of a busy cache would pin the memory of every page they were read on."""
    _shared_ref.cache_clear()


def _new_ref(object_type, remote_id, name):
    if name is None or type(name) is str:
        return _shared_ref(object_type, remote_id, name)
    return Ref(object_type, remote_id, name)  # a name of another JSON type may not hash


def _ref(obj, key, object_type, field_name):
    ref = obj.get(key)
    if isinstance(ref, dict):
        value = ref.get("value")
        if value:
            return _new_ref(object_type, str(value), ref.get("name"))
        if not ref:
            return None
    elif ref is None or ref == "":
        return None
    raise MappingError(field_name, f"is not a valid reference ({ref!r})")


def _bc_ref(value, object_type, field_name, name=None):
    if blank(value):
        return None
    if not isinstance(value, str):
        raise MappingError(field_name, f"is not a valid id ({value!r})")
    return _new_ref(object_type, value, name)


def _dict(obj, key):
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MappingError(key, f"expected an object, got {type(value).__name__}")
    return value


def _list(obj, key):
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(key, f"expected a list, got {type(value).__name__}")
    return value


def _items(obj, key):
    """A list of JSON objects, each checked."""
    out = _list(obj, key)
    for index, item in enumerate(out):
        if not isinstance(item, dict):
            raise MappingError(f"{key}[{index}]", f"expected an object, got {type(item).__name__}")
    return out


def _str(value):
    """Free text the sync only reads (notes, statuses): anything else counts as absent."""
    return value if isinstance(value, str) else None


def _currency(obj, key):
    value = obj.get(key)
    if isinstance(value, dict):
        value = value.get("value")
    if blank(value):
        return "USD"
    if not isinstance(value, str):
        raise MappingError(key, f"is not a currency code ({value!r})")
    return value.upper()


def name_key(name):
    return (name or "").strip().casefold()


def _qbo_id(obj):
    if not isinstance(obj, dict):
        raise MappingError("object", f"expected a JSON object, got {type(obj).__name__}")
    rid = obj.get("Id")
    if blank(rid):
        raise MappingError("Id", "is missing")
    return str(rid)


def _bc_id(obj):
    if not isinstance(obj, dict):
        raise MappingError("object", f"expected a JSON object, got {type(obj).__name__}")
    rid = obj.get("id")
    if not rid or not isinstance(rid, str):
        raise MappingError("id", "is missing")
    return rid


def qbo_voided(obj):
    """QBO records a void by zeroing the amounts and putting "Voided" in the
    private note (reference: quickbooks-online-api.md, Void); a memo that merely
    mentions a void ("Replaces Voided check 1042") on a live document is not one."""
    note = _str(obj.get("PrivateNote"))
    if not note or not note.strip().lower().startswith("voided"):
        return False  # the common case, decided without reading the amount
    try:
        return Decimal(str(obj.get("TotalAmt", 0))) == 0
    except (InvalidOperation, ValueError):
        return False


# ---------------------------------------------------------- neutral values


def neutral(values, token):
    """Values with every Ref replaced by ``token(ref)``: comparable across sides
    and JSON-able (this is what a link remembers as the last synced state)."""
    kind = type(values)
    if kind is dict:   # the common shapes first, without a call per plain value
        return {k: v if type(v) in _PLAIN else neutral(v, token) for k, v in values.items() if v is not None}
    if kind is list:
        return [v if type(v) in _PLAIN else neutral(v, token) for v in values]
    if kind in _PLAIN:
        return values
    if isinstance(values, Ref):
        return token(values)
    if isinstance(values, dict):
        return {k: neutral(v, token) for k, v in values.items() if v is not None}
    if isinstance(values, list):
        return [neutral(v, token) for v in values]
    return values


def diff(old, new, prefix=""):
    """Field-level differences between two neutral value dicts: field -> [old, new]."""
    out = {}
    old, new = old or {}, new or {}
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        name = f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(diff(a, b, name + "."))
        else:
            out[name] = [a, b]
    return out

