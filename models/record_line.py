from collections import defaultdict

from odoo import api, fields, models

from . import summary


class RecordLineMixin(models.AbstractModel):
    """One record of a sync, planned or done: what is done to it, its amount,
    and the rule or error behind it."""
    _name = "billcom_qbo.record_line.mixin"
    _inherit = ["billcom_qbo.object_type.mixin"]
    _description = "Sync record line"
    _rec_name = "record"

    direction = fields.Selection(summary.DIRECTIONS, readonly=True)
    action = fields.Char(readonly=True)
    state = fields.Char(readonly=True, help="planned, done or failed")
    attention = fields.Selection(
        summary.ATTENTION, "To do", compute="_compute_attention", store=True,
        help="Held, skipped and failed records need a person; the others go through.")
    record = fields.Char(readonly=True)
    amount = fields.Float(
        digits=(16, 2), readonly=True, aggregator="sum",
        help="The document's total or the payment's amount, in its currency.")
    currency = fields.Char(readonly=True)
    has_amount = fields.Boolean(readonly=True, help="The record is a document or payment with an amount.")
    qbo_id = fields.Char("QuickBooks ID", readonly=True)
    billcom_id = fields.Char("Bill.com ID", readonly=True)
    rule_code = fields.Char("Rule code", readonly=True)
    rule_name = fields.Char("Rule", compute="_compute_rule_name", search="_search_rule_name")
    message = fields.Text("Reason", readonly=True)
    field = fields.Char(readonly=True)
    remote_error = fields.Text("Remote error", readonly=True)
    diff = fields.Json(readonly=True)
    diff_text = fields.Text("Field differences", compute="_compute_diff")
    diff_html = fields.Html("Differences", compute="_compute_diff", sanitize=False)

    def _sync_connection(self):
        """The connection the line belongs to (names of the records it references)."""
        raise NotImplementedError

    @api.depends("action", "state")
    def _compute_attention(self):
        for line in self:
            line.attention = "person" if summary.needs_person(line.action, line.state) else "through"

    @api.depends("rule_code")
    def _compute_rule_name(self):
        for line in self:
            line.rule_name = summary.rule_title(line.rule_code)

    def _search_rule_name(self, operator, value):
        """By the rule's words or its code."""
        if operator not in ("ilike", "=", "not ilike", "!=") or not isinstance(value, str):
            return [("rule_code", operator, value)]
        needle = value.strip().lower()
        codes = [code for code in summary.rule_codes()
                 if needle in code.lower() or needle in summary.rule_title(code).lower()] \
            if operator in ("ilike", "not ilike") else \
            [code for code in summary.rule_codes() if needle in (code.lower(), summary.rule_title(code).lower())]
        codes.append(value)
        domain = ["|", ("rule_code", "in", codes), ("rule_code", "ilike", value)]
        return ["!", *domain] if operator in ("not ilike", "!=") else domain

    @api.depends("diff")
    def _compute_diff(self):
        by_connection = defaultdict(lambda: self.browse())
        for line in self:
            by_connection[line._sync_connection()] |= line
        for connection, lines in by_connection.items():
            names = summary.Names(self.env, connection).load(summary.diff_tokens(lines.mapped("diff")))
            for line in lines:
                line.diff_text = summary.diff_text(line.diff, names)
                line.diff_html = summary.diff_html(line.diff, names)
