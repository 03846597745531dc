"""QuickBooks Online Accounting API v3 client.

The only code that speaks QBO's protocol: OAuth 2.0 (code exchange, refresh
with rotation, revoke), reads (query pages, read by id, Preferences,
CompanyInfo, change data capture), writes with a caller-supplied ``requestid``
(so a retry is replayed by QBO instead of done twice), batch, and the
documented limits (500 requests/minute, 10/second, 40 batches/minute per
company). Errors become the typed exceptions of ``sync_engine.qbo.errors``.

Every wait goes through ``clock.sleep`` (``sync_engine.pacing.Clock``) so tests
run without real sleeping; nothing retries forever.

Shared with other processes (optional; both default to this process only):

* ``pacing_board`` (``sync_engine.pacing.PacingBoard``): the request and batch
  windows of the realm, keys ``qbo:<realm>:requests`` and ``qbo:<realm>:batches``;
  a throttle answer is recorded there so every process holds.
* ``token_keeper`` (``sync_engine.tokens.TokenKeeper``): one refresh of the
  realm's tokens at a time; a process that finds them already refreshed by
  another adopts them instead of spending its own (superseded) refresh token.
"""
import base64
import collections
import contextlib
import decimal
import json
import random
import re
import threading
import urllib.parse
from dataclasses import dataclass

import requests

from ..pacing import Clock, backoff_delays, limiter, retry_after
from ..records import json_dumps
from ..secrets import Scrubber
from ..transport import new_session
from .errors import (CDCSecondTooFull, CDCWindowTooOld, QBOAuthError, QBOError, QBOMalformedResponse,
                     QBOReconnectNeeded, QBOServerError, QBOThrottled, QBOValidationError, error_from_fault)
from .parsing import (CDCResult, TokenSet, _iso_utc, _lut, entity_of, find_fault, is_throttle, parse_batch_response,
                      parse_cdc_response, parse_query_response, parse_token_response, parse_xml_fault, quote,
                      to_epoch)

PRODUCTION_BASE_URL = "https://quickbooks.api.intuit.com"
SANDBOX_BASE_URL = "https://sandbox-quickbooks.api.intuit.com"
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"

MAX_PAGE = 1000            # MAXRESULTS ceiling
CDC_MAX_OBJECTS = 1000     # objects per CDC response, all entities together
CDC_WINDOW_DAYS = 30
BATCH_MAX_ITEMS = 30
REQUEST_ID_MAX = 50
BATCH_REQUEST_ID_MAX = 36
BATCH_BID_MAX = 10         # when the batch carries a requestid
RATE_PER_MINUTE = 500      # requests per minute per company
RATE_PER_SECOND = 10       # requests per second per company
# QuickBooks counts a request when it arrives; between taking a slot here and
# the request arriving lie a thread switch or another process's request, so a
# window timed exactly to the limit may hold one request too many there. The
# windows are paced this much longer than documented.
WINDOW_SLACK = 0.15
BATCHES_PER_MINUTE = 40    # batch requests per minute per company
REFRESH_MARGIN = 60        # refresh an access token this many seconds before it expires
USER_AGENT = "billcom-qbo-sync/1.0"
RECONNECT_MESSAGE = "QuickBooks refused the refresh token; reconnect the company"

_PAGING_RE = re.compile(r"\b(startposition|maxresults)\s+\d+", re.I)
_FROM_RE = re.compile(r"\bfrom\s+([A-Za-z]+)", re.I)


# ----------------------------------------------------------------- value objects
@dataclass
class BatchItem:
    """One entry of a batch: ``operation`` is create | update | delete | query.
    For a query, ``body`` is the select statement and ``entity`` may be None."""

    bId: str
    operation: str
    entity: str = None
    body: object = None

    @classmethod
    def query(cls, bId, select):
        return cls(bId, "query", None, select)


@dataclass(kw_only=True)
class OAuthEndpoints:
    """Where a QuickBooks app signs a company in and refreshes and revokes its
    tokens: Intuit's, unless a local company (the sandbox) names its own."""

    token_url: str = TOKEN_URL
    revoke_url: str = REVOKE_URL
    authorize_url: str = AUTHORIZE_URL


