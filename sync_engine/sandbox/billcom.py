"""A local Bill.com v3 API on 127.0.0.1, faithful enough to test a sync against.

What it speaks (paths under ``/v3``; a client's base URL has no ``/v3``):

* ``POST /v3/login`` / ``POST /v3/logout`` / ``GET /v3/login/session``; every
  other call needs the ``devKey`` and ``sessionId`` headers. Sessions are bound
  to the developer key and expire after 35 idle minutes (sliding).
* Limits per developer key: 20,000 requests per clock hour (``BDC_1144`` until
  the top of the next hour), 200 logins per clock hour, at most 3 requests in
  flight per developer key and organization (``BDC_1322``). Refused requests do
  no work. The per-request latency is slept *inside* the in-flight region.
* Vendors, customers, bills, invoices, vendor credits, credit memos, the GL
  classifications and payment terms, with list paging (``max``, opaque ``page``
  cursors, ``filters``, ``sort``), get, create, PATCH/PUT, archive/restore and
  bulk endpoints; recorded AP and AR payments; the organization.
* Errors as the v3 error array ``[{timestamp, code, severity, category, message}]``;
  a message that concerns one field starts with ``field: `` and a bulk item
  failure with ``[index].field: ``.
* Fault kinds (``inject(kind, count, method, path)``) beyond the generic ones:
  ``session_expired`` (401 ``BDC_1109``, the session is dropped), ``quota``
  (``BDC_1144``), ``concurrency`` (``BDC_1322``), ``server`` (500 with an
  error array) and ``lost_response`` (the request is carried out, then the
  connection drops before the answer). The generic ``429`` answers with the
  ``BDC_1322`` array.
* Control endpoints besides the base ones: ``GET /_sandbox/state``
  (``?snapshot=1`` adds ``snapshot()``), ``POST /_sandbox/expire-sessions``,
  ``POST /_sandbox/organization`` ``{signupDate, startDate, createdUnderAccountantConsole}``.
* Python API for seeding and checks (no HTTP, no limits): ``add``,
  ``user_update``, ``pay_bill``, ``receive_payment``, ``approve_bill``,
  ``get``, ``all``, ``count``, ``expire_sessions``, ``snapshot``,
  ``credentials``.

Assumptions where Bill.com's documentation is silent (each can be changed
through an attribute of the same name):

* Credit memo ids use the prefix ``0cm``; job ids ``job``; line items ``bli``
  (bills), ``ili`` (invoices), ``cml`` (credit memos), ``vcl`` (vendor
  credits); AP payment lines ``blp``.
* Bill ``paymentStatus`` goes ``UNPAID`` -> ``PARTIALLY_PAID`` -> ``PAID``;
  ``paidAmount`` includes applied vendor credits, ``creditAmount`` is the
  credit part, ``dueAmount = amount - paidAmount``. Invoices go ``OPEN`` ->
  ``PARTIAL_PAYMENT`` -> ``PAID_IN_FULL``; ``dueAmount = totalAmount - paid -
  creditAmount``. New bills get ``approvalStatus`` = ``default_approval_status``
  (``APPROVED``).
* Recording or making a payment bumps ``updatedTime`` of every bill/invoice it
  touches (and of the vendor credits and credit memos it consumes); a vendor's
  ``balance`` follows its bills without bumping the vendor's ``updatedTime``.
* Vendor credits and credit memos report ``appliedAmount`` and
  ``availableAmount``. A vendor credit on record-payment may name the bill it
  goes to (``billId``); otherwise credits fill the listed bills in order.
* Lists include archived objects unless filtered; without ``sort`` they come in
  creation order. Bulk endpoints take a JSON array, answer a JSON array in input
  order, accept at most ``bulk_limits[name]`` items (default 20) and are
  all-or-nothing. ``PATCH .../bulk`` exists for credit memos and the
  classifications only.
* Referenced ids (vendor, customer, chart of accounts, class, ...) must exist;
  bills for an archived vendor, payments on archived documents and payments
  above the amount due are refused with HTTP 400.
* Timestamps come from ``clock``; two writes in the same millisecond get
  distinct, increasing ``updatedTime`` values (the later one is moved 1 ms on),
  so ``updatedTime:gt:`` cursors never lose a write.
* Org facts the real API does not expose (sign-up date, start date, created
  under an accountant console) are attributes of the sandbox and appear in
  ``GET /v3/organizations/{orgId}`` under ``sandboxExtension``.
"""
import base64
import bisect
import contextlib
import copy
import datetime
import json
import random
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import partial

from .httpserver import Response, SandboxServer, _DropConnection

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


