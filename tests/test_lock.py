import datetime
import logging
import time
import uuid
from types import SimpleNamespace
from unittest.mock import patch

import psycopg2

from odoo import api, fields, sql_db
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tests import TransactionCase, get_db_name, tagged

from ..models.engine import ALREADY_RUNNING
from ..models.sync_run import RUN_LOCK_CLASS
from .common import OFFLINE_QBO

UNREACHABLE = "http://127.0.0.1:9"  # never contacted: the lock refuses first


def commit_connections(cls, names, auto_sync=True):
    """Connections committed for real (visible to a second database
    connection), deleted once the class is done: [(connection, qbo, org)] ids."""
    registry = Registry(get_db_name())
    ids = []
    with registry.cursor() as cr:
        env = api.Environment(cr, api.SUPERUSER_ID, {"tracking_disable": True})
        company = env.ref("base.main_company")
        for n, name in enumerate(names, start=1):
            qbo = env["billcom_qbo.qbo_company"].create({
                "name": f"{name} (QuickBooks)", "company_id": company.id, "environment": "local",
                "local_base_url": UNREACHABLE, "realm_id": str(n), "client_id": "id", "client_secret": "secret",
                "refresh_token": "rt", "state": "connected"})
            org = env["billcom_qbo.billcom_org"].create({
                "name": f"{name} (Bill.com)", "company_id": company.id, "environment": "local",
                "local_base_url": UNREACHABLE, "organization_id": f"org{n}", "username": "u", "password": "p",
                "dev_key": "k", "signup_date": datetime.date(2020, 1, 1), "start_date": datetime.date(2020, 1, 1)})
            env["billcom_qbo.qbo_account"]._replace_accounts(qbo, [
                {"id": a["Id"], "name": a["Name"], "account_type": a["AccountType"],
                 "account_sub_type": a["AccountSubType"], "classification": a["Classification"], "active": True}
                for a in OFFLINE_QBO.all("Account")])
            by_type = {a.account_type: a.id for a in qbo.account_ids}
            connection = env["billcom_qbo.connection"].create({
                "name": name, "company_id": company.id, "qbo_company_id": qbo.id, "billcom_org_id": org.id,
                "auto_sync": auto_sync, "bank_account_id": by_type["Bank"], "deposit_account_id": by_type["Bank"],
                "ap_account_id": by_type["Accounts Payable"], "ar_account_id": by_type["Accounts Receivable"]})
            ids.append((connection.id, qbo.id, org.id))

    def drop():
        with registry.cursor() as cr:
            env = api.Environment(cr, api.SUPERUSER_ID, {})
            for conn_id, qbo_id, org_id in ids:
                env["billcom_qbo.connection"].browse(conn_id).unlink()
                env["billcom_qbo.qbo_company"].browse(qbo_id).unlink()
                env["billcom_qbo.billcom_org"].browse(org_id).unlink()
    # registered before the test transaction exists, so it runs after it is closed
    cls.addClassCleanup(drop)
    return ids


@tagged("post_install", "-at_install")
class TestRowLock(TransactionCase):
    """Two transactions on one connection: a real second database connection
    holds the connection's row lock, as a running sync in another worker does.

    The row must be visible to that second connection, so this class commits
    one connection before its own transaction starts and deletes it at the end."""

    @classmethod
    def setUpClass(cls):
        cls.committed = commit_connections(cls, ["Lock test"])[0]
        super().setUpClass()
        cls.connection = cls.env["billcom_qbo.connection"].browse(cls.committed[0])

    def hold_row_lock(self):
        """A second, real transaction locking the connection's row."""
        other = Registry(get_db_name()).cursor()
        self.addCleanup(other.close)
        self.addCleanup(other.rollback)
        other.execute("SELECT id FROM billcom_qbo_connection WHERE id = %s FOR NO KEY UPDATE NOWAIT",
                      [self.connection.id])
        # fail instead of hanging if the code under test ever waits on that lock
        self.env.cr.execute("SET LOCAL lock_timeout = '10s'")
        return other

    def test_manual_run_refused_while_row_locked(self):
        self.hold_row_lock()
        wizard = self.env["billcom_qbo.sync_wizard"].create({"connection_id": self.connection.id})
        with self.assertRaisesRegex(UserError, ALREADY_RUNNING):
            wizard.action_sync_now()
        self.assertFalse(self.env["billcom_qbo.run"].search([("connection_id", "=", self.connection.id)]),
                         "nothing was written")

    def test_cron_skips_a_locked_connection(self):
        self.assertTrue(self.connection.auto_sync)
        self.assertTrue(self.connection._is_due(fields.Datetime.now()))
        self.hold_row_lock()
        cron_model = type(self.env["ir.cron"])
        with patch.object(cron_model, "_commit_progress", lambda *a, **k: float("inf")), \
                self.assertLogs("odoo.addons.billcom_qbo_sync.models.connection", logging.INFO) as logs:
            self.env["billcom_qbo.connection"]._cron_sync()
        self.assertTrue(any(ALREADY_RUNNING in line for line in logs.output), logs.output)
        self.assertFalse(self.env["billcom_qbo.run"].search([("connection_id", "=", self.connection.id)]))


