"""Bill.com v2 bulk creates, beside the v3 client, for what v3 creates one by one
or a few at a time.

v3 has no bulk create for customers and invoices, and creates vendors 20 to a
call (bills: this client's default of 20 too); Bill.com's v2 API has
``/Bulk/Crud/Create/<Entity>.json`` for up to 100 vendors, customers, bills or
invoices a call (the sources, and what they leave open, are in
``doc/billcom-v2-bulk.md``). ``BulkV2`` takes
a ``BillComClient`` and reuses its HTTP session, in-flight gate, limiters,
counters and credentials, with a v2 session of its own (no source says a v3
session is accepted by v2).

``create(collection, bodies)`` takes the v3 bodies the mapping builds and
returns one ``Outcome`` per body, in order: the created object as v3 shows it,
or the error for that body. Whatever the server does with a call that fails
part-way (all-or-nothing, or some items created and others refused: v2 does
not say), nothing is sent twice without first looking it up by its natural
key, and everything that was created is returned, so the caller links it:

* an item whose own result says success is taken, once its natural key
  matches what was sent for it;
* an item whose own result says error was not created;
* items the answer does not account for (answer lost or malformed, an error
  for the whole call, fewer results than items, a result for another record)
  are looked up through v3 by natural key; those found are taken, the others
  are created one by one through v3, so one bad record in an all-or-nothing
  call holds back only itself.

The created objects are then read back through v3 by id, one list page per
call: the caller gets v3 objects (with v3's ``updatedTime``), and an id v2
made that v3 does not know stops the run instead of being linked.

``list(collection, filters)`` reads the same four collections through
``/List/<Entity>.json``, 999 records a page where v3 gives 100: the check that
moves a Bill.com cursor past a run's own writes (``billcom_cursors``) lists
every record the run wrote once more, and needs only each one's id and
``updatedTime``.
"""
import logging
import threading
from dataclasses import dataclass
from decimal import Decimal

import requests

from ..records import blank, json_dumps
from .client import MAX_PAGE, _never_connected
from .errors import (BillComError, BillComMalformedResponse, BillComUnavailable, BillComValidationError,
                     SessionInvalid, error_class)

_log = logging.getLogger(__name__)

MAX_BULK = 100
# "You can retrieve a maximum of 999 results with one list request" (v2 search-ops-with-lists)
MAX_LIST_PAGE = 999
# v3 filter operators as v2 writes them (v2 search-ops-with-lists; v2 consumers filter
# updatedTime with ">=" and ">")
V2_OPS = {"eq": "=", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "in": "in"}
# what v2 bulk takes over from v3 (single calls, or bulk calls of 20) when the connection asks for it
ENTITIES = {"vendors": "Vendor", "customers": "Customer", "bills": "Bill", "invoices": "Invoice"}
EMPTY_ID = "00000000000000000000"
PRODUCTION_V2 = "https://api.bill.com/api/v2"
STAGE_V2 = "https://api-stage.bill.com/api/v2"


def v2_base_url(v3_base_url):
    """The v2 base beside a v3 one: Bill.com's own hosts, else the same host (a sandbox)."""
    base = v3_base_url.rstrip("/")
    if "gateway.prod.bill.com" in base:
        return PRODUCTION_V2
    if "gateway.stage.bill.com" in base or "gateway.sandbox.bill.com" in base:
        return STAGE_V2
    if base.endswith("/connect"):
        base = base[:-len("/connect")]
    return base + "/api/v2"


@dataclass
class Outcome:
    obj: dict = None            # the object as v3 shows it, when created
    error: BillComError = None  # why it was not created


