"""Bill.com look-ups of any name or number, and the money movements a client
sees over HTTP: voided and canceled payments, unapplied received amounts,
vendor credits on bills, credit memos on invoices and invoice sales tax."""
import urllib.parse
from decimal import Decimal

import pytest

from sync_engine.billcom.client import format_filter_value, plan_filters
from sync_engine.billcom.errors import BillComValidationError
from sync_engine.sandbox.billcom import parse_time_ms

from sync_engine.tests.billcom_support import (client, clock, invoice_body, raw, sandbox,  # noqa: F401
                                               seed_bill, seed_customer, seed_invoice, seed_vendor)

AWKWARD = [
    'Late "Quote" Co',
    '"Leading" Quote Ltd',
    "Smith, Jones & Co",
    "Re: Acme: Holdings",
    "O'Brien's Pub",
    "Back\\slash Ltd",
    "Café Zürich 東京",
    "  Padded Name  ",
    "Trailing Space ",
    'Mixed, "all": \\ of \'them\'',
]
# near misses that a prefix filter also returns: the look-up must skip them
DECOYS = ['Late "Quote" Company', "Late", "Smith, Jones & Co.", "Padded Name", "Trailing Space"]


def filters_sent(sandbox, path):
    return [urllib.parse.parse_qs(r.query).get("filters", [None])[0]
            for r in sandbox.request_log() if r.path == path and r.method == "GET"]


# ------------------------------------------------------------ look-ups
def test_format_refuses_what_it_cannot_express_and_plan_falls_back():
    assert format_filter_value("Smith, Jones") == '"Smith, Jones"'
    assert format_filter_value("Re: Acme") == '"Re: Acme"'
    assert format_filter_value("O'Brien") == "O'Brien"
    for value in ('Late "Quote" Co', "Back\\slash", " lead", "trail "):
        with pytest.raises(ValueError):
            format_filter_value(value)
    with pytest.raises(ValueError):
        format_filter_value(["a,b", "c"])
    sent, local = plan_filters([("name", "eq", 'Late "Quote" Co'), ("archived", "eq", False)])
    assert sent == [("name", "sw", "Late"), ("archived", "eq", False)]
    assert local == [("name", "eq", 'Late "Quote" Co'), ("archived", "eq", False)]
    assert plan_filters([("name", "eq", '"Leading"')])[0] == []
    assert plan_filters([("name", "eq", "  Padded")])[0] == []
    assert plan_filters([("name", "eq", "Trailing ")])[0] == [("name", "sw", "Trailing")]
    assert plan_filters([("name", "eq", "Plain")]) == ([("name", "eq", "Plain")], [])


@pytest.mark.parametrize("collection", ["vendors", "customers"])
def test_names_with_any_character_are_found(sandbox, client, collection):
    seed = seed_vendor if collection == "vendors" else seed_customer
    ids = {name: seed(sandbox, name)["id"] for name in AWKWARD + DECOYS}
    for name in AWKWARD + DECOYS:
        found = client.find_by_name(collection, name)
        assert found is not None and found["id"] == ids[name], name
        assert found["name"] == name
    assert client.find_by_name(collection, 'Late "Quote"') is None
    sent = filters_sent(sandbox, f"/v3/{collection}")
    assert 'name:sw:Late' in sent or 'name:sw:"Late"' in sent
    assert all(f is None or '\\' not in f and f.count('"') % 2 == 0 for f in sent)


def test_list_matches_exactly_what_it_could_not_send(sandbox, client):
    for name in ('Late "Quote" Co', 'Late "Quote" Company', "Late"):
        seed_vendor(sandbox, name)
    names = [v["name"] for v in client.list("vendors", filters=[("name", "eq", 'Late "Quote" Co')])]
    assert names == ['Late "Quote" Co']
    names = [v["name"] for v in client.list("vendors", filters=[("name", "sw", 'Late "Q')])]
    assert names == ['Late "Quote" Co', 'Late "Quote" Company']


def test_bill_invoice_and_credit_numbers_with_any_character(sandbox, client):
    vendor, customer = seed_vendor(sandbox, 'Late "Quote" Co'), seed_customer(sandbox, "Café, Zürich")
    for number in AWKWARD:
        bill = seed_bill(sandbox, vendor["id"], number=number)
        assert client.find_bill(vendor["id"], number)["id"] == bill["id"], number
        invoice = seed_invoice(sandbox, customer["id"], number=number)
        assert client.find_invoice(customer["id"], number)["id"] == invoice["id"], number
        credit = sandbox.add("vendor-credits", {"vendorId": vendor["id"], "referenceNumber": number,
                                                "creditDate": "2025-03-01",
                                                "vendorCreditLineItems": [{"amount": 5}]})
        assert client.find_credit("vendor-credits", vendor["id"], number)["id"] == credit["id"]
    assert client.find_bill(vendor["id"], "Late") is None


