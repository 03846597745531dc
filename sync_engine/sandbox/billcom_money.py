"""Bill.com sandbox money movements: AP/AR payments, vendor credits, credit memos."""
import copy
import string

from .billcom_common import (AR_PAYMENT_TYPES, CREDIT_KINDS, PREFIXES, ZERO, _bad_type, _bad_value,
                             _missing, dec, money, out)


class MoneyMixin:
    """Payments and credits of ``BillComSandbox``."""

    def _adjust_vendor_balance(self, vendor_id, delta):
        if not delta:
            return
        vendors = self.collections["vendors"]
        vendor = vendors.objects.get(vendor_id)
        if vendor is None:
            return
        vendor = dict(vendor)
        vendor["balance"] = {"amount": out(dec(vendor["balance"]["amount"]) + delta)}
        self._replace(vendors, vendor, touch=False)

    @staticmethod
    def _bill_effect(bill):
        return ZERO if bill is None or bill.get("archived") else dec(bill["dueAmount"])

    def _save_bill(self, bill, old, touch=True, created_ms=None, updated_ms=None):
        bills = self.collections["bills"]
        if old is None:
            self._insert(bills, bill, created_ms, updated_ms)
        else:
            self._replace(bills, bill, touch)
        if old is not None and old["vendorId"] != bill["vendorId"]:
            self._adjust_vendor_balance(old["vendorId"], -self._bill_effect(old))
            self._adjust_vendor_balance(bill["vendorId"], self._bill_effect(bill))
        else:
            self._adjust_vendor_balance(bill["vendorId"], self._bill_effect(bill) - self._bill_effect(old))
        return bill

    def _apply_bill_money(self, bill, cash=ZERO, credits=(), scheduled=ZERO):
        """A copy of ``bill`` with ``cash``, ``scheduled`` and ``[(credit_id, amount)]`` added
        (negative amounts take them back). ``vendorCredits`` holds one entry a credit."""
        bill = copy.deepcopy(bill)
        amount = dec(bill["amount"])
        credit = sum((a for _, a in credits), ZERO)
        paid = dec(bill["paidAmount"]) + cash + credit
        planned = dec(bill.get("scheduledAmount")) + scheduled
        bill["paidAmount"] = out(paid)
        bill["creditAmount"] = out(dec(bill["creditAmount"]) + credit)
        bill["dueAmount"] = out(amount - paid)
        bill["scheduledAmount"] = out(planned)
        bill["paymentStatus"] = self._bill_status(amount, paid, planned)
        if credits:
            applied = {c["id"]: dec(c["amount"]) for c in bill.get("vendorCredits") or ()}
            for credit_id, part in credits:
                applied[credit_id] = applied.get(credit_id, ZERO) + part
            bill["vendorCredits"] = [{"id": c, "amount": out(a)} for c, a in applied.items() if a != 0]
            if not bill["vendorCredits"]:
                del bill["vendorCredits"]
        return bill

    def _use_credit(self, collection, credit_id, amount, touch=True):
        coll = self.collections[collection]
        credit = dict(coll.objects[credit_id])
        applied = dec(credit["appliedAmount"]) + amount
        credit["appliedAmount"] = out(applied)
        credit["availableAmount"] = out(dec(credit[CREDIT_KINDS[collection]["total"]]) - applied)
        self._replace(coll, credit, touch)

    def _listed_ref(self, item, path, id_key, collection, owner, owner_id, not_owned, allow_archived=True):
        """``(id, object)`` named by ``item[id_key]``, one entry of a request's list at ``path``;
        the object must be in ``collection`` and its ``owner`` field ``owner_id``."""
        if not isinstance(item, dict):
            raise _bad_type(path, "an object")
        label = f"{path}.{id_key}"
        obj_id = self._id(item, id_key, label)
        obj = self._ref(collection, obj_id, label, allow_archived=allow_archived)
        if obj[owner] != owner_id:
            raise _bad_value(label, not_owned)
        return obj_id, obj

    def _listed_amount(self, item, path, zero_ok=False):
        """The ``amount`` of one entry of a request's list: positive, or not negative if ``zero_ok``."""
        amount = money(self._num(item, "amount", required=True, path=f"{path}.amount"))
        if zero_ok and amount < 0:
            raise _bad_value(f"{path}.amount", "The amount cannot be negative")
        if not zero_ok and amount <= 0:
            raise _bad_value(f"{path}.amount", "The amount must be more than zero")
        return amount

    def _plan_vendor_credits(self, vendor_id, items, label, room):
        """Validate ``[{id, amount, billId?}]``; return ``[(credit_id, bill_id, amount)]``.

        ``room`` maps bill id -> amount still payable (in the order credits fill them).
        """
        if items is None:
            return []
        if not isinstance(items, list):
            raise _bad_type(label, "an array")
        plan, used = [], {}
        for i, item in enumerate(items):
            path = f"{label}[{i}]"
            credit_id, credit = self._listed_ref(item, path, "id", "vendor-credits", "vendorId", vendor_id,
                                                 "The vendor credit belongs to another vendor",
                                                 allow_archived=False)
            amount = self._listed_amount(item, path)
            used[credit_id] = used.get(credit_id, ZERO) + amount
            if used[credit_id] > dec(credit["availableAmount"]):
                raise _bad_value(f"{path}.amount", f"The amount {used[credit_id]} is more than the "
                                                   f"credit available {dec(credit['availableAmount'])}")
            targets = [item["billId"]] if item.get("billId") else list(room)
            if item.get("billId") and item["billId"] not in room:
                raise _bad_value(f"{path}.billId", "The bill is not part of this payment")
            left = amount
            for bill_id in targets:
                take = min(left, room[bill_id])
                if take > 0:
                    plan.append((credit_id, bill_id, take))
                    room[bill_id] -= take
                    left -= take
                if left == 0:
                    break
            if left > 0:
                raise _bad_value(f"{path}.amount", "The credit is more than the amount due on the bills")
        return plan

    def _make_ap_payment(self, vendor_id, payments, credits, process_date, online, extra, user,
                         scheduled=False):
        """Validate and carry out a payment of bills of one vendor; return the stp object.

        A ``scheduled`` payment only reserves the amounts (bill ``scheduledAmount``) until it is
        canceled; every other payment is settled at once."""
        if not isinstance(payments, list) or not payments:
            raise _missing("payments")
        vendor = self._ref("vendors", vendor_id, "vendorId")
        room, cash = {}, {}
        for i, item in enumerate(payments):
            path = f"payments[{i}]"
            bill_id, bill = self._listed_ref(item, path, "billId", "bills", "vendorId", vendor_id,
                                             "The bill belongs to another vendor", allow_archived=False)
            if bill_id in cash:
                raise _bad_value(f"{path}.billId", "The bill is listed twice")
            amount = self._listed_amount(item, path, zero_ok=True)
            due = dec(bill["dueAmount"]) - dec(bill.get("scheduledAmount"))
            if amount > due:
                raise _bad_value(f"{path}.amount", f"The payment amount {amount} is more than the "
                                                   f"amount due {due}")
            cash[bill_id] = amount
            room[bill_id] = due - amount
        if scheduled and credits:
            raise _bad_value("vendorCredits", "Vendor credits cannot be applied to a scheduled payment")
        plan = self._plan_vendor_credits(vendor_id, credits, "vendorCredits", room)
        total_cash = sum(cash.values(), ZERO)
        if total_cash <= 0 and not plan:
            raise _bad_value("payments", "The payment amount must be more than zero")
        bills = self.collections["bills"]
        for credit_id, _, amount in plan:
            self._use_credit("vendor-credits", credit_id, amount)
        for bill_id, amount in cash.items():
            old = bills.objects[bill_id]
            applied = [(c, a) for c, target, a in plan if target == bill_id]
            if scheduled:
                bill = self._apply_bill_money(old, scheduled=amount)
            else:
                bill = self._apply_bill_money(old, amount, applied)
            self._save_bill(bill, old)
        payment = {"id": self.new_id(PREFIXES["payments"]), "vendorId": vendor_id, "vendorName": vendor["name"],
                   "billPayments": [{"id": self.new_id("blp"), "billId": bill_id, "amount": out(amount)}
                                    for bill_id, amount in cash.items()],
                   "processDate": process_date, "amount": out(total_cash),
                   "transactionNumber": "TXN" + "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=17)),
                   "confirmationNumber": "P%s01 - %07d" % (process_date.replace("-", "")[2:],
                                                            self.rng.randrange(10**7)),
                   "status": "PAID", "onlinePayment": online,
                   "disbursementType": "ACH" if online else "OFFLINE"}
        if scheduled:
            payment["status"] = payment["singleStatus"] = "SCHEDULED"
        elif online:
            payment["singleStatus"] = "CLEARED"
        if plan:
            payment["vendorCredits"] = [{"id": c, "billId": b, "amount": out(a)} for c, b, a in plan]
        payment.update(extra)
        payment["createdBy"] = user
        return self._insert(self.collections["payments"], payment)

    def _undo_ap_payment(self, payment):
        """Give the bills (and vendor credits) of ``payment`` back what it paid or reserved."""
        scheduled = payment.get("singleStatus") == "SCHEDULED"
        credits = {}
        for item in payment.get("vendorCredits") or ():
            amount = dec(item["amount"])
            credits.setdefault(item["billId"], []).append((item["id"], -amount))
            self._use_credit("vendor-credits", item["id"], -amount)
        bills = self.collections["bills"]
        for line in payment["billPayments"]:
            old = bills.objects.get(line["billId"])
            if old is None:
                continue
            amount = dec(line["amount"])
            if scheduled:
                bill = self._apply_bill_money(old, scheduled=-amount)
            else:
                bill = self._apply_bill_money(old, -amount, credits.get(line["billId"], ()))
            self._save_bill(bill, old)

    def _end_ap_payment(self, payment_id, status):
        """Void (``VOIDED``) or cancel (``CANCELED``) a payment; its bills owe the money again."""
        payments = self.collections["payments"]
        old = self._find(payments, payment_id)
        state = old.get("singleStatus") or old.get("status")
        if state in ("VOIDED", "CANCELED"):
            raise _bad_value("paymentId", f"The payment {payment_id} is already {state}")
        if status == "CANCELED" and state != "SCHEDULED":
            raise _bad_value("paymentId", f"Only a SCHEDULED payment can be canceled; this one is {state}")
        if status == "VOIDED" and state == "SCHEDULED":
            raise _bad_value("paymentId", "A SCHEDULED payment is canceled, not voided")
        self._undo_ap_payment(old)
        payment = copy.deepcopy(old)
        payment["status"] = payment["singleStatus"] = status
        return self._replace(payments, payment)

    def _payment_credits(self, bill_id):
        """{vendor credit id: amount} applied to ``bill_id`` by payments still standing."""
        found = {}
        for payment in self.collections["payments"].objects.values():
            if payment.get("singleStatus") in ("VOIDED", "CANCELED"):
                continue
            for item in payment.get("vendorCredits") or ():
                if item["billId"] == bill_id:
                    found[item["id"]] = found.get(item["id"], ZERO) + dec(item["amount"])
        return found

    def _set_bill_credits(self, bill, items):
        """``bill`` carrying the vendor credits ``[{id, amount}]`` of a PATCH/PUT (each amount is
        that credit's total on the bill; a credit left out or at 0 is taken off the bill)."""
        if not isinstance(items, list):
            raise _bad_type("vendorCredits", "an array")
        want = {}
        for i, item in enumerate(items):
            path = f"vendorCredits[{i}]"
            credit_id, _ = self._listed_ref(item, path, "id", "vendor-credits", "vendorId", bill["vendorId"],
                                            "The vendor credit belongs to another vendor")
            amount = self._listed_amount(item, path, zero_ok=True)
            want[credit_id] = want.get(credit_id, ZERO) + amount
        have = {c["id"]: dec(c["amount"]) for c in bill.get("vendorCredits") or ()}
        by_payments = self._payment_credits(bill["id"])
        changes = []
        for credit_id in [*have, *(c for c in want if c not in have)]:
            delta = want.get(credit_id, ZERO) - have.get(credit_id, ZERO)
            if delta == 0:
                continue
            if want.get(credit_id, ZERO) < by_payments.get(credit_id, ZERO):
                raise _bad_value("vendorCredits", f"The vendor credit {credit_id} was applied by a payment; "
                                                  "void the payment to take it back")
            credit = self.collections["vendor-credits"].objects[credit_id]
            if delta > 0 and credit.get("archived"):
                raise _bad_value("vendorCredits", f"The object {credit_id} is archived")
            if delta > dec(credit["availableAmount"]):
                raise _bad_value("vendorCredits", f"The amount {want[credit_id]} is more than the credit "
                                                  f"available {dec(credit['availableAmount']) + have.get(credit_id, ZERO)}")
            changes.append((credit_id, delta))
        if not changes:
            return bill
        room = dec(bill["dueAmount"]) - dec(bill.get("scheduledAmount"))
        if sum((d for _, d in changes), ZERO) > room:
            raise _bad_value("vendorCredits", "The credits are more than the amount due on the bill")
        for credit_id, delta in changes:
            self._use_credit("vendor-credits", credit_id, delta)
        return self._apply_bill_money(bill, ZERO, changes)

    def _make_ar_payment(self, customer_id, invoices, amount, payment_type, payment_date, extra, user):
        self._ref("customers", customer_id, "customerId")
        if payment_type not in AR_PAYMENT_TYPES:
            raise _bad_value("paymentType", "Must be one of " + ", ".join(AR_PAYMENT_TYPES))
        if invoices is None:
            raise _missing("invoices")
        if not isinstance(invoices, list):
            raise _bad_type("invoices", "an array")
        applied, total = {}, ZERO
        coll = self.collections["invoices"]
        for i, item in enumerate(invoices):
            path = f"invoices[{i}]"
            invoice_id, invoice = self._listed_ref(item, path, "id", "invoices", "customerId", customer_id,
                                                   "The invoice belongs to another customer",
                                                   allow_archived=False)
            if invoice_id in applied:
                raise _bad_value(f"{path}.id", "The invoice is listed twice")
            part = self._listed_amount(item, path)
            due = dec(invoice["dueAmount"])
            if part > due:
                raise _bad_value(f"{path}.amount", f"The payment amount {part} is more than the amount due {due}")
            applied[invoice_id] = part
            total += part
        if amount is None:
            amount = total
        amount = money(amount)
        if amount <= 0:
            raise _bad_value("amount", "The amount must be more than zero")
        if total > amount:
            raise _bad_value("amount", f"The amount {amount} is less than the {total} applied to invoices")
        for invoice_id, part in applied.items():
            invoice = copy.deepcopy(coll.objects[invoice_id])
            total_amount = dec(invoice["totalAmount"])
            credit = dec(invoice["creditAmount"])
            cash = self._invoice_cash_paid(invoice) + part
            invoice["dueAmount"] = out(total_amount - cash - credit)
            invoice["status"] = self._invoice_status(total_amount, cash, credit)
            self._replace(coll, invoice)
        payment = {"id": self.new_id(PREFIXES["receivable-payments"]), "customerId": customer_id,
                   "paymentType": payment_type, "paymentDate": payment_date, "amount": out(amount),
                   "unappliedAmount": out(amount - total), "status": "PAID"}
        payment.update(extra)
        payment["invoicePayments"] = [{"invoiceId": i, "amount": out(a)} for i, a in applied.items()]
        payment["createdBy"] = user
        return self._insert(self.collections["receivable-payments"], payment)

    def _apply_invoice_credit(self, invoice, old):
        """Draw the change in ``creditAmount`` from (or give it back to) the customer's credit memos."""
        delta = dec(invoice["creditAmount"]) - (dec(old["creditAmount"]) if old else ZERO)
        if delta == 0:
            return
        memos = [m for m in self.collections["credit-memos"].objects.values()
                 if m["customerId"] == invoice["customerId"] and not m["archived"]]
        memos.sort(key=lambda m: (m["creditDate"], m["id"]))
        if delta > 0:
            available = sum((dec(m["availableAmount"]) for m in memos), ZERO)
            if delta > available:
                raise _bad_value("creditAmount", f"The customer has only {available} of credit available")
            for memo in memos:
                take = min(delta, dec(memo["availableAmount"]))
                if take > 0:
                    self._use_credit("credit-memos", memo["id"], take)
                    delta -= take
                if delta == 0:
                    return
        else:
            give_back = -delta
            for memo in reversed(memos):
                back = min(give_back, dec(memo["appliedAmount"]))
                if back > 0:
                    self._use_credit("credit-memos", memo["id"], -back)
                    give_back -= back
                if give_back == 0:
                    return


    def _h_record_ap(self, request, session):
        body = self._body(request, dict)
        vendor_id = self._id(body, "vendorId")
        process_date = self._date(body, "processDate", required=True)
        to_print = self._bool(body, "toPrintCheck", required=True)
        extra = {"toPrintCheck": to_print}
        for field in ("description", "syncReference"):
            value = self._str(body, field)
            if value:
                extra[field] = value
        classes = self._classifications(body.get("classifications"), "classifications")
        if classes:
            extra["classifications"] = classes
        with self._transaction():
            return self._ok(self._make_ap_payment(vendor_id, body.get("payments"), body.get("vendorCredits"),
                                                  process_date, False, extra, session.user_id))

    def _h_record_ar(self, request, session):
        body = self._body(request, dict)
        customer_id = self._id(body, "customerId")
        payment_date = self._date(body, "paymentDate", required=True)
        payment_type = self._str(body, "paymentType", required=True)
        amount = self._num(body, "amount", required=True)
        extra = {}
        description = self._str(body, "description", max_len=4000)
        if description:
            extra["description"] = description
        with self._transaction():
            return self._ok(self._make_ar_payment(customer_id, body.get("invoices"), amount, payment_type,
                                                  payment_date, extra, session.user_id))

    def _h_void_payment(self, request, session):
        self._body(request, dict)
        with self._transaction():
            return self._ok(self._end_ap_payment(request.match.group("id"), "VOIDED"))

    def _h_cancel_payment(self, request, session):
        self._body(request, dict)
        with self._transaction():
            return self._ok(self._end_ap_payment(request.match.group("id"), "CANCELED"))
