"""Canonical records: what a QBO object and its Bill.com twin have in common.

A ``Record`` is read from one side. ``values`` holds the synced fields in a
side-neutral form (money as 2-decimal strings, dates as ISO strings,
references as ``Ref`` to a record on the same side) and is what the planner
compares and what the link map remembers as the last synced state. ``facts``
holds what the rules need but never syncs (balance, currency, approval,
attachments, deleted...).
"""
import datetime
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e13")  # beyond any bill either system accepts
MAX_WHOLE = 10 ** 13          # the same, for a JSON integer


class MappingError(ValueError):
    """A remote object cannot be read or written: names the record and field."""

    def __init__(self, field, message, record=None):
        super().__init__(message)
        self.field = field
        self.message = message
        self.record = record

    def __str__(self):
        return f"{self.record + ': ' if self.record else ''}{self.field}: {self.message}"


@dataclass(frozen=True)
class Ref:
    """A reference to another record of ``object_type`` on the record's own side."""
    object_type: str
    remote_id: str
    name: str = None


@dataclass
class Record:
    object_type: str
    side: str                 # 'qbo' | 'billcom'
    remote_id: str
    version: str              # QBO SyncToken / Bill.com updatedTime
    values: dict
    label: str
    natural_key: tuple = None
    facts: dict = field(default_factory=dict)

    @property
    def deleted(self):
        return bool(self.facts.get("deleted"))

    @property
    def refs(self):
        """Every Ref in ``values``, in order, gathered once: the planner asks twice
        a record (the links to read, then what is missing), and ``values`` are
        not changed once read."""
        refs = self.__dict__.get("_refs")
        if refs is None:
            refs = self.__dict__["_refs"] = refs_in(self.values)
        return refs


# the types a JSON value decodes to (amounts as Decimal): nothing to look into
PLAIN_JSON_TYPES = frozenset((str, int, float, bool, Decimal, type(None)))


def refs_in(values):
    """Every Ref in a record's values, in order (to check dependencies before
    planning): a list, gathered without a generator per nested dict or list."""
    found = []
    _gather_refs(values, found)
    return found


def _gather_refs(values, found):
    kind = type(values)
    if kind is dict or kind is list:   # the common shapes first
        for v in (values.values() if kind is dict else values):
            inner = type(v)
            if inner is Ref:
                found.append(v)
            elif inner not in PLAIN_JSON_TYPES:
                _gather_refs(v, found)
    elif kind in PLAIN_JSON_TYPES:
        pass
    elif isinstance(values, Ref):
        found.append(values)
    elif isinstance(values, dict):
        for v in values.values():
            _gather_refs(v, found)
    elif isinstance(values, list):
        for v in values:
            _gather_refs(v, found)


def blank(value):
    """A field left out or sent empty: None or empty text. (``value in (None, "")``
    says the same, but compares a Decimal amount with text, about ten times as long.)"""
    return value is None or (isinstance(value, str) and not value)


def exact_number(value, field_name, noun=None):
    """A JSON number (or its text) as an exact ``Decimal``; rejects what is not a
    finite number. ``noun`` ("amount") starts the error message."""
    subject = f"{noun} is" if noun else "is"
    kind = type(value)
    if kind is Decimal:   # how the clients decode a JSON fraction: exact already
        exact = value
    elif kind is int:
        exact = Decimal(value)
    else:
        try:
            # through str: a float's shortest form, so 0.1 stays 0.1 (true and false are not numbers)
            exact = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise MappingError(field_name, f"{subject} not a number ({value!r})") from None
    if not exact.is_finite():
        raise MappingError(field_name, f"{subject} not a finite number ({value!r})")
    return exact


def money(value, field_name):
    """A JSON amount as an exact 2-decimal string; rejects what is not money."""
    kind = type(value)
    if kind is Decimal:   # how the clients decode a JSON fraction
        text = str(value)
        # at most 13 digits before the point (below MAX_AMOUNT); NaN, Infinity
        # and exponents ("1E+3") go the long way
        size = len(text) - (text[0] == "-")
        if text[-3:-2] == ".":   # "3249.68", "-0.05": cents already
            if size <= 16:
                return text
        elif text[-2:-1] == ".":   # "710.0": a double as Bill.com prints one
            if size <= 15:
                return text + "0"
    elif kind is int and -MAX_WHOLE < value < MAX_WHOLE:   # a JSON integer ("quantity": 6)
        return f"{value}.00"
    # a Decimal is never missing (and comparing one with "" costs a numbers-ABC check)
    if kind is not Decimal and (value is None or value == "" or isinstance(value, bool)):
        raise MappingError(field_name, f"amount is missing or not a number ({value!r})")
    amount = exact_number(value, field_name, "amount")
    if abs(amount) >= MAX_AMOUNT:
        raise MappingError(field_name, f"amount is too large ({value!r})")
    cents = amount.quantize(CENT)
    if amount != cents:
        raise MappingError(field_name, f"amount has fractions of a cent ({value!r})")
    return str(cents)


def text(value, field_name, max_len=None, required=False):
    if type(value) is str:   # the common shape, decided at once when it is fine
        stripped = value.strip()
        if stripped and (not max_len or len(stripped) <= max_len):
            return stripped
    if value is None or value == "":
        if required:
            raise MappingError(field_name, "is required but empty")
        return None
    if isinstance(value, (dict, list)):
        raise MappingError(field_name, f"expected text, got {type(value).__name__}")
    value = str(value).strip()
    if max_len and len(value) > max_len:
        raise MappingError(field_name, f"is longer than {max_len} characters ({len(value)})")
    if required and not value:
        raise MappingError(field_name, "is required but empty")
    return value or None


def date(value, field_name, required=False):
    if not value:
        if required:
            raise MappingError(field_name, "date is required")
        return None
    if not isinstance(value, str) or len(value) < 10:
        raise MappingError(field_name, f"is not a date ({value!r})")
    day = value[:10]
    try:
        datetime.date.fromisoformat(day)
    except ValueError:
        raise MappingError(field_name, f"is not a date ({value!r})") from None
    return day


_BASIC_OFFSET = re.compile(r"T.*[+-]\d{4}$")


def epoch_seconds(stamp):
    """Seconds since the epoch of a remote record's ISO time (QuickBooks'
    ``LastUpdatedTime``, Bill.com's ``updatedTime``; ``Z`` or an offset, UTC when
    it names none), or None when it is missing or not a time."""
    if not stamp:
        return None
    text = str(stamp).replace("Z", "+00:00")
    if _BASIC_OFFSET.search(text):  # Bill.com v2: "...000+0000" (Python 3.10 reads only "+00:00")
        text = text[:-2] + ":" + text[-2:]
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _json_number(value):
    # The one place money leaves Decimal: JSON has only one number type. A
    # 2-decimal amount below MAX_AMOUNT has at most 15 significant digits, so
    # the float's shortest form prints exactly the same digits.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 \
            else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(body, **kw):
    """JSON for a request body whose amounts are Decimals."""
    return json.dumps(body, default=_json_number, **kw)
