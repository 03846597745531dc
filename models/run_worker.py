"""Syncs and previews run in Odoo's job machinery, never in a web request.

"Sync now" and the daily schedule queue a ``billcom_qbo.run``; a preview marks
its wizard as computing. Then they wake the worker scheduled actions
(``ir.cron`` triggers). Whichever cron worker is free, on any server sharing
the database, claims the oldest waiting work of a connection no other worker
holds (rows locked ``SKIP LOCKED``, then the connection's advisory lock) and
carries out one batch of it that ends well within the scheduler's time limit
(``--limit-time-real-cron``, counted for a cron worker's whole round, from
before its idle sleep). A sync that needs more batches stays ``running``
between them and the worker wakes the next one, so a long first sync resumes
batch after batch across cron runs.

The advisory lock is session-level: it outlives the batch's commits and dies
with the worker's database connection, so a worker that was killed leaves a
run whose connection nobody holds. The next claim (at the latest the watchdog
trigger set when the batch started) marks it interrupted at the point it
reached and resumes the sync in a new run.
"""
import datetime
import logging
import threading
import time

from odoo import api, fields, models
from odoo.addons.base.models.ir_cron import MIN_TIME_PER_JOB
from odoo.service import server as odoo_server
from odoo.tools import config

from .sync_run import RUN_LOCK_CLASS

_logger = logging.getLogger(__name__)

PREVIEW_LOCK_CLASS = RUN_LOCK_CLASS + 1
WORKER_CRONS = tuple(f"billcom_qbo_sync.ir_cron_sync_worker_{n}" for n in range(1, 5))
# Time left for the rest of the round when a batch stops: the write batch
# under way finishes, the run is closed, the scheduler commits.
LIMIT_MARGIN_SHARE = 0.25
MIN_LIMIT_MARGIN = 10
BATCH_WITHOUT_LIMIT = 600  # seconds, when the scheduler has no time limit
MIN_BATCH_SECONDS = 10     # less than this left: leave the work to the next round
TIE_OUT_ROOM = 0.3         # share of the limit left to do the tie-out in the same batch
WATCHDOG_AFTER = datetime.timedelta(seconds=60)
# A cron worker process sleeps up to a minute (and up to 10 s more) between
# rounds, and the server's time limit counts from before that sleep
# (odoo/service/server.py: Worker._runloop pings the watchdog, then sleeps,
# then works). Without a better anchor, a round is assumed to have slept that long.
LONGEST_IDLE_SLEEP = 70

# When this cron worker process last told the server it was alive: its time
# limit counts from there. Recorded by wrapping PreforkServer.pipe_ping, which
# only observes (the worker pings once a round, before it sleeps).
_LAST_PING = {"at": None}


def _remember_ping(pipe_ping):
    def remembering_pipe_ping(server, pipe):
        _LAST_PING["at"] = time.monotonic()
        return pipe_ping(server, pipe)
    remembering_pipe_ping.remembers_ping = True
    return remembering_pipe_ping


if not getattr(odoo_server.PreforkServer.pipe_ping, "remembers_ping", False):
    odoo_server.PreforkServer.pipe_ping = _remember_ping(odoo_server.PreforkServer.pipe_ping)


def cron_time_limit():
    """Seconds a cron round may run before the server kills it (None: no limit)."""
    limit = config.get("limit_time_real_cron")
    if limit is None or limit < 0:  # -1: the same as --limit-time-real
        limit = config.get("limit_time_real")
    return limit if limit and limit > 0 else None


def round_started(job_started):
    """When the server started counting this round's time (monotonic)."""
    started = getattr(threading.current_thread(), "start_time", None)
    if started:  # threaded server: its cron threads are timed per database round
        return time.monotonic() - (time.time() - started)
    if _LAST_PING["at"] is not None:  # prefork: since the worker's last ping
        return _LAST_PING["at"]
    return job_started - LONGEST_IDLE_SLEEP


def batch_deadline(job_started):
    """When a batch starting now must stop writing (monotonic): well before the
    server's time limit for this round, which other jobs of the round share."""
    limit = cron_time_limit()
    if not limit:
        return job_started + BATCH_WITHOUT_LIMIT
    return round_started(job_started) + limit - max(MIN_LIMIT_MARGIN, LIMIT_MARGIN_SHARE * limit)


