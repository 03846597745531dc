from odoo import fields, models


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
