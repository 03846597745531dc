"""Bill.com sandbox lists: the filterable fields, the ``filters`` grammar, sorting and page cursors."""
import base64
import bisect
import json

from .billcom_common import ARCHIVABLE, CLASSIFICATIONS, LINE_KEYS, ApiError, _is_date, parse_time_ms

# ----------------------------------------------------------- filterable fields
_R = ("gt", "gte", "lt", "lte")
_TIMES = {"createdTime": (_R, "time"), "updatedTime": (_R, "time")}
_CONTACT = {"id": (("eq", "ne", "in"), "str"), "archived": (("eq", "ne"), "bool"),
            "name": (("eq", "sw"), "str"), "accountType": (("eq", "ne", "in", "nin"), "str"),
            "address.country": (("eq", "ne"), "str"),
            "paymentStatus": (("eq", "ne", "in", "nin"), "str"), **_TIMES}
_DOC_CLASSES = {f"classifications.{key}": (("eq", "ne", "in"), "str")
                for key in ("chartOfAccountId", "accountingClassId", "departmentId",
                            "locationId", "itemId")}
_CLASSIFICATION = {"id": (("eq", "ne", "in"), "str"), "archived": (("eq", "ne"), "bool"),
                   "name": (("eq", "sw"), "str"), **_TIMES}
FILTERABLE = {
    "vendors": {**_CONTACT, "billCurrency": (("eq", "ne", "in", "nin"), "str")},
    "customers": {**_CONTACT, "invoiceCurrency": (("eq", "ne", "in", "nin"), "str")},
    "bills": {"id": (("eq", "ne", "in"), "str"), "archived": (("eq", "ne"), "bool"),
              "vendorId": (("eq", "in"), "str"), "dueDate": (_R, "date"),
              "paymentStatus": (("eq", "ne", "in"), "str"),
              "payFromChartOfAccountId": (("eq", "ne", "in"), "str"), **_DOC_CLASSES, **_TIMES},
    "invoices": {"id": (("eq", "ne", "in"), "str"), "archived": (("eq", "ne"), "bool"),
                 "customerId": (("eq", "in"), "str"),
                 "status": (("eq", "ne", "in", "nin"), "str"),
                 "payToChartOfAccountId": (("eq", "ne", "in"), "str"),
                 **{k: v for k, v in _DOC_CLASSES.items() if k != "classifications.chartOfAccountId"},
                 **_TIMES},
    "vendor-credits": {"id": (("eq", "ne", "in"), "str"), "archived": (("eq", "ne"), "bool"),
                       "vendorId": (("eq", "in"), "str"), **_TIMES},
    "credit-memos": {"id": (("eq", "ne", "in"), "str"), "archived": (("eq", "ne"), "bool"),
                     "customerId": (("eq", "in"), "str"), **_TIMES},
    "payments": {"id": (("eq", "ne", "in"), "str"), "vendorId": (("eq", "in"), "str"),
                 "status": (("eq", "ne", "in"), "str"), "processDate": (_R, "date"), **_TIMES},
    "receivable-payments": {"id": (("eq", "ne", "in"), "str"), "customerId": (("eq", "in"), "str"),
                            "paymentDate": (_R, "date"), **_TIMES},
    "payment-terms": {},
    **{f"classifications/{name}": _CLASSIFICATION for name in CLASSIFICATIONS},
}


def _sortable(collection):
    fields = {f for f in FILTERABLE[collection] if not f.startswith("classifications.")}
    fields |= {"id", "createdTime", "updatedTime"}
    if collection in ARCHIVABLE:
        fields.add("archived")
    if collection in ("vendors", "customers", "payment-terms") or collection.startswith("classifications/"):
        fields.add("name")
    if collection == "invoices":
        fields |= {"invoiceNumber", "invoiceDate", "dueDate"}
    return fields


SORTABLE = {name: _sortable(name) for name in FILTERABLE}


def _split_outside_quotes(text, sep):
    parts, buf, quoted = [], [], False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == sep and not quoted:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    if quoted:
        raise ApiError(400, "BDC_1129", "filters: Unbalanced quotes in filter value")
    parts.append("".join(buf))
    return parts


