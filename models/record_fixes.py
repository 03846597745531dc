"""Fixes a finance user makes from a run line, without touching QuickBooks or
Bill.com by hand: *Don't sync this record*, *Retry now*, *Keep QuickBooks'
version* / *Keep Bill.com's version* for a held conflict, and *Link to an
existing record*. Each is written in the connection's chatter (who, when,
what) and takes effect in the next run, which *Retry now* and the conflict
choices queue at once."""
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError

from . import engine

SIDES = [("qbo", "QuickBooks"), ("billcom", "Bill.com")]


class ExcludedRecord(models.Model):
    """A record a person chose not to sync; deleting the entry syncs it again."""
    _name = "billcom_qbo.excluded_record"
    _description = "Record not to sync"
    _order = "id desc"

    connection_id = fields.Many2one("billcom_qbo.connection", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="connection_id.company_id", store=True)
    object_type = fields.Char("Type code", required=True)
    object_type_name = fields.Char("Type", compute="_compute_object_type_name")
    side = fields.Selection(SIDES, required=True)
    remote_id = fields.Char("ID on that side", required=True)
    record = fields.Char(required=True)
    user_id = fields.Many2one("res.users", string="Chosen by", default=lambda self: self.env.user, readonly=True)

    _record_uniq = models.Constraint("UNIQUE(connection_id, object_type, side, remote_id)",
                                     "This record is already on the list of records not to sync.")

    @api.depends("object_type")
    def _compute_object_type_name(self):
        names = {t.code: t.name for t in self.env["billcom_qbo.object_type"].sudo().search([])}
        for entry in self:
            entry.object_type_name = names.get(entry.object_type, entry.object_type)

    def key(self):
        return f"{self.object_type}|{self.side}|{self.remote_id}"

    def action_sync_again(self):
        """Take the record off the list: the next run reads it again and syncs it."""
        for entry in self:
            connection = entry.connection_id
            connection._add_retries([(entry.side, entry.object_type, entry.remote_id)])
            connection._note_fix(self.env._("%(record)s will sync again (taken off the list of records not "
                                            "to sync).", record=entry.record))
        self.sudo().unlink()
        return True


class Connection(models.Model):
    _inherit = "billcom_qbo.connection"

    excluded_ids = fields.One2many("billcom_qbo.excluded_record", "connection_id", string="Records not to sync")
    record_masters = fields.Json(
        readonly=True, copy=False,
        help="Held conflicts a person settled, and the side whose version the next run keeps.")

    def _excluded_keys(self):
        return [entry.key() for entry in self.sudo().excluded_ids]

    def _add_retries(self, records):
        """Records the next run reads again by id, whatever the cursors say."""
        connection = self.sudo()
        connection.retries = sorted({tuple(r) for r in (connection.retries or [])} | {tuple(r) for r in records})

    def _note_fix(self, text):
        self.sudo().message_post(body=Markup("<p>%s</p>") % text, author_id=self.env.user.partner_id.id)

    def _after_run(self, run):
        super()._after_run(run)
        if run.state in ("done", "partial") and self.record_masters:
            self.sudo().record_masters = False  # the settled conflicts are applied


class SyncRunLine(models.Model):
    _inherit = "billcom_qbo.run_line"

    can_fix = fields.Boolean(compute="_compute_can_fix")

    @api.depends("action", "state")
    def _compute_can_fix(self):
        for line in self:
            line.can_fix = line.attention == "person" and bool(line.qbo_id or line.billcom_id)

    def _source(self):
        """(side, id) of the record the line is about: the side it came from."""
        self.ensure_one()
        if self.direction == engine.BC_TO_QBO and self.billcom_id:
            return "billcom", self.billcom_id
        if self.qbo_id:
            return "qbo", self.qbo_id
        return "billcom", self.billcom_id

    def _check_fixable(self):
        self.ensure_one()
        self.connection_id.check_access("read")
        if not self.env.user.has_group("billcom_qbo_sync.group_sync_user"):
            raise UserError(self.env._("Only Bill.com Sync users can change how a record syncs."))
        if not (self.qbo_id or self.billcom_id):
            raise UserError(self.env._("%s is on neither side yet: there is nothing to change.", self.record))

    def _ids_on_line(self):
        return [(side, self.object_type, rid) for side, rid in (("qbo", self.qbo_id), ("billcom", self.billcom_id))
                if rid]

    def action_exclude(self):
        """Don't sync this record (reversible from the connection)."""
        self._check_fixable()
        if self.object_type in engine.PAYMENT_TYPES:
            raise UserError(self.env._("A payment follows its bill or invoice: choose \"Don't sync this record\" "
                                       "on the bill or invoice instead."))
        side, rid = self._source()
        connection = self.connection_id
        Excluded = self.env["billcom_qbo.excluded_record"].sudo()
        if not Excluded.search_count([("connection_id", "=", connection.id), ("object_type", "=", self.object_type),
                                      ("side", "=", side), ("remote_id", "=", rid)]):
            Excluded.create({"connection_id": connection.id, "object_type": self.object_type, "side": side,
                             "remote_id": rid, "record": self.record, "user_id": self.env.uid})
        connection._note_fix(self.env._("%(record)s will not sync any more (Don't sync this record).",
                                        record=self.record))
        return self._notify(self.env._("%s will not sync any more; take it off the list on the connection "
                                       "to sync it again.", self.record))

    def action_retry_now(self):
        """Read the record again and sync it, with what depends on it, now."""
        self._check_fixable()
        connection = self.connection_id
        connection._add_retries(self._ids_on_line())
        connection._note_fix(self.env._("%(record)s: retry asked.", record=self.record))
        return connection._queue_sync("manual", engine.types_depending_on(self.object_type))._open_form()

    def _keep(self, side):
        self._check_fixable()
        if self.action != "conflict" or not self.qbo_id:
            raise UserError(self.env._("Only a record held as a conflict has two versions to choose from."))
        connection = self.connection_id
        masters = dict(connection.record_masters or {})
        masters[f"{self.object_type}|{self.qbo_id}"] = side
        connection.sudo().record_masters = masters
        connection._add_retries(self._ids_on_line())
        where = dict(SIDES)[side]
        connection._note_fix(self.env._("%(record)s: %(side)s' version kept for the held conflict.",
                                        record=self.record, side=where))
        return connection._queue_sync("manual", engine.types_depending_on(self.object_type))._open_form()

    def action_keep_qbo(self):
        return self._keep("qbo")

    def action_keep_billcom(self):
        return self._keep("billcom")

    def action_link_existing(self):
        """Pick the record's twin on the other side."""
        self._check_fixable()
        side, _rid = self._source()
        other = "billcom" if side == "qbo" else "qbo"
        wizard = self.env["billcom_qbo.link_wizard"].create({
            "line_id": self.id, "search_side": other,
            "search_text": engine.search_text_of(self.record)})
        return wizard._reopen()

    def _notify(self, message):
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"message": message, "type": "success",
                           "next": {"type": "ir.actions.act_window_close"}}}


