"""Fixes a finance user makes from a run line, proven by what each side holds
afterwards, the tie-out, and the connection's chatter saying who did what."""
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SyncCase


@tagged("post_install", "-at_install")
class TestRecordFixes(SyncCase):

    def vendor_q(self, name):
        return next(v for v in self.qbo_sb.all("Vendor") if v["DisplayName"] == name)

    def vendor_b(self, name):
        return next(v for v in self.billcom_sb.all("vendors") if v["name"] == name)

    def line(self, run, record, **match):
        lines = run.line_ids.filtered(lambda l: l.record == record and all(l[k] == v for k, v in match.items()))
        self.assertEqual(len(lines), 1, run.line_ids.mapped(lambda l: (l.record, l.action)))
        return lines

    def chatter(self):
        return "\n".join(self.connection.message_ids.mapped("body"))

    def test_keep_one_sides_version_of_a_held_conflict(self):
        self.assertRunFinished(self.run_now())
        self.qbo_sb.user_update("Vendor", self.vendor_q("Pacific Gas")["Id"],
                                {"PrimaryEmailAddr": {"Address": "qbo@pg.example"}})
        self.billcom_sb.user_update("vendors", self.vendor_b("Pacific Gas")["id"], {"email": "billcom@pg.example"})
        held = self.run_now()
        line = self.line(held, "Vendor Pacific Gas")
        self.assertEqual((line.action, line.attention, line.can_fix), ("conflict", "person", True))

        with self.new_cursor(user=self.make_sync_user()) as env:
            action = env["billcom_qbo.run_line"].browse(line.id).action_keep_billcom()
        self.assertEqual(action["res_model"], "billcom_qbo.run", "the sync is queued and its run opened")
        self.work_queue()
        settled = self.connection.last_run_id
        self.assertRunFinished(settled)
        self.assertEqual(self.vendor_q("Pacific Gas")["PrimaryEmailAddr"]["Address"], "billcom@pg.example")
        self.assertTrue(settled.books_agree, settled.tie_out_verdict)
        self.assertFalse(self.connection.record_masters, "the choice applied once, then forgotten")
        self.assertIn("Bill.com' version kept", self.chatter())

    def test_dont_sync_this_record_and_take_it_back(self):
        first = self.run_now()
        line = self.line(first, "Vendor Pacific Gas")
        line.action_exclude()
        entry = self.connection.excluded_ids
        self.assertEqual((entry.object_type, entry.side, entry.record), ("vendor", "qbo", "Vendor Pacific Gas"))
        self.assertEqual(entry.user_id, self.env.user)
        self.assertIn("will not sync any more", self.chatter())

        self.qbo_sb.user_update("Vendor", self.vendor_q("Pacific Gas")["Id"],
                                {"PrimaryEmailAddr": {"Address": "new@pg.example"}})
        run = self.run_now()
        skipped = self.line(run, "Vendor Pacific Gas")
        self.assertEqual((skipped.action, skipped.rule_code), ("skip", "excluded"))
        self.assertNotEqual(self.vendor_b("Pacific Gas").get("email"), "new@pg.example")

        entry.action_sync_again()
        self.assertFalse(self.connection.excluded_ids)
        self.assertRunFinished(self.run_now())
        self.assertEqual(self.vendor_b("Pacific Gas").get("email"), "new@pg.example")
        self.assertIn("will sync again", self.chatter())

    def test_link_to_an_existing_record(self):
        """Bill.com holds Pacific Gas as "PG&E Pacific Gas": the person links them
        instead of letting the sync create a second vendor."""
        twin = self.billcom_sb.add("vendors", {"name": "PGE Pacific Gas", "email": "pay@pacificgas.example",
                                               "accountType": "BUSINESS"})
        run = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "manual", "state": "partial",
            "line_ids": [(0, 0, {"object_type": "vendor", "direction": "qbo_to_billcom", "action": "error",
                                 "record": "Vendor Pacific Gas", "qbo_id": self.vendor_q("Pacific Gas")["Id"],
                                 "state": "failed", "message": "Bill.com refused the vendor"})]})
        line = run.line_ids
        action = line.action_link_existing()
        wizard = self.env["billcom_qbo.link_wizard"].browse(action["res_id"])
        self.assertEqual((wizard.search_side, wizard.search_text), ("billcom", "Pacific Gas"))
        wizard.search_text = "PGE"
        wizard.action_search()
        self.assertEqual(wizard.candidate_ids.mapped("label"), ["Vendor PGE Pacific Gas"])
        wizard.candidate_ids.action_choose()
        self.assertIn("linked by hand", self.chatter())

        result = self.run_now()
        self.assertRunFinished(result)
        linked = self.line(result, "Vendor Pacific Gas")
        self.assertEqual((linked.action, linked.billcom_id), ("link", twin["id"]))
        names = [v["name"] for v in self.billcom_sb.all("vendors")]
        self.assertNotIn("Pacific Gas", names, "no second vendor was created")
        self.assertTrue(result.books_agree, result.tie_out_verdict)

    def test_a_payment_is_not_excluded_on_its_own(self):
        run = self.env["billcom_qbo.run"].create({
            "connection_id": self.connection.id, "trigger": "manual", "state": "partial",
            "line_ids": [(0, 0, {"object_type": "bill_payment", "direction": "billcom_to_qbo", "action": "error",
                                 "record": "Payment of bill NL-1001", "billcom_id": "0pm01", "state": "failed"})]})
        with self.assertRaisesRegex(UserError, "follows its bill or invoice"):
            run.line_ids.action_exclude()
        self.assertFalse(self.connection.excluded_ids)