class BulkV2:
    def __init__(self, client, base_url=None, limit=MAX_BULK):
        self.client = client
        self.base_url = (base_url or v2_base_url(client.base_url)).rstrip("/")
        self.limit = max(1, min(int(limit), MAX_BULK))
        self._session_id = None
        self._login_lock = threading.Lock()

    # ------------------------------------------------------------ session
    def _login(self, stale=None):
        with self._login_lock:
            if self._session_id is not None and self._session_id != stale:
                return  # another thread has signed in already
            self._sign_in()

    def _sign_in(self):
        c = self.client
        c.login_limiter.acquire()
        c.stats.count("login_attempts")
        data = self._send("Login.json", {"userName": c._username, "password": c._password,
                                         "orgId": c.organization_id, "devKey": c._dev_key})
        envelope = self._envelope(data, "Login.json")
        if envelope.get("response_status") != 0:
            raise self._error(envelope.get("response_data"), "Bill.com refused the v2 sign-in")
        sid = (envelope.get("response_data") or {}).get("sessionId")
        if not sid:
            raise BillComMalformedResponse("Bill.com answered the v2 sign-in without a session id.")
        self._session_id = sid
        c.stats.count("logins")

    # ------------------------------------------------------------ transport
    def _send(self, path, form):
        """One form POST; the decoded JSON answer. Raises BillComUnavailable with
        ``outcome_unknown`` when the call was sent but no usable answer came back."""
        c = self.client
        for attempt in range(c.max_retries + 1):
            try:
                with c.request_limiter.request(), c.gate:
                    c.stats.count("requests", f"POST v2/{path}")
                    response = c.http.post(f"{self.base_url}/{path}", data=form, timeout=c.timeout,
                                           headers={"Accept": "application/json"})
            except (requests.ConnectionError, requests.Timeout) as exc:
                if isinstance(exc, requests.ConnectTimeout) or _never_connected(exc):
                    if attempt < c.max_retries:
                        c._wait("connection", min(c.backoff_cap, c.backoff_base * 2 ** attempt))
                        continue
                    raise BillComUnavailable(f"Bill.com v2 could not be reached ({path}).") from None
                raise BillComUnavailable(f"Bill.com v2 gave no answer ({path}).", outcome_unknown=True) from None
            try:
                return response.json(parse_float=Decimal)
            except ValueError:
                raise BillComUnavailable(f"Bill.com v2 answered HTTP {response.status_code} without JSON "
                                         f"({path}).", outcome_unknown=True, status=response.status_code) from None
        raise BillComUnavailable(f"Bill.com v2 could not be reached ({path}).")

    def _call(self, path, data):
        """A signed-in call (sign in again once if the session is gone); the envelope."""
        for _ in range(2):
            sid = self._session_id
            if sid is None:
                self._login()
                sid = self._session_id
            form = {"devKey": self.client._dev_key, "sessionId": sid,
                    "data": json_dumps(data, separators=(",", ":"))}
            envelope = self._envelope(self._send(path, form), path)
            failure = envelope.get("response_data") if envelope.get("response_status") != 0 else None
            code = failure.get("error_code") if isinstance(failure, dict) else None
            if code == "BDC_1109":
                self.client.stats.count("relogins")
                self._login(stale=sid)
                continue
            if code in ("BDC_1144", "BDC_1322"):  # refused before anything was done
                raise self._error(failure, "Bill.com refused the v2 call")
            return envelope
        raise SessionInvalid("Bill.com refused the v2 session twice.", code="BDC_1109")

    @staticmethod
    def _envelope(data, path):
        if not isinstance(data, dict) or data.get("response_status") not in (0, 1):
            raise BillComUnavailable(f"Bill.com v2 answered {path} without its envelope.", outcome_unknown=True)
        return data

    @staticmethod
    def _error(data, default):
        data = data if isinstance(data, dict) else {}
        code = data.get("error_code")
        klass = error_class(400, code) if code else BillComValidationError
        return klass(str(data.get("error_message") or default), code=code, status=200)

    # ------------------------------------------------------------ creates
    def create(self, collection, bodies):
        """One ``Outcome`` per v3 body, in order (see the module docstring)."""
        if collection not in ENTITIES:
            raise ValueError(f"v2 bulk creates only {', '.join(ENTITIES)}, not {collection}")
        bodies = list(bodies)
        outcomes = []
        for start in range(0, len(bodies), self.limit):
            outcomes.extend(self._create_chunk(collection, bodies[start:start + self.limit]))
        return outcomes

    def _create_chunk(self, collection, bodies):
        ids = [None] * len(bodies)
        errors = [None] * len(bodies)
        unknown = self._post_items(collection, bodies, range(len(bodies)), ids, errors)
        single = {}
        for i in unknown:
            # the answer did not say: look it up before anything is sent again
            lookup = self.client._lookup(collection, bodies[i])
            found = lookup() if lookup else None
            if found is not None:
                ids[i] = found["id"]
            elif lookup is None:
                errors[i] = BillComUnavailable("Bill.com did not say whether this record was created, and "
                                               "it cannot be looked up.", outcome_unknown=True)
            else:  # not made: one v3 create each, so one bad record cannot hold back the others
                single[i] = bodies[i]
        if single:
            results = self.client.map_concurrently(lambda i: self.client.create(collection, single[i]), single)
            for i, result in zip(single, results):
                if isinstance(result, BillComError):
                    errors[i] = result
                elif isinstance(result, Exception):
                    raise result
                else:
                    ids[i] = result["id"]
        created = self._read_back(collection, [i for i in ids if i])
        return [Outcome(created[ids[i]]) if ids[i] else Outcome(error=errors[i]) for i in range(len(bodies))]

    def _post_items(self, collection, bodies, indexes, ids, errors):
        """Send ``bodies[indexes]`` in one call; fill ``ids`` / ``errors``; the indexes left unknown."""
        entity = ENTITIES[collection]
        sent = [to_v2(collection, bodies[i]) for i in indexes]
        try:
            envelope = self._call(f"Bulk/Crud/Create/{entity}.json", {"bulk": [{"obj": o} for o in sent]})
        except BillComUnavailable as exc:
            if exc.outcome_unknown:
                return list(indexes)
            raise
        results = (envelope.get("response_data") or {}).get("bulk") \
            if isinstance(envelope.get("response_data"), dict) else None
        if not isinstance(results, list) or len(results) != len(indexes):
            return list(indexes)  # the answer does not say what became of each item
        unknown = []
        for i, obj, result in zip(indexes, sent, results):
            result = result if isinstance(result, dict) else {}
            data = result.get("response_data")
            if result.get("response_status") == 0 and isinstance(data, dict) and data.get("id") \
                    and _same_record(collection, obj, data):
                ids[i] = data["id"]
            elif result.get("response_status") == 1 and isinstance(data, dict) and data.get("error_code"):
                errors[i] = self._error(data, "Bill.com refused this record")
            else:
                unknown.append(i)
        return unknown

    def _read_back(self, collection, ids):
        """{id: v3 object} for ids made through v2, one v3 list page per 100."""
        found = {}
        for start in range(0, len(ids), MAX_PAGE):
            part = ids[start:start + MAX_PAGE]
            for obj in self.client.list(collection, filters=[("id", "in", part)]):
                found[obj["id"]] = obj
        missing = [i for i in ids if i not in found]
        if missing:
            raise BillComMalformedResponse(
                f"Bill.com v2 created {collection} that v3 does not show ({', '.join(missing[:3])}): "
                "the two APIs do not share ids here, so v2 bulk cannot be used.")
        return found


    # ------------------------------------------------------------- listing
    def list(self, collection, filters=()):
        """Every ``collection`` record matching ``filters`` (v3 style ``(field, op, value)``,
        times as v3 writes them), as v2 shows it, one page of 999 at a time.

        Pages go in ``createdTime`` order: a record created, or changed into the
        filter, while the pages are read lands at the end or shifts later pages
        by one (read twice); none already matching is skipped."""
        entity = ENTITIES[collection]
        query = {"start": 0, "max": MAX_LIST_PAGE, "nested": False,
                 "filters": [{"field": field, "op": V2_OPS[op], "value": _v2_filter_value(field, value)}
                             for field, op, value in filters],
                 "sort": [{"field": "createdTime", "asc": "true"}]}
        while True:
            envelope = self._call(f"List/{entity}.json", query)
            if envelope.get("response_status") != 0:
                raise self._error(envelope.get("response_data"), f"Bill.com refused the v2 list of {collection}")
            page = envelope.get("response_data")
            if not isinstance(page, list):
                raise BillComMalformedResponse(f"Bill.com answered the v2 list of {collection} without a list.")
            yield from page
            if len(page) < MAX_LIST_PAGE:
                return
            query["start"] += MAX_LIST_PAGE


