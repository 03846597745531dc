import logging
import time
from unittest.mock import patch

from odoo import SUPERUSER_ID
from odoo.exceptions import UserError
from odoo.tests import tagged

from ..models import run_worker
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
        queued = self.connection.running_run_id
        self.assertEqual(queued.state, "queued", "the daily action only queues the run for the workers")
        self.assertNothingWritten("the daily action itself calls no remote API")
        self.work_queue()

        run = self.connection.last_run_id
        self.assertEqual(run, queued)
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

    def test_bulk_writes_through_billcom_v2_when_the_connection_asks(self):
        """With "Bulk writes through Bill.com's v2 API" on, the run creates the
        customers and invoices through v2's bulk endpoint, nothing one by one
        through v3, and the tie-out still finds both books agreeing."""
        self.connection.billcom_v2_bulk = True
        run = self.run_now()
        self.assertRunFinished(run)
        self.assertTrue(run.books_agree, run.tie_out_verdict)
        paths = [(r.method, r.path) for r in self.billcom_sb.request_log()]
        self.assertIn(("POST", "/api/v2/Bulk/Crud/Create/Invoice.json"), paths)
        self.assertNotIn(("POST", "/v3/invoices"), paths, "no invoice was created one by one")
        self.assertLinked("Invoice", "1001")

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
            self.clear_sandbox_logs()
            action = wizard.action_sync_now()
        run = self.env["billcom_qbo.run"].browse(action["res_id"])
        self.assertEqual(run.state, "queued")
        self.assertEqual(self.qbo_sb.request_log() + self.billcom_sb.request_log(), [],
                         '"Sync now" calls no remote API in the web request: a worker does')
        self.work_queue()
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

    def test_long_sync_is_carried_out_in_batches(self):
        """A sync longer than one batch goes on batch after batch (each one a
        scheduler turn that ends in time), as one run: nothing is written twice,
        each record is logged once, and the tie-out comes last."""
        with patch.object(run_worker, "batch_deadline", lambda started: time.monotonic()), \
                patch.object(run_worker, "MIN_BATCH_SECONDS", -1):
            with self.new_cursor() as env:
                run_id = env["billcom_qbo.connection"].browse(self.connection.id)._queue_sync("manual").id
            run = self.env["billcom_qbo.run"].browse(run_id)
            with self.new_cursor() as env:
                env["billcom_qbo.run"].with_user(SUPERUSER_ID)._cron_work()
            self.env.invalidate_all()
            self.assertEqual(run.state, "running", "one batch was not enough")
            self.assertFalse(run.batch_open, "between batches no worker holds the run")
            self.assertGreater(run.progress_done, 0)
            self.assertLessEqual(run.progress_done, run.progress_total)
            self.assertGreater(run.progress_written, 0, "what is written so far shows before the end")
            self.assertIn(" records planned so far", run.progress_text)
            self.assertFalse(self.connection.last_sync, "a sync half done is not a completed sync")
            turns = self.work_queue()
        self.assertRunFinished(run)
        self.assertGreater(run.batch_count, 2)
        self.assertGreater(turns, 2)
        self.assertEqual(self.connection.run_ids, run, "one run, whatever the number of batches")
        self.assertTrue(run.books_agree, run.tie_out_verdict)
        keys = [(l.object_type, l.direction, l.qbo_id or l.billcom_id or l.record) for l in run.line_ids]
        self.assertEqual(len(keys), len(set(keys)), "each record is logged once")
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

    def test_live_run_busy_message_names_the_run(self):
        holder = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "cron", "state": "running", "batch_count": 1,
            "progress_done": 12, "progress_total": 40, "stage": "customer: Bill.com create"})
        self.connection.running_run_id = holder
        self.env.flush_all()
        with self.assertRaises(UserError) as caught:
            self.connection._queue_sync("manual")
        self.assertIs(type(caught.exception), UserError, "a plain UserError: the web client shows a dialog")
        message = str(caught.exception)
        self.assertIn(holder.display_name, message)
        self.assertIn("Creating customers in Bill.com, 12 of 40 records planned so far", message)

    def dead_run(self):
        """A run whose worker died mid-batch: its batch is open, nobody holds the connection."""
        holder = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "cron", "state": "running", "batch_open": True,
            "batch_count": 1, "progress_done": 3, "progress_total": 30, "stage": "vendor: Bill.com create"})
        self.connection.running_run_id = holder
        self.env.flush_all()
        return holder

    def test_dead_run_is_taken_over_by_a_person(self):
        """Right after a worker was killed, "Sync now" works: the dead run is
        marked interrupted at the point it reached and the new run resumes."""
        holder = self.dead_run()
        run = self.run_now()
        self.assertRunFinished(run)
        self.assertEqual(holder.state, "interrupted")
        self.assertIn("stopped during batch 1", holder.message)
        self.assertIn("Creating vendors in Bill.com, 3 of 30 records planned so far", holder.message)
        self.assertEqual(run.resumed_run_id, holder)

    def test_dead_run_is_taken_over_by_the_next_worker(self):
        holder = self.dead_run()
        self.work_queue()
        self.assertEqual(holder.state, "interrupted")
        successor = self.connection.last_run_id
        self.assertNotEqual(successor, holder)
        self.assertEqual(successor.resumed_run_id, holder)
        self.assertEqual(successor.trigger, "cron")
        self.assertRunFinished(successor)

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
        self.work_queue()
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

    def test_reconnect_needed_clears_after_a_run_gets_through(self):
        qbo = self.connection.qbo_company_id.sudo()
        qbo.write({"state": "reconnect", "last_error": "QuickBooks refused the refresh token"})
        self.env.flush_all()
        self.assertEqual(self.connection.state, "reconnect")
        self.assertRunFinished(self.run_now())
        self.assertEqual(qbo.state, "connected", "the tokens worked: no reconnect is needed any more")
        self.assertEqual(self.connection.state, "ok")

    def test_billcom_error_is_logged_on_the_run(self):
        """A wrong Bill.com password marks the Bill.com organization, never the
        QuickBooks company; the next run after the fix clears it."""
        org = self.connection.billcom_org_id.sudo()
        good_password = org.password
        org.password = "wrong-password-123"
        self.env.flush_all()
        run = self.run_now()
        self.assertRunFailed(run)
        self.assertNoSecretIn([run.message], {"wrong-password-123"})
        self.assertNotIn("Nothing to do", run.summary or "", "a failed run never says there was nothing to do")
        self.assertEqual(org.state, "error")
        self.assertNotEqual(self.connection.qbo_company_id.state, "reconnect", "QuickBooks was not at fault")

        org.password = good_password
        self.env.flush_all()
        self.assertRunFinished(self.run_now())
        self.assertEqual(org.state, "connected", "the error clears once Bill.com accepts the sign-in")
        self.assertNotEqual(self.connection.state, "error")
