"""Planning payments: bill payments made and payments received.

A payment is written once and then only followed when it is voided; it is
recorded on the other side only where it pays a synced document (the rest of
its cash stays out, and the line says how much). Payments recorded in
QuickBooks go to Bill.com only in two-way payment sync mode. A payment an
earlier run recorded is found again from either side by its origin, so a run
stopped part-way never records it twice.
"""
from decimal import Decimal

from . import rules
from .mapping import neutral, record_money
from .plan import BC_TO_QBO, NO_DIRECTION, QBO_TO_BC, PlanItem
from .planning_state import newest_per_id
from .records import MappingError
from .rules import Code


class PaymentPlanning:
    """The payment steps of ``Planner`` (``_payments_start``, ``_payments_page``
    and ``_payments_end``, like the record steps of other types)."""

    def _payments_start(self, state):
        """Payments: the Bill.com side, held until every QuickBooks page is read
        (a payment recorded by an earlier run is found from either side)."""
        otype, links = state.otype, state.links
        links.prefetch("billcom", state.bc_records)
        items = [self._error_item(otype, r, BC_TO_QBO) for r in state.bc_records if isinstance(r, MappingError)]
        b_ok = newest_per_id([r for r in state.bc_records if not isinstance(r, MappingError)])
        b_ok += self._credit_applications(otype, b_ok, links)
        state.b_ok = b_ok
        state.b_by_origin = {r.facts["origin"]: r for r in b_ok if r.facts.get("origin")}
        state.origins = {r.facts["origin"] for r in b_ok if r.facts.get("origin")}
        state.bc_ids = {r.remote_id for r in b_ok}
        return items

    def _payments_page(self, state, records):
        """One page of QuickBooks payments: voids of synced ones, new ones."""
        otype, links = state.otype, state.links
        doc_type = "bill" if otype == "bill_payment" else "invoice"
        two_way = state.facts["payment_sync_mode"] == rules.TWO_WAY
        links.prefetch("qbo", records)
        items = [self._error_item(otype, r, QBO_TO_BC) for r in records if isinstance(r, MappingError)]
        q_ok = newest_per_id([r for r in records if not isinstance(r, MappingError)])
        for q in q_ok:  # what the Bill.com side asks about, kept for the end of the type
            if q.remote_id in state.origins:
                state.q_by_id[q.remote_id] = q
            if q.facts.get("origin") in state.bc_ids:
                state.q_by_origin[q.facts["origin"]] = q
        for q in q_ok:
            link = links.by_qbo.get((otype, q.remote_id))
            if link is not None:
                # payments are written once; a later void is followed, edits are not
                if (q.deleted or q.facts.get("voided")) and not (link.snapshot or {}).get("closed"):
                    items.append(self._payment_ended(otype, q, link, two_way))
                continue
            if q.deleted or q.facts.get("origin"):
                continue
            twin = state.b_by_origin.get(q.remote_id)
            if twin is not None:
                continue  # linked from the Bill.com side
            items.append(self._new_payment(otype, doc_type, q, links, QBO_TO_BC, two_way))
        return [i for i in items if i is not None]

    def _payments_end(self, state):
        """The Bill.com payments: voids of synced ones, ones an earlier run
        recorded (linked now), new ones."""
        otype, links = state.otype, state.links
        doc_type = "bill" if otype == "bill_payment" else "invoice"
        two_way = state.facts["payment_sync_mode"] == rules.TWO_WAY
        links.prefetch("billcom", state.b_ok)
        items = []
        for b in state.b_ok:
            link = links.by_bc.get((otype, b.remote_id))
            if link is not None:
                if b.facts.get("voided") and not (link.snapshot or {}).get("closed"):
                    items.append(self._payment_ended(otype, b, link, two_way))
                continue
            if b.facts.get("origin"):
                twin = state.q_by_id.get(b.facts["origin"])
                if twin is not None or (otype, b.facts["origin"]) in links.by_qbo:
                    if twin is not None and (otype, twin.remote_id) not in links.by_qbo:
                        items.append(PlanItem(self._line(otype, NO_DIRECTION, "link", b, qbo_id=twin.remote_id,
                                                         message="Recorded by an earlier run: linked."),
                                              source=b, target=twin))
                    continue
            twin = state.q_by_origin.get(b.remote_id)
            if twin is not None and (otype, twin.remote_id) not in links.by_qbo:
                items.append(PlanItem(self._line(otype, NO_DIRECTION, "link", b, qbo_id=twin.remote_id,
                                                 message="Recorded by an earlier run: linked."),
                                      source=b, target=twin))
                continue
            items.append(self._new_payment(otype, doc_type, b, links, BC_TO_QBO, two_way))
        return [i for i in items if i is not None]

    def _new_payment(self, otype, doc_type, rec, links, direction, two_way):
        if rec.facts.get("currency", "USD") != "USD":
            verdict = self.rules.non_usd(rec.facts["currency"])
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=verdict.code, message=verdict.message))
        if rec.facts.get("voided"):
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=Code.VOIDED,
                                       message="Voided or canceled; nothing to record."))
        ended = self._pays_ended_document(doc_type, rec, links)
        if ended:
            where = "QuickBooks" if rec.side == "billcom" else "Bill.com"
            return PlanItem(self._line(otype, direction, "conflict", rec, rule_code=Code.DELETED,
                                       message=f"Not recorded in {where}: it pays a document that cannot take it "
                                               f"({ended}). Re-enter the document there, or void this payment."))
        index = links.by_qbo if rec.side == "qbo" else links.by_bc
        synced, unsynced = [], Decimal(0)
        for applied in rec.values["applied"]:
            ref = applied["document"]
            if (doc_type, ref.remote_id) in index or (doc_type, rec.side, ref.remote_id) in self.run.planned:
                synced.append(applied)
            else:
                unsynced += Decimal(applied["amount"])
        credits = rec.values.get("credits") or []
        credit_type = "vendor_credit" if doc_type == "bill" else "credit_memo"
        missing = [c["credit"] for c in credits
                   if (credit_type, c["credit"].remote_id) not in index
                   and (credit_type, rec.side, c["credit"].remote_id) not in self.run.planned]
        unapplied_only = not rec.values["applied"] and not credits and direction == BC_TO_QBO \
            and otype == "received_payment" and Decimal(rec.values["amount"]) > 0
        if not synced and not unapplied_only:
            what = "bill" if doc_type == "bill" else "invoice"
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=Code.NOT_SYNCED_DOCUMENT,
                                       message=f"Does not pay a synced {what}; nothing to record."))
        if missing:
            what = credit_type.replace("_", " ")
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=Code.MISSING_REFERENCE,
                                       field=credit_type,
                                       message=f"It uses {what} {missing[0].name or missing[0].remote_id}, "
                                               "which is not synced; it is recorded once that is."),
                            retry_next_run=True)
        if direction == QBO_TO_BC and otype == "received_payment" and credits:
            verdict = rules.carried_shape_of_payment()
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=verdict.code,
                                       message=verdict.message))
        if direction == QBO_TO_BC and not two_way:
            verdict = self.connection_facts()["payment_rule"]
            return PlanItem(self._line(otype, direction, "skip", rec, rule_code=verdict.code,
                                       message="Payment recorded in QuickBooks is not sent to Bill.com: "
                                               + verdict.message))
        # cash applied to documents that do not sync stays out; cash applied to
        # nothing (a customer's unapplied amount) goes along
        amount = Decimal(rec.values["amount"]) - unsynced
        values = neutral(dict(rec.values, applied=synced, amount=str(amount)), links.token(rec))
        message = None
        if unsynced:
            message = f"Only the part applied to synced documents is recorded ({unsynced:.2f} left out)."
        self.run.planned.add((otype, rec.side, rec.remote_id))
        return PlanItem(self._line(otype, direction, "create", rec, message=message, amount=amount,
                                   currency=record_money(rec)[1]), source=rec, values=values)
