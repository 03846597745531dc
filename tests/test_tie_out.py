import time
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..sync_engine import service as engine_service
from .common import SyncCase


@tagged("post_install", "-at_install")
class TestTieOut(SyncCase):

    def tie_out_lines(self, action):
        return self.env[action["res_model"]].search(action["domain"])

    def test_tie_out_lists_the_differences(self):
        """After a sync both books agree; a bill changed in Bill.com afterwards is
        the one difference the tie-out lists, with both amounts."""
        self.assertRunFinished(self.run_now())
        self.clear_sandbox_logs()

        action = self.connection.action_tie_out()
        self.assertEqual(action["res_model"], "billcom_qbo.tie_out_line")
        self.assertFalse(self.tie_out_lines(action), "no difference after a sync")
        self.assertTrue(self.connection.tie_out_agrees)
        self.assertTrue(self.connection.tie_out_verdict.startswith("Books agree: "),
                        self.connection.tie_out_verdict)
        self.assertTrue(self.connection.tie_out_checked_at)
        self.assertIn(self.connection.tie_out_verdict, action["help"])

        link = self.assertLinked("Bill", "NL-1001")
        self.billcom_sb.user_update("bills", link.billcom_id, {
            "billLineItems": [{"amount": 1200.00, "description": "Framing lumber"}]})
        self.clear_sandbox_logs()

        lines = self.tie_out_lines(self.connection.action_tie_out())
        self.assertEqual(len(lines), 1, lines.mapped("record"))
        self.assertEqual(lines.object_type, "bill")
        self.assertIn("NL-1001", lines.record)
        self.assertEqual(lines.field, "total")
        self.assertEqual((lines.qbo_value, lines.billcom_value), ("1250.00", "1200.00"))
        self.assertEqual((lines.qbo_amount, lines.billcom_amount, lines.gap), (1250.0, 1200.0, 50.0))
        self.assertEqual(lines.qbo_id, link.qbo_id)
        self.assertEqual(lines.billcom_id, link.billcom_id)
        self.assertTrue(lines.cause)
        self.assertFalse(self.connection.tie_out_agrees)
        self.assertTrue(self.connection.tie_out_verdict.startswith("1 difference "),
                        self.connection.tie_out_verdict)
        self.assertNothingWritten("the tie-out only reads")
        # each tie-out replaces the connection's lines
        self.connection.action_tie_out()
        self.assertEqual(self.env["billcom_qbo.tie_out_line"].search_count(
            [("connection_id", "=", self.connection.id)]), 1)

    def test_a_tie_out_out_of_time_says_so_once_and_is_not_started_again(self):
        """A worker killed past the server's time limit would leave the tie-out
        due, to be started (and killed) again every round. The tie-out stops at
        the batch's deadline instead. A large company at a real latency cannot
        be run here, so the time is made to be up as the tie-out starts."""
        real_tie_out = engine_service.compute_tie_out
        deadlines = []

        def out_of_time(config, store, remote, deadline=None):
            deadlines.append(deadline)
            return real_tie_out(config, store, remote, deadline=time.monotonic() - 1)

        with patch.object(engine_service, "compute_tie_out", out_of_time):
            run = self.run_now()
        self.assertRunFinished(run)
        self.assertEqual(len(deadlines), 1, "the tie-out ran once, not again each round")
        self.assertIsNotNone(deadlines[0], "the batch's deadline was given to the tie-out")
        self.assertFalse(run.tie_out_due)
        self.assertFalse(run.books_agree, "an unfinished tie-out proves nothing")
        self.assertTrue(run.tie_out_verdict.startswith("Tie-out not finished: 0 of "), run.tie_out_verdict)
        self.assertIn(run.tie_out_verdict, run.message)
        self.assertFalse(self.env["billcom_qbo.run"]._waiting_count(), "nothing left waiting")

    def test_only_managers_compute_users_read(self):
        self.assertRunFinished(self.run_now())
        self.connection.action_tie_out()
        user = self.make_sync_user()
        connection = self.connection.with_user(user)
        with self.assertRaises(AccessError):
            connection.action_tie_out()
        action = connection.action_view_tie_out()
        self.assertFalse(self.env[action["res_model"]].with_user(user).search(action["domain"]))
        self.assertTrue(connection.tie_out_verdict.startswith("Books agree: "))
