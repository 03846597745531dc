"""Events after a sync: payments voided or deleted on one side, documents deleted
or voided at their source. Each is followed within the payment sync mode, or
held with a line that says what a person must do; the tie-out then agrees or
names exactly the held difference."""
from decimal import Decimal

from sync_engine.reconcile import tie_out
from sync_engine.tests.sync_support import ONE_WAY, demo_company


def _qbo(c, entity, **match):
    return next(o for o in c.sb.qbo.all(entity) if all(o.get(k) == v for k, v in match.items()))


def _bc_bill(c, number):
    return next(o for o in c.sb.billcom.all("bills") if o["invoice"]["invoiceNumber"] == number)


def _lines(result, **match):
    return [l for l in result.lines if all(getattr(l, k) == v for k, v in match.items())]


def _tie_out(c):
    return tie_out(c.config, c.store, c.service().remote)


def _pay_in_qbo(c, number, amount):
    bill = _qbo(c, "Bill", DocNumber=number)
    return c.sb.qbo.add("BillPayment", {
        "VendorRef": bill["VendorRef"], "PayType": "Check", "TotalAmt": amount, "TxnDate": "2026-11-22",
        "CheckPayment": {"BankAccountRef": {"value": c.config.settings.bank_account_id}},
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]})


def test_a_billcom_payment_voided_after_it_synced_is_voided_in_quickbooks():
    with demo_company() as c:
        c.run()
        nl = _bc_bill(c, "NL-1001")
        payment = c.sb.billcom.pay_bill(nl["id"], 250.00, process_date="2026-11-21")
        c.run()
        assert Decimal(str(_qbo(c, "Bill", DocNumber="NL-1001")["Balance"])) == Decimal("1000.00")
        c.service().remote.billcom.void_ap_payment(payment["id"])
        result = c.run()
        assert [(l.action, l.direction, l.state) for l in _lines(result, object_type="bill_payment", action="void")] \
            == [("void", "billcom_to_qbo", "done")]
        assert Decimal(str(_qbo(c, "Bill", DocNumber="NL-1001")["Balance"])) == Decimal("1250.00")
        assert _tie_out(c).agrees, _tie_out(c).render()
        quiet = c.run()
        assert not [l for l in quiet.lines if l.action == "void"]


def test_a_quickbooks_bill_payment_voided_after_it_synced_is_voided_in_billcom():
    with demo_company() as c:
        c.run()
        payment = _pay_in_qbo(c, "PG-NOV", 412.37)
        c.run()
        assert Decimal(str(_bc_bill(c, "PG-NOV")["dueAmount"])) == 0
        c.sb.qbo.user_void("BillPayment", payment["Id"])
        result = c.run()
        assert [(l.action, l.state) for l in _lines(result, object_type="bill_payment", action="void")] \
            == [("void", "done")]
        assert Decimal(str(_bc_bill(c, "PG-NOV")["dueAmount"])) == Decimal("412.37")
        assert _tie_out(c).agrees, _tie_out(c).render()


def test_a_quickbooks_payment_deleted_in_one_way_mode_is_held_for_a_person():
    with demo_company(facts=ONE_WAY) as c:
        c.run()
        nl = _bc_bill(c, "NL-1001")
        c.sb.billcom.pay_bill(nl["id"], 250.00, process_date="2026-11-21")
        c.run()
        qbo_payment = next(p for p in c.sb.qbo.all("BillPayment")
                           if any(t["TxnId"] == _qbo(c, "Bill", DocNumber="NL-1001")["Id"]
                                  for line in p.get("Line", []) for t in line.get("LinkedTxn", [])))
        c.sb.qbo.user_delete("BillPayment", qbo_payment["Id"])
        result = c.run()
        held = _lines(result, object_type="bill_payment", action="conflict")
        assert [l.rule_code for l in held] == ["payment_sync_mode"]
        assert "void it in Bill.com" in held[0].message
        report = _tie_out(c)
        assert not report.agrees
        assert any(d.object_type == "bill_payment" for d in report.differences)


