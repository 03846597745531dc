"""Shared fixtures: QuickBooks and Bill.com sandboxes on 127.0.0.1 (two
servers per test class, their state started over for every test), the Odoo
records pointing at them, and assertions named after what the add-on promises."""
import contextlib
import datetime

from odoo import api
from odoo.tests import TransactionCase, new_test_user

from ..sync_engine.mapping import QBO_TYPE
from ..sync_engine.sandbox import Sandboxes
from ..sync_engine.sandbox.seed import seed_demo

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
    """Sandboxes for a test class (``LiveSandboxMixin`` starts and resets them;
    without them the records point at an address that answers nothing). Needs ``self.env``."""

    sandboxes = None

    @classmethod
    def start_sandboxes(cls):
        """Both servers, once for the class (stopped after its last test)."""
        cls.sandboxes = Sandboxes().start()
        cls.addClassCleanup(cls.sandboxes.stop)

    def reset_sandboxes(self, seed=True):
        """Fresh state on the running servers (new records, credentials and
        tokens, empty logs), seeded with the demo company unless ``seed`` is false."""
        self.qbo_sb, self.billcom_sb = self.sandboxes.qbo.reset(), self.sandboxes.billcom.reset()
        if seed:
            seed_demo(self.sandboxes)
        self.clear_sandbox_logs()
        return self.sandboxes

    def clear_sandbox_logs(self):
        self.qbo_sb.clear_log()
        self.billcom_sb.clear_log()

    def sandbox_writes(self):
        return self.qbo_sb.writes() + self.billcom_sb.writes()

    # --------------------------------------------------------- assertions
    def assertNothingWritten(self, msg="nothing was written to QuickBooks or Bill.com"):
        self.assertEqual(self.sandbox_writes(), [], msg)

    def assertNoSecretIn(self, texts, secrets=None):
        """None of the connection's secrets (or ``secrets``) appears in ``texts``."""
        secrets = self.secret_values(self.connection) if secrets is None else secrets
        self.assertTrue(secrets, "there are secrets to look for")
        text = "\n".join(str(t) for t in texts if t)
        for secret in secrets:
            self.assertNotIn(secret, text, "a secret was shown or stored")

    def assertNotified(self, action, kind):
        """An action answered with a notification of ``kind`` (success, warning, danger)."""
        self.assertEqual(action["tag"], "display_notification", action)
        self.assertEqual(action["params"]["type"], kind, action["params"]["message"])

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


class LiveSandboxMixin(SandboxMixin):
    """Sandboxes running for the whole test class, their state started over
    for every test: seeded with the demo company unless ``seed_sandboxes`` is false."""

    seed_sandboxes = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.start_sandboxes()

    def setUp(self):
        super().setUp()
        self.reset_sandboxes(seed=self.seed_sandboxes)


class SyncCase(LiveSandboxMixin, TransactionCase):
    """A TransactionCase with seeded sandboxes and one connection per test.

    The code under test commits as it goes (links are kept the moment their
    write succeeds), so whatever calls the engine runs through ``new_cursor``:
    a cursor that lives inside the test's transaction."""

    def setUp(self):
        super().setUp()
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
        self.work_queue(env)
        wizard.invalidate_recordset()
        return wizard

    def work_queue(self, env=None, max_turns=100):
        """What the worker scheduled actions do once woken: turns until no work
        waits. Returns the number of turns that did some work."""
        turns = 0
        with contextlib.ExitStack() as stack:
            if env is None:
                env = stack.enter_context(self.new_cursor())
            Run = env["billcom_qbo.run"].with_user(api.SUPERUSER_ID)
            while Run._waiting_count() and turns < max_turns:
                Run._cron_work()
                turns += 1
            env.invalidate_all()
        self.env.invalidate_all()
        return turns

    def run_now(self, connection=None, user=None):
        """A manual run of the connection, as "Sync now" queues it and the
        workers carry it out; returns the run."""
        with self.new_cursor(user=user) as env:
            run = env["billcom_qbo.connection"].browse((connection or self.connection).id)._queue_sync("manual")
            run_id = run.id
        self.work_queue()
        return self.env["billcom_qbo.run"].browse(run_id)

    @staticmethod
    def line_keys(lines):
        return {(l.object_type, l.direction, l.action, l.record) for l in lines}

    # --------------------------------------------------------- assertions
    def assertRunFinished(self, run, trigger=None):
        """The run went through to the end (some records may have failed) and
        released its connection."""
        self.assertTrue(run, "there is a run")
        self.assertIn(run.state, ("done", "partial"), run.message)
        self.assertTrue(run.ended, "the run is closed")
        self.assertFalse(run.connection_id.running_run_id, "the run released the connection")
        if trigger:
            self.assertEqual(run.trigger, trigger)

    def assertRunFailed(self, run):
        """The run failed with a message and released its connection."""
        self.assertEqual(run.state, "failed", run.message)
        self.assertTrue(run.message, "a failed run says why")
        self.assertFalse(run.connection_id.running_run_id, "the run released the connection")

    def assertLinked(self, qbo_type, number, connection=None):
        """The QuickBooks ``qbo_type`` (``"Bill"``, ``"Invoice"``...) numbered
        ``number`` has exactly one link to a Bill.com record."""
        docs = [d for d in self.qbo_sb.all(qbo_type) if d.get("DocNumber") == number]
        self.assertEqual(len(docs), 1, f"one QuickBooks {qbo_type} {number}")
        link = self.env["billcom_qbo.link"].search([
            ("connection_id", "=", (connection or self.connection).id),
            ("object_type", "=", QBO_TYPE[qbo_type]), ("qbo_id", "=", str(docs[0]["Id"]))])
        self.assertEqual(len(link), 1, f"{qbo_type} {number} is linked once")
        self.assertTrue(link.billcom_id, f"{qbo_type} {number} is linked to a Bill.com record")
        return link

    def assertPlanned(self, lines, record, action, rule_code=None):
        """``record`` is planned (or was done) once, with ``action`` and, when given, ``rule_code``."""
        matching = lines.filtered(lambda l: l.record == record)
        self.assertEqual(matching.mapped("action"), [action], record)
        if rule_code:
            self.assertEqual(matching.mapped("rule_code"), [rule_code], record)
