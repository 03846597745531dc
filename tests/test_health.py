"""What a finance team sees of a connection's health and set-up."""
import datetime

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged

from .common import SandboxMixin


@tagged("post_install", "-at_install")
class TestHealth(SandboxMixin, TransactionCase):

    def setUp(self):
        super().setUp()
        self.connection = self.create_connection()

    def test_daily_sync_needs_the_accounts(self):
        with self.assertRaisesRegex(ValidationError, "bank account for payments"):
            self.create_connection(name="Incomplete", bank_account_id=False)
        manual = self.create_connection(name="Manual only", auto_sync=False, ap_account_id=False,
                                        ar_account_id=False)
        self.assertIn("accounts payable, accounts receivable", manual.setup_missing)
        self.assertFalse(manual.next_sync, "no next automatic sync before the accounts are chosen")
        self.assertFalse(self.connection.setup_missing)

    def test_manual_sync_preselects_the_only_connection(self):
        others = self.env["billcom_qbo.connection"].search([("id", "!=", self.connection.id)])
        others.write({"active": False})
        wizard = self.env["billcom_qbo.sync_wizard"].new({})
        defaults = self.env["billcom_qbo.sync_wizard"].default_get(["connection_id"])
        self.assertEqual(defaults.get("connection_id"), self.connection.id, wizard)

    def test_waiting_records_and_authorization_countdown(self):
        run = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "manual", "state": "partial",
            "line_ids": [fields.Command.create({"object_type": "bill", "direction": "qbo_to_billcom",
                                                "action": action, "record": f"Bill {action}", "state": state})
                         for action, state in (("conflict", "done"), ("create", "failed"), ("create", "done"),
                                               ("skip", "done"))]})
        self.connection.last_run_id = run
        self.assertEqual(self.connection.waiting_count, 3, "the conflict, the failure and the skip wait on a person")
        self.connection.qbo_company_id.sudo().refresh_token_expires_at = (
            fields.Datetime.now() + datetime.timedelta(days=10, hours=1))
        self.assertEqual(self.connection.authorization_days_left, 10)

    def test_missed_daily_run(self):
        self.connection.last_sync = fields.Datetime.now() - datetime.timedelta(days=2)
        self.assertTrue(self.connection.missed_daily_run)
        self.connection.last_sync = fields.Datetime.now() - datetime.timedelta(hours=3)
        self.assertFalse(self.connection.missed_daily_run)

    def test_todo_when_the_daily_run_fails_twice(self):
        Run = self.env["billcom_qbo.run"]
        first = Run.create({"connection_id": self.connection.id, "trigger": "cron", "state": "failed",
                            "message": "Bill.com refused the sign-in"})
        self.connection._after_run(first)
        self.assertFalse(self.connection.activity_ids, "one failure may be a passing outage")
        second = Run.create({"connection_id": self.connection.id, "trigger": "cron", "state": "failed",
                             "message": "Bill.com refused the sign-in"})
        self.connection._after_run(second)
        todo = self.connection.activity_ids
        self.assertEqual(todo.summary, "Daily sync failed twice")
        self.assertEqual(todo.user_id, self.connection.user_id)
        self.assertIn("Bill.com refused the sign-in", str(todo.note))
        self.connection._after_run(second)
        self.assertEqual(len(self.connection.activity_ids), 1, "not twice for the same trouble")

    def test_todo_before_the_authorization_ends(self):
        self.connection.qbo_company_id.sudo().refresh_token_expires_at = (
            fields.Datetime.now() + datetime.timedelta(days=9))
        self.connection._check_authorization_notice()
        self.assertEqual(self.connection.activity_ids.summary, "Reconnect QuickBooks")

    def test_who_must_reconnect_is_said(self):
        """A refused QuickBooks authorization: a sync manager sees what to press,
        a plain sync user sees which administrator action is needed."""
        from odoo.tests import new_test_user
        user = new_test_user(self.env, login="plain_sync_user", groups="billcom_qbo_sync.group_sync_user")
        manager = new_test_user(self.env, login="sync_manager_2", groups="billcom_qbo_sync.group_sync_manager")
        Connection = self.env["billcom_qbo.connection"]
        as_user = Connection.with_user(user).get_views([(False, "form")])["views"]["form"]["arch"]
        as_manager = Connection.with_user(manager).get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertIn("A Bill.com Sync administrator must", as_user)
        self.assertNotIn("action_connect_qbo", as_user, "no button the user could not use")
        self.assertIn("action_connect_qbo", as_manager)
        self.assertNotIn("A Bill.com Sync administrator must", as_manager)
