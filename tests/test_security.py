import datetime

from odoo import fields
from odoo.exceptions import AccessError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import tagged

from .common import SyncCase

QBO_SECRETS = ["client_id", "client_secret", "access_token", "refresh_token"]
BILLCOM_SECRETS = ["dev_key", "password"]


@tagged("post_install", "-at_install")
class TestSecurity(SyncCase):

    def setUp(self):
        super().setUp()
        self.other_company = self.env["res.company"].create({"name": "Other Co"})
        self.other_connection = self.create_connection(company=self.other_company, name="Other Co sync")
        self.sync_user = self.make_sync_user()
        self.manager = self.make_sync_user(login="sync_manager", groups="billcom_qbo_sync.group_sync_manager")
        self.env.flush_all()

    def test_sync_user_cannot_read_secrets(self):
        for user in (self.sync_user, self.manager):
            qbo = self.connection.qbo_company_id.with_user(user)
            org = self.connection.billcom_org_id.with_user(user)
            qbo.read(["name", "state", "refresh_token_expires_at"])
            for name in QBO_SECRETS:
                with self.assertRaises(AccessError, msg=name):
                    qbo.read([name])
            for name in BILLCOM_SECRETS:
                with self.assertRaises(AccessError, msg=name):
                    org.read([name])
            # reading everything quietly leaves the secrets out
            everything = qbo.read()[0]
            self.assertFalse(set(QBO_SECRETS) & set(everything))
            self.assertFalse(set(BILLCOM_SECRETS) & set(org.read()[0]))
            with self.assertRaises(AccessError):
                qbo.search_read([], ["refresh_token"])
            with self.assertRaises(AccessError):
                self.connection.with_user(user).read(["cursors"])

    def test_secrets_not_copied(self):
        copy = self.connection.qbo_company_id.sudo().copy()
        for name in QBO_SECRETS[1:]:
            self.assertFalse(copy[name], name)
        org_copy = self.connection.billcom_org_id.sudo().copy({"organization_id": "other"})
        for name in BILLCOM_SECRETS:
            self.assertFalse(org_copy[name], name)

    def test_other_company_invisible(self):
        Connection = self.env["billcom_qbo.connection"].with_user(self.sync_user)
        self.assertEqual(Connection.search([]), self.connection)
        with self.assertRaises(AccessError):
            Connection.browse(self.other_connection.id).read(["name"])
        self.assertFalse(self.env["billcom_qbo.qbo_company"].with_user(self.sync_user).search(
            [("id", "=", self.other_connection.qbo_company_id.id)]))
        run = self.env["billcom_qbo.run"].create({"connection_id": self.other_connection.id, "trigger": "manual",
                                                  "state": "done"})
        self.env["billcom_qbo.run_line"].create({"run_id": run.id, "object_type": "bill", "action": "skip"})
        self.env["billcom_qbo.link"].create({"connection_id": self.other_connection.id, "object_type": "vendor",
                                             "qbo_id": "1", "billcom_id": "00901"})
        for model in ("billcom_qbo.run", "billcom_qbo.run_line", "billcom_qbo.link"):
            self.assertFalse(self.env[model].with_user(self.sync_user).search([]), model)

    def test_sync_user_cannot_configure(self):
        with self.assertRaises(AccessError):
            self.connection.with_user(self.sync_user).write({"auto_sync": False})
        with self.assertRaises(AccessError):
            self.connection.qbo_company_id.with_user(self.sync_user).action_connect()
        with self.assertRaises(AccessError):
            self.connection.billcom_org_id.with_user(self.sync_user).action_test_connection()
        self.connection.with_user(self.manager).write({"auto_sync": False})

    def test_views_load_for_a_sync_user(self):
        for model in ("billcom_qbo.connection", "billcom_qbo.qbo_company", "billcom_qbo.billcom_org",
                      "billcom_qbo.run", "billcom_qbo.run_line", "billcom_qbo.link", "billcom_qbo.sync_wizard"):
            views = self.env[model].with_user(self.sync_user).get_views([(False, "form"), (False, "list"),
                                                                          (False, "search")])
            fields_seen = set(views["models"][model]["fields"])
            self.assertFalse(fields_seen & set(QBO_SECRETS + BILLCOM_SECRETS + ["cursors", "retries"]), model)

    def test_plain_user_sees_nothing(self):
        plain = self.make_sync_user(login="plain", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.env["billcom_qbo.connection"].with_user(plain).search([])

    def test_sync_user_can_preview_and_run(self):
        with self.new_cursor(user=self.sync_user) as env:
            wizard = self.preview(env)
            self.assertTrue(wizard.line_ids)
            action = wizard.action_sync_now()
        self.work_queue()
        run = self.env["billcom_qbo.run"].browse(action["res_id"])
        self.assertEqual(run.user_id, self.sync_user)
        self.assertRunFinished(run, trigger="manual")

    def test_neutralize(self):
        queries = list(get_neutralization_queries(["billcom_qbo_sync"]))
        self.assertEqual(len(queries), 1, "data/neutralize.sql is picked up by Odoo")
        self.env.flush_all()
        self.env.cr.execute(queries[0])
        self.env.invalidate_all()
        connections = self.connection | self.other_connection
        self.assertEqual(connections.mapped("auto_sync"), [False, False])
        for qbo in connections.qbo_company_id.sudo():
            for name in ("client_secret", "access_token", "refresh_token"):
                self.assertFalse(qbo[name], name)
            self.assertEqual(qbo.state, "draft")
        for org in connections.billcom_org_id.sudo():
            self.assertFalse(org.password)
            self.assertFalse(org.dev_key)

    # --------------------------------------------------------- warnings
    def test_token_warning(self):
        qbo = self.connection.qbo_company_id
        now = fields.Datetime.now()
        qbo.refresh_token_expires_at = now + datetime.timedelta(days=90)
        qbo.refresh_token_hard_expires_at = now + datetime.timedelta(days=900)
        self.assertFalse(qbo.token_warning)
        qbo.refresh_token_hard_expires_at = now + datetime.timedelta(days=20)
        self.assertIn("reconnect", qbo.token_warning)
        qbo.refresh_token_expires_at = now - datetime.timedelta(days=1)
        self.assertIn("expired", qbo.token_warning)
        self.assertEqual(self.connection.token_warning, qbo.token_warning)

    def test_rule_fields(self):
        org = self.connection.billcom_org_id
        self.assertEqual(org.payment_sync_mode, "two_way")
        self.assertTrue(org.credit_memos_sync)
        org.write({"signup_date": datetime.date(2017, 9, 14), "start_date": datetime.date(2019, 1, 14)})
        self.assertEqual(org.payment_sync_mode, "one_way")
        self.assertIn("before 2017-09-15", org.payment_sync_explanation)
        self.assertFalse(org.credit_memos_sync)
        self.assertIn("before 2019-01-15", org.credit_memos_explanation)
        org.write({"signup_date": datetime.date(2017, 9, 15), "start_date": datetime.date(2019, 1, 15),
                   "under_accountant_console": True})
        self.assertEqual(org.payment_sync_mode, "one_way")
        self.assertIn("accountant console", org.payment_sync_explanation)
        self.assertTrue(org.credit_memos_sync)
