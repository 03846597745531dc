"""Bill.com v2 endpoints of the sandbox: sign-in and bulk creates of vendors,
customers, bills and invoices (what ``sync_engine.billcom.bulk_v2`` uses).

Modelled on ``doc/billcom-v2-bulk.md``:

* every call is a form POST (``devKey``, ``sessionId``, ``data`` = JSON) under
  ``/api/v2/``; answers are the v2 envelope ``{"response_status": 0|1,
  "response_message": "Success"|"Error", "response_data": ...}``;
* ``Login.json`` (``userName``, ``password``, ``orgId``, ``devKey``) gives a v2
  session; v2 and v3 sessions are kept apart (no source says either is
  accepted by the other);
* ``Bulk/Crud/Create/{Vendor,Customer,Bill,Invoice}.json`` takes
  ``{"bulk": [{"obj": {...}}]}``, at most 100 items, and answers one result per
  item, in order, under ``response_data.bulk``; the objects are the ones v3
  shows (same ids);
* each item is turned into the v3 body it stands for and checked and stored by
  the same code as a v3 create (``_create``), so v2 refuses what v3 refuses;
  v2 field names follow doc/billcom-v2-bulk.md §4 (a vendor's ``address1``,
  ``accNumber``; a bill's flat ``invoiceNumber``, its lines' ``unitPrice``
  and ``actgClassId``); ``"00000000000000000000"`` is an empty reference. A
  bill item's ``allowDuplicateInvNum`` is accepted and changes nothing: v3
  creates take duplicate invoice numbers here too;
* ``List/{Vendor,Customer,Bill,Invoice}.json`` takes ``{"start", "max",
  "filters": [{"field", "op", "value"}], "sort": [{"field", "asc"}],
  "nested"}`` (v2 search-ops-with-lists): at most 999 results a call, ``max``
  999 when not given; filters on ``id``, ``createdTime`` and ``updatedTime``
  with ``=``, ``!=``, ``<``, ``>``, ``<=``, ``>=`` and ``in`` (a comma list),
  times as ``2025-12-30T07:00:00.000+0000``, through the v3 list's own
  filtering; results in the order asked for (one field), else in the order
  they were created; lines only when ``nested`` is true;
* what a failing item does to the others is not documented, so it is a
  setting: ``v2_bulk_mode = "per_item"`` (each item on its own; the call's
  status is 1 when any item failed) or ``"all_or_nothing"`` (nothing is kept
  and the answer is one error for the whole call, with no per-item results).

Requests count against the same limits as v3 (the in-flight gate is keyed by
the form's ``devKey``).
"""
import datetime
import json
import secrets
import urllib.parse

from .billcom_common import ApiError, Session
from .httpserver import Response

ENTITIES = {"Vendor": "vendors", "Customer": "customers", "Bill": "bills", "Invoice": "invoices"}
EMPTY_ID = "0" * 20
MAX_BULK = 100


def setup_v2_routes(sandbox):
    """Register the v2 routes on a ``BillComSandbox`` (called from its ``setup_routes``)."""
    if not hasattr(sandbox, "v2_sessions"):
        sandbox.v2_sessions = {}
        sandbox.v2_bulk_mode = "per_item"
    sandbox.route("POST", "/api/v2/Login.json", lambda request: _login(sandbox, request))
    sandbox.route("POST", r"/api/v2/Bulk/Crud/Create/(?P<entity>%s)\.json" % "|".join(ENTITIES),
                  lambda request: _bulk_create(sandbox, request))
    sandbox.route("POST", r"/api/v2/List/(?P<entity>%s)\.json" % "|".join(ENTITIES),
                  lambda request: _list(sandbox, request))


def form(request):
    """The form fields of a v2 request ({name: value})."""
    try:
        fields = urllib.parse.parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}
    return {k: v[0] for k, v in fields.items()}


def _ok(data):
    return Response(200, {"response_status": 0, "response_message": "Success", "response_data": data})


def _failed(code, message, data=None):
    return Response(200, {"response_status": 1, "response_message": "Error",
                          "response_data": data if data is not None else {"error_code": code,
                                                                          "error_message": message}})


def _error_item(code, message):
    return {"response_status": 1, "response_message": "Error",
            "response_data": {"error_code": code, "error_message": message}}


