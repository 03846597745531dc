import datetime
import logging
import time

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import config as server_config, format_datetime

from . import engine
from .odoo_store import OdooStore
from .pacing import PgBoard, PgKeeper

_logger = logging.getLogger(__name__)

# The scheduled action fires once a day. A connection synced less than this long
# ago is not due, so an interrupted round (rescheduled at once by the scheduler)
# only picks up the connections that have not been synced yet today.
SCHEDULE_INTERVAL = datetime.timedelta(hours=20)
# no completed run for this long while automatic sync is on: the daily run was missed
MISSED_AFTER = datetime.timedelta(hours=36)
# a to-do for the responsible user this many days before the QuickBooks authorization ends
AUTHORIZATION_NOTICE_DAYS = 14

MASTER_SIDES = [("none", "None (hold conflicts)"), ("qbo", "QuickBooks"), ("billcom", "Bill.com")]
# share of the server's real-time limit a tie-out asked for from a button may take
REQUEST_TIE_OUT_SHARE = 0.6


def _request_deadline():
    """When a tie-out run in this request must stop (``time.monotonic()``), or
    None. The multi-process server kills a request past ``limit_time_real``
    (odoo/service/server.py, WorkerHTTP); stopping first lets the tie-out say
    how far it got instead of the user seeing a dropped connection."""
    limit = server_config.get("limit_time_real")
    if not server_config.get("workers") or not limit or limit <= 0:
        return None
    return time.monotonic() + REQUEST_TIE_OUT_SHARE * limit


def _button_of(field, method):
    """A button of the connection form that is the button ``method`` of the
    record in ``field`` (its QuickBooks company, Bill.com organization or last run)."""
    def action(self):
        self.ensure_one()
        return getattr(self[field], method)()
    return action


