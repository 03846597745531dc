"""Shared pieces of the Bill.com sandbox: constants, errors, money and time helpers, storage."""
import datetime
import re
import string
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

ID_CHARS = string.ascii_letters + string.digits
CENT = Decimal("0.01")
ZERO = Decimal("0")

CLASSIFICATIONS = {
    "chart-of-accounts": "0ca",
    "accounting-classes": "cls",
    "departments": "0de",
    "locations": "loc",
    "items": "0ii",
    "jobs": "job",
}

PREFIXES = {
    "vendors": "009",
    "customers": "0cu",
    "bills": "00n",
    "invoices": "00e",
    "payments": "stp",
    "receivable-payments": "0rp",
    "vendor-credits": "vcr",
    "credit-memos": "0cm",
    "payment-terms": "00p",
    **{f"classifications/{name}": prefix for name, prefix in CLASSIFICATIONS.items()},
}
LINE_PREFIXES = {"bills": "bli", "invoices": "ili", "credit-memos": "cml", "vendor-credits": "vcl"}
LINE_KEYS = {"bills": "billLineItems", "invoices": "invoiceLineItems",
             "credit-memos": "creditMemoLineItems", "vendor-credits": "vendorCreditLineItems"}
# The two kinds of credit: who holds one, where its total stands, and how errors name them.
CREDIT_KINDS = {
    "vendor-credits": {"party": "vendorId", "parties": "vendors", "total": "amount",
                       "total_name": "The credit amount",
                       "party_fixed": "The vendor of an applied vendor credit cannot change"},
    "credit-memos": {"party": "customerId", "parties": "customers", "total": "totalAmount",
                     "total_name": "The credit memo total",
                     "party_fixed": "The customer of an applied credit memo cannot change"},
}
ARCHIVABLE = ("vendors", "customers", "bills", "invoices", "vendor-credits", "credit-memos",
              *(f"classifications/{name}" for name in CLASSIFICATIONS))
WITH_PUT = ("bills", "invoices", "vendor-credits", "credit-memos")
BULK_CREATE = ("vendors", "bills", "vendor-credits", "credit-memos",
               *(f"classifications/{name}" for name in CLASSIFICATIONS))
BULK_UPDATE = ("credit-memos", *(f"classifications/{name}" for name in CLASSIFICATIONS))
ALIASES = {name: f"classifications/{name}" for name in CLASSIFICATIONS}
INDEXED = ("vendorId", "customerId", "name")  # equality filters answered from an index

BILL_PAYMENT_STATUSES = ("UNPAID", "PARTIALLY_PAID", "PAID")
APPROVAL_STATUSES = ("UNASSIGNED", "ASSIGNED", "APPROVING", "APPROVED", "DENIED")
AR_PAYMENT_TYPES = ("CASH", "CHECK", "CREDIT_CARD", "ACH", "PAYPAL", "OTHER")
CLASS_KEYS = ("chartOfAccountId", "accountingClassId", "departmentId", "locationId",
              "itemId", "customerId", "jobId")
CLASS_TARGETS = {
    "chartOfAccountId": "classifications/chart-of-accounts",
    "accountingClassId": "classifications/accounting-classes",
    "departmentId": "classifications/departments",
    "locationId": "classifications/locations",
    "itemId": "classifications/items",
    "jobId": "classifications/jobs",
    "customerId": "customers",
}

# ------------------------------------------------------------------- helpers
class ApiError(Exception):
    """Raised inside handlers; becomes a v3 error-array response."""

    def __init__(self, status, code, message, category="REQUEST"):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.category = category


def _missing(field):
    return ApiError(400, "BDC_1108", f"{field}: The {field.rsplit('.', 1)[-1]} field is required")


def _bad_type(field, expected):
    return ApiError(400, "BDC_1124", f"{field}: Invalid data type, expected {expected}")


def _bad_value(field, text):
    return ApiError(400, "BDC_1119", f"{field}: {text}")


def money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def out(amount):
    """A Decimal amount as the JSON number Bill.com sends."""
    return float(amount)


def number_out(value):
    """A Decimal rate or count as JSON: an integer when whole (``6``), else a float (``8.25``)."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def dec(value):
    return Decimal(str(value)) if value is not None else ZERO


def format_ms(ms):
    moment = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}+00:00"


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$")


def parse_time_ms(text):
    """Milliseconds since the epoch for the date formats Bill.com accepts."""
    match = _TIME_RE.match(text.strip())
    if not match:
        raise ValueError(text)
    year, month, day, hour, minute, second, frac, zone = match.groups()
    micro = int((frac or "0").ljust(6, "0")[:6])
    tz = datetime.timezone.utc
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    moment = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                               int(second or 0), micro, tzinfo=tz)
    return (moment - _EPOCH) // datetime.timedelta(milliseconds=1)


def _is_date(text):
    if not isinstance(text, str) or not re.match(r"^\d{4}-\d{2}-\d{2}$", text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class Session:
    id: str
    dev_key: str
    user_id: str
    organization_id: str
    created: float
    last_used: float


class _Collection:
    """Objects of one kind, in creation order, with the list views cached."""

    def __init__(self, name, prefix):
        self.name = name
        self.prefix = prefix
        self.objects = {}  # id -> wire dict
        self.meta = {}  # id -> (created_ms, updated_ms)
        self.seq = {}  # id -> creation number
        self.next_seq = 0
        self.version = 0
        self.views = {}  # (filters, sort) -> (version, keys, ids)
        self.index = {field: {} for field in INDEXED}  # field -> value -> {ids}

    def put(self, obj_id, obj, meta):
        """Store (or, with ``obj`` None, remove) one object, keeping the indexes."""
        old = self.objects.get(obj_id)
        for field, index in self.index.items():
            before = old.get(field) if old else None
            after = obj.get(field) if obj else None
            if before == after and old is not None and obj is not None:
                continue
            if old is not None and before is not None:
                ids = index.get(before)
                if ids is not None:
                    ids.discard(obj_id)
                    if not ids:
                        del index[before]
            if obj is not None and after is not None:
                index.setdefault(after, set()).add(obj_id)
        if obj is None:
            self.objects.pop(obj_id, None)
            self.meta.pop(obj_id, None)
            self.seq.pop(obj_id, None)
        else:
            if obj_id not in self.seq:
                self.seq[obj_id] = self.next_seq
                self.next_seq += 1
            self.objects[obj_id] = obj
            self.meta[obj_id] = meta
        self.version += 1

    def candidates(self, hints):
        """Ids that may match, from the first usable equality filter (None: all)."""
        for field, op, value in hints:
            if op not in ("eq", "in"):
                continue
            values = [value] if op == "eq" else [v.strip() for v in value.split(",")]
            if field == "id":
                return {v for v in values if v in self.objects}
            if field in self.index:
                found = set()
                for v in values:
                    found |= self.index[field].get(v, set())
                return found
        return None