def _v2_filter_value(field, value):
    """A filter value as v2 takes it: times as ``2025-12-30T07:00:00.000+0000``."""
    if field in ("createdTime", "updatedTime") and isinstance(value, str) and value.endswith("Z"):
        return value[:-1] + "+0000"
    return value


# ------------------------------------------------------------------ shapes
# v3 classification ids under their v2 names (the same on a document and on its lines)
V2_CLASSES = (("chartOfAccountId", "chartOfAccountId"), ("accountingClassId", "actgClassId"),
              ("departmentId", "departmentId"), ("locationId", "locationId"), ("itemId", "itemId"),
              ("customerId", "customerId"), ("jobId", "jobId"))
# v3 address fields and the endings of their v2 names: a vendor's ``address1``, a customer's ``billAddress1``
V2_ADDRESS = (("line1", "1"), ("line2", "2"), ("city", "City"), ("stateOrProvince", "State"),
              ("zipOrPostalCode", "Zip"), ("country", "Country"))
# what tells a record apart when an answer is checked: the fields each v2 object carries for it
NATURAL_KEYS = {"vendors": ("name",), "customers": ("name",),
                "bills": ("vendorId", "invoiceNumber"), "invoices": ("customerId", "invoiceNumber")}


def to_v2(collection, body):
    """A v3 create body in v2 field names (see doc/billcom-v2-bulk.md §4)."""
    return _TO_V2[collection](body)


