"""Bill.com v2 endpoints of the sandbox: sign-in and bulk creates of customers
and invoices (what ``sync_engine.billcom.bulk_v2`` uses).

Modelled on ``doc/billcom-v2-bulk.md``:

* every call is a form POST (``devKey``, ``sessionId``, ``data`` = JSON) under
  ``/api/v2/``; answers are the v2 envelope ``{"response_status": 0|1,
  "response_message": "Success"|"Error", "response_data": ...}``;
* ``Login.json`` (``userName``, ``password``, ``orgId``, ``devKey``) gives a v2
  session; v2 and v3 sessions are kept apart (no source says either is
  accepted by the other);
* ``Bulk/Crud/Create/{Customer,Invoice}.json`` takes ``{"bulk": [{"obj": {...}}]}``,
  at most 100 items, and answers one result per item, in order, under
  ``response_data.bulk``; the objects are the ones v3 shows (same ids);
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

ENTITIES = {"Customer": "customers", "Invoice": "invoices"}
MAX_BULK = 100


def setup_v2_routes(sandbox):
    """Register the v2 routes on a ``BillComSandbox`` (called from its ``setup_routes``)."""
    if not hasattr(sandbox, "v2_sessions"):
        sandbox.v2_sessions = {}
        sandbox.v2_bulk_mode = "per_item"
    sandbox.route("POST", "/api/v2/Login.json", lambda request: _login(sandbox, request))
    sandbox.route("POST", r"/api/v2/Bulk/Crud/Create/(?P<entity>Customer|Invoice)\.json",
                  lambda request: _bulk_create(sandbox, request))


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


def _bulk_create(sb, request):
    f = form(request)
    session = _session(sb, f)
    if session is None:
        return _failed("BDC_1109", "Session is invalid.  Please log in.")
    collection = ENTITIES[request.match.group("entity")]
    try:
        data = json.loads(f.get("data") or "null")
    except ValueError:
        return _failed("BDC_1122", "Unable to parse the data as JSON.")
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


def _ok_item(obj):
    return {"response_status": 0, "response_message": "Success", "response_data": obj}


def _create_one(sb, collection, item, session):
    obj = item.get("obj") if isinstance(item, dict) else None
    if not isinstance(obj, dict):
        raise ApiError(400, "BDC_1108", "obj: Missing value")
    entity = "Customer" if collection == "customers" else "Invoice"
    if obj.get("entity") != entity:
        raise ApiError(400, "BDC_1116", f"entity: expected {entity}")
    created = sb._create(collection, from_v2(collection, obj), session.user_id)
    return to_v2_answer(collection, created)


def from_v2(collection, obj):
    """A v2 object as the v3 create body the sandbox builds from."""
    if collection == "customers":
        body = {"name": obj.get("name"), "accountType": "BUSINESS"}
        for name in ("companyName", "email", "phone"):
            if obj.get(name):
                body[name] = obj[name]
        addr = {v3: obj[v2] for v2, v3 in (("billAddress1", "line1"), ("billAddress2", "line2"),
                                            ("billAddressCity", "city"), ("billAddressState", "stateOrProvince"),
                                            ("billAddressZip", "zipOrPostalCode"), ("billAddressCountry", "country"))
                if obj.get(v2)}
        if addr:
            body["billingAddress"] = addr
        return body
    body = {"customer": {"id": obj.get("customerId")}, "invoiceNumber": obj.get("invoiceNumber"),
            "invoiceDate": obj.get("invoiceDate"), "dueDate": obj.get("dueDate"), "invoiceLineItems": []}
    header = {k3: obj[k2] for k2, k3 in (("actgClassId", "accountingClassId"), ("locationId", "locationId"))
              if obj.get(k2) and obj[k2] != "0" * 20}
    if header:
        body["classifications"] = header
    for line in obj.get("invoiceLineItems") or []:
        out = {k: line[k] for k in ("quantity", "price", "description", "itemId") if line.get(k) is not None}
        cls = {k3: line[k2] for k2, k3 in (("chartOfAccountId", "chartOfAccountId"),
                                           ("actgClassId", "accountingClassId")) if line.get(k2)}
        if cls:
            out["classifications"] = cls
        body["invoiceLineItems"].append(out)
    return body


def _v2_time(text):
    moment = datetime.datetime.fromisoformat(text)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to_v2_answer(collection, obj):
    """A stored (v3) object as a v2 answer shows it (same id)."""
    out = {"entity": "Customer" if collection == "customers" else "Invoice", "id": obj["id"],
           "isActive": "2" if obj.get("archived") else "1",
           "createdTime": _v2_time(obj["createdTime"]), "updatedTime": _v2_time(obj["updatedTime"])}
    if collection == "customers":
        out.update({k: obj.get(k) for k in ("name", "companyName", "email", "phone")})
        return out
    out.update({"customerId": obj.get("customerId") or (obj.get("customer") or {}).get("id"),
                "invoiceNumber": obj.get("invoiceNumber"), "invoiceDate": obj.get("invoiceDate"),
                "dueDate": obj.get("dueDate"), "amount": obj.get("totalAmount"), "amountDue": obj.get("dueAmount")})
    return out