def test_sandbox_quoting_rules(sandbox, raw):
    seed_vendor(sandbox, "Smith, Jones & Co")
    seed_vendor(sandbox, "Re: Acme")
    seed_vendor(sandbox, "  Padded  ")
    got = raw.get("/v3/vendors", filters='name:eq:"Smith, Jones & Co"').json()["results"]
    assert [v["name"] for v in got] == ["Smith, Jones & Co"]
    got = raw.get("/v3/vendors", filters='name:eq:"Re: Acme"').json()["results"]
    assert [v["name"] for v in got] == ["Re: Acme"]
    got = raw.get("/v3/vendors", filters='name:eq:"  Padded  "').json()["results"]
    assert [v["name"] for v in got] == ["  Padded  "]
    refused = raw.get("/v3/vendors", filters='name:eq:"Late "Quote" Co"')
    assert refused.status_code == 400 and refused.json()[0]["code"] == "BDC_1129"
    unquoted = raw.get("/v3/vendors", filters="name:eq:Smith, Jones & Co")
    assert unquoted.status_code == 400


# ------------------------------------------------------------ AP payments
def _credit(sandbox, vendor_id, amount, number="CR-1"):
    return sandbox.add("vendor-credits", {"vendorId": vendor_id, "referenceNumber": number,
                                          "creditDate": "2025-03-01",
                                          "vendorCreditLineItems": [{"amount": amount}]})


def test_void_gives_the_bills_and_credits_back(sandbox, client, clock):
    vendor = seed_vendor(sandbox)
    first = seed_bill(sandbox, vendor["id"], number="NW-1", amounts=(100,))
    second = seed_bill(sandbox, vendor["id"], number="NW-2", amounts=(80,))
    credit = _credit(sandbox, vendor["id"], 30)
    clock.advance(5)
    payment = client.record_ap_payment({
        "vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
        "payments": [{"billId": first["id"], "amount": 70}, {"billId": second["id"], "amount": 50}],
        "vendorCredits": [{"id": credit["id"], "amount": 30, "billId": first["id"]}]})
    paid = client.get("bills", first["id"])
    assert (paid["paymentStatus"], paid["paidAmount"], paid["creditAmount"], paid["dueAmount"]) == \
        ("PAID", 100, 30, 0)
    assert paid["vendorCredits"] == [{"id": credit["id"], "amount": 30}]
    clock.advance(5)
    cursor = client.get("payments", payment["id"])["updatedTime"]
    clock.advance(5)
    voided = client.void_ap_payment(payment["id"])
    assert voided["status"] == "VOIDED" and voided["singleStatus"] == "VOIDED"
    assert parse_time_ms(voided["updatedTime"]) > parse_time_ms(cursor)
    for bill, amount in ((first, 100), (second, 80)):
        back = client.get("bills", bill["id"])
        assert (back["paymentStatus"], back["paidAmount"], back["creditAmount"], back["dueAmount"]) == \
            ("UNPAID", 0, 0, amount)
        assert "vendorCredits" not in back
    assert client.get("vendor-credits", credit["id"])["availableAmount"] == 30
    assert client.get("vendors", vendor["id"])["balance"]["amount"] == 180
    since = [("updatedTime", "gt", cursor)]
    assert [p["id"] for p in client.list("payments", filters=since)] == [payment["id"]]
    assert {b["id"] for b in client.list("bills", filters=since)} == {first["id"], second["id"]}
    with pytest.raises(BillComValidationError) as again:
        client.void_ap_payment(payment["id"])
    assert again.value.status == 400
    # the bills can be paid again
    client.record_ap_payment({"vendorId": vendor["id"], "processDate": "2025-03-21", "toPrintCheck": False,
                              "payments": [{"billId": first["id"], "amount": 100}]})
    assert client.get("bills", first["id"])["paymentStatus"] == "PAID"


def test_void_of_a_payment_made_in_billcom(sandbox, client):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    payment = sandbox.pay_bill(bill["id"], 40)
    assert payment["singleStatus"] == "CLEARED"
    with pytest.raises(BillComValidationError):
        client.cancel_ap_payment(payment["id"])
    assert client.void_ap_payment(payment["id"])["singleStatus"] == "VOIDED"
    back = client.get("bills", bill["id"])
    assert (back["paymentStatus"], back["dueAmount"], back["paidAmount"]) == ("UNPAID", 100, 0)


