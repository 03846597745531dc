"""The engine's ``Store`` interface over the add-on's models.

It mirrors the engine's SQLite store: links keyed by (object type,
QuickBooks id), cursors and retries kept on the connection, one run at a time
per connection. Every method works on batches: one read, one insert and one
update statement per call, never a query per record.

Durability: the executor calls ``save_links`` right after each remote write
succeeds, so ``save_links``, ``begin_run``, ``end_run`` and ``set_run_message``
commit (through ``ir.cron._commit_progress``, which also reports progress under
the scheduler).
"""
import logging

from odoo import fields

from . import engine
from .engine import Link, Store

_logger = logging.getLogger(__name__)


class ReadOnlyStore(Exception):
    """A preview tried to write: previews never write anywhere."""


class OdooStore(Store):
    def __init__(self, connection, readonly=False, scrub=()):
        connection.ensure_one()
        self.user = connection.env.user
        self.connection = connection.sudo()
        self.env = self.connection.env
        self.readonly = readonly
        self.scrub = engine.Scrubber(scrub)
        self.run = self.env["billcom_qbo.run"]

    @property
    def run_id(self):
        return self.run.id or None

    def _commit(self):
        self.env["ir.cron"]._commit_progress()

    def _writable(self, what):
        if self.readonly:
            raise ReadOnlyStore(f"A preview may not {what}.")

    # ----------------------------------------------------------------- links
    def load_links(self, object_types=None):
        domain = [("connection_id", "=", self.connection.id)]
        if object_types:
            domain.append(("object_type", "in", list(object_types)))
        rows = self.env["billcom_qbo.link"].search_read(
            domain, ["object_type", "qbo_id", "billcom_id", "qbo_version", "billcom_version", "snapshot",
                     "last_synced"], order="id")
        return [Link(r["object_type"], r["qbo_id"], r["billcom_id"], r["qbo_version"] or None,
                     r["billcom_version"] or None, r["snapshot"] or None,
                     engine.datetime_to_iso(r["last_synced"]))
                for r in rows]

    def save_links(self, links):
        """Insert or update links by (object type, QuickBooks id), then commit."""
        self._writable("save links")
        if not links:
            return
        Links = self.env["billcom_qbo.link"]
        latest = {}
        for link in links:  # the last one for a key wins, as in an upsert
            latest[(link.object_type, str(link.qbo_id))] = link
        existing = Links.search_read(
            [("connection_id", "=", self.connection.id),
             ("object_type", "in", list({k[0] for k in latest})),
             ("qbo_id", "in", list({k[1] for k in latest}))],
            ["object_type", "qbo_id"])
        existing = {(r["object_type"], r["qbo_id"]): r["id"] for r in existing}
        now = fields.Datetime.now()
        to_create = []
        with self.env.cr.savepoint():
            for key, link in latest.items():
                vals = {
                    "billcom_id": str(link.billcom_id),
                    "qbo_version": link.qbo_version,
                    "billcom_version": link.billcom_version,
                    "snapshot": link.snapshot,
                    "last_synced": engine.iso_to_datetime(link.last_synced) or now,
                }
                if key in existing:
                    Links.browse(existing[key]).write(vals)
                else:
                    to_create.append(dict(vals, connection_id=self.connection.id, object_type=key[0],
                                          qbo_id=key[1]))
            Links.create(to_create)
            Links.flush_model()
        self._commit()

    # --------------------------------------------------------------- cursors
    def get_cursors(self):
        return dict(self.connection.cursors or {})

    def set_cursors(self, cursors):
        self._writable("move the read cursors")
        merged = dict(self.connection.cursors or {})
        merged.update(cursors or {})
        self.connection.cursors = merged

    def get_retries(self):
        return [tuple(item) for item in (self.connection.retries or [])]

    def set_retries(self, retries):
        self._writable("change the records to read again")
        self.connection.retries = sorted({tuple(item) for item in (retries or ())})

    # ------------------------------------------------------------------ runs
    def begin_run(self, trigger, user=None):
        """Lock the connection's row, check no live run holds the connection,
        open the run and commit. The row lock (``FOR NO KEY UPDATE``: runs and
        links may still reference the connection) keeps two starting runs apart;
        ``running_run_id`` keeps the connection held across the run's commits."""
        self._writable("start a run")
        connection = self.connection
        if not connection.try_lock_for_update(allow_referencing=True):
            raise engine.engine_errors.SyncAlreadyRunning(engine.ALREADY_RUNNING)
        Run = self.env["billcom_qbo.run"]
        now = fields.Datetime.now()
        holder = connection.running_run_id
        if Run._holds_lock(holder, now):
            raise engine.engine_errors.SyncAlreadyRunning(f"{engine.ALREADY_RUNNING} ({holder.display_name})")
        if holder and holder.state == "running":
            holder.write({"state": "interrupted", "ended": now,
                          "message": "This run stopped without closing (its worker ended); "
                                     "the next run took over and resumed where it stopped."})
        self.run = Run.create({
            "connection_id": connection.id,
            "trigger": trigger if trigger in ("cron", "manual") else "manual",
            "user_id": self.user.id,
            "started": now,
            "heartbeat": now,
            "state": "running",
        })
        connection.running_run_id = self.run
        self._commit()
        return self.run.id

    def _run(self, run_id):
        if self.run.id == run_id:
            return self.run
        return self.env["billcom_qbo.run"].browse(run_id)

    def add_run_lines(self, run_id, lines):
        self._writable("log run lines")
        if not lines:
            return
        vals_list = [dict(engine.run_line_values(line, self.scrub), run_id=run_id) for line in lines]
        self.env["billcom_qbo.run_line"].create(vals_list)

    def update_progress(self, run_id, done, total, stage=None):
        if self.readonly or not run_id:
            return
        self._run(run_id).write({"progress_done": done, "progress_total": total, "stage": stage,
                                 "heartbeat": fields.Datetime.now()})

    def end_run(self, run_id, state, counts, message=None):
        """Close the run, release the connection and commit."""
        self._writable("close a run")
        run = self._run(run_id)
        now = fields.Datetime.now()
        if state not in dict(run._fields["state"].selection):
            state = "failed"
        run.write({"state": state, "ended": now, "heartbeat": now, "counts": counts or {},
                   "message": self.scrub(message) or False})
        vals = {"last_run_id": run.id}
        if self.connection.running_run_id == run:
            vals["running_run_id"] = False
        if state in ("done", "partial"):
            vals["last_sync"] = now
        self.connection.write(vals)
        self._commit()

    def set_run_message(self, run_id, message):
        """Replace a closed run's message (the engine adds the tie-out's verdict), then commit."""
        self._writable("change a run's message")
        self._run(run_id).write({"message": self.scrub(message) or False})
        self._commit()

    def set_run_tie_out(self, run_id, message, verdict, agrees):
        """The tie-out of a closed run: its message, verdict line and outcome, then commit."""
        self._writable("record a run's tie-out")
        self._run(run_id).write({"message": self.scrub(message) or False, "tie_out_verdict": verdict,
                                 "books_agree": bool(agrees)})
        self._commit()

    def abort(self, exc):
        """Close the current run as failed after an error the engine did not catch."""
        _logger.error("Sync run %s failed: %s", self.run_id, self.scrub(str(exc)))
        run = self.run.exists()
        if not run:
            return
        self.end_run(run.id, "failed", run.counts or {},
                     self.scrub(f"The run stopped on an unexpected error: {exc}"))

