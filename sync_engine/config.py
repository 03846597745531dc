"""A connection's configuration: where both accounts are, the facts the rules
need, and the settings Bill.com's own sync offers.

Loaded from a JSON file for the command line (``python -m sync_engine sandbox
--write-config`` writes one) or built by the Odoo add-on from its records.
"""
import datetime
import json
import os
import stat
import urllib.parse
from dataclasses import asdict, dataclass, field

from .billcom.client import PRODUCTION_BASE_URL as BILLCOM_PRODUCTION
from .billcom.client import SANDBOX_BASE_URL as BILLCOM_SANDBOX  # noqa: F401 (re-exported)
from .errors import ConfigError
from .qbo.client import AUTHORIZE_URL as QBO_AUTHORIZE_URL
from .qbo.client import OAuthEndpoints
from .qbo.client import PRODUCTION_BASE_URL as QBO_PRODUCTION
from .qbo.client import REVOKE_URL as QBO_REVOKE_URL
from .qbo.client import SANDBOX_BASE_URL as QBO_SANDBOX  # noqa: F401 (re-exported)
from .qbo.client import TOKEN_URL as QBO_TOKEN_URL
from .secrets import Scrubber, basic_forms

SECRET_FIELDS = ("client_secret", "refresh_token", "access_token", "dev_key", "password")

# Object types in dependency order: lists, then names, then documents, then payments.
OBJECT_TYPES = (
    "account", "class", "location", "item", "term",
    "vendor", "customer",
    "bill", "invoice", "vendor_credit", "credit_memo",
    "bill_payment", "received_payment",
)


@dataclass
class QBOAccount(OAuthEndpoints):
    """A QuickBooks company, the app that reaches it and the app's tokens; the
    OAuth endpoints (keyword-only) are Intuit's unless given."""
    base_url: str
    realm_id: str
    client_id: str
    client_secret: str
    refresh_token: str = None
    access_token: str = None
    access_token_expires_at: float = None


@dataclass
class BillComAccount:
    base_url: str
    dev_key: str
    username: str
    password: str
    organization_id: str


@dataclass
class OrgFacts:
    """What Bill.com's published rules depend on (the API does not expose these)."""
    signup_date: datetime.date
    start_date: datetime.date
    under_accountant_console: bool = False


@dataclass
class SyncSettings:
    bank_account_id: str = None      # QBO account BillPayments are paid from
    deposit_account_id: str = None   # QBO account received payments are deposited to
    ap_account_id: str = None        # QBO A/P account for bills
    ar_account_id: str = None        # QBO A/R account for invoices
    sync_only_approved_bills: bool = False
    master_side: str = None          # None (hold conflicts) | 'qbo' | 'billcom'
    object_types: tuple = None       # None = every type in OBJECT_TYPES
    # records a person chose not to sync: "<object type>|<side>|<id>" (side qbo or billcom)
    excluded: tuple = ()
    # a held conflict a person settled: "<object type>|<QuickBooks id>" -> the side whose version wins
    record_masters: dict = field(default_factory=dict)
    # create vendors, customers and invoices through Bill.com's v2 bulk endpoints,
    # 100 a call, where v3 takes 20 or one (doc/billcom-v2-bulk.md)
    billcom_v2_bulk: bool = False


@dataclass
class ConnectionConfig:
    qbo: QBOAccount
    billcom: BillComAccount
    facts: OrgFacts
    settings: SyncSettings = field(default_factory=SyncSettings)
    name: str = "connection"
    store_path: str = None           # SQLite file for the embedded store

    def object_types(self):
        chosen = self.settings.object_types
        return tuple(t for t in OBJECT_TYPES if not chosen or t in chosen)

    # ---------------------------------------------------------- files
    def to_dict(self):
        data = asdict(self)
        for key in ("signup_date", "start_date"):
            data["facts"][key] = data["facts"][key].isoformat()
        if data["settings"]["object_types"]:
            data["settings"]["object_types"] = list(data["settings"]["object_types"])
        return data

    @classmethod
    def from_dict(cls, data, file=None):
        """The configuration in ``data`` (a parsed configuration file), checked
        key by key; the first problem raises ``ConfigError`` naming ``file``,
        the key and what it should be."""
        return _Reader(file).connection(data)

    @classmethod
    def load(cls, path):
        """The configuration in the JSON file at ``path``; ``ConfigError`` (one
        line naming the file, the key and what is expected) when the file is
        missing, unreadable, empty, not JSON or holds a wrong value."""
        try:
            with open(path, "rb") as handle:
                raw = handle.read()
        except OSError as exc:
            raise ConfigError(f"cannot read the file ({exc.strerror or exc})", file=path,
                              expected=FILE_EXPECTED) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ConfigError("the file is not UTF-8 text", file=path, expected=FILE_EXPECTED) from None
        if not text.strip():
            raise ConfigError("the file is empty", file=path, expected=FILE_EXPECTED)
        try:
            data = json.loads(text)
        except ValueError as exc:
            where = (f"line {exc.lineno} column {exc.colno}: "
                     if isinstance(exc, json.JSONDecodeError) else "")
            message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise ConfigError(f"{where}not valid JSON ({message})", file=path, expected=FILE_EXPECTED) from None
        return cls.from_dict(data, file=path)

    def save(self, path):
        """Write the configuration to ``path``: a new file is readable by its owner
        only (0600) from the start, an existing one keeps its mode."""
        write_json_file(path, self.to_dict())

    def secrets(self):
        """Every secret value, and the HTTP Basic forms of the QuickBooks app's
        client id and secret, so logs and run lines can be scrubbed of them."""
        values = [getattr(self.qbo, n, None) for n in SECRET_FIELDS]
        values += [getattr(self.billcom, n, None) for n in SECRET_FIELDS]
        values += basic_forms(self.qbo.client_id, self.qbo.client_secret)
        return [v for v in values if v]


