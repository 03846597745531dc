"""Every payment shape reaches the other side whole: unapplied cash, one payment
over several documents, vendor credits used as part of a payment. After each
run every linked document's open balance is the same on both sides."""
from decimal import Decimal

from sync_engine.reconcile import tie_out
from sync_engine.tests.sync_support import demo_company


def _qbo(c, entity, **match):
    return next(o for o in c.sb.qbo.all(entity) if all(o.get(k) == v for k, v in match.items()))


def _bc(c, collection, number):
    def num(o):
        return (o.get("invoice") or {}).get("invoiceNumber") or o.get("invoiceNumber") or o.get("referenceNumber")
    return next(o for o in c.sb.billcom.all(collection) if num(o) == number)


def _money(value):
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _assert_books_agree(c):
    report = tie_out(c.config, c.store, c.service().remote)
    assert report.agrees, report.render()


def _payments_of(c, entity, doc_entity, doc_id):
    return [p for p in c.sb.qbo.all(entity)
            if any(t["TxnId"] == doc_id and t["TxnType"] == doc_entity
                   for line in p.get("Line", []) for t in line.get("LinkedTxn", []))]


def test_a_received_payment_with_an_unapplied_part_reaches_quickbooks_whole():
    with demo_company() as c:
        c.run()
        invoice = _bc(c, "invoices", "1002")
        c.sb.billcom.receive_payment(invoice["customerId"], invoices=[(invoice["id"], 50.00)], amount=80.00,
                                     payment_type="CHECK", payment_date="2026-11-22")
        result = c.run()
        assert result.state == "done", result.message
        qbo_invoice = _qbo(c, "Invoice", DocNumber="1002")
        [payment] = _payments_of(c, "Payment", "Invoice", qbo_invoice["Id"])
        assert _money(payment["TotalAmt"]) == Decimal("80.00")
        assert _money(payment["UnappliedAmt"]) == Decimal("30.00")
        assert _money(qbo_invoice["Balance"]) == _money(_bc(c, "invoices", "1002")["dueAmount"]) == Decimal("55.00")
        _assert_books_agree(c)


def test_one_received_payment_over_several_invoices():
    with demo_company() as c:
        c.run()
        first = _bc(c, "invoices", "1001")
        cool = first["customerId"]
        design = _qbo(c, "Item", Name="Design")
        c.sb.qbo.add("Invoice", {"CustomerRef": {"value": _qbo(c, "Invoice", DocNumber="1001")["CustomerRef"]["value"]},
                                 "DocNumber": "1010", "TxnDate": "2026-11-20",
                                 "Line": [{"Amount": 150.00, "DetailType": "SalesItemLineDetail",
                                           "SalesItemLineDetail": {"ItemRef": {"value": design["Id"]},
                                                                   "Qty": 2, "UnitPrice": 75}}]})
        c.run()
        second = _bc(c, "invoices", "1010")
        c.sb.billcom.receive_payment(cool, invoices=[(first["id"], 1150.00), (second["id"], 100.00)],
                                     payment_type="ACH", payment_date="2026-11-23")
        c.run()
        [payment] = _payments_of(c, "Payment", "Invoice", _qbo(c, "Invoice", DocNumber="1010")["Id"])
        assert _money(payment["TotalAmt"]) == Decimal("1250.00")
        assert _money(_qbo(c, "Invoice", DocNumber="1001")["Balance"]) == 0
        assert _money(_qbo(c, "Invoice", DocNumber="1010")["Balance"]) == Decimal("50.00")
        _assert_books_agree(c)


def test_a_bill_paid_with_cash_and_a_vendor_credit_leaves_the_same_balance_in_quickbooks():
    with demo_company() as c:
        c.run()
        bill = _bc(c, "bills", "NL-1001")
        credit = _bc(c, "vendor-credits", "NL-CR-7")
        c.sb.billcom.pay_bill(bill["id"], 70.00, process_date="2026-11-22", vendor_credits=[(credit["id"], 30.00)])
        result = c.run()
        assert result.state == "done", result.message
        qbo_bill = _qbo(c, "Bill", DocNumber="NL-1001")
        [payment] = _payments_of(c, "BillPayment", "Bill", qbo_bill["Id"])
        assert _money(payment["TotalAmt"]) == Decimal("70.00")
        assert _money(qbo_bill["Balance"]) == _money(_bc(c, "bills", "NL-1001")["dueAmount"]) == Decimal("1150.00")
        assert _money(_qbo(c, "VendorCredit", DocNumber="NL-CR-7")["Balance"]) == Decimal("30.00")
        _assert_books_agree(c)