def _login(sb, request):
    f = form(request)
    for name in ("userName", "password", "orgId", "devKey"):
        if not f.get(name):
            return _failed("BDC_1108", f"{name}: Missing value")
    if f["devKey"] != sb.dev_key:
        return _failed("BDC_1102", "Invalid developer key.")
    if f["orgId"] != sb.organization_id:
        return _failed("BDC_1123", "Invalid organization id.")
    if f["userName"] != sb.username or f["password"] != sb.password:
        return _failed("BDC_1101", "Sign in failed. Please verify your username and password.")
    now = sb.clock.now()
    session = Session("v2" + secrets.token_urlsafe(22), f["devKey"], sb.user_id, sb.organization_id, now, now)
    sb.v2_sessions[session.id] = session
    sb.logins += 1
    return _ok({"sessionId": session.id, "orgId": sb.organization_id, "apiEndPoint": sb.base_url + "/api/v2",
                "usersId": sb.user_id})


def _session(sb, f):
    session = sb.v2_sessions.get(f.get("sessionId") or "")
    now = sb.clock.now()
    if session and now - session.last_used > sb.session_idle_timeout:
        sb.v2_sessions.pop(session.id, None)
        session = None
    if session is None or session.dev_key != f.get("devKey"):
        return None
    session.last_used = now
    return session


def _signed_in_call(sb, request):
    """(session, collection, data) of a v2 call on an entity, or the answer refusing it."""
    f = form(request)
    session = _session(sb, f)
    if session is None:
        return _failed("BDC_1109", "Session is invalid.  Please log in.")
    try:
        data = json.loads(f.get("data") or "null")
    except ValueError:
        return _failed("BDC_1122", "Unable to parse the data as JSON.")
    return session, ENTITIES[request.match.group("entity")], data


def _bulk_create(sb, request):
    call = _signed_in_call(sb, request)
    if isinstance(call, Response):
        return call
    session, collection, data = call
    items = data.get("bulk") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        return _failed("BDC_1108", "bulk: Missing value")
    if len(items) > MAX_BULK:
        return _failed("BDC_1119", f"bulk: at most {MAX_BULK} objects; got {len(items)}")
    if sb.v2_bulk_mode == "all_or_nothing":
        try:
            with sb._transaction():
                results = [_create_one(sb, collection, item, session) for item in items]
        except ApiError as exc:
            return _failed(exc.code, exc.message)
        return _ok({"bulk": [_ok_item(r) for r in results]})
    results, failed = [], False
    for item in items:
        try:
            with sb._transaction():  # each item on its own
                results.append(_ok_item(_create_one(sb, collection, item, session)))
        except ApiError as exc:
            failed = True
            results.append(_error_item(exc.code, exc.message))
    return _failed(None, None, {"bulk": results}) if failed else _ok({"bulk": results})


MAX_LIST = 999
# v2 list operators as the v3 list's own filters write them: one filtering and
# sorting code for both APIs
LIST_OPS = {"=": "eq", "!=": "ne", "<": "lt", ">": "gt", "<=": "lte", ">=": "gte", "in": "in"}
LIST_FIELDS = ("id", "createdTime", "updatedTime")


def _list(sb, request):
    call = _signed_in_call(sb, request)
    if isinstance(call, Response):
        return call
    _, collection, data = call
    data = data if data is not None else {}
    try:
        start, size = int(data.get("start", 0)), min(int(data.get("max", MAX_LIST)), MAX_LIST)
        filters = ",".join(_list_filter(term) for term in data.get("filters") or [])
        sort = [(term["field"], str(term.get("asc", "true")).lower() != "false") for term in data.get("sort") or []]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return _failed("BDC_1122", f"Unable to read the list request: {exc}")
    if start < 0 or size < 1 or len(sort) > 1:
        return _failed("BDC_1122", "start and max must be positive; the sandbox sorts v2 lists on one field")
    sort_raw = f"{sort[0][0]}:{'asc' if sort[0][1] else 'desc'}" if sort else ""
    with sb.lock:
        coll = sb._coll(collection)
        try:
            _keys, ids = sb._view(coll, filters, sort_raw.replace(":desc", ":asc"))
        except ApiError as exc:
            return _failed(exc.code, exc.message)
        if sort_raw.endswith(":desc"):
            ids = ids[::-1]
        page = [to_v2_answer(collection, coll.objects[i]) for i in ids[start:start + size]]
    if not data.get("nested"):
        for row in page:
            row.pop("billLineItems", None)
            row.pop("invoiceLineItems", None)
    return _ok(page)


