from odoo import fields, models


class Link(models.Model):
    """Which QuickBooks record is which Bill.com record, per connection."""
    _name = "billcom_qbo.link"
    _description = "QuickBooks - Bill.com record link"
    _order = "connection_id, object_type, id"
    _rec_name = "qbo_id"

    connection_id = fields.Many2one(
        "billcom_qbo.connection", required=True, index=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    object_type = fields.Char(required=True, readonly=True)
    qbo_id = fields.Char("QuickBooks ID", required=True, readonly=True)
    billcom_id = fields.Char("Bill.com ID", required=True, readonly=True)
    qbo_version = fields.Char("QuickBooks version", readonly=True, help="SyncToken after the last sync.")
    billcom_version = fields.Char("Bill.com version", readonly=True, help="updatedTime after the last sync.")
    snapshot = fields.Json(readonly=True, help="The values both sides held at the last sync.")
    last_synced = fields.Datetime(readonly=True)

    _qbo_id_uniq = models.Constraint(
        "UNIQUE(connection_id, object_type, qbo_id)",
        "A QuickBooks record is linked to one Bill.com record only.")
    _billcom_id_uniq = models.Constraint(
        "UNIQUE(connection_id, object_type, billcom_id)",
        "A Bill.com record is linked to one QuickBooks record only.")