def test_a_quickbooks_bill_payment_using_a_vendor_credit_is_recorded_in_billcom_with_it():
    with demo_company() as c:
        c.run()
        qbo_bill = _qbo(c, "Bill", DocNumber="NL-1001")
        credit = _qbo(c, "VendorCredit", DocNumber="NL-CR-7")
        c.sb.qbo.add("BillPayment", {
            "VendorRef": qbo_bill["VendorRef"], "PayType": "Check", "TotalAmt": 190.00, "TxnDate": "2026-11-22",
            "CheckPayment": {"BankAccountRef": {"value": c.config.settings.bank_account_id}},
            "Line": [{"Amount": 250.00, "LinkedTxn": [{"TxnId": qbo_bill["Id"], "TxnType": "Bill"}]},
                     {"Amount": 60.00, "LinkedTxn": [{"TxnId": credit["Id"], "TxnType": "VendorCredit"}]}]})
        result = c.run()
        assert result.state == "done", result.message
        bc_bill = _bc(c, "bills", "NL-1001")
        assert _money(bc_bill["dueAmount"]) == _money(_qbo(c, "Bill", DocNumber="NL-1001")["Balance"]) \
            == Decimal("1000.00")
        assert _money(bc_bill["creditAmount"]) == Decimal("60.00")
        _assert_books_agree(c)


def test_a_quickbooks_payment_with_unapplied_cash_keeps_it_in_billcom():
    with demo_company() as c:
        c.run()
        invoice = _qbo(c, "Invoice", DocNumber="1002")
        c.sb.qbo.add("Payment", {"CustomerRef": invoice["CustomerRef"], "TotalAmt": 125.00, "TxnDate": "2026-11-22",
                                 "Line": [{"Amount": 105.00,
                                           "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]})
        c.run()
        [payment] = [p for p in c.sb.billcom.all("receivable-payments")
                     if any(i["invoiceId"] == _bc(c, "invoices", "1002")["id"] for i in p.get("invoicePayments", []))]
        assert _money(payment["amount"]) == Decimal("125.00")
        assert _money(payment["unappliedAmount"]) == Decimal("20.00")
        assert _money(_bc(c, "invoices", "1002")["dueAmount"]) == 0
        _assert_books_agree(c)


def test_a_vendor_credit_applied_to_a_bill_on_its_own_reaches_quickbooks_once():
    with demo_company() as c:
        c.run()
        bill = _bc(c, "bills", "NL-1001")
        credit = _bc(c, "vendor-credits", "NL-CR-7")
        c.service().remote.billcom.apply_vendor_credits(bill["id"], [(credit["id"], Decimal("40.00"))])
        result = c.run()
        assert result.state == "done", result.message
        qbo_bill = _qbo(c, "Bill", DocNumber="NL-1001")
        [payment] = _payments_of(c, "BillPayment", "Bill", qbo_bill["Id"])
        assert _money(payment["TotalAmt"]) == 0
        assert _money(qbo_bill["Balance"]) == _money(_bc(c, "bills", "NL-1001")["dueAmount"]) == Decimal("1210.00")
        _assert_books_agree(c)
        again = c.run()
        assert [l for l in again.lines if l.action == "create"] == []
        assert len(_payments_of(c, "BillPayment", "Bill", qbo_bill["Id"])) == 1


def test_a_credit_memo_applied_to_an_invoice_in_billcom_reaches_quickbooks():
    with demo_company() as c:
        c.run()
        invoice = _bc(c, "invoices", "1001")
        c.sb.billcom.user_update("invoices", invoice["id"], {"creditAmount": 25.00})
        assert _money(_bc(c, "invoices", "1001")["dueAmount"]) == Decimal("1125.00")
        result = c.run()
        assert result.state == "done", result.message
        qbo_invoice = _qbo(c, "Invoice", DocNumber="1001")
        assert _money(qbo_invoice["Balance"]) == Decimal("1125.00")
        assert _money(_qbo(c, "CreditMemo", DocNumber="CM-1")["RemainingCredit"]) == Decimal("50.00")
        _assert_books_agree(c)
        again = c.run()
        assert [l for l in again.lines if l.action == "create"] == []