def _list_filter(term):
    """One v2 filter as a term of the v3 ``filters`` parameter."""
    field, op, value = term["field"], term["op"], term["value"]
    if field not in LIST_FIELDS:
        raise ValueError(f"the sandbox filters v2 lists on {', '.join(LIST_FIELDS)} only, not {field}")
    return f'{field}:{LIST_OPS[op]}:"{value}"'


def _ok_item(obj):
    return {"response_status": 0, "response_message": "Success", "response_data": obj}


def _create_one(sb, collection, item, session):
    obj = item.get("obj") if isinstance(item, dict) else None
    if not isinstance(obj, dict):
        raise ApiError(400, "BDC_1108", "obj: Missing value")
    entity = next(name for name, coll in ENTITIES.items() if coll == collection)
    if obj.get("entity") != entity:
        raise ApiError(400, "BDC_1116", f"entity: expected {entity}")
    created = sb._create(collection, from_v2(collection, obj), session.user_id)
    return to_v2_answer(collection, created)


# v2 classification ids under their v3 names (the same on a document and on its lines)
V2_CLASSES = (("chartOfAccountId", "chartOfAccountId"), ("actgClassId", "accountingClassId"),
              ("departmentId", "departmentId"), ("locationId", "locationId"), ("itemId", "itemId"),
              ("customerId", "customerId"), ("jobId", "jobId"))
BILL_HEADER_CLASSES = ("chartOfAccountId", "departmentId", "locationId", "actgClassId")  # what a v2 bill shows
# the endings of v2 address names (a vendor's ``address1``, a customer's ``billAddress1``) and the v3 field
V2_ADDRESS = (("1", "line1"), ("2", "line2"), ("City", "city"), ("State", "stateOrProvince"),
              ("Zip", "zipOrPostalCode"), ("Country", "country"))


def _given(obj, names):
    """{v3 name: value} for the v2 fields of ``obj`` that hold something (an empty reference holds nothing)."""
    return {v3: obj[v2] for v2, v3 in names if obj.get(v2) not in (None, "", EMPTY_ID)}


def _address(obj, prefix):
    return _given(obj, [(prefix + end, v3) for end, v3 in V2_ADDRESS])


def from_v2(collection, obj):
    """A v2 object as the v3 create body the sandbox builds from."""
    if collection == "vendors":
        body = {"name": obj.get("name")}
        body.update(_given(obj, (("shortName", "shortName"), ("email", "email"), ("phone", "phone"),
                                 ("accNumber", "accountNumber"), ("billCurrency", "billCurrency"))))
        if obj.get("companyName"):
            body["additionalInfo"] = {"companyName": obj["companyName"]}
        if obj.get("nameOnCheck"):
            body["paymentInformation"] = {"payeeName": obj["nameOnCheck"]}
        address = _address(obj, "address")
        if address:
            body["address"] = address
        return body
    if collection == "customers":
        body = {"name": obj.get("name"), "accountType": "BUSINESS"}
        body.update(_given(obj, (("companyName", "companyName"), ("email", "email"), ("phone", "phone"))))
        address = _address(obj, "billAddress")
        if address:
            body["billingAddress"] = address
        return body
    if collection == "bills":
        body = {"vendorId": obj.get("vendorId"), "dueDate": obj.get("dueDate"),
                "invoice": {"invoiceNumber": obj.get("invoiceNumber"), "invoiceDate": obj.get("invoiceDate")}}
        body.update(_given(obj, (("paymentTermId", "paymentTermId"), ("description", "description"),
                                 ("poNumber", "purchaseOrderNumber"),
                                 ("payFromChartOfAccountId", "payFromChartOfAccountId"))))
        header = _given(obj, V2_CLASSES)
        if header:
            body["classifications"] = header
        lines = obj.get("billLineItems")
        # what is not a list of objects goes on as it is: the v3 checks name what is wrong with it
        body["billLineItems"] = [_bill_line(line) if isinstance(line, dict) else line for line in lines] \
            if isinstance(lines, list) else lines
        return body
    body = {"customer": {"id": obj.get("customerId")}, "invoiceNumber": obj.get("invoiceNumber"),
            "invoiceDate": obj.get("invoiceDate"), "dueDate": obj.get("dueDate"), "invoiceLineItems": []}
    header = _given(obj, (("actgClassId", "accountingClassId"), ("locationId", "locationId")))
    if header:
        body["classifications"] = header
    for line in obj.get("invoiceLineItems") or []:
        out = {k: line[k] for k in ("quantity", "price", "description", "itemId") if line.get(k) is not None}
        cls = _given(line, (("chartOfAccountId", "chartOfAccountId"), ("actgClassId", "accountingClassId")))
        if cls:
            out["classifications"] = cls
        body["invoiceLineItems"].append(out)
    return body


