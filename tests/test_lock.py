import datetime
import logging
from unittest.mock import patch

from odoo import api, fields
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase, get_db_name, tagged

from ..models.engine import ALREADY_RUNNING

UNREACHABLE = "http://127.0.0.1:9"  # never contacted: the lock refuses first


@tagged("post_install", "-at_install")
class TestRowLock(TransactionCase):
    """Two transactions on one connection: a real second database connection
    holds the connection's row lock, as a running sync in another worker does.

    The row must be visible to that second connection, so this class commits
    one connection before its own transaction starts and deletes it at the end."""

    @classmethod
    def setUpClass(cls):
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            qbo = env["billcom_qbo.qbo_company"].create({
                "name": "Lock test (QuickBooks)", "company_id": company.id, "environment": "local",
                "local_base_url": UNREACHABLE, "realm_id": "1", "client_id": "id", "client_secret": "secret",
                "refresh_token": "rt", "state": "connected"})
            org = env["billcom_qbo.billcom_org"].create({
                "name": "Lock test (Bill.com)", "company_id": company.id, "environment": "local",
                "local_base_url": UNREACHABLE, "organization_id": "org", "username": "u", "password": "p",
                "dev_key": "k", "signup_date": datetime.date(2020, 1, 1), "start_date": datetime.date(2020, 1, 1)})
            connection = env["billcom_qbo.connection"].create({
                "name": "Lock test", "company_id": company.id, "qbo_company_id": qbo.id,
                "billcom_org_id": org.id, "auto_sync": True})
            cls.committed = (connection.id, qbo.id, org.id)

        def drop():
            with registry.cursor() as cr:
                env = api.Environment(cr, api.SUPERUSER_ID, {})
                conn_id, qbo_id, org_id = cls.committed
                env["billcom_qbo.connection"].browse(conn_id).unlink()
                env["billcom_qbo.qbo_company"].browse(qbo_id).unlink()
                env["billcom_qbo.billcom_org"].browse(org_id).unlink()
        # registered before the test transaction exists, so it runs after it is closed
        cls.addClassCleanup(drop)
        super().setUpClass()
        cls.connection = cls.env["billcom_qbo.connection"].browse(cls.committed[0])

    def hold_row_lock(self):
        """A second, real transaction locking the connection's row."""
        other = Registry(get_db_name()).cursor()
        self.addCleanup(other.close)
        self.addCleanup(other.rollback)
        other.execute("SELECT id FROM billcom_qbo_connection WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                      [self.connection.id])
        # fail instead of hanging if the code under test ever waits on that lock
        self.env.cr.execute("SET LOCAL lock_timeout = '10s'")
        return other

    def test_manual_run_refused_while_row_locked(self):
        self.hold_row_lock()
        wizard = self.env["billcom_qbo.sync_wizard"].create({"connection_id": self.connection.id})
        with self.assertRaisesRegex(UserError, ALREADY_RUNNING):
            wizard.action_sync_now()
        self.assertFalse(self.env["billcom_qbo.run"].search([("connection_id", "=", self.connection.id)]),
                         "nothing was written")

    def test_cron_skips_a_locked_connection(self):
        self.assertTrue(self.connection.auto_sync)
        self.assertTrue(self.connection._is_due(fields.Datetime.now()))
        self.hold_row_lock()
        cron_model = type(self.env["ir.cron"])
        with patch.object(cron_model, "_commit_progress", lambda *a, **k: float("inf")), \
                self.assertLogs("odoo.addons.billcom_qbo_sync.models.connection", logging.INFO) as logs:
            self.env["billcom_qbo.connection"]._cron_sync()
        self.assertTrue(any(ALREADY_RUNNING in line for line in logs.output), logs.output)
        self.assertFalse(self.env["billcom_qbo.run"].search([("connection_id", "=", self.connection.id)]))
