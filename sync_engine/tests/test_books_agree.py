"""Books agree to the cent: every document shape arrives with its source's total
or is held with a rule code; identity comes from links and exact marks, never
from free text; what the target would refuse is found before anything is sent.

Each test goes through both local sandboxes and ends with the tie-out.
"""
from decimal import Decimal

from sync_engine.reconcile import tie_out

from sync_support import demo_company


def _ref(obj):
    return {"value": obj["Id"], "name": obj.get("DisplayName") or obj.get("Name")}


def _qbo(c, entity, **match):
    return next(o for o in c.sb.qbo.all(entity) if all(o.get(k) == v for k, v in match.items()))


def _sales_line(item, amount, qty=None, price=None):
    detail = {"ItemRef": _ref(item)}
    if qty is not None:
        detail.update(Qty=qty, UnitPrice=price)
    return {"Amount": amount, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


def _invoice(c, number, lines, **extra):
    cool = _qbo(c, "Customer", DisplayName="Cool Cars")
    body = {"CustomerRef": _ref(cool), "DocNumber": number, "TxnDate": "2026-11-20", "DueDate": "2026-12-20",
            "Line": lines}
    body.update(extra)
    return c.sb.qbo.add("Invoice", body)


def _billcom_invoice(c, number):
    return next(o for o in c.sb.billcom.all("invoices") if o.get("invoiceNumber") == number)


def _line(result, **match):
    return [l for l in result.lines if all(getattr(l, k) == v for k, v in match.items())]


def _assert_books_agree(c):
    report = tie_out(c.config, c.store, c.service().remote)
    assert report.agrees, report.render()
    return report


def test_discount_tax_and_bundle_lines_arrive_with_the_quickbooks_total():
    with demo_company() as c:
        design = _qbo(c, "Item", Name="Design")
        install = _qbo(c, "Item", Name="Installation")
        kit = c.sb.qbo.add("Item", {"Name": "Garden kit", "Type": "Group"})
        discounted = _invoice(c, "SH-1", [_sales_line(design, 100.00, 1, 100),
                                          {"Amount": 10.00, "DetailType": "DiscountLineDetail",
                                           "DiscountLineDetail": {"PercentBased": False}}])
        taxed = _invoice(c, "SH-2", [_sales_line(design, 100.00, 1, 100)],
                         TxnTaxDetail={"TotalTax": 8.25})
        bundle = _invoice(c, "SH-3", [_sales_line(design, 100.00, 1, 100),
                                      {"Amount": 50.00, "DetailType": "GroupLineDetail",
                                       "GroupLineDetail": {"GroupItemRef": _ref(kit),
                                                           "Quantity": 1,
                                                           "Line": [_sales_line(install, 50.00, 1, 50)]}}])
        percent = _invoice(c, "SH-4", [_sales_line(design, 200.00, 2, 100),
                                       {"Amount": 15.00, "DetailType": "DiscountLineDetail",
                                        "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 7.5}}],
                           TxnTaxDetail={"TotalTax": 15.31})
        result = c.run()
        assert result.state == "done", result.message
        for number, qbo_doc in (("SH-1", discounted), ("SH-2", taxed), ("SH-3", bundle), ("SH-4", percent)):
            total = Decimal(str(_qbo(c, "Invoice", Id=qbo_doc["Id"])["TotalAmt"]))
            assert Decimal(str(_billcom_invoice(c, number)["totalAmount"])) == total, number
        assert Decimal(str(_billcom_invoice(c, "SH-1")["totalAmount"])) == Decimal("90.00")
        assert Decimal(str(_billcom_invoice(c, "SH-2")["totalAmount"])) == Decimal("108.25")
        assert Decimal(str(_billcom_invoice(c, "SH-3")["totalAmount"])) == Decimal("150.00")
        _assert_books_agree(c)


def test_a_bill_with_tax_is_held_not_sent_with_another_total():
    with demo_company() as c:
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        expense = next(a for a in c.sb.qbo.all("Account") if a.get("AccountType") == "Expense")
        c.sb.qbo.add("Bill", {"VendorRef": _ref(hicks), "DocNumber": "TX-1", "TxnDate": "2026-11-20",
                              "TxnTaxDetail": {"TotalTax": 5.00},
                              "Line": [{"Amount": 100.00, "DetailType": "AccountBasedExpenseLineDetail",
                                        "AccountBasedExpenseLineDetail": {"AccountRef": _ref(expense)}}]})
        plan = c.service().preview()
        held = [l for l in plan.lines if l.record.startswith("Bill TX-1")]
        assert [(l.action, l.rule_code) for l in held] == [("skip", "shape_not_carried")]
        assert "tax of 5.00" in held[0].message
        result = c.run()
        assert not any(o["invoice"]["invoiceNumber"] == "TX-1" for o in c.sb.billcom.all("bills"))
        assert _line(result, rule_code="shape_not_carried")
        _assert_books_agree(c)


def test_a_memo_that_mentions_a_void_does_not_make_a_live_bill_voided():
    with demo_company() as c:
        hicks = _qbo(c, "Vendor", DisplayName="Hicks Hardware")
        expense = next(a for a in c.sb.qbo.all("Account") if a.get("AccountType") == "Expense")
        c.sb.qbo.add("Bill", {"VendorRef": _ref(hicks), "DocNumber": "RV-1", "TxnDate": "2026-11-20",
                              "PrivateNote": "Replaces Voided check 1042",
                              "Line": [{"Amount": 64.00, "DetailType": "AccountBasedExpenseLineDetail",
                                        "AccountBasedExpenseLineDetail": {"AccountRef": _ref(expense)}}]})
        c.run()
        bill = next(o for o in c.sb.billcom.all("bills") if o["invoice"]["invoiceNumber"] == "RV-1")
        assert Decimal(str(bill["amount"])) == Decimal("64.00")
        _assert_books_agree(c)


def test_payment_memos_that_look_like_sync_marks_change_nothing():
    with demo_company() as c:
        c.run()
        q, b = c.sb.qbo, c.sb.billcom
        bill = _qbo(c, "Bill", DocNumber="PG-NOV")
        q.add("BillPayment", {"VendorRef": bill["VendorRef"], "PayType": "Check", "TotalAmt": 12.37,
                              "CheckPayment": {"BankAccountRef": {"value": c.config.settings.bank_account_id}},
                              "TxnDate": "2026-11-22", "PrivateNote": "Bill.com payment for November, see email",
                              "Line": [{"Amount": 12.37, "LinkedTxn": [{"TxnId": bill["Id"], "TxnType": "Bill"}]}]})
        some_qbo_payment = q.all("Payment")[0]["Id"]
        invoice = _billcom_invoice(c, "1001")
        b.receive_payment(invoice["customerId"], invoices=[(invoice["id"], 50.00)], payment_type="CHECK",
                          payment_date="2026-11-22", description=f"QuickBooks {some_qbo_payment}")
        result = c.run()
        created = sorted((l.object_type, l.direction) for l in result.lines
                         if l.object_type.endswith("payment") and l.action == "create")
        assert created == [("bill_payment", "qbo_to_billcom"), ("received_payment", "billcom_to_qbo")]
        pg = next(o for o in b.all("bills") if o["invoice"]["invoiceNumber"] == "PG-NOV")
        assert Decimal(str(pg["dueAmount"])) == Decimal("400.00")
        assert Decimal(str(_qbo(c, "Invoice", DocNumber="1001")["Balance"])) == Decimal("1100.00")
        _assert_books_agree(c)


def test_two_billcom_vendors_that_differ_only_by_case_are_held_not_merged():
    with demo_company() as c:
        c.run()
        b = c.sb.billcom
        b.add("vendors", {"name": "Dup Co", "email": "a@dup.example", "accountType": "BUSINESS"})
        b.add("vendors", {"name": "DUP CO ", "email": "b@dup.example", "accountType": "BUSINESS"})
        b.add("vendors", {"name": "norton lumber", "email": "c@norton.example", "accountType": "BUSINESS"})
        plan = c.service().preview()
        held = sorted(l.record for l in plan.lines if l.rule_code == "duplicate_name")
        assert held == ["Vendor DUP CO", "Vendor Dup Co", "Vendor norton lumber"]
        result = c.run()
        assert result.state == "done", result.message
        names = [v["DisplayName"].casefold() for v in c.sb.qbo.all("Vendor")]
        assert "dup co" not in names and names.count("norton lumber") == 1
        assert not _line(result, state="failed")
        _assert_books_agree(c)


def test_a_customer_without_email_is_flagged_in_the_preview_with_its_invoices():
    with demo_company() as c:
        q = c.sb.qbo
        shy = q.add("Customer", {"DisplayName": "No Mail Bakery"})
        design = _qbo(c, "Item", Name="Design")
        q.add("Invoice", {"CustomerRef": _ref(shy), "DocNumber": "NM-1", "TxnDate": "2026-11-20",
                          "Line": [_sales_line(design, 75.00, 1, 75)]})
        plan = c.service().preview()
        customer = [l for l in plan.lines if l.record == "Customer No Mail Bakery"]
        assert [(l.action, l.rule_code) for l in customer] == [("skip", "required_field")]
        assert "e-mail" in customer[0].message and "QuickBooks" in customer[0].message
        waiting = [l for l in plan.lines if l.record.startswith("Invoice NM-1")]
        assert [(l.action, l.rule_code) for l in waiting] == [("skip", "missing_reference")]
        assert "No Mail Bakery" in waiting[0].message
        result = c.run()
        assert not _line(result, state="failed")
        q.user_update("Customer", shy["Id"], {"PrimaryEmailAddr": {"Address": "hi@nomail.example"}})
        c.run()
        assert Decimal(str(_billcom_invoice(c, "NM-1")["totalAmount"])) == Decimal("75.00")
        _assert_books_agree(c)


def test_a_billcom_customer_named_like_a_quickbooks_vendor_is_held():
    with demo_company() as c:
        c.run()
        c.sb.billcom.add("customers", {"name": "hicks hardware", "email": "shop@hicks.example"})
        result = c.run()
        held = _line(result, object_type="customer", rule_code="duplicate_name")
        assert [l.record for l in held] == ["Customer hicks hardware"]
        assert not _line(result, state="failed")
        assert not any(o["DisplayName"] == "hicks hardware" for o in c.sb.qbo.all("Customer"))


def test_on_a_first_sync_a_billcom_customer_named_like_a_quickbooks_vendor_is_held():
    # the vendor's link is this run's own create, which keeps no name: the
    # QuickBooks names read earlier in the run are what tell
    with demo_company() as c:
        c.sb.billcom.add("customers", {"name": " HICKS hardware", "email": "shop@hicks.example"})
        result = c.run()
        held = _line(result, object_type="customer", rule_code="duplicate_name")
        assert [l.record for l in held] == ["Customer HICKS hardware"]
        assert "QuickBooks already has a vendor named 'HICKS hardware'" in held[0].message
        assert not _line(result, state="failed")
        assert not any(o["DisplayName"].strip().casefold() == "hicks hardware" for o in c.sb.qbo.all("Customer"))
        assert any(v["name"] == "Hicks Hardware" for v in c.sb.billcom.all("vendors"))


def test_tax_inside_the_lines_is_not_added_twice():
    with demo_company() as c:
        design = _qbo(c, "Item", Name="Design")
        inclusive = _invoice(c, "TI-1", [_sales_line(design, 108.25, 1, 108.25)],
                             GlobalTaxCalculation="TaxInclusive", TxnTaxDetail={"TotalTax": 8.25})
        c.run()
        total = Decimal(str(_qbo(c, "Invoice", Id=inclusive["Id"])["TotalAmt"]))
        assert Decimal(str(_billcom_invoice(c, "TI-1")["totalAmount"])) == total == Decimal("108.25")
        _assert_books_agree(c)
