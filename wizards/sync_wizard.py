from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models import engine, summary


class SyncWizard(models.TransientModel):
    """Manual sync: preview the plan, then run it."""
    _name = "billcom_qbo.sync_wizard"
    _description = "Manual sync"

    connection_id = fields.Many2one("billcom_qbo.connection", required=True, ondelete="cascade")
    object_type_ids = fields.Many2many(
        "billcom_qbo.object_type", string="Object types",
        help="Leave empty to sync every object type.")
    state = fields.Selection([("draft", "Choose"), ("computing", "Preparing the preview"), ("preview", "Preview")],
                             default="draft", required=True)
    preview_error = fields.Text(readonly=True)
    previewed_at = fields.Datetime("Previewed at", readonly=True)
    summary = fields.Text(readonly=True)
    line_ids = fields.One2many("billcom_qbo.sync_wizard_line", "wizard_id", string="Planned records",
                               readonly=True)
    attention_line_ids = fields.One2many(
        "billcom_qbo.sync_wizard_line", "wizard_id", string="Needs a person", readonly=True,
        domain=[("attention", "=", "person")],
        help="Held, skipped and failed records: nothing is written for them until a person acts.")
    through_line_ids = fields.One2many(
        "billcom_qbo.sync_wizard_line", "wizard_id", string="Goes through", readonly=True,
        domain=[("attention", "=", "through")])
    attention_count = fields.Integer("Need a person", compute="_compute_line_counts")
    write_count = fields.Integer(compute="_compute_line_counts")
    skip_count = fields.Integer(compute="_compute_line_counts")
    conflict_count = fields.Integer(compute="_compute_line_counts")
    error_count = fields.Integer(compute="_compute_line_counts")

    @api.depends("line_ids.action", "line_ids.attention")
    def _compute_line_counts(self):
        for wizard in self:
            actions = wizard.line_ids.mapped("action")
            wizard.write_count = sum(1 for a in actions if a in summary.WRITE_ACTIONS)
            wizard.skip_count = actions.count("skip")
            wizard.conflict_count = actions.count("conflict")
            wizard.error_count = sum(1 for a in actions if a in summary.FAILED_ACTIONS)
            wizard.attention_count = len(wizard.line_ids.filtered(lambda l: l.attention == "person"))

    def _object_type_codes(self):
        return self.object_type_ids.mapped("code") or None

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if "connection_id" in fields_list and not values.get("connection_id"):
            # "Manual sync" from the menu: the only connection is the one meant
            connections = self.env["billcom_qbo.connection"].search([], limit=2)
            if len(connections) == 1:
                values["connection_id"] = connections.id
        return values

    def action_preview(self):
        """Hand the preview to a worker (reading a large company takes longer
        than a web request may last); the dialog shows it when it is ready.
        Nothing is written anywhere."""
        self.ensure_one()
        self.connection_id.check_access("read")
        self.connection_id._engine_config(self._object_type_codes())  # an incomplete set-up says so now
        self.line_ids.unlink()
        self.write({"state": "computing", "summary": False, "previewed_at": False, "preview_error": False})
        self.env["billcom_qbo.run"]._wake_workers(1)
        return self._reopen()

    def _compute_preview(self):
        """Run by a worker: ask the engine for the plan and show it."""
        self.ensure_one()
        wizard = self.with_user(self.create_uid).with_company(self.connection_id.company_id)
        try:
            plan = wizard.connection_id._preview(wizard._object_type_codes())
        except (UserError, engine.engine_errors.SyncError) as exc:
            self.env.cr.rollback()
            self.write({"state": "draft", "preview_error": str(exc)})
            self.env.cr.commit()
            return
        vals_list = [dict(engine.run_line_values(line), sequence=sequence)
                     for sequence, line in enumerate(plan.lines)]
        self.write({
            "state": "preview",
            "previewed_at": fields.Datetime.now(),
            "summary": summary.render(self.env, engine.plan_counts(plan), "preview",
                                      engine.line_totals(plan.lines)),
            "line_ids": [fields.Command.create(vals) for vals in vals_list],
        })
        self.env.cr.commit()

    def _preview_failed(self):
        self.write({"state": "draft", "preview_error": self.env._(
            "The preview could not be made because of an unexpected error; see the server log.")})
        self.env.cr.commit()

    def action_sync_now(self):
        """Queue the sync for a worker and open its run, which shows its progress."""
        self.ensure_one()
        run = self.connection_id._queue_sync("manual", self._object_type_codes())
        return run._open_form()

    def action_back(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.write({"state": "draft", "summary": False, "previewed_at": False, "preview_error": False})
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Sync %s", self.connection_id.display_name),
            # the preview's record names, amounts and reasons fit on one line each
            "context": dict(self.env.context, dialog_size="extra-large"),
        }


class SyncWizardLine(models.TransientModel):
    _name = "billcom_qbo.sync_wizard_line"
    _inherit = ["billcom_qbo.record_line.mixin"]
    _description = "Planned record of a manual sync"
    _order = "attention, sequence, id"

    wizard_id = fields.Many2one("billcom_qbo.sync_wizard", required=True, ondelete="cascade")
    sequence = fields.Integer()

    def _sync_connection(self):
        return self.wizard_id.connection_id
