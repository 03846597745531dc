"""A connection's configuration: where both accounts are, the facts the rules
need, and the settings Bill.com's own sync offers.

Loaded from a JSON file for the command line (``python -m sync_engine sandbox
--write-config`` writes one) or built by the Odoo add-on from its records.
"""
import datetime
import json
from dataclasses import asdict, dataclass, field, fields

QBO_PRODUCTION = "https://quickbooks.api.intuit.com"
QBO_SANDBOX = "https://sandbox-quickbooks.api.intuit.com"
QBO_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
QBO_REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
QBO_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
BILLCOM_PRODUCTION = "https://gateway.prod.bill.com/connect"
BILLCOM_SANDBOX = "https://gateway.stage.bill.com/connect"

SECRET_FIELDS = ("client_secret", "refresh_token", "access_token", "dev_key", "password")

# Object types in dependency order: lists, then names, then documents, then payments.
OBJECT_TYPES = (
    "account", "class", "location", "item", "term",
    "vendor", "customer",
    "bill", "invoice", "vendor_credit", "credit_memo",
    "bill_payment", "received_payment",
)


@dataclass
class QBOAccount:
    base_url: str
    realm_id: str
    client_id: str
    client_secret: str
    refresh_token: str = None
    token_url: str = QBO_TOKEN_URL
    revoke_url: str = QBO_REVOKE_URL
    authorize_url: str = QBO_AUTHORIZE_URL
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
    def from_dict(cls, data):
        facts = dict(data["facts"])
        for key in ("signup_date", "start_date"):
            if isinstance(facts.get(key), str):
                facts[key] = datetime.date.fromisoformat(facts[key])
        settings = dict(data.get("settings") or {})
        if settings.get("object_types"):
            unknown = set(settings["object_types"]) - set(OBJECT_TYPES)
            if unknown:
                raise ValueError(f"settings.object_types: unknown object types {sorted(unknown)}")
            settings["object_types"] = tuple(settings["object_types"])
        return cls(
            qbo=QBOAccount(**_known(QBOAccount, data["qbo"])),
            billcom=BillComAccount(**_known(BillComAccount, data["billcom"])),
            facts=OrgFacts(**_known(OrgFacts, facts)),
            settings=SyncSettings(**_known(SyncSettings, settings)),
            name=data.get("name", "connection"),
            store_path=data.get("store_path"),
        )

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as handle:
            return cls.from_dict(json.load(handle))

    def save(self, path):
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle, indent=2)

    def secrets(self):
        """Every secret value, so logs and run lines can be scrubbed of them."""
        values = [getattr(self.qbo, n, None) for n in SECRET_FIELDS]
        values += [getattr(self.billcom, n, None) for n in SECRET_FIELDS]
        return [v for v in values if v]


def _known(cls, data):
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
