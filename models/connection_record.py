from odoo import fields, models


class ConnectionRecordMixin(models.AbstractModel):
    """A record the sync keeps for one connection (a run, a link, a tie-out difference):
    deleted with the connection, and seen in the connection's company only (the
    record rules filter on ``company_id``)."""
    _name = "billcom_qbo.connection_record.mixin"
    _description = "Record of a connection"

    connection_id = fields.Many2one(
        "billcom_qbo.connection", required=True, index=True, ondelete="cascade", readonly=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
