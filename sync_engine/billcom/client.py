"""Bill.com v3 REST client: one session, paced, typed errors.

* Logs in once (``POST /v3/login``) and reuses the session; on ``BDC_1109`` (or
  a bare 401) it logs in again once and repeats the request. Sessions idle for
  almost 35 minutes are renewed before use. Login attempts go through a
  ``RateLimiter`` (200 per hour by default), and a refused sign-in is
  remembered so a wrong password never burns the login quota.
* At most ``max_in_flight`` (3) requests in flight, whatever the number of
  threads using the client.
* ``BDC_1144`` waits once until the top of the next hour; ``BDC_1322`` backs
  off exponentially (bounded); either waits what a ``Retry-After`` header
  says when there is one, and is recorded on the pacing board so every
  process of the same developer key and organization holds too; 5xx, dropped connections, timeouts and
  malformed JSON are retried with bounded backoff. A create whose answer was
  lost is looked up (bill by vendor + invoice number, vendor by name, ...)
  before it is sent again, so a retry never makes a second copy.
* Every sleep goes through ``clock.sleep``; messages never contain the
  developer key, the session id or the password.

Collections are named by their URL tail: ``vendors``, ``customers``, ``bills``,
``invoices``, ``vendor-credits``, ``credit-memos``,
``classifications/<chart-of-accounts|accounting-classes|departments|locations|items|jobs>``,
``payment-terms`` (under the organization), ``payments`` and
``receivable-payments``. Payments are recorded (``record_ap_payment``,
``record_ar_payment``), voided (``void_ap_payment``) or, while scheduled,
canceled (``cancel_ap_payment``); vendor credits go on bills with
``apply_vendor_credits``, credit memos on invoices through ``creditAmount``.
"""
import collections
import decimal
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import requests

from ..records import json_dumps
from ..pacing import Clock, InFlightGate, account_key, backoff_delays, limiter, retry_after, shared
from ..secrets import Scrubber
from ..transport import new_session
from .errors import (BillComAuthError, BillComError, BillComMalformedResponse, BillComServerError,
                     BillComUnavailable, BillComValidationError, QuotaExceeded, SessionInvalid,
                     TooManyConcurrent)
from .filters import (format_filter_value, format_filters, format_sort, matches,  # noqa: F401 (re-exported)
                      plan_filters)

PRODUCTION_BASE_URL = "https://gateway.prod.bill.com/connect"
SANDBOX_BASE_URL = "https://gateway.stage.bill.com/connect"

CLASSIFICATION_NAMES = ("chart-of-accounts", "accounting-classes", "departments", "locations", "items", "jobs")
CLASSIFICATIONS = tuple(f"classifications/{name}" for name in CLASSIFICATION_NAMES)
COLLECTIONS = ("vendors", "customers", "bills", "invoices", "vendor-credits", "credit-memos",
               *CLASSIFICATIONS, "payment-terms", "payments", "receivable-payments")
READ_ONLY = ("payments", "receivable-payments")
PUT_UPDATES = ("invoices",)  # Bill.com updates invoices with PUT, everything else with PATCH
BULK_CREATE = ("vendors", "bills", "vendor-credits", "credit-memos", *CLASSIFICATIONS)
BULK_UPDATE = ("credit-memos", *CLASSIFICATIONS)
NAME_FILTERABLE = ("vendors", "customers", *CLASSIFICATIONS)
DEFAULT_BULK_LIMIT = 20
# Documented per collection: v3 bulk bills take 100 (some pages say 200; the
# lower figure is safe: reference bill-com-api.md §4.4, developer.bill.com
# reference/createbulkbills); vendors 20 (reference createbulkvendor); the rest
# stay at the 20 the vendor page names.
BULK_LIMITS = {"bills": 100}
MAX_PAGE = 100             # list page ceiling
MAX_IN_FLIGHT = 3          # concurrent requests per developer key and organization
SESSION_IDLE_TIMEOUT = 35 * 60
_INDEX_RE = re.compile(r"^\s*\[(\d+)\]")