def write_json_file(path, data, mode=None):
    """Write ``data`` as JSON to ``path`` in one step: a temporary file in the
    same directory, created readable by its owner only and given ``mode`` (by
    default the mode of the file it replaces, 0600 for a new file) before a byte
    is written, then renamed over ``path``. A symbolic link is followed, so the
    file it points to is the one replaced."""
    target = os.path.realpath(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = PRIVATE_MODE
    directory, name = os.path.split(target)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), PRIVATE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = None
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        if fd is not None:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------------ checking a file
PRIVATE_MODE = 0o600
FILE_EXPECTED = ("a JSON object with qbo, billcom and facts sections "
                 "('python -m sync_engine sandbox --write-config FILE' writes one)")
_TEXT = "a non-empty string"
_ID = "a non-empty string (a QuickBooks id) or null"
_DATE = "an ISO date YYYY-MM-DD"


# a JSON value's kind as an error message names it (bool before number: True is an int)
_KINDS = ((bool, "a boolean"), ((int, float), "a number"), (str, "a string"), (list, "a list"),
          (dict, "an object"))


def _kind(value):
    if value is None:
        return "null"
    return next((kind for types, kind in _KINDS if isinstance(value, types)), type(value).__name__)


def _shown(value, limit=60):
    """A value as it may appear in a one-line error: JSON, shortened, credentials masked."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return Scrubber()(text)


class _Reader:
    """Reads a parsed configuration key by key; the first problem raises
    ``ConfigError`` naming the file and the key."""

    def __init__(self, file):
        self.file = file

    def fail(self, key, problem, expected):
        raise ConfigError(problem, file=self.file, key=key, expected=expected)

    def section(self, data, name, required=True):
        if name not in data or data[name] is None:
            if required:
                self.fail(name, "the section is missing", "an object")
            return {}
        value = data[name]
        if not isinstance(value, dict):
            self.fail(name, f"is {_kind(value)}", "an object")
        return value

    def text(self, data, section, name, required=True, expected=_TEXT, numbers=False):
        key = f"{section}.{name}" if section else name
        value = data.get(name)
        if value is None or value == "":
            if required:
                self.fail(key, "is missing" if name not in data else f"is {'empty' if value == '' else 'null'}",
                          expected)
            return None
        if numbers and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.fail(key, f"is {_kind(value)}", expected)
        if not value.strip():
            self.fail(key, "is blank", expected)
        return value

    def url(self, data, section, name, example, required=True):
        key = f"{section}.{name}"
        expected = f"an absolute http(s) URL with a host, e.g. {example}"
        value = self.text(data, section, name, required=required, expected=expected)
        if value is None:
            return None
        try:
            parts = urllib.parse.urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError:
            parts = None
        if (parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname
                or any(ch.isspace() for ch in value)):
            self.fail(key, f"{_shown(value)} is not an absolute http(s) URL", expected)
        return value

    def date(self, data, section, name):
        key = f"{section}.{name}"
        value = data.get(name)
        if isinstance(value, datetime.datetime):
            self.fail(key, "is a date and time", _DATE)
        if isinstance(value, datetime.date):
            return value
        if value is None or value == "":
            self.fail(key, "is missing" if name not in data else "is empty", _DATE)
        if not isinstance(value, str):
            self.fail(key, f"is {_kind(value)}", _DATE)
        try:
            if len(value) != 10:
                raise ValueError(value)
            return datetime.date.fromisoformat(value)
        except ValueError:
            self.fail(key, f"{_shown(value)} is not a valid date", _DATE)

    def boolean(self, data, section, name, default=False):
        value = data.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(f"{section}.{name}", f"{_shown(value)} is {_kind(value)}", "true or false")
        return value

    def number(self, data, section, name):
        value = data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{section}.{name}", f"is {_kind(value)}", "a number (seconds since 1970) or null")
        return float(value)

    def connection(self, data):
        if not isinstance(data, dict):
            raise ConfigError(f"the top level is {_kind(data)}", file=self.file, expected=FILE_EXPECTED)
        qbo = self.section(data, "qbo")
        billcom = self.section(data, "billcom")
        facts = self.section(data, "facts")
        settings = self.section(data, "settings", required=False)
        name = self.text(data, None, "name", required=False)
        store_path = self.text(data, None, "store_path", required=False, expected="a file name or null")
        return ConnectionConfig(qbo=self.qbo(qbo), billcom=self.billcom(billcom), facts=self.facts(facts),
                                settings=self.settings(settings), name=name or "connection",
                                store_path=store_path)

    def qbo(self, q):
        s = "qbo"
        return QBOAccount(
            base_url=self.url(q, s, "base_url", QBO_PRODUCTION),
            realm_id=self.text(q, s, "realm_id", numbers=True,
                               expected="the company's realm id (a non-empty string)"),
            client_id=self.text(q, s, "client_id", expected="the app's client id (a non-empty string)"),
            client_secret=self.text(q, s, "client_secret",
                                    expected="the app's client secret (a non-empty string)"),
            refresh_token=self.text(q, s, "refresh_token", required=False,
                                    expected="a non-empty string or null"),
            token_url=self.url(q, s, "token_url", QBO_TOKEN_URL, required=False) or QBO_TOKEN_URL,
            revoke_url=self.url(q, s, "revoke_url", QBO_REVOKE_URL, required=False) or QBO_REVOKE_URL,
            authorize_url=(self.url(q, s, "authorize_url", QBO_AUTHORIZE_URL, required=False)
                           or QBO_AUTHORIZE_URL),
            access_token=self.text(q, s, "access_token", required=False,
                                   expected="a non-empty string or null"),
            access_token_expires_at=self.number(q, s, "access_token_expires_at"))

    def billcom(self, b):
        s = "billcom"
        return BillComAccount(
            base_url=self.url(b, s, "base_url", BILLCOM_PRODUCTION),
            dev_key=self.text(b, s, "dev_key", expected="the developer key (a non-empty string)"),
            username=self.text(b, s, "username", expected="the sign-in user name (a non-empty string)"),
            password=self.text(b, s, "password", expected="the sign-in password (a non-empty string)"),
            organization_id=self.text(b, s, "organization_id",
                                      expected="the organization id (a non-empty string)"))

    def facts(self, f):
        s = "facts"
        return OrgFacts(signup_date=self.date(f, s, "signup_date"), start_date=self.date(f, s, "start_date"),
                        under_accountant_console=self.boolean(f, s, "under_accountant_console"))

    def settings(self, st):
        s = "settings"
        ids = {name: self.text(st, s, name, required=False, numbers=True, expected=_ID)
               for name in ("bank_account_id", "deposit_account_id", "ap_account_id", "ar_account_id")}
        master = st.get("master_side")
        if master not in (None, "qbo", "billcom"):
            self.fail("settings.master_side", f"{_shown(master)} is not a side", 'null, "qbo" or "billcom"')
        chosen = st.get("object_types")
        expected_type = "one of " + ", ".join(OBJECT_TYPES)
        if chosen is not None:
            if not isinstance(chosen, (list, tuple)):
                self.fail("settings.object_types", f"is {_kind(chosen)}",
                          "a list of object types, or null for every type")
            for n, otype in enumerate(chosen):
                if otype not in OBJECT_TYPES:
                    self.fail(f"settings.object_types[{n}]", f"{_shown(otype)} is not an object type",
                              expected_type)
            chosen = tuple(chosen) or None
        excluded = st.get("excluded") or ()
        if not isinstance(excluded, (list, tuple)) or not all(
                isinstance(e, str) and len(e.split("|")) == 3 and e.split("|")[1] in ("qbo", "billcom")
                for e in excluded):
            self.fail("settings.excluded", "is not a list of records",
                      'a list of "<object type>|<qbo or billcom>|<id>"')
        masters = st.get("record_masters") or {}
        if not isinstance(masters, dict) or not all(
                isinstance(k, str) and len(k.split("|")) == 2 and v in ("qbo", "billcom") for k, v in masters.items()):
            self.fail("settings.record_masters", "is not a map of records to sides",
                      '{"<object type>|<QuickBooks id>": "qbo" or "billcom"}')
        return SyncSettings(**ids, sync_only_approved_bills=self.boolean(st, s, "sync_only_approved_bills"),
                            master_side=master, object_types=chosen, excluded=tuple(excluded),
                            record_masters=dict(masters),
                            billcom_v2_bulk=self.boolean(st, s, "billcom_v2_bulk"))
