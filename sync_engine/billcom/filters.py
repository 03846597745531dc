"""Bill.com list filters and sort: how ``(field, op, value)`` terms are written
for the ``filters`` parameter, which of them Bill.com can be asked for as they
are, and matching the exact terms on what it answers."""
import datetime

SW_FIELDS = ("name",)  # fields Bill.com filters with ``sw`` (starts with)
_FILTER_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "sw")


# How filter values are written. Bill.com's "Search operations with lists" page
# (https://developer.bill.com/docs/search-op-with-lists, with its list of
# filterable fields at https://developer.bill.com/docs/filterable-fields) gives
# the grammar ``filters=field:op:value,field:op:value`` and shows values holding
# ':' or ',' wrapped in double quotes (``createdTime:gte:"2025-09-01T00:00:00.000Z"``,
# ``invoiceCurrency:in:"USD,CAD"``, ``name:sw:"Hap"``). No way to escape a double
# quote inside a value is documented (nor whether a backslash escapes, nor
# whether spaces at either end survive), so no escape is invented here:
# ``format_filter_value`` refuses such values, and ``list`` sends Bill.com only
# what it can express (``name:sw:"<text before the first such character>"``,
# or no term at all) and applies the exact condition to the results itself.
_UNSAFE_CHARS = ('"', "\\")


def expressible(value):
    """True when ``value`` can be sent as a filter value without an undocumented escape."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(expressible(v) and "," not in str(v) for v in value)
    if not isinstance(value, str):
        return True
    if any(ch in value for ch in _UNSAFE_CHARS):
        return False
    return value == value.strip()


def format_filter_value(value):
    """One filter value as Bill.com expects it, double-quoted when it holds ':', ',' or a space."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        text = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    elif isinstance(value, datetime.date):
        text = value.isoformat()
    elif isinstance(value, (list, tuple, set, frozenset)):
        if not expressible(value):
            raise ValueError("Bill.com 'in' lists cannot hold values with commas, double quotes, "
                             "backslashes or spaces at either end")
        items = [format_filter_value(v).strip('"') for v in value]
        return '"' + ",".join(items) + '"'
    else:
        text = str(value)
    if not expressible(text):
        raise ValueError("Bill.com filter values cannot hold double quotes, backslashes or spaces at "
                         "either end; use BillComClient.list, which filters such values itself")
    if any(ch in text for ch in ':, '):
        return f'"{text}"'
    return text


def format_filters(filters):
    """``[(field, op, value), ...]`` -> ``field:op:value,...`` (a string passes through)."""
    if not filters:
        return None
    if isinstance(filters, str):
        return filters
    terms = []
    for field, op, value in filters:
        if op not in _FILTER_OPS:
            raise ValueError(f"unknown Bill.com filter operator {op!r}")
        terms.append(f"{field}:{op}:{format_filter_value(value)}")
    return ",".join(terms)


def plan_filters(filters):
    """``(sent, local)``: the terms Bill.com can be asked for, and the exact terms
    (all of ``filters``) to apply to what it answers when some could not be sent
    as they are (``local`` is empty when everything was sent unchanged)."""
    if not filters or isinstance(filters, str):
        return filters, []
    sent, changed = [], False
    for field, op, value in filters:
        if op not in _FILTER_OPS:
            raise ValueError(f"unknown Bill.com filter operator {op!r}")
        if expressible(value):
            sent.append((field, op, value))
            continue
        changed = True
        if op in ("eq", "sw") and field in SW_FIELDS and isinstance(value, str):
            prefix = _safe_prefix(value)
            if prefix:
                sent.append((field, "sw", prefix))
    return sent, (list(filters) if changed else [])


def _safe_prefix(text):
    """The longest start of ``text`` that is an expressible ``sw`` value ('' if none)."""
    cut = min((i for i in (text.find(ch) for ch in _UNSAFE_CHARS) if i >= 0), default=len(text))
    prefix = text[:cut].rstrip()
    return prefix if prefix and prefix == prefix.lstrip() else ""


def _field_value(obj, field):
    for part in field.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def matches(obj, filters):
    """True when ``obj`` meets every ``(field, op, value)`` term with a string-like
    value (``eq``, ``ne``, ``sw``, ``in``, ``nin``); other terms count as met."""
    for field, op, value in filters:
        actual = _field_value(obj, field)
        if op == "eq" and actual != value:
            return False
        if op == "ne" and actual == value:
            return False
        if op == "sw" and not (isinstance(actual, str) and actual.startswith(value)):
            return False
        if op == "in" and actual not in set(value):
            return False
        if op == "nin" and actual in set(value):
            return False
    return True


def format_sort(sort):
    if not sort:
        return None
    if isinstance(sort, str):
        return sort if ":" in sort else f"{sort}:asc"
    field, direction = sort
    if direction not in ("asc", "desc"):
        raise ValueError("sort direction must be 'asc' or 'desc'")
    return f"{field}:{direction}"
