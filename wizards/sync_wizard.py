from odoo import api, fields, models

from ..models import engine, summary


class SyncWizard(models.TransientModel):
    """Manual sync: preview the plan, then run it."""
    _name = "billcom_qbo.sync_wizard"
    _description = "Manual sync"

    connection_id = fields.Many2one("billcom_qbo.connection", required=True, ondelete="cascade")
    object_type_ids = fields.Many2many(
        "billcom_qbo.object_type", string="Object types",
        help="Leave empty to sync every object type.")
    state = fields.Selection([("draft", "Choose"), ("preview", "Preview")], default="draft", required=True)
    previewed_at = fields.Datetime("Previewed at", readonly=True)
    summary = fields.Text(readonly=True)
    line_ids = fields.One2many("billcom_qbo.sync_wizard_line", "wizard_id", string="Planned records",
                               readonly=True)
    write_count = fields.Integer(compute="_compute_line_counts")
    skip_count = fields.Integer(compute="_compute_line_counts")
    conflict_count = fields.Integer(compute="_compute_line_counts")
    error_count = fields.Integer(compute="_compute_line_counts")

    @api.depends("line_ids.action")
    def _compute_line_counts(self):
        for wizard in self:
            actions = wizard.line_ids.mapped("action")
            wizard.write_count = sum(1 for a in actions if a in summary.WRITE_ACTIONS)
            wizard.skip_count = actions.count("skip")
            wizard.conflict_count = actions.count("conflict")
            wizard.error_count = sum(1 for a in actions if a in summary.FAILED_ACTIONS)

    def _object_type_codes(self):
        return self.object_type_ids.mapped("code") or None

    def action_preview(self):
        """Ask the engine for the plan and show it; nothing is written anywhere."""
        self.ensure_one()
        plan = self.connection_id._preview(self._object_type_codes())
        vals_list = [dict(engine.run_line_values(line), sequence=sequence)
                     for sequence, line in enumerate(plan.lines)]
        self.line_ids.unlink()
        self.write({
            "state": "preview",
            "previewed_at": fields.Datetime.now(),
            "summary": summary.render(self.env, engine.plan_counts(plan)),
            "line_ids": [fields.Command.create(vals) for vals in vals_list],
        })
        return self._reopen()

    def action_sync_now(self):
        """Run the sync now and open the resulting run."""
        self.ensure_one()
        run = self.connection_id._run_sync("manual", self._object_type_codes())
        return run._open_form()

    def action_back(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.write({"state": "draft", "summary": False, "previewed_at": False})
        return self._reopen()

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Sync %s", self.connection_id.display_name),
        }


class SyncWizardLine(models.TransientModel):
    _name = "billcom_qbo.sync_wizard_line"
    _inherit = ["billcom_qbo.record_line.mixin"]
    _description = "Planned record of a manual sync"
    _order = "sequence, id"

    wizard_id = fields.Many2one("billcom_qbo.sync_wizard", required=True, ondelete="cascade")
    sequence = fields.Integer()