@tagged("post_install", "-at_install")
class TestParallelClaims(TransactionCase):
    """Two workers, as two real database connections: each claims a different
    connection's run, never the same one, and a worker that dies leaves its
    connection free at once (its advisory lock goes with its database session).

    The runs must be visible to both connections, so this class commits two
    connections with a waiting run each and deletes them at the end."""

    @classmethod
    def setUpClass(cls):
        connections = commit_connections(cls, ["Claim test 1", "Claim test 2"], auto_sync=False)
        with Registry(get_db_name()).cursor() as cr:
            Connection = api.Environment(cr, api.SUPERUSER_ID, {})["billcom_qbo.connection"]
            cls.committed = [(*ids, Connection.browse(ids[0])._queue_run("manual", wake=False).id)
                             for ids in connections]
        super().setUpClass()

    def worker(self):
        """A worker's own database session."""
        cr = Registry(get_db_name()).cursor()
        self.addCleanup(cr.close)
        self.addCleanup(cr.rollback)
        cr.execute("SET LOCAL lock_timeout = '10s'")  # fail rather than wait on the other worker
        return api.Environment(cr, api.SUPERUSER_ID, {})["billcom_qbo.run"]

    def test_two_workers_claim_different_connections(self):
        ours = {run_id for *_ignored, run_id in self.committed}
        first, second = self.worker(), self.worker()
        kind, run_a, lock_a = first._claim_work()
        self.assertEqual(kind, "run")
        self.assertIn(run_a.id, ours)
        # while the first worker is still inside its claiming transaction
        kind, run_b, lock_b = second._claim_work()
        self.assertIn(run_b.id, ours)
        self.assertNotEqual(run_b.connection_id, run_a.connection_id, "never the connection another holds")
        first.env.cr.commit()
        second.env.cr.commit()
        # both connections are held now: nothing of ours is left to claim, by either worker
        third = self.worker()
        claimed = third._claim_work()
        self.assertTrue(claimed is None or claimed[1].id not in ours, claimed)
        if claimed:
            third._release(claimed[2])
        held = third._connection_lock_held([run_a.connection_id.id, run_b.connection_id.id])
        self.assertEqual(held, {run_a.connection_id.id, run_b.connection_id.id})
        first._release(lock_a)
        second._release(lock_b)
        self.assertEqual(third._connection_lock_held([run_a.connection_id.id, run_b.connection_id.id]), set())

    def test_killed_worker_frees_its_connection_at_once(self):
        connection_id, run_id = self.committed[0][0], self.committed[0][3]
        observer = self.worker()
        run = observer.browse(run_id)
        run.write({"state": "running", "batch_open": True, "batch_count": 1})
        observer.env.cr.commit()
        # a worker's database session holding the connection, as a claim leaves it
        session = psycopg2.connect(**sql_db.connection_info_for(get_db_name())[1])
        self.addCleanup(lambda: session.closed or session.close())
        with session.cursor() as cr:
            cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [RUN_LOCK_CLASS, connection_id])
            self.assertTrue(cr.fetchone()[0])
        session.commit()
        self.assertFalse(run._worker_died(), "alive: its worker holds the connection")
        self.assertTrue(run._holds_connection())
        backend = session.get_backend_pid()
        session.close()  # the worker's process is gone: its database session ends
        self._wait_until_ended(backend)
        self.assertTrue(run._worker_died(), "recognised at once, not after a timeout")
        self.assertFalse(run._holds_connection(), "a person can start a sync right away")

    def _wait_until_ended(self, backend, seconds=5.0):
        """PostgreSQL ends a session's backend (and frees its locks) a moment after
        the client hangs up, later on a busy machine; wait for that, not for us."""
        watcher = psycopg2.connect(**sql_db.connection_info_for(get_db_name())[1])
        watcher.autocommit = True   # each look a fresh view of pg_stat_activity
        try:
            deadline = time.monotonic() + seconds
            with watcher.cursor() as cr:
                while time.monotonic() < deadline:
                    cr.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [backend])
                    if not cr.fetchone():
                        return
                    time.sleep(0.01)
            self.fail(f"PostgreSQL did not end backend {backend} within {seconds} s")
        finally:
            watcher.close()

    # The rate windows and the token refresh live in PostgreSQL, shared by
    # every worker: seen here from separate database sessions.
    def test_board_windows_are_shared_between_workers(self):
        from ..models.pacing import PgBoard
        key = f"test:{uuid.uuid4().hex}"
        first, second = PgBoard(self.env), PgBoard(self.env)
        self.addCleanup(self.drop_window, key)
        now = time.time()
        limits = [(3, 60.0)]
        self.assertEqual([first.take(key, limits, now), second.take(key, limits, now),
                          first.take(key, limits, now + 1)], [0.0, 0.0, 0.0])
        self.assertAlmostEqual(second.take(key, limits, now + 2), 58.0, places=3,
                               msg="the fourth request waits until the first leaves the minute")
        self.assertEqual(first.take(key, limits, now + 61), 0.0)
        first.penalize(key, now + 100)
        self.assertAlmostEqual(second.take(key, limits, now + 70), 30.0, places=3,
                               msg="a 429's wait holds every worker")

    def test_a_request_counts_in_every_workers_window_from_its_answer(self):
        from ..models.pacing import PgBoard
        key = f"test:{uuid.uuid4().hex}"
        first, second = PgBoard(self.env), PgBoard(self.env)
        self.addCleanup(self.drop_window, key)
        now = time.time()
        limits = [(2, 1.0)]
        self.assertEqual([first.take(key, limits, now), second.take(key, limits, now + 0.1)], [0.0, 0.0])
        first.restamp(key, now, now + 0.5)  # the first request's answer came back 0.5 s after it went
        self.assertAlmostEqual(second.take(key, limits, now + 0.5), 0.6, places=3,
                               msg="the window frees when the second request leaves it, not the first")
        self.assertEqual(first.take(key, limits, now + 1.1), 0.0, "the second request has left the window")
        self.assertAlmostEqual(second.take(key, limits, now + 1.2), 0.3, places=3,
                               msg="the first one leaves a second after its answer, not after it went")

    def drop_window(self, key):
        with Registry(get_db_name()).cursor() as cr:
            cr.execute("DELETE FROM billcom_qbo_pacing_window WHERE key = %s", [key])

    def test_keeper_hands_a_refresh_to_the_next_worker(self):
        from ..models.pacing import PgKeeper
        qbo_id = self.committed[0][1]
        registry = Registry(get_db_name())
        with registry.cursor() as cr:
            company = api.Environment(cr, api.SUPERUSER_ID, {})["billcom_qbo.qbo_company"].browse(qbo_id)
            first, second = PgKeeper(company), PgKeeper(company)
        with first.refreshing() as stored:
            self.assertEqual(stored.refresh_token, "rt")
            first.company()._save_tokens(SimpleNamespace(access_token="at-2", refresh_token="rt-2",
                                                         access_token_expires_at=time.time() + 3600), commit=False)
        with second.refreshing() as stored:
            self.assertEqual((stored.refresh_token, stored.access_token), ("rt-2", "at-2"),
                             "the next worker sees the rotated tokens and adopts them")
            self.assertTrue(stored.access_valid(time.time()))