def test_a_quickbooks_bill_deleted_after_it_synced_is_archived_in_billcom_while_unpaid():
    with demo_company() as c:
        c.run()
        bill = _qbo(c, "Bill", DocNumber="PG-NOV")
        c.sb.qbo.user_delete("Bill", bill["Id"])
        result = c.run()
        ended = _lines(result, object_type="bill", action="archive")
        assert [(l.state, l.rule_code) for l in ended] == [("done", "deleted")]
        assert _bc_bill(c, "PG-NOV")["archived"] is True
        assert _tie_out(c).agrees, _tie_out(c).render()


def test_a_quickbooks_bill_deleted_then_paid_in_billcom_is_held_and_the_run_goes_on():
    with demo_company() as c:
        c.run()
        c.sb.qbo.user_delete("Bill", _qbo(c, "Bill", DocNumber="PG-NOV")["Id"])
        c.sb.billcom.pay_bill(_bc_bill(c, "PG-NOV")["id"], 100.00, process_date="2026-11-21")
        nl = _bc_bill(c, "NL-1001")
        c.sb.billcom.pay_bill(nl["id"], 50.00, process_date="2026-11-21")
        result = c.run()
        assert result.state == "done", result.message
        bill_held = _lines(result, object_type="bill", action="conflict")
        assert [l.rule_code for l in bill_held] == ["deleted"]
        assert "100.00" in bill_held[0].message and "paid" in bill_held[0].message
        payment_held = _lines(result, object_type="bill_payment", action="conflict")
        assert [l.rule_code for l in payment_held] == ["deleted"]
        assert [l.state for l in _lines(result, object_type="bill_payment", action="create")] == ["done"]
        assert Decimal(str(_qbo(c, "Bill", DocNumber="NL-1001")["Balance"])) == Decimal("1200.00")
        again = c.run()
        assert again.state == "done"
        assert [l.rule_code for l in _lines(again, object_type="bill_payment", action="conflict")] == ["deleted"]


def test_a_billcom_bill_archived_after_it_synced_is_deleted_in_quickbooks_while_unpaid():
    with demo_company() as c:
        b = c.sb.billcom
        acme = next(v for v in b.all("vendors") if v["name"] == "Acme Paper Co")
        bill = b.add("bills", {"vendorId": acme["id"], "invoice": {"invoiceNumber": "AP-790", "invoiceDate": "2026-11-18"},
                               "dueDate": "2026-12-18", "approvalStatus": "APPROVED",
                               "billLineItems": [{"amount": 77.00, "description": "Envelopes"}]})
        c.run()
        assert _qbo(c, "Bill", DocNumber="AP-790")
        b.user_update("bills", bill["id"], {"archived": True})
        result = c.run()
        assert [(l.action, l.direction, l.state) for l in _lines(result, object_type="bill", action="archive")] \
            == [("archive", "billcom_to_qbo", "done")]
        assert not [o for o in c.sb.qbo.all("Bill") if o.get("DocNumber") == "AP-790"]
        assert _tie_out(c).agrees, _tie_out(c).render()


def test_a_quickbooks_bill_archived_in_billcom_stays_in_quickbooks_and_is_held_for_a_person():
    with demo_company() as c:
        c.run()
        c.sb.billcom.user_update("bills", _bc_bill(c, "PG-NOV")["id"], {"archived": True})
        for _ in range(2):  # said on every run until a person decides
            result = c.run()
            held = [l for l in result.lines if "PG-NOV" in l.record]
            assert [(l.action, l.rule_code) for l in held] == [("conflict", "deleted")]
            assert "QuickBooks keeps it" in held[0].message
        assert Decimal(str(_qbo(c, "Bill", DocNumber="PG-NOV")["Balance"])) == Decimal("412.37")
        report = _tie_out(c)
        assert [d.field for d in report.differences if "PG-NOV" in d.record] == ["open balance"]
