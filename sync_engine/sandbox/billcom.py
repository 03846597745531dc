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
  bulk endpoints; recorded AP and AR payments; ``POST /v3/payments/{id}/void``
  and ``/cancel`` (https://developer.bill.com/docs/ap-payments); vendor credits
  on bills through ``vendorCredits`` on create, PATCH and PUT
  (https://developer.bill.com/changelog/2025-05-22-bills-api-improvements-for-vendor-credits);
  credit memos on invoices through ``creditAmount``; invoice sales tax through
  ``salesTaxItemId`` (https://developer.bill.com/changelog/2025-11-05-invoices-api-improvements);
  the organization. Code is split over ``billcom_common`` (constants, helpers,
  storage), ``billcom_build`` (validation, object shapes), ``billcom_money``
  (payments and credits) and ``billcom_listing`` (filters, sort, paging).
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
  ``user_update``, ``pay_bill`` (``scheduled=True`` for a ``SCHEDULED`` one),
  ``receive_payment``, ``approve_bill``,
  ``get``, ``all``, ``count``, ``expire_sessions``, ``snapshot``,
  ``credentials``.

Assumptions where Bill.com's documentation is silent (each can be changed
through an attribute of the same name):

* Credit memo ids use the prefix ``0cm``; job ids ``job``; line items ``bli``
  (bills), ``ili`` (invoices), ``cml`` (credit memos), ``vcl`` (vendor
  credits); AP payment lines ``blp``.
* Bill ``paymentStatus`` goes ``UNPAID`` -> ``PARTIALLY_PAID`` -> ``PAID``
  (``SCHEDULED`` while nothing is paid and a scheduled payment holds
  ``scheduledAmount``);
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
  goes to (``billId``); otherwise credits fill the listed bills in order. A
  bill's ``vendorCredits`` has one ``{id, amount}`` a credit (applied on the
  bill or by payments); ``vendorCredits`` in a PATCH/PUT is that whole list
  (each amount the credit's total on the bill, a credit left out is taken
  off), and a credit applied by a standing payment comes off only by voiding it.
* Void (any payment not ``SCHEDULED``) and cancel (``SCHEDULED`` only) set both
  ``status`` and ``singleStatus`` to ``VOIDED`` / ``CANCELED``; the bills get
  their ``paidAmount``/``creditAmount``/``dueAmount``/``paymentStatus`` (or
  ``scheduledAmount``) back and the vendor credits their ``availableAmount``;
  all of them get a new ``updatedTime``. Voiding twice is refused with 400.
* A ``SALES_TAX`` item carries its rate as ``percentage``; invoice lines are
  taxed when ``taxable`` is true; ``salesTaxTotal`` (rounded to the cent) is
  part of ``totalAmount``, with ``salesTaxPercentage`` and ``salesTaxItemId``.
* ``filters`` values holding ``:``, ``,`` or spaces must be double-quoted; a
  value holding a double quote is refused (400 ``BDC_1129``), since no escape
  for one is documented. Quoted values keep their spaces; unquoted ones are
  trimmed.
* Lists include archived objects unless filtered; without ``sort`` they come in
  creation order. Bulk endpoints take a JSON array, answer a JSON array in input
  order, accept at most ``bulk_limits[name]`` items (bills 100, as Bill.com's
  bulk-bills page says, others 20, as its bulk-vendors page says) and are
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
import contextlib
import copy
import datetime
import json
import random
import re
import secrets
import threading
import time
from functools import partial

from .billcom_build import BuildMixin
from .billcom_common import (ALIASES, APPROVAL_STATUSES, ARCHIVABLE, BULK_CREATE, BULK_UPDATE,
                             CLASSIFICATIONS, ID_CHARS, PREFIXES, WITH_PUT, ZERO, ApiError, Session,
                             _bad_type, _Collection, _missing, _bad_value, dec, format_ms,
                             parse_time_ms)
from .billcom_listing import ListingMixin
from .billcom_money import MoneyMixin
from .billcom_v2 import form as v2_form, setup_v2_routes
from .httpserver import Response, SandboxServer, _DropConnection


# ================================================================== sandbox
class BillComSandbox(MoneyMixin, BuildMixin, ListingMixin, SandboxServer):
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
        self.documented_bulk_limits = {"bills": 100}  # createbulkbills: 100 (one page says 200)
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
        return path in ("/v3/login", "/v3/logout", "/api/v2/Login.json")

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
        self.route("POST", r"/v3/payments/(?P<id>[^/]+)/void", auth(self._h_void_payment))
        self.route("POST", r"/v3/payments/(?P<id>[^/]+)/cancel", auth(self._h_cancel_payment))
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
        setup_v2_routes(self)  # v2 sign-in and bulk creates (sandbox/billcom_v2.py)

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
        if dev_key is None and request.path.startswith("/api/v2/"):
            dev_key = v2_form(request).get("devKey")
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
                obj = self._apply_bill_money(obj, ZERO, [(c, a) for c, _, a in plan])
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
            if "vendorCredits" in body:
                obj = self._set_bill_credits(obj, body["vendorCredits"] or [])
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
        documented = self.documented_bulk_limits.get(short, self.default_bulk_limit)
        return self.bulk_limits.get(collection, self.bulk_limits.get(short, documented))

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

    def pay_bill(self, bill_id, amount, process_date=None, vendor_credits=None, scheduled=False):
        """A payment made in Bill.com (online): returns the ``stp`` payment. A ``scheduled``
        one stays ``SCHEDULED`` (bill ``scheduledAmount``) until canceled."""
        credits = [c if isinstance(c, dict) else {"id": c[0], "amount": c[1]} for c in (vendor_credits or [])]
        with self.lock, self._transaction():
            bill = self.collections["bills"].objects[bill_id]
            try:
                payment = self._make_ap_payment(bill["vendorId"], [{"billId": bill_id, "amount": amount}],
                                                credits or None, process_date or self._today(), True,
                                                {"billingType": "BDC"}, self.web_user_id, scheduled)
            except ApiError as exc:
                raise ValueError(exc.message) from None
            return copy.deepcopy(payment)

    def void_payment(self, payment_id):
        """A person voids a bill payment in Bill.com: its bills (and credits) owe again."""
        with self.lock, self._transaction():
            try:
                return copy.deepcopy(self._end_ap_payment(payment_id, "VOIDED"))
            except ApiError as exc:
                raise ValueError(exc.message) from None

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
