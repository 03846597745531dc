"""What a finance user reads: money on every document and payment, totals per
object type and direction, the records that need a person first, rules in
words, differences as a table with names, and linked records by name."""
from odoo.tests import tagged

from .common import SyncCase


@tagged("post_install", "-at_install")
class TestReadable(SyncCase):

    def _qbo_bill(self, number):
        return next(b for b in self.qbo_sb.all("Bill") if b.get("DocNumber") == number)

    def test_preview_shows_each_bill_with_its_amount_and_totals_per_type_and_direction(self):
        with self.new_cursor() as env:
            wizard = self.preview(env)
            lines = wizard.line_ids
            bill = lines.filtered(lambda l: l.record == "Bill NL-1001 (Norton Lumber)")
            self.assertEqual((bill.action, bill.amount, bill.currency, bill.has_amount),
                             ("create", 1250.0, "USD", True))
            self.assertEqual(bill.attention, "through")
            self.assertIn(bill, wizard.through_line_ids)
            cad = lines.filtered(lambda l: l.record.startswith("Bill MS-88"))
            self.assertEqual((cad.amount, cad.currency, cad.rule_code), (500.0, "CAD", "non_usd"))
            self.assertEqual(cad.rule_name, "Not in US dollars")
            self.assertEqual(cad.attention, "person")
            self.assertIn(cad, wizard.attention_line_ids)
            self.assertNotIn(cad, wizard.through_line_ids)
            self.assertEqual(wizard.attention_count, len(wizard.attention_line_ids))
            self.assertFalse(lines.filtered(lambda l: l.object_type == "vendor").mapped("has_amount")[0])
            payments = lines.filtered(lambda l: l.object_type in ("bill_payment", "received_payment"))
            self.assertTrue(payments and all(p.has_amount and p.currency == "USD" for p in payments))
            # 1,250.00 + 100.00 + 412.37 to create; the paid bills and the CAD bill skipped
            self.assertIn("Bills, QuickBooks to Bill.com: 3 to create (1,762.37 USD), "
                          "3 skipped (500.00 CAD, 698.12 USD)", wizard.summary)
            self.assertEqual(wizard.action_back()["context"]["dialog_size"], "extra-large",
                             "the preview opens wide enough for whole record names")
        self.assertNothingWritten()

    def test_run_summary_counts_and_totals(self):
        run = self.run_now()
        self.assertRunFinished(run)
        self.assertIn("Bills, QuickBooks to Bill.com: 3 created (1,762.37 USD)", run.summary)
        self.assertEqual(run.totals["bill|qbo_to_billcom|create"], {"USD": "1762.37"})
        logged = run.line_ids.filtered(lambda l: l.record == "Bill NL-1001 (Norton Lumber)")
        self.assertEqual((logged.amount, logged.currency), (1250.0, "USD"))
        first = run.line_ids[0]
        self.assertEqual(first.attention, "person", "held, skipped and failed lines come first")

    def test_a_changed_bill_shows_a_table_of_its_lines_with_names(self):
        self.assertRunFinished(self.run_now())
        bill = self._qbo_bill("PG-NOV")
        account_id = bill["Line"][0]["AccountBasedExpenseLineDetail"]["AccountRef"]["value"]
        account_name = next(a["Name"] for a in self.qbo_sb.all("Account") if str(a["Id"]) == str(account_id))
        line = dict(bill["Line"][0], Amount=450.00)
        self.qbo_sb.user_update("Bill", bill["Id"], {"Line": [line], "TotalAmt": 450.00, "DueDate": "2026-12-09"})
        with self.new_cursor() as env:
            wizard = self.preview(env)
            update = wizard.line_ids.filtered(lambda l: l.record.startswith("Bill PG-NOV"))
            self.assertEqual(update.action, "update", update.message)
            self.assertEqual((update.amount, update.currency), (450.0, "USD"))
            html = str(update.diff_html)
            self.assertIn("<table", html)
            self.assertIn("Amount before", html)
            self.assertIn("412.37", html)
            self.assertIn("450.00", html)
            self.assertIn(account_name, html)
            self.assertIn("2026-12-02", html)
            self.assertIn("2026-12-09", html)
            self.assertNotIn("account|", html)
            self.assertNotIn("'amount'", update.diff_text)
            self.assertIn(f"Lines, line 1 ({account_name}, November electricity): 412.37 \u2192 450.00",
                          update.diff_text)

    def test_linked_records_show_type_and_names_on_both_sides(self):
        self.assertRunFinished(self.run_now())
        Links = self.env["billcom_qbo.link"].search([("connection_id", "=", self.connection.id)])
        vendor = Links.filtered(lambda l: l.object_type == "vendor" and l.qbo_name == "Norton Lumber")
        self.assertEqual(len(vendor), 1)
        self.assertEqual((vendor.object_type_name, vendor.billcom_name, vendor.object_type_id.code),
                         ("Vendors", "Norton Lumber", "vendor"))
        bill = self.assertLinked("Bill", "NL-1001")
        self.assertEqual(bill.qbo_name, "Bill NL-1001 (Norton Lumber)")
        self.assertEqual(bill.billcom_name, "Bill NL-1001 (Norton Lumber)")
        account = Links.filtered(lambda l: l.object_type == "account")[:1]
        self.assertTrue(account.qbo_name and not account.qbo_name.startswith("Account "), account.qbo_name)
        # searched by either name or either id, as the search view does
        search = self.env.ref("billcom_qbo_sync.view_link_search")
        self.assertIn("billcom_name", search.arch)
        for term in ("norton lumber", bill.qbo_id, bill.billcom_id):
            found = Links.search([("connection_id", "=", self.connection.id), "|", "|", "|",
                                  ("qbo_name", "ilike", term), ("billcom_name", "ilike", term),
                                  ("qbo_id", "=", term), ("billcom_id", "=", term)])
            self.assertTrue(found, term)
        self.assertIn(vendor, Links.search([("billcom_name", "ilike", "norton")]))

    def test_run_lines_are_found_by_rule_code_or_words(self):
        run = self.run_now()
        Lines = self.env["billcom_qbo.run_line"]
        for term in ("non_usd", "US dollars"):
            found = Lines.search([("run_id", "=", run.id), "|", ("record", "ilike", term),
                                  ("rule_name", "ilike", term)])
            self.assertIn("Bill MS-88 (Maple Supplies Ltd)", found.mapped("record"), term)
            self.assertEqual(set(found.mapped("rule_code")), {"non_usd"}, term)
        arch = self.env.ref("billcom_qbo_sync.view_run_line_search").arch
        for code in ("non_usd", "paid_in_qbo", "missing_reference", "conflict", "bad_data"):
            self.assertIn(f'name="rule_{code}"', arch)
        views = Lines.get_views([(False, "form")])["views"]["form"]["arch"]
        for internal in ("sequence", "wizard_id", "Object type code"):
            self.assertNotIn(internal, views)
        wizard_form = self.env["billcom_qbo.sync_wizard_line"].get_views([(False, "form")])["views"]["form"]["arch"]
        self.assertNotIn("wizard_id", wizard_form)
        self.assertNotIn("sequence", wizard_form)
        self.assertIn("diff_html", wizard_form)

    def test_a_sync_user_reads_amounts_and_names(self):
        self.assertRunFinished(self.run_now())
        user = self.make_sync_user()
        run = self.env["billcom_qbo.run"].with_user(user).search([("connection_id", "=", self.connection.id)],
                                                                limit=1)
        self.assertIn("USD", run.summary)
        line = run.line_ids.filtered(lambda l: l.record == "Bill NL-1001 (Norton Lumber)")
        self.assertEqual(line.amount, 1250.0)
        link = self.env["billcom_qbo.link"].with_user(user).search([("qbo_name", "=", "Norton Lumber")])
        self.assertEqual(link.billcom_name, "Norton Lumber")