def _given(body, names):
    """{v2 name: value} for the v3 fields of ``body`` that hold something."""
    return {v2: body[v3] for v3, v2 in names if not blank(body.get(v3))}


def _address(addr, prefix):
    return _given(addr or {}, [(v3, prefix + end) for v3, end in V2_ADDRESS])


def _vendor(body):
    out = {"entity": "Vendor", "isActive": "1", "name": body["name"]}
    out.update(_given(body, (("email", "email"), ("phone", "phone"), ("accountNumber", "accNumber"))))
    out.update(_given(body.get("additionalInfo") or {}, (("companyName", "companyName"),)))
    out.update(_address(body.get("address"), "address"))
    return out


def _customer(body):
    out = {"entity": "Customer", "isActive": "1", "name": body["name"]}
    out.update(_given(body, (("companyName", "companyName"), ("email", "email"), ("phone", "phone"))))
    out.update(_address(body.get("billingAddress"), "billAddress"))
    return out


def _bill(body):
    invoice = body.get("invoice") or {}
    out = {"entity": "Bill", "isActive": "1", "vendorId": body.get("vendorId"),
           "invoiceNumber": invoice.get("invoiceNumber"), "invoiceDate": invoice.get("invoiceDate"),
           "dueDate": body.get("dueDate")}
    out.update(_given(body, (("paymentTermId", "paymentTermId"), ("description", "description"))))
    out.update(_given(body.get("classifications") or {}, V2_CLASSES))
    lines = []
    for line in body.get("billLineItems") or []:
        v2 = {"entity": "BillLineItem", "amount": line.get("amount")}
        # v2 calls the unit price ``unitPrice`` (v3: ``price``)
        v2.update(_given(line, (("quantity", "quantity"), ("price", "unitPrice"), ("description", "description"))))
        v2.update(_given(line.get("classifications") or {}, V2_CLASSES))
        lines.append(v2)
    out["billLineItems"] = lines
    return out


def _invoice(body):
    out = {"entity": "Invoice", "isActive": "1", "customerId": (body.get("customer") or {}).get("id"),
           "invoiceNumber": body.get("invoiceNumber"), "invoiceDate": body.get("invoiceDate"),
           "dueDate": body.get("dueDate")}
    header = body.get("classifications") or {}
    out.update(_given(header, (("accountingClassId", "actgClassId"), ("locationId", "locationId"))))
    lines = []
    for line in body.get("invoiceLineItems") or []:
        v2 = {"entity": "InvoiceLineItem", "quantity": line.get("quantity"), "price": line.get("price")}
        v2.update(_given(line, (("description", "description"), ("itemId", "itemId"))))
        v2.update(_given(line.get("classifications") or {},
                         (("chartOfAccountId", "chartOfAccountId"), ("accountingClassId", "actgClassId"))))
        lines.append(v2)
    out["invoiceLineItems"] = lines
    return out


_TO_V2 = {"vendors": _vendor, "customers": _customer, "bills": _bill, "invoices": _invoice}


def _same_record(collection, sent, answered):
    """Whether an item's answer is about the record sent in its place."""
    return all(answered.get(key) == sent.get(key) for key in NATURAL_KEYS[collection])
