"""Shared fixtures: fresh QuickBooks and Bill.com sandboxes on 127.0.0.1 for
every test (threads, stopped in cleanups) and the Odoo records pointing at them."""
import contextlib
import datetime

from odoo.tests import TransactionCase, new_test_user

SIGNUP_DATE = datetime.date(2020, 3, 2)   # two-way payments, credit memos sync


class _Offline:
    """Stands in for a sandbox in tests that never reach the network."""

    def __init__(self, **values):
        self.__dict__.update(values)

    def all(self, collection):
        return self.records.get(collection, [])


OFFLINE_QBO = _Offline(
    base_url="http://127.0.0.1:9", token_url="http://127.0.0.1:9/token",
    authorize_url="http://127.0.0.1:9/authorize", revoke_url="http://127.0.0.1:9/revoke",
    realm_id="9130350000000001", client_id="offline-client", client_secret="offline-client-secret",
    initial_refresh_token="offline-refresh-token",
    records={"Account": [
        {"Id": "35", "Name": "Checking", "AccountType": "Bank", "AccountSubType": "Checking",
         "Classification": "Asset"},
        {"Id": "4", "Name": "Undeposited Funds", "AccountType": "Other Current Asset",
         "AccountSubType": "UndepositedFunds", "Classification": "Asset"},
        {"Id": "33", "Name": "Accounts Payable (A/P)", "AccountType": "Accounts Payable",
         "AccountSubType": "AccountsPayable", "Classification": "Liability"},
        {"Id": "84", "Name": "Accounts Receivable (A/R)", "AccountType": "Accounts Receivable",
         "AccountSubType": "AccountsReceivable", "Classification": "Asset"},
    ]})
OFFLINE_BILLCOM = _Offline(
    base_url="http://127.0.0.1:9", organization_id="00801OFFLINE", username="offline@example.com",
    password="offline-password", dev_key="offline-dev-key", records={})


class SandboxMixin:
    """Needs ``self.env``. Call ``self.start_sandboxes()`` first."""

    def start_sandboxes(self, seed=True):
        from ..sync_engine.sandbox import Sandboxes  # noqa: PLC0415
        from ..sync_engine.sandbox.seed import seed_demo  # noqa: PLC0415
        self.sandboxes = Sandboxes().start()
        self.addCleanup(self.sandboxes.stop)
        self.qbo_sb, self.billcom_sb = self.sandboxes.qbo, self.sandboxes.billcom
        if seed:
            seed_demo(self.sandboxes)
        self.clear_sandbox_logs()
        return self.sandboxes

    def clear_sandbox_logs(self):
        self.qbo_sb.clear_log()
        self.billcom_sb.clear_log()

    def sandbox_writes(self):
        return self.qbo_sb.writes() + self.billcom_sb.writes()

    # ------------------------------------------------------------ records
    def create_qbo_company(self, env=None, company=None, **vals):
        env = env or self.env
        q = getattr(self, "qbo_sb", None) or OFFLINE_QBO
        values = {
            "name": "Northwind (QuickBooks)",
            "company_id": (company or env.company).id,
            "environment": "local",
            "local_base_url": q.base_url,
            "local_token_url": q.token_url,
            "local_authorize_url": q.authorize_url,
            "local_revoke_url": q.revoke_url,
            "realm_id": q.realm_id,
            "client_id": q.client_id,
            "client_secret": q.client_secret,
            "refresh_token": q.initial_refresh_token,
            "state": "connected",
        }
        values.update(vals)
        qbo_company = env["billcom_qbo.qbo_company"].sudo().create(values)
        # the chart of accounts as "Refresh QuickBooks accounts" would cache it
        rows = [{"id": a["Id"], "name": a.get("FullyQualifiedName") or a["Name"],
                 "account_type": a.get("AccountType"), "account_sub_type": a.get("AccountSubType"),
                 "classification": a.get("Classification"), "active": a.get("Active", True)}
                for a in q.all("Account")]
        env["billcom_qbo.qbo_account"].sudo()._replace_accounts(qbo_company, rows)
        return qbo_company

    def create_billcom_org(self, env=None, company=None, **vals):
        env = env or self.env
        b = getattr(self, "billcom_sb", None) or OFFLINE_BILLCOM
        values = {
            "name": "Northwind (Bill.com)",
            "company_id": (company or env.company).id,
            "environment": "local",
            "local_base_url": b.base_url,
            "organization_id": b.organization_id,
            "username": b.username,
            "password": b.password,
            "dev_key": b.dev_key,
            "signup_date": SIGNUP_DATE,
            "start_date": SIGNUP_DATE,
        }
        values.update(vals)
        return env["billcom_qbo.billcom_org"].sudo().create(values)

    def create_connection(self, env=None, company=None, qbo_company=None, billcom_org=None, **vals):
        env = env or self.env
        qbo_company = qbo_company or self.create_qbo_company(env, company)
        billcom_org = billcom_org or self.create_billcom_org(env, company)
        accounts = {a.name: a for a in qbo_company.account_ids}

        def account(name):
            return accounts[name].id if name in accounts else False
        values = {
            "name": "Northwind",
            "company_id": (company or env.company).id,
            "qbo_company_id": qbo_company.id,
            "billcom_org_id": billcom_org.id,
            "auto_sync": True,
            "bank_account_id": account("Checking"),
            "deposit_account_id": account("Undeposited Funds"),
            "ap_account_id": account("Accounts Payable (A/P)"),
            "ar_account_id": account("Accounts Receivable (A/R)"),
        }
        values.update(vals)
        return env["billcom_qbo.connection"].sudo().create(values)

    def secret_values(self, connection):
        """Every secret of a connection, with the sandboxes' current tokens."""
        qbo = connection.qbo_company_id.sudo()
        org = connection.billcom_org_id.sudo()
        values = {qbo.client_secret, qbo.refresh_token, qbo.access_token, org.password, org.dev_key,
                  self.qbo_sb.client_secret, self.qbo_sb.initial_refresh_token,
                  self.billcom_sb.password, self.billcom_sb.dev_key}
        return {v for v in values if v}


class SyncCase(SandboxMixin, TransactionCase):
    """A TransactionCase with sandboxes and one connection per test.

    The code under test commits as it goes (links are kept the moment their
    write succeeds), so whatever calls the engine runs through ``new_cursor``:
    a cursor that lives inside the test's transaction."""

    def setUp(self):
        super().setUp()
        self.start_sandboxes()
        self.connection = self.create_connection()
        self.env.flush_all()

    @contextlib.contextmanager
    def new_cursor(self, user=None):
        """An environment on a fresh test cursor; its commits stay inside the test."""
        with self.enter_registry_test_mode(), self.registry.cursor() as cr:
            env = self.env(cr=cr, user=user or self.env.user)
            yield env
        self.env.invalidate_all()

    def make_sync_user(self, login="sync_user", company=None, groups="billcom_qbo_sync.group_sync_user"):
        company = company or self.env.company
        return new_test_user(self.env, login=login, groups=groups, company_id=company.id,
                             company_ids=[(6, 0, company.ids)])

    def preview(self, env, connection=None, object_types=None):
        wizard = env["billcom_qbo.sync_wizard"].create({
            "connection_id": (connection or self.connection).id,
            "object_type_ids": [(6, 0, env["billcom_qbo.object_type"].search(
                [("code", "in", object_types)]).ids)] if object_types else [],
        })
        wizard.action_preview()
        return wizard

    @staticmethod
    def line_keys(lines):
        return {(l.object_type, l.direction, l.action, l.record) for l in lines}