def _unquote(value):
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return value[1:-1]
    return value



class ListingMixin:
    """List handler of ``BillComSandbox`` (uses its collections and ``_ok``)."""

    def _h_list(self, collection, request, session):
        coll = self.collections[collection]
        size = request.param("max", "20")
        try:
            size = int(size)
        except ValueError:
            raise ApiError(400, "BDC_1129", "max: Must be a number from 1 to 100") from None
        if not 1 <= size <= 100:
            raise ApiError(400, "BDC_1129", "max: Must be a number from 1 to 100")
        token = request.param("page")
        direction, after = "after", None
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
                filters_raw, sort_raw, direction, after = state["f"], state["s"], state["d"], tuple(state["k"])
                if state["c"] != collection or direction not in ("after", "before"):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise ApiError(400, "BDC_1129", "page: Invalid page token") from None
        else:
            filters_raw = request.param("filters") or ""
            sort_raw = request.param("sort") or ""
        keys, ids = self._view(coll, filters_raw, sort_raw)
        descending = sort_raw.endswith(":desc")
        n = len(keys)
        # positions in the ascending key list
        if after is None:
            lo, hi = (0, min(size, n)) if not descending else (max(0, n - size), n)
        elif (direction == "after") != descending:  # moving towards larger keys
            lo = bisect.bisect_right(keys, after)
            hi = min(n, lo + size)
        else:  # moving towards smaller keys
            hi = bisect.bisect_left(keys, after)
            lo = max(0, hi - size)
        page_ids = ids[lo:hi]
        page_keys = keys[lo:hi]
        if descending:
            page_ids, page_keys = page_ids[::-1], page_keys[::-1]
        body = {"results": [coll.objects[i] for i in page_ids]}
        more_up, more_down = hi < n, lo > 0
        has_next, has_prev = (more_down, more_up) if descending else (more_up, more_down)
        if page_keys and has_next:
            body["nextPage"] = self._token(collection, filters_raw, sort_raw, "after", page_keys[-1])
        if page_keys and has_prev:
            body["prevPage"] = self._token(collection, filters_raw, sort_raw, "before", page_keys[0])
        return self._ok(body)

    @staticmethod
    def _token(collection, filters_raw, sort_raw, direction, key):
        raw = json.dumps({"c": collection, "f": filters_raw, "s": sort_raw, "d": direction, "k": list(key)},
                         separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def _view(self, coll, filters_raw, sort_raw):
        """(ascending sort keys, ids) of the objects matching ``filters_raw``."""
        cache_key = (filters_raw, sort_raw)
        cached = coll.views.get(cache_key)
        if cached and cached[0] == coll.version:
            return cached[1], cached[2]
        predicates, hints = self._parse_filters(coll.name, filters_raw)
        sort_key = self._parse_sort(coll.name, sort_raw)
        candidates = coll.candidates(hints)
        pairs = coll.objects.items() if candidates is None else ((i, coll.objects[i]) for i in candidates)
        rows = []
        for obj_id, obj in pairs:
            meta = coll.meta[obj_id]
            if all(pred(obj, meta) for pred in predicates):
                rows.append((sort_key(obj, meta, coll.seq[obj_id]), obj_id))
        rows.sort()
        keys = [row[0] for row in rows]
        ids = [row[1] for row in rows]
        if len(coll.views) > 64:
            coll.views.clear()
        coll.views[cache_key] = (coll.version, keys, ids)
        return keys, ids

    def _parse_sort(self, collection, sort_raw):
        if not sort_raw:
            return lambda obj, meta, seq: (seq,)
        parts = sort_raw.split(":")
        if len(parts) != 2 or parts[1] not in ("asc", "desc"):
            raise ApiError(400, "BDC_1129", f"sort: Invalid sort '{sort_raw}', expected field:asc or field:desc")
        field = parts[0]
        if field not in SORTABLE[collection]:
            raise ApiError(400, "BDC_1130", f"sort: The field '{field}' cannot be used to sort")

        def key(obj, meta, seq):
            if field == "createdTime":
                value = meta[0]
            elif field == "updatedTime":
                value = meta[1]
            else:
                value = self._values(obj, field)[0]
                if isinstance(value, bool):
                    value = int(value)
                elif isinstance(value, (int, float)):
                    value = float(value)
            return (0, "", obj["id"]) if value is None else (1, value, obj["id"])
        return key

    @staticmethod
    def _values(obj, field):
        if field.startswith("classifications."):
            key = field.split(".", 1)[1]
            values = [(obj.get("classifications") or {}).get(key)]
            for line_key in LINE_KEYS.values():
                for line in obj.get(line_key) or ():
                    values.append((line.get("classifications") or {}).get(key))
            return values
        if field == "address.country" and "address" not in obj and "billingAddress" in obj:
            field = "billingAddress.country"
        value = obj
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return [value]

    def _parse_filters(self, collection, raw):
        if not raw:
            return [], []
        allowed = FILTERABLE[collection]
        predicates, hints = [], []
        for term in _split_outside_quotes(raw, ","):
            parts = _split_outside_quotes(term, ":")
            if len(parts) != 3:
                raise ApiError(400, "BDC_1129", f"filters: Invalid filter '{term}'; use field:op:value and "
                                                "quote values that contain ':' or ','")
            field, op, value = parts[0].strip(), parts[1].strip(), _unquote(parts[2].strip())
            if '"' in value:
                # no escape for a double quote inside a value is documented
                raise ApiError(400, "BDC_1129", f"filters: Invalid filter value in '{term}'; a value "
                                                "cannot contain double quotes")
            if field not in allowed:
                raise ApiError(400, "BDC_1130", f"filters: The field '{field}' is not filterable")
            ops, kind = allowed[field]
            if op not in ops:
                raise ApiError(400, "BDC_1131", f"filters: The operator '{op}' is not supported for '{field}'")
            predicates.append(self._predicate(field, op, value, kind))
            hints.append((field, op, value))
        return predicates, hints

    def _predicate(self, field, op, value, kind):
        if kind == "time":
            try:
                target = parse_time_ms(value)
            except ValueError:
                raise ApiError(400, "BDC_1129", f"filters: Invalid date '{value}' for '{field}'") from None
            index = 0 if field == "createdTime" else 1
            compare = {"gt": lambda a: a > target, "gte": lambda a: a >= target,
                       "lt": lambda a: a < target, "lte": lambda a: a <= target}[op]
            return lambda obj, meta: compare(meta[index])
        if kind == "date":
            target = value[:10]
            if not _is_date(target):
                raise ApiError(400, "BDC_1129", f"filters: Invalid date '{value}' for '{field}'")
            compare = {"gt": lambda a: a > target, "gte": lambda a: a >= target,
                       "lt": lambda a: a < target, "lte": lambda a: a <= target}[op]
            return lambda obj, meta: isinstance(obj.get(field), str) and compare(obj[field][:10])
        if kind == "bool":
            if value.lower() not in ("true", "false"):
                raise ApiError(400, "BDC_1129", f"filters: Invalid value '{value}' for '{field}'")
            target = value.lower() == "true"
            if op == "eq":
                return lambda obj, meta: bool(obj.get(field)) == target
            return lambda obj, meta: bool(obj.get(field)) != target
        values = self._values
        if op in ("in", "nin"):
            targets = {v.strip() for v in value.split(",")}
            if op == "in":
                return lambda obj, meta: any(v in targets for v in values(obj, field))
            return lambda obj, meta: all(v not in targets for v in values(obj, field))
        if op == "eq":
            return lambda obj, meta: any(v == value for v in values(obj, field))
        if op == "ne":
            return lambda obj, meta: all(v != value for v in values(obj, field))
        if op == "sw":
            return lambda obj, meta: any(isinstance(v, str) and v.startswith(value) for v in values(obj, field))
        raise ApiError(400, "BDC_1131", f"filters: The operator '{op}' is not supported")