def _bill_line(line):
    out = _given(line, (("amount", "amount"), ("quantity", "quantity"), ("unitPrice", "price"),
                        ("description", "description")))
    classes = _given(line, V2_CLASSES)
    if classes:
        out["classifications"] = classes
    return out


def _v2_time(text):
    moment = datetime.datetime.fromisoformat(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _v2_id(value):
    return value or EMPTY_ID


def to_v2_answer(collection, obj):
    """A stored (v3) object as a v2 answer shows it (same id)."""
    entity = next(name for name, coll in ENTITIES.items() if coll == collection)
    out = {"entity": entity, "id": obj["id"], "isActive": "2" if obj.get("archived") else "1",
           "createdTime": _v2_time(obj["createdTime"]), "updatedTime": _v2_time(obj["updatedTime"])}
    if collection == "vendors":
        address = obj.get("address") or {}
        out.update({"name": obj.get("name"), "shortName": obj.get("shortName"),
                    "companyName": (obj.get("additionalInfo") or {}).get("companyName"),
                    "nameOnCheck": (obj.get("paymentInformation") or {}).get("payeeName"),
                    "accNumber": obj.get("accountNumber"), "email": obj.get("email"), "phone": obj.get("phone"),
                    "billCurrency": obj.get("billCurrency")})
        out.update({"address" + end: address.get(v3) for end, v3 in V2_ADDRESS})
        return out
    if collection == "customers":
        out.update({k: obj.get(k) for k in ("name", "companyName", "email", "phone")})
        return out
    if collection == "bills":
        header = obj.get("classifications") or {}
        out.update({"vendorId": obj["vendorId"], "invoiceNumber": obj["invoice"]["invoiceNumber"],
                    "invoiceDate": obj["invoice"]["invoiceDate"], "dueDate": obj.get("dueDate"),
                    "amount": obj.get("amount"), "paidAmount": obj.get("paidAmount"),
                    "dueAmount": obj.get("dueAmount"), "creditAmount": obj.get("creditAmount"),
                    "scheduledAmount": obj.get("scheduledAmount"), "description": obj.get("description"),
                    "poNumber": obj.get("purchaseOrderNumber"), "paymentTermId": _v2_id(obj.get("paymentTermId"))})
        out.update({v2: _v2_id(header.get(v3)) for v2, v3 in V2_CLASSES if v2 in BILL_HEADER_CLASSES})
        lines = []
        for line in obj.get("billLineItems") or []:
            classes = line.get("classifications") or {}
            v2 = {"entity": "BillLineItem", "id": line["id"], "billId": obj["id"], "amount": line.get("amount"),
                  "quantity": line.get("quantity"), "unitPrice": line.get("price"),
                  "description": line.get("description")}
            v2.update({name: _v2_id(classes.get(v3)) for name, v3 in V2_CLASSES})
            lines.append(v2)
        out["billLineItems"] = lines
        return out
    out.update({"customerId": obj.get("customerId") or (obj.get("customer") or {}).get("id"),
                "invoiceNumber": obj.get("invoiceNumber"), "invoiceDate": obj.get("invoiceDate"),
                "dueDate": obj.get("dueDate"), "amount": obj.get("totalAmount"), "amountDue": obj.get("dueAmount")})
    return out