# ----------------------------------------------------------------- the client
class QBOClient:
    """One QBO company (realm). See the module docstring."""

    cdc_max_objects = CDC_MAX_OBJECTS
    query_post_threshold = 1500   # longer selects go as a POST body

    def __init__(self, base_url, realm_id, client_id, client_secret, refresh_token, token_url,
                 revoke_url=None, access_token=None, access_token_expires_at=None, on_tokens=None, clock=None,
                 session=None, minorversion=75, timeout=30, max_retries=5, throttle_wait=60, backoff_base=0.5,
                 backoff_cap=30, rate_per_minute=RATE_PER_MINUTE, rate_per_second=RATE_PER_SECOND,
                 batch_per_minute=BATCHES_PER_MINUTE, pacing_board=None, token_keeper=None,
                 throttle_backoff_base=2.0, throttle_jitter=0.1):
        self.base_url = (base_url or PRODUCTION_BASE_URL).rstrip("/")
        self.realm_id = str(realm_id) if realm_id else None
        self.client_id = client_id
        self._client_secret = client_secret
        self.refresh_token = refresh_token
        self.token_url = token_url or TOKEN_URL
        self.revoke_url = revoke_url or REVOKE_URL
        self.access_token = access_token
        self.access_token_expires_at = float(access_token_expires_at) if access_token_expires_at else None
        self.on_tokens = on_tokens
        self.clock = clock or Clock()
        self.session = session or new_session(self.base_url)
        self.minorversion = minorversion
        self.timeout = timeout
        self.max_retries = max_retries
        self.throttle_wait = throttle_wait  # the longest wait after a throttle answer without Retry-After
        self.throttle_backoff_base = throttle_backoff_base
        self.throttle_jitter = throttle_jitter
        self._rng = random.Random()
        self.backoff = list(backoff_delays(max_retries, base=backoff_base, cap=backoff_cap))
        # the limits belong to the company (realm), shared by every client of it: in this
        # process, or on ``pacing_board`` by every process that shares the board
        self.pacing_board = pacing_board
        self.token_keeper = token_keeper
        self.limiter = limiter("qbo-requests", (self.realm_id, rate_per_minute, rate_per_second),
                               f"qbo:{self.realm_id}:requests",
                               [(rate_per_minute, 60 + WINDOW_SLACK), (rate_per_second, 1 + WINDOW_SLACK)],
                               self.clock, pacing_board)
        self.batch_limiter = limiter("qbo-batches", (self.realm_id, batch_per_minute),
                                     f"qbo:{self.realm_id}:batches", [(batch_per_minute, 60)],
                                     self.clock, pacing_board)
        self._token_lock = threading.RLock()
        # whatever a token endpoint echoes back (the Basic credential, a token) never reaches an error
        self._scrubber = Scrubber(source=lambda: (self._client_secret, self.refresh_token, self.access_token,
                                                  (self.client_id, self._client_secret)))
        self._stats_lock = threading.Lock()
        self.stats = {"requests": collections.Counter(), "retries": 0, "throttled_waits": 0,
                      "throttle_wait_seconds": 0.0, "backoff_seconds": 0.0, "token_refreshes": 0,
                      "token_adoptions": 0}

    @classmethod
    def from_account(cls, account, **options):
        """A client for ``account`` (a ``config.QBOAccount``, whose stored tokens
        it starts from); ``options`` are the constructor's keyword arguments
        (on_tokens, clock, session, limits, ...)."""
        return cls(account.base_url, account.realm_id, account.client_id, account.client_secret,
                   account.refresh_token, account.token_url, revoke_url=account.revoke_url,
                   access_token=account.access_token, access_token_expires_at=account.access_token_expires_at,
                   **options)

    def __repr__(self):
        return f"<QBOClient realm={self.realm_id} base_url={self.base_url}>"

    @property
    def pacing_wait_seconds(self):
        return self.limiter.waited + self.batch_limiter.waited

    def _count(self, key, amount=1):
        with self._stats_lock:
            self.stats[key] += amount

    def _count_request(self, method, kind):
        with self._stats_lock:
            self.stats["requests"][f"{method} {kind}"] += 1

    # ============================================================ OAuth
    def authorization_url(self, redirect_uri, state, authorize_url=AUTHORIZE_URL, scope=ACCOUNTING_SCOPE):
        """Where to send the user's browser to connect a company. The caller keeps
        ``state`` and compares it with the one that comes back."""
        if not state:
            raise ValueError("state is required (it protects the callback against forgery)")
        params = {"client_id": self.client_id, "response_type": "code", "scope": scope,
                  "redirect_uri": redirect_uri, "state": state}
        separator = "&" if "?" in (authorize_url or AUTHORIZE_URL) else "?"
        return f"{authorize_url or AUTHORIZE_URL}{separator}{urllib.parse.urlencode(params)}"

    def exchange_code(self, code, redirect_uri, realm_id=None):
        """Trade the callback's code for tokens (once); returns the TokenSet."""
        if realm_id:
            self.realm_id = str(realm_id)
        with self._token_lock:
            return self._token_call({"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": redirect_uri}, exchange=True)

    def refresh(self):
        """Get a new access token (and possibly a new refresh token); returns the TokenSet.

        With a ``token_keeper`` this happens under its lock: tokens another
        process refreshed meanwhile are adopted (None is returned then), and a
        refresh token superseded by another process is replaced by the stored
        one before it is spent."""
        with self._token_lock:
            if self.token_keeper is None:
                return self._refresh_now()
            stale_access = self.access_token
            for attempt in range(2):
                with self.token_keeper.refreshing() as stored:
                    if stored is not None and self._adopt(stored, stale_access):
                        return None
                    if stored is not None and stored.refresh_token:
                        self.refresh_token = stored.refresh_token  # the latest one stored
                    sent = self.refresh_token
                    try:
                        return self._refresh_now()
                    except QBOReconnectNeeded:
                        # refused: unless the stored tokens changed meanwhile (written by a
                        # process that does not use the keeper), the company must reconnect
                        if attempt:
                            raise
                with self.token_keeper.refreshing() as stored:
                    if stored is None or not stored.refresh_token or stored.refresh_token == sent:
                        raise self._reconnect_error()
                    if self._adopt(stored, stale_access):
                        return None
            raise self._reconnect_error()

    def _reconnect_error(self):
        return QBOReconnectNeeded(RECONNECT_MESSAGE, code="invalid_grant")

    def _adopt(self, stored, stale_access):
        """Take ``stored`` tokens when they hold a valid access token other than the
        one we have (or the one QBO just refused): another process refreshed."""
        if stored.access_token == stale_access or not stored.access_valid(self.clock.now(), REFRESH_MARGIN):
            return False
        self.access_token = stored.access_token
        self.access_token_expires_at = float(stored.access_token_expires_at)
        if stored.refresh_token:
            self.refresh_token = stored.refresh_token
        self._count("token_adoptions")
        return True

    def _refresh_now(self):
        if not self.refresh_token:
            raise QBOReconnectNeeded("No QuickBooks refresh token is stored; connect the company",
                                     code="invalid_grant")
        return self._token_call({"grant_type": "refresh_token", "refresh_token": self.refresh_token})

    def revoke(self, token=None):
        """Disconnect: revoke the refresh token (and with it the access token)."""
        token = token or self.refresh_token or self.access_token
        if not token:
            return False
        response = self._send("POST", self.revoke_url, kind="revoke", auth_basic=True,
                              data=json.dumps({"token": token}),
                              headers={"Content-Type": "application/json"})
        if response.status_code >= 400:
            raise self._clean(QBOAuthError(f"QuickBooks did not revoke the connection (HTTP {response.status_code})",
                                           status=response.status_code, code=self._oauth_error(response)))
        with self._token_lock:
            self.access_token = None
            self.access_token_expires_at = None
            self.refresh_token = None
        return True

    def _basic(self):
        raw = f"{self.client_id}:{self._client_secret}".encode("utf-8")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    @staticmethod
    def _oauth_field(response, name):
        try:
            payload = response.json()
        except ValueError:
            return None
        value = payload.get(name) if isinstance(payload, dict) else None
        return value if isinstance(value, str) else None

    def _oauth_error(self, response):
        return self._scrubber(self._oauth_field(response, "error"))

    def _clean(self, error):
        """The error with every credential masked: an OAuth endpoint may echo the
        request (its Basic credential, the tokens in its form) in what it answers."""
        for name in ("message", "detail", "code", "field"):
            setattr(error, name, self._scrubber(getattr(error, name, None)))
        if getattr(error, "errors", None):
            error.errors = [{k: self._scrubber(v) for k, v in e.items()} for e in error.errors]
        error.args = (error.message,)
        return error

    def _token_call(self, form, exchange=False):
        response = self._send("POST", self.token_url, kind="token", auth_basic=True, data=form,
                              headers={"Content-Type": "application/x-www-form-urlencoded",
                                       "x-include-refresh-token-hard-expires-in": "true"})
        status = response.status_code
        if status != 200:
            self._scrubber.learn([form.get("code"), form.get("refresh_token")])
            raise self._clean(self._token_error(response, status, exchange))
        try:
            payload = response.json()
        except ValueError:
            raise QBOMalformedResponse("QuickBooks's token endpoint answered with something that is not JSON",
                                       status=status) from None
        tokens = parse_token_response(payload, self.clock.now(), self.realm_id)
        self.access_token = tokens.access_token
        self.access_token_expires_at = tokens.access_token_expires_at
        self.refresh_token = tokens.refresh_token
        self._count("token_refreshes")
        if self.on_tokens:
            self.on_tokens(tokens)
        return tokens

    def _token_error(self, response, status, exchange):
        """The typed error for a token answer that is not 200."""
        error = self._oauth_field(response, "error")
        description = self._oauth_field(response, "error_description")
        if error == "invalid_grant":
            message = ("QuickBooks refused the authorization code; start the connection again"
                       if exchange else RECONNECT_MESSAGE)
            return QBOReconnectNeeded(message, code=error, status=status, detail=description)
        if error == "invalid_client" or status == 401:
            return QBOAuthError("QuickBooks rejected the app's client id or secret", code=error or "invalid_client",
                                status=status, detail=description)
        return QBOAuthError(f"QuickBooks's token endpoint answered HTTP {status}", code=error, status=status,
                            detail=description)

    def _current_access_token(self):
        with self._token_lock:
            expires = self.access_token_expires_at
            if not self.access_token or (expires is not None and expires - self.clock.now() <= REFRESH_MARGIN):
                self.refresh()
            return self.access_token

    def _refresh_after_401(self, token_used):
        with self._token_lock:
            if self.access_token == token_used:  # nobody refreshed meanwhile
                self.refresh()

    # ========================================================= transport
    def _send(self, method, url, kind, auth_basic=False, params=None, data=None, json_body=None, headers=None):
        """One HTTP exchange with bounded retries on connection errors and 5xx
        (for the OAuth endpoints; the API goes through ``_call``)."""
        attempt = 0
        while True:
            all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
            if auth_basic:
                all_headers["Authorization"] = self._basic()
            self._count_request(method, kind)
            try:
                response = self.session.request(method, url, params=params, data=data, json=json_body,
                                                headers=all_headers, timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                attempt = self._transient(attempt, f"QuickBooks did not answer ({type(exc).__name__})")
                continue
            if response.status_code >= 500:
                attempt = self._transient(attempt, f"QuickBooks answered HTTP {response.status_code}",
                                          status=response.status_code)
                continue
            return response

    def _transient(self, attempt, message, status=None, error=None):
        """Sleep the next backoff delay, or raise once they are used up."""
        if attempt >= self.max_retries:
            if error is not None:
                raise error
            raise QBOServerError(f"{message} after {attempt + 1} attempts", status=status)
        delay = self.backoff[attempt] if attempt < len(self.backoff) else self.backoff[-1]
        self._count("retries")
        self._count("backoff_seconds", delay)
        self.clock.sleep(delay)
        return attempt + 1

    def _throttled(self, waits, response, fault):
        if waits >= self.max_retries:
            first = ((fault or {}).get("Error") or [{}])[0]
            raise QBOThrottled(f"QuickBooks still refused requests as too many after {waits} waits",
                               code=str(first.get("code") or "3001"), status=response.status_code,
                               detail=first.get("Detail"), fault_type=(fault or {}).get("type"),
                               intuit_tid=response.headers.get("intuit_tid"))
        # What QBO says: "on HTTP 429 wait 60 seconds" (limits-and-throttles page); a
        # Retry-After header is not documented by Intuit, so it is honoured when present
        # (seconds or an HTTP-date, RFC 9110 10.2.3) and never required. Without one we
        # back off from a short delay (2, 4, 8 ... at most ``throttle_wait``, with a little
        # jitter): our own pacing keeps under the limits, so a throttle means a brief
        # overlap with another client, not a minute's worth of excess. The wait is put on
        # the pacing board so every process of the realm holds too.
        wait = retry_after(response.headers, self.clock.now(), cap=max(self.throttle_wait, 3600))
        if wait is None:
            wait = min(self.throttle_wait, self.throttle_backoff_base * (2 ** waits))
            if self.throttle_jitter:
                wait = min(self.throttle_wait, wait + self._rng.uniform(0, self.throttle_jitter * wait))
        self.limiter.penalize(wait)
        self._count("throttled_waits")
        self._count("retries")
        self._count("throttle_wait_seconds", wait)
        self.clock.sleep(wait)
        return waits + 1

    def _call(self, method, path, params=None, json_body=None, text_body=None, is_batch=False):
        """An API request with token refresh, pacing, retries and Fault parsing."""
        if not self.realm_id:
            raise QBOValidationError("No QuickBooks company (realm id) is connected")
        url = f"{self.base_url}/v3/company/{self.realm_id}/{path}"
        query = dict(params or {})
        query["minorversion"] = self.minorversion
        kind = path.split("/")[0].lower()
        transient = throttled = 0
        refreshed = False
        while True:
            token = self._current_access_token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": USER_AGENT}
            data = None
            if json_body is not None:
                headers["Content-Type"] = "application/json"
                data = json_dumps(json_body, separators=(",", ":"))
            elif text_body is not None:
                headers["Content-Type"] = "application/text"
                data = text_body.encode("utf-8")
            self._count_request(method, kind)
            try:
                with self._paced(is_batch):
                    response = self.session.request(method, url, params=query, data=data, headers=headers,
                                                    timeout=self.timeout)
            except (requests.ConnectionError, requests.Timeout) as exc:
                transient = self._transient(transient, f"QuickBooks did not answer {method} {kind} "
                                                       f"({type(exc).__name__})")
                continue
            status = response.status_code
            tid = response.headers.get("intuit_tid")
            payload, fault, malformed = self._decode(response)
            if status == 401:
                if not refreshed:
                    refreshed = True
                    self._refresh_after_401(token)
                    continue
                raise self._error(fault, status, tid, QBOAuthError,
                                  "QuickBooks refused the access token even after a refresh")
            if status == 429 or (status == 403 and is_throttle(fault)):
                throttled = self._throttled(throttled, response, fault)
                continue
            if status >= 500:
                error = self._error(fault, status, tid, QBOServerError, f"QuickBooks answered HTTP {status}")
                if not isinstance(error, QBOServerError):
                    error = QBOServerError(error.message, code=error.code, field=error.field, status=status,
                                           detail=error.detail, fault_type=error.fault_type,
                                           errors=error.errors, intuit_tid=tid)
                transient = self._transient(transient, error.message, status, error)
                continue
            if malformed:
                error = QBOMalformedResponse(
                    f"QuickBooks answered {method} {kind} with something that is not JSON "
                    f"(HTTP {status}, {response.headers.get('Content-Type') or 'no content type'})", status=status)
                if status >= 400:
                    raise QBOValidationError(f"QuickBooks answered HTTP {status}", status=status)
                transient = self._transient(transient, error.message, status, error)
                continue
            if fault is not None:
                raise self._clean(error_from_fault(fault, status=status, intuit_tid=tid))
            if status >= 400:
                cls = QBOAuthError if status == 403 else QBOValidationError
                raise cls(f"QuickBooks answered HTTP {status}", status=status)
            return payload

    def _paced(self, is_batch):
        """The request's place in the realm's windows (and the batch window for a batch)."""
        paced = contextlib.ExitStack()
        if is_batch:
            paced.enter_context(self.batch_limiter.request())
        paced.enter_context(self.limiter.request())
        return paced

    @staticmethod
    def _decode(response):
        """(payload, fault, malformed) for any body QBO may send."""
        text = response.text or ""
        content_type = (response.headers.get("Content-Type") or "").lower()
        stripped = text.lstrip()
        if "xml" in content_type or stripped.startswith("<IntuitResponse") or stripped.startswith("<?xml"):
            fault = parse_xml_fault(text)
            return None, fault, fault is None
        try:
            payload = json.loads(text, parse_float=decimal.Decimal)  # money is exact from the wire on
        except ValueError:
            return None, None, True
        if not isinstance(payload, dict):
            return None, None, True
        return payload, find_fault(payload), False

    def _error(self, fault, status, tid, default_cls, message):
        if fault is not None:
            return self._clean(error_from_fault(fault, status=status, intuit_tid=tid))
        return default_cls(message, status=status, intuit_tid=tid)

    # ============================================================ reads
    def query(self, select, page_size=MAX_PAGE):
        """Every row the select matches, one page of ``page_size`` (≤1000) at a
        time, as a generator; it stops after the first short page."""
        if _PAGING_RE.search(select):
            raise ValueError("leave STARTPOSITION and MAXRESULTS out: query() pages by itself")
        page_size = max(1, min(MAX_PAGE, int(page_size)))
        match = _FROM_RE.search(select)
        entity = match.group(1) if match else None
        return self._pages(select.strip().rstrip(";"), entity, page_size)

    def _pages(self, select, entity, page_size):
        start = 1
        while True:
            rows = self._query_page(f"{select} STARTPOSITION {start} MAXRESULTS {page_size}", entity)
            yield from rows
            if len(rows) < page_size:
                return
            start += page_size

    def _query_page(self, text, entity=None):
        if len(text) > self.query_post_threshold:
            payload = self._call("POST", "query", text_body=text)
        else:
            payload = self._call("GET", "query", params={"query": text})
        return parse_query_response(payload, entity)[1]

    def query_one(self, select):
        """The first row of a select, or None."""
        match = _FROM_RE.search(select)
        rows = self._query_page(f"{select.strip().rstrip(';')} STARTPOSITION 1 MAXRESULTS 1",
                                match.group(1) if match else None)
        return rows[0] if rows else None

    def query_count(self, entity, where=None):
        """``SELECT COUNT(*) FROM entity [WHERE where]``."""
        text = f"SELECT COUNT(*) FROM {entity}" + (f" WHERE {where}" if where else "")
        payload = self._call("GET", "query", params={"query": text})
        response = payload.get("QueryResponse")
        if not isinstance(response, dict):
            raise QBOMalformedResponse("QuickBooks's count answer has no QueryResponse")
        return int(response.get("totalCount", 0))

    def read(self, entity, id):
        return entity_of(self._call("GET", f"{entity.lower()}/{urllib.parse.quote(str(id))}"), entity)

    def preferences(self):
        return entity_of(self._call("GET", "preferences"), "Preferences")

    def company_info(self):
        return entity_of(self._call("GET", f"companyinfo/{self.realm_id}"), "CompanyInfo")

    # ============================================================== CDC
    def cdc(self, entities, changed_since, until=None):
        """Objects of ``entities`` changed since ``changed_since`` (and before
        ``until`` when given), deleted ones as stubs.

        A response that reaches the 1,000-object cap is not a safe checkpoint:
        the window is then split in halves (on whole seconds, using the newest
        LastUpdatedTime the capped answer covers completely) until every piece
        is complete, and the pieces are merged, newest version of each object
        winning."""
        names = [entities] if isinstance(entities, str) else list(entities)
        if not names:
            raise ValueError("cdc() needs at least one entity")
        since = int(to_epoch(changed_since))
        now = self.clock.now()
        if since < now - CDC_WINDOW_DAYS * 86400:
            raise CDCWindowTooOld(
                f"Change data capture only looks back {CDC_WINDOW_DAYS} days and {_iso_utc(since)} is older; "
                f"read everything with a full query instead", field="changedSince")
        merged, counter = {}, [0]
        first = self._cdc_fetch(names, since, counter)
        if until is None:
            checkpoint = int(first[2])
            if not first[1]:
                self._merge(merged, first[0], since, None)
                return self._cdc_result(merged, checkpoint, counter[0])
            # more than the cap since ``since``: collect [since, now) piece by piece
            hi = max(checkpoint, since + 1)
            checkpoint = hi
        else:
            hi = int(to_epoch(until))
            checkpoint = hi
        self._cdc_range(names, since, hi, first, merged, counter)
        return self._cdc_result(merged, checkpoint, counter[0])

    def _cdc_fetch(self, names, since, counter):
        """(objects, capped, server time) for one CDC request."""
        counter[0] += 1
        payload = self._call("GET", "cdc", params={"entities": ",".join(names), "changedSince": _iso_utc(since)})
        groups = parse_cdc_response(payload)
        objects = [(entity, obj) for entity, objs in groups.items() for obj in objs]
        server_time = to_epoch(payload["time"]) if isinstance(payload.get("time"), str) else self.clock.now()
        return objects, len(objects) >= self.cdc_max_objects, server_time

    def _cdc_range(self, names, lo, hi, fetched, merged, counter):
        """Collect every change in [lo, hi); ``fetched`` is an answer for changedSince=lo."""
        stack = [(lo, hi, fetched)]
        while stack:
            lo, hi, fetched = stack.pop()
            if lo >= hi:
                continue
            if fetched is None:
                fetched = self._cdc_fetch(names, lo, counter)
            objects, capped, _ = fetched
            if not capped:
                self._merge(merged, objects, lo, hi)
                continue
            # a capped answer holds the oldest changes: all before its newest second are complete
            newest = max(int(_lut(obj) or lo) for _, obj in objects)
            if hi <= newest:
                self._merge(merged, objects, lo, hi)
                continue
            if hi - lo <= 1:
                raise CDCSecondTooFull(
                    f"More than {self.cdc_max_objects} QuickBooks changes share the second {_iso_utc(lo)}; "
                    "change data capture cannot split them, read with a full query instead", field="changedSince")
            mid = lo + (hi - lo) // 2
            stack.append((mid, hi, None))
            stack.append((lo, mid, fetched))

    @staticmethod
    def _merge(merged, objects, lo, hi):
        for entity, obj in objects:
            stamp = _lut(obj)
            if stamp is not None and (stamp < lo or (hi is not None and stamp >= hi)):
                continue
            key = (entity, str(obj.get("Id")))
            have = merged.get(key)
            if have is None or (stamp or 0) >= (_lut(have[1]) or 0):
                merged[key] = (entity, obj)

    @staticmethod
    def _cdc_result(merged, checkpoint, requests_made):
        entities = {}
        for entity, obj in merged.values():
            entities.setdefault(entity, []).append(obj)
        for entity, objs in entities.items():
            objs.sort(key=lambda o: (o.get("status") == "Deleted", _lut(o) or 0))
        return CDCResult(entities=entities, checkpoint=float(checkpoint), requests=requests_made)

    # ============================================================ writes
    @staticmethod
    def _check_request_id(request_id, limit=REQUEST_ID_MAX):
        if not isinstance(request_id, str) or not request_id.strip():
            raise ValueError("every QuickBooks write needs a request_id (its idempotency key)")
        if len(request_id) > limit:
            raise ValueError(f"request_id is {len(request_id)} characters; QuickBooks allows {limit}")
        if any(ch.isspace() or ord(ch) < 32 for ch in request_id):
            raise ValueError("request_id may not contain spaces or control characters")

    def create(self, entity, body, request_id):
        self._check_request_id(request_id)
        payload = self._call("POST", entity.lower(), params={"requestid": request_id}, json_body=body)
        return entity_of(payload, entity)

    def update(self, entity, body, request_id, sparse=True):
        """Full or sparse update; ``body`` carries Id and the current SyncToken."""
        self._check_request_id(request_id)
        if not body.get("Id") or body.get("SyncToken") in (None, ""):
            raise ValueError("update() needs the object's Id and current SyncToken")
        body = {**body, "SyncToken": str(body["SyncToken"]), "sparse": bool(sparse)}
        payload = self._call("POST", entity.lower(), params={"requestid": request_id}, json_body=body)
        return entity_of(payload, entity)

    def delete(self, entity, id, sync_token, request_id):
        """Delete a transaction; returns the ``{"status": "Deleted", ...}`` stub."""
        self._check_request_id(request_id)
        payload = self._call("POST", entity.lower(), params={"operation": "delete", "requestid": request_id},
                             json_body={"Id": str(id), "SyncToken": str(sync_token)})
        return entity_of(payload, entity)

    def void(self, entity, id, sync_token, request_id):
        """Void an Invoice, Payment or BillPayment (the record stays, amounts become zero)."""
        self._check_request_id(request_id)
        body = {"Id": str(id), "SyncToken": str(sync_token)}
        if entity.lower() == "billpayment":
            params = {"operation": "update", "include": "void", "requestid": request_id}
            body["sparse"] = True
        else:
            params = {"operation": "void", "requestid": request_id}
        return entity_of(self._call("POST", entity.lower(), params=params, json_body=body), entity)

    def batch(self, items, request_id=None):
        """Up to 30 operations in one request: {bId: entity dict | query rows | QBOError}."""
        items = list(items)
        if not items:
            raise ValueError("a batch needs at least one item")
        if len(items) > BATCH_MAX_ITEMS:
            raise ValueError(f"a batch holds at most {BATCH_MAX_ITEMS} items, not {len(items)}")
        if request_id is not None:
            self._check_request_id(request_id, BATCH_REQUEST_ID_MAX)
        seen, requests_ = set(), []
        for item in items:
            if not item.bId or item.bId in seen:
                raise ValueError(f"batch item ids must be unique and non-empty ({item.bId!r})")
            if request_id is not None and len(item.bId) > BATCH_BID_MAX:
                raise ValueError(f"with a requestid, batch item ids are at most {BATCH_BID_MAX} characters")
            seen.add(item.bId)
            operation = (item.operation or "").lower()
            if operation == "query":
                requests_.append({"bId": item.bId, "Query": item.body})
                continue
            if operation not in ("create", "update", "delete"):
                raise ValueError(f"unknown batch operation {item.operation!r}")
            if not item.entity or not isinstance(item.body, dict):
                raise ValueError(f"batch item {item.bId} needs an entity and a body")
            body = dict(item.body)
            if operation in ("update", "delete"):
                if not body.get("Id") or body.get("SyncToken") in (None, ""):
                    raise ValueError(f"batch item {item.bId}: {operation} needs Id and SyncToken")
                body["SyncToken"] = str(body["SyncToken"])
            requests_.append({"bId": item.bId, "operation": operation, item.entity: body})
        params = {"requestid": request_id} if request_id else None
        payload = self._call("POST", "batch", params=params, json_body={"BatchItemRequest": requests_},
                             is_batch=True)
        return parse_batch_response(payload, items)


__all__ = ["QBOClient", "TokenSet", "BatchItem", "OAuthEndpoints", "CDCResult", "QBOError", "quote", "to_epoch",
           "parse_query_response", "parse_cdc_response", "parse_batch_response", "parse_token_response",
           "parse_xml_fault", "find_fault", "entity_of"]
