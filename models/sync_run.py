from odoo import api, fields, models
from odoo.tools import format_datetime

from . import engine, summary

# A run's worker holds a PostgreSQL advisory lock on the run's connection for
# as long as it carries out a batch: session-level, so it outlives the batch's
# commits and dies with the worker's database connection when the worker is
# killed or the server stops. (class id, connection id) is the lock's key.
RUN_LOCK_CLASS = 0x42515300

RUN_STATES = [
    ("queued", "Waiting"),
    ("running", "Running"),
    ("done", "Done"),
    ("partial", "Done with errors"),
    ("interrupted", "Interrupted"),
    ("failed", "Failed"),
]


class SyncRun(models.Model):
    _name = "billcom_qbo.run"
    _description = "Sync run"
    _inherit = ["billcom_qbo.connection_record.mixin"]
    _order = "started desc, id desc"

    name = fields.Char(compute="_compute_name")
    trigger = fields.Selection([("cron", "Scheduled"), ("manual", "Manual")], required=True, readonly=True)
    user_id = fields.Many2one("res.users", string="Started by", readonly=True)
    started = fields.Datetime(readonly=True, default=fields.Datetime.now)
    ended = fields.Datetime(readonly=True)
    heartbeat = fields.Datetime(readonly=True, help="Last sign of life of a running run.")
    object_types = fields.Json(readonly=True, help="Object type codes this run syncs; empty: all.")
    batch_count = fields.Integer(
        "Batches", readonly=True,
        help="Scheduled-action runs this sync took: a long sync is carried out in batches "
             "that each end within the scheduler's time limit.")
    batch_open = fields.Boolean(readonly=True, help="A worker is carrying out a batch of this run now.")
    progress_offset = fields.Integer(readonly=True, help="Records done in earlier batches.")
    progress_written = fields.Integer("Written so far", readonly=True)
    tie_out_due = fields.Boolean(readonly=True, index=True, help="The run is done; its tie-out is next.")
    tie_out_state = fields.Json(
        readonly=True, copy=False, groups="base.group_system",
        help="Where a tie-out that did not fit in one scheduler round goes on from.")
    tie_out_compared = fields.Integer(readonly=True, help="Linked records the tie-out has compared so far.")
    tie_out_links = fields.Integer(readonly=True, help="Linked records the tie-out compares.")
    resumed_run_id = fields.Many2one(
        "billcom_qbo.run", string="Resumes", readonly=True,
        help="The interrupted run this one took over from.")
    stage_text = fields.Char("Working on", compute="_compute_progress_text")
    progress_text = fields.Char("Status", compute="_compute_progress_text")
    duration = fields.Float("Duration (minutes)", compute="_compute_duration")
    state = fields.Selection(RUN_STATES, required=True, default="running", readonly=True, index=True)
    progress_done = fields.Integer(readonly=True)
    progress_total = fields.Integer(readonly=True)
    progress = fields.Float(compute="_compute_progress", help="Share of the planned writes done, in percent.")
    stage = fields.Char(readonly=True)
    counts = fields.Json(readonly=True, help="Records per object type, direction and action.")
    totals = fields.Json(readonly=True, help="Amounts per object type, direction and action, per currency.")
    summary = fields.Text(compute="_compute_counts", store=True)
    write_count = fields.Integer("Written", compute="_compute_counts", store=True)
    skip_count = fields.Integer("Skipped", compute="_compute_counts", store=True)
    conflict_count = fields.Integer("Conflicts", compute="_compute_counts", store=True)
    failed_count = fields.Integer("Failed", compute="_compute_counts", store=True)
    message = fields.Text(readonly=True)
    tie_out_verdict = fields.Char(
        "Tie-out", readonly=True,
        help="Both books compared to the cent after the run: every synced document's total and open "
             "balance, every synced payment, every linked vendor's and customer's open balance.")
    books_agree = fields.Boolean(readonly=True, help="The tie-out after this run found no difference.")
    line_ids = fields.One2many("billcom_qbo.run_line", "run_id", string="Lines", readonly=True)
    line_count = fields.Integer(compute="_compute_line_count")

    @api.depends("connection_id", "started")
    @api.depends_context("tz", "lang")
    def _compute_name(self):
        for run in self:
            # in the user's time zone, like the "Started" field next to it
            run.name = self.env._("%(connection)s, %(date)s", connection=run.connection_id.name or "",
                                  date=format_datetime(self.env, run.started) if run.started else "")

    @api.depends("started", "ended")
    def _compute_duration(self):
        for run in self:
            end = run.ended or (fields.Datetime.now() if run.state == "running" else run.started)
            run.duration = ((end - run.started).total_seconds() / 60.0) if run.started and end else 0.0

    @api.depends("progress_done", "progress_total", "state")
    def _compute_progress(self):
        for run in self:
            if run.state in ("done", "partial"):
                run.progress = 100.0
            elif run.progress_total:
                run.progress = min(100.0, 100.0 * run.progress_done / run.progress_total)
            else:
                run.progress = 0.0

    @api.depends("state", "stage", "progress_done", "progress_total", "progress_written", "started",
                 "tie_out_due", "tie_out_compared", "tie_out_links")
    def _compute_progress_text(self):
        """"Creating customers in Bill.com: 120 of 400 records, 87 written, 1 min 20 s
        elapsed, about 3 min left"."""
        now = fields.Datetime.now()
        for run in self:
            run.stage_text = run._stage_words()
            if run.state not in ("queued", "running") and not run.tie_out_due:
                run.progress_text = False
                continue
            parts = [run.stage_text]
            if run.tie_out_due and run.tie_out_links:
                parts.append(self.env._("%(done)s of %(total)s linked records compared so far",
                                        done=run.tie_out_compared, total=run.tie_out_links))
            elif run.progress_total:
                # the engine plans a type (and a page) at a time: the total grows as it goes
                parts.append(self.env._("%(done)s of %(total)s records planned so far", done=run.progress_done,
                                        total=run.progress_total))
                parts.append(self.env._("%s written", run.progress_written))
            elapsed = (now - run.started).total_seconds() if run.started else 0
            if run.state == "running" and elapsed > 0:
                parts.append(self.env._("%s elapsed", self._duration_words(elapsed)))
                left = run._seconds_left(elapsed)
                if left is not None:
                    parts.append(self.env._("about %s left for those", self._duration_words(left)))
            run.progress_text = ", ".join(p for p in parts if p)

    def _stage_words(self):
        self.ensure_one()
        if self.state == "queued":
            return self.env._(engine.stages.QUEUED)
        if self.tie_out_due:
            return self.env._(engine.stages.TIE_OUT)
        if self.state == "running" and not self.stage:
            return self.env._(engine.stages.PLANNING)
        return engine.stages.describe(self.stage) if self.state == "running" else False

    @api.model
    def _duration_words(self, seconds):
        """45 s, 3 min 20 s, 2 h 05 min."""
        seconds = int(round(seconds))
        if seconds < 60:
            return self.env._("%s s", seconds)
        minutes, seconds = divmod(seconds, 60)
        if minutes < 60:
            return self.env._("%(m)s min %(s)02d s", m=minutes, s=seconds)
        hours, minutes = divmod(minutes, 60)
        return self.env._("%(h)s h %(m)02d min", h=hours, m=minutes)

    def _seconds_left(self, elapsed):
        """At the pace so far; None until there is a pace to go by."""
        done, total = self.progress_done, self.progress_total
        if not total or not done or done >= total:
            return None
        return elapsed * (total - done) / done

    @api.depends("counts", "totals", "state")
    def _compute_counts(self):
        for run in self:
            totals = summary.totals(run.counts)
            finished = run.state not in ("queued", "running")
            run.summary = summary.render(self.env, run.counts, run.state, run.totals) \
                if run.counts or finished else False
            run.write_count = sum(totals[a] for a in summary.WRITE_ACTIONS)
            run.skip_count = totals["skip"]
            run.conflict_count = totals["conflict"]
            run.failed_count = sum(totals[a] for a in summary.FAILED_ACTIONS)

    def _compute_line_count(self):
        counts = dict(self.env["billcom_qbo.run_line"]._read_group(
            [("run_id", "in", self.ids)], ["run_id"], ["__count"]))
        for run in self:
            run.line_count = counts.get(run, 0)

    # --------------------------------------------------------------- liveness
    @api.model
    def _connection_lock_held(self, connection_ids):
        """The connections among ``connection_ids`` whose run lock a live worker
        holds now (any server sharing this database)."""
        if not connection_ids:
            return set()
        self.env.cr.execute("""
            SELECT objid FROM pg_locks
             WHERE locktype = 'advisory' AND granted AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND classid = %s AND objid = ANY(%s)
        """, [RUN_LOCK_CLASS, list(connection_ids)])
        return {row[0] for row in self.env.cr.fetchall()}

    def _worker_died(self):
        """A batch was open but no worker holds the connection: the worker was
        killed or its server stopped mid-batch."""
        self.ensure_one()
        return (self.state == "running" and self.batch_open
                and self.connection_id.id not in self._connection_lock_held([self.connection_id.id]))

    def _holds_connection(self):
        """Whether this run still holds its connection: waiting, between batches,
        or in a batch whose worker is alive."""
        self.ensure_one()
        return self.state in ("queued", "running") and not self._worker_died()

    def _mark_worker_died(self):
        """Close a run whose worker died, saying where it stopped."""
        self.ensure_one()
        point = self.progress_text or self._stage_words() or ""
        self.write({
            "state": "interrupted", "ended": fields.Datetime.now(), "batch_open": False, "tie_out_due": False,
            "message": self.env._("Its worker stopped during batch %(batch)s (%(point)s); the next run "
                                  "resumes where it stopped.", batch=self.batch_count, point=point),
        })

    # ------------------------------------------------------------ run's lines
    def _line_counts(self):
        """(counts in the engine's key format, failed records) of the run's lines."""
        self.ensure_one()
        groups = self.env["billcom_qbo.run_line"]._read_group(
            [("run_id", "=", self.id)], ["object_type", "direction", "action", "state"], ["__count"])
        counts, failed = {}, 0
        for object_type, direction, action, state, n in groups:
            action = "failed" if state == "failed" else action
            key = engine.count_key(object_type, direction, action)
            counts[key] = counts.get(key, 0) + n
            if action in summary.FAILED_ACTIONS:
                failed += n
        return counts, failed

    def _line_totals(self):
        """The run's amounts in the counts' key format, per currency."""
        self.ensure_one()
        groups = self.env["billcom_qbo.run_line"]._read_group(
            [("run_id", "=", self.id), ("has_amount", "=", True)],
            ["object_type", "direction", "action", "state", "currency"], ["amount:sum"])
        totals = {}
        for object_type, direction, action, state, currency, amount in groups:
            action = "failed" if state == "failed" else action
            summary.add_total(totals, engine.count_key(object_type, direction, action),
                              round(amount or 0.0, 2), currency)
        return totals

    def _count_written(self):
        self.ensure_one()
        return self.env["billcom_qbo.run_line"].search_count([
            ("run_id", "=", self.id), ("action", "in", list(summary.WRITE_ACTIONS)), ("state", "!=", "failed")])

    def _open_form(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "billcom_qbo.run",
            "res_id": self.id,
            "view_mode": "form",
            "target": "current",
        }

    def action_view_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("billcom_qbo_sync.action_run_line")
        action["domain"] = [("run_id", "=", self.id)]
        action["context"] = {"search_default_group_attention": 1, "search_default_group_object_type": 1}
        return action


class SyncRunLine(models.Model):
    """What happened to one record in one run, with the rule or error behind it."""
    _name = "billcom_qbo.run_line"
    _inherit = ["billcom_qbo.record_line.mixin"]
    _description = "Sync run line"
    _order = "run_id desc, attention, id"

    run_id = fields.Many2one("billcom_qbo.run", required=True, index=True, ondelete="cascade", readonly=True)
    connection_id = fields.Many2one(related="run_id.connection_id", store=True, index=True)
    company_id = fields.Many2one(related="run_id.company_id", store=True, index=True)
    started = fields.Datetime(related="run_id.started")
    # the mixin's fields, indexed here: the run log is searched by them
    object_type = fields.Char(index=True)
    action = fields.Char(index=True, help="create, update, link, archive, void, skip, conflict or error")
    qbo_id = fields.Char(index="btree_not_null")
    billcom_id = fields.Char(index="btree_not_null")
    rule_code = fields.Char(index=True)
    batch = fields.Integer(readonly=True, help="The batch of the run that logged this line.")

    def _sync_connection(self):
        return self.connection_id