# ================================================================== sandbox
class BillComSandbox(SandboxServer):
    name = "billcom"

    def __init__(self, port=0, latency=0.0, clock=None, organization_id=None, dev_key=None,
                 username=None, password=None, organization_name="Sandbox Company",
                 session_idle_timeout=2100, hourly_limit=20000, login_hourly_limit=200,
                 max_concurrent=3, enforce_limits=True, bulk_limits=None, throttle_status=429,
                 seed=None):
        self.rng = random.Random(seed)
        self.organization_id = organization_id or self.new_id("008")
        self.dev_key = dev_key or "".join(self.rng.choice(ID_CHARS) for _ in range(36))
        self.username = username or f"api-{self.rng.randrange(10**6):06d}@sandbox.example"
        self.password = password or "".join(self.rng.choice(ID_CHARS) for _ in range(20))
        self.organization_name = organization_name
        self.user_id = self.new_id("006")  # the API user the credentials belong to
        self.web_user_id = self.new_id("006")  # a person working in the web app
        self.session_idle_timeout = session_idle_timeout
        self.hourly_limit = hourly_limit
        self.login_hourly_limit = login_hourly_limit
        self.max_concurrent = max_concurrent
        self.enforce_limits = enforce_limits
        self.bulk_limits = dict(bulk_limits or {})
        self.default_bulk_limit = 20
        self.throttle_status = throttle_status
        self.dev_key_active = True
        self.default_approval_status = "APPROVED"
        # organization facts the real API does not expose (per-org configuration)
        self.signup_date = "2018-06-01"
        self.start_date = "2019-06-01"
        self.created_under_accountant_console = False
        self.organization_created = "2018-06-01T15:00:00.000+00:00"

        self.sessions = {}
        self.collections = {name: _Collection(name, prefix) for name, prefix in PREFIXES.items()}
        self._journal = None
        self._last_ms = 0
        self._next_invoice_number = 1001
        # limit bookkeeping (own lock: checked before the state lock is taken)
        self._gate_lock = threading.Lock()
        self._in_flight = {}
        self._hour_counts = {}  # dev key -> (hour, requests)
        self._login_counts = {}  # dev key -> (hour, logins)
        self.peak_in_flight = 0
        self.refused = {"concurrency": 0, "quota": 0, "login_quota": 0}
        self.logins = 0
        self.request_latency = 0.0
        super().__init__(port=port, latency=latency, clock=clock)

    # The base handler sleeps ``latency`` before dispatching, outside any
    # in-flight accounting. Here the sleep belongs inside the in-flight region
    # (see ``dispatch``), so the base always reads 0 and a value set through
    # ``sandbox.latency = x`` or ``POST /_sandbox/latency`` goes to
    # ``request_latency``.
    @property
    def latency(self):
        return 0.0

    @latency.setter
    def latency(self, value):
        self.request_latency = float(value or 0.0)

    # ------------------------------------------------------------ identity
    def new_id(self, prefix):
        return prefix + "02" + "".join(self.rng.choices(ID_CHARS, k=15))

    def credentials(self):
        """What a client needs to connect (for tests and the demo)."""
        return {"base_url": self.base_url, "dev_key": self.dev_key, "username": self.username,
                "password": self.password, "organization_id": self.organization_id}

    def is_auth_path(self, path):
        return path in ("/v3/login", "/v3/logout")

    # ------------------------------------------------------------ routes
    def setup_routes(self):
        auth = self._authed
        self.route("POST", "/v3/login", self._h_login)
        self.route("POST", "/v3/logout", auth(self._h_logout))
        self.route("GET", "/v3/login/session", auth(self._h_session))
        org = r"/v3/organizations/(?P<org>[^/]+)"
        self.route("GET", org, auth(self._h_organization))
        self.route("GET", org + "/payment-terms", auth(self._org_scoped(partial(self._h_list, "payment-terms"))))
        self.route("POST", org + "/payment-terms", auth(self._org_scoped(partial(self._h_create, "payment-terms"))))
        self.route("GET", org + r"/payment-terms/(?P<id>[^/]+)",
                   auth(self._org_scoped(partial(self._h_get, "payment-terms"))))
        self.route("POST", "/v3/bills/record-payment", auth(self._h_record_ap))
        self.route("POST", "/v3/invoices/record-payment", auth(self._h_record_ar))
        for name in ("payments", "receivable-payments"):
            self.route("GET", f"/v3/{name}", auth(partial(self._h_list, name)))
            self.route("GET", f"/v3/{name}/(?P<id>[^/]+)", auth(partial(self._h_get, name)))
        for name in ARCHIVABLE:
            base = f"/v3/{name}"
            if name in BULK_CREATE:
                self.route("POST", base + "/bulk", auth(partial(self._h_bulk_create, name)))
            if name in BULK_UPDATE:
                self.route("PATCH", base + "/bulk", auth(partial(self._h_bulk_update, name)))
            self.route("GET", base, auth(partial(self._h_list, name)))
            self.route("POST", base, auth(partial(self._h_create, name)))
            one = base + "/(?P<id>[^/]+)"
            self.route("GET", one, auth(partial(self._h_get, name)))
            self.route("PATCH", one, auth(partial(self._h_update, name, False)))
            if name in WITH_PUT:
                self.route("PUT", one, auth(partial(self._h_update, name, True)))
            self.route("POST", one + "/archive", auth(partial(self._h_archive, name, True)))
            self.route("POST", one + "/restore", auth(partial(self._h_archive, name, False)))

    # ------------------------------------------------------------ dispatch
    def dispatch(self, request):
        if request.path.startswith("/_sandbox/"):
            return super().dispatch(request)
        dev_key = request.headers.get("devkey")
        if dev_key is None and request.path == "/v3/login":
            try:
                dev_key = (request.json() or {}).get("devKey")
            except (ValueError, AttributeError):
                dev_key = None
        gate_key = (dev_key or "", self.organization_id)
        admitted = False
        if self.enforce_limits:
            refusal = self._admit(gate_key)
            if refusal is not None:
                return refusal
            admitted = True
        try:
            if self.request_latency:
                time.sleep(self.request_latency)
            with self.lock:
                try:
                    response = super().dispatch(request)
                except ApiError as exc:
                    response = self.error(exc.status, exc.code, exc.message, exc.category)
                return self._encoded(response)
        finally:
            if admitted:
                with self._gate_lock:
                    self._in_flight[gate_key] -= 1

    def _admit(self, gate_key):
        dev_key = gate_key[0]
        hour = int(self.clock.now() // 3600)
        with self._gate_lock:
            counted_hour, count = self._hour_counts.get(dev_key, (hour, 0))
            if counted_hour != hour:
                count = 0
            if count >= self.hourly_limit:
                self.refused["quota"] += 1
                return self.error(self.throttle_status, "BDC_1144",
                                  f"Max number of allowed requests per hour reached: {self.hourly_limit}.",
                                  "APPLICATION")
            self._hour_counts[dev_key] = (hour, count + 1)
            in_flight = self._in_flight.get(gate_key, 0)
            if in_flight >= self.max_concurrent:
                self.refused["concurrency"] += 1
                return self._concurrency_error()
            self._in_flight[gate_key] = in_flight + 1
            self.peak_in_flight = max(self.peak_in_flight, in_flight + 1)
        return None

    def _concurrency_error(self, status=None):
        return self.error(status or self.throttle_status, "BDC_1322",
                          "Max number of concurrent requests per organization reached.", "APPLICATION")

    def _encoded(self, response):
        if isinstance(response.body, (dict, list)):
            response.body = json.dumps(response.body, separators=(",", ":")).encode("utf-8")
        return response

    def error(self, status, code, message, category="REQUEST", severity="ERROR"):
        return Response(status, [{"timestamp": format_ms(int(self.clock.now() * 1000)), "code": code,
                                  "severity": severity, "category": category, "message": message}])

    def not_found(self, request):
        return self.error(404, "BDC_1121", f"API not supported: {request.method} {request.path}")

    def fault_response(self, kind, request):
        if kind == "session_expired":
            with self.lock:
                self.sessions.pop(request.headers.get("sessionid"), None)
            return self.error(401, "BDC_1109", "Session is invalid.  Please log in.", "DOWNSTREAM")
        if kind == "quota":
            return self.error(self.throttle_status, "BDC_1144",
                              f"Max number of allowed requests per hour reached: {self.hourly_limit}.",
                              "APPLICATION")
        if kind == "concurrency":
            return self._concurrency_error()
        if kind == "429":
            return self._concurrency_error(429)
        if kind == "server":
            return self.error(500, "BDC_1001", "An unexpected system error occurred.", "SERVER")
        if kind == "lost_response":
            # the request is carried out, then the connection drops before the answer
            response = self.dispatch(request)
            self.log(request.method, request.path, "", 0, "lost_response:%d" % response.status)
            raise _DropConnection()
        return super().fault_response(kind, request)

    def control(self, request):
        if request.path == "/_sandbox/state" and request.method == "GET":
            with self.lock:
                state = {"organizationId": self.organization_id,
                         "counts": {name: len(c.objects) for name, c in self.collections.items()},
                         "sessions": len(self.sessions), "logins": self.logins,
                         "peakInFlight": self.peak_in_flight, "refused": dict(self.refused)}
                if request.param("snapshot"):
                    state["snapshot"] = self.snapshot()
            return Response(200, state)
        if request.path == "/_sandbox/expire-sessions" and request.method == "POST":
            self.expire_sessions()
            return Response(200, {"expired": True})
        if request.path == "/_sandbox/organization" and request.method == "POST":
            body = request.json() or {}
            with self.lock:
                self.signup_date = body.get("signupDate", self.signup_date)
                self.start_date = body.get("startDate", self.start_date)
                self.created_under_accountant_console = bool(
                    body.get("createdUnderAccountantConsole", self.created_under_accountant_console))
            return Response(200, self._organization())
        return super().control(request)

    # ----------------------------------------------------------- auth
    def _authed(self, handler):
        def wrapped(request):
            session = self._authenticate(request)
            return handler(request, session)
        return wrapped

    def _authenticate(self, request):
        dev_key = request.headers.get("devkey")
        if not dev_key or dev_key != self.dev_key:
            raise ApiError(401, "BDC_1102", "Invalid developer key.", "DOWNSTREAM")
        if not self.dev_key_active:
            raise ApiError(401, "BDC_1103", "Developer key is inactive.", "DOWNSTREAM")
        sid = request.headers.get("sessionid")
        session = self.sessions.get(sid) if sid else None
        now = self.clock.now()
        if session and now - session.last_used > self.session_idle_timeout:
            self.sessions.pop(sid, None)
            session = None
        if session is None or session.dev_key != dev_key:
            raise ApiError(401, "BDC_1109", "Session is invalid.  Please log in.", "DOWNSTREAM")
        session.last_used = now
        return session

    def _h_login(self, request):
        body = self._body(request, dict)
        for field in ("username", "password", "organizationId", "devKey"):
            if not body.get(field):
                raise _missing(field)
        dev_key = body["devKey"]
        if self.enforce_limits:
            hour = int(self.clock.now() // 3600)
            counted_hour, count = self._login_counts.get(dev_key, (hour, 0))
            if counted_hour != hour:
                count = 0
            if count >= self.login_hourly_limit:
                self.refused["login_quota"] += 1
                raise ApiError(self.throttle_status, "BDC_1144",
                               f"Max number of allowed login requests per hour reached: "
                               f"{self.login_hourly_limit}.", "APPLICATION")
            self._login_counts[dev_key] = (hour, count + 1)
        if dev_key != self.dev_key:
            raise ApiError(401, "BDC_1102", "Invalid developer key.", "DOWNSTREAM")
        if not self.dev_key_active:
            raise ApiError(401, "BDC_1103", "Developer key is inactive.", "DOWNSTREAM")
        if body["organizationId"] != self.organization_id:
            raise ApiError(401, "BDC_1123", "Invalid organization id.", "DOWNSTREAM")
        if body["username"] != self.username or body["password"] != self.password:
            raise ApiError(401, "BDC_1101", "Sign in failed. Please verify your username and password.",
                           "DOWNSTREAM")
        now = self.clock.now()
        session = Session(secrets.token_urlsafe(24), dev_key, self.user_id, self.organization_id, now, now)
        self.sessions[session.id] = session
        self.logins += 1
        return Response(200, {"sessionId": session.id, "organizationId": self.organization_id,
                              "userId": self.user_id, "trusted": False})

    def _h_logout(self, request, session):
        self.sessions.pop(session.id, None)
        return Response(200, {})

    def _h_session(self, request, session):
        return Response(200, {"organization": {"id": self.organization_id, "name": self.organization_name},
                              "user": {"id": session.user_id, "email": self.username},
                              "mfaStatus": {"trusted": False}})

    def expire_sessions(self):
        """Every open session becomes invalid (the next call gets BDC_1109)."""
        with self.lock:
            self.sessions.clear()

    # ----------------------------------------------------------- org
    def _organization(self):
        return {"id": self.organization_id, "name": self.organization_name, "archived": False,
                "createdTime": self.organization_created, "updatedTime": self.organization_created,
                "sandboxExtension": {"signupDate": self.signup_date, "startDate": self.start_date,
                                     "createdUnderAccountantConsole": self.created_under_accountant_console}}

    def _check_org(self, request):
        if request.match.group("org") != self.organization_id:
            raise ApiError(403, "BDC_1123", "Invalid organization id.")

    def _h_organization(self, request, session):
        self._check_org(request)
        return Response(200, self._organization())

    def _org_scoped(self, handler):
        def wrapped(request, session):
            self._check_org(request)
            return handler(request, session)
        return wrapped

    # ----------------------------------------------------------- plumbing
    def _body(self, request, kind):
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "BDC_1122", "Unable to parse the request body as JSON.")
        if body is None:
            body = {} if kind is dict else []
        if not isinstance(body, kind):
            raise ApiError(400, "BDC_1124", "body: Invalid data type, expected "
                           + ("an object" if kind is dict else "an array"))
        return body

    def _coll(self, name):
        name = ALIASES.get(name, name)
        try:
            return self.collections[name]
        except KeyError:
            raise KeyError(f"unknown collection {name!r}") from None

    def _find(self, coll, obj_id):
        obj = coll.objects.get(obj_id)
        if obj is None:
            raise ApiError(404, "BDC_1120", f"No data found for id {obj_id}.")
        return obj

    def _stamp(self):
        ms = int(self.clock.now() * 1000)
        if ms <= self._last_ms:
            ms = self._last_ms + 1
        self._last_ms = ms
        return ms

    def _today(self):
        return datetime.datetime.fromtimestamp(self.clock.now(), datetime.timezone.utc).date().isoformat()

    @contextlib.contextmanager
    def _transaction(self):
        """All-or-nothing: on an exception every stored change is undone."""
        if self._journal is not None:
            yield
            return
        self._journal = journal = []
        try:
            yield
        except BaseException:
            for coll, obj_id, old, old_meta in reversed(journal):
                coll.put(obj_id, old, old_meta)
            raise
        finally:
            self._journal = None

    def _store(self, coll, obj, meta):
        obj_id = obj["id"]
        if self._journal is not None:
            self._journal.append((coll, obj_id, coll.objects.get(obj_id), coll.meta.get(obj_id)))
        coll.put(obj_id, obj, meta)

    def _insert(self, coll, obj, created_ms=None, updated_ms=None):
        ms = self._stamp()
        created = created_ms if created_ms is not None else ms
        updated = updated_ms if updated_ms is not None else created
        obj["createdTime"] = format_ms(created)
        obj["updatedTime"] = format_ms(updated)
        self._store(coll, obj, (created, updated))
        return obj

    def _replace(self, coll, obj, touch=True):
        created, updated = coll.meta[obj["id"]]
        if touch:
            updated = self._stamp()
        obj["createdTime"] = format_ms(created)
        obj["updatedTime"] = format_ms(updated)
        self._store(coll, obj, (created, updated))
        return obj

    # --------------------------------------------------------- validation
    def _str(self, obj, field, required=False, max_len=None, path=None):
        label = path or field
        value = obj.get(field)
        if value is None or value == "":
            if required:
                raise _missing(label)
            return None
        if not isinstance(value, str):
            raise _bad_type(label, "a string")
        if max_len and len(value) > max_len:
            raise _bad_value(label, f"The value must be at most {max_len} characters long")
        return value

    def _num(self, obj, field, required=False, path=None):
        label = path or field
        value = obj.get(field)
        if value is None:
            if required:
                raise _missing(label)
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _bad_type(label, "a number")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise _bad_type(label, "a number") from None
        if not number.is_finite():
            raise _bad_type(label, "a number")
        return number

    def _date(self, obj, field, required=False, path=None, default=None):
        label = path or field
        value = obj.get(field)
        if value is None or value == "":
            if required:
                raise _missing(label)
            return default
        if not isinstance(value, str):
            raise _bad_type(label, "a date (yyyy-MM-dd)")
        if not _is_date(value[:10]) or (len(value) > 10 and value[10] != "T"):
            raise _bad_type(label, "a date (yyyy-MM-dd)")
        return value[:10]

    def _bool(self, obj, field, required=False, default=None):
        value = obj.get(field)
        if value is None:
            if required:
                raise _missing(field)
            return default
        if not isinstance(value, bool):
            raise _bad_type(field, "a boolean")
        return value

    def _dict(self, obj, field, required=False, path=None):
        label = path or field
        value = obj.get(field)
        if value is None:
            if required:
                raise _missing(label)
            return None
        if not isinstance(value, dict):
            raise _bad_type(label, "an object")
        return value

    def _ref(self, collection, obj_id, label, allow_archived=True):
        if not isinstance(obj_id, str):
            raise _bad_type(label, "an id string")
        target = self.collections[collection].objects.get(obj_id)
        if target is None:
            raise _bad_value(label, f"Invalid id {obj_id}")
        if not allow_archived and target.get("archived"):
            raise _bad_value(label, f"The object {obj_id} is archived")
        return target

    def _classifications(self, value, label, allowed=CLASS_KEYS):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise _bad_type(label, "an object")
        result = {}
        for key in allowed:
            ref = value.get(key)
            if ref in (None, ""):
                continue
            self._ref(CLASS_TARGETS[key], ref, f"{label}.{key}")
            result[key] = ref
        return result

    def _lines(self, collection, obj, old, compute):
        key = LINE_KEYS[collection]
        lines = obj.get(key)
        if lines is None or lines == []:
            raise _missing(key)
        if not isinstance(lines, list):
            raise _bad_type(key, "an array")
        old_ids = {line.get("id") for line in (old or {}).get(key, [])}
        result, running = [], ZERO
        for i, line in enumerate(lines):
            label = f"{key}[{i}]"
            if not isinstance(line, dict):
                raise _bad_type(label, "an object")
            stored = {"id": line["id"] if line.get("id") in old_ids else self.new_id(LINE_PREFIXES[collection])}
            amount = compute(line, label, stored, running)
            running += amount
            stored["amount"] = out(amount)
            result.append(stored)
        return result, running

    # ------------------------------------------------------ object builders
    def _build(self, collection, body, old=None, session_user=None):
        """The stored form of ``body`` (create, or full replacement of ``old``)."""
        if collection == "vendors":
            return self._build_vendor(body, old)
        if collection == "customers":
            return self._build_customer(body, old)
        if collection == "bills":
            return self._build_bill(body, old, session_user)
        if collection == "invoices":
            return self._build_invoice(body, old, session_user)
        if collection == "vendor-credits":
            return self._build_vendor_credit(body, old)
        if collection == "credit-memos":
            return self._build_credit_memo(body, old)
        if collection == "payment-terms":
            return self._build_payment_term(body, old)
        if collection.startswith("classifications/"):
            return self._build_classification(collection, body, old)
        raise ApiError(405, "BDC_1121", f"{collection} cannot be written.")

    def _address(self, body, field):
        value = self._dict(body, field)
        if value is None:
            return None
        keys = ("line1", "line2", "city", "stateOrProvince", "zipOrPostalCode", "country")
        return {k: value[k] for k in keys if value.get(k) not in (None, "")}

    def _build_vendor(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["vendors"])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        short = self._str(body, "shortName", max_len=40)
        if short:
            obj["shortName"] = short
        obj["archived"] = old["archived"] if old else False
        account_type = self._str(body, "accountType") or "NONE"
        if account_type not in ("BUSINESS", "PERSON", "NONE"):
            raise _bad_value("accountType", "Must be one of BUSINESS, PERSON, NONE")
        obj["accountType"] = account_type
        for field in ("email", "phone", "accountNumber"):
            value = self._str(body, field)
            if value:
                obj[field] = value
        obj["networkStatus"] = old.get("networkStatus", "NOT_CONNECTED") if old else "NOT_CONNECTED"
        address = self._address(body, "address")
        if address:
            obj["address"] = address
        info = self._dict(body, "paymentInformation") or {}
        payment = {"payeeName": info.get("payeeName") or obj["name"],
                   "payByType": "ACH" if info.get("bankAccount") else (info.get("payByType") or "CHECK"),
                   "virtualCard": {"status": "UNKNOWN"}}
        if info.get("email"):
            payment["email"] = info["email"]
        obj["paymentInformation"] = payment
        extra = self._dict(body, "additionalInfo")
        if extra is not None:
            keys = ("taxId", "taxIdType", "track1099", "leadTimeInDays", "combinePayments", "companyName")
            obj["additionalInfo"] = {k: extra[k] for k in keys if k in extra}
        currency = self._str(body, "billCurrency") or "USD"
        if not re.match(r"^[A-Z]{3}$", currency):
            raise _bad_value("billCurrency", "Must be an ISO 4217 currency code")
        obj["billCurrency"] = currency
        obj["balance"] = dict(old["balance"]) if old else {"amount": 0.0}
        obj["autoPay"] = {"enabled": False}
        return obj

    def _build_customer(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["customers"])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        company = self._str(body, "companyName")
        if company:
            obj["companyName"] = company
        contact = self._dict(body, "contact")
        if contact:
            obj["contact"] = {k: contact[k] for k in ("firstName", "lastName") if contact.get(k)}
        email = self._str(body, "email", required=True)
        if "@" not in email:
            raise _bad_value("email", "Invalid email address")
        obj["email"] = email
        phone = self._str(body, "phone")
        if phone:
            obj["phone"] = phone
        account_type = self._str(body, "accountType") or "NONE"
        if account_type not in ("BUSINESS", "PERSON", "NONE"):
            raise _bad_value("accountType", "Must be one of BUSINESS, PERSON, NONE")
        obj["accountType"] = account_type
        for field in ("billingAddress", "shippingAddress"):
            address = self._address(body, field)
            if address:
                obj[field] = address
        currency = self._str(body, "invoiceCurrency") or "USD"
        if not re.match(r"^[A-Z]{3}$", currency):
            raise _bad_value("invoiceCurrency", "Must be an ISO 4217 currency code")
        obj["invoiceCurrency"] = currency
        obj["archived"] = old["archived"] if old else False
        return obj

    def _build_classification(self, collection, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES[collection])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        kind = collection.split("/", 1)[1]
        if kind == "chart-of-accounts":
            number = self._str(body, "accountNumber")
            if number:
                obj["accountNumber"] = number
            obj["accountType"] = self._str(body, "accountType") or "UNSPECIFIED"
        if kind == "items":
            obj["type"] = self._str(body, "type") or "SERVICE"
            price = self._num(body, "price")
            if price is not None:
                obj["price"] = out(money(price))
        parent = body.get("parentId")
        if parent:
            self._ref(collection, parent, "parentId")
            if old and parent == old["id"]:
                raise _bad_value("parentId", "An object cannot be its own parent")
        if kind != "items":
            obj["parentId"] = parent or None
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        obj["archived"] = old["archived"] if old else False
        return obj

    def _build_payment_term(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["payment-terms"])}
        obj["name"] = self._str(body, "name", required=True, max_len=100)
        days = self._num(body, "daysDue", required=True)
        if days != days.to_integral_value() or not 0 <= days <= 999:
            raise _bad_value("daysDue", "Must be a whole number from 0 to 999")
        for other in self.collections["payment-terms"].objects.values():
            if other["daysDue"] == int(days) and other["id"] != obj["id"]:
                raise _bad_value("daysDue", f"A payment term with daysDue {int(days)} already exists")
        obj["daysDue"] = int(days)
        return obj

    def _bill_line(self, line, label, stored, running):
        description = self._str(line, "description", path=f"{label}.description")
        if description:
            stored["description"] = description
        quantity = self._num(line, "quantity", path=f"{label}.quantity")
        price = self._num(line, "price", path=f"{label}.price")
        amount = self._num(line, "amount", path=f"{label}.amount")
        if quantity is not None and price is not None:
            stored["quantity"] = line["quantity"]
            stored["price"] = out(money(price))
            if amount is None:
                amount = quantity * price
        if amount is None:
            raise _missing(f"{label}.amount")
        classes = self._classifications(line.get("classifications"), f"{label}.classifications")
        if classes:
            stored["classifications"] = classes
        return money(amount)

    def _build_bill(self, body, old, session_user):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["bills"])}
        vendor_id = body.get("vendorId")
        if not vendor_id:
            raise _missing("vendorId")
        vendor = self._ref("vendors", vendor_id, "vendorId",
                           allow_archived=bool(old and old["vendorId"] == vendor_id))
        if old and old["vendorId"] != vendor_id and dec(old["paidAmount"]) > 0:
            raise _bad_value("vendorId", "The vendor of a bill with payments cannot change")
        obj["vendorId"] = vendor_id
        obj["vendorName"] = vendor["name"]
        invoice = self._dict(body, "invoice", required=True)
        number = self._str(invoice, "invoiceNumber", required=True, max_len=100, path="invoice.invoiceNumber")
        date = self._date(invoice, "invoiceDate", required=True, path="invoice.invoiceDate")
        obj["invoice"] = {"invoiceNumber": number, "invoiceDate": date}
        obj["dueDate"] = self._date(body, "dueDate", required=True)
        lines, amount = self._lines("bills", body, old, self._bill_line)
        if amount < 0:
            raise _bad_value("billLineItems", "The bill amount cannot be negative")
        paid = dec(old["paidAmount"]) if old else ZERO
        credit = dec(old["creditAmount"]) if old else ZERO
        if amount < paid:
            raise _bad_value("billLineItems", f"The bill amount {amount} is less than the amount "
                                              f"already paid {paid}")
        obj["amount"] = out(amount)
        obj["paidAmount"] = out(paid)
        obj["dueAmount"] = out(amount - paid)
        obj["creditAmount"] = out(credit)
        obj["scheduledAmount"] = 0.0
        obj["paymentStatus"] = self._bill_status(amount, paid)
        obj["approvalStatus"] = old["approvalStatus"] if old else self.default_approval_status
        obj["archived"] = old["archived"] if old else False
        obj["recordStatus"] = "INACTIVE" if obj["archived"] else "ACTIVE"
        for field in ("description", "purchaseOrderNumber"):
            value = self._str(body, field)
            if value:
                obj[field] = value
        if body.get("payFromChartOfAccountId"):
            self._ref("classifications/chart-of-accounts", body["payFromChartOfAccountId"],
                      "payFromChartOfAccountId")
            obj["payFromChartOfAccountId"] = body["payFromChartOfAccountId"]
        if body.get("paymentTermId"):
            self._ref("payment-terms", body["paymentTermId"], "paymentTermId")
            obj["paymentTermId"] = body["paymentTermId"]
        classes = self._classifications(body.get("classifications"), "classifications")
        if classes:
            obj["classifications"] = classes
        obj["billLineItems"] = lines
        if old and old.get("vendorCredits"):
            obj["vendorCredits"] = copy.deepcopy(old["vendorCredits"])
        obj["createdBy"] = old["createdBy"] if old else session_user
        return obj

    @staticmethod
    def _bill_status(amount, paid):
        if paid <= 0:
            return "UNPAID"
        if paid < amount:
            return "PARTIALLY_PAID"
        return "PAID"

    def _invoice_line(self, line, label, stored, running):
        quantity = self._num(line, "quantity", required=True, path=f"{label}.quantity")
        price = self._num(line, "price", path=f"{label}.price") or ZERO
        if line.get("itemId"):
            self._ref("classifications/items", line["itemId"], f"{label}.itemId")
            stored["itemId"] = line["itemId"]
        description = self._str(line, "description", path=f"{label}.description")
        if description:
            stored["description"] = description
        stored["quantity"] = line["quantity"]
        stored["price"] = out(money(price))
        classes = self._classifications(line.get("classifications"), f"{label}.classifications")
        if classes:
            stored["classifications"] = classes
        return money(quantity * price)

    def _build_invoice(self, body, old, session_user):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["invoices"])}
        customer = body.get("customer")
        if customer is None:
            raise ApiError(400, "BDC_1108", "customer: The customer field is required")
        if not isinstance(customer, dict):
            raise ApiError(400, "BDC_1124", "customer: Cannot construct instance of `InvoiceCustomer` "
                                            "(no String-argument constructor/factory method to "
                                            "deserialize from String value)")
        if customer.get("id"):
            self._ref("customers", customer["id"], "customer.id",
                      allow_archived=bool(old and old["customerId"] == customer["id"]))
            customer_id = customer["id"]
        else:
            if not customer.get("name"):
                raise _missing("customer.id")
            inline = self._build_customer(customer, None)
            self._insert(self.collections["customers"], inline)
            customer_id = inline["id"]
        if old and old["customerId"] != customer_id and self._invoice_cash_paid(old) > 0:
            raise _bad_value("customer.id", "The customer of an invoice with payments cannot change")
        obj["customerId"] = customer_id
        number = self._str(body, "invoiceNumber", max_len=100)
        if not number:
            number = old["invoiceNumber"] if old else str(self._next_invoice_number)
            if not old:
                self._next_invoice_number += 1
        obj["invoiceNumber"] = number
        today = self._today()
        obj["invoiceDate"] = self._date(body, "invoiceDate", default=old["invoiceDate"] if old else today)
        obj["dueDate"] = self._date(body, "dueDate", default=old["dueDate"] if old else obj["invoiceDate"])
        lines, total = self._lines("invoices", body, old, self._invoice_line)
        if total < 0:
            raise _bad_value("invoiceLineItems", "The invoice total cannot be negative")
        cash = self._invoice_cash_paid(old) if old else ZERO
        credit = self._num(body, "creditAmount")
        if credit is None:
            credit = dec(old["creditAmount"]) if old else ZERO
        credit = money(credit)
        if credit < 0:
            raise _bad_value("creditAmount", "The credit amount cannot be negative")
        if total - cash - credit < 0:
            raise _bad_value("creditAmount" if credit else "invoiceLineItems",
                             f"The invoice total {total} is less than the amount paid {cash} "
                             f"plus the credit applied {credit}")
        obj["totalAmount"] = out(total)
        obj["dueAmount"] = out(total - cash - credit)
        obj["status"] = self._invoice_status(total, cash, credit)
        obj["scheduledAmount"] = 0.0
        obj["creditAmount"] = out(credit)
        obj["salesTaxTotal"] = 0.0
        obj["salesTaxPercentage"] = 0
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        if body.get("payToChartOfAccountId"):
            self._ref("classifications/chart-of-accounts", body["payToChartOfAccountId"],
                      "payToChartOfAccountId")
            obj["payToChartOfAccountId"] = body["payToChartOfAccountId"]
        classes = self._classifications(body.get("classifications"), "classifications",
                                        ("accountingClassId", "departmentId", "jobId", "locationId"))
        if classes:
            obj["classifications"] = classes
        obj["invoiceLineItems"] = lines
        options = self._dict(body, "processingOptions")
        if options:
            obj["processingOptions"] = options
        obj["archived"] = old["archived"] if old else False
        obj["recordStatus"] = "INACTIVE" if obj["archived"] else "ACTIVE"
        obj["createdBy"] = old["createdBy"] if old else session_user
        return obj

    @staticmethod
    def _invoice_cash_paid(invoice):
        return dec(invoice["totalAmount"]) - dec(invoice["dueAmount"]) - dec(invoice["creditAmount"])

    @staticmethod
    def _invoice_status(total, cash, credit):
        due = total - cash - credit
        if due <= 0 and total > 0:
            return "PAID_IN_FULL"
        if cash > 0:
            return "PARTIAL_PAYMENT"
        return "OPEN"

    def _vendor_credit_line(self, line, label, stored, running):
        description = self._str(line, "description", path=f"{label}.description")
        if description:
            stored["description"] = description
        amount = self._num(line, "amount", required=True, path=f"{label}.amount")
        classes = self._classifications(line.get("classifications"), f"{label}.classifications")
        if classes:
            stored["classifications"] = classes
        return money(amount)

    def _build_vendor_credit(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["vendor-credits"])}
        vendor_id = body.get("vendorId")
        if not vendor_id:
            raise _missing("vendorId")
        self._ref("vendors", vendor_id, "vendorId", allow_archived=bool(old))
        if old and old["vendorId"] != vendor_id and dec(old["appliedAmount"]) > 0:
            raise _bad_value("vendorId", "The vendor of an applied vendor credit cannot change")
        obj["vendorId"] = vendor_id
        obj["referenceNumber"] = self._str(body, "referenceNumber", required=True, max_len=100)
        obj["creditDate"] = self._date(body, "creditDate", required=True)
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        if body.get("applyToChartOfAccountId"):
            self._ref("classifications/chart-of-accounts", body["applyToChartOfAccountId"],
                      "applyToChartOfAccountId")
            obj["applyToChartOfAccountId"] = body["applyToChartOfAccountId"]
        elif body.get("applyToBankAccountId"):
            obj["applyToBankAccountId"] = self._str(body, "applyToBankAccountId")
        lines, amount = self._lines("vendor-credits", body, old, self._vendor_credit_line)
        applied = dec(old["appliedAmount"]) if old else ZERO
        if amount <= 0:
            raise _bad_value("vendorCreditLineItems", "The credit amount must be more than zero")
        if amount < applied:
            raise _bad_value("vendorCreditLineItems", f"The credit amount {amount} is less than the "
                                                      f"amount already applied {applied}")
        obj["vendorCreditLineItems"] = lines
        obj["amount"] = out(amount)
        obj["appliedAmount"] = out(applied)
        obj["availableAmount"] = out(amount - applied)
        obj["archived"] = old["archived"] if old else False
        return obj

    def _credit_memo_line(self, line, label, stored, running):
        description = self._str(line, "description", path=f"{label}.description")
        if description:
            stored["description"] = description
        rate = self._num(line, "ratePercent", path=f"{label}.ratePercent")
        if rate is not None:
            stored["ratePercent"] = line["ratePercent"]
            amount = running * rate / 100
        else:
            quantity = self._num(line, "quantity", path=f"{label}.quantity")
            price = self._num(line, "price", required=True, path=f"{label}.price")
            if quantity is None:
                quantity = Decimal(1)
            else:
                stored["quantity"] = line["quantity"]
            stored["price"] = out(money(price))
            amount = quantity * price
        classes = self._classifications(line.get("classifications"), f"{label}.classifications")
        if classes:
            stored["classifications"] = classes
        return money(amount)

    def _build_credit_memo(self, body, old):
        obj = {"id": old["id"] if old else self.new_id(PREFIXES["credit-memos"])}
        customer_id = body.get("customerId")
        if not customer_id:
            raise _missing("customerId")
        self._ref("customers", customer_id, "customerId", allow_archived=bool(old))
        if old and old["customerId"] != customer_id and dec(old["appliedAmount"]) > 0:
            raise _bad_value("customerId", "The customer of an applied credit memo cannot change")
        obj["customerId"] = customer_id
        obj["referenceNumber"] = self._str(body, "referenceNumber", required=True, max_len=100)
        obj["creditDate"] = self._date(body, "creditDate", required=True)
        description = self._str(body, "description")
        if description:
            obj["description"] = description
        lines, total = self._lines("credit-memos", body, old, self._credit_memo_line)
        applied = dec(old["appliedAmount"]) if old else ZERO
        if total <= 0:
            raise _bad_value("creditMemoLineItems", "The credit memo total must be more than zero")
        if total < applied:
            raise _bad_value("creditMemoLineItems", f"The credit memo total {total} is less than the "
                                                    f"amount already applied {applied}")
        obj["creditMemoLineItems"] = lines
        obj["totalAmount"] = out(total)
        obj["appliedAmount"] = out(applied)
        obj["availableAmount"] = out(total - applied)
        obj["archived"] = old["archived"] if old else False
        return obj

    # ----------------------------------------------------- money movements
    def _adjust_vendor_balance(self, vendor_id, delta):
        if not delta:
            return
        vendors = self.collections["vendors"]
        vendor = vendors.objects.get(vendor_id)
        if vendor is None:
            return
        vendor = dict(vendor)
        vendor["balance"] = {"amount": out(dec(vendor["balance"]["amount"]) + delta)}
        self._replace(vendors, vendor, touch=False)

    @staticmethod
    def _bill_effect(bill):
        return ZERO if bill is None or bill.get("archived") else dec(bill["dueAmount"])

    def _save_bill(self, bill, old, touch=True, created_ms=None, updated_ms=None):
        bills = self.collections["bills"]
        if old is None:
            self._insert(bills, bill, created_ms, updated_ms)
        else:
            self._replace(bills, bill, touch)
        if old is not None and old["vendorId"] != bill["vendorId"]:
            self._adjust_vendor_balance(old["vendorId"], -self._bill_effect(old))
            self._adjust_vendor_balance(bill["vendorId"], self._bill_effect(bill))
        else:
            self._adjust_vendor_balance(bill["vendorId"], self._bill_effect(bill) - self._bill_effect(old))
        return bill

    def _apply_bill_money(self, bill, cash=ZERO, credit=ZERO):
        """A copy of ``bill`` with ``cash`` and ``credit`` added to what was paid."""
        bill = copy.deepcopy(bill)
        amount = dec(bill["amount"])
        paid = dec(bill["paidAmount"]) + cash + credit
        bill["paidAmount"] = out(paid)
        bill["creditAmount"] = out(dec(bill["creditAmount"]) + credit)
        bill["dueAmount"] = out(amount - paid)
        bill["paymentStatus"] = self._bill_status(amount, paid)
        return bill

    def _use_credit(self, collection, credit_id, amount, touch=True):
        coll = self.collections[collection]
        credit = dict(coll.objects[credit_id])
        total_field = "amount" if collection == "vendor-credits" else "totalAmount"
        applied = dec(credit["appliedAmount"]) + amount
        credit["appliedAmount"] = out(applied)
        credit["availableAmount"] = out(dec(credit[total_field]) - applied)
        self._replace(coll, credit, touch)

    def _plan_vendor_credits(self, vendor_id, items, label, room):
        """Validate ``[{id, amount, billId?}]``; return ``[(credit_id, bill_id, amount)]``.

        ``room`` maps bill id -> amount still payable (in the order credits fill them).
        """
        if items is None:
            return []
        if not isinstance(items, list):
            raise _bad_type(label, "an array")
        plan, used = [], {}
        for i, item in enumerate(items):
            path = f"{label}[{i}]"
            if not isinstance(item, dict):
                raise _bad_type(path, "an object")
            credit_id = item.get("id")
            if not credit_id:
                raise _missing(f"{path}.id")
            credit = self._ref("vendor-credits", credit_id, f"{path}.id", allow_archived=False)
            if credit["vendorId"] != vendor_id:
                raise _bad_value(f"{path}.id", "The vendor credit belongs to another vendor")
            amount = money(self._num(item, "amount", required=True, path=f"{path}.amount"))
            if amount <= 0:
                raise _bad_value(f"{path}.amount", "The amount must be more than zero")
            used[credit_id] = used.get(credit_id, ZERO) + amount
            if used[credit_id] > dec(credit["availableAmount"]):
                raise _bad_value(f"{path}.amount", f"The amount {used[credit_id]} is more than the "
                                                   f"credit available {dec(credit['availableAmount'])}")
            targets = [item["billId"]] if item.get("billId") else list(room)
            if item.get("billId") and item["billId"] not in room:
                raise _bad_value(f"{path}.billId", "The bill is not part of this payment")
            left = amount
            for bill_id in targets:
                take = min(left, room[bill_id])
                if take > 0:
                    plan.append((credit_id, bill_id, take))
                    room[bill_id] -= take
                    left -= take
                if left == 0:
                    break
            if left > 0:
                raise _bad_value(f"{path}.amount", "The credit is more than the amount due on the bills")
        return plan

    def _make_ap_payment(self, vendor_id, payments, credits, process_date, online, extra, user):
        """Validate and carry out a payment of bills of one vendor; return the stp object."""
        if not isinstance(payments, list) or not payments:
            raise _missing("payments")
        vendor = self._ref("vendors", vendor_id, "vendorId")
        room, cash = {}, {}
        for i, item in enumerate(payments):
            path = f"payments[{i}]"
            if not isinstance(item, dict):
                raise _bad_type(path, "an object")
            bill_id = item.get("billId")
            if not bill_id:
                raise _missing(f"{path}.billId")
            bill = self._ref("bills", bill_id, f"{path}.billId", allow_archived=False)
            if bill["vendorId"] != vendor_id:
                raise _bad_value(f"{path}.billId", "The bill belongs to another vendor")
            if bill_id in cash:
                raise _bad_value(f"{path}.billId", "The bill is listed twice")
            amount = money(self._num(item, "amount", required=True, path=f"{path}.amount"))
            if amount < 0:
                raise _bad_value(f"{path}.amount", "The amount cannot be negative")
            due = dec(bill["dueAmount"])
            if amount > due:
                raise _bad_value(f"{path}.amount", f"The payment amount {amount} is more than the "
                                                   f"amount due {due}")
            cash[bill_id] = amount
            room[bill_id] = due - amount
        plan = self._plan_vendor_credits(vendor_id, credits, "vendorCredits", room)
        total_cash = sum(cash.values(), ZERO)
        if total_cash <= 0 and not plan:
            raise _bad_value("payments", "The payment amount must be more than zero")
        bills = self.collections["bills"]
        credit_by_bill = {}
        for credit_id, bill_id, amount in plan:
            credit_by_bill[bill_id] = credit_by_bill.get(bill_id, ZERO) + amount
            self._use_credit("vendor-credits", credit_id, amount)
        for bill_id, amount in cash.items():
            old = bills.objects[bill_id]
            bill = self._apply_bill_money(old, amount, credit_by_bill.get(bill_id, ZERO))
            if credit_by_bill.get(bill_id):
                applied = bill.setdefault("vendorCredits", [])
                for credit_id, target, credit_amount in plan:
                    if target == bill_id:
                        applied.append({"id": credit_id, "amount": out(credit_amount)})
            self._save_bill(bill, old)
        payment = {"id": self.new_id(PREFIXES["payments"]), "vendorId": vendor_id, "vendorName": vendor["name"],
                   "billPayments": [{"id": self.new_id("blp"), "billId": bill_id, "amount": out(amount)}
                                    for bill_id, amount in cash.items()],
                   "processDate": process_date, "amount": out(total_cash),
                   "transactionNumber": "TXN" + "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=17)),
                   "confirmationNumber": "P%s01 - %07d" % (process_date.replace("-", "")[2:],
                                                            self.rng.randrange(10**7)),
                   "status": "PAID", "onlinePayment": online,
                   "disbursementType": "ACH" if online else "OFFLINE"}
        if online:
            payment["singleStatus"] = "CLEARED"
        if plan:
            payment["vendorCredits"] = [{"id": c, "billId": b, "amount": out(a)} for c, b, a in plan]
        payment.update(extra)
        payment["createdBy"] = user
        return self._insert(self.collections["payments"], payment)

    def _make_ar_payment(self, customer_id, invoices, amount, payment_type, payment_date, extra, user):
        self._ref("customers", customer_id, "customerId")
        if payment_type not in AR_PAYMENT_TYPES:
            raise _bad_value("paymentType", "Must be one of " + ", ".join(AR_PAYMENT_TYPES))
        if invoices is None:
            raise _missing("invoices")
        if not isinstance(invoices, list):
            raise _bad_type("invoices", "an array")
        applied, total = {}, ZERO
        coll = self.collections["invoices"]
        for i, item in enumerate(invoices):
            path = f"invoices[{i}]"
            if not isinstance(item, dict):
                raise _bad_type(path, "an object")
            invoice_id = item.get("id")
            if not invoice_id:
                raise _missing(f"{path}.id")
            invoice = self._ref("invoices", invoice_id, f"{path}.id", allow_archived=False)
            if invoice["customerId"] != customer_id:
                raise _bad_value(f"{path}.id", "The invoice belongs to another customer")
            if invoice_id in applied:
                raise _bad_value(f"{path}.id", "The invoice is listed twice")
            part = money(self._num(item, "amount", required=True, path=f"{path}.amount"))
            if part <= 0:
                raise _bad_value(f"{path}.amount", "The amount must be more than zero")
            due = dec(invoice["dueAmount"])
            if part > due:
                raise _bad_value(f"{path}.amount", f"The payment amount {part} is more than the amount due {due}")
            applied[invoice_id] = part
            total += part
        if amount is None:
            amount = total
        amount = money(amount)
        if amount <= 0:
            raise _bad_value("amount", "The amount must be more than zero")
        if total > amount:
            raise _bad_value("amount", f"The amount {amount} is less than the {total} applied to invoices")
        for invoice_id, part in applied.items():
            invoice = copy.deepcopy(coll.objects[invoice_id])
            total_amount = dec(invoice["totalAmount"])
            credit = dec(invoice["creditAmount"])
            cash = self._invoice_cash_paid(invoice) + part
            invoice["dueAmount"] = out(total_amount - cash - credit)
            invoice["status"] = self._invoice_status(total_amount, cash, credit)
            self._replace(coll, invoice)
        payment = {"id": self.new_id(PREFIXES["receivable-payments"]), "customerId": customer_id,
                   "paymentType": payment_type, "paymentDate": payment_date, "amount": out(amount),
                   "unappliedAmount": out(amount - total), "status": "PAID"}
        payment.update(extra)
        payment["invoicePayments"] = [{"invoiceId": i, "amount": out(a)} for i, a in applied.items()]
        payment["createdBy"] = user
        return self._insert(self.collections["receivable-payments"], payment)

    def _apply_invoice_credit(self, invoice, old):
        """Draw the change in ``creditAmount`` from (or give it back to) the customer's credit memos."""
        delta = dec(invoice["creditAmount"]) - (dec(old["creditAmount"]) if old else ZERO)
        if delta == 0:
            return
        memos = [m for m in self.collections["credit-memos"].objects.values()
                 if m["customerId"] == invoice["customerId"] and not m["archived"]]
        memos.sort(key=lambda m: (m["creditDate"], m["id"]))
        if delta > 0:
            available = sum((dec(m["availableAmount"]) for m in memos), ZERO)
            if delta > available:
                raise _bad_value("creditAmount", f"The customer has only {available} of credit available")
            for memo in memos:
                take = min(delta, dec(memo["availableAmount"]))
                if take > 0:
                    self._use_credit("credit-memos", memo["id"], take)
                    delta -= take
                if delta == 0:
                    return
        else:
            give_back = -delta
            for memo in reversed(memos):
                back = min(give_back, dec(memo["appliedAmount"]))
                if back > 0:
                    self._use_credit("credit-memos", memo["id"], -back)
                    give_back -= back
                if give_back == 0:
                    return

    # ------------------------------------------------------ write operations
    def _create(self, collection, body, user, created_ms=None, updated_ms=None):
        if not isinstance(body, dict):
            raise _bad_type("body", "an object")
        coll = self.collections[collection]
        obj = self._build(collection, body, None, user)
        if collection == "bills":
            room = {obj["id"]: dec(obj["dueAmount"])}
            plan = self._plan_vendor_credits(obj["vendorId"], body.get("vendorCredits"), "vendorCredits", room)
            if plan:
                credit = sum((a for _, _, a in plan), ZERO)
                obj = self._apply_bill_money(obj, ZERO, credit)
                obj["vendorCredits"] = [{"id": c, "amount": out(a)} for c, _, a in plan]
                for credit_id, _, amount in plan:
                    self._use_credit("vendor-credits", credit_id, amount)
            return self._save_bill(obj, None, created_ms=created_ms, updated_ms=updated_ms)
        if collection == "invoices":
            self._apply_invoice_credit(obj, None)
        return self._insert(coll, obj, created_ms, updated_ms)

    def _update(self, collection, obj_id, body, replace, user):
        if not isinstance(body, dict):
            raise _bad_type("body", "an object")
        coll = self.collections[collection]
        old = self._find(coll, obj_id)
        if replace:
            merged = body
        else:
            merged = self._writable(collection, old)
            for key, value in body.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
        obj = self._build(collection, merged, old, user)
        if collection == "bills":
            return self._save_bill(obj, old)
        if collection == "invoices":
            self._apply_invoice_credit(obj, old)
        return self._replace(coll, obj)

    def _writable(self, collection, obj):
        """The current object as a write body (for PATCH merging)."""
        body = copy.deepcopy(obj)
        if collection == "invoices":
            body["customer"] = {"id": body.pop("customerId")}
        return body

    def _set_archived(self, collection, obj_id, archived):
        coll = self.collections[collection]
        old = self._find(coll, obj_id)
        if old["archived"] == archived:
            return old
        obj = copy.deepcopy(old)
        obj["archived"] = archived
        if "recordStatus" in obj:
            obj["recordStatus"] = "INACTIVE" if archived else "ACTIVE"
        if collection == "bills":
            return self._save_bill(obj, old)
        return self._replace(coll, obj)

    # --------------------------------------------------------- HTTP handlers
    def _ok(self, body, status=200):
        return Response(status, body)

    def _h_get(self, collection, request, session):
        return self._ok(self._find(self.collections[collection], request.match.group("id")))

    def _h_create(self, collection, request, session):
        body = self._body(request, dict)
        with self._transaction():
            return self._ok(self._create(collection, body, session.user_id))

    def _h_update(self, collection, replace, request, session):
        body = self._body(request, dict)
        with self._transaction():
            return self._ok(self._update(collection, request.match.group("id"), body, replace, session.user_id))

    def _h_archive(self, collection, archived, request, session):
        with self._transaction():
            return self._ok(self._set_archived(collection, request.match.group("id"), archived))

    def _bulk_limit(self, collection):
        short = collection.split("/", 1)[-1]
        return self.bulk_limits.get(collection, self.bulk_limits.get(short, self.default_bulk_limit))

    def _bulk(self, collection, request, each):
        items = self._body(request, list)
        if not items:
            raise _missing("body")
        limit = self._bulk_limit(collection)
        if len(items) > limit:
            raise _bad_value("body", f"A bulk request accepts at most {limit} items; got {len(items)}")
        results = []
        with self._transaction():
            for index, item in enumerate(items):
                try:
                    results.append(each(item))
                except ApiError as exc:
                    exc.message = f"[{index}]." + exc.message if re.match(r"^[\w.\[\]]+: ", exc.message) \
                        else f"[{index}]: " + exc.message
                    raise
        return self._ok(results)

    def _h_bulk_create(self, collection, request, session):
        return self._bulk(collection, request, lambda item: self._create(collection, item, session.user_id))

    def _h_bulk_update(self, collection, request, session):
        def each(item):
            if not isinstance(item, dict):
                raise _bad_type("body", "an object")
            if not item.get("id"):
                raise _missing("id")
            return self._update(collection, item["id"], {k: v for k, v in item.items() if k != "id"},
                                False, session.user_id)
        return self._bulk(collection, request, each)

    def _h_record_ap(self, request, session):
        body = self._body(request, dict)
        vendor_id = body.get("vendorId")
        if not vendor_id:
            raise _missing("vendorId")
        process_date = self._date(body, "processDate", required=True)
        to_print = self._bool(body, "toPrintCheck", required=True)
        extra = {"toPrintCheck": to_print}
        for field in ("description", "syncReference"):
            value = self._str(body, field)
            if value:
                extra[field] = value
        classes = self._classifications(body.get("classifications"), "classifications")
        if classes:
            extra["classifications"] = classes
        with self._transaction():
            return self._ok(self._make_ap_payment(vendor_id, body.get("payments"), body.get("vendorCredits"),
                                                  process_date, False, extra, session.user_id))

    def _h_record_ar(self, request, session):
        body = self._body(request, dict)
        customer_id = body.get("customerId")
        if not customer_id:
            raise _missing("customerId")
        payment_date = self._date(body, "paymentDate", required=True)
        payment_type = self._str(body, "paymentType", required=True)
        amount = self._num(body, "amount", required=True)
        extra = {}
        description = self._str(body, "description", max_len=4000)
        if description:
            extra["description"] = description
        with self._transaction():
            return self._ok(self._make_ar_payment(customer_id, body.get("invoices"), amount, payment_type,
                                                  payment_date, extra, session.user_id))

    # ------------------------------------------------------------- listing
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

    # =========================================================== Python API
    def add(self, collection, obj):
        """Store ``obj`` as if created through the API (no HTTP, no limits).

        Ids, times and amounts are assigned as for a create; ``createdTime`` /
        ``updatedTime`` in ``obj`` are kept (for seeding history). A bill may
        carry ``approvalStatus``. Returns a copy of the stored object.
        """
        collection = ALIASES.get(collection, collection)
        if collection in ("payments", "receivable-payments"):
            raise ValueError("use pay_bill() / receive_payment() for payments")
        created = parse_time_ms(obj["createdTime"]) if obj.get("createdTime") else None
        updated = parse_time_ms(obj["updatedTime"]) if obj.get("updatedTime") else created
        with self.lock, self._transaction():
            stored = self._create(collection, obj, self.web_user_id, created, updated)
            if collection == "bills" and obj.get("approvalStatus"):
                stored = copy.deepcopy(stored)
                stored["approvalStatus"] = self._approval(obj["approvalStatus"])
                self._replace(self.collections["bills"], stored, touch=False)
            if obj.get("archived"):
                stored = self._set_archived(collection, stored["id"], True)
            return copy.deepcopy(stored)

    def user_update(self, collection, obj_id, changes):
        """Change an object as a person working in Bill.com would (PATCH
        semantics; ``archived`` and ``approvalStatus`` allowed). Bumps ``updatedTime``."""
        collection = ALIASES.get(collection, collection)
        changes = dict(changes)
        archived = changes.pop("archived", None)
        approval = changes.pop("approvalStatus", None)
        with self.lock, self._transaction():
            try:
                coll = self.collections[collection]
                if changes:
                    self._update(collection, obj_id, changes, False, self.web_user_id)
                if archived is not None:
                    self._set_archived(collection, obj_id, bool(archived))
                if approval is not None:
                    self.approve_bill(obj_id, approval)
                return copy.deepcopy(self._find(coll, obj_id))
            except ApiError as exc:
                raise ValueError(exc.message) from None

    def _approval(self, status):
        if status not in APPROVAL_STATUSES:
            raise ValueError(f"approvalStatus must be one of {', '.join(APPROVAL_STATUSES)}")
        return status

    def approve_bill(self, bill_id, status="APPROVED"):
        """Set a bill's approval status (UNASSIGNED, ASSIGNED, APPROVING, APPROVED, DENIED)."""
        status = self._approval(status)
        with self.lock:
            bills = self.collections["bills"]
            bill = copy.deepcopy(bills.objects[bill_id])
            bill["approvalStatus"] = status
            self._replace(bills, bill)
            return copy.deepcopy(bill)

    def pay_bill(self, bill_id, amount, process_date=None, vendor_credits=None):
        """A payment made in Bill.com (online): returns the ``stp`` payment."""
        credits = [c if isinstance(c, dict) else {"id": c[0], "amount": c[1]} for c in (vendor_credits or [])]
        with self.lock, self._transaction():
            bill = self.collections["bills"].objects[bill_id]
            try:
                payment = self._make_ap_payment(bill["vendorId"], [{"billId": bill_id, "amount": amount}],
                                                credits or None, process_date or self._today(), True,
                                                {"billingType": "BDC"}, self.web_user_id)
            except ApiError as exc:
                raise ValueError(exc.message) from None
            return copy.deepcopy(payment)

    def receive_payment(self, customer_id, invoices=(), payment_type="CHECK", payment_date=None,
                        amount=None, description=None):
        """A payment received in Bill.com for ``[(invoice_id, amount)]``: returns the ``0rp``."""
        items = [{"id": i, "amount": a} for i, a in invoices]
        extra = {"description": description} if description else {}
        with self.lock, self._transaction():
            try:
                payment = self._make_ar_payment(customer_id, items, amount, payment_type,
                                                payment_date or self._today(), extra, self.web_user_id)
            except ApiError as exc:
                raise ValueError(exc.message) from None
            return copy.deepcopy(payment)

    def get(self, collection, obj_id):
        with self.lock:
            obj = self._coll(collection).objects.get(obj_id)
            return copy.deepcopy(obj) if obj is not None else None

    def all(self, collection):
        with self.lock:
            return [copy.deepcopy(o) for o in self._coll(collection).objects.values()]

    def count(self, collection):
        with self.lock:
            return len(self._coll(collection).objects)

    # ------------------------------------------------------------ snapshot
    VOLATILE = ("createdTime", "updatedTime", "transactionNumber", "confirmationNumber")

    def snapshot(self):
        """All objects, comparable between two runs: times and generated
        numbers left out, every id replaced by a label built from the object's
        natural key (name, vendor + invoice number, ...), keyed by that label."""
        with self.lock:
            labels = {self.user_id: "user:api", self.web_user_id: "user:web"}
            order = ["payment-terms", *(f"classifications/{n}" for n in CLASSIFICATIONS), "vendors",
                     "customers", "vendor-credits", "credit-memos", "bills", "invoices", "payments",
                     "receivable-payments"]

            def natural(collection, obj):
                if "name" in obj and collection not in ("payments",):
                    return obj["name"]
                if collection == "bills":
                    return f"{labels.get(obj['vendorId'])}/{obj['invoice']['invoiceNumber']}"
                if collection == "invoices":
                    return f"{labels.get(obj['customerId'])}/{obj['invoiceNumber']}"
                if collection == "vendor-credits":
                    return f"{labels.get(obj['vendorId'])}/{obj['referenceNumber']}"
                if collection == "credit-memos":
                    return f"{labels.get(obj['customerId'])}/{obj['referenceNumber']}"
                if collection == "payments":
                    bills = ",".join(sorted(labels.get(p["billId"], "?") for p in obj["billPayments"]))
                    return f"{obj['processDate']}/{obj['amount']}/{bills}"
                if collection == "receivable-payments":
                    invoices = ",".join(sorted(labels.get(p["invoiceId"], "?") for p in obj["invoicePayments"]))
                    return f"{labels.get(obj['customerId'])}/{obj['paymentDate']}/{obj['amount']}/{invoices}"
                return obj["id"]

            def scrub(value):
                if isinstance(value, dict):
                    return {k: scrub(v) for k, v in value.items()
                            if k not in self.VOLATILE and not (k == "id" and v not in labels)}
                if isinstance(value, list):
                    return [scrub(v) for v in value]
                if isinstance(value, str) and value in labels:
                    return labels[value]
                return value

            result = {}
            for collection in order:
                coll = self.collections[collection]
                seen = {}
                for obj_id, obj in coll.objects.items():
                    base = f"{collection}:{natural(collection, obj)}"
                    seen[base] = seen.get(base, 0) + 1
                    labels[obj_id] = base if seen[base] == 1 else f"{base}#{seen[base]}"
                result[collection] = {labels[obj_id]: scrub(obj) for obj_id, obj in coll.objects.items()}
            return json.loads(json.dumps(result, sort_keys=True))
