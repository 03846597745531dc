"""A local QuickBooks Online company that speaks the v3 wire format.

One company (realm) per server, reached like the real API:

* OAuth 2.0: ``GET /oauth2/authorize`` (302 back to the app with code, state
  and realmId), ``POST /oauth2/v1/tokens/bearer`` (code exchange and refresh,
  with refresh-token rotation) and ``POST /v2/oauth2/tokens/revoke``;
* the accounting API under ``/v3/company/{realmId}/``: create, full and sparse
  update, delete, void, read by id, the query language subset, change data
  capture, batch, Preferences and CompanyInfo, ``requestid`` replay;
* the documented limits (500 requests/minute, 10/second, 40 batches/minute)
  answered with the XML throttle body, and the usual faults on demand.

Every time decision goes through ``self.clock`` so tests drive it with a
``FakeClock``. Tests and benchmarks seed and inspect the company through the
Python API (``add``, ``user_update``, ``user_delete``, ``get``, ``all``,
``snapshot``...), which skips HTTP and the limits.

Money is computed in ``Decimal`` cents and stored as JSON numbers; how lines
add up to ``TotalAmt`` is in ``qbo_money``. Writes are checked as QBO checks
them: properties the entity does not have (``qbo_schema``, 2010), references to
records that do not exist (2500), item amounts that are not Qty x UnitPrice
(6070), and changes to a payment that sits on a bank ``Deposit`` (6540). The
query language lives in ``qbo_query``.

The server is split by concern into mixins: ``qbo_http`` (routes, OAuth,
limits, faults, the API dispatch), ``qbo_entities`` (storage, writes,
references, names and the name lists), ``qbo_documents`` (transactions,
payment links, balances, deposits), ``qbo_query`` (running queries) and
``qbo_changes`` (change log, CDC, batch); shared pieces are in ``qbo_common``.
"""
import collections
import datetime as dt
import json
import secrets
from dataclasses import asdict, dataclass

from .httpserver import SandboxServer
from .qbo_changes import ChangesMixin
from .qbo_common import (ENTITIES, NAME_LISTS, PERSONS, SINGLETONS, SYSTEM_FIELDS, QBOFault, _clone,
                         _parse_offset, _unsupported, canonical_entity)
from .qbo_documents import DocumentsMixin
from .qbo_entities import (DEFAULT_ACCOUNTS, DUPLICATE_PERSON_DETAIL, READ_ONLY, REF_TARGETS,
                           EntitiesMixin)
from .qbo_http import HttpMixin
from .qbo_query import QueryMixin

__all__ = ["QBOSandbox", "CompanyLimits", "QBOFault", "DUPLICATE_PERSON_DETAIL", "READ_ONLY", "REF_TARGETS",
           "SYSTEM_FIELDS"]

DAY = 86400


@dataclass(frozen=True)
class CompanyLimits:
    """What Intuit documents for a company, enforced by the sandbox unless a
    test or benchmark names other values (``QBOSandbox(cdc_max_objects=5)``)."""
    access_token_lifetime: int = 3600               # seconds
    refresh_token_lifetime: int = 101 * DAY         # from the latest refresh
    refresh_token_hard_expires_in: int = 5 * 365 * DAY  # from the connection: no refresh reaches past it
    rotate_refresh_token: bool = True               # a refresh answers with a new refresh token
    rate_per_minute: int = 500                      # requests, per company
    rate_per_second: int = 10
    batch_per_minute: int = 40
    batch_max_items: int = 30
    requestid_retention: int = DAY                  # a requestid is answered again this long
    cdc_max_objects: int = 1000                     # objects in one CDC answer
    cdc_window_days: int = 30                       # how far back CDC reaches
    enforce_limits: bool = True                     # False: never throttle (tests of other things)