class Connection(models.Model):
    _name = "billcom_qbo.connection"
    _description = "Bill.com - QuickBooks connection"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", string="Company", required=True, index=True,
        default=lambda self: self.env.company)
    qbo_company_id = fields.Many2one(
        "billcom_qbo.qbo_company", string="QuickBooks company", required=True, check_company=True,
        ondelete="restrict", tracking=True)
    billcom_org_id = fields.Many2one(
        "billcom_qbo.billcom_org", string="Bill.com organization", required=True, check_company=True,
        ondelete="restrict", tracking=True)

    # --- the settings Bill.com's own sync offers
    auto_sync = fields.Boolean("Daily automatic sync", default=True, tracking=True)
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user, tracking=True,
        help="Gets a to-do when the daily sync fails twice in a row or the QuickBooks authorization "
             "is about to expire.")
    bank_account_id = fields.Many2one(
        "billcom_qbo.qbo_account", string="Bank account for payments", check_company=True, tracking=True,
        domain="[('qbo_company_id', '=', qbo_company_id), ('account_type', '=', 'Bank')]",
        help="QuickBooks account the bill payments recorded from Bill.com are paid from.")
    deposit_account_id = fields.Many2one(
        "billcom_qbo.qbo_account", string="Deposit account", check_company=True, tracking=True,
        domain="[('qbo_company_id', '=', qbo_company_id), '|', ('account_type', '=', 'Bank'), "
               "('account_sub_type', '=', 'UndepositedFunds')]",
        help="QuickBooks account the payments received in Bill.com are deposited to "
             "(a bank account or Undeposited Funds).")
    ap_account_id = fields.Many2one(
        "billcom_qbo.qbo_account", string="Accounts payable", check_company=True, tracking=True,
        domain="[('qbo_company_id', '=', qbo_company_id), ('account_type', '=', 'Accounts Payable')]")
    ar_account_id = fields.Many2one(
        "billcom_qbo.qbo_account", string="Accounts receivable", check_company=True, tracking=True,
        domain="[('qbo_company_id', '=', qbo_company_id), ('account_type', '=', 'Accounts Receivable')]")
    sync_only_approved_bills = fields.Boolean(
        "Sync only approved bills", tracking=True,
        help="Bills not approved yet in Bill.com stay out of QuickBooks.")
    billcom_v2_bulk = fields.Boolean(
        "Bulk writes through Bill.com's v2 API", tracking=True,
        help="Vendors, customers and invoices are created in Bill.com 100 a request through its older "
             "v2 API, where v3 takes 20 (vendors) or one (customers, invoices), so a first sync of a large "
             "company uses far fewer requests of the hourly quota. Each created record is read back "
             "through v3 before it is linked; a record v2 does not create is created through v3.")
    master_side = fields.Selection(
        MASTER_SIDES, string="Master in case of conflict", default="none", required=True, tracking=True,
        help="A record edited on both sides since the last sync is held as a conflict, "
             "unless a master side is set: then that side's version wins.")

    # --- what the rules say (read-only, from the Bill.com organization and QuickBooks)
    payment_sync_mode = fields.Selection(related="billcom_org_id.payment_sync_mode")
    payment_sync_explanation = fields.Char(related="billcom_org_id.payment_sync_explanation")
    credit_memos_sync = fields.Boolean(related="billcom_org_id.credit_memos_sync")
    credit_memos_explanation = fields.Char(related="billcom_org_id.credit_memos_explanation")
    class_tracking_per_line = fields.Boolean(related="qbo_company_id.class_tracking_per_line")
    qbo_state = fields.Selection(related="qbo_company_id.state", string="QuickBooks")
    billcom_state = fields.Selection(related="billcom_org_id.state", string="Bill.com")
    token_warning = fields.Char(related="qbo_company_id.token_warning")

    # --- sync state
    last_sync = fields.Datetime(
        "Last sync", readonly=True, copy=False, help="End of the last run that went through to the end.")
    next_sync = fields.Datetime(
        "Next sync", compute="_compute_next_sync",
        help="When the daily automatic sync is next expected to run.")
    last_run_id = fields.Many2one("billcom_qbo.run", string="Last run", readonly=True, copy=False)
    last_run_state = fields.Selection(related="last_run_id.state", string="Last run state")
    last_run_summary = fields.Text(related="last_run_id.summary", string="Last run summary")
    last_run_message = fields.Text(related="last_run_id.message", string="Last run message")
    last_tie_out = fields.Char(related="last_run_id.tie_out_verdict", string="Tie-out")
    books_agree = fields.Boolean(related="last_run_id.books_agree")
    # --- the last tie-out asked for from the connection (Reconciliation)
    tie_out_checked_at = fields.Datetime("Tie-out checked at", readonly=True, copy=False)
    tie_out_verdict = fields.Char(
        "Tie-out verdict", readonly=True, copy=False,
        help="Both books compared to the cent: every synced document's total and open balance, "
             "every synced payment, every linked vendor's and customer's open balance.")
    tie_out_agrees = fields.Boolean("Books agree at the tie-out", readonly=True, copy=False)
    tie_out_line_ids = fields.One2many("billcom_qbo.tie_out_line", "connection_id", string="Tie-out differences")
    running_run_id = fields.Many2one(
        "billcom_qbo.run", string="Run in progress", readonly=True, copy=False,
        help="The run holding this connection; one sync per connection at a time.")
    running_progress = fields.Char(related="running_run_id.progress_text", string="Progress")
    # --- health at a glance
    setup_missing = fields.Char(
        "Set-up missing", compute="_compute_setup_missing",
        help="What the connection still needs before it can sync automatically.")
    waiting_count = fields.Integer(
        "Waiting on a person", compute="_compute_waiting_count",
        help="Records the last run held, skipped or could not sync: the run's to-do list.")
    authorization_days_left = fields.Integer(
        "QuickBooks authorization: days left", compute="_compute_authorization_days_left",
        help="Days until QuickBooks needs a new sign-in: the refresh token lapses after 100 days "
             "without use, and every authorization ends 5 years after it was given.")
    missed_daily_run = fields.Boolean(
        "Daily run missed", compute="_compute_missed_daily_run",
        help="Automatic sync is on but no run went through in the last day and a half.")
    state = fields.Selection(
        [("draft", "Not ready"), ("ready", "Ready"), ("running", "Running"), ("ok", "Synced"),
         ("warning", "Synced with errors"), ("error", "Error"), ("reconnect", "Reconnect needed")],
        compute="_compute_state")
    run_ids = fields.One2many("billcom_qbo.run", "connection_id", string="Runs")
    run_count = fields.Integer(compute="_compute_run_count")
    link_count = fields.Integer(compute="_compute_link_count")
    # engine state between runs (incremental read cursors, records to read again)
    cursors = fields.Json(copy=False, groups="base.group_system")
    retries = fields.Json(copy=False, groups="base.group_system")

    # ------------------------------------------------------------------ compute
    @api.depends("bank_account_id", "deposit_account_id", "ap_account_id", "ar_account_id")
    def _compute_setup_missing(self):
        for connection in self:
            missing = connection._missing_accounts()
            connection.setup_missing = self.env._(
                "Choose the %s before the connection can sync.", ", ".join(missing)) if missing else False

    def _missing_accounts(self):
        """The QuickBooks accounts a sync needs that are not chosen yet, in words."""
        self.ensure_one()
        labels = [(self.bank_account_id, self.env._("bank account for payments")),
                  (self.deposit_account_id, self.env._("deposit account")),
                  (self.ap_account_id, self.env._("accounts payable")),
                  (self.ar_account_id, self.env._("accounts receivable"))]
        return [label for account, label in labels if not account]

    @api.constrains("auto_sync", "bank_account_id", "deposit_account_id", "ap_account_id", "ar_account_id")
    def _check_accounts_for_auto_sync(self):
        for connection in self:
            if connection.auto_sync and connection._missing_accounts():
                raise ValidationError(self.env._(
                    "Connection %(name)s syncs daily: choose the %(missing)s first (or turn daily "
                    "automatic sync off).", name=connection.name,
                    missing=", ".join(connection._missing_accounts())))

    def _compute_waiting_count(self):
        Line = self.env["billcom_qbo.run_line"]
        for connection in self:
            run = connection.last_run_id
            connection.waiting_count = Line.search_count([
                ("run_id", "=", run.id), ("attention", "=", "person")]) if run else 0

    @api.depends("qbo_company_id.refresh_token_expires_at", "qbo_company_id.refresh_token_hard_expires_at")
    def _compute_authorization_days_left(self):
        now = fields.Datetime.now()
        for connection in self:
            qbo = connection.qbo_company_id
            ends = [d for d in (qbo.refresh_token_expires_at, qbo.refresh_token_hard_expires_at) if d]
            connection.authorization_days_left = (min(ends) - now).days if ends else 0

    @api.depends("auto_sync", "last_sync")
    def _compute_missed_daily_run(self):
        now = fields.Datetime.now()
        for connection in self:
            since = connection.last_sync or connection.create_date
            connection.missed_daily_run = bool(connection.auto_sync and since
                                               and now - since > MISSED_AFTER)

    @api.depends("auto_sync", "last_sync", "bank_account_id", "deposit_account_id", "ap_account_id",
                 "ar_account_id")
    def _compute_next_sync(self):
        cron = self.env.ref("billcom_qbo_sync.ir_cron_daily_sync", raise_if_not_found=False)
        nextcall = cron.sudo().nextcall if cron and cron.sudo().active else False
        for connection in self:
            if not (connection.auto_sync and nextcall) or connection._missing_accounts():
                connection.next_sync = False
            elif connection.last_sync and nextcall - connection.last_sync < SCHEDULE_INTERVAL:
                connection.next_sync = nextcall + datetime.timedelta(days=1)
            else:
                connection.next_sync = nextcall

    @api.depends("running_run_id.state", "last_run_id.state", "qbo_company_id.state",
                 "billcom_org_id.state")
    def _compute_state(self):
        for connection in self:
            run = connection.last_run_id
            if connection.qbo_company_id.state == "reconnect":
                connection.state = "reconnect"
            elif connection.running_run_id.state in ("queued", "running"):
                connection.state = "running"
            elif connection.qbo_company_id.state == "draft":
                connection.state = "draft"
            elif not run:
                connection.state = "ready"
            elif run.state == "done":
                connection.state = "ok"
            elif run.state in ("partial", "interrupted"):
                connection.state = "warning"
            else:
                connection.state = "error"

    def _compute_run_count(self):
        counts = dict(self.env["billcom_qbo.run"]._read_group(
            [("connection_id", "in", self.ids)], ["connection_id"], ["__count"]))
        for connection in self:
            connection.run_count = counts.get(connection, 0)

    def _compute_link_count(self):
        counts = dict(self.env["billcom_qbo.link"]._read_group(
            [("connection_id", "in", self.ids)], ["connection_id"], ["__count"]))
        for connection in self:
            connection.link_count = counts.get(connection, 0)

    # --------------------------------------------------------- engine objects
    def _engine_config(self, object_types=None):
        """The engine's ``ConnectionConfig`` for this connection, secrets included:
        keep it in memory only."""
        self.ensure_one()
        connection = self.sudo()
        if not connection.billcom_org_id.signup_date or not connection.billcom_org_id.start_date:
            raise UserError(self.env._("Set the sign-up and start dates of the Bill.com organization first."))
        master = connection.master_side if connection.master_side != "none" else None
        settings = engine.engine_config.SyncSettings(
            bank_account_id=connection.bank_account_id.qbo_id or None,
            deposit_account_id=connection.deposit_account_id.qbo_id or None,
            ap_account_id=connection.ap_account_id.qbo_id or None,
            ar_account_id=connection.ar_account_id.qbo_id or None,
            sync_only_approved_bills=connection.sync_only_approved_bills,
            master_side=master,
            object_types=tuple(object_types) if object_types else None,
            excluded=tuple(connection._excluded_keys()),
            record_masters=dict(connection.record_masters or {}),
            billcom_v2_bulk=connection.billcom_v2_bulk,
        )
        return engine.engine_config.ConnectionConfig(
            qbo=connection.qbo_company_id._engine_account(),
            billcom=connection.billcom_org_id._engine_account(),
            facts=connection.billcom_org_id._engine_facts(),
            settings=settings,
            name=connection.name,
        )

    def _lock_is_live(self, now=None):
        """Whether a run holds this connection (waiting, running, or between batches)."""
        self.ensure_one()
        holder = self.sudo().running_run_id
        return bool(holder and holder._holds_connection())

    def _is_due(self, now):
        """The ``schedule`` rule: automatic sync once a day."""
        self.ensure_one()
        verdict = self._rule_schedule(
            self.auto_sync, self.last_sync or None, now, running=self._lock_is_live(now), interval=SCHEDULE_INTERVAL)
        return verdict.allowed

    # ------------------------------------------------------------------ rules
    # One method a rule, named after its code: the engine consults these for
    # this connection (engine.ConnectionRules). Override one in a module that
    # inherits the connection to change the rule; each returns the engine's
    # Verdict (allowed, code, message).
    def _rule_payment_sync_mode(self, signup_date, under_accountant_console):
        return engine.engine_rules.payment_sync_mode(signup_date, under_accountant_console)

    def _rule_paid_in_qbo(self, total, balance, already_linked=False):
        return engine.engine_rules.paid_in_qbo(total, balance, already_linked)

    def _rule_no_attachments(self, attachment_count):
        return engine.engine_rules.no_attachments(attachment_count)

    def _rule_credit_memo_start_date(self, start_date):
        return engine.engine_rules.credit_memo_start_date(start_date)

    def _rule_class_per_line(self, class_tracking_per_line, direction):
        return engine.engine_rules.class_per_line(class_tracking_per_line, direction)

    def _rule_non_usd(self, currency):
        return engine.engine_rules.non_usd(currency)

    def _rule_approved_only(self, sync_only_approved_bills, approval_status):
        return engine.engine_rules.approved_only(sync_only_approved_bills, approval_status)

    def _rule_schedule(self, auto_sync, last_sync, now, running=False, interval=SCHEDULE_INTERVAL):
        return engine.engine_rules.schedule(auto_sync, last_sync, now, running=running, interval=interval)

    def _rule_document_total(self, lines_total, discount, tax, source_total, side):
        return engine.engine_rules.document_total(lines_total, discount, tax, source_total, side)

    def _rule_carried_shape(self, object_type, values, target_side):
        return engine.engine_rules.carried_shape(object_type, values, target_side)

    def _rule_target_accepts(self, object_type, values, target_side):
        return engine.engine_rules.target_accepts(object_type, values, target_side)

    def _rule_unique_name(self, name, clashes, target_side):
        return engine.engine_rules.unique_name(name, clashes, target_side)

    def _rule_name_taken(self, name, kind):
        return engine.engine_rules.name_taken(name, kind)

    def _rule_excluded(self, object_type, side, remote_id, excluded_records):
        return engine.engine_rules.excluded(object_type, side, remote_id, excluded_records)

    # -------------------------------------------------------------- preview/run
    def _preview(self, object_types=None):
        """The engine's Plan for a run now. Writes nothing to either side, nor here
        (the read-only store refuses writes), except rotated QuickBooks tokens."""
        self.ensure_one()
        self.check_access("read")
        config = self._engine_config(object_types)
        store = OdooStore(self, readonly=True)
        service = self._sync_service(config, store)
        try:
            plan = service.preview()
        except engine.engine_errors.ReconnectNeeded as exc:
            message = engine.Scrubber(config.secrets())(str(exc))
            self._note_side_error(exc, message)  # commits: the error below rolls back
            raise UserError(message) from exc
        except engine.REMOTE_FAILURES as exc:
            scrub = engine.Scrubber(config.secrets())
            raise UserError(self.env._("The preview could not be made: %s", scrub(str(exc)))) from exc
        scrub = engine.Scrubber(config.secrets())
        for line in plan.lines:
            engine.scrub_run_line(line, scrub)
        return plan

    def _compute_tie_out(self, deadline=None, resume=None):
        """(the engine's TieOut now, the scrubber for its texts). Reads only, on
        both sides (the read-only store refuses writes), except rotated
        QuickBooks tokens. A refused QuickBooks authorization marks the company.
        ``deadline`` (``time.monotonic()``): stop there and say how far it got;
        ``resume``: the state a stopped tie-out left, to go on from there."""
        self.ensure_one()
        config = self._engine_config()
        store = OdooStore(self, readonly=True)
        service = self._sync_service(config, store)
        scrub = engine.Scrubber(config.secrets())
        try:
            return service.tie_out(deadline=deadline, resume=resume), scrub
        except engine.engine_errors.ReconnectNeeded as exc:
            self._note_side_error(exc, scrub(str(exc)))
            raise

    def _tie_out(self):
        """Compare both books now and keep the result on the connection: its
        verdict, and one ``billcom_qbo.tie_out_line`` per difference (replacing
        the previous ones)."""
        self.ensure_one()
        self.check_access("write")
        scrub = self._scrubber()
        try:
            report, scrub = self._compute_tie_out(deadline=_request_deadline())
        except engine.engine_errors.ReconnectNeeded as exc:
            raise UserError(scrub(str(exc))) from exc
        except engine.REMOTE_FAILURES as exc:
            raise UserError(self.env._("The tie-out could not be computed: %s", scrub(str(exc)))) from exc
        now = fields.Datetime.now()
        lines = self.env["billcom_qbo.tie_out_line"].sudo()
        lines.search([("connection_id", "=", self.id)]).unlink()
        lines.create([dict(engine.tie_out_line_values(difference, scrub), connection_id=self.id, checked_at=now)
                      for difference in report.differences])
        self.sudo().write({
            "tie_out_checked_at": now,
            "tie_out_verdict": scrub(report.verdict()),
            "tie_out_agrees": report.agrees,
        })
        return report

    # ------------------------------------------------------------ queued runs
    def _queue_sync(self, trigger="manual", object_types=None):
        """Queue a sync of this connection for the worker scheduled actions and
        return its run ("Sync now" and the daily schedule). Calls no remote API.

        :raises UserError: when a run of this connection is waiting or running
            (the message names it and its progress), or the connection is not
            configured enough to sync
        """
        self.ensure_one()
        self.check_access("read")
        connection = self.sudo()
        if not connection.try_lock_for_update(allow_referencing=True):
            raise UserError(self.env._("%s Try again in a moment.", engine.ALREADY_RUNNING))
        holder = connection.running_run_id
        if holder and holder._holds_connection():
            raise UserError(self._busy_message(holder))
        self._engine_config(object_types)  # refuse an incomplete configuration now, not in the worker
        resumes = False
        if holder and holder.state == "running":
            holder._mark_worker_died()
            resumes = holder
        return connection._queue_run(trigger, object_types, resumes=resumes)

    def _busy_message(self, run):
        return self.env._(
            "%(already)s %(run)s is %(state)s: %(progress)s. It must end before another sync of "
            "%(connection)s starts; its progress shows on the run.",
            already=engine.ALREADY_RUNNING, run=run.display_name,
            state=dict(run._fields["state"]._description_selection(self.env))[run.state].lower(),
            progress=run.progress_text or run.stage_text or "", connection=self.display_name)

    def _queue_run(self, trigger, object_types=None, resumes=False, wake=True):
        """A waiting run holding this connection (the one already waiting, if any)."""
        self.ensure_one()
        connection = self.sudo()
        Run = self.env["billcom_qbo.run"].sudo()
        waiting = Run.search([("connection_id", "=", self.id), ("state", "=", "queued")], limit=1)
        run = waiting or Run.create({
            "connection_id": self.id,
            "trigger": trigger if trigger in ("cron", "manual") else "manual",
            "user_id": self.env.uid,
            "state": "queued",
            "object_types": list(object_types) if object_types else False,
            "resumed_run_id": resumes.id if resumes else False,
        })
        connection.running_run_id = run
        if wake:
            Run._wake_workers(1)
        return run

    def _carry_out_batch(self, run, deadline):
        """One batch of ``run``: the engine plans and writes until the batch's
        time is up (``deadline``, monotonic), then stops between two write
        batches; the run stays running for the next batch. Commits as it goes."""
        self.ensure_one()
        if run.batch_count == 1:
            # before the configuration is built: reading them may rotate the tokens
            self.qbo_company_id._refresh_company_facts()
        try:
            config = self._engine_config(run.object_types or None)
        except UserError as exc:
            store = OdooStore(self, run=run)
            store.end_run(run.id, "failed", {}, self.env._("The sync could not start: %s", exc))
            return
        store = OdooStore(self, scrub=config.secrets(), run=run)
        cron = self.env["ir.cron"]
        first_done = []

        def progress(done, total, stage):
            store.update_progress(run.id, done, total, stage)
            cron._commit_progress()
            if not first_done:
                first_done.append(done)
            # always let a batch write something, so a slow plan never starves the run
            if time.monotonic() < deadline or done <= first_done[0]:
                return True
            store.pausing = True
            return False

        service = self._sync_service(config, store, progress=progress, learn=store.scrub.learn)
        try:
            result = service.run(run.trigger, user=run.user_id.login, tie_out=False)
        except Exception as exc:
            # the engine closes its runs itself; this covers what escaped it
            self.env.cr.rollback()
            store.abort(exc)
            self._note_side_error(exc, store.scrub(str(exc)))
            return
        error = getattr(result, "error", None)
        if result.state == "failed" and error is not None:
            self._note_side_error(error, result.message)
        elif result.state in ("done", "partial", "interrupted"):
            self._note_sides_working()
        cron._commit_progress()

    def _note_side_error(self, error, message):
        """An error refusing the connection marks only the side it came from."""
        if not isinstance(error, engine.engine_errors.ReconnectNeeded):
            return
        if engine.is_billcom_error(error):
            self.billcom_org_id._mark_refused(message)
        else:
            self.qbo_company_id._mark_reconnect(message)
        self.env["ir.cron"]._commit_progress()

    def _note_sides_working(self):
        """Both sides answered a whole batch: a "Reconnect needed" or sign-in
        error left by an earlier run no longer holds."""
        qbo, org = self.sudo().qbo_company_id, self.sudo().billcom_org_id
        if qbo.state == "reconnect":
            qbo.write({"state": "connected", "last_error": False})
        if org.state == "error":
            org.write({"state": "connected", "last_error": False})

    def _sync_service(self, config, store, progress=None, learn=None):
        """The engine's service for this connection, pacing its requests and
        refreshing its QuickBooks tokens together with every other worker."""
        keeper = PgKeeper(self.sudo().qbo_company_id)
        save_tokens = self.qbo_company_id._token_saver(keeper)

        def on_tokens(tokens):
            if learn:
                learn([tokens.access_token, tokens.refresh_token])
            save_tokens(tokens)

        return engine.sync_service(config, store, on_tokens=on_tokens, progress=progress,
                                   rule_book=engine.ConnectionRules(self), pacing_board=PgBoard(self.env),
                                   token_keeper=keeper)

    def _scrubber(self):
        return engine.Scrubber(self._secret_values())

    def _log_failed_start(self, trigger, exc):
        """A run that could not even start (incomplete configuration) still leaves
        a failed run on the connection, so the error is not only in the server log."""
        self.ensure_one()
        scrub = engine.Scrubber(self._secret_values())
        now = fields.Datetime.now()
        run = self.env["billcom_qbo.run"].sudo().create({
            "connection_id": self.id, "trigger": trigger, "user_id": self.env.uid, "started": now,
            "ended": now, "state": "failed", "counts": {},
            "message": scrub(self.env._("The sync could not start: %s", exc)),
        })
        self.sudo().last_run_id = run
        return run

    def _secret_values(self):
        connection = self.sudo()
        qbo, org = connection.qbo_company_id, connection.billcom_org_id
        return [qbo.client_secret, qbo.access_token, qbo.refresh_token, org.password, org.dev_key]

    # ---------------------------------------------------------------- scheduler
    @api.model
    def _cron_sync(self):
        """Daily sync: queue a run of every connection that is due and wake the
        workers. A connection that cannot start (incomplete configuration) gets
        a failed run saying why; the others go on."""
        now = fields.Datetime.now()
        connections = self.sudo().search([("auto_sync", "=", True)])
        connections._check_authorization_notice()
        queued = 0
        for connection in connections.filtered(lambda c: c._is_due(now)):
            try:
                with self.env.cr.savepoint():
                    if not connection._ready_to_queue():
                        _logger.info("Connection %s skipped: %s", connection.id, engine.ALREADY_RUNNING)
                        continue
                    connection._queue_run("cron", wake=False)
                    queued += 1
            except UserError as exc:
                _logger.warning("Connection %s: the sync could not start: %s", connection.id, exc)
                connection._log_failed_start("cron", exc)
        if queued:
            self.env["billcom_qbo.run"]._wake_workers(queued)

    def _ready_to_queue(self):
        """Whether the daily run may queue this connection (raises UserError when
        its configuration is incomplete)."""
        self.ensure_one()
        if not self.try_lock_for_update(allow_referencing=True):
            return False
        holder = self.running_run_id
        if holder and holder._holds_connection():
            return False
        if self._missing_accounts():
            _logger.info("Connection %s skipped by the daily sync: %s", self.id, self.setup_missing)
            return False
        self._engine_config()
        if holder and holder.state == "running":
            holder._mark_worker_died()
        return True

    # ------------------------------------------------------------- to-dos
    def _todo(self, summary, note):
        """A to-do for the responsible user, once while it is open."""
        self.ensure_one()
        if not self.user_id or self.activity_ids.filtered(lambda a: a.summary == summary):
            return
        self.sudo().activity_schedule("mail.mail_activity_data_todo", summary=summary, note=note,
                                      user_id=self.user_id.id)

    def _after_run(self, run):
        """A daily run that failed after another failed one asks a person to look."""
        self.ensure_one()
        if run.trigger != "cron" or run.state != "failed":
            return
        previous = self.env["billcom_qbo.run"].search(
            [("connection_id", "=", self.id), ("trigger", "=", "cron"), ("id", "<", run.id),
             ("state", "not in", ("queued", "running"))], order="id desc", limit=1)
        if previous.state == "failed":
            self._todo(self.env._("Daily sync failed twice"), self.env._(
                "The daily sync of %(connection)s failed twice in a row. Last error: %(message)s",
                connection=self.display_name, message=run.message or ""))

    def _check_authorization_notice(self):
        """QuickBooks needs a new sign-in soon: a to-do before syncs stop."""
        for connection in self:
            days = connection.authorization_days_left
            if connection.qbo_company_id.refresh_token_expires_at and days <= AUTHORIZATION_NOTICE_DAYS:
                connection._todo(self.env._("Reconnect QuickBooks"), self.env._(
                    "The QuickBooks authorization of %(connection)s ends in %(days)s day(s): a sync manager "
                    "must press \"Connect to QuickBooks\" before then.", connection=connection.display_name,
                    days=max(days, 0)))

    # ----------------------------------------------------------------- actions
    def action_open_sync_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sync"),
            "res_model": "billcom_qbo.sync_wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_connection_id": self.id},
        }

    def action_view_runs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("billcom_qbo_sync.action_sync_run")
        action["domain"] = [("connection_id", "=", self.id)]
        action["context"] = {"default_connection_id": self.id}
        return action

    def action_tie_out(self):
        """Reconciliation: compute the tie-out now and open its differences."""
        self.ensure_one()
        if not self.env.user.has_group("billcom_qbo_sync.group_sync_manager"):
            raise AccessError(self.env._("Only sync managers can compute a tie-out."))
        self._tie_out()
        return self.action_view_tie_out()

    def action_view_tie_out(self):
        """The differences the last tie-out of this connection found, its verdict above them."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("billcom_qbo_sync.action_tie_out_line")
        action["domain"] = [("connection_id", "=", self.id)]
        action["context"] = {"search_default_group_object_type": 1}
        if self.tie_out_verdict:
            action["name"] = self.env._("Tie-out: %(connection)s", connection=self.name)
            action["help"] = Markup("<p class='o_view_nocontent_smiling_face'>%s</p><p>%s</p>") % (
                self.tie_out_verdict,
                self.env._("Checked %s.", format_datetime(self.env, self.tie_out_checked_at)))
        return action

    def action_view_links(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("billcom_qbo_sync.action_link")
        action["domain"] = [("connection_id", "=", self.id)]
        return action

    action_view_last_run = _button_of("last_run_id", "_open_form")
    action_connect_qbo = _button_of("qbo_company_id", "action_connect")
    action_refresh_accounts = _button_of("qbo_company_id", "action_refresh_accounts")
    action_test_billcom = _button_of("billcom_org_id", "action_test_connection")
