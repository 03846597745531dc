import logging

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate

from . import engine

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)


class BillcomOrg(models.Model):
    _name = "billcom_qbo.billcom_org"
    _description = "Bill.com organization"
    _inherit = ["billcom_qbo.remote_account.mixin"]
    _sandbox_label = _lt("Bill.com sandbox")

    organization_id = fields.Char("Organization ID", required=True, tracking=True)
    username = fields.Char("User name", help="The Bill.com user the sync signs in as.", tracking=True)

    # --- credentials: system administrators only, never copied
    dev_key = fields.Char("Developer key", groups="base.group_system", copy=False)
    password = fields.Char(groups="base.group_system", copy=False)

    # --- the facts Bill.com's published rules depend on (the API does not expose them)
    signup_date = fields.Date(
        "Sign-up date", required=True, tracking=True,
        help="When the organization signed up to Bill.com: organizations that signed up before "
             "2017-09-15 sync payments one way only.")
    start_date = fields.Date(
        "Start date", required=True, tracking=True,
        help="When the organization started using Bill.com: organizations started before "
             "2019-01-15 do not sync credit memos.")
    under_accountant_console = fields.Boolean(
        "Created under an accountant console", tracking=True,
        help="Organizations created under an accountant console sync payments one way only.")

    payment_sync_mode = fields.Selection(
        [("one_way", "One-way (Bill.com to QuickBooks)"), ("two_way", "Two-way")],
        compute="_compute_rules", string="Payment sync")
    payment_sync_explanation = fields.Char(compute="_compute_rules")
    credit_memos_sync = fields.Boolean(compute="_compute_rules", string="Credit memos sync")
    credit_memos_explanation = fields.Char(compute="_compute_rules")

    state = fields.Selection(
        [("draft", "Not tested"), ("connected", "Connected"), ("error", "Error")],
        default="draft", required=True, readonly=True, copy=False, tracking=True)
    billcom_name = fields.Char("Name in Bill.com", readonly=True, copy=False)

    @api.depends("signup_date", "start_date", "under_accountant_console")
    def _compute_rules(self):
        for org in self:
            if org.signup_date:
                verdict = engine.engine_rules.payment_sync_mode(org.signup_date, org.under_accountant_console)
                org.payment_sync_mode = verdict.value
                org.payment_sync_explanation = verdict.message
            else:
                org.payment_sync_mode = False
                org.payment_sync_explanation = self.env._("Set the sign-up date to see the payment sync mode.")
            if org.start_date:
                verdict = engine.engine_rules.credit_memo_start_date(org.start_date)
                org.credit_memos_sync = verdict.allowed
                org.credit_memos_explanation = verdict.message
            else:
                org.credit_memos_sync = False
                org.credit_memos_explanation = self.env._("Set the start date to see whether credit memos sync.")

    # --------------------------------------------------------- engine objects
    def _base_url(self):
        self.ensure_one()
        if self.environment == "local":
            if not self.local_base_url:
                raise UserError(self.env._("Set the local API URL of Bill.com organization %s.", self.display_name))
            return self.local_base_url.rstrip("/")
        if self.environment == "sandbox":
            return engine.engine_config.BILLCOM_SANDBOX
        return engine.engine_config.BILLCOM_PRODUCTION

    def _engine_account(self):
        self.ensure_one()
        org = self.sudo()
        return engine.engine_config.BillComAccount(
            base_url=org._base_url(), dev_key=org.dev_key or "", username=org.username or "",
            password=org.password or "", organization_id=org.organization_id or "")

    def _engine_facts(self):
        self.ensure_one()
        return engine.engine_config.OrgFacts(signup_date=self.signup_date, start_date=self.start_date,
                                      under_accountant_console=self.under_accountant_console)

    def _mark_refused(self, message):
        """Bill.com refused the sign-in (password, developer key, organization)."""
        self.sudo().write({"state": "error", "last_error": message})

    # ----------------------------------------------------------------- actions
    def action_test_connection(self):
        """Sign in to Bill.com and report the organization's name, or the exact error."""
        self.ensure_one()
        self.check_access("write")
        config = engine.make_config(billcom=self._engine_account(), facts=self._engine_facts(), name=self.name)
        try:
            name = engine.service().test_billcom_connection(config)
        except engine.REMOTE_FAILURES as exc:
            message = str(exc)
            self.sudo().write({"state": "error", "last_error": message})
            return self._notify(self.env._("Bill.com refused the connection: %s", message), "danger")
        self.sudo().write({"state": "connected", "billcom_name": name, "last_error": False})
        return self._notify(self.env._("Connected to Bill.com organization %s.", name), "success")

    def _notify(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.display_name, "message": message, "type": kind,
                       "sticky": kind == "danger",
                       "next": {"type": "ir.actions.client", "tag": "soft_reload"}},
        }