def test_cancel_a_scheduled_payment(sandbox, client):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    payment = sandbox.pay_bill(bill["id"], 60, scheduled=True)
    assert payment["status"] == payment["singleStatus"] == "SCHEDULED"
    held = client.get("bills", bill["id"])
    assert (held["paymentStatus"], held["scheduledAmount"], held["dueAmount"], held["paidAmount"]) == \
        ("SCHEDULED", 60, 100, 0)
    with pytest.raises(ValueError):
        sandbox.pay_bill(bill["id"], 41)  # only 40 is left to schedule or pay
    with pytest.raises(BillComValidationError):
        client.void_ap_payment(payment["id"])
    canceled = client.cancel_ap_payment(payment["id"])
    assert canceled["status"] == canceled["singleStatus"] == "CANCELED"
    back = client.get("bills", bill["id"])
    assert (back["paymentStatus"], back["scheduledAmount"], back["dueAmount"]) == ("UNPAID", 0, 100)
    with pytest.raises(BillComValidationError):
        client.cancel_ap_payment(payment["id"])


def test_vendor_credits_applied_on_the_bill(sandbox, client):
    vendor, other = seed_vendor(sandbox), seed_vendor(sandbox, "Other Vendor")
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    credit = _credit(sandbox, vendor["id"], 50)
    second = _credit(sandbox, vendor["id"], 40, number="CR-2")
    foreign = _credit(sandbox, other["id"], 10, number="CR-X")
    after = client.apply_vendor_credits(bill["id"], [(credit["id"], Decimal("30.00"))])
    assert after["vendorCredits"] == [{"id": credit["id"], "amount": 30}]
    assert (after["creditAmount"], after["paidAmount"], after["dueAmount"], after["paymentStatus"]) == \
        (30, 30, 70, "PARTIALLY_PAID")
    assert client.get("vendor-credits", credit["id"])["availableAmount"] == 20
    # amounts are totals per credit: sending the same list again changes nothing
    again = client.apply_vendor_credits(bill["id"], [{"id": credit["id"], "amount": 30}])
    assert again["dueAmount"] == 70 and client.get("vendor-credits", credit["id"])["availableAmount"] == 20
    both = client.apply_vendor_credits(bill["id"], [(credit["id"], 50), (second["id"], 10)])
    assert (both["creditAmount"], both["dueAmount"]) == (60, 40)
    with pytest.raises(BillComValidationError):  # more than the credit has
        client.apply_vendor_credits(bill["id"], [(credit["id"], 50), (second["id"], 41)])
    with pytest.raises(BillComValidationError):  # another vendor's credit
        client.apply_vendor_credits(bill["id"], [(foreign["id"], 5)])
    third = _credit(sandbox, vendor["id"], 30, number="CR-3")
    with pytest.raises(BillComValidationError):  # more than the bill owes
        client.apply_vendor_credits(bill["id"], [(credit["id"], 50), (second["id"], 40), (third["id"], 30)])
    assert client.get("vendor-credits", third["id"])["availableAmount"] == 30
    removed = client.apply_vendor_credits(bill["id"], [(second["id"], 10)])
    assert removed["vendorCredits"] == [{"id": second["id"], "amount": 10}]
    assert client.get("vendor-credits", credit["id"])["availableAmount"] == 50
    # the rest in cash: paidAmount is cash plus credits
    client.record_ap_payment({"vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
                              "payments": [{"billId": bill["id"], "amount": 90}]})
    paid = client.get("bills", bill["id"])
    assert (paid["paidAmount"], paid["creditAmount"], paid["dueAmount"], paid["paymentStatus"]) == \
        (100, 10, 0, "PAID")


def test_bill_created_with_vendor_credits(sandbox, client):
    vendor = seed_vendor(sandbox)
    credit = _credit(sandbox, vendor["id"], 25)
    bill = client.create("bills", {"vendorId": vendor["id"], "dueDate": "2025-03-31",
                                   "invoice": {"invoiceNumber": "VC-1", "invoiceDate": "2025-03-01"},
                                   "billLineItems": [{"amount": 100}],
                                   "vendorCredits": [{"id": credit["id"], "amount": 25}]})
    assert bill["vendorCredits"] == [{"id": credit["id"], "amount": 25}]
    assert (bill["creditAmount"], bill["paidAmount"], bill["dueAmount"]) == (25, 25, 75)