class LinkWizard(models.TransientModel):
    """Link to an existing record: search the other side, pick the twin."""
    _name = "billcom_qbo.link_wizard"
    _description = "Link a record to its twin"

    line_id = fields.Many2one("billcom_qbo.run_line", required=True, ondelete="cascade")
    record = fields.Char(related="line_id.record")
    search_side = fields.Selection(SIDES, required=True, string="Search in")
    search_text = fields.Char("Name or number starts with")
    candidate_ids = fields.One2many("billcom_qbo.link_candidate", "wizard_id", string="Found")
    searched = fields.Boolean()

    def action_search(self):
        self.ensure_one()
        line = self.line_id
        connection = line.connection_id
        config = connection._engine_config()
        scrub = engine.Scrubber(config.secrets())
        try:
            on_tokens, sharing = connection.qbo_company_id._sharing()
            found = engine.service().twin_candidates(config, line.object_type, self.search_side, self.search_text,
                                                     on_tokens=on_tokens, **sharing)
        except engine.REMOTE_FAILURES as exc:
            raise UserError(self.env._("The search could not be made: %s", scrub(str(exc)))) from exc
        self.candidate_ids.unlink()
        self.write({"searched": True, "candidate_ids": [fields.Command.create({
            "remote_id": f["id"], "label": f["label"], "amount": float(f["amount"]) if f["amount"] is not None else 0.0,
            "currency": f["currency"] or False}) for f in found]})
        return self._reopen()

    def _reopen(self):
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id, "view_mode": "form",
                "target": "new", "name": self.env._("Link %s to an existing record", self.line_id.record)}


class LinkCandidate(models.TransientModel):
    _name = "billcom_qbo.link_candidate"
    _description = "Possible twin of a record"

    wizard_id = fields.Many2one("billcom_qbo.link_wizard", required=True, ondelete="cascade")
    remote_id = fields.Char("ID on the other side", readonly=True)
    label = fields.Char("Record", readonly=True)
    amount = fields.Float(digits=(16, 2), readonly=True)
    currency = fields.Char(readonly=True)

    def action_choose(self):
        """Link the line's record to this one; the next run keeps them as a pair."""
        self.ensure_one()
        line = self.wizard_id.line_id
        line._check_fixable()
        connection = line.connection_id
        side, rid = line._source()
        qbo_id, billcom_id = (rid, self.remote_id) if side == "qbo" else (self.remote_id, rid)
        Links = self.env["billcom_qbo.link"].sudo()
        taken = Links.search([("connection_id", "=", connection.id), ("object_type", "=", line.object_type), "|",
                              ("qbo_id", "=", qbo_id), ("billcom_id", "=", billcom_id)])
        if taken:
            raise UserError(self.env._("%s is already linked; a record has one twin.", taken[0].display_name))
        Links.create({"connection_id": connection.id, "object_type": line.object_type, "qbo_id": qbo_id,
                      "billcom_id": billcom_id, "snapshot": {"manual": True},
                      "last_synced": fields.Datetime.now()})
        connection._add_retries([("qbo", line.object_type, qbo_id), ("billcom", line.object_type, billcom_id)])
        connection._note_fix(self.env._("%(record)s linked by hand to %(twin)s.", record=line.record,
                                        twin=self.label))
        return line._notify(self.env._("%(record)s is linked to %(twin)s; the next run keeps them in step.",
                                       record=line.record, twin=self.label))
