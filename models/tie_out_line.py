from odoo import fields, models


class TieOutLine(models.Model):
    """One difference the last tie-out of a connection found between QuickBooks
    and Bill.com: a synced record whose amounts are not the same on both sides.
    The lines of a connection are replaced each time its tie-out is computed."""
    _name = "billcom_qbo.tie_out_line"
    _description = "Tie-out difference"
    _inherit = ["billcom_qbo.connection_record.mixin", "billcom_qbo.object_type.mixin"]
    _order = "connection_id, object_type, record, id"
    _rec_name = "record"

    checked_at = fields.Datetime("Checked at", readonly=True)
    object_type = fields.Char(index=True)  # the tie-out is filtered by type
    record = fields.Char(readonly=True)
    qbo_id = fields.Char("QuickBooks ID", readonly=True)
    billcom_id = fields.Char("Bill.com ID", readonly=True)
    field = fields.Char(readonly=True, help="total, open balance or amount")
    # the exact amounts as text (empty when the record is missing on that side),
    # and as numbers for sorting and totals
    qbo_value = fields.Char("QuickBooks", readonly=True)
    billcom_value = fields.Char("Bill.com", readonly=True)
    qbo_amount = fields.Float("QuickBooks amount", digits=(16, 2), readonly=True)
    billcom_amount = fields.Float("Bill.com amount", digits=(16, 2), readonly=True)
    gap = fields.Float("Difference", digits=(16, 2), readonly=True, help="QuickBooks minus Bill.com.")
    cause = fields.Char("Likely cause", readonly=True, index=True)
