"""The screens in a real browser: connect, preview, sync, tie-out, walked by
an administrator and by a sync user (``static/tests/tours/sync_walkthrough.js``).
A tour fails on any JavaScript error in the browser console."""
import logging
import threading
import traceback
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import _registry_test_lock

from .common import LiveSandboxMixin

POLL_SECONDS = 0.5

_logger = logging.getLogger(__name__)


class SchedulerWorker(threading.Thread):
    """What the worker scheduled actions do, beside the browser: while the tour
    runs, carry out one batch of waiting work (previews, runs, tie-outs) at a
    time, as ``_cron_work`` does in a cron thread.

    Crons do not run in an HttpCase. Cursors here are the test's cursors,
    serialized with the browser's requests by the registry test lock; the lock
    is taken with a short timeout first so that the thread never waits long
    once the tour has ended and the test holds the lock again."""

    def __init__(self, case):
        super().__init__(name="billcom_qbo_sync tour worker", daemon=True)
        self.case = case
        self.stopping = threading.Event()
        self.errors = []
        self.turns = 0

    def run(self):
        self.stopping.wait(1.0)  # the test's own cursor is in use while the tour starts
        while not self.stopping.is_set():
            waiting = 0
            if _registry_test_lock.acquire(timeout=POLL_SECONDS):
                try:
                    if self.stopping.is_set():
                        break
                    with self.case.registry.cursor() as cr:
                        Run = api.Environment(cr, SUPERUSER_ID, {})["billcom_qbo.run"]
                        waiting = Run._waiting_count()
                        if waiting:
                            Run._cron_work()
                            self.turns += 1
                except Exception:  # noqa: BLE001  reported by the test, after the tour
                    _logger.exception("The tour's scheduler worker failed")
                    self.errors.append(traceback.format_exc())
                    waiting = 0
                finally:
                    _registry_test_lock.release()
            if not waiting:
                self.stopping.wait(POLL_SECONDS)

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join(60)
        return not self.is_alive()


@tagged("post_install", "-at_install")
class TestTour(LiveSandboxMixin, HttpCase):

    def start_tour_with_workers(self, url, tour, login):
        worker = SchedulerWorker(self)
        authenticate = self.authenticate

        def authenticate_then_work(*args, **kwargs):
            # the login uses the test's own cursor, outside the lock the worker
            # takes: the worker starts once the browser is signed in
            result = authenticate(*args, **kwargs)
            worker.start()
            return result

        try:
            with patch.object(self, "authenticate", authenticate_then_work):
                self.start_tour(url, tour, login=login, timeout=240)
        except AssertionError as exc:
            worker.stop()
            raise AssertionError(f"{exc}\n\nScheduler worker: {worker.turns} turn(s) of work done"
                                 + "".join(f"\n{error}" for error in worker.errors)) from None
        finally:
            stopped = worker.stop()
        self.assertFalse(worker.errors, "the scheduler work failed:\n" + "\n".join(worker.errors))
        self.assertTrue(stopped, "the scheduler worker stopped")
        self.assertGreater(worker.turns, 1, "the preview and the run went through the workers")
        self.env.invalidate_all()

    def assertRunAgrees(self, connection, user):
        run = connection.last_run_id
        self.assertTrue(run, "the tour ran a sync")
        self.assertEqual(run.trigger, "manual")
        self.assertEqual(run.user_id, user)
        self.assertEqual(run.state, "done", run.message)
        self.assertGreater(run.write_count, 0)
        self.assertTrue(run.books_agree, run.tie_out_verdict)
        # the held bill was fixed from its line: off the sync, by this user, said in the chatter
        excluded = connection.excluded_ids.filtered(lambda e: "HH-2150" in e.record)
        self.assertEqual(excluded.user_id, user, connection.excluded_ids.mapped("record"))
        self.assertIn("will not sync any more", "\n".join(connection.message_ids.mapped("body")))
        return run

    def test_admin_connects_previews_syncs_and_ties_out(self):
        """Connect to QuickBooks (through the sandbox's consent page and the
        callback), preview, sync, tie-out."""
        qbo = self.create_qbo_company(refresh_token=False, realm_id=False, state="draft")
        connection = self.create_connection(qbo_company=qbo)
        self.start_tour_with_workers("/odoo/action-billcom_qbo_sync.action_qbo_company",
                                     "billcom_qbo_sync_admin_tour", "admin")
        qbo = qbo.sudo()
        self.assertEqual(qbo.state, "connected")
        self.assertEqual(qbo.realm_id, self.qbo_sb.realm_id)
        self.assertTrue(qbo.refresh_token)
        self.assertRunAgrees(connection, self.env.ref("base.user_admin"))
        self.assertTrue(connection.tie_out_checked_at, "the Tie-out button compared the books")
        self.assertTrue(connection.tie_out_agrees, connection.tie_out_verdict)

    def test_sync_user_previews_syncs_and_reads_the_tie_out(self):
        """A sync user: the connection says QuickBooks is connected; preview,
        sync, and the run's tie-out verdict (the Tie-out button is for managers)."""
        user = new_test_user(self.env, login="tour_sync_user", groups="billcom_qbo_sync.group_sync_user",
                             company_id=self.env.company.id, company_ids=[(6, 0, self.env.company.ids)])
        connection = self.create_connection()
        self.start_tour_with_workers("/odoo/action-billcom_qbo_sync.action_connection",
                                     "billcom_qbo_sync_user_tour", user.login)
        self.assertRunAgrees(connection, user)
        self.assertFalse(connection.tie_out_checked_at, "no tie-out was computed from the connection")
