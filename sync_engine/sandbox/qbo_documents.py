"""QuickBooks Online sandbox transactions: bills, vendor credits, invoices,
credit memos, payments and deposits; what payments apply to, the documents'
balances and the vendors' and customers' open balances."""
import datetime as dt

from .qbo_common import (_DATE_RE, _ZERO, CURRENCY_NAMES, SYSTEM_FIELDS, QBOFault, _business, _clone,
                         _invalid_ref, _invalid_value, _money, _num, _required)
from .qbo_money import document_total, price_lines

EXPENSE_LINES = ("AccountBasedExpenseLineDetail", "ItemBasedExpenseLineDetail")
SALES_LINES = ("SalesItemLineDetail", "GroupLineDetail", "DescriptionOnly", "DiscountLineDetail",
               "SubTotalLineDetail")
GROUP_INNER_LINES = ("SalesItemLineDetail", "DescriptionOnly")


class DocumentsMixin:
    """Transactions, payment links, balances and deposits of ``QBOSandbox``."""

    # ============================================================ balances
    def _contribution(self, entity, obj):
        if obj is None or entity not in ("Bill", "Invoice"):
            return None
        party, ref = ("Vendor", "VendorRef") if entity == "Bill" else ("Customer", "CustomerRef")
        value = (obj.get(ref) or {}).get("value")
        return (party, value, _money(obj.get("Balance", 0))) if value else None

    def _party_delta(self, entity, old, new):
        """Vendor and customer open balances follow their bills and invoices."""
        before, after = self._contribution(entity, old), self._contribution(entity, new)
        if before == after:
            return
        if before:
            self._adjust_party(before[0], before[1], -before[2])
        if after:
            self._adjust_party(after[0], after[1], after[2])

    def _adjust_party(self, party, id_, delta):
        seen = set()
        first = True
        while id_ and id_ not in seen:
            seen.add(id_)
            obj = self._data[party].get(id_)
            if obj is None:
                return
            obj = dict(obj)
            if first:
                obj["Balance"] = _num(_money(obj.get("Balance", 0)) + delta)
            if party == "Customer":
                obj["BalanceWithJobs"] = _num(_money(obj.get("BalanceWithJobs", 0)) + delta)
            self._data[party][id_] = obj
            first = False
            if party != "Customer":
                return
            id_ = (obj.get("ParentRef") or {}).get("value")

    # transactions
    def _txn_defaults(self, fields, party_ref, term_ref=None):
        if not fields.get(party_ref):
            raise _required(party_ref)
        txn_date = fields.get("TxnDate") or self._today().isoformat()
        if not _DATE_RE.match(str(txn_date)):
            raise _invalid_value("TxnDate", f"Invalid date {txn_date!r}")
        fields["TxnDate"] = txn_date
        if term_ref is not None and not fields.get("DueDate"):
            days = 0
            term = fields.get(term_ref)
            if term:
                days = int(self._data["Term"][term["value"]].get("DueDays") or 0)
            due = dt.date.fromisoformat(txn_date) + dt.timedelta(days=days)
            fields["DueDate"] = due.isoformat()
        fields.setdefault("CurrencyRef", {"value": "USD", "name": CURRENCY_NAMES["USD"]})

    def _lines(self, fields, allowed, required=True):
        lines = fields.get("Line")
        if lines is None or (required and not lines):
            raise _required("Line")
        if not isinstance(lines, list):
            raise _invalid_value("Line", "Line must be a list")
        used = self._line_ids(lines)
        counter = [max([int(i) for i in used if i.isdigit()] or [0]) + 1]
        fields["Line"] = self._shape_lines(lines, allowed, counter, "Line")
        return fields["Line"]

    @staticmethod
    def _line_ids(lines):
        ids = set()
        for line in lines:
            if isinstance(line, dict):
                if line.get("Id"):
                    ids.add(str(line["Id"]))
                group = line.get("GroupLineDetail")
                if isinstance(group, dict) and isinstance(group.get("Line"), list):
                    ids |= DocumentsMixin._line_ids(group["Line"])
        return ids

    def _shape_lines(self, lines, allowed, counter, where):
        """Check each line's detail, number it and give it an Id; SubTotal lines are dropped
        (the server adds its own)."""
        out, number = [], 0
        for line in lines:
            if not isinstance(line, dict):
                raise _invalid_value(where, "Each line must be an object")
            kind = line.get("DetailType")
            if kind not in allowed:
                raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {kind}",
                               f"{where}.DetailType")
            if kind == "SubTotalLineDetail":
                continue
            detail = line.get(kind)
            if kind != "DescriptionOnly" and not isinstance(detail, dict):
                raise _required(f"{where}.{kind}")
            need = {"AccountBasedExpenseLineDetail": "AccountRef", "ItemBasedExpenseLineDetail": "ItemRef",
                    "SalesItemLineDetail": "ItemRef", "GroupLineDetail": "GroupItemRef"}.get(kind)
            if need and not detail.get(need):
                raise _required(f"{where}.{kind}.{need}")
            if kind == "GroupLineDetail":
                inner = detail.get("Line")
                if not isinstance(inner, list) or not inner:
                    raise _required(f"{where}.GroupLineDetail.Line")
                detail["Line"] = self._shape_lines(inner, GROUP_INNER_LINES, counter, f"{where}.GroupLineDetail.Line")
            if not line.get("Id"):
                line["Id"] = str(counter[0])
                counter[0] += 1
            number += 1
            line = {"Id": str(line.pop("Id")), "LineNum": line.pop("LineNum", number), **line}
            out.append(line)
        return out

    def _priced(self, fields, allowed):
        """Lines shaped and priced as QBO does, TotalAmt set: (lines, subtotal before discounts)."""
        lines = self._lines(fields, allowed)
        subtotal, discounts = price_lines(lines)
        fields["TotalAmt"] = _num(document_total(fields, subtotal, discounts))
        return lines, subtotal

    def _normalize_expense_doc(self, fields, due_date):
        self._txn_defaults(fields, "VendorRef", "SalesTermRef" if due_date else None)
        self._priced(fields, EXPENSE_LINES)
        if not fields.get("APAccountRef"):
            ap = self._default_account("Accounts Payable")
            fields["APAccountRef"] = {"value": ap["Id"], "name": ap["Name"]}
        return fields

    def _normalize_bill(self, fields, old, id_):
        return self._normalize_expense_doc(fields, due_date=True)

    def _normalize_vendorcredit(self, fields, old, id_):
        return self._normalize_expense_doc(fields, due_date=False)

    def _normalize_sales_doc(self, entity, fields, old):
        self._txn_defaults(fields, "CustomerRef", "SalesTermRef" if entity == "Invoice" else None)
        lines, subtotal = self._priced(fields, SALES_LINES)
        # QBO adds a SubTotalLineDetail line (no Id) holding the lines' sum before discounts
        lines.append({"Amount": _num(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
        if not fields.get("DocNumber") and (old or {}).get("DocNumber"):
            fields["DocNumber"] = old["DocNumber"]
        if not fields.get("DocNumber"):
            fields["DocNumber"] = str(self._next_doc_number[entity])
            self._next_doc_number[entity] += 1
        return fields

    def _normalize_invoice(self, fields, old, id_):
        self._normalize_sales_doc("Invoice", fields, old)
        fields.setdefault("Deposit", 0)
        fields.setdefault("EmailStatus", "NotSet")
        fields.setdefault("PrintStatus", "NotSet")
        if fields["EmailStatus"] == "NeedToSend" and not (fields.get("BillEmail") or {}).get("Address"):
            raise _business("Need to send requires a BillEmail address.", "BillEmail")
        return fields

    def _normalize_creditmemo(self, fields, old, id_):
        return self._normalize_sales_doc("CreditMemo", fields, old)

    def _payment_lines(self, fields):
        lines = fields.get("Line")
        if lines is None:
            fields["Line"] = lines = []
        if not isinstance(lines, list):
            raise _invalid_value("Line", "Line must be a list")
        for line in lines:
            if not isinstance(line, dict) or "Amount" not in line:
                raise _required("Line.Amount")
            line["Amount"] = _num(_money(line["Amount"], "Line.Amount"))
            linked = line.get("LinkedTxn")
            if linked is not None and not isinstance(linked, list):
                raise _invalid_value("Line.LinkedTxn", "LinkedTxn must be a list")
        if "TotalAmt" not in fields:
            raise _required("TotalAmt")
        total = _money(fields["TotalAmt"], "TotalAmt")
        if total < 0:
            raise _invalid_value("TotalAmt", "TotalAmt cannot be negative")
        fields["TotalAmt"] = _num(total)
        return lines

    def _normalize_payment(self, fields, old, id_):
        self._txn_defaults(fields, "CustomerRef")
        self._payment_lines(fields)
        if not fields.get("DepositToAccountRef"):
            account = self._default_account("Other Current Asset", "UndepositedFunds")
            fields["DepositToAccountRef"] = {"value": account["Id"], "name": account["Name"]}
        fields.setdefault("ProcessPayment", False)
        return fields

    def _normalize_billpayment(self, fields, old, id_):
        self._txn_defaults(fields, "VendorRef")
        pay_type = fields.get("PayType")
        if not pay_type:
            raise _required("PayType")
        if pay_type not in ("Check", "CreditCard"):
            raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {pay_type}", "PayType")
        if pay_type == "Check":
            check = fields.get("CheckPayment")
            if not isinstance(check, dict) or not check.get("BankAccountRef"):
                raise _required("CheckPayment.BankAccountRef")
            check.setdefault("PrintStatus", "NotSet")
            fields.pop("CreditCardPayment", None)
        else:
            card = fields.get("CreditCardPayment")
            if not isinstance(card, dict) or not card.get("CCAccountRef"):
                raise _required("CreditCardPayment.CCAccountRef")
            fields.pop("CheckPayment", None)
        self._payment_lines(fields)
        return fields
    # ========================================================== payments
    def _payment_links(self, entity, fields, pay_id):
        """Validate what a payment applies to: {(doc entity, doc id): Decimal amount}.

        Credits are applied through the payment's lines with positive amounts: a BillPayment line
        linking a VendorCredit (a Payment line linking a CreditMemo) uses that much of the credit,
        and the payment's TotalAmt is the net cash, bills (invoices) less credits. Integrators
        describe it the same way: "QBO's TotalAmt is the net check amount while credit lines carry
        positive amounts" (laf-rge/quickbooks-mcp PR #23, create_bill_payment); reference 8.8/8.11
        call this structure uncertain. Cash beyond what is applied stays on a Payment as
        UnappliedAmt.
        """
        kinds = {"BillPayment": {"Bill": "Bill", "VendorCredit": "VendorCredit"},
                 "Payment": {"Invoice": "Invoice", "CreditMemo": "CreditMemo"}}[entity]
        party_ref = "VendorRef" if entity == "BillPayment" else "CustomerRef"
        party = fields[party_ref]["value"]
        links = {}
        for line in fields.get("Line") or []:
            for linked in line.get("LinkedTxn") or []:
                doc_entity = kinds.get(linked.get("TxnType"))
                if not doc_entity:
                    raise QBOFault("2170", "Invalid Enumeration",
                                   f"Invalid Enumeration : {linked.get('TxnType')}", "Line.LinkedTxn.TxnType")
                doc_id = str(linked.get("TxnId") or "")
                doc = self._data[doc_entity].get(doc_id)
                if doc is None:
                    raise _invalid_ref("Line.LinkedTxn.TxnId", doc_id, doc_entity)
                if (doc.get(party_ref) or {}).get("value") != party:
                    raise _business(f"{doc_entity} {doc_id} belongs to another "
                                    f"{'vendor' if entity == 'BillPayment' else 'customer'}.", "Line.LinkedTxn")
                key = (doc_entity, doc_id)
                links[key] = links.get(key, _ZERO) + _money(line["Amount"])
        applied_here = self._pay_links.get((entity, pay_id), {}) if pay_id else {}
        for key, amount in links.items():
            doc = self._data[key[0]][key[1]]
            open_amount = _money(doc.get("Balance", doc.get("TotalAmt", 0))) + applied_here.get(key, _ZERO)
            if amount < 0 or amount > open_amount:
                raise _business(f"The amount applied to {key[0]} {key[1]} ({amount}) is more than its open "
                                f"balance ({open_amount}).", "Line.Amount")
        debit_docs = ("Bill", "Invoice")
        applied = sum((a for (e, _), a in links.items() if e in debit_docs), _ZERO) - \
            sum((a for (e, _), a in links.items() if e not in debit_docs), _ZERO)
        total = _money(fields["TotalAmt"])
        if applied > total:
            raise _business(f"The amounts applied ({applied}) are more than the payment total ({total}).",
                            "TotalAmt")
        if entity == "Payment":
            fields["UnappliedAmt"] = _num(total - applied)
        return links

    def _with_applications(self, entity, id_, fields):
        """Balance, RemainingCredit and LinkedTxn of a document from the payments applied to it."""
        applied = self._applied.get((entity, id_), {})
        total = _money(fields.get("TotalAmt", 0))
        paid = sum(applied.values(), _ZERO)
        if paid > total:
            raise _business(f"The total ({total}) is less than the payments applied to it ({paid}).", "Line")
        fields["Balance"] = _num(total - paid)
        if entity == "CreditMemo":
            fields["RemainingCredit"] = fields["Balance"]
        fields.pop("LinkedTxn", None)
        if applied:
            fields["LinkedTxn"] = [{"TxnId": pid, "TxnType": "BillPaymentCheck" if pe == "BillPayment" else "Payment"}
                                   for pe, pid in applied]
        return fields

    def _relink(self, entity, pay_id, links):
        """Apply a payment's new links; the documents it touches get a new version."""
        key = (entity, pay_id)
        old = self._pay_links.pop(key, {})
        if links:
            self._pay_links[key] = dict(links)
        for doc_key in list(dict.fromkeys(list(old) + list(links))):
            if old.get(doc_key) == links.get(doc_key):
                continue
            applied = self._applied.setdefault(doc_key, {})
            if doc_key in links:
                applied[key] = links[doc_key]
            else:
                applied.pop(key, None)
            if not applied:
                del self._applied[doc_key]
            doc_entity, doc_id = doc_key
            doc = self._data[doc_entity].get(doc_id)
            if doc is None:
                continue
            fields = {k: _clone(v) for k, v in doc.items() if k not in SYSTEM_FIELDS}
            fields = self._with_applications(doc_entity, doc_id, fields)
            new = self._assemble(doc_id, int(doc["SyncToken"]) + 1, fields, doc["MetaData"]["CreateTime"])
            self._put(doc_entity, new, doc)

    # ============================================================ deposits
    DEPOSITED_DETAIL = ("This transaction has been deposited. If you want to change or delete it, you must edit "
                        "the deposit it appears on and remove it first.")

    def _check_not_deposited(self, entity, id_):
        """Error 6540 (reference 6.2 and 5.3): a payment on a bank deposit cannot be changed."""
        if entity == "Payment" and id_ in self._deposited:
            raise QBOFault("6540", "Deposited Transaction cannot be changed", self.DEPOSITED_DETAIL, "")

    def _normalize_deposit(self, fields, old, id_):
        if not fields.get("DepositToAccountRef"):
            raise _required("DepositToAccountRef")
        self._txn_defaults(fields, "DepositToAccountRef")
        lines = fields.get("Line")
        if not isinstance(lines, list) or not lines:
            raise _required("Line")
        total, payments, number = _ZERO, [], 0
        for line in lines:
            if not isinstance(line, dict) or line.get("Amount") in (None, ""):
                raise _required("Line.Amount")
            amount = _money(line["Amount"], "Line.Amount")
            linked = line.get("LinkedTxn") or []
            if not isinstance(linked, list):
                raise _invalid_value("Line.LinkedTxn", "LinkedTxn must be a list")
            for txn in linked:
                if txn.get("TxnType") != "Payment":
                    raise QBOFault("2170", "Invalid Enumeration", f"Invalid Enumeration : {txn.get('TxnType')}",
                                   "Line.LinkedTxn.TxnType")
                pay_id = str(txn.get("TxnId") or "")
                pay = self._data["Payment"].get(pay_id)
                if pay is None:
                    raise _invalid_ref("Line.LinkedTxn.TxnId", pay_id, "Payment")
                if self._deposited.get(pay_id, id_) != id_ or pay_id in payments:
                    raise _business(f"Payment {pay_id} is already on a deposit.", "Line.LinkedTxn")
                if amount != _money(pay.get("TotalAmt", 0)):
                    raise _business(f"The deposit line for payment {pay_id} ({amount}) must equal its amount "
                                    f"({_money(pay.get('TotalAmt', 0))}).", "Line.Amount")
                txn["TxnId"] = pay_id
                txn.setdefault("TxnLineId", "0")
                payments.append(pay_id)
            if not linked:
                detail = line.get("DepositLineDetail")
                if line.get("DetailType") != "DepositLineDetail" or not isinstance(detail, dict) \
                        or not detail.get("AccountRef"):
                    raise _required("Line.DepositLineDetail.AccountRef")
            number += 1
            line["Amount"] = _num(amount)
            line.setdefault("Id", str(number))
            line.setdefault("LineNum", number)
            total += amount
        fields["TotalAmt"] = _num(total)
        fields["_payments"] = payments
        return fields

    def _redeposit(self, dep_id, payments):
        """Point payments at the deposit they are on (header LinkedTxn), and release the others."""
        before = [p for p, d in self._deposited.items() if d == dep_id]
        for pay_id in before:
            del self._deposited[pay_id]
        for pay_id in payments:
            self._deposited[pay_id] = dep_id
        for pay_id in dict.fromkeys(before + payments):
            if (pay_id in before) == (pay_id in payments):
                continue
            pay = self._data["Payment"].get(pay_id)
            if pay is None:
                continue
            fields = {k: _clone(v) for k, v in pay.items() if k not in SYSTEM_FIELDS}
            links = [l for l in fields.pop("LinkedTxn", None) or [] if l.get("TxnType") != "Deposit"]
            if pay_id in payments:
                links.append({"TxnId": dep_id, "TxnType": "Deposit"})
            if links:
                fields["LinkedTxn"] = links
            new = self._assemble(pay_id, int(pay["SyncToken"]) + 1, fields, pay["MetaData"]["CreateTime"])
            self._put("Payment", new, pay)
