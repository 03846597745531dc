"""The QBO sandbox is strict about money the way QBO is: totals computed from the
lines, unknown properties and references refused, payments that reopen what they
paid when voided or deleted, and deposited payments that cannot change."""
from sync_engine.tests.qbo_support import (account, bill, bill_payment, clock, customer,  # noqa: F401
                                           expense_line, invoice, item, payment, raw, ref, sales_line,
                                           sandbox, vendor)


def _fault(response):
    body = response.json()
    assert response.status_code == 400, body
    assert body["Fault"]["type"] == "ValidationFault"
    return body["Fault"]["Error"][0]


def _created(response, entity):
    assert response.status_code == 200, response.text
    return response.json()[entity]


def _sales(item_obj, amount=None, qty=None, price=None, **extra):
    detail = {"ItemRef": {"value": item_obj["Id"]}}
    if qty is not None:
        detail["Qty"] = qty
    if price is not None:
        detail["UnitPrice"] = price
    line = {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail, **extra}
    if amount is not None:
        line["Amount"] = amount
    return line


def _invoice_body(c, *lines, **extra):
    return {"CustomerRef": {"value": c["Id"]}, "Line": list(lines), **extra}


# ------------------------------------------------------------------------ totals
def test_qty_times_unit_price_fills_a_missing_amount_rounded_half_up(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    inv = _created(raw.post("invoice", _invoice_body(c, _sales(it, qty=3, price=33.335),
                                                     _sales(it, qty=128.35, price=14.5))), "Invoice")
    assert [line["Amount"] for line in inv["Line"]] == [100.01, 1861.08, 1961.09]
    assert inv["Line"][-1]["DetailType"] == "SubTotalLineDetail" and "Id" not in inv["Line"][-1]
    assert inv["TotalAmt"] == 1961.09 and inv["Balance"] == 1961.09


def test_an_amount_that_is_not_qty_times_unit_price_is_refused_with_6070(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    # 128.35 x 14.50 = 1861.075, which QBO rounds half-up to 1861.08
    error = _fault(raw.post("invoice", _invoice_body(c, _sales(it, 1861.07, qty=128.35, price=14.5))))
    assert error["code"] == "6070"
    assert error["Detail"].endswith("Amount is not equal to UnitPrice * Qty. Supplied value:1,861.07")
    assert sandbox.all("Invoice") == []
    ok = _created(raw.post("invoice", _invoice_body(c, _sales(it, 1861.08, qty=128.35, price=14.5))), "Invoice")
    assert ok["TotalAmt"] == 1861.08
    # bills check item lines the same way
    v = vendor(sandbox)
    line = {"Amount": 50.0, "DetailType": "ItemBasedExpenseLineDetail",
            "ItemBasedExpenseLineDetail": {"ItemRef": {"value": it["Id"]}, "Qty": 8, "UnitPrice": 10}}
    assert _fault(raw.post("bill", {"VendorRef": {"value": v["Id"]}, "Line": [line]}))["code"] == "6070"
    line["Amount"] = 80.0
    assert _created(raw.post("bill", {"VendorRef": {"value": v["Id"]}, "Line": [line]}), "Bill")["TotalAmt"] == 80


def test_group_lines_add_their_inner_lines_and_carry_their_sum(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    bundle = sandbox.add("Item", {"Name": "Bundle", "Type": "Group"})
    group = {"Amount": 999.0, "DetailType": "GroupLineDetail",
             "GroupLineDetail": {"GroupItemRef": {"value": bundle["Id"]}, "Quantity": 1,
                                 "Line": [_sales(it, qty=2, price=10), _sales(it, 5.25)]}}
    inv = _created(raw.post("invoice", _invoice_body(c, group, _sales(it, 100.0))), "Invoice")
    assert inv["Line"][0]["Amount"] == 25.25
    assert [line["Amount"] for line in inv["Line"][0]["GroupLineDetail"]["Line"]] == [20.0, 5.25]
    assert inv["TotalAmt"] == 125.25 and inv["Line"][-1]["Amount"] == 125.25
    ids = [inv["Line"][0]["Id"]] + [line["Id"] for line in inv["Line"][0]["GroupLineDetail"]["Line"]]
    assert len(set(ids)) == 3


def test_discounts_subtract_by_amount_or_by_percent_of_the_lines_before_them(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    percent = {"DetailType": "DiscountLineDetail",
               "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10}}
    inv = _created(raw.post("invoice", _invoice_body(c, _sales(it, 100.0), _sales(it, 50.55), percent)), "Invoice")
    # 10% of 150.55 = 15.055 -> 15.06
    assert inv["Line"][2]["Amount"] == 15.06
    assert inv["TotalAmt"] == 135.49 and inv["Balance"] == 135.49
    assert inv["Line"][-1] == {"Amount": 150.55, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    flat = {"Amount": 20.0, "DetailType": "DiscountLineDetail", "DiscountLineDetail": {"PercentBased": False}}
    memo = _created(raw.post("creditmemo", _invoice_body(c, _sales(it, 100.0), flat)), "CreditMemo")
    assert memo["TotalAmt"] == 80.0 and memo["RemainingCredit"] == 80.0


def test_tax_is_added_unless_the_amounts_include_it(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    tax = {"TxnTaxDetail": {"TotalTax": 8.25}}
    exclusive = _created(raw.post("invoice", _invoice_body(c, _sales(it, 100.0), **tax)), "Invoice")
    assert exclusive["TotalAmt"] == 108.25 and exclusive["Balance"] == 108.25
    inclusive = _created(raw.post("invoice", _invoice_body(c, _sales(it, 108.25), GlobalTaxCalculation="TaxInclusive",
                                                           **tax)), "Invoice")
    assert inclusive["TotalAmt"] == 108.25
    v = vendor(sandbox)
    b = _created(raw.post("bill", {"VendorRef": {"value": v["Id"]}, "TxnTaxDetail": {"TotalTax": 1.5},
                                   "Line": [expense_line(10.0, account(sandbox, "Utilities"))]}), "Bill")
    assert b["TotalAmt"] == 11.5 and b["Balance"] == 11.5


def test_description_subtotal_and_shipping_lines(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    shipping = {"Amount": 7.5, "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": "SHIPPING_ITEM_ID"}}}
    described = {"Description": "Thanks!", "DetailType": "DescriptionOnly", "DescriptionLineDetail": {}}
    client_subtotal = {"Amount": 1.0, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}
    inv = _created(raw.post("invoice", _invoice_body(c, _sales(it, 40.0), described, shipping, client_subtotal)),
                   "Invoice")
    assert inv["TotalAmt"] == 47.5
    assert [line["DetailType"] for line in inv["Line"]] == ["SalesItemLineDetail", "DescriptionOnly",
                                                            "SalesItemLineDetail", "SubTotalLineDetail"]
    assert inv["Line"][1]["Amount"] == 0 and inv["Line"][-1]["Amount"] == 47.5


def test_vendor_credit_totals_and_balance(sandbox, raw):
    v = vendor(sandbox)
    body = {"VendorRef": {"value": v["Id"]}, "Line": [expense_line(12.345, account(sandbox, "Utilities")),
                                                      expense_line(0.1, account(sandbox, "Travel"))]}
    vc = _created(raw.post("vendorcredit", body), "VendorCredit")
    assert vc["TotalAmt"] == 12.45 and vc["Balance"] == 12.45


# ------------------------------------------------------------ unknown properties
def test_an_unknown_top_level_property_is_2010_naming_it(sandbox, raw):
    v = vendor(sandbox)
    body = {"VendorRef": {"value": v["Id"]}, "Line": [expense_line(10.0, account(sandbox, "Utilities"))],
            "Memo": "not a Bill property"}
    error = _fault(raw.post("bill", body))
    assert error["code"] == "2010" and error["Message"] == "Request has invalid or unsupported property"
    assert error["Detail"].startswith('Property Name:Unrecognized field "Memo" '
                                      '(class com.intuit.schema.finance.v3.Bill), not marked as ignorable')
    assert error["Detail"].endswith("specified is unsupported or invalid")
    assert sandbox.all("Bill") == []
    # names are case sensitive, and another entity's property is not this one's
    body.pop("Memo")
    body["privateNote"] = "x"
    assert '"privateNote"' in _fault(raw.post("bill", body))["Detail"]
    body.pop("privateNote")
    c = customer(sandbox)
    assert '"APAccountRef"' in _fault(raw.post("invoice", _invoice_body(c, _sales(item(sandbox), 5.0),
                                                                        APAccountRef={"value": "1"})))["Detail"]


def test_unknown_line_detail_and_reference_properties_are_2010(sandbox, raw):
    c, it = customer(sandbox), item(sandbox)
    line = _sales(it, 10.0)
    line["SalesItemLineDetail"]["Amount"] = 10.0
    detail = _fault(raw.post("invoice", _invoice_body(c, line)))["Detail"]
    assert 'Unrecognized field "Amount" (class com.intuit.schema.finance.v3.SalesItemLineDetail)' in detail
    assert '"ItemRef"' in detail and '"Qty"' in detail
    line = _sales(it, 10.0, Quantity=1)
    assert 'field "Quantity" (class com.intuit.schema.finance.v3.Line)' in _fault(
        raw.post("invoice", _invoice_body(c, line)))["Detail"]
    bad_ref = _invoice_body(c, _sales(it, 10.0))
    bad_ref["CustomerRef"]["id"] = c["Id"]
    assert 'field "id" (class com.intuit.schema.finance.v3.ReferenceType)' in _fault(
        raw.post("invoice", bad_ref))["Detail"]
    v = vendor(sandbox)
    b = bill(sandbox, v, 10.0)
    link = {"Amount": 10.0, "LinkedTxn": [{"TxnId": b["Id"], "TxnType": "Bill", "Amount": 10.0}]}
    body = {"VendorRef": {"value": v["Id"]}, "PayType": "Check", "TotalAmt": 10.0, "Line": [link],
            "CheckPayment": {"BankAccountRef": {"value": account(sandbox, "Checking")["Id"]}}}
    assert 'field "Amount" (class com.intuit.schema.finance.v3.LinkedTxn)' in _fault(
        raw.post("billpayment", body))["Detail"]


def test_read_only_properties_are_accepted_and_recomputed(sandbox, raw):
    v = vendor(sandbox)
    b = bill(sandbox, v, 10.0, 20.0)
    read = raw.get(f"bill/{b['Id']}").json()["Bill"]
    read["TotalAmt"] = 1.0
    read["Balance"] = 1.0
    read["PrivateNote"] = "round trip"
    updated = _created(raw.post("bill", read), "Bill")
    assert updated["TotalAmt"] == 30.0 and updated["Balance"] == 30.0 and updated["SyncToken"] == "1"
    sparse = {"Id": b["Id"], "SyncToken": "1", "sparse": True, "Colour": "red"}
    assert '"Colour"' in _fault(raw.post("bill", sparse))["Detail"]
    assert sandbox.get("Bill", b["Id"])["SyncToken"] == "1"


def test_unknown_properties_are_refused_inside_a_batch_item_too(sandbox, raw):
    v = vendor(sandbox)
    body = raw.post("batch", {"BatchItemRequest": [
        {"bId": "b1", "operation": "update", "Vendor": {"Id": v["Id"], "SyncToken": v["SyncToken"], "sparse": True,
                                                          "Nickname": "N"}}]}).json()
    assert body["BatchItemResponse"][0]["Fault"]["Error"][0]["code"] == "2010"


# -------------------------------------------------------------------- references
def test_references_to_records_that_do_not_exist_are_2500(sandbox, raw, clock):
    c, it, v = customer(sandbox), item(sandbox), vendor(sandbox)
    bundle = sandbox.add("Item", {"Name": "Bundle", "Type": "Group"})
    cases = [
        ("invoice", _invoice_body(c, _sales(it, 1.0), SalesTermRef={"value": "999"}), "SalesTermRef"),
        ("invoice", _invoice_body(c, _sales(it, 1.0), ClassRef={"value": "999"}), "ClassRef"),
        ("invoice", _invoice_body(c, _sales(it, 1.0), ARAccountRef={"value": "999"}), "ARAccountRef"),
        ("invoice", _invoice_body(c, {"DetailType": "GroupLineDetail", "GroupLineDetail": {
            "GroupItemRef": {"value": bundle["Id"]}, "Line": [_sales({"Id": "999"}, 1.0)]}}), "ItemRef"),
        ("invoice", _invoice_body(c, {"DetailType": "GroupLineDetail", "GroupLineDetail": {
            "GroupItemRef": {"value": "999"}, "Line": [_sales(it, 1.0)]}}), "GroupItemRef"),
        ("bill", {"VendorRef": {"value": v["Id"]}, "DepartmentRef": {"value": "999"},
                  "Line": [expense_line(1.0, account(sandbox, "Utilities"))]}, "DepartmentRef"),
        ("bill", {"VendorRef": {"value": v["Id"]}, "APAccountRef": {"value": "999"},
                  "Line": [expense_line(1.0, account(sandbox, "Utilities"))]}, "APAccountRef"),
        ("bill", {"VendorRef": {"value": "999"}, "Line": [expense_line(1.0, account(sandbox, "Utilities"))]},
         "VendorRef"),
        ("bill", {"VendorRef": {"value": v["Id"]}, "Line": [expense_line(1.0, {"Id": "999"})]}, "AccountRef"),
        ("payment", {"CustomerRef": {"value": c["Id"]}, "TotalAmt": 5.0, "DepositToAccountRef": {"value": "999"}},
         "DepositToAccountRef"),
        ("payment", {"CustomerRef": {"value": c["Id"]}, "TotalAmt": 5.0,
                     "Line": [{"Amount": 5.0, "LinkedTxn": [{"TxnId": "999", "TxnType": "Invoice"}]}]},
         "Line.LinkedTxn.TxnId"),
        ("billpayment", {"VendorRef": {"value": v["Id"]}, "PayType": "Check", "TotalAmt": 1.0, "Line": [],
                         "CheckPayment": {"BankAccountRef": {"value": "999"}}}, "BankAccountRef"),
        ("customer", {"DisplayName": "Job", "ParentRef": {"value": "999"}}, "ParentRef"),
    ]
    for path, body, element in cases:
        clock.advance(1)  # stay under 10 requests a second
        error = _fault(raw.post(path, body))
        assert (error["code"], error["Message"], error["element"]) == ("2500", "Invalid Reference Id", element), path


# ------------------------------------------------------------- payments reopen
def test_voiding_a_payment_reopens_the_invoice_and_cdc_reports_it(sandbox, raw, clock):
    c = customer(sandbox)
    inv = invoice(sandbox, c, 300.0)
    p = payment(sandbox, c, [(inv, 120.0, "Invoice")], total=150.0)
    assert p["UnappliedAmt"] == 30.0
    paid = sandbox.get("Invoice", inv["Id"])
    assert paid["Balance"] == 180.0 and paid["LinkedTxn"] == [{"TxnId": p["Id"], "TxnType": "Payment"}]
    clock.advance(60)
    since = sandbox.get("Invoice", inv["Id"])["MetaData"]["LastUpdatedTime"]
    clock.advance(60)
    voided = _created(raw.post("payment", {"Id": p["Id"], "SyncToken": p["SyncToken"]}, operation="void"), "Payment")
    assert (voided["TotalAmt"], voided["UnappliedAmt"], voided["Line"], voided["PrivateNote"]) == (0, 0, [], "Voided")
    reopened = raw.get(f"invoice/{inv['Id']}").json()["Invoice"]
    assert reopened["Balance"] == 300.0 and "LinkedTxn" not in reopened
    assert int(reopened["SyncToken"]) == int(paid["SyncToken"]) + 1
    assert reopened["MetaData"]["LastUpdatedTime"] > since
    cdc = raw.get("cdc", entities="Invoice,Payment", changedSince=reopened["MetaData"]["LastUpdatedTime"]).json()
    kinds = {list(group)[0]: group[list(group)[0]] for group in cdc["CDCResponse"][0]["QueryResponse"]}
    assert [o["Id"] for o in kinds["Invoice"]] == [inv["Id"]] and kinds["Invoice"][0]["Balance"] == 300.0
    assert [o["Id"] for o in kinds["Payment"]] == [p["Id"]]


def test_deleting_or_voiding_a_bill_payment_reopens_bills_and_vendor_credits(sandbox, raw):
    v = vendor(sandbox)
    b = bill(sandbox, v, 100.0)
    vc = sandbox.add("VendorCredit", {"VendorRef": ref(v), "Line": [expense_line(30.0, account(sandbox, "Utilities"))]})
    bp = bill_payment(sandbox, v, [(b, 100.0, "Bill"), (vc, 30.0, "VendorCredit")])
    assert bp["TotalAmt"] == 70.0
    assert sandbox.get("Bill", b["Id"])["Balance"] == 0 and sandbox.get("VendorCredit", vc["Id"])["Balance"] == 0
    # a bill with payments cannot be deleted (reference 5.3)
    current = sandbox.get("Bill", b["Id"])
    error = _fault(raw.post("bill", {"Id": b["Id"], "SyncToken": current["SyncToken"]}, operation="delete"))
    assert error["code"] == "6000" and "payments" in error["Detail"]
    stub = raw.post("billpayment", {"Id": bp["Id"], "SyncToken": bp["SyncToken"]}, operation="delete").json()
    assert stub["BillPayment"] == {"status": "Deleted", "domain": "QBO", "Id": bp["Id"]}
    reopened = sandbox.get("Bill", b["Id"])
    assert reopened["Balance"] == 100.0 and "LinkedTxn" not in reopened
    assert int(reopened["SyncToken"]) == int(current["SyncToken"]) + 1
    assert sandbox.get("VendorCredit", vc["Id"])["Balance"] == 30.0
    assert raw.post("bill", {"Id": b["Id"], "SyncToken": reopened["SyncToken"]},
                    operation="delete").json()["Bill"]["status"] == "Deleted"


def test_deleting_an_invoice_with_payments_fails_and_voiding_the_payment_frees_it(sandbox, raw):
    c = customer(sandbox)
    inv = invoice(sandbox, c, 50.0)
    cm = sandbox.add("CreditMemo", {"CustomerRef": ref(c), "Line": [sales_line(20.0, item(sandbox, "Credit"))]})
    p = payment(sandbox, c, [(inv, 50.0, "Invoice"), (cm, 20.0, "CreditMemo")])
    assert p["TotalAmt"] == 30.0 and sandbox.get("CreditMemo", cm["Id"])["RemainingCredit"] == 0
    current = sandbox.get("Invoice", inv["Id"])
    assert _fault(raw.post("invoice", {"Id": inv["Id"], "SyncToken": current["SyncToken"]},
                           operation="delete"))["code"] == "6000"
    raw.post("payment", {"Id": p["Id"], "SyncToken": p["SyncToken"]}, operation="void")
    assert sandbox.get("CreditMemo", cm["Id"])["RemainingCredit"] == 20.0
    current = sandbox.get("Invoice", inv["Id"])
    assert current["Balance"] == 50.0
    assert raw.post("invoice", {"Id": inv["Id"], "SyncToken": current["SyncToken"]},
                    operation="delete").json()["Invoice"]["status"] == "Deleted"


# --------------------------------------------------------------------- deposits
def test_a_deposited_payment_cannot_be_updated_voided_or_deleted(sandbox, raw):
    c = customer(sandbox)
    inv = invoice(sandbox, c, 80.0)
    p = payment(sandbox, c, [(inv, 80.0, "Invoice")])
    checking = account(sandbox, "Checking")
    dep = _created(raw.post("deposit", {"DepositToAccountRef": {"value": checking["Id"]}, "Line": [
        {"Amount": 80.0, "LinkedTxn": [{"TxnId": p["Id"], "TxnType": "Payment", "TxnLineId": "0"}]}]}), "Deposit")
    assert dep["TotalAmt"] == 80.0
    p = raw.get(f"payment/{p['Id']}").json()["Payment"]
    assert p["LinkedTxn"] == [{"TxnId": dep["Id"], "TxnType": "Deposit"}] and p["SyncToken"] == "1"
    attempts = [({"Id": p["Id"], "SyncToken": p["SyncToken"], "sparse": True, "PrivateNote": "x"}, {}),
                ({"Id": p["Id"], "SyncToken": p["SyncToken"]}, {"operation": "void"}),
                ({"Id": p["Id"], "SyncToken": p["SyncToken"]}, {"operation": "delete"})]
    for body, params in attempts:
        error = _fault(raw.post("payment", body, **params))
        assert (error["code"], error["Message"]) == ("6540", "Deposited Transaction cannot be changed")
    assert sandbox.get("Invoice", inv["Id"])["Balance"] == 0
    # a payment can be on one deposit only, for its whole amount
    again = {"DepositToAccountRef": {"value": checking["Id"]}, "Line": [
        {"Amount": 80.0, "LinkedTxn": [{"TxnId": p["Id"], "TxnType": "Payment"}]}]}
    assert _fault(raw.post("deposit", again))["code"] == "6000"
    # taking the payment off the deposit frees it
    raw.post("deposit", {"Id": dep["Id"], "SyncToken": dep["SyncToken"]}, operation="delete")
    freed = raw.get(f"payment/{p['Id']}").json()["Payment"]
    assert "LinkedTxn" not in freed
    assert raw.post("payment", {"Id": p["Id"], "SyncToken": freed["SyncToken"]},
                    operation="void").json()["Payment"]["TotalAmt"] == 0
    assert sandbox.get("Invoice", inv["Id"])["Balance"] == 80.0
