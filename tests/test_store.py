from unittest.mock import patch

from odoo.tests import TransactionCase, tagged

from ..models.engine import Link, engine_errors
from ..models.odoo_store import OdooStore, ReadOnlyStore
from ..sync_engine.store import RunLine
from .common import SandboxMixin


@tagged("post_install", "-at_install")
class TestOdooStore(SandboxMixin, TransactionCase):
    """The engine's Store interface over the models: same semantics as the
    SQLite store, and a fixed number of queries whatever the batch size."""

    def setUp(self):
        super().setUp()
        self.connection = self.create_connection()
        # commits are the store's durability; inside a test they are no-ops
        patcher = patch.object(type(self.env["ir.cron"]), "_commit_progress", lambda *a, **k: float("inf"))
        patcher.start()
        self.addCleanup(patcher.stop)
        self.run = self.connection._queue_run("manual", wake=False)
        self.store = OdooStore(self.connection, scrub=["s3cr3t-token"], run=self.run)

    def links(self, n, start=0, version="1"):
        return [Link("vendor", str(i), f"009{i:05d}", version, f"2026-11-0{1 + i % 9}T00:00:00.000+0000",
                     {"name": f"Vendor {i}"}) for i in range(start, start + n)]

    def count_queries(self, func):
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        func()
        self.env.flush_all()
        return self.env.cr.sql_log_count - before

    def test_links_round_trip_and_upsert(self):
        self.store.save_links(self.links(3))
        loaded = {l.qbo_id: l for l in self.store.load_links()}
        self.assertEqual(set(loaded), {"0", "1", "2"})
        self.assertEqual(loaded["1"].billcom_id, "00900001")
        self.assertEqual(loaded["1"].snapshot, {"name": "Vendor 1"})
        self.assertTrue(loaded["1"].last_synced.endswith("Z"))
        # same key again: updated, not duplicated
        self.store.save_links(self.links(2, version="2"))
        loaded = {l.qbo_id: l for l in self.store.load_links()}
        self.assertEqual(len(loaded), 3)
        self.assertEqual(loaded["0"].qbo_version, "2")
        self.assertEqual(loaded["2"].qbo_version, "1")
        self.assertEqual(self.store.load_links(["customer"]), [])
        self.assertEqual(len(self.store.load_links(["vendor"])), 3)

    def test_a_type_of_links_is_walked_a_page_at_a_time_each_link_once(self):
        self.store.save_links(self.links(7))
        self.store.save_links([Link("bill", "126", "00n02XYZ")])
        other = self.create_connection(name="Other company")
        OdooStore(other).save_links([Link("vendor", "900", "00999999")])   # never seen from this connection
        self.assertEqual(self.store.count_links(), {"vendor": 7, "bill": 1})
        pages = list(self.store.link_pages("vendor", size=3))
        self.assertEqual([len(p) for p in pages], [3, 3, 1])
        walked = [l.qbo_id for p in pages for l in p]
        self.assertEqual(sorted(walked), [str(i) for i in range(7)])
        self.assertEqual([len(p) for p in self.store.link_pages("vendor", size=7)], [7])
        self.assertEqual(list(self.store.link_pages("invoice")), [])

    def test_save_links_is_batched(self):
        self.store.save_links(self.links(1, start=1000))  # warm the caches
        small = self.count_queries(lambda: self.store.save_links(self.links(3)))
        large = self.count_queries(lambda: self.store.save_links(self.links(60, start=100)))
        self.assertEqual(small, large, "no query per link (creates)")
        small = self.count_queries(lambda: self.store.save_links(self.links(3, version="9")))
        large = self.count_queries(lambda: self.store.save_links(self.links(60, start=100, version="9")))
        self.assertEqual(small, large, "no query per link (updates)")

    def test_run_lines_are_batched_and_scrubbed(self):
        run_id = self.store.begin_run("manual")
        self.run.batch_count = 1

        def lines(n):
            return [RunLine("bill", "qbo_to_billcom", "error", f"Bill {i}", qbo_id=str(i), rule_code="bad_data",
                            message="refused with token s3cr3t-token", remote_error="401 s3cr3t-token",
                            diff={"amount": [1, 2]}) for i in range(n)]
        self.store.add_run_lines(run_id, lines(1))  # warm the caches
        small = self.count_queries(lambda: self.store.add_run_lines(run_id, lines(2)))
        large = self.count_queries(lambda: self.store.add_run_lines(run_id, lines(50)))
        self.assertEqual(small, large, "no query per run line")
        run = self.env["billcom_qbo.run"].browse(run_id)
        self.assertEqual(len(run.line_ids), 53)
        self.assertNoSecretIn(run.line_ids.mapped("message") + run.line_ids.mapped("remote_error"),
                              {"s3cr3t-token"})
        self.assertEqual(run.line_ids[0].diff, {"amount": [1, 2]})

    def test_cursors_and_retries(self):
        self.store.set_cursors({"qbo": "2026-11-01", "billcom": "a"})
        self.store.set_cursors({"billcom": "b"})
        self.assertEqual(self.store.get_cursors(), {"qbo": "2026-11-01", "billcom": "b"})
        self.store.set_retries([("qbo", "bill", "12"), ("billcom", "bill", "00n1")])
        self.assertEqual(sorted(self.store.get_retries()), [("billcom", "bill", "00n1"), ("qbo", "bill", "12")])
        self.store.set_retries([])
        self.assertEqual(self.store.get_retries(), [])

    def test_run_progress_and_close(self):
        """A batch's progress adds to the earlier batches'; the run's counts are
        its logged lines; closing releases the connection."""
        self.run.write({"batch_count": 1, "batch_open": True})
        run_id = self.store.begin_run("manual")
        self.assertEqual(run_id, self.run.id, "the claimed run, not a new one")
        self.assertEqual(self.connection.running_run_id, self.run)
        self.store.update_progress(run_id, 3, 10, "bill: Bill.com create")
        self.assertEqual((self.run.progress_done, self.run.progress_total, self.run.progress), (3, 10, 30.0))
        self.assertEqual(self.run.stage_text, "Creating bills in Bill.com")
        self.store.pausing = True  # the batch's time is up
        self.store.end_run(run_id, "interrupted", {})
        self.assertEqual(self.run.state, "running", "the run goes on in the next batch")
        self.assertFalse(self.run.batch_open)

        self.run.write({"batch_count": 2, "batch_open": True})
        store = OdooStore(self.connection, scrub=["s3cr3t-token"], run=self.run)
        store.begin_run("manual")
        store.update_progress(run_id, 2, 7, "bill: Bill.com create")
        self.assertEqual((self.run.progress_done, self.run.progress_total), (5, 10))
        store.add_run_lines(run_id, [
            RunLine("bill", "qbo_to_billcom", "create", f"Bill {i}", qbo_id=str(i), state="done") for i in range(3)]
            + [RunLine("vendor", "none", "skip", "Vendor 1", qbo_id="1", state="done")])
        store.end_run(run_id, "done", {"ignored|none|create": 99}, "all good s3cr3t-token")
        self.assertEqual(self.run.state, "done")
        self.assertNoSecretIn([self.run.message], {"s3cr3t-token"})
        self.assertEqual((self.run.write_count, self.run.skip_count), (3, 1))
        self.assertIn("Bills, QuickBooks to Bill.com: 3 created", self.run.summary)
        self.assertTrue(self.run.tie_out_due, "the tie-out comes next")
        self.assertFalse(self.connection.running_run_id)
        self.assertEqual(self.connection.last_run_id, self.run)
        self.assertTrue(self.connection.last_sync)

    def test_readonly_store_refuses_writes(self):
        store = OdooStore(self.connection, readonly=True)
        store.load_links()
        store.get_cursors()
        for call in (lambda: store.save_links(self.links(1)), lambda: store.set_cursors({"a": "b"}),
                     lambda: store.set_retries([]), lambda: store.begin_run("manual")):
            with self.assertRaises(ReadOnlyStore):
                call()
