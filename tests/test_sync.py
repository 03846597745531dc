import logging
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SyncCase


@tagged("post_install", "-at_install")
class TestSync(SyncCase):

    def test_cron_end_to_end(self):
        """The daily scheduled action syncs every connection with automatic sync on:
        records appear on both sandboxes, links and a logged run appear in Odoo."""
        idle = self.create_connection(name="Manual only", auto_sync=False)
        cron = self.env.ref("billcom_qbo_sync.ir_cron_daily_sync")
        with self.enter_registry_test_mode():
            self.assertIs(cron.method_direct_trigger(), True)

        run = self.connection.last_run_id
        self.assertRunFinished(run, trigger="cron")
        self.assertEqual(self.connection.last_sync, run.ended)
        self.assertFalse(idle.run_ids, "a connection with automatic sync off is left alone")

        # QuickBooks -> Bill.com: the unpaid bill NL-1001 is now in Bill.com
        numbers = {b["invoice"]["invoiceNumber"] for b in self.billcom_sb.all("bills")}
        self.assertIn("NL-1001", numbers)
        self.assertLinked("Bill", "NL-1001")
        # Bill.com -> QuickBooks: the approved bill AP-778 is now in QuickBooks
        self.assertLinked("Bill", "AP-778")
        self.assertTrue(run.line_ids)
        self.assertTrue(run.summary)
        self.assertGreater(run.write_count, 0)
        # the rules are logged with their codes
        self.assertIn("paid_in_qbo", run.line_ids.mapped("rule_code"))
        # the run ends with the tie-out of both books, shown on the connection
        self.assertTrue(run.books_agree, run.tie_out_verdict)
        self.assertTrue(run.tie_out_verdict.startswith("Books agree: "), run.tie_out_verdict)
        self.assertIn(run.tie_out_verdict, run.message)
        self.assertEqual(self.connection.last_tie_out, run.tie_out_verdict)

        # the next call the same day finds nothing due
        with self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertEqual(self.connection.last_run_id, run)

    def test_run_shows_the_class_tracking_it_decided_with(self):
        """The engine reads QuickBooks' class-tracking preferences itself; a run
        brings the QuickBooks company form (and the connection) up to date with them."""
        qbo_company = self.connection.qbo_company_id
        self.assertFalse(qbo_company.class_tracking_per_line)
        self.qbo_sb.set_preferences(ClassTrackingPerTxn=True, ClassTrackingPerTxnLine=True)
        self.assertRunFinished(self.run_now())
        self.assertTrue(qbo_company.class_tracking_per_line)
        self.assertTrue(qbo_company.class_tracking_per_txn)
        self.assertTrue(self.connection.class_tracking_per_line)
        self.assertEqual(qbo_company.company_name, self.qbo_sb.company_name)

    def test_preview_writes_nothing(self):
        with self.new_cursor() as env:
            wizard = self.preview(env)
            self.assertEqual(wizard.state, "preview")
            self.assertTrue(wizard.line_ids)
            self.assertTrue(wizard.summary)
            self.assertGreater(wizard.write_count, 0)
            self.assertIn("paid_in_qbo", wizard.line_ids.mapped("rule_code"))
        self.assertNothingWritten("a preview sends no write to either side")
        self.assertTrue(self.qbo_sb.request_log(), "the preview did read QuickBooks")
        self.assertFalse(self.env["billcom_qbo.run"].search([("connection_id", "=", self.connection.id)]))
        self.assertFalse(self.env["billcom_qbo.link"].search([("connection_id", "=", self.connection.id)]))

    def test_run_does_what_preview_showed(self):
        with self.new_cursor() as env:
            wizard = self.preview(env)
            planned = self.line_keys(wizard.line_ids)
            action = wizard.action_sync_now()
        run = self.env["billcom_qbo.run"].browse(action["res_id"])
        self.assertEqual(action["res_model"], "billcom_qbo.run")
        self.assertRunFinished(run, trigger="manual")
        self.assertEqual(self.line_keys(run.line_ids), planned)

        # a second preview finds nothing left to write
        with self.new_cursor() as env:
            again = self.preview(env)
            self.assertFalse(again.line_ids.filtered(lambda l: l.action in ("create", "update")))

    def test_preview_limited_to_object_types(self):
        with self.new_cursor() as env:
            wizard = self.preview(env, object_types=["vendor", "customer"])
            self.assertTrue(wizard.line_ids)
            self.assertEqual(set(wizard.line_ids.mapped("object_type")), {"vendor", "customer"})
        self.assertNothingWritten()

    def test_interrupted_run_resumes(self):
        """A run stopped between batches (no time left) is marked interrupted, and
        the next run finishes the job without writing anything twice."""
        cron_model = type(self.env["ir.cron"])
        original = cron_model._commit_progress

        def no_time_left(cron, processed=0, *, remaining=None, deactivate=False):
            original(cron, processed, remaining=remaining, deactivate=deactivate)
            return 0.0

        with patch.object(cron_model, "_commit_progress", no_time_left), self.new_cursor() as env:
            first = env["billcom_qbo.connection"].browse(self.connection.id)._run_sync("manual")
            first_state, first_writes = first.state, first.write_count
        self.assertEqual(first_state, "interrupted")
        self.assertGreater(first_writes, 0)
        self.assertFalse(self.connection.last_sync, "an interrupted run is not a completed sync")
        self.assertTrue(self.connection._is_due(self.connection.last_run_id.ended),
                        "an interrupted connection is due again at once")

        self.assertRunFinished(self.run_now())

        numbers = [b["invoice"]["invoiceNumber"] for b in self.billcom_sb.all("bills")]
        self.assertEqual(len(numbers), len(set(numbers)), "no bill was created twice")
        docs = [b.get("DocNumber") for b in self.qbo_sb.all("Bill")]
        self.assertEqual(len(docs), len(set(docs)), "no bill was created twice")

    # ----------------------------------------------------------------- lock
    def test_live_run_blocks_a_second_run(self):
        """While a run holds the connection (across its commits), another one
        refuses with a clear message and writes nothing."""
        holder = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "cron", "state": "running",
        })
        self.connection.running_run_id = holder
        self.env.flush_all()
        with self.assertRaisesRegex(UserError, "A sync is already running for this connection"):
            with self.new_cursor() as env:
                wizard = env["billcom_qbo.sync_wizard"].create({"connection_id": self.connection.id})
                wizard.action_sync_now()
        self.assertNothingWritten()
        self.assertEqual(self.connection.run_ids, holder)

    def test_stale_run_is_taken_over(self):
        """A run whose worker died (no sign of life for long) does not block forever."""
        holder = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "cron", "state": "running",
            "started": "2020-01-01 00:00:00", "heartbeat": "2020-01-01 00:00:00",
        })
        self.connection.running_run_id = holder
        self.env.flush_all()
        self.assertRunFinished(self.run_now())
        self.assertEqual(holder.state, "interrupted")

    def test_cron_skips_a_held_connection(self):
        holder = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "manual", "state": "running",
        })
        self.connection.running_run_id = holder
        self.env.flush_all()
        cron = self.env.ref("billcom_qbo_sync.ir_cron_daily_sync")
        with self.enter_registry_test_mode():
            self.assertIs(cron.method_direct_trigger(), True)
        self.assertEqual(self.connection.run_ids, holder)
        self.assertNothingWritten()

    def test_cron_logs_a_connection_that_cannot_start(self):
        """An incomplete connection fails on its own run; the others still sync."""
        broken = self.create_connection(name="Broken")
        broken.qbo_company_id.sudo().local_base_url = False
        self.env.flush_all()
        cron = self.env.ref("billcom_qbo_sync.ir_cron_daily_sync")
        with self.enter_registry_test_mode():
            self.assertIs(cron.method_direct_trigger(), True)
        self.assertRunFailed(broken.last_run_id)
        self.assertIn("local API URL", broken.last_run_id.message)
        self.assertRunFinished(self.connection.last_run_id, trigger="cron")

    # --------------------------------------------------------- failures
    def test_auth_error_keeps_secrets_out(self):
        """A run that QuickBooks refuses (revoked authorization) fails with a message
        saying what to do; no token, password, developer key or client secret
        appears in the run, its lines or the log."""
        self.connection.qbo_company_id.sudo().write({"refresh_token": "RT-revoked-0123456789abcdef",
                                                     "access_token": False})
        self.env.flush_all()
        secrets = self.secret_values(self.connection) | {"RT-revoked-0123456789abcdef"}
        with self.assertLogs(level=logging.DEBUG) as logs:
            run = self.run_now()
        self.assertRunFailed(run)
        self.assertEqual(self.connection.qbo_company_id.state, "reconnect")
        stored = [run.message, run.summary]
        for line in run.line_ids:
            stored += [line.record, line.message, line.remote_error, line.diff]
        self.assertNoSecretIn(stored + logs.output, secrets)
        self.assertNothingWritten()

    def test_billcom_error_is_logged_on_the_run(self):
        self.connection.billcom_org_id.sudo().password = "wrong-password-123"
        self.env.flush_all()
        run = self.run_now()
        self.assertRunFailed(run)
        self.assertNoSecretIn([run.message], {"wrong-password-123"})