# ------------------------------------------------------------------ the server
class QBOSandbox(HttpMixin, EntitiesMixin, DocumentsMixin, QueryMixin, ChangesMixin, SandboxServer):
    """A QuickBooks Online company on 127.0.0.1 (see the module docstring).

    Fault kinds for ``inject`` besides the generic ones: ``expired_token``
    (401, code 3200), ``throttle_xml`` and ``429`` (429 with the XML throttle
    body), ``throttle_403`` (403 with that body), ``stale`` (400, 5010),
    ``server_fault`` (500 SystemFault), ``fault_in_200`` (a Fault inside a 200),
    ``echo_request`` (400 ``invalid_request`` whose ``error_description`` echoes
    the request's headers, its Basic credential and its body; meant for the token
    endpoint) and ``commit_then_drop`` (the request is carried out and stored,
    then the connection drops before the answer: what ``requestid`` exists for).
    """

    name = "qbo-sandbox"
    auth_code_lifetime = 600
    limit_tolerance = 0.05   # seconds of slack on the rate windows (network jitter)
    retry_after = None       # when set, throttle answers carry ``Retry-After: <n>``
    authorize_outcome = "approve"  # or "deny": the user declines on the consent screen

    def __init__(self, port=0, latency=0.0, clock=None, realm_id=None, client_id=None, client_secret=None,
                 company_offset="-08:00", host="127.0.0.1", timeout_fault_seconds=5.0,
                 company_name="Sandbox Company_US_1", **limits):
        """``limits``: any of ``CompanyLimits`` by name; an unknown name is a TypeError."""
        super().__init__(host=host, port=port, latency=latency, clock=clock,
                         timeout_fault_seconds=timeout_fault_seconds)
        # attributes of the sandbox, so a test may change one while it runs (``sb.enforce_limits = False``)
        vars(self).update(asdict(CompanyLimits(**limits)))
        self.realm_id = realm_id or "9341" + "".join(secrets.choice("0123456789") for _ in range(12))
        self.client_id = client_id or "AB" + secrets.token_hex(20)
        self.client_secret = client_secret or secrets.token_urlsafe(30)
        self.tz = _parse_offset(company_offset)
        self.company_name = company_name
        # tokens
        self._codes = {}           # code -> {redirect_uri, expires_at}
        self._access = {}          # token -> {grant, expires_at}
        self._refresh = {}         # token -> {grant, expires_at, hard_expires_at}
        self._grant_seq = 0
        # records
        self._data = {name: {} for name in ENTITIES}
        self._batch_created = None  # (entity, id) made by the batch being processed
        self._deleted = {name: {} for name in ENTITIES}
        self._changes = {name: {} for name in ENTITIES}   # id -> (second, seq), ordered by change
        self._person_names = {}    # casefolded DisplayName -> (entity, id)
        self._list_names = {name: {} for name in NAME_LISTS if name not in PERSONS}
        self._applied = {}         # (doc entity, doc id) -> {(payment entity, payment id): Decimal}
        self._pay_links = {}       # (payment entity, payment id) -> {(doc entity, doc id): Decimal}
        self._deposited = {}       # payment id -> id of the Deposit it is on
        self._next_id = 1
        self._next_doc_number = {"Invoice": 1001, "CreditMemo": 1001}
        self._seq = 0
        self._last_second = 0
        self._version = 0
        self._query_cache = {}
        # limits and idempotency
        self._hits = collections.deque()
        self._batch_hits = collections.deque()
        self._replays = {}         # requestid -> (expires_at, status, body, content_type)
        self.throttled = 0
        self.initial_refresh_token = self._issue_refresh_token(self._new_grant())
        self._bootstrap()

    # ----------------------------------------------------------- addresses
    @property
    def token_url(self):
        return f"{self.base_url}/oauth2/v1/tokens/bearer"

    @property
    def authorize_url(self):
        return f"{self.base_url}/oauth2/authorize"

    @property
    def revoke_url(self):
        return f"{self.base_url}/v2/oauth2/tokens/revoke"

    @property
    def api_base(self):
        return f"{self.base_url}/v3/company/{self.realm_id}"

    def credentials(self):
        """What an app needs to connect: realm, client id/secret, a refresh token and the URLs."""
        return {"realm_id": self.realm_id, "client_id": self.client_id, "client_secret": self.client_secret,
                "refresh_token": self.initial_refresh_token, "base_url": self.base_url,
                "token_url": self.token_url, "authorize_url": self.authorize_url, "revoke_url": self.revoke_url}

    def is_auth_path(self, path):
        return path.startswith("/oauth2/") or path.startswith("/v2/oauth2/")

    # --------------------------------------------------------------- time
    def _stamp_second(self):
        """The current second (never going backwards), for MetaData and the change log."""
        second = int(self.clock.now())
        self._last_second = max(self._last_second, second)
        return self._last_second

    def _iso(self, second):
        return dt.datetime.fromtimestamp(second, self.tz).isoformat()

    def _time(self):
        return dt.datetime.fromtimestamp(self.clock.now(), self.tz).isoformat(timespec="milliseconds")

    def _today(self):
        return dt.datetime.fromtimestamp(self.clock.now(), self.tz).date()

    # ----------------------------------------------------------- bootstrap
    def _bootstrap(self):
        with self.lock:
            for name, atype, sub in DEFAULT_ACCOUNTS:
                self._create("Account", {"Name": name, "AccountType": atype, "AccountSubType": sub})
            second = self._stamp_second()
            meta = {"CreateTime": self._iso(second), "LastUpdatedTime": self._iso(second)}
            prefs = {
                "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False,
                "AccountingInfoPrefs": {"ClassTrackingPerTxn": False, "ClassTrackingPerTxnLine": False,
                                        "TrackDepartments": False, "DepartmentTerminology": "Location",
                                        "CustomerTerminology": "Customers", "UseAccountNumbers": False,
                                        "FirstMonthOfFiscalYear": "January"},
                "CurrencyPrefs": {"MultiCurrencyEnabled": False, "HomeCurrency": {"value": "USD"}},
                "SalesFormsPrefs": {"CustomTxnNumbers": False},
                "VendorAndPurchasesPrefs": {"BillableExpenseTracking": False, "TrackingByCustomer": False},
                "OtherPrefs": {"NameValue": [{"Name": "VendorAndPurchasesPrefs.UseCustomTxnNumbers",
                                              "Value": "false"}]},
                "MetaData": dict(meta)}
            info = {
                "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False,
                "CompanyName": self.company_name, "LegalName": self.company_name, "Country": "US",
                "FiscalYearStartMonth": "January", "SupportedLanguages": "en",
                "CompanyAddr": {"Id": "1", "Line1": "123 Sierra Way", "City": "San Pablo",
                                "CountrySubDivisionCode": "CA", "PostalCode": "87999"},
                "Email": {"Address": "noreply@quickbooks.example"},
                "CompanyStartDate": self._today().isoformat(),
                "NameValue": [{"Name": "OfferingSku", "Value": "QuickBooks Online Plus"},
                              {"Name": "SubscriptionStatus", "Value": "PAID"},
                              {"Name": "NeoEnabled", "Value": "true"}],
                "MetaData": dict(meta)}
            self._put("Preferences", prefs)
            self._put("CompanyInfo", info)

    # ============================================================ Python API
    def add(self, entity, obj):
        """Create a record as if entered in QBO; returns the stored object (a copy)."""
        name = self._entity(entity)
        with self.lock:
            if name in SINGLETONS:
                raise _unsupported(f"{name} cannot be created")
            return _clone(self._create(name, _clone(obj)))

    def user_update(self, entity, id, changes):
        """A person edits the record in QBO: sparse merge, SyncToken+1, new LastUpdatedTime."""
        name = self._entity(entity)
        with self.lock:
            current = self._stored(name, str(id))
            body = _clone(changes)
            body.update({"Id": current["Id"], "SyncToken": current["SyncToken"], "sparse": True})
            if name == "Preferences":
                return _clone(self._update_preferences(body))
            return _clone(self._update(name, body))

    def user_delete(self, entity, id):
        """A person deletes the record in QBO (name lists are made inactive instead)."""
        name = self._entity(entity)
        with self.lock:
            current = self._stored(name, str(id))
            if name in NAME_LISTS:
                return _clone(self._update(name, {"Id": current["Id"], "SyncToken": current["SyncToken"],
                                                  "sparse": True, "Active": False}))
            return _clone(self._delete(name, {"Id": current["Id"], "SyncToken": current["SyncToken"]}))

    def user_void(self, entity, id):
        name = self._entity(entity)
        with self.lock:
            current = self._stored(name, str(id))
            return _clone(self._void(name, {"Id": current["Id"], "SyncToken": current["SyncToken"]}))

    def get(self, entity, id):
        with self.lock:
            obj = self._data[self._entity(entity)].get(str(id))
            return _clone(obj) if obj is not None else None

    def all(self, entity):
        """Every record of the entity, inactive ones included, in id order."""
        with self.lock:
            return _clone(list(self._data[self._entity(entity)].values()))

    def deleted(self, entity):
        with self.lock:
            return _clone(list(self._deleted[self._entity(entity)].values()))

    def preferences(self):
        return self.get("Preferences", "1")

    def set_preferences(self, **prefs):
        """Change Preferences as the company admin would. Keyword arguments name
        AccountingInfoPrefs fields (``ClassTrackingPerTxnLine=True``) or whole
        sections (``CurrencyPrefs={...}``), which are merged."""
        with self.lock:
            current = self._data["Preferences"]["1"]
            body = {"Id": "1", "SyncToken": current["SyncToken"], "sparse": True}
            for key, value in prefs.items():
                if key in current and isinstance(current[key], dict) and isinstance(value, dict):
                    body[key] = value
                else:
                    body.setdefault("AccountingInfoPrefs", {})[key] = value
            return _clone(self._update_preferences(body))

    def revoke_all_tokens(self):
        """The user disconnects the app: every access and refresh token stops working."""
        with self.lock:
            self._access.clear()
            self._refresh.clear()
            self._codes.clear()

    def expire_access_tokens(self):
        with self.lock:
            past = self.clock.now() - 1
            for record in self._access.values():
                record["expires_at"] = past

    def refresh_tokens(self):
        """The refresh tokens currently valid (for tests)."""
        with self.lock:
            now = self.clock.now()
            return [t for t, r in self._refresh.items() if r["expires_at"] > now and r["hard_expires_at"] > now]

    def issue_tokens(self):
        """A fresh grant as if a user connected the app: (access_token, refresh_token)."""
        with self.lock:
            grant = self._new_grant()
            return self._issue_access_token(grant), self._issue_refresh_token(grant)

    def snapshot(self):
        """All records and deletions, without volatile fields (MetaData times, ``time``)."""
        with self.lock:
            out = {"entities": {}, "deleted": {}}
            for name in ENTITIES:
                records = {}
                for id_, obj in self._data[name].items():
                    obj = _clone(obj)
                    meta = obj.pop("MetaData", None) or {}
                    rest = {k: v for k, v in meta.items() if k not in ("CreateTime", "LastUpdatedTime")}
                    if rest:
                        obj["MetaData"] = rest
                    records[id_] = obj
                if records:
                    out["entities"][name] = records
                if self._deleted[name]:
                    out["deleted"][name] = sorted(self._deleted[name], key=lambda i: (len(i), i))
            return json.loads(json.dumps(out))

    def _entity(self, name):
        canonical = canonical_entity(name)
        if not canonical:
            raise ValueError(f"unknown QBO entity {name!r}")
        return canonical
