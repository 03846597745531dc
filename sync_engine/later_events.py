"""What happens to a record after it synced, and credits applied on their own.

A synced document deleted, voided or archived on its source side, a synced
payment voided or deleted, and a credit applied in Bill.com outside any
payment: the planner plans each of them with the methods of ``LaterEvents``.
"""
import datetime
from collections import defaultdict
from decimal import Decimal

from .billcom.errors import NotFound as BillComNotFound
from .mapping import CREDIT_APPLICATION, ENTITIES, read_billcom, read_qbo
from .plan import BC_TO_QBO, NO_DIRECTION, QBO_TO_BC, PlanItem
from .qbo.errors import ObjectNotFound
from .records import Record, Ref
from .rules import Code
from .store import RunLine


class LaterEvents:
    """The Planner's part for later events. It uses the planner's remote
    sides, clock and connection facts, and the state of its run: ``_gone``
    (documents ended this run), ``_bc_documents`` (Bill.com bills and invoices
    read this run that show credits applied) and ``_memo_room`` (credit memos drawn in Bill.com)."""

    # ------------------------------------------------------- later events
    def _document_ended(self, otype, q, b, link):
        """A synced document deleted or voided in QuickBooks, or archived in
        Bill.com when it came from Bill.com: end its twin too while nothing is
        paid on it there; once something is, hold it for a person (paying a
        bill the books no longer hold is how money goes missing)."""
        snap = link.snapshot or {}
        if q is not None and (q.deleted or q.facts.get("voided")):
            source, how = "qbo", "deleted" if q.deleted else "voided"
        elif b is not None and not b.facts.get("active", True):
            if snap.get("origin") != "billcom":
                # QuickBooks is the book of record for what came from it: nothing
                # is deleted there, but the difference is said on every run
                label = (q.label if q is not None and not q.deleted else None) or b.label
                return PlanItem(RunLine(otype, NO_DIRECTION, "conflict", label, rule_code=Code.DELETED,
                                        qbo_id=link.qbo_id, billcom_id=link.billcom_id, state="planned",
                                        message="Archived in Bill.com after it synced; QuickBooks keeps it, as it was "
                                                "entered there. Delete or void it in QuickBooks if it should go, or "
                                                "restore it in Bill.com."))
            source, how = "billcom", "archived"
        else:
            return None
        twin_side = "billcom" if source == "qbo" else "qbo"
        twin = b if twin_side == "billcom" else q
        if twin is None or twin.deleted:
            twin = self._read_twin(otype, twin_side, link)
        label = (twin.label if twin is not None else None) or (q or b).label
        where = "QuickBooks" if source == "qbo" else "Bill.com"
        there = "Bill.com" if source == "qbo" else "QuickBooks"
        self.run.gone[(otype, "qbo", link.qbo_id)] = self.run.gone[(otype, "billcom", link.billcom_id)] = \
            f"{label} was {how} in {where} after it synced"
        direction = QBO_TO_BC if source == "qbo" else BC_TO_QBO
        ids = dict(qbo_id=link.qbo_id, billcom_id=link.billcom_id, state="planned")
        if twin is None or twin.deleted or not twin.facts.get("active", True) or twin.facts.get("voided"):
            return PlanItem(RunLine(otype, direction, "archive", label, rule_code=Code.DELETED,
                                    message=f"{how.capitalize()} in {where}; already gone in {there}.", **ids),
                            source=q if source == "qbo" else b, target=None)
        paid = Decimal(twin.facts["total"]) - Decimal(twin.facts["balance"])
        if paid:
            return PlanItem(RunLine(otype, NO_DIRECTION, "conflict", label, rule_code=Code.DELETED,
                                    message=f"{how.capitalize()} in {where} after it synced, but {paid:.2f} of it is "
                                            f"already paid or credited in {there}. Nothing was changed: re-enter it "
                                            f"in {where}, or void the payment in {there} and then remove it there.",
                                    **ids))
        action = "archive in Bill.com" if twin_side == "billcom" else (
            "void in QuickBooks" if otype == "invoice" else "delete in QuickBooks")
        return PlanItem(RunLine(otype, direction, "archive", label, rule_code=Code.DELETED,
                                message=f"{how.capitalize()} in {where} after it synced and unpaid in {there}: "
                                        f"{action}.", **ids),
                        source=q if source == "qbo" else b, target=twin)

    def _read_twin(self, otype, side, link):
        """The current state of a linked record that did not change (and so was
        not in this run's reads); None when it is gone."""
        try:
            if side == "billcom":
                return read_billcom(otype, self.remote.billcom.get(ENTITIES[otype][1], link.billcom_id))
            return read_qbo(otype, self.remote.qbo.read(ENTITIES[otype][0], link.qbo_id))
        except (ObjectNotFound, BillComNotFound):
            return None

    def _payment_ended(self, otype, rec, link, two_way):
        """A synced payment voided or deleted on one side: void its twin, within
        the payment sync mode and what each API can do."""
        source = rec.side
        where = "QuickBooks" if source == "qbo" else "Bill.com"
        how = "deleted" if rec.deleted else "voided"
        if link.billcom_id.startswith(CREDIT_APPLICATION):
            return PlanItem(RunLine(otype, QBO_TO_BC, "conflict", rec.label, rule_code=Code.DELETED,
                                    qbo_id=link.qbo_id, billcom_id=link.billcom_id, state="planned",
                                    message=f"{how.capitalize()} in QuickBooks: it applied a credit entered in "
                                            "Bill.com. Take the credit off the document in Bill.com, or apply "
                                            "it again in QuickBooks."))
        direction = QBO_TO_BC if source == "qbo" else BC_TO_QBO
        label = rec.label if not rec.deleted else f"{rec.label} ({how} in {where})"
        ids = dict(qbo_id=link.qbo_id, billcom_id=link.billcom_id, state="planned")
        if direction == QBO_TO_BC and not two_way:
            verdict = self.connection_facts()["payment_rule"]
            return PlanItem(RunLine(otype, direction, "conflict", label, rule_code=verdict.code,
                                    message=f"{how.capitalize()} in QuickBooks after it synced, but payments sync "
                                            "one way here, so Bill.com still shows it: void it in Bill.com too. "
                                            + verdict.message, **ids))
        if direction == QBO_TO_BC and otype == "received_payment":
            return PlanItem(RunLine(otype, direction, "conflict", label, rule_code=Code.DELETED,
                                    message=f"{how.capitalize()} in QuickBooks after it synced. Bill.com's API cannot "
                                            "void a received payment: reverse it in Bill.com by hand.", **ids))
        there = "Bill.com" if source == "qbo" else "QuickBooks"
        return PlanItem(RunLine(otype, direction, "void", label, rule_code=Code.DELETED,
                                message=f"{how.capitalize()} in {where} after it synced: voided in {there} too.",
                                **ids), source=rec)

    # ------------------------------------------------- credits on their own
    def _credit_applications(self, otype, payments, links):
        """Credits applied in Bill.com outside any payment (a vendor credit put on
        a bill, a credit memo drawn by an invoice's creditAmount), as Bill.com-side
        payment records of zero cash: QuickBooks applies credits only through a
        BillPayment or Payment. What is already in QuickBooks is known from the
        links of the payments that carried credits; the id of each application
        is derived from the document, the credit and the amount Bill.com shows,
        so a retried run finds it again instead of applying it twice."""
        doc_type = "bill" if otype == "bill_payment" else "invoice"
        docs = []
        for doc in self.run.bc_documents.get(doc_type, ()):
            link = links.by_bc.get((doc_type, doc.remote_id))
            if link is not None and not links.written(link):  # linked by this run's own create: next run
                docs.append(doc)
        if not docs:  # most days: no payment link needs reading
            return []
        wanted = {doc.remote_id for doc in docs}
        synced = defaultdict(Decimal)   # "document|credit" -> amount already in QuickBooks
        for link in links.by_bc.of_type(otype):
            snap = link.snapshot or {}
            if snap and not snap.get("closed"):
                for key, amount in (snap.get("credits") or {}).items():
                    if key.split("|", 1)[0] in wanted:
                        synced[key] += Decimal(amount)
        for payment in payments:        # new payments read this run carry their own credits
            if (otype, payment.remote_id) not in links.by_bc and not payment.facts.get("voided"):
                for credit in payment.values.get("credits") or ():
                    if credit.get("document") is not None:
                        synced[f"{credit['document'].remote_id}|{credit['credit'].remote_id}"] += \
                            Decimal(credit["amount"])
        out = []
        for doc in docs:
            for credit_id, amount in (doc.facts.get("credits_applied") or {}).items():
                if credit_id == "*":
                    out += self._memo_applications(otype, doc, Decimal(amount), synced, links)
                    continue
                delta = Decimal(amount) - synced[f"{doc.remote_id}|{credit_id}"]
                if delta > 0:
                    out.append(self._credit_record(otype, doc, [(credit_id, delta)], Decimal(amount)))
        return out

    def _memo_applications(self, otype, invoice, credited, synced, links):
        """An invoice's creditAmount names no credit memo; the memos it drew from
        are those whose Bill.com credit left has dropped below QuickBooks'."""
        delta = credited - sum((a for k, a in synced.items() if k.startswith(f"{invoice.remote_id}|")), Decimal(0))
        if delta <= 0:
            return []
        customer = invoice.values["customer"].remote_id
        parts = []
        for link in links.by_bc.of_type("credit_memo"):
            if delta <= 0 or links.written(link):
                continue
            if link.billcom_id not in self.run.memo_room:
                memo = self._read_twin("credit_memo", "billcom", link)
                twin = self._read_twin("credit_memo", "qbo", link) if memo is not None else None
                room = Decimal(twin.facts["balance"]) - Decimal(memo.facts["balance"]) if twin else Decimal(0)
                self.run.memo_room[link.billcom_id] = (memo.values["customer"].remote_id if memo else None, room)
            owner, room = self.run.memo_room[link.billcom_id]
            take = min(room, delta) if owner == customer else Decimal(0)
            if take > 0:
                parts.append((link.billcom_id, take))
                self.run.memo_room[link.billcom_id] = (owner, room - take)
                delta -= take
        return [self._credit_record(otype, invoice, parts, credited)] if parts else []

    def _credit_record(self, otype, doc, parts, shown):
        """A zero-cash Bill.com-side payment record applying ``parts`` [(credit id,
        amount)] to ``doc``."""
        credit_type = "vendor_credit" if otype == "bill_payment" else "credit_memo"
        party_type = "vendor" if otype == "bill_payment" else "customer"
        total = sum((a for _, a in parts), Decimal(0))
        values = {party_type: doc.values[party_type], "date": _today(self.clock),
                  "amount": "0.00", "applied": [{"document": Ref(doc.object_type, doc.remote_id), "amount": str(total)}],
                  "credits": [{"credit": Ref(credit_type, cid), "document": Ref(doc.object_type, doc.remote_id),
                               "amount": str(a)} for cid, a in parts]}
        rid = f"{CREDIT_APPLICATION}{doc.remote_id}:{'+'.join(c for c, _ in parts)}:{shown}"
        what = "Vendor credit" if credit_type == "vendor_credit" else "Credit memo"
        return Record(otype, "billcom", rid, doc.version, values, f"{what} applied to {doc.label} ({total:.2f})",
                      facts={"currency": doc.facts.get("currency", "USD"), "credit_application": True})

    def _pays_ended_document(self, doc_type, rec, links):
        """Why a payment cannot be recorded: a document it pays ended after it synced."""
        index = links.by_qbo if rec.side == "qbo" else links.by_bc
        for applied in rec.values["applied"]:
            ref = applied["document"]
            why = self.run.gone.get((doc_type, rec.side, ref.remote_id))
            link = index.get((doc_type, ref.remote_id))
            if why is None and link is not None and (link.snapshot or {}).get("closed"):
                why = (link.snapshot or {})["closed"]
            if why:
                return why
        return None


def _today(clock):
    return datetime.datetime.fromtimestamp(clock.now(), datetime.timezone.utc).date().isoformat()