# "no worker holds the advisory lock (class %s, <column>)" in a WHERE clause
_NOT_HELD = """NOT EXISTS (
    SELECT 1 FROM pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND l.classid = %%s AND l.objid = %s)"""


class SyncRunWorker(models.Model):
    _inherit = "billcom_qbo.run"

    # ------------------------------------------------------------- the worker
    @api.model
    def _cron_work(self):
        """One turn of a worker scheduled action: claim waiting work and carry
        out one batch of it, then report what is left so the scheduler calls
        again (and wakes the other workers for the rest)."""
        cron = self.env["ir.cron"]
        deadline = self._job_deadline()
        if deadline - time.monotonic() < MIN_BATCH_SECONDS:
            waiting = self._waiting_count()
            cron._commit_progress(0, remaining=waiting)
            if waiting:
                self._wake_workers(waiting)
            return
        work = self._claim_work()
        if work is None:
            cron._commit_progress(0, remaining=0)
            return
        kind, record, lock = work
        try:
            if kind == "preview":
                record._compute_preview()
            else:
                record._work_batch(deadline)
        except Exception:
            self.env.cr.rollback()
            _logger.exception("Sync work %s %s failed", kind, record.id)
            if kind == "preview":
                record._preview_failed()
            else:
                record._close_after_crash()
        finally:
            self._release(lock)
        waiting = self._waiting_count()
        cron._commit_progress(1, remaining=waiting)
        if waiting:
            self._wake_workers(waiting)

    @api.model
    def _job_deadline(self):
        """When a batch started in this cron job must stop writing (monotonic clock)."""
        end = self.env.context.get("cron_end_time")
        return batch_deadline(end - MIN_TIME_PER_JOB if end else time.monotonic())

    # -------------------------------------------------------------- claiming
    @api.model
    def _claim_work(self):
        """(kind, record, lock) of the work this worker takes, or None.

        Rows another worker is claiming are skipped (``SKIP LOCKED``); a
        connection or preview another worker is busy with is skipped by its
        advisory lock, which this worker then holds until ``_release``."""
        self.env.flush_all()
        cr = self.env.cr
        tried = [0]
        while True:
            # one row at a time: a row locked here is skipped by the other workers
            cr.execute("""
                SELECT id, connection_id FROM billcom_qbo_run
                 WHERE (state IN ('queued', 'running') OR tie_out_due) AND connection_id <> ALL(%s)
                 ORDER BY tie_out_due DESC, (trigger = 'manual') DESC, id
                 LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED
            """, [tried])
            row = cr.fetchone()
            if not row:
                break
            run_id, connection_id = row
            tried.append(connection_id)
            if self._try_lock(RUN_LOCK_CLASS, connection_id):
                return "run", self.browse(run_id).sudo(), (RUN_LOCK_CLASS, connection_id)
        cr.execute("""
            SELECT id FROM billcom_qbo_sync_wizard WHERE state = 'computing'
             ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
        """)
        for (wizard_id,) in cr.fetchall():
            if self._try_lock(PREVIEW_LOCK_CLASS, wizard_id):
                wizard = self.env["billcom_qbo.sync_wizard"].sudo().browse(wizard_id)
                return "preview", wizard, (PREVIEW_LOCK_CLASS, wizard_id)
        return None

    def _try_lock(self, lock_class, key):
        self.env.cr.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, key])
        return self.env.cr.fetchone()[0]

    @api.model
    def _release(self, lock):
        cr = self.env.cr
        cr.commit()  # the work committed as it went; a failed batch was rolled back and closed
        cr.execute("SELECT pg_advisory_unlock(%s, %s)", list(lock))
        cr.commit()

    @api.model
    def _waiting_count(self):
        """Runs and previews a worker could take now (none another worker holds)."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(f"""
            SELECT count(DISTINCT connection_id) FROM billcom_qbo_run r
             WHERE (r.state IN ('queued', 'running') OR r.tie_out_due) AND {_NOT_HELD % 'r.connection_id'}
        """, [RUN_LOCK_CLASS])
        runs = cr.fetchone()[0]
        cr.execute(f"""
            SELECT count(*) FROM billcom_qbo_sync_wizard w
             WHERE w.state = 'computing' AND {_NOT_HELD % 'w.id'}
        """, [PREVIEW_LOCK_CLASS])
        return runs + cr.fetchone()[0]

    @api.model
    def _wake_workers(self, count=1, at=None):
        """Trigger up to ``count`` worker scheduled actions (at ``at``, or now)."""
        for xmlid in WORKER_CRONS[:max(1, count)]:
            cron = self.env.ref(xmlid, raise_if_not_found=False)
            if cron:
                cron.sudo()._trigger(at)

    # ----------------------------------------------------------------- a batch
    def _work_batch(self, deadline):
        """Carry out the next batch of this run (or its tie-out). Commits as it goes."""
        self.ensure_one()
        run = self
        if run.tie_out_due:
            run._tie_out_step(deadline)
            return
        if run.state == "running" and run.batch_open:
            # claimed with its connection free: the worker of its open batch died
            run._mark_worker_died()
            run = run.connection_id._queue_run(run.trigger, run.object_types, resumes=run, wake=False)
            self.env["ir.cron"]._commit_progress()
        now = fields.Datetime.now()
        run.write({"state": "running", "batch_open": True, "batch_count": run.batch_count + 1,
                   "heartbeat": now})
        # should this worker die, a worker looks again soon after the batch's time is up
        limit = cron_time_limit()
        watch = {now + WATCHDOG_AFTER}
        if limit:
            watch.add(now + datetime.timedelta(seconds=limit + 15))
        for at in sorted(watch):
            self._wake_workers(1, at=at)
        self.env["ir.cron"]._commit_progress()
        run.connection_id._carry_out_batch(run, deadline)
        if run.state not in ("queued", "running"):
            run.connection_id._after_run(run)
            self.env["ir.cron"]._commit_progress()
        if run.tie_out_due and deadline - time.monotonic() > TIE_OUT_ROOM * (cron_time_limit() or BATCH_WITHOUT_LIMIT):
            run._tie_out_step(deadline)

    def _close_after_crash(self):
        """A batch that raised past the engine: close the run as failed."""
        self.ensure_one()
        run = self.exists()
        if not run or run.state not in ("queued", "running"):
            return
        run.write({"state": "failed", "ended": fields.Datetime.now(), "batch_open": False,
                   "tie_out_due": False,
                   "message": self.env._("The run stopped on an unexpected error; see the server log.")})
        if run.connection_id.running_run_id == run:
            run.connection_id.sudo().running_run_id = False
        run.connection_id.sudo().last_run_id = run
        self.env.cr.commit()

    def _tie_out_step(self, deadline=None):
        """Compare both books after the run and keep the verdict with it.

        The tie-out stops at the batch's ``deadline``, before the server's time
        limit would kill the worker (and the tie-out, still due, be started
        again from the beginning, and killed again). Stopped, it goes on in the
        next round from where it stopped; a round that goes on compares a page
        of links at least, so each round gets further."""
        self.ensure_one()
        connection = self.connection_id
        state = self.sudo().tie_out_state or None
        try:
            report, scrub = connection._compute_tie_out(deadline=deadline, resume=state)
        except Exception as exc:  # noqa: BLE001  the run is finished; only its proof is missing
            self.env.cr.rollback()
            sentence = connection._scrubber()(self.env._("The tie-out could not be computed: %s", exc))
            _logger.warning("run %s: %s", self.id, sentence)
            self._end_tie_out(sentence, None, None)
            return
        progress = {"tie_out_compared": report.compared, "tie_out_links": report.links}
        if report.stopped:
            self.sudo().write(dict(progress, tie_out_state=report.resume_state))
            self.env["ir.cron"]._commit_progress()
            return
        verdict = scrub(report.verdict())
        self._end_tie_out(verdict + ".", verdict, report.agrees, progress)

    def _end_tie_out(self, sentence, verdict, agrees, progress=None):
        message = f"{self.message} {sentence}" if self.message else sentence
        self.sudo().write(dict(progress or {}, message=message, tie_out_verdict=verdict or False,
                               books_agree=bool(agrees), tie_out_due=False, tie_out_state=False))
        self.env["ir.cron"]._commit_progress()
