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
from odoo.tools import SQL

from . import engine
from .engine import Link, Store

_logger = logging.getLogger(__name__)


class ReadOnlyStore(Exception):
    """A preview tried to write: previews never write anywhere."""


class OdooStore(Store):
    def __init__(self, connection, readonly=False, scrub=(), run=None, tie_out_after=True):
        connection.ensure_one()
        self.user = connection.env.user
        self.connection = connection.sudo()
        self.env = self.connection.env
        self.readonly = readonly
        self.scrub = engine.Scrubber(scrub)
        self.run = run.sudo() if run else self.env["billcom_qbo.run"]
        # True while a batch stops for lack of time: the run goes on in the next batch
        self.pausing = False
        self.tie_out_after = tie_out_after
        self._written = 0  # records written (and linked) in this batch

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
        """The connection's links, read in SQL with each snapshot as its JSON text:
        the engine parses a snapshot only for a record that changed, and the ORM
        cache does not hold every link's values for the whole batch."""
        if object_types:
            return self._read_links(SQL("object_type IN %s ORDER BY id", tuple(object_types)))
        return self._read_links(SQL("TRUE ORDER BY id"))

    def find_links(self, object_type, side, ids):
        """The links of some ids of one side, by the unique index on that side."""
        ids = tuple(str(i) for i in ids)
        if not ids:
            return []
        column = SQL.identifier("qbo_id" if side == "qbo" else "billcom_id")
        return self._read_links(SQL("object_type = %s AND %s IN %s", object_type, column, ids))

    def _read_links(self, condition):
        Links = self.env["billcom_qbo.link"]
        Links.flush_model()
        self.env.cr.execute(SQL(
            "SELECT object_type, qbo_id, billcom_id, qbo_version, billcom_version, snapshot::text, last_synced,"
            " created_in FROM %s WHERE connection_id = %s AND %s",
            SQL.identifier(Links._table), self.connection.id, condition))
        return [Link(otype, qbo_id, billcom_id, qbo_version or None, billcom_version or None, snapshot or None,
                     engine.datetime_to_iso(last_synced), created_in or None)
                for otype, qbo_id, billcom_id, qbo_version, billcom_version, snapshot, last_synced, created_in
                in self.env.cr.fetchall()]

    def has_links(self):
        return bool(self._read_links(SQL("TRUE LIMIT 1")))

    def count_links(self):
        Links = self.env["billcom_qbo.link"]
        Links.flush_model()
        self.env.cr.execute(SQL("SELECT object_type, COUNT(*) FROM %s WHERE connection_id = %s GROUP BY object_type",
                                SQL.identifier(Links._table), self.connection.id))
        return dict(self.env.cr.fetchall())

    def link_page(self, object_type, after=None, limit=1000):
        """A page of one type's links, by the unique index on (connection, type, QuickBooks id)."""
        if after is None:
            return self._read_links(SQL("object_type = %s ORDER BY qbo_id LIMIT %s", object_type, limit))
        return self._read_links(SQL("object_type = %s AND qbo_id > %s ORDER BY qbo_id LIMIT %s",
                                    object_type, after, limit))

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
                                          qbo_id=key[1], created_in=link.created_in))
            Links.create(to_create)
            Links.flush_model()
        self._written += len(latest)
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
    # A run is queued by "Sync now" or the daily schedule and claimed by a
    # scheduler worker (``billcom_qbo.run._claim_work``); each batch of it is
    # one engine run over this store. Batches after the first plan again and go
    # on where the last one stopped (links are saved as each write succeeds), so
    # the run's lines, counts and progress are kept across batches here.
    def begin_run(self, trigger, user=None):
        """Carry on with the claimed run (the claim holds the connection)."""
        self._writable("start a run")
        if not self.run:
            raise engine.engine_errors.SyncError("No run was claimed for this batch.")
        self.run.write({"state": "running", "heartbeat": fields.Datetime.now(), "stage": False})
        self.connection.running_run_id = self.run
        self._batch_done = 0
        self._written_before = self.run.progress_written
        self._commit()
        return self.run.id

    def _run(self, run_id):
        if self.run.id == run_id:
            return self.run
        return self.env["billcom_qbo.run"].browse(run_id)

    def add_run_lines(self, run_id, lines):
        """Log lines; a later batch's line about a record replaces the line an
        earlier batch logged about it (a hold logged again, a failure that
        succeeded on the next try), so each record is counted once."""
        self._writable("log run lines")
        if not lines:
            return
        run = self._run(run_id)
        vals_list = [dict(engine.run_line_values(line, self.scrub), run_id=run_id) for line in lines]
        RunLine = self.env["billcom_qbo.run_line"]
        if run.batch_count > 1:
            keys = {_line_key(vals) for vals in vals_list}
            earlier = RunLine.search([("run_id", "=", run_id), ("batch", "<", run.batch_count),
                                      ("object_type", "in", list({k[0] for k in keys}))])
            earlier.filtered(lambda l: _line_key(l) in keys).unlink()
        RunLine.create([dict(vals, batch=run.batch_count) for vals in vals_list])

    def update_progress(self, run_id, done, total, stage=None):
        if self.readonly or not run_id:
            return
        run = self._run(run_id)
        self._batch_done = done
        run.write({"progress_done": run.progress_offset + done, "progress_total": run.progress_offset + total,
                   "stage": stage, "heartbeat": fields.Datetime.now(),
                   "progress_written": self._written_before + self._written})

    def end_run(self, run_id, state, counts, message=None):
        """Close the run (or, when the batch ran out of time, leave it for the
        next batch), release the connection and commit."""
        self._writable("close a run")
        run = self._run(run_id)
        now = fields.Datetime.now()
        if state == "interrupted" and self.pausing:
            run.write({"batch_open": False, "heartbeat": now,
                       "progress_offset": run.progress_offset + getattr(self, "_batch_done", 0),
                       "progress_written": self._written_before + self._written})
            self._commit()
            return
        if state not in dict(run._fields["state"].selection):
            state = "failed"
        counts, failed = run._line_counts()
        if state == "done" and failed:
            state = "partial"
            message = f"{failed} record(s) could not be synced; see the run lines."
        run.write({"state": state, "ended": now, "heartbeat": now, "counts": counts,
                   "totals": run._line_totals(),
                   "message": self.scrub(message) or False, "batch_open": False,
                   "progress_written": run._count_written(),
                   "tie_out_due": state in ("done", "partial") and self.tie_out_after})
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



def _line_key(line):
    """The record a run line is about: its type, direction and source side's id
    (or its name, for a record not on either side yet)."""
    source = line["qbo_id"] if line["direction"] == engine.QBO_TO_BC else line["billcom_id"]
    return (line["object_type"], line["direction"], source or line["record"])
