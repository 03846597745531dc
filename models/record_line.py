from odoo import api, fields, models

from . import summary


class RecordLineMixin(models.AbstractModel):
    """One record of a sync, planned or done: what is done to it, and the rule or error behind it."""
    _name = "billcom_qbo.record_line.mixin"
    _description = "Sync record line"

    object_type = fields.Char("Object type code", readonly=True)
    object_type_name = fields.Char("Object type", compute="_compute_object_type_name")
    direction = fields.Selection(summary.DIRECTIONS, readonly=True)
    action = fields.Char(readonly=True)
    state = fields.Char(readonly=True, help="planned, done or failed")
    record = fields.Char(readonly=True)
    qbo_id = fields.Char("QuickBooks ID", readonly=True)
    billcom_id = fields.Char("Bill.com ID", readonly=True)
    rule_code = fields.Char("Rule", readonly=True)
    message = fields.Text("Reason", readonly=True)
    field = fields.Char(readonly=True)
    remote_error = fields.Text("Remote error", readonly=True)
    diff = fields.Json(readonly=True)
    diff_text = fields.Text("Field differences", compute="_compute_diff_text")

    @api.depends("object_type")
    def _compute_object_type_name(self):
        names = summary.object_type_names(self.env)
        for line in self:
            line.object_type_name = names.get(line.object_type, line.object_type)

    @api.depends("diff")
    def _compute_diff_text(self):
        for line in self:
            line.diff_text = summary.diff_text(line.diff)
