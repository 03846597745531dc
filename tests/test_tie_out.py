import time
from unittest.mock import patch

from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..sync_engine import reconcile as engine_reconcile, service as engine_service
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

    def test_a_tie_out_always_out_of_time_still_gets_a_page_further_each_round(self):
        """A worker killed past the server's time limit would leave the tie-out
        due, to be started from the beginning (and killed) again every round.
        The tie-out stops at the batch's deadline instead and goes on in the
        next round, a page at least each time. A large company at a real
        latency cannot be run here, so the time is made to be up as each round
        of the tie-out starts."""
        real_tie_out = engine_service.compute_tie_out
        deadlines, rounds = [], []

        def out_of_time(config, store, remote, deadline=None, resume=None):
            deadlines.append(deadline)
            report = real_tie_out(config, store, remote, deadline=time.monotonic() - 1, resume=resume)
            rounds.append(report.compared)
            return report

        with patch.object(engine_service, "compute_tie_out", out_of_time):
            run = self.run_now()
        self.assertRunFinished(run)
        self.assertTrue(all(deadlines), "the batch's deadline was given to the tie-out")
        # the first round stopped before reading anything; each one after it compared more
        self.assertEqual(rounds[0], 0)
        self.assertTrue(all(b > a for a, b in zip(rounds, rounds[1:])), rounds)
        self.assertFalse(run.tie_out_due)
        self.assertFalse(run.sudo().tie_out_state)
        self.assertTrue(run.books_agree, run.tie_out_verdict)
        self.assertIn(run.tie_out_verdict, run.message)
        self.assertFalse(self.env["billcom_qbo.run"]._waiting_count(), "nothing left waiting")

    def test_a_tie_out_longer_than_a_round_goes_on_round_after_round_to_its_verdict(self):
        """A large company's tie-out at a real latency takes more than one
        scheduler round. Here each round has time for one page of two links
        (the time is simulated: such a company cannot be run here); the last
        round's verdict is the one a tie-out in one go gives."""
        self.assertRunFinished(self.run_now())
        in_one_go, _ = self.connection._compute_tie_out()
        self.assertTrue(in_one_go.agrees, in_one_go.verdict())
        real_tie_out = engine_service.compute_tie_out
        rounds = []

        def one_page_a_round(config, store, remote, deadline=None, resume=None):
            ticks = iter(range(1000))   # the clock is read before each type and each page
            report = real_tie_out(config, store, remote, deadline=2, clock=lambda: next(ticks), resume=resume)
            rounds.append((report.compared, report.links))
            return report

        with patch.object(engine_reconcile, "LINK_PAGE", 2), \
                patch.object(engine_service, "compute_tie_out", one_page_a_round):
            run = self.run_now()
        self.assertRunFinished(run)
        self.assertGreater(len(rounds), 3, rounds)
        self.assertEqual([done for done, _ in rounds], sorted(done for done, _ in rounds), "each round went on")
        self.assertEqual(rounds[-1], (in_one_go.links, in_one_go.links))
        self.assertFalse(run.tie_out_due)
        self.assertTrue(run.books_agree)
        self.assertEqual(run.tie_out_verdict, in_one_go.verdict())
        self.assertEqual((run.tie_out_compared, run.tie_out_links), (in_one_go.links, in_one_go.links))
        self.assertFalse(run.sudo().tie_out_state)

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
