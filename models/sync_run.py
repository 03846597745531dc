import datetime

from odoo import api, fields, models
from odoo.tools import format_datetime

from . import summary

# A run that has not reported progress for this long is taken to be dead
# (its worker was killed): the next run may take the connection over.
LOCK_STALE_AFTER = datetime.timedelta(minutes=30)

RUN_STATES = [
    ("running", "Running"),
    ("done", "Done"),
    ("partial", "Done with errors"),
    ("interrupted", "Interrupted"),
    ("failed", "Failed"),
]


class SyncRun(models.Model):
    _name = "billcom_qbo.run"
    _description = "Sync run"
    _order = "started desc, id desc"

    name = fields.Char(compute="_compute_name")
    connection_id = fields.Many2one(
        "billcom_qbo.connection", required=True, index=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    trigger = fields.Selection([("cron", "Scheduled"), ("manual", "Manual")], required=True, readonly=True)
    user_id = fields.Many2one("res.users", string="Started by", readonly=True)
    started = fields.Datetime(readonly=True, default=fields.Datetime.now)
    ended = fields.Datetime(readonly=True)
    heartbeat = fields.Datetime(readonly=True, help="Last sign of life of a running run.")
    duration = fields.Float("Duration (minutes)", compute="_compute_duration")
    state = fields.Selection(RUN_STATES, required=True, default="running", readonly=True, index=True)
    progress_done = fields.Integer(readonly=True)
    progress_total = fields.Integer(readonly=True)
    progress = fields.Float(compute="_compute_progress", help="Share of the planned writes done, in percent.")
    stage = fields.Char(readonly=True)
    counts = fields.Json(readonly=True, help="Records per object type, direction and action.")
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

    @api.depends("counts")
    def _compute_counts(self):
        for run in self:
            totals = summary.totals(run.counts)
            run.summary = summary.render(self.env, run.counts) if run.counts or run.state != "running" else False
            run.write_count = sum(totals[a] for a in summary.WRITE_ACTIONS)
            run.skip_count = totals["skip"]
            run.conflict_count = totals["conflict"]
            run.failed_count = sum(totals[a] for a in summary.FAILED_ACTIONS)

    def _compute_line_count(self):
        counts = dict(self.env["billcom_qbo.run_line"]._read_group(
            [("run_id", "in", self.ids)], ["run_id"], ["__count"]))
        for run in self:
            run.line_count = counts.get(run, 0)

    @api.model
    def _holds_lock(self, run, now=None):
        """Whether ``run`` still holds its connection: running, and alive recently."""
        if not run or run.state != "running":
            return False
        now = now or fields.Datetime.now()
        last_sign = run.heartbeat or run.started
        return bool(last_sign and last_sign > now - LOCK_STALE_AFTER)

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
        action["context"] = {"search_default_group_object_type": 1}
        return action


class SyncRunLine(models.Model):
    """What happened to one record in one run, with the rule or error behind it."""
    _name = "billcom_qbo.run_line"
    _inherit = ["billcom_qbo.record_line.mixin"]
    _description = "Sync run line"
    _order = "run_id desc, id"
    _rec_name = "record"

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
