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
        self.store = OdooStore(self.connection, scrub=["s3cr3t-token"])

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

    def test_one_run_at_a_time(self):
        run_id = self.store.begin_run("cron")
        with self.assertRaisesRegex(engine_errors.SyncAlreadyRunning, "A sync is already running for this connection"):
            OdooStore(self.connection).begin_run("manual")
        self.store.update_progress(run_id, 3, 10, "bill")
        run = self.env["billcom_qbo.run"].browse(run_id)
        self.assertEqual((run.progress_done, run.progress_total, run.progress), (3, 10, 30.0))
        self.store.end_run(run_id, "done", {"bill|qbo_to_billcom|create": 3, "vendor|none|skip": 1},
                           "all good s3cr3t-token")
        self.assertEqual(run.state, "done")
        self.assertNoSecretIn([run.message], {"s3cr3t-token"})
        self.assertEqual((run.write_count, run.skip_count), (3, 1))
        self.assertIn("Bills, QuickBooks to Bill.com: 3 created", run.summary)
        self.assertFalse(self.connection.running_run_id)
        self.assertEqual(self.connection.last_run_id, run)
        self.assertTrue(self.connection.last_sync)
        OdooStore(self.connection).begin_run("manual")  # free again

    def test_readonly_store_refuses_writes(self):
        store = OdooStore(self.connection, readonly=True)
        store.load_links()
        store.get_cursors()
        for call in (lambda: store.save_links(self.links(1)), lambda: store.set_cursors({"a": "b"}),
                     lambda: store.set_retries([]), lambda: store.begin_run("manual")):
            with self.assertRaises(ReadOnlyStore):
                call()
