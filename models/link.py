from collections import defaultdict

from odoo import api, fields, models

from . import summary


class Link(models.Model):
    """Which QuickBooks record is which Bill.com record, per connection."""
    _name = "billcom_qbo.link"
    _description = "QuickBooks - Bill.com record link"
    _inherit = ["billcom_qbo.connection_record.mixin", "billcom_qbo.object_type.mixin"]
    _order = "connection_id, object_type, id"
    _rec_name = "qbo_name"

    object_type = fields.Char(required=True)
    qbo_id = fields.Char("QuickBooks ID", required=True, readonly=True)
    billcom_id = fields.Char("Bill.com ID", required=True, readonly=True)
    qbo_name = fields.Char(
        "QuickBooks record", compute="_compute_names", store=True,
        help="The record's name in QuickBooks as of the last sync (its type and number for a document).")
    billcom_name = fields.Char(
        "Bill.com record", compute="_compute_names", store=True,
        help="The record's name in Bill.com as of the last sync (its type and number for a document).")
    qbo_version = fields.Char("QuickBooks version", readonly=True, help="SyncToken after the last sync.")
    billcom_version = fields.Char("Bill.com version", readonly=True, help="updatedTime after the last sync.")
    snapshot = fields.Json(readonly=True, help="The values both sides held at the last sync.")
    last_synced = fields.Datetime(readonly=True)
    created_in = fields.Char("Created in batch", readonly=True,
                             help="The sync batch whose create made the link.")

    _qbo_id_uniq = models.Constraint(
        "UNIQUE(connection_id, object_type, qbo_id)",
        "A QuickBooks record is linked to one Bill.com record only.")
    _billcom_id_uniq = models.Constraint(
        "UNIQUE(connection_id, object_type, billcom_id)",
        "A Bill.com record is linked to one QuickBooks record only.")

    @api.depends("snapshot", "object_type", "qbo_id", "billcom_id")
    def _compute_names(self):
        """From the values the link keeps of each side; the id when they name nothing."""
        by_connection = defaultdict(lambda: self.browse())
        for link in self:
            by_connection[link.connection_id] |= link
        for connection, links in by_connection.items():
            tokens = set()
            for link in links:
                snapshot = link.snapshot if isinstance(link.snapshot, dict) else {}
                for side in ("qbo", "billcom"):
                    values = snapshot.get(side)
                    if isinstance(values, dict):
                        tokens |= summary.diff_tokens([values.get(k) for k in summary.PARTY_KEYS])
            names = summary.Names(self.env, connection).load(tokens)
            for link in links:
                label = (link.object_type or "").replace("_", " ").capitalize()
                link.qbo_name = summary.snapshot_name(link.object_type, link.snapshot, "qbo", names) \
                    or f"{label} {link.qbo_id or ''}".strip()
                link.billcom_name = summary.snapshot_name(link.object_type, link.snapshot, "billcom", names) \
                    or f"{label} {link.billcom_id or ''}".strip()
