from odoo import api, fields, models

from . import summary


class ObjectType(models.Model):
    """The kinds of records the engine syncs (the engine's ``config.OBJECT_TYPES``),
    so a manual sync can be limited to some of them."""
    _name = "billcom_qbo.object_type"
    _description = "Synced object type"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, readonly=True)
    sequence = fields.Integer(default=10)

    _code_uniq = models.Constraint("UNIQUE(code)", "Each object type appears once.")


class ObjectTypeMixin(models.AbstractModel):
    """A record of one synced object type: kept by the engine's type code, shown
    by the type's name and grouped by the type itself (in the order types sync)."""
    _name = "billcom_qbo.object_type.mixin"
    _description = "Record of a synced object type"

    object_type = fields.Char("Type code", readonly=True)
    object_type_name = fields.Char("Type", compute="_compute_object_type_name")
    object_type_id = fields.Many2one(
        "billcom_qbo.object_type", "Object type", compute="_compute_object_type_id", store=True, index=True)

    @api.depends("object_type")
    def _compute_object_type_name(self):
        names = summary.object_type_names(self.env)
        for record in self:
            record.object_type_name = names.get(record.object_type, record.object_type)

    @api.depends("object_type")
    def _compute_object_type_id(self):
        types = {t.code: t.id for t in self.env["billcom_qbo.object_type"].sudo().search([])}
        for record in self:
            record.object_type_id = types.get(record.object_type, False)
