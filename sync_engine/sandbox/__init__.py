"""Local QBO and Bill.com servers on 127.0.0.1 that speak the real wire formats.

    with Sandboxes() as sb:
        config = sb.connection_config(store_path=":memory:")
        ...

``info()`` is the JSON object the command line prints first, so scripts can
find both servers and their credentials.
"""
import datetime

from ..config import BillComAccount, ConnectionConfig, OrgFacts, QBOAccount, SyncSettings
from .billcom import BillComSandbox
from .qbo import QBOSandbox

DEMO_FACTS = OrgFacts(signup_date=datetime.date(2020, 3, 2), start_date=datetime.date(2020, 3, 2),
                      under_accountant_console=False)


class Sandboxes:
    def __init__(self, qbo_port=0, billcom_port=0, latency=0.0, clock=None, qbo_options=None,
                 billcom_options=None):
        self.qbo = QBOSandbox(port=qbo_port, latency=latency, clock=clock, **(qbo_options or {}))
        self.billcom = BillComSandbox(port=billcom_port, latency=latency, clock=clock, **(billcom_options or {}))

    def start(self):
        self.qbo.start()
        self.billcom.start()
        return self

    def stop(self):
        self.qbo.stop()
        self.billcom.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def info(self):
        q, b = self.qbo, self.billcom
        return {
            "qbo": {"base_url": q.base_url, "token_url": q.token_url, "realm_id": q.realm_id,
                    "client_id": q.client_id, "client_secret": q.client_secret,
                    "refresh_token": q.initial_refresh_token},
            "billcom": {"base_url": b.base_url, "dev_key": b.dev_key, "username": b.username,
                        "password": b.password, "organization_id": b.organization_id},
        }

    def qbo_account_id(self, name):
        """Id of a QBO account by name (the default accounts a new company has)."""
        for account in self.qbo.all("Account"):
            if account["Name"] == name:
                return account["Id"]
        return None

    def default_settings(self, **overrides):
        settings = SyncSettings(
            bank_account_id=self.qbo_account_id("Checking"),
            deposit_account_id=self.qbo_account_id("Undeposited Funds"),
            ap_account_id=self.qbo_account_id("Accounts Payable (A/P)"),
            ar_account_id=self.qbo_account_id("Accounts Receivable (A/R)"))
        for key, value in overrides.items():
            setattr(settings, key, value)
        return settings

    def connection_config(self, facts=None, settings=None, store_path=None, name="sandbox"):
        """A ConnectionConfig pointing at these servers, with fresh credentials."""
        q, b = self.qbo, self.billcom
        return ConnectionConfig(
            qbo=QBOAccount(base_url=q.base_url, realm_id=q.realm_id, client_id=q.client_id,
                           client_secret=q.client_secret, refresh_token=q.initial_refresh_token,
                           token_url=q.token_url, revoke_url=q.revoke_url, authorize_url=q.authorize_url),
            billcom=BillComAccount(base_url=b.base_url, dev_key=b.dev_key, username=b.username,
                                   password=b.password, organization_id=b.organization_id),
            facts=facts or DEMO_FACTS,
            settings=settings or self.default_settings(),
            name=name, store_path=store_path)

    def state(self):
        """Both sides' comparable state (no volatile fields)."""
        return {"qbo": self.qbo.snapshot(), "billcom": self.billcom.snapshot()}