# ------------------------------------------------------------ AR
def test_received_payment_keeps_the_unapplied_amount(sandbox, client):
    customer = seed_customer(sandbox)
    first = seed_invoice(sandbox, customer["id"], number="INV-1", lines=((1, 100),))
    second = seed_invoice(sandbox, customer["id"], number="INV-2", lines=((1, 80),))
    payment = client.record_ar_payment({
        "customerId": customer["id"], "paymentDate": "2025-04-12", "paymentType": "CHECK",
        "amount": 200, "description": "Check #900",
        "invoices": [{"id": first["id"], "amount": 60}, {"id": second["id"], "amount": 80}]})
    assert payment["amount"] == 200 and payment["unappliedAmount"] == 60
    assert payment["invoicePayments"] == [{"invoiceId": first["id"], "amount": 60},
                                          {"invoiceId": second["id"], "amount": 80}]
    assert client.get("receivable-payments", payment["id"])["unappliedAmount"] == 60
    listed = list(client.list("receivable-payments", filters=[("customerId", "eq", customer["id"])]))
    assert [p["unappliedAmount"] for p in listed] == [60]
    one, two = client.get("invoices", first["id"]), client.get("invoices", second["id"])
    assert (one["dueAmount"], one["status"]) == (40, "PARTIAL_PAYMENT")
    assert (two["dueAmount"], two["status"]) == (0, "PAID_IN_FULL")


def test_credit_memo_applied_through_credit_amount(sandbox, client):
    customer = seed_customer(sandbox)
    memo = client.create("credit-memos", {
        "customerId": customer["id"], "referenceNumber": "CM-1", "creditDate": "2025-04-15",
        "creditMemoLineItems": [{"description": "Returned strings", "quantity": 2, "price": 39.99},
                                {"description": "goodwill", "ratePercent": -10}]})
    assert memo["totalAmount"] == Decimal("71.98") and memo["availableAmount"] == Decimal("71.98")
    invoice = client.create("invoices", invoice_body(customer["id"], lines=((1, 200),), creditAmount=50))
    assert (invoice["totalAmount"], invoice["creditAmount"], invoice["dueAmount"]) == (200, 50, 150)
    assert client.get("credit-memos", memo["id"])["availableAmount"] == Decimal("21.98")
    with pytest.raises(BillComValidationError):  # more credit than the customer has
        client.update("invoices", invoice["id"], invoice_body(customer["id"], lines=((1, 200),),
                                                              creditAmount=80))
    client.record_ar_payment({"customerId": customer["id"], "paymentDate": "2025-04-20", "paymentType": "ACH",
                              "amount": 100, "invoices": [{"id": invoice["id"], "amount": 100}]})
    after = client.get("invoices", invoice["id"])
    assert (after["dueAmount"], after["status"]) == (50, "PARTIAL_PAYMENT")  # 200 - 50 credit - 100 paid
    freed = client.update("invoices", invoice["id"], invoice_body(customer["id"], lines=((1, 200),),
                                                                  creditAmount=0))
    assert freed["dueAmount"] == 100 and client.get("credit-memos", memo["id"])["availableAmount"] == Decimal("71.98")


def test_invoice_sales_tax(sandbox, client):
    customer = seed_customer(sandbox)
    tax = client.create("classifications/items", {"name": "CA sales tax", "type": "SALES_TAX", "percentage": 6})
    assert tax["percentage"] == 6
    body = {"customer": {"id": customer["id"]}, "invoiceNumber": "TAX-1", "invoiceDate": "2025-04-01",
            "salesTaxItemId": tax["id"],
            "invoiceLineItems": [{"description": "taxable", "quantity": 10, "price": 50, "taxable": True},
                                 {"description": "service", "quantity": 1, "price": 33.33}]}
    invoice = client.create("invoices", body)
    assert (invoice["salesTaxTotal"], invoice["salesTaxPercentage"], invoice["salesTaxItemId"]) == \
        (30, 6, tax["id"])
    assert invoice["totalAmount"] == Decimal("563.33") and invoice["dueAmount"] == Decimal("563.33")
    assert [line.get("taxable") for line in invoice["invoiceLineItems"]] == [True, None]
    read = client.get("invoices", invoice["id"])
    assert read["salesTaxTotal"] == 30 and read["totalAmount"] == Decimal("563.33")
    untaxed = client.update("invoices", invoice["id"], {**body, "salesTaxItemId": None})
    assert (untaxed["salesTaxTotal"], untaxed["totalAmount"]) == (0, Decimal("533.33"))
    service = client.create("classifications/items", {"name": "Rehearsal hour", "type": "SERVICE"})
    with pytest.raises(BillComValidationError):
        client.create("invoices", {**body, "invoiceNumber": "TAX-2", "salesTaxItemId": service["id"]})
    with pytest.raises(BillComValidationError):
        client.create("classifications/items", {"name": "No rate", "type": "SALES_TAX"})


def test_void_whose_answer_was_lost_is_not_sent_twice(sandbox, client):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    payment = sandbox.pay_bill(bill["id"], 100)
    sandbox.inject("lost_response", path="/void$")
    voided = client.void_ap_payment(payment["id"])
    assert voided["id"] == payment["id"] and voided["singleStatus"] == "VOIDED"
    assert len([r for r in sandbox.request_log() if r.path.endswith("/void")]) == 1
    assert client.get("bills", bill["id"])["dueAmount"] == 100
