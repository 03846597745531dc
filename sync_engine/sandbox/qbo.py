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
"""
import base64
import collections
import datetime as dt
import json
import secrets
import urllib.parse

from .httpserver import Response, SandboxServer, _DropConnection
from .qbo_common import (_DATE_RE, _ZERO, DOCUMENTS, ENTITIES, NAME_LISTS, PAYMENTS, PERSONS, SINGLETONS,
                         VOIDABLE, QBOFault, _business, _clone, _invalid_ref, _invalid_value, _money, _num,
                         _parse_offset, _parse_time, _required, _unsupported, canonical_entity)
from .qbo_money import document_total, price_lines
from .qbo_query import Query, QueryError, _matches, _sort_key
from .qbo_schema import check_properties

FIVE_YEARS = 5 * 365 * 86400


# reference field -> the entity it points at
REF_TARGETS = {
    "VendorRef": "Vendor", "CustomerRef": "Customer", "ItemRef": "Item", "ClassRef": "Class",
    "DepartmentRef": "Department", "TermRef": "Term", "SalesTermRef": "Term",
    "AccountRef": "Account", "APAccountRef": "Account", "ARAccountRef": "Account",
    "BankAccountRef": "Account", "CCAccountRef": "Account", "DepositToAccountRef": "Account",
    "IncomeAccountRef": "Account", "ExpenseAccountRef": "Account", "AssetAccountRef": "Account",
    "ItemAccountRef": "Account", "GroupItemRef": "Item", "DiscountAccountRef": "Account",
}
# account references that must point at one account type
REF_ACCOUNT_TYPE = {"APAccountRef": "Accounts Payable", "ARAccountRef": "Accounts Receivable",
                    "BankAccountRef": "Bank", "CCAccountRef": "Credit Card"}

CURRENCY_NAMES = {"USD": "United States Dollar", "CAD": "Canadian Dollar", "EUR": "Euro",
                  "GBP": "British Pound Sterling", "AUD": "Australian Dollar", "MXN": "Mexican Peso"}

ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset", "Other Current Asset": "Asset", "Fixed Asset": "Asset", "Other Asset": "Asset",
    "Accounts Receivable": "Asset", "Accounts Payable": "Liability", "Credit Card": "Liability",
    "Other Current Liability": "Liability", "Long Term Liability": "Liability", "Equity": "Equity",
    "Income": "Revenue", "Other Income": "Revenue", "Expense": "Expense", "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
}
DEFAULT_SUBTYPE = {
    "Bank": "Checking", "Other Current Asset": "OtherCurrentAssets", "Fixed Asset": "MachineryAndEquipment",
    "Other Asset": "OtherLongTermAssets", "Accounts Receivable": "AccountsReceivable",
    "Accounts Payable": "AccountsPayable", "Credit Card": "CreditCard",
    "Other Current Liability": "OtherCurrentLiabilities", "Long Term Liability": "OtherLongTermLiabilities",
    "Equity": "OwnersEquity", "Income": "ServiceFeeIncome", "Other Income": "OtherMiscellaneousIncome",
    "Expense": "OtherMiscellaneousServiceCost", "Other Expense": "OtherMiscellaneousExpense",
    "Cost of Goods Sold": "SuppliesMaterialsCogs",
}
SUBTYPE_TYPE = {sub: typ for typ, sub in DEFAULT_SUBTYPE.items()}
SUBTYPE_TYPE.update({"Savings": "Bank", "UndepositedFunds": "Other Current Asset",
                     "Inventory": "Other Current Asset", "OpeningBalanceEquity": "Equity",
                     "RetainedEarnings": "Equity", "SalesOfProductIncome": "Income",
                     "OtherPrimaryIncome": "Income", "AdvertisingPromotional": "Expense",
                     "BankCharges": "Expense", "OfficeGeneralAdministrativeExpenses": "Expense",
                     "Utilities": "Expense", "Insurance": "Expense", "LegalProfessionalFees": "Expense",
                     "RentOrLeaseOfBuildings": "Expense", "Travel": "Expense",
                     "EntertainmentMeals": "Expense", "InterestEarned": "Other Income"})

# the chart of accounts a freshly created QBO company starts with
DEFAULT_ACCOUNTS = (
    ("Checking", "Bank", "Checking"),
    ("Savings", "Bank", "Savings"),
    ("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
    ("Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
    ("Inventory Asset", "Other Current Asset", "Inventory"),
    ("Uncategorized Asset", "Other Current Asset", "OtherCurrentAssets"),
    ("Accounts Payable (A/P)", "Accounts Payable", "AccountsPayable"),
    ("Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
    ("Retained Earnings", "Equity", "RetainedEarnings"),
    ("Sales of Product Income", "Income", "SalesOfProductIncome"),
    ("Services", "Income", "ServiceFeeIncome"),
    ("Uncategorized Income", "Income", "OtherPrimaryIncome"),
    ("Interest Earned", "Other Income", "InterestEarned"),
    ("Cost of Goods Sold", "Cost of Goods Sold", "SuppliesMaterialsCogs"),
    ("Advertising", "Expense", "AdvertisingPromotional"),
    ("Bank Charges", "Expense", "BankCharges"),
    ("Insurance", "Expense", "Insurance"),
    ("Legal & Professional Fees", "Expense", "LegalProfessionalFees"),
    ("Meals and Entertainment", "Expense", "EntertainmentMeals"),
    ("Office Supplies & Software", "Expense", "OfficeGeneralAdministrativeExpenses"),
    ("Rent or Lease", "Expense", "RentOrLeaseOfBuildings"),
    ("Travel", "Expense", "Travel"),
    ("Utilities", "Expense", "Utilities"),
    ("Uncategorized Expense", "Expense", "OtherMiscellaneousServiceCost"),
)

# fields the server computes; what a client sends for them is ignored
READ_ONLY = {
    "Account": ("Classification", "FullyQualifiedName", "CurrentBalance", "CurrentBalanceWithSubAccounts",
                "SubAccount"),
    "Class": ("FullyQualifiedName", "SubClass"),
    "Department": ("FullyQualifiedName", "SubDepartment"),
    "Item": ("FullyQualifiedName",),
    "Vendor": ("Balance",),
    "Customer": ("Balance", "BalanceWithJobs", "FullyQualifiedName", "Job", "Level"),
    "Bill": ("TotalAmt", "Balance", "LinkedTxn", "HomeBalance"),
    "VendorCredit": ("TotalAmt", "Balance", "LinkedTxn"),
    "Invoice": ("TotalAmt", "Balance", "LinkedTxn", "HomeBalance"),
    "CreditMemo": ("TotalAmt", "Balance", "RemainingCredit", "LinkedTxn"),
    "Payment": ("UnappliedAmt", "LinkedTxn"),
    "BillPayment": ("LinkedTxn",),
    "Deposit": ("TotalAmt", "HomeTotalAmt"),
}
SYSTEM_FIELDS = ("Id", "SyncToken", "MetaData", "domain", "sparse", "time", "status")

EXPENSE_LINES = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
SALES_LINES = ("SalesItemLineDetail", "GroupLineDetail", "DescriptionOnly", "DiscountLineDetail",
               "SubTotalLineDetail")
SHIPPING_ITEM_ID = "SHIPPING_ITEM_ID"
GROUP_INNER_LINES = ("SalesItemLineDetail", "DescriptionOnly")

DUPLICATE_PERSON_DETAIL = ("The name supplied already exists. : Another customer, vendor or employee is "
                           "already using this name. Please use a different name.")
STALE_DETAIL = ("Stale Object Error : You and Sandbox User were working on this at the same time. "
                "Sandbox User finished before you did, so your work was not saved.")
NOT_FOUND_DETAIL = ("Object Not Found : Something you're trying to use has been made inactive. Check the "
                    "fields with accounts, customers, items, vendors or employees.")

THROTTLE_XML = (
    '<IntuitResponse xmlns="http://schema.intuit.com/finance/v3" time="{time}">\n'
    '  <Fault type="SERVICE"><Error code="3001">\n'
    '    <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n'
    '    <Detail>The request limit was reached.  Try again later</Detail>\n'
    '  </Error></Fault></IntuitResponse>')

# ------------------------------------------------------------------ the server
class QBOSandbox(SandboxServer):
    """A QuickBooks Online company on 127.0.0.1 (see the module docstring).

    Fault kinds for ``inject`` besides the generic ones: ``expired_token``
    (401, code 3200), ``throttle_xml`` and ``429`` (429 with the XML throttle
    body), ``throttle_403`` (403 with that body), ``stale`` (400, 5010),
    ``server_fault`` (500 SystemFault), ``fault_in_200`` (a Fault inside a 200)
    and ``commit_then_drop`` (the request is carried out and stored, then the
    connection drops before the answer: what ``requestid`` exists for).
    """

    name = "qbo-sandbox"
    auth_code_lifetime = 600
    limit_tolerance = 0.05   # seconds of slack on the rate windows (network jitter)
    retry_after = None       # when set, throttle answers carry ``Retry-After: <n>``
    authorize_outcome = "approve"  # or "deny": the user declines on the consent screen

    def __init__(self, port=0, latency=0.0, clock=None, realm_id=None, client_id=None, client_secret=None,
                 access_token_lifetime=3600, refresh_token_lifetime=8726400,
                 refresh_token_hard_expires_in=FIVE_YEARS, rate_per_minute=500, rate_per_second=10,
                 batch_per_minute=40, batch_max_items=30, enforce_limits=True, requestid_retention=86400,
                 cdc_max_objects=1000, cdc_window_days=30, rotate_refresh_token=True, company_offset="-08:00",
                 host="127.0.0.1", timeout_fault_seconds=5.0, company_name="Sandbox Company_US_1"):
        super().__init__(host=host, port=port, latency=latency, clock=clock,
                         timeout_fault_seconds=timeout_fault_seconds)
        self.realm_id = realm_id or "9341" + "".join(secrets.choice("0123456789") for _ in range(12))
        self.client_id = client_id or "AB" + secrets.token_hex(20)
        self.client_secret = client_secret or secrets.token_urlsafe(30)
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.refresh_token_hard_expires_in = refresh_token_hard_expires_in
        self.rate_per_minute = rate_per_minute
        self.rate_per_second = rate_per_second
        self.batch_per_minute = batch_per_minute
        self.batch_max_items = batch_max_items
        self.enforce_limits = enforce_limits
        self.requestid_retention = requestid_retention
        self.cdc_max_objects = cdc_max_objects
        self.cdc_window_days = cdc_window_days
        self.rotate_refresh_token = rotate_refresh_token
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

    # ======================================================== HTTP routing
    def setup_routes(self):
        self.route("GET", r"/oauth2/authorize", self._http_authorize)
        self.route("POST", r"/oauth2/v1/tokens/bearer", self._http_token)
        self.route("POST", r"/v2/oauth2/tokens/revoke", self._http_revoke)
        self.route("GET", r"/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)", self._http_api)
        self.route("POST", r"/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)", self._http_api)

    def control(self, request):
        path, method = request.path, request.method
        try:
            if path == "/_sandbox/state" and method == "GET":
                return Response(200, self.snapshot())
            if path == "/_sandbox/credentials" and method == "GET":
                return Response(200, self.credentials())
            if path == "/_sandbox/expire_tokens" and method == "POST":
                self.expire_access_tokens()
                return Response(200, {"expired": True})
            if path == "/_sandbox/revoke_tokens" and method == "POST":
                self.revoke_all_tokens()
                return Response(200, {"revoked": True})
            if path == "/_sandbox/preferences" and method == "POST":
                return Response(200, self.set_preferences(**(request.json() or {})))
            body = request.json() or {}
            if path == "/_sandbox/records" and method == "POST":
                return Response(200, self.add(body["entity"], body["record"]))
            if path == "/_sandbox/user_update" and method == "POST":
                return Response(200, self.user_update(body["entity"], body["id"], body.get("changes") or {}))
            if path == "/_sandbox/user_delete" and method == "POST":
                return Response(200, self.user_delete(body["entity"], body["id"]))
        except QBOFault as fault:
            return Response(fault.status, {"Fault": fault.fault(), "time": self._time()})
        return self.not_found(request)

    def fault_response(self, kind, request):
        if kind in ("429", "throttle_xml"):
            return self._throttle_response(429)
        if kind == "throttle_403":
            return self._throttle_response(403)
        if kind == "expired_token":
            return Response(401, self._auth_fault_body(
                f"Token expired: {self._time()}"))
        if kind == "stale":
            return self._fault(QBOFault("5010", "Stale Object Error", STALE_DETAIL))
        if kind == "server_fault":
            return self._fault(QBOFault("10000", "An application error has occurred while processing your request",
                                        "System Failure Error: An unexpected error occurred while accessing or "
                                        "saving your data. Please wait a few minutes and try again.",
                                        fault_type="SystemFault", status=500))
        if kind == "fault_in_200":
            fault = QBOFault("6000", "A business validation error has occurred while processing your request",
                             "Business Validation Error: injected")
            return Response(200, {"Fault": fault.fault(), "time": self._time()})
        if kind == "commit_then_drop":
            # the work is done and stored, then the connection drops before the answer
            response = self.dispatch(request)
            self.log(request.method, request.path, urllib.parse.urlencode(request.query, doseq=True),
                     response.status, kind)
            raise _DropConnection()
        return super().fault_response(kind, request)

    # ------------------------------------------------------------- pieces
    def _fault(self, fault):
        return Response(fault.status, {"Fault": fault.fault(), "time": self._time()})

    def _throttle_response(self, status):
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        return Response(status, THROTTLE_XML.format(time=self._time()), headers=headers,
                        content_type="application/xml")

    def _auth_fault_body(self, detail, code="3200", status=401, kind="AuthenticationFailed",
                         fault_type="AUTHENTICATION"):
        return {"warnings": None, "intuitObject": None,
                "fault": {"error": [{"message": f"message={kind}; errorCode={int(code):06d}; statusCode={status}",
                                     "detail": detail, "code": code, "element": None}],
                          "type": fault_type},
                "report": None, "queryResponse": None, "batchItemResponse": [], "attachableResponse": [],
                "syncErrorResponse": None, "requestId": None, "time": int(self.clock.now() * 1000),
                "status": None, "cdcresponse": []}

    def _entity(self, name):
        canonical = canonical_entity(name)
        if not canonical:
            raise ValueError(f"unknown QBO entity {name!r}")
        return canonical

    # =============================================================== OAuth
    def _new_grant(self):
        self._grant_seq += 1
        return self._grant_seq

    def _issue_access_token(self, grant):
        token = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.." + secrets.token_urlsafe(96)
        self._access[token] = {"grant": grant, "expires_at": self.clock.now() + self.access_token_lifetime}
        return token

    def _issue_refresh_token(self, grant, hard_expires_at=None):
        token = f"RT1-{secrets.randbelow(90) + 10}-H0-{int(self.clock.now())}{secrets.token_hex(10)}"
        now = self.clock.now()
        hard = hard_expires_at if hard_expires_at is not None else now + self.refresh_token_hard_expires_in
        self._refresh[token] = {"grant": grant, "expires_at": min(now + self.refresh_token_lifetime, hard),
                                "hard_expires_at": hard}
        return token

    def _http_authorize(self, request):
        if request.param("client_id") != self.client_id:
            return Response(400, {"error": "invalid_client", "error_description": "Unknown client_id"})
        redirect_uri = request.param("redirect_uri")
        if not redirect_uri:
            return Response(400, {"error": "invalid_request", "error_description": "redirect_uri is required"})
        params = {"state": request.param("state", "")}
        scopes = (request.param("scope") or "").split()
        if request.param("response_type") != "code":
            params["error"] = "unsupported_response_type"
        elif "com.intuit.quickbooks.accounting" not in scopes:
            params["error"] = "invalid_scope"
        elif self.authorize_outcome == "deny":
            params["error"] = "access_denied"
        else:
            code = "AB" + secrets.token_urlsafe(36)
            with self.lock:
                self._codes[code] = {"redirect_uri": redirect_uri,
                                     "expires_at": self.clock.now() + self.auth_code_lifetime}
            params = {"code": code, "state": params["state"], "realmId": self.realm_id}
        separator = "&" if "?" in redirect_uri else "?"
        return Response(302, None, headers={"Location": redirect_uri + separator + urllib.parse.urlencode(params)})

    def _client_authenticated(self, request, form):
        header = request.headers.get("authorization", "")
        client_id = client_secret = None
        if header.lower().startswith("basic "):
            try:
                client_id, _, client_secret = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
        else:
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
        return (secrets.compare_digest(str(client_id or ""), self.client_id)
                and secrets.compare_digest(str(client_secret or ""), self.client_secret))

    def _http_token(self, request):
        form = {k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode("utf-8", "replace")).items()}
        if not self._client_authenticated(request, form):
            return Response(401, {"error": "invalid_client"})
        grant_type = form.get("grant_type")
        now = self.clock.now()
        with self.lock:
            if grant_type == "authorization_code":
                code = self._codes.pop(form.get("code", ""), None)
                if not code or code["expires_at"] <= now or code["redirect_uri"] != form.get("redirect_uri"):
                    return Response(400, {"error": "invalid_grant"})
                grant = self._new_grant()
                access = self._issue_access_token(grant)
                refresh = self._issue_refresh_token(grant)
            elif grant_type == "refresh_token":
                old_token = form.get("refresh_token", "")
                record = self._refresh.get(old_token)
                if not record or record["expires_at"] <= now or record["hard_expires_at"] <= now:
                    self._refresh.pop(old_token, None)
                    return Response(400, {"error": "invalid_grant",
                                          "error_description": "Incorrect or invalid refresh token"})
                grant = record["grant"]
                access = self._issue_access_token(grant)
                if self.rotate_refresh_token:
                    del self._refresh[old_token]
                    refresh = self._issue_refresh_token(grant, record["hard_expires_at"])
                else:
                    refresh = old_token
                    record["expires_at"] = min(now + self.refresh_token_lifetime, record["hard_expires_at"])
            else:
                return Response(400, {"error": "unsupported_grant_type"})
            record = self._refresh[refresh]
            body = {"token_type": "bearer", "access_token": access, "expires_in": self.access_token_lifetime,
                    "refresh_token": refresh, "x_refresh_token_expires_in": int(record["expires_at"] - now)}
            if request.headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true":
                body["x_refresh_token_hard_expires_in"] = int(record["hard_expires_at"] - now)
        return Response(200, body, headers={"Cache-Control": "no-store"})

    def _http_revoke(self, request):
        if not self._client_authenticated(request, {}):
            return Response(401, {"error": "invalid_client"})
        try:
            token = (json.loads(request.body or b"{}") or {}).get("token", "")
        except ValueError:
            return Response(400, {"error": "invalid_request"})
        with self.lock:
            record = self._refresh.get(token) or self._access.get(token)
            if record:
                grant = record["grant"]
                for store in (self._refresh, self._access):
                    for key in [k for k, v in store.items() if v["grant"] == grant]:
                        del store[key]
        return Response(200, None)

    def _bearer_problem(self, request, realm):
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return Response(401, self._auth_fault_body(None))
        token = header[7:].strip()
        with self.lock:
            record = self._access.get(token)
            if record is None:
                detail = None if len(token) > 40 else "Malformed bearer token: too short or too long"
                return Response(401, self._auth_fault_body(detail))
            if record["expires_at"] <= self.clock.now():
                return Response(401, self._auth_fault_body(f"Token expired: {self._time()}"))
        if realm != self.realm_id:
            return Response(403, self._auth_fault_body(None, code="3100", status=403, kind="AuthorizationFailed",
                                                       fault_type="AUTHORIZATION"))
        return None

    # =============================================================== limits
    def _admit(self, is_batch):
        """Sliding windows per realm; a throttled request does no work and is not counted."""
        now = self.clock.now()
        slack = self.limit_tolerance

        def full(hits, count, seconds):
            while hits and hits[0] <= now - 60 + slack:
                hits.popleft()
            if seconds >= 60:
                return len(hits) >= count
            recent = 0
            for t in reversed(hits):
                if t <= now - seconds + slack:
                    break
                recent += 1
                if recent >= count:
                    return True
            return False

        if full(self._hits, self.rate_per_minute, 60) or full(self._hits, self.rate_per_second, 1):
            return False
        if is_batch and full(self._batch_hits, self.batch_per_minute, 60):
            return False
        self._hits.append(now)
        if is_batch:
            self._batch_hits.append(now)
        return True

    # ================================================================= API
    def _http_api(self, request):
        realm = request.match.group("realm")
        parts = [p for p in request.match.group("rest").split("/") if p]
        head = parts[0].lower() if parts else ""
        if self.enforce_limits:
            with self.lock:
                admitted = self._admit(request.method == "POST" and head == "batch")
                if not admitted:
                    self.throttled += 1
            if not admitted:
                return self._throttle_response(429)
        problem = self._bearer_problem(request, realm)
        if problem is not None:
            return problem
        with self.lock:
            is_write = request.method == "POST" and head != "query"
            request_id = request.param("requestid") if is_write else None
            if request_id:
                stored = self._replays.get(request_id)
                if stored and stored[0] > self.clock.now():
                    _, status, body, content_type = stored
                    return Response(status, body, content_type=content_type)
            try:
                response = self._api_route(request, parts, head)
            except QBOFault as fault:
                response = self._fault(fault)
            if request_id and response.status < 500:
                if len(self._replays) >= 100_000:
                    now = self.clock.now()
                    self._replays = {k: v for k, v in self._replays.items() if v[0] > now}
                self._replays[request_id] = (self.clock.now() + self.requestid_retention, response.status,
                                             response.encoded().decode("utf-8"), response.content_type)
            return response

    def _api_route(self, request, parts, head):
        method = request.method
        if head == "query":
            if method == "GET":
                text = request.param("query")
            else:
                text = request.body.decode("utf-8", "replace")
            if not text:
                raise _required("query")
            return self._ok({"QueryResponse": self._query(text)})
        if head == "cdc" and method == "GET":
            return self._ok(self._cdc(request.param("entities"), request.param("changedSince")))
        if head == "batch" and method == "POST":
            return self._ok(self._batch(self._json(request)))
        entity = canonical_entity(head)
        if not entity:
            return Response(404, {"Fault": {"Error": [{"Message": "Resource not found", "Detail":
                                                       f"No resource {head}", "code": "404", "element": ""}],
                                            "type": "ValidationFault"}, "time": self._time()})
        if method == "GET":
            if entity in SINGLETONS:
                return self._ok({entity: self._data[entity]["1"]})
            if len(parts) < 2:
                raise _required("Id")
            return self._ok({entity: self._stored(entity, parts[1])})
        # POST: create / update / delete / void
        body = self._json(request)
        operation = (request.param("operation") or "").lower()
        include = (request.param("include") or "").lower()
        if entity == "Preferences":
            return self._ok({entity: self._update_preferences(body)})
        if entity == "CompanyInfo":
            return self._ok({entity: self._update(entity, body)})
        if operation == "delete":
            return self._ok({entity: self._delete(entity, body)})
        if operation == "void" or (operation == "update" and include == "void"):
            return self._ok({entity: self._void(entity, body)})
        if operation not in ("", "create", "update"):
            raise _unsupported(f"Operation {operation} is not supported.")
        if body.get("Id") not in (None, ""):
            return self._ok({entity: self._update(entity, body)})
        return self._ok({entity: self._create(entity, body)})

    def _ok(self, payload):
        payload["time"] = self._time()
        return Response(200, payload)

    def _json(self, request):
        try:
            body = json.loads(request.body.decode("utf-8")) if request.body else None
        except (ValueError, UnicodeDecodeError):
            raise QBOFault("2010", "Request has invalid or unsupported property",
                           "Error parsing object: the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise QBOFault("2010", "Request has invalid or unsupported property",
                           "The request body must be a JSON object")
        return body

    # ============================================================= storage
    def _stored(self, entity, id_):
        obj = self._data[entity].get(str(id_)) if id_ is not None else None
        if obj is None:
            raise QBOFault("610", "Object Not Found", NOT_FOUND_DETAIL, "Id")
        return obj

    def _put(self, entity, obj, old=None):
        """Store a new version of a record and log the change."""
        id_ = obj["Id"]
        if old is None and self._batch_created is not None:
            self._batch_created.add((entity, id_))
        self._data[entity][id_] = obj
        second = _parse_time(obj["MetaData"]["LastUpdatedTime"])
        self._log_change(entity, id_, int(second))
        self._index_names(entity, old, obj)
        self._party_delta(entity, old, obj)

    def _log_change(self, entity, id_, second):
        log = self._changes[entity]
        log.pop(id_, None)
        self._seq += 1
        log[id_] = (second, self._seq)
        self._version += 1

    def _index_names(self, entity, old, new):
        if entity in PERSONS:
            index, owner = self._person_names, (entity, (new or old)["Id"])
            field = "DisplayName"
        elif entity in self._list_names:
            index, owner = self._list_names[entity], (new or old)["Id"]
            field = "FullyQualifiedName"
        else:
            return
        if old and index.get(str(old.get(field, "")).casefold()) == owner:
            del index[str(old.get(field, "")).casefold()]
        if new:
            index[str(new.get(field, "")).casefold()] = owner

    def _contribution(self, entity, obj):
        if obj is None or entity not in ("Bill", "Invoice"):
            return None
        party, ref = ("Vendor", "VendorRef") if entity == "Bill" else ("Customer", "CustomerRef")
        value = (obj.get(ref) or {}).get("value")
        return (party, value, _money(obj.get("Balance", 0))) if value else None

    def _party_delta(self, entity, old, new):
        """Vendor and customer open balances follow their bills and invoices."""
        before, after = self._contribution(entity, old), self._contribution(entity, new)
        if before == after:
            return
        if before:
            self._adjust_party(before[0], before[1], -before[2])
        if after:
            self._adjust_party(after[0], after[1], after[2])

    def _adjust_party(self, party, id_, delta):
        seen = set()
        first = True
        while id_ and id_ not in seen:
            seen.add(id_)
            obj = self._data[party].get(id_)
            if obj is None:
                return
            obj = dict(obj)
            if first:
                obj["Balance"] = _num(_money(obj.get("Balance", 0)) + delta)
            if party == "Customer":
                obj["BalanceWithJobs"] = _num(_money(obj.get("BalanceWithJobs", 0)) + delta)
            self._data[party][id_] = obj
            first = False
            if party != "Customer":
                return
            id_ = (obj.get("ParentRef") or {}).get("value")

    def _new_id(self):
        id_ = str(self._next_id)
        self._next_id += 1
        return id_

    def _meta(self, create_time=None):
        now = self._iso(self._stamp_second())
        return {"CreateTime": create_time or now, "LastUpdatedTime": now}

    def _assemble(self, id_, sync_token, fields, create_time=None):
        obj = {"Id": id_, "SyncToken": str(sync_token), "domain": "QBO", "sparse": False}
        obj.update(fields)
        obj["MetaData"] = self._meta(create_time)
        return obj

    # ============================================================ writes
    def _create(self, entity, body):
        if entity in SINGLETONS:
            raise _unsupported(f"Operation Create is not supported for {entity}.")
        check_properties(entity, body)
        fields = self._normalize(entity, body, None, None)
        links = self._payment_links(entity, fields, None) if entity in PAYMENTS else None
        deposited = fields.pop("_payments", None)
        id_ = self._new_id()
        if entity in DOCUMENTS:
            fields = self._with_applications(entity, id_, fields)
        obj = self._assemble(id_, 0, fields)
        self._put(entity, obj)
        if links is not None:
            self._relink(entity, id_, links)
        if deposited is not None:
            self._redeposit(id_, deposited)
        return self._data[entity][id_]

    def _check_version(self, entity, body):
        id_ = body.get("Id")
        if id_ in (None, ""):
            raise _required("Id")
        old = self._stored(entity, str(id_))
        token = body.get("SyncToken")
        if token in (None, ""):
            raise _required("SyncToken")
        if str(token) != old["SyncToken"]:
            raise QBOFault("5010", "Stale Object Error", STALE_DETAIL, "SyncToken")
        return old

    def _update(self, entity, body):
        check_properties(entity, body)
        old = self._check_version(entity, body)
        id_ = old["Id"]
        self._check_not_deposited(entity, id_)
        sparse = body.get("sparse") in (True, "true", "True")
        if sparse:
            merged = {k: _clone(v) for k, v in old.items() if k not in SYSTEM_FIELDS}
            merged.update({k: _clone(v) for k, v in body.items()})
        else:
            merged = _clone(body)
        if entity == "CompanyInfo":
            fields = {k: v for k, v in merged.items() if k not in SYSTEM_FIELDS}
        else:
            fields = self._normalize(entity, merged, old, id_)
        links = self._payment_links(entity, fields, id_) if entity in PAYMENTS else None
        deposited = fields.pop("_payments", None)
        if entity in DOCUMENTS:
            fields = self._with_applications(entity, id_, fields)
        obj = self._assemble(id_, int(old["SyncToken"]) + 1, fields, old["MetaData"]["CreateTime"])
        self._put(entity, obj, old)
        if links is not None:
            self._relink(entity, id_, links)
        if deposited is not None:
            self._redeposit(id_, deposited)
        return self._data[entity][id_]

    def _update_preferences(self, body):
        old = self._check_version("Preferences", body)
        merged = {k: _clone(v) for k, v in old.items() if k not in SYSTEM_FIELDS}
        for key, value in body.items():
            if key in SYSTEM_FIELDS:
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **_clone(value)}
            else:
                merged[key] = _clone(value)
        obj = self._assemble("1", int(old["SyncToken"]) + 1, merged, old["MetaData"]["CreateTime"])
        self._put("Preferences", obj, old)
        return obj

    def _delete(self, entity, body):
        if entity in NAME_LISTS or entity in SINGLETONS:
            raise _unsupported("Operation Delete is not supported.")
        old = self._check_version(entity, body)
        id_ = old["Id"]
        self._check_not_deposited(entity, id_)
        if entity in DOCUMENTS and self._applied.get((entity, id_)):
            # reference 5.3: a bill or invoice with payments must be unlinked first
            raise _business("This transaction is linked to payments. Delete or unlink those payments first.")
        if entity in PAYMENTS:
            self._relink(entity, id_, {})
        if entity == "Deposit":
            self._redeposit(id_, [])
        del self._data[entity][id_]
        self._index_names(entity, old, None)
        self._party_delta(entity, old, None)
        second = self._stamp_second()
        self._deleted[entity][id_] = {"status": "Deleted", "domain": "QBO", "Id": id_,
                                      "MetaData": {"LastUpdatedTime": self._iso(second)}}
        self._log_change(entity, id_, second)
        return {"status": "Deleted", "domain": "QBO", "Id": id_}

    def _void(self, entity, body):
        if entity not in VOIDABLE:
            raise _unsupported("Operation Void is not supported.")
        old = self._check_version(entity, body)
        id_ = old["Id"]
        self._check_not_deposited(entity, id_)
        fields = {k: _clone(v) for k, v in old.items() if k not in SYSTEM_FIELDS}
        if entity == "Invoice":
            if self._applied.get((entity, id_)):
                raise _business("This invoice has payments applied. Delete or unlink them first.")
            lines = list(fields.get("Line") or [])
            while lines:
                line = lines.pop()
                line["Amount"] = 0.0
                detail = line.get("SalesItemLineDetail")
                if isinstance(detail, dict) and "Qty" in detail:
                    detail["Qty"] = 0
                group = line.get("GroupLineDetail")
                if isinstance(group, dict):
                    lines.extend(group.get("Line") or [])
            if isinstance(fields.get("TxnTaxDetail"), dict):
                fields["TxnTaxDetail"]["TotalTax"] = 0.0
            fields["TotalAmt"] = 0.0
            fields["Balance"] = 0.0
        elif entity == "Payment":
            # reference 5.4: a voided Payment keeps no lines
            fields["Line"] = []
            fields["TotalAmt"] = 0.0
            fields["UnappliedAmt"] = 0.0
        else:
            # a voided BillPayment keeps its lines (and what they linked) with zero amounts
            for line in fields.get("Line") or []:
                line["Amount"] = 0.0
            fields["TotalAmt"] = 0.0
        # reference 5.4 / 4: the transaction stays, amounts zeroed, PrivateNote "Voided"
        fields["PrivateNote"] = "Voided"
        obj = self._assemble(id_, int(old["SyncToken"]) + 1, fields, old["MetaData"]["CreateTime"])
        self._put(entity, obj, old)
        if entity in PAYMENTS:
            self._relink(entity, id_, {})
        return self._data[entity][id_]

    # ======================================================= normalization
    def _normalize(self, entity, body, old, id_):
        """Validate a create/update body and compute the server-side fields."""
        fields = {k: v for k, v in body.items()
                  if k not in SYSTEM_FIELDS and k not in READ_ONLY.get(entity, ())}
        self._check_refs(entity, fields, "")
        handler = getattr(self, f"_normalize_{entity.lower()}", None)
        if handler:
            fields = handler(fields, old, id_)
        return fields

    def _check_refs(self, entity, node, path):
        if isinstance(node, list):
            for item in node:
                self._check_refs(entity, item, path)
            return
        if not isinstance(node, dict):
            return
        for key, value in list(node.items()):
            if key == "CurrencyRef" and isinstance(value, dict):
                code = str(value.get("value") or "").upper()
                if not code:
                    raise _required("CurrencyRef.value")
                value["value"] = code
                value.setdefault("name", CURRENCY_NAMES.get(code, code))
                continue
            target = REF_TARGETS.get(key)
            if target and isinstance(value, dict):
                ref_id = value.get("value")
                if ref_id in (None, ""):
                    raise _required(key, f"{key}.value")
                if key == "ItemRef" and ref_id == SHIPPING_ITEM_ID:
                    continue  # QBO's built-in shipping line: an ordinary line, no Item record behind it
                obj = self._data[target].get(str(ref_id))
                if obj is None or obj.get("Active") is False:
                    raise _invalid_ref(key, ref_id, target)
                if self._batch_created and (target, str(ref_id)) in self._batch_created:
                    # items of one batch are independent: none sees what another created
                    raise _invalid_ref(key, ref_id, target)
                wanted_type = REF_ACCOUNT_TYPE.get(key)
                if wanted_type and obj.get("AccountType") != wanted_type:
                    raise _business(f"{key} must be an account of type {wanted_type}.", key)
                value["value"] = str(ref_id)
                if key != "TermRef":
                    value["name"] = obj.get("DisplayName") or obj.get("FullyQualifiedName") or obj.get("Name")
                continue
            if isinstance(value, (dict, list)) and key not in ("ParentRef", "LinkedTxn"):
                self._check_refs(entity, value, f"{path}{key}.")

    def _unique_name(self, entity, value, id_):
        key = str(value).casefold()
        if entity in PERSONS:
            owner = self._person_names.get(key)
            if owner and owner != (entity, id_):
                raise QBOFault("6240", "Duplicate Name Exists Error", DUPLICATE_PERSON_DETAIL, "")
            return
        owner = self._list_names[entity].get(key)
        if owner and owner != id_:
            raise QBOFault("6240", "Duplicate Name Exists Error",
                           f"The name supplied already exists. : Another {entity.lower()} is already using this "
                           "name. Please use a different name.", "")

    def _parent(self, entity, fields, id_, flag):
        """ParentRef handling for hierarchical lists: (parent obj | None)."""
        ref = fields.get("ParentRef")
        if not ref:
            fields.pop("ParentRef", None)
            if flag:
                fields[flag] = False
            return None
        parent_id = str(ref.get("value") or "")
        parent = self._data[entity].get(parent_id)
        if parent is None or parent.get("Active") is False or parent_id == id_:
            raise _invalid_ref("ParentRef", parent_id, entity)
        # no cycles: the parent may not descend from this record
        node = parent
        while node is not None and id_ is not None:
            up = (node.get("ParentRef") or {}).get("value")
            if up == id_:
                raise _business("A record cannot be its own ancestor.", "ParentRef")
            node = self._data[entity].get(up) if up else None
        fields["ParentRef"] = {"value": parent_id}
        if flag:
            fields[flag] = True
        return parent

    def _name_field(self, fields, key="Name", limit=100):
        name = fields.get(key)
        if not isinstance(name, str) or not name.strip():
            raise _required(key)
        name = name.strip()
        if len(name) > limit:
            raise _invalid_value(key, f"{key} is longer than {limit} characters")
        fields[key] = name
        return name

    def _normalize_account(self, fields, old, id_):
        name = self._name_field(fields)
        if ":" in name or '"' in name:
            raise _invalid_value("Name", "Account names cannot contain a colon or a double quote")
        atype, sub = fields.get("AccountType"), fields.get("AccountSubType")
        if not atype and not sub:
            raise _required("AccountType")
        if not atype:
            atype = SUBTYPE_TYPE.get(sub)
        if atype not in ACCOUNT_CLASSIFICATION:
            raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {atype or sub}", "AccountType")
        fields["AccountType"] = atype
        fields.setdefault("AccountSubType", sub or DEFAULT_SUBTYPE[atype])
        fields["Classification"] = ACCOUNT_CLASSIFICATION[atype]
        parent = self._parent("Account", fields, id_, "SubAccount")
        fields["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}" if parent else name
        self._unique_name("Account", fields["FullyQualifiedName"], id_)
        balance = (old or {}).get("CurrentBalance", 0)
        fields["CurrentBalance"] = balance
        fields["CurrentBalanceWithSubAccounts"] = (old or {}).get("CurrentBalanceWithSubAccounts", balance)
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_tracking(self, entity, flag, fields, id_):
        name = self._name_field(fields)
        parent = self._parent(entity, fields, id_, flag)
        fields["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}" if parent else name
        self._unique_name(entity, fields["FullyQualifiedName"], id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_class(self, fields, old, id_):
        return self._normalize_tracking("Class", "SubClass", fields, id_)

    def _normalize_department(self, fields, old, id_):
        return self._normalize_tracking("Department", "SubDepartment", fields, id_)

    def _normalize_item(self, fields, old, id_):
        name = self._name_field(fields)
        item_type = fields.setdefault("Type", "Service")
        if item_type not in ("Service", "Inventory", "NonInventory", "Group", "Category"):
            raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {item_type}", "Type")
        if item_type == "Inventory":
            for key in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef", "QtyOnHand", "InvStartDate"):
                if fields.get(key) in (None, ""):
                    raise _required(key)
            fields["TrackQtyOnHand"] = True
        else:
            fields.setdefault("TrackQtyOnHand", False)
        fields["FullyQualifiedName"] = name
        self._unique_name("Item", name, id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _normalize_term(self, fields, old, id_):
        name = self._name_field(fields, limit=31)
        if "DayOfMonthDue" in fields and "DueDays" not in fields:
            fields["Type"] = "DATE_DRIVEN"
        else:
            fields["Type"] = "STANDARD"
            fields.setdefault("DueDays", 0)
            fields.setdefault("DiscountPercent", 0)
            fields.setdefault("DiscountDays", 0)
        self._unique_name("Term", name, id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    def _display_name(self, entity, fields, id_):
        name = fields.get("DisplayName")
        if not (isinstance(name, str) and name.strip()):
            parts = [fields.get(k) for k in ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")]
            name = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
            if not name and entity != "Employee":
                name = (fields.get("CompanyName") or "").strip()
        if not name:
            raise _required("DisplayName")
        name = name.strip()
        if ":" in name:
            raise _invalid_value("DisplayName", "Names cannot contain a colon")
        if len(name) > 500:
            raise _invalid_value("DisplayName", "DisplayName is longer than 500 characters")
        self._unique_name(entity, name, id_)
        fields["DisplayName"] = name
        return name

    def _address_ids(self, fields):
        for key in ("BillAddr", "ShipAddr"):
            addr = fields.get(key)
            if isinstance(addr, dict) and not addr.get("Id"):
                addr["Id"] = self._new_id()

    def _normalize_vendor(self, fields, old, id_):
        name = self._display_name("Vendor", fields, id_)
        fields.setdefault("PrintOnCheckName", name)
        fields.setdefault("Vendor1099", False)
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})
        fields["Balance"] = (old or {}).get("Balance", 0)
        fields["Active"] = fields.get("Active") is not False
        self._address_ids(fields)
        return fields

    def _normalize_customer(self, fields, old, id_):
        name = self._display_name("Customer", fields, id_)
        parent = self._parent("Customer", fields, id_, None)
        if parent:
            fields["Job"] = True
            fields["Level"] = int(parent.get("Level", 0)) + 1
            fields["FullyQualifiedName"] = f"{parent['FullyQualifiedName']}:{name}"
            fields.setdefault("BillWithParent", False)
        else:
            fields["Job"] = False
            fields["FullyQualifiedName"] = name
            fields["BillWithParent"] = False
        fields.setdefault("Taxable", False)
        fields.setdefault("PreferredDeliveryMethod", "Print")
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})
        fields["Balance"] = (old or {}).get("Balance", 0)
        fields["BalanceWithJobs"] = (old or {}).get("BalanceWithJobs", 0)
        fields["Active"] = fields.get("Active") is not False
        self._address_ids(fields)
        return fields

    def _normalize_employee(self, fields, old, id_):
        self._display_name("Employee", fields, id_)
        fields["Active"] = fields.get("Active") is not False
        return fields

    # transactions
    def _txn_defaults(self, fields, party_ref, term_ref=None):
        if not fields.get(party_ref):
            raise _required(party_ref)
        txn_date = fields.get("TxnDate") or self._today().isoformat()
        if not _DATE_RE.match(str(txn_date)):
            raise _invalid_value("TxnDate", f"Invalid date {txn_date!r}")
        fields["TxnDate"] = txn_date
        if term_ref is not None and not fields.get("DueDate"):
            days = 0
            term = fields.get(term_ref)
            if term:
                days = int(self._data["Term"][term["value"]].get("DueDays") or 0)
            due = dt.date.fromisoformat(txn_date) + dt.timedelta(days=days)
            fields["DueDate"] = due.isoformat()
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})

    def _lines(self, fields, allowed, required=True):
        lines = fields.get("Line")
        if lines is None or (required and not lines):
            raise _required("Line")
        if not isinstance(lines, list):
            raise _invalid_value("Line", "Line must be a list")
        used = self._line_ids(lines)
        counter = [max([int(i) for i in used if i.isdigit()] or [0]) + 1]
        fields["Line"] = self._shape_lines(lines, allowed, counter, "Line")
        return fields["Line"]

    @staticmethod
    def _line_ids(lines):
        ids = set()
        for line in lines:
            if isinstance(line, dict):
                if line.get("Id"):
                    ids.add(str(line["Id"]))
                group = line.get("GroupLineDetail")
                if isinstance(group, dict) and isinstance(group.get("Line"), list):
                    ids |= QBOSandbox._line_ids(group["Line"])
        return ids

    def _shape_lines(self, lines, allowed, counter, where):
        """Check each line's detail, number it and give it an Id; SubTotal lines are dropped
        (the server adds its own)."""
        out, number = [], 0
        for line in lines:
            if not isinstance(line, dict):
                raise _invalid_value(where, "Each line must be an object")
            kind = line.get("DetailType")
            if kind not in allowed:
                raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {kind}",
                               f"{where}.DetailType")
            if kind == "SubTotalLineDetail":
                continue
            detail = line.get(kind)
            if kind != "DescriptionOnly" and not isinstance(detail, dict):
                raise _required(f"{where}.{kind}")
            need = {"AccountBasedExpenseLineDetail": "AccountRef", "ItemBasedExpenseLineDetail": "ItemRef",
                    "SalesItemLineDetail": "ItemRef", "GroupLineDetail": "GroupItemRef"}.get(kind)
            if need and not detail.get(need):
                raise _required(f"{where}.{kind}.{need}")
            if kind == "GroupLineDetail":
                inner = detail.get("Line")
                if not isinstance(inner, list) or not inner:
                    raise _required(f"{where}.GroupLineDetail.Line")
                detail["Line"] = self._shape_lines(inner, GROUP_INNER_LINES, counter, f"{where}.GroupLineDetail.Line")
            if not line.get("Id"):
                line["Id"] = str(counter[0])
                counter[0] += 1
            number += 1
            line = {"Id": str(line.pop("Id")), "LineNum": line.pop("LineNum", number), **line}
            out.append(line)
        return out

    def _priced(self, fields, allowed):
        """Lines shaped and priced as QBO does, TotalAmt set: (lines, subtotal before discounts)."""
        lines = self._lines(fields, allowed)
        subtotal, discounts = price_lines(lines)
        fields["TotalAmt"] = _num(document_total(fields, subtotal, discounts))
        return lines, subtotal

    def _normalize_expense_doc(self, fields, due_date):
        self._txn_defaults(fields, "VendorRef", "SalesTermRef" if due_date else None)
        self._priced(fields, EXPENSE_LINES)
        if not fields.get("APAccountRef"):
            ap = self._default_account("Accounts Payable")
            fields["APAccountRef"] = {"value": ap["Id"], "name": ap["Name"]}
        return fields

    def _normalize_bill(self, fields, old, id_):
        return self._normalize_expense_doc(fields, due_date=True)

    def _normalize_vendorcredit(self, fields, old, id_):
        return self._normalize_expense_doc(fields, due_date=False)

    def _normalize_sales_doc(self, entity, fields, old):
        self._txn_defaults(fields, "CustomerRef", "SalesTermRef" if entity == "Invoice" else None)
        lines, subtotal = self._priced(fields, SALES_LINES)
        # QBO adds a SubTotalLineDetail line (no Id) holding the lines' sum before discounts
        lines.append({"Amount": _num(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        if not fields.get("DocNumber") and (old or {}).get("DocNumber"):
            fields["DocNumber"] = old["DocNumber"]
        if not fields.get("DocNumber"):
            fields["DocNumber"] = str(self._next_doc_number[entity])
            self._next_doc_number[entity] += 1
        return fields

    def _normalize_invoice(self, fields, old, id_):
        self._normalize_sales_doc("Invoice", fields, old)
        fields.setdefault("Deposit", 0)
        fields.setdefault("EmailStatus", "NotSet")
        fields.setdefault("PrintStatus", "NotSet")
        if fields["EmailStatus"] == "NeedToSend" and not (fields.get("BillEmail") or {}).get("Address"):
            raise _business("Need to send requires a BillEmail address.", "BillEmail")
        return fields

    def _normalize_creditmemo(self, fields, old, id_):
        return self._normalize_sales_doc("CreditMemo", fields, old)

    def _payment_lines(self, fields):
        lines = fields.get("Line")
        if lines is None:
            fields["Line"] = lines = []
        if not isinstance(lines, list):
            raise _invalid_value("Line", "Line must be a list")
        for line in lines:
            if not isinstance(line, dict) or "Amount" not in line:
                raise _required("Line.Amount")
            line["Amount"] = _num(_money(line["Amount"], "Line.Amount"))
            linked = line.get("LinkedTxn")
            if linked is not None and not isinstance(linked, list):
                raise _invalid_value("Line.LinkedTxn", "LinkedTxn must be a list")
        if "TotalAmt" not in fields:
            raise _required("TotalAmt")
        total = _money(fields["TotalAmt"], "TotalAmt")
        if total < 0:
            raise _invalid_value("TotalAmt", "TotalAmt cannot be negative")
        fields["TotalAmt"] = _num(total)
        return lines

    def _normalize_payment(self, fields, old, id_):
        self._txn_defaults(fields, "CustomerRef")
        self._payment_lines(fields)
        if not fields.get("DepositToAccountRef"):
            account = self._default_account("Other Current Asset", "UndepositedFunds")
            fields["DepositToAccountRef"] = {"value": account["Id"], "name": account["Name"]}
        fields.setdefault("ProcessPayment", False)
        return fields

    def _normalize_billpayment(self, fields, old, id_):
        self._txn_defaults(fields, "VendorRef")
        pay_type = fields.get("PayType")
        if not pay_type:
            raise _required("PayType")
        if pay_type not in ("Check", "CreditCard"):
            raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {pay_type}", "PayType")
        if pay_type == "Check":
            check = fields.get("CheckPayment")
            if not isinstance(check, dict) or not check.get("BankAccountRef"):
                raise _required("CheckPayment.BankAccountRef")
            check.setdefault("PrintStatus", "NotSet")
            fields.pop("CreditCardPayment", None)
        else:
            card = fields.get("CreditCardPayment")
            if not isinstance(card, dict) or not card.get("CCAccountRef"):
                raise _required("CreditCardPayment.CCAccountRef")
            fields.pop("CheckPayment", None)
        self._payment_lines(fields)
        return fields

    def _normalize_attachable(self, fields, old, id_):
        if not fields.get("Note") and not fields.get("FileName"):
            raise _required("Note")
        refs = fields.get("AttachableRef") or []
        if not isinstance(refs, list):
            raise _invalid_value("AttachableRef", "AttachableRef must be a list")
        for ref in refs:
            entity_ref = (ref or {}).get("EntityRef") or {}
            target = canonical_entity(entity_ref.get("type", ""))
            if not target or str(entity_ref.get("value")) not in self._data[target]:
                raise _invalid_ref("AttachableRef.EntityRef", entity_ref.get("value"), entity_ref.get("type"))
            entity_ref["type"] = target
            entity_ref["value"] = str(entity_ref["value"])
            ref.setdefault("IncludeOnSend", False)
        if refs:
            fields["AttachableRef"] = refs
        return fields

    def _default_account(self, account_type, sub_type=None):
        for account in self._data["Account"].values():
            if account["AccountType"] == account_type and account.get("Active") is not False and (
                    sub_type is None or account.get("AccountSubType") == sub_type):
                return account
        raise _business(f"The company has no active {account_type} account.")

    # ========================================================== payments
    def _payment_links(self, entity, fields, pay_id):
        """Validate what a payment applies to: {(doc entity, doc id): Decimal amount}.

        Credits are applied through the payment's lines with positive amounts: a BillPayment line
        linking a VendorCredit (a Payment line linking a CreditMemo) uses that much of the credit,
        and the payment's TotalAmt is the net cash, bills (invoices) less credits. Integrators
        describe it the same way: "QBO's TotalAmt is the net check amount while credit lines carry
        positive amounts" (laf-rge/quickbooks-mcp PR #23, create_bill_payment); reference 8.8/8.11
        call this structure uncertain. Cash beyond what is applied stays on a Payment as
        UnappliedAmt.
        """
        kinds = {"BillPayment": {"Bill": "Bill", "VendorCredit": "VendorCredit"},
                 "Payment": {"Invoice": "Invoice", "CreditMemo": "CreditMemo"}}[entity]
        party_ref = "VendorRef" if entity == "BillPayment" else "CustomerRef"
        party = fields[party_ref]["value"]
        links = {}
        for line in fields.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                doc_entity = kinds.get(linked.get("TxnType"))
                if not doc_entity:
                    raise QBOFault("2170", "Invalid Enumeration",
                                   f"Invalid Enumeration : {linked.get('TxnType')}", "Line.LinkedTxn.TxnType")
                doc_id = str(linked.get("TxnId") or "")
                doc = self._data[doc_entity].get(doc_id)
                if doc is None:
                    raise _invalid_ref("Line.LinkedTxn.TxnId", doc_id, doc_entity)
                if (doc.get(party_ref) or {}).get("value") != party:
                    raise _business(f"{doc_entity} {doc_id} belongs to another "
                                    f"{'vendor' if entity == 'BillPayment' else 'customer'}.", "Line.LinkedTxn")
                key = (doc_entity, doc_id)
                links[key] = links.get(key, _ZERO) + _money(line["Amount"])
        applied_here = self._pay_links.get((entity, pay_id), {}) if pay_id else {}
        for key, amount in links.items():
            doc = self._data[key[0]][key[1]]
            open_amount = _money(doc.get("Balance", doc.get("TotalAmt", 0))) + applied_here.get(key, _ZERO)
            if amount < 0 or amount > open_amount:
                raise _business(f"The amount applied to {key[0]} {key[1]} ({amount}) is more than its open "
                                f"balance ({open_amount}).", "Line.Amount")
        debit_docs = ("Bill", "Invoice")
        applied = sum((a for (e, _), a in links.items() if e in debit_docs), _ZERO) - \
            sum((a for (e, _), a in links.items() if e not in debit_docs), _ZERO)
        total = _money(fields["TotalAmt"])
        if applied > total:
            raise _business(f"The amounts applied ({applied}) are more than the payment total ({total}).",
                            "TotalAmt")
        if entity == "Payment":
            fields["UnappliedAmt"] = _num(total - applied)
        return links

    def _with_applications(self, entity, id_, fields):
        """Balance, RemainingCredit and LinkedTxn of a document from the payments applied to it."""
        applied = self._applied.get((entity, id_), {})
        total = _money(fields.get("TotalAmt", 0))
        paid = sum(applied.values(), _ZERO)
        if paid > total:
            raise _business(f"The total ({total}) is less than the payments applied to it ({paid}).", "Line")
        fields["Balance"] = _num(total - paid)
        if entity == "CreditMemo":
            fields["RemainingCredit"] = fields["Balance"]
        fields.pop("LinkedTxn", None)
        if applied:
            fields["LinkedTxn"] = [{"TxnId": pid, "TxnType": "BillPaymentCheck" if pe == "BillPayment" else "Payment"}
                                   for pe, pid in applied]
        return fields

    def _relink(self, entity, pay_id, links):
        """Apply a payment's new links; the documents it touches get a new version."""
        key = (entity, pay_id)
        old = self._pay_links.pop(key, {})
        if links:
            self._pay_links[key] = dict(links)
        for doc_key in list(dict.fromkeys(list(old) + list(links))):
            if old.get(doc_key) == links.get(doc_key):
                continue
            applied = self._applied.setdefault(doc_key, {})
            if doc_key in links:
                applied[key] = links[doc_key]
            else:
                applied.pop(key, None)
            if not applied:
                del self._applied[doc_key]
            doc_entity, doc_id = doc_key
            doc = self._data[doc_entity].get(doc_id)
            if doc is None:
                continue
            fields = {k: _clone(v) for k, v in doc.items() if k not in SYSTEM_FIELDS}
            fields = self._with_applications(doc_entity, doc_id, fields)
            new = self._assemble(doc_id, int(doc["SyncToken"]) + 1, fields, doc["MetaData"]["CreateTime"])
            self._put(doc_entity, new, doc)

    # ============================================================ deposits
    DEPOSITED_DETAIL = ("This transaction has been deposited. If you want to change or delete it, you must edit "
                        "the deposit it appears on and remove it first.")

    def _check_not_deposited(self, entity, id_):
        """Error 6540 (reference 6.2 and 5.3): a payment on a bank deposit cannot be changed."""
        if entity == "Payment" and id_ in self._deposited:
            raise QBOFault("6540", "Deposited Transaction cannot be changed", self.DEPOSITED_DETAIL, "")

    def _normalize_deposit(self, fields, old, id_):
        if not fields.get("DepositToAccountRef"):
            raise _required("DepositToAccountRef")
        self._txn_defaults(fields, "DepositToAccountRef")
        lines = fields.get("Line")
        if not isinstance(lines, list) or not lines:
            raise _required("Line")
        total, payments, number = _ZERO, [], 0
        for line in lines:
            if not isinstance(line, dict) or line.get("Amount") in (None, ""):
                raise _required("Line.Amount")
            amount = _money(line["Amount"], "Line.Amount")
            linked = line.get("LinkedTxn") or []
            if not isinstance(linked, list):
                raise _invalid_value("Line.LinkedTxn", "LinkedTxn must be a list")
            for txn in linked:
                if txn.get("TxnType") != "Payment":
                    raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {txn.get('TxnType')}",
                                   "Line.LinkedTxn.TxnType")
                pay_id = str(txn.get("TxnId") or "")
                pay = self._data["Payment"].get(pay_id)
                if pay is None:
                    raise _invalid_ref("Line.LinkedTxn.TxnId", pay_id, "Payment")
                if self._deposited.get(pay_id, id_) != id_ or pay_id in payments:
                    raise _business(f"Payment {pay_id} is already on a deposit.", "Line.LinkedTxn")
                if amount != _money(pay.get("TotalAmt", 0)):
                    raise _business(f"The deposit line for payment {pay_id} ({amount}) must equal its amount "
                                    f"({_money(pay.get('TotalAmt', 0))}).", "Line.Amount")
                txn["TxnId"] = pay_id
                txn.setdefault("TxnLineId", "0")
                payments.append(pay_id)
            if not linked:
                detail = line.get("DepositLineDetail")
                if line.get("DetailType") != "DepositLineDetail" or not isinstance(detail, dict) \
                        or not detail.get("AccountRef"):
                    raise _required("Line.DepositLineDetail.AccountRef")
            number += 1
            line["Amount"] = _num(amount)
            line.setdefault("Id", str(number))
            line.setdefault("LineNum", number)
            total += amount
        fields["TotalAmt"] = _num(total)
        fields["_payments"] = payments
        return fields

    def _redeposit(self, dep_id, payments):
        """Point payments at the deposit they are on (header LinkedTxn), and release the others."""
        before = [p for p, d in self._deposited.items() if d == dep_id]
        for pay_id in before:
            del self._deposited[pay_id]
        for pay_id in payments:
            self._deposited[pay_id] = dep_id
        for pay_id in dict.fromkeys(before + payments):
            if (pay_id in before) == (pay_id in payments):
                continue
            pay = self._data["Payment"].get(pay_id)
            if pay is None:
                continue
            fields = {k: _clone(v) for k, v in pay.items() if k not in SYSTEM_FIELDS}
            links = [l for l in fields.pop("LinkedTxn", None) or [] if l.get("TxnType") != "Deposit"]
            if pay_id in payments:
                links.append({"TxnId": dep_id, "TxnType": "Deposit"})
            if links:
                fields["LinkedTxn"] = links
            new = self._assemble(pay_id, int(pay["SyncToken"]) + 1, fields, pay["MetaData"]["CreateTime"])
            self._put("Payment", new, pay)

    # ============================================================= query
    def _query(self, text):
        try:
            query = Query(text)
        except QueryError as exc:
            raise QBOFault("4000", "Error parsing query", str(exc)) from None
        ids = self._matching_ids(query)
        if query.count:
            return {"totalCount": len(ids)}
        page = ids[query.start - 1:query.start - 1 + query.max_results]
        if not page:
            return {}
        store = self._data[query.entity]
        rows = [store[i] for i in page]
        if query.fields:
            wanted = [f.split(".")[0] for f in query.fields]
            rows = [{**{k: v for k, v in row.items() if any(k.lower() == w.lower() for w in wanted)},
                     "domain": "QBO", "sparse": True} for row in rows]
        return {query.entity: rows, "startPosition": query.start, "maxResults": len(rows)}

    def _matching_ids(self, query):
        key = query.cache_key()
        cached = self._query_cache.get(key)
        if cached and cached[0] == self._version:
            return cached[1]
        conditions = list(query.conditions)
        if query.entity in NAME_LISTS and not any(p.lower() == "active" for p, _, _ in conditions):
            conditions.append(("Active", "=", True))
        rows = [obj for obj in self._data[query.entity].values() if _matches(obj, conditions, self.tz)]
        for path, desc in reversed(query.order):
            rows.sort(key=lambda obj, p=path: _sort_key(obj, p), reverse=desc)
        ids = [obj["Id"] for obj in rows]
        if len(self._query_cache) > 32:
            self._query_cache.clear()
        self._query_cache[key] = (self._version, ids)
        return ids

    # =============================================================== CDC
    def _cdc(self, entities, changed_since):
        if not entities:
            raise _required("entities")
        if not changed_since:
            raise _required("changedSince")
        names = []
        for raw in entities.split(","):
            if not raw.strip():
                continue
            name = canonical_entity(raw)
            if not name:
                raise _business(f"Invalid entity in the entities list: {raw.strip()}", "entities")
            if name not in names:
                names.append(name)
        try:
            since = _parse_time(changed_since.replace(" ", "+"), self.tz)
        except ValueError:
            raise _invalid_value("changedSince", f"Invalid date-time {changed_since!r}") from None
        if since < self.clock.now() - self.cdc_window_days * 86400:
            raise _business(f"changedSince must be within the last {self.cdc_window_days} days.", "changedSince")
        candidates = []
        for name in names:
            log = self._changes[name]
            for id_ in reversed(log):
                second, seq = log[id_]
                if second < since:
                    break
                candidates.append((second, seq, name, id_))
        candidates.sort()
        candidates = candidates[:self.cdc_max_objects]
        groups = {name: ([], []) for name in names}
        for second, seq, name, id_ in candidates:
            obj = self._data[name].get(id_)
            if obj is not None:
                groups[name][0].append(obj)
            else:
                groups[name][1].append(self._deleted[name][id_])
        responses = []
        for name in names:
            objects = groups[name][0] + groups[name][1]
            if objects:
                responses.append({name: objects, "startPosition": 1, "maxResults": len(objects),
                                  "totalCount": len(objects)})
        return {"CDCResponse": [{"QueryResponse": responses or [{}]}]}

    # ============================================================= batch
    def _batch(self, body):
        items = body.get("BatchItemRequest")
        if not isinstance(items, list) or not items:
            raise _required("BatchItemRequest")
        if len(items) > self.batch_max_items:
            raise _business(f"A batch may hold at most {self.batch_max_items} items; this one has {len(items)}.",
                            "BatchItemRequest")
        out = []
        self._batch_created = set()
        try:
            for item in items:
                out.append(self._batch_item(item))
        finally:
            self._batch_created = None
        return {"BatchItemResponse": out}

    def _batch_item(self, item):
        bid = item.get("bId") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise _invalid_value("BatchItemRequest", "Each batch item must be an object")
            if "Query" in item:
                result = {"QueryResponse": self._query(item["Query"])}
            else:
                result = self._batch_write(item)
        except QBOFault as fault:
            result = {"Fault": fault.fault()}
        return {"bId": bid, **result}

    def _batch_write(self, item):
        keys = [k for k in item if k not in ("bId", "operation", "optionsData")]
        if len(keys) != 1 or not canonical_entity(keys[0]):
            raise _invalid_value("BatchItemRequest", "A batch item needs exactly one entity object")
        entity = canonical_entity(keys[0])
        body = item[keys[0]]
        if not isinstance(body, dict):
            raise _invalid_value(entity, "The entity must be an object")
        operation = (item.get("operation") or "").lower()
        if entity in SINGLETONS and operation != "update":
            raise _unsupported(f"Operation {operation} is not supported for {entity}.")
        if operation == "create":
            return {entity: self._create(entity, body)}
        if operation == "update":
            if entity == "Preferences":
                return {entity: self._update_preferences(body)}
            return {entity: self._update(entity, body)}
        if operation == "delete":
            return {entity: self._delete(entity, body)}
        if operation == "void":
            return {entity: self._void(entity, body)}
        raise _unsupported(f"Operation {operation or '(none)'} is not supported.")
