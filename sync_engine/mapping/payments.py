"""Payments: bill payments and received payments.

Both systems' payments are read here, with the vendor credits and credit
memos they apply; a payment we record carries a mark saying where it came
from, written and read back here too. Payments have write bodies of their
own (``qbo_payment_body``, ``billcom_payment_body``): they name the source
payment and the connection's accounts, which no other body needs.
"""
import hashlib
import re
from decimal import Decimal

from ..records import MappingError, Ref, date, money
from .common import Mapper, _bc_ref, _currency, _dict, _items, qbo_voided, _ref, _str

# Payments we record carry their source's id in a mark with a check code, so a
# memo a person typed that merely looks like one ("Bill.com payment ...",
# "QuickBooks 123") never decides where a payment came from.
# A credit applied in Bill.com outside any payment has no Bill.com payment id:
# its link's Bill.com side is "credit:<document id>:<credit ids>:<amount shown>".
CREDIT_APPLICATION = "credit:"
PAYMENT_MARK_QBO = "Bill.com payment"      # QBO PrivateNote of payments we create
PAYMENT_MARK_BILLCOM = "QuickBooks"        # Bill.com description of payments we record
_MARK = re.compile(r"(?P<prefix>.+) (?P<id>\S+) \(sync mark (?P<check>[0-9a-f]{10})\)")


def _mark_check(prefix, remote_id):
    return hashlib.sha256(f"{prefix}|{remote_id}".encode()).hexdigest()[:10]


def origin_mark(prefix, remote_id):
    """The note written on a payment we record: where it came from, checkable."""
    return f"{prefix} {remote_id} (sync mark {_mark_check(prefix, remote_id)})"


def read_origin_mark(note, prefix):
    """The source id in a mark we wrote, or None for any other text."""
    found = _MARK.fullmatch((note or "").strip())
    if not found or found["prefix"] != prefix:
        return None
    if found["check"] != _mark_check(prefix, found["id"]):
        return None
    return found["id"]


# --------------------------------------------------------------------- read
_KIND_LABEL = {"BillPayment": "Bill payment", "Payment": "Received payment"}


def _qbo_payment(kind, party_key, party_type, doc_type, doc_txn):
    """A BillPayment or Payment. ``amount`` is the cash (TotalAmt); ``applied``
    is what each bill or invoice's balance drops by; ``credits`` the vendor
    credits or credit memos used, which QBO links in lines of their own with
    positive amounts (TotalAmt = documents - credits). Cash a Payment applies to
    nothing is its unapplied amount: amount - (applied - credits)."""
    credit_type, credit_txn = ("vendor_credit", "VendorCredit") if doc_type == "bill" else ("credit_memo", "CreditMemo")

    def reader(obj):
        party = _ref(obj, party_key, party_type, party_key)
        if party is None:
            raise MappingError(party_key, "is required")
        applied, credits = [], []
        for index, line in enumerate(_items(obj, "Line")):
            amount = money(line.get("Amount"), f"Line[{index}].Amount")
            for txn in _items(line, "LinkedTxn"):
                if txn.get("TxnType") == doc_txn:
                    applied.append({"document": Ref(doc_type, str(txn.get("TxnId"))), "amount": amount})
                elif txn.get("TxnType") == credit_txn:
                    credits.append({"credit": Ref(credit_type, str(txn.get("TxnId"))), "amount": amount})
        values = {party_type: party, "date": date(obj.get("TxnDate"), "TxnDate"),
                  "amount": money(obj.get("TotalAmt"), "TotalAmt"), "applied": applied}
        if credits:
            values["credits"] = credits
        note = _str(obj.get("PrivateNote")) or ""
        facts = {"currency": _currency(obj, "CurrencyRef"),
                 "origin": read_origin_mark(note, PAYMENT_MARK_QBO),
                 "voided": qbo_voided(obj), "party_name": party.name,
                 "reference": obj.get("PaymentRefNum") or obj.get("DocNumber")}
        label = f"{_KIND_LABEL[kind]} {obj.get('Id')} ({party.name or party.remote_id}, {values['amount']})"
        return values, label, None, facts
    return reader


_QBO_PAYMENT_ENTITY = {"bill_payment": "BillPayment", "received_payment": "Payment"}


