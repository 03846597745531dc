"""Pieces shared by the QuickBooks Online sandbox modules: entity names, the
``Fault`` exception and its usual kinds, exact money and time parsing."""
import copy
import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache


NAME_LISTS = ("Account", "Class", "Department", "Item", "Term", "Vendor", "Customer", "Employee")
PERSONS = ("Vendor", "Customer", "Employee")
DOCUMENTS = ("Bill", "VendorCredit", "Invoice", "CreditMemo")
PAYMENTS = ("BillPayment", "Payment")
TRANSACTIONS = DOCUMENTS + PAYMENTS
SINGLETONS = ("Preferences", "CompanyInfo")
ENTITIES = NAME_LISTS + TRANSACTIONS + ("Deposit", "Attachable") + SINGLETONS
VOIDABLE = ("Invoice", "Payment", "BillPayment")
_CANONICAL = {name.lower(): name for name in ENTITIES}

# fields the server keeps for itself on every record
SYSTEM_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse", "time", "status")
CURRENCY_NAMES = {"USD": "United States Dollar", "CAD": "Canadian Dollar", "EUR": "Euro",
                  "GBP": "British Pound Sterling", "AUD": "Australian Dollar", "MXN": "Mexican Peso"}
STALE_DETAIL = ("Stale Object Error : You and Sandbox User were working on this at the same time. "
                "Sandbox User finished before you did, so your work was not saved.")

CENT = Decimal("0.01")
_ZERO = Decimal(0)


# ------------------------------------------------------------------ helpers
class QBOFault(Exception):
    """A QBO ``Fault`` the sandbox answers with (also raised by the Python API)."""

    def __init__(self, code, message, detail="", element="", fault_type="ValidationFault", status=400):
        super().__init__(f"{code} {message}: {detail}")
        self.code = str(code)
        self.message = message
        self.detail = detail
        self.element = element or ""
        self.fault_type = fault_type
        self.status = status

    def fault(self):
        return {"Error": [{"Message": self.message, "Detail": self.detail, "code": self.code,
                           "element": self.element}], "type": self.fault_type}


def _required(element, what=None):
    return QBOFault("2020", "Required param missing, need to supply the required value for the API",
                    f"Required parameter {what or element} is missing in the request", element)


def _invalid_ref(field, value, target):
    # A reference (VendorRef, ItemRef, AccountRef, ParentRef, LinkedTxn.TxnId...) to a record that does not
    # exist or is inactive: 2500 "Invalid Reference Id" (reference 6.2 and simulator checklist 11.4). 610
    # "Object Not Found" is what a read, update or delete of an unknown Id gets.
    return QBOFault("2500", "Invalid Reference Id",
                    f"Invalid Reference Id : {target} {value} assigned to {field} does not exist or is inactive",
                    field)


def _business(detail, element=""):
    return QBOFault("6000", "A business validation error has occurred while processing your request",
                    f"Business Validation Error: {detail}", element)


def _unsupported(detail):
    return QBOFault("500", "Unsupported Operation", detail)


def _invalid_value(element, detail):
    return QBOFault("2010", "Request has invalid or unsupported property", detail, element)


def _dec(value, element="Amount"):
    if isinstance(value, bool):
        raise _invalid_value(element, f"Invalid number for {element}")
    if value is None:
        return _ZERO
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _invalid_value(element, f"Invalid number for {element}: {value!r}") from None


def _money(value, element="Amount"):
    return _dec(value, element).quantize(CENT, rounding=ROUND_HALF_UP)


def _num(amount):
    """Decimal money -> the JSON number QBO sends."""
    return float(amount)


_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@lru_cache(maxsize=65536)
def _parse_time(text, default_tz=dt.timezone.utc):
    """ISO date or date-time -> epoch seconds (naive values use ``default_tz``)."""
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=default_tz)
    return value.timestamp()


def _parse_offset(text):
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", text.strip())
    if not match:
        raise ValueError(f"company_offset must look like -08:00, not {text!r}")
    sign = -1 if match.group(1) == "-" else 1
    return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def _ci_get(obj, key):
    """Dict lookup by exact key, then case-insensitively."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    low = key.lower()
    for k, v in obj.items():
        if k.lower() == low:
            return v
    return None


def _clone(obj):
    return copy.deepcopy(obj)


def canonical_entity(name):
    return _CANONICAL.get(str(name).strip().lower())