class ClientStats:
    """Counters for benchmarks and tests (thread-safe)."""

    def __init__(self, gate):
        self._gate = gate
        self._lock = threading.Lock()
        self.requests = collections.Counter()  # "GET vendors", "POST bills/bulk", ...
        self.logins = 0  # successful sign-ins
        self.login_attempts = 0
        self.relogins = 0  # sign-ins that replaced an expired session
        self.retries = collections.Counter()  # reason -> count
        self.waits = collections.Counter()  # reason -> seconds slept

    def count(self, what, key=None, amount=1):
        with self._lock:
            if key is None:
                setattr(self, what, getattr(self, what) + amount)
            else:
                getattr(self, what)[key] += amount

    @property
    def peak_in_flight(self):
        return self._gate.peak

    @property
    def total_requests(self):
        return sum(self.requests.values())

    def as_dict(self):
        with self._lock:
            return {"requests": dict(self.requests), "total_requests": sum(self.requests.values()),
                    "logins": self.logins, "login_attempts": self.login_attempts,
                    "relogins": self.relogins, "retries": dict(self.retries),
                    "waits": dict(self.waits), "peak_in_flight": self._gate.peak}


class BillComClient:
    def __init__(self, base_url, dev_key, username, password, organization_id, clock=None, session=None,
                 timeout=30, max_retries=5, max_in_flight=MAX_IN_FLIGHT, backoff_base=0.5, backoff_cap=30,
                 logins_per_hour=200, bulk_limits=None, pacing_board=None):
        base_url = base_url.rstrip("/")
        if base_url.endswith("/v3"):
            base_url = base_url[:-3]
        self.base_url = base_url
        self.organization_id = organization_id
        self._dev_key = dev_key
        self._username = username
        self._password = password
        self.clock = clock or Clock()
        self.http = session or new_session(self.base_url, pool_maxsize=max(10, max_in_flight))
        self.timeout = timeout
        self.max_retries = max_retries
        self.throttle_retries = max(10, 2 * max_retries)
        self.max_in_flight = max_in_flight
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.bulk_limits = dict(bulk_limits or {})
        self.quota_margin = 1.0  # seconds past the top of the hour before trying again
        self.session_idle_timeout = SESSION_IDLE_TIMEOUT
        # the limits belong to the developer key and organization, shared by every client of them:
        # the in-flight gate in this process; the sign-ins per hour and the holds after a
        # BDC_1144/BDC_1322 on ``pacing_board`` (``sync_engine.pacing``), which may span processes.
        # Board keys carry a digest, never the developer key itself.
        self.pacing_board = pacing_board
        self.gate = shared("billcom-in-flight", (dev_key, organization_id, max_in_flight), self.clock,
                           lambda: InFlightGate(max_in_flight))
        self.login_limiter = limiter("billcom-logins", (dev_key, logins_per_hour),
                                     f"billcom:{account_key(dev_key)}:logins",
                                     [(logins_per_hour, 3600)], self.clock, pacing_board)
        self.request_limiter = limiter("billcom-requests", (dev_key, organization_id),
                                       f"billcom:{account_key(dev_key, organization_id)}:requests",
                                       [], self.clock, pacing_board)
        self._login_lock = threading.Lock()
        self._session_id = None
        self._last_used = None
        self._auth_error = None
        self.user_id = None
        self.stats = ClientStats(self.gate)
        self._scrubber = Scrubber(source=lambda: (self._dev_key, self._password, self._session_id))

    @classmethod
    def from_account(cls, account, **options):
        """A client for ``account`` (a ``config.BillComAccount``); ``options`` are
        the constructor's keyword arguments (clock, session, limits, ...)."""
        return cls(account.base_url, account.dev_key, account.username, account.password,
                   account.organization_id, **options)

    def __repr__(self):
        return f"<BillComClient {self.base_url} organization {self.organization_id}>"

    # ============================================================== session
    def login(self):
        """Sign in (again) now; returns the login answer without the session id."""
        with self._login_lock:
            self._login()
        return {"organizationId": self.organization_id, "userId": self.user_id}

    def logout(self):
        with self._login_lock:
            if self._session_id:
                try:
                    self._request("POST", "/v3/logout", body={}, kind="logout", safe=True)
                finally:
                    self._session_id = None

    def _login(self):
        """Caller holds ``_login_lock``."""
        if self._auth_error is not None:
            raise self._auth_error
        self.login_limiter.acquire()
        self.stats.count("login_attempts")
        body = {"username": self._username, "password": self._password,
                "organizationId": self.organization_id, "devKey": self._dev_key}
        try:
            data = self._request("POST", "/v3/login", body=body, kind="login", auth=False, safe=True)
        except (BillComAuthError, BillComValidationError) as exc:
            # the credentials themselves were refused: remember it, so a wrong
            # password never burns the login quota; an administrator reconnects
            error = BillComAuthError(
                f"Bill.com refused the sign-in for organization {self.organization_id}: {exc.message} "
                "Check the username, password, developer key and organization id, then reconnect.",
                code=exc.code, status=exc.status, errors=exc.errors)
            self._auth_error = error
            raise error from None
        if not isinstance(data, dict) or not data.get("sessionId"):
            raise BillComMalformedResponse("Bill.com answered the sign-in without a session id.")
        self._session_id = data["sessionId"]
        self.user_id = data.get("userId")
        self._last_used = self.clock.now()
        self.stats.count("logins")

    def _idle_too_long(self):
        return (self._last_used is not None
                and self.clock.now() - self._last_used > self.session_idle_timeout - 60)

    def _current_session(self):
        sid = self._session_id
        if sid and not self._idle_too_long():
            return sid
        with self._login_lock:
            if self._session_id and (self._session_id != sid or not self._idle_too_long()):
                return self._session_id
            self._login()
            return self._session_id

    def _relogin(self, stale):
        with self._login_lock:
            if self._session_id and self._session_id != stale:
                return  # another thread has signed in already
            self._session_id = None
            self._login()
            self.stats.count("relogins")

    # ============================================================= requests
    def _scrub(self, text):
        return self._scrubber(text)

    def _clean(self, error):
        error.message = self._scrub(error.message)
        error.detail = self._scrub(error.detail)
        error.args = (error.message,)
        return error

    def _wait(self, reason, seconds):
        self.stats.count("retries", reason)
        self.stats.count("waits", reason, seconds)
        self.clock.sleep(seconds)

    def _delays(self, retries):
        return iter(backoff_delays(retries, base=self.backoff_base, cap=self.backoff_cap))

    def _seconds_to_next_hour(self):
        now = self.clock.now()
        return (now // 3600 + 1) * 3600 - now + self.quota_margin

    def _request(self, method, path, params=None, body=None, kind=None, auth=True, safe=None, recover=None):
        """Send one call with the retry policy; return the decoded JSON answer.

        ``safe`` says whether sending the call twice is harmless (GET, PUT,
        PATCH, archive...). For an unsafe call whose outcome is unknown (the
        answer was lost), ``recover()`` looks for its result: an object means
        it was applied; ``None`` means it was not and may be sent again. With
        no ``recover`` such a call raises ``BillComUnavailable(outcome_unknown=True)``.
        """
        if safe is None:
            safe = method in ("GET", "PUT", "PATCH", "DELETE")
        kind = kind or path
        url = self.base_url + path
        payload = json_dumps(body) if body is not None else None
        transient = self._delays(self.max_retries)
        throttle = self._delays(self.throttle_retries)
        relogged = quota_waited = False
        while True:
            headers = {"Accept": "application/json"}
            if payload is not None:
                headers["Content-Type"] = "application/json"
            sid = None
            if auth:
                sid = self._current_session()
                headers["devKey"] = self._dev_key
                headers["sessionId"] = sid
            try:
                # the limiter holds while a rate error of any process lasts
                with self.request_limiter.request(), self.gate:
                    self.stats.count("requests", f"{method} {kind}")
                    response = self.http.request(method, url, params=params, data=payload,
                                                 headers=headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                timed_out = isinstance(exc, requests.Timeout)
                reason = "timeout" if timed_out else "connection"
                what = ("did not answer within %ss" % self.timeout) if timed_out else "dropped the connection"
                sent = not isinstance(exc, requests.ConnectTimeout) and not _never_connected(exc)
                delay = next(transient, None)
                if sent and not safe:
                    found = self._recover(recover, delay, reason, method, kind, what)
                    if found is not None:
                        return found
                elif delay is not None:
                    self._wait(reason, delay)
                if delay is None:
                    raise BillComUnavailable(f"Bill.com {what} ({method} {kind}) after "
                                             f"{self.max_retries} retries.") from None
                continue
            if auth:
                self._last_used = self.clock.now()
            status = response.status_code
            data, decoded = _decode(response)
            if 200 <= status < 300:
                if decoded:
                    return data
                delay = next(transient, None)
                what = "answered with malformed JSON"
                if not safe:
                    found = self._recover(recover, delay, "malformed", method, kind, what)
                    if found is not None:
                        return found
                elif delay is not None:
                    self._wait("malformed", delay)
                if delay is None:
                    raise BillComMalformedResponse(f"Bill.com {what} ({method} {kind}) after "
                                                   f"{self.max_retries} retries.", status=status)
                continue
            error = self._clean(BillComError.from_response(status, data if decoded else None))
            if isinstance(error, SessionInvalid) and auth:
                if relogged:
                    raise error
                relogged = True
                self.stats.count("retries", "session")
                self._relogin(sid)
                continue
            if isinstance(error, QuotaExceeded):
                if quota_waited:
                    raise error
                quota_waited = True
                # Bill.com: past 20,000 an hour everything waits for the start of the next hour
                # (https://developer.bill.com/docs/api-rate-limits); a Retry-After, if sent, wins
                delay = retry_after(response.headers, self.clock.now(), cap=3600 + self.quota_margin)
                delay = self._seconds_to_next_hour() if delay is None else delay
                self.request_limiter.penalize(delay)
                self._wait("quota", delay)
                continue
            if isinstance(error, TooManyConcurrent):
                # BDC_1322 (3 in flight): Bill.com asks for exponential backoff, from a short delay
                delay = next(throttle, None)
                if delay is None:
                    raise error
                delay = retry_after(response.headers, self.clock.now(), cap=self.backoff_cap) or delay
                self.request_limiter.penalize(delay)
                self._wait("concurrency", delay)
                continue
            if status >= 500:
                delay = next(transient, None)
                if not safe and status != 503:  # 503: not processed; anything else: may have been
                    found = self._recover(recover, delay, "server", method, kind, f"answered HTTP {status}")
                    if found is not None:
                        return found
                elif delay is not None:
                    self._wait("server", delay)
                if delay is None:
                    if not isinstance(error, BillComServerError):
                        error = BillComServerError(error.message, code=error.code, status=status,
                                                   errors=error.errors)
                    raise error
                continue
            raise error

    def _recover(self, recover, delay, reason, method, kind, what):
        """After an unsafe call's answer was lost: wait, then look for its result."""
        if recover is None:
            raise BillComUnavailable(
                f"Bill.com {what} ({method} {kind}); the outcome is unknown, so it was not sent again.",
                outcome_unknown=True)
        if delay is not None:
            self._wait(reason, delay)
        self.stats.count("retries", "lookup")
        found = recover()
        return found

    # ================================================================ paths
    def _path(self, collection, obj_id=None, suffix=None):
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown Bill.com collection {collection!r}")
        if collection == "payment-terms":
            path = f"/v3/organizations/{self.organization_id}/payment-terms"
        else:
            path = f"/v3/{collection}"
        if obj_id is not None:
            if not isinstance(obj_id, str) or not obj_id or "/" in obj_id:
                raise ValueError(f"invalid Bill.com id {obj_id!r}")
            path += f"/{obj_id}"
        if suffix:
            path += f"/{suffix}"
        return path

    @staticmethod
    def _kind(collection, obj_id=None, suffix=None):
        kind = collection
        if obj_id is not None:
            kind += "/{id}"
        if suffix:
            kind += f"/{suffix}"
        return kind

    # ================================================================ reads
    def organization(self):
        """``GET /v3/organizations/{orgId}``."""
        return self._request("GET", f"/v3/organizations/{self.organization_id}", kind="organization")

    def list(self, collection, filters=None, sort=None, page_size=MAX_PAGE):
        """Every object of ``collection`` matching ``filters``, one page at a time.

        ``filters`` is ``[(field, op, value), ...]`` (ANDed), ``sort`` is
        ``(field, 'asc'|'desc')`` or ``'field:asc'``. A generator: only one page
        is held in memory. A value Bill.com cannot be sent (see
        ``format_filter_value``) is asked for as broadly as needed and matched
        here exactly.
        """
        if not 1 <= int(page_size) <= MAX_PAGE:
            raise ValueError(f"page_size must be from 1 to {MAX_PAGE}")
        path = self._path(collection)
        params = {"max": int(page_size)}
        sent, local = plan_filters(filters)
        text = format_filters(sent)
        if text:
            params["filters"] = text
        order = format_sort(sort)
        if order:
            params["sort"] = order
        pages = self._pages(path, params, collection)
        if local:
            return (obj for obj in pages if matches(obj, local))
        return pages

    def _pages(self, path, params, kind):
        params = dict(params)
        while True:
            data = self._request("GET", path, params=params, kind=kind)
            if not isinstance(data, dict) or not isinstance(data.get("results"), list):
                raise BillComMalformedResponse(f"Bill.com answered a list of {kind} without 'results'.")
            yield from data["results"]
            token = data.get("nextPage")
            if not token:
                return
            params["page"] = token

    def get(self, collection, obj_id):
        return self._request("GET", self._path(collection, obj_id), kind=self._kind(collection, obj_id))

    # ========================================================== look-ups
    def find_by_name(self, collection, name):
        """The object named ``name`` (exact match; an active one before an archived one) or None."""
        if name is None:
            return None
        filters = [("name", "eq", name)] if collection in NAME_FILTERABLE else None
        return _best(obj for obj in self.list(collection, filters=filters) if obj.get("name") == name)

    def find_bill(self, vendor_id, invoice_number):
        """The vendor's bill with this invoice number, or None."""
        return _best(bill for bill in self.list("bills", filters=[("vendorId", "eq", vendor_id)])
                     if (bill.get("invoice") or {}).get("invoiceNumber") == invoice_number)

    def find_invoice(self, customer_id, invoice_number):
        """The customer's invoice with this number, or None."""
        return _best(inv for inv in self.list("invoices", filters=[("customerId", "eq", customer_id)])
                     if inv.get("invoiceNumber") == invoice_number)

    def find_credit(self, collection, owner_id, reference_number):
        """A vendor credit (by vendor) or credit memo (by customer) with this reference number."""
        field = "vendorId" if collection == "vendor-credits" else "customerId"
        return _best(obj for obj in self.list(collection, filters=[(field, "eq", owner_id)])
                     if obj.get("referenceNumber") == reference_number)

    def _lookup(self, collection, body):
        """A function finding the object ``body`` would create, or None when it cannot be told apart."""
        if not isinstance(body, dict):
            return None
        if collection in NAME_FILTERABLE or collection == "payment-terms":
            name = body.get("name")
            return (lambda: self.find_by_name(collection, name)) if name else None
        if collection == "bills":
            number = (body.get("invoice") or {}).get("invoiceNumber")
            vendor = body.get("vendorId")
            return (lambda: self.find_bill(vendor, number)) if number and vendor else None
        if collection == "invoices":
            customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
            number, customer_id = body.get("invoiceNumber"), customer.get("id")
            return (lambda: self.find_invoice(customer_id, number)) if number and customer_id else None
        if collection in ("vendor-credits", "credit-memos"):
            owner = body.get("vendorId" if collection == "vendor-credits" else "customerId")
            number = body.get("referenceNumber")
            return (lambda: self.find_credit(collection, owner, number)) if owner and number else None
        return None

    def _find_payment(self, collection, owner_field, body, date_field):
        """A payment recorded with this body, told apart by its description."""
        description, owner = body.get("description"), body.get(owner_field)
        if not description or not owner:
            return None

        def find():
            for payment in self.list(collection, filters=[(owner_field, "eq", owner)],
                                     sort=("createdTime", "desc")):
                if payment.get("description") == description and payment.get(date_field) == body.get(date_field):
                    return payment
            return None
        return find

    # ================================================================ writes
    def create(self, collection, body):
        if collection in READ_ONLY:
            raise ValueError(f"{collection} cannot be created; record payments instead")
        return self._request("POST", self._path(collection), body=body, kind=collection,
                             recover=self._lookup(collection, body))

    def update(self, collection, obj_id, body, method=None):
        """PATCH (PUT for invoices, which Bill.com replaces whole) one object."""
        if collection in READ_ONLY or collection == "payment-terms":
            raise ValueError(f"{collection} cannot be updated through the API")
        method = method or ("PUT" if collection in PUT_UPDATES else "PATCH")
        return self._request(method, self._path(collection, obj_id), body=body,
                             kind=self._kind(collection, obj_id))

    def archive(self, collection, obj_id):
        return self._request("POST", self._path(collection, obj_id, "archive"), body={},
                             kind=self._kind(collection, obj_id, "archive"), safe=True)

    def restore(self, collection, obj_id):
        return self._request("POST", self._path(collection, obj_id, "restore"), body={},
                             kind=self._kind(collection, obj_id, "restore"), safe=True)

    def bulk_limit(self, collection):
        short = collection.split("/", 1)[-1]
        documented = BULK_LIMITS.get(short, DEFAULT_BULK_LIMIT)
        return int(self.bulk_limits.get(collection, self.bulk_limits.get(short, documented)))

    def bulk_create(self, collection, items):
        """Create ``items`` in chunks of ``bulk_limit``; results in input order.

        Each chunk is all-or-nothing. A refused chunk raises with ``index`` =
        the failing item's position in ``items`` and ``created`` = the objects
        made by the chunks before it. Collections without a bulk endpoint are
        created one by one, ``max_in_flight`` at a time.
        """
        items = list(items)
        if collection not in BULK_CREATE:
            return self._each(items, lambda body: self.create(collection, body))
        limit = self.bulk_limit(collection)
        created = []
        for start in range(0, len(items), limit):
            chunk = items[start:start + limit]
            lookups = [self._lookup(collection, body) for body in chunk]
            recover = partial(_find_all, lookups) if all(lookups) else None
            try:
                result = self._request("POST", self._path(collection, suffix="bulk"), body=chunk,
                                       kind=f"{collection}/bulk", recover=recover)
            except BillComError as exc:
                raise self._bulk_error(exc, start, created) from None
            created.extend(self._bulk_result(result, len(chunk), collection))
        return created

    def bulk_update(self, collection, items):
        """Update ``[{"id": ..., <changes>}, ...]``; results in input order (see ``bulk_create``)."""
        items = list(items)
        for item in items:
            if not isinstance(item, dict) or not item.get("id"):
                raise ValueError("every bulk update item needs its 'id'")
        if collection not in BULK_UPDATE:
            return self._each(items, lambda item: self.update(
                collection, item["id"], {k: v for k, v in item.items() if k != "id"}))
        limit = self.bulk_limit(collection)
        updated = []
        for start in range(0, len(items), limit):
            chunk = items[start:start + limit]
            try:
                result = self._request("PATCH", self._path(collection, suffix="bulk"), body=chunk,
                                       kind=f"{collection}/bulk")
            except BillComError as exc:
                raise self._bulk_error(exc, start, updated) from None
            updated.extend(self._bulk_result(result, len(chunk), collection))
        return updated

    @staticmethod
    def _bulk_result(result, expected, collection):
        if isinstance(result, dict) and isinstance(result.get("results"), list):
            result = result["results"]
        if not isinstance(result, list) or len(result) != expected:
            raise BillComMalformedResponse(f"Bill.com answered a bulk request on {collection} with "
                                           f"an unexpected body.")
        return result

    @staticmethod
    def _bulk_error(exc, offset, done):
        if exc.index is not None:
            exc.index += offset
            exc.message = _INDEX_RE.sub(f"[{exc.index}]", exc.message, count=1)
            exc.args = (exc.message,)
        exc.created = list(done)
        return exc

    def _each(self, items, write):
        results = self.map_concurrently(write, items)
        done = []
        for index, result in enumerate(results):
            if isinstance(result, BaseException):
                if isinstance(result, BillComError):
                    result.index = index
                    result.created = [r for r in results if not isinstance(r, BaseException)]
                raise result
            done.append(result)
        return done

    def record_ap_payment(self, body):
        """``POST /v3/bills/record-payment``: a bill payment made outside Bill.com."""
        return self._request("POST", "/v3/bills/record-payment", body=body, kind="bills/record-payment",
                             recover=self._find_payment("payments", "vendorId", body, "processDate"))

    def record_ar_payment(self, body):
        """``POST /v3/invoices/record-payment``: a customer payment received outside Bill.com."""
        return self._request("POST", "/v3/invoices/record-payment", body=body,
                             kind="invoices/record-payment",
                             recover=self._find_payment("receivable-payments", "customerId", body,
                                                        "paymentDate"))

    def void_ap_payment(self, payment_id):
        """``POST /v3/payments/{id}/void``: the payment becomes ``VOIDED`` and its bills owe
        the money again. Returns the payment."""
        return self._request("POST", self._path("payments", payment_id, "void"), body={},
                             kind="payments/{id}/void",
                             recover=self._find_ended_payment(payment_id, "VOIDED"))

    def cancel_ap_payment(self, payment_id):
        """``POST /v3/payments/{id}/cancel``: a ``SCHEDULED`` payment becomes ``CANCELED``."""
        return self._request("POST", self._path("payments", payment_id, "cancel"), body={},
                             kind="payments/{id}/cancel",
                             recover=self._find_ended_payment(payment_id, "CANCELED"))

    def _find_ended_payment(self, payment_id, status):
        def find():
            payment = self.get("payments", payment_id)
            return payment if (payment.get("singleStatus") or payment.get("status")) == status else None
        return find

    def apply_vendor_credits(self, bill_id, credits):
        """``PATCH /v3/bills/{id}`` with ``vendorCredits``: the vendor credits the bill
        carries, ``[{"id": "vcr...", "amount": ...}]`` or ``[(id, amount)]``; each amount
        is that credit's total on the bill (0 or left out takes it off). Returns the bill."""
        items = [c if isinstance(c, dict) else {"id": c[0], "amount": c[1]} for c in credits]
        body = {"vendorCredits": [{"id": c["id"], "amount": _json_amount(c["amount"])} for c in items]}
        return self.update("bills", bill_id, body)

    # ========================================================== concurrency
    def map_concurrently(self, fn, items, workers=None, return_exceptions=True):
        """``[fn(item) for item in items]`` on at most ``max_in_flight`` threads.

        Results come in input order; with ``return_exceptions`` a failure is
        returned in its item's place (so finished writes are never lost),
        otherwise the first failure is raised after all items finished.
        """
        items = list(items)
        workers = max(1, min(workers or self.max_in_flight, self.max_in_flight, len(items) or 1))

        def call(item):
            try:
                return fn(item)
            except Exception as exc:  # handed back to the caller in the item's place
                return exc
        if workers == 1:
            results = [call(item) for item in items]
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="billcom") as pool:
                results = list(pool.map(call, items))
        if not return_exceptions:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results


def _json_amount(amount):
    """A money amount for a JSON body (a Decimal goes as a number with its cents)."""
    if isinstance(amount, decimal.Decimal):
        return float(amount.quantize(decimal.Decimal("0.01")))
    return amount


def _find_all(lookups):
    """Every object a lost bulk create would have made, or None if any is missing
    (a bulk request is all-or-nothing, so then none was made)."""
    found = [lookup() for lookup in lookups]
    return found if all(f is not None for f in found) else None


def _best(candidates):
    """The first active candidate, else the first archived one, else None."""
    archived = None
    for obj in candidates:
        if not obj.get("archived"):
            return obj
        if archived is None:
            archived = obj
    return archived


def _decode(response):
    if not response.content:
        return ({}, True) if 200 <= response.status_code < 300 else (None, False)
    try:
        return json.loads(response.content, parse_float=decimal.Decimal), True  # money is exact from the wire on
    except ValueError:
        return None, False


def _never_connected(exc):
    """True when the request surely never reached the server (connection refused)."""
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text