def _bc_payment(kind):
    def reader(obj):
        credits = []
        if kind == "bill_payment":
            party = _bc_ref(obj.get("vendorId") or _dict(obj, "vendor").get("id"), "vendor", "vendorId",
                            _str(obj.get("vendorName")) or _dict(obj, "vendor").get("name"))
            applied = [{"document": _bc_ref(p.get("billId"), "bill", f"billPayments[{i}].billId"),
                        "amount": money(p.get("amount"), f"billPayments[{i}].amount")}
                       for i, p in enumerate(_items(obj, "billPayments"))]
            # vendor credits used by the payment: a bill's balance drops by its
            # cash and its credits together, as QBO applies them
            for i, c in enumerate(_items(obj, "vendorCredits")):
                amount = Decimal(money(c.get("amount"), f"vendorCredits[{i}].amount"))
                bill = _bc_ref(c.get("billId"), "bill", f"vendorCredits[{i}].billId")
                credits.append({"credit": _bc_ref(c.get("id"), "vendor_credit", f"vendorCredits[{i}].id"),
                                "document": bill, "amount": str(amount)})
                for line in applied:
                    if bill is not None and line["document"].remote_id == bill.remote_id:
                        line["amount"] = str(Decimal(line["amount"]) + amount)
                        break
                else:
                    applied.append({"document": bill, "amount": str(amount)})
            day = date(obj.get("processDate"), "processDate")
            party_type = "vendor"
        else:
            party = _bc_ref(obj.get("customerId"), "customer", "customerId")
            applied = [{"document": _bc_ref(p.get("invoiceId"), "invoice", f"invoicePayments[{i}].invoiceId"),
                        "amount": money(p.get("amount"), f"invoicePayments[{i}].amount")}
                       for i, p in enumerate(_items(obj, "invoicePayments"))]
            day = date(obj.get("paymentDate"), "paymentDate")
            party_type = "customer"
        if party is None:
            raise MappingError(f"{party_type}Id", "is required")
        values = {party_type: party, "date": day, "amount": money(obj.get("amount"), "amount"),
                  "applied": applied}
        if credits:
            values["credits"] = credits
        description = _str(obj.get("description")) or ""
        origin = read_origin_mark(description, f"{PAYMENT_MARK_BILLCOM} {_QBO_PAYMENT_ENTITY[kind]}")
        status = (_str(obj.get("status")) or _str(obj.get("singleStatus")) or "").upper()
        facts = {"currency": _currency(obj, "currency"), "origin": origin, "status": status,
                 "voided": status in ("VOIDED", "CANCELED", "FUNDING_FAILED_VOIDED"),
                 "reference": obj.get("confirmationNumber") or obj.get("transactionNumber"),
                 "payment_type": obj.get("paymentType"), "online": obj.get("onlinePayment")}
        name = "Bill payment" if kind == "bill_payment" else "Received payment"
        label = f"{name} {obj.get('id')} ({party.name or party.remote_id}, {values['amount']})"
        return values, label, None, facts
    return reader


MAPPERS = {
    "bill_payment": Mapper(_qbo_payment("BillPayment", "VendorRef", "vendor", "bill", "Bill"),
                           _bc_payment("bill_payment")),
    "received_payment": Mapper(_qbo_payment("Payment", "CustomerRef", "customer", "invoice", "Invoice"),
                               _bc_payment("received_payment")),
}


# -------------------------------------------------------------------- write
def qbo_payment_body(object_type, values, resolve, settings, source_id, reference=None):
    """A BillPayment or Payment from a Bill.com payment's neutral values:
    TotalAmt is the cash; each document line its balance drop; each credit a
    line of its own (QBO nets them: TotalAmt = documents - credits)."""
    bill_side = object_type == "bill_payment"
    doc_txn, credit_txn = ("Bill", "VendorCredit") if bill_side else ("Invoice", "CreditMemo")
    lines = [{"Amount": Decimal(a["amount"]), "LinkedTxn": [{"TxnId": resolve(a["document"]), "TxnType": doc_txn}]}
             for a in values["applied"]]
    lines += [{"Amount": Decimal(c["amount"]), "LinkedTxn": [{"TxnId": resolve(c["credit"]), "TxnType": credit_txn}]}
              for c in values.get("credits") or ()]
    body = {"TotalAmt": Decimal(values["amount"]), "Line": lines,
            "PrivateNote": origin_mark(PAYMENT_MARK_QBO, source_id)}
    if bill_side:
        if not settings.bank_account_id:
            raise MappingError("bank_account_id", "the connection has no bank account for bill payments")
        body.update({"VendorRef": {"value": resolve(values["vendor"])}, "PayType": "Check",
                     "CheckPayment": {"BankAccountRef": {"value": settings.bank_account_id}}})
        if reference:
            body["DocNumber"] = str(reference)[:21]
        if settings.ap_account_id:
            body["APAccountRef"] = {"value": settings.ap_account_id}
    else:
        body["CustomerRef"] = {"value": resolve(values["customer"])}
        if settings.deposit_account_id:
            body["DepositToAccountRef"] = {"value": settings.deposit_account_id}
        if reference:
            body["PaymentRefNum"] = str(reference)[:21]
    if values.get("date"):
        body["TxnDate"] = values["date"]
    return body


def billcom_payment_body(object_type, values, resolve, source_id):
    """A Bill.com recorded payment from a QBO payment's neutral values. An AP
    payment says per bill how much is cash and which vendor credit covers the
    rest; an AR payment's amount keeps what is left unapplied."""
    if object_type == "bill_payment":
        credits = [[resolve(c["credit"]), Decimal(c["amount"])] for c in values.get("credits") or ()]
        payments, used = [], []
        for applied in values["applied"]:
            bill_id, due = resolve(applied["document"]), Decimal(applied["amount"])
            for credit in credits:  # credits cover the bills in order, as QBO lists them
                take = min(credit[1], due)
                if take > 0:
                    used.append({"id": credit[0], "billId": bill_id, "amount": take})
                    credit[1] -= take
                    due -= take
            payments.append({"billId": bill_id, "amount": due})
        body = {"vendorId": resolve(values["vendor"]), "processDate": values.get("date"), "toPrintCheck": False,
                "payments": payments,
                "description": origin_mark(f"{PAYMENT_MARK_BILLCOM} BillPayment", source_id)}
        if used:
            body["vendorCredits"] = used
        return body
    invoices = [{"id": resolve(a["document"]), "amount": Decimal(a["amount"])} for a in values["applied"]]
    return {"customerId": resolve(values["customer"]), "paymentDate": values.get("date"), "paymentType": "CHECK",
            "amount": Decimal(values["amount"]), "invoices": invoices,
            "description": origin_mark(f"{PAYMENT_MARK_BILLCOM} Payment", source_id)}
