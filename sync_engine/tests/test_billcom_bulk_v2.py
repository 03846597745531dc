"""Contract of the v2 bulk creates beside the v3 client: one outcome per record,
in order; a call that fails part-way (per item, all-or-nothing, or with its
answer lost) leaves no duplicate and no record created without being returned."""
from collections import Counter
from decimal import Decimal

import pytest

from sync_engine.billcom import errors as bce
from sync_engine.billcom.bulk_v2 import BulkV2, to_v2, v2_base_url
from sync_engine.mapping import billcom_body, read_billcom
from sync_engine.tests.billcom_support import (client, clock, invoice_body, sandbox,  # noqa: F401
                                               seed_customer, seed_vendor)

BULK_INVOICES = "/api/v2/Bulk/Crud/Create/Invoice.json"
BULK_BILLS = "/api/v2/Bulk/Crud/Create/Bill.json"
BULK_VENDORS = "/api/v2/Bulk/Crud/Create/Vendor.json"
BULK = {"bills": BULK_BILLS, "vendors": BULK_VENDORS}


def _posts(sandbox, path):
    return [r for r in sandbox.request_log() if r.method == "POST" and r.path == path]


def _invoices(customer_id, n, bad=()):
    return [invoice_body("0cu02NOSUCHCUSTOMERx" if i in bad else customer_id, number=f"V2-{i:03d}",
                         lines=((2, 10 + i),)) for i in range(n)]


def _numbers(sandbox):
    return Counter(o["invoiceNumber"] for o in sandbox.all("invoices") if o["invoiceNumber"].startswith("V2-"))


def test_v2_base_url_beside_the_v3_one():
    assert v2_base_url("https://gateway.prod.bill.com/connect") == "https://api.bill.com/api/v2"
    assert v2_base_url("https://gateway.stage.bill.com/connect/") == "https://api-stage.bill.com/api/v2"
    assert v2_base_url("http://127.0.0.1:8123") == "http://127.0.0.1:8123/api/v2"


def test_a_hundred_invoices_a_call_read_back_as_v3_shows_them(sandbox, client):  # noqa: F811
    customer = seed_customer(sandbox)
    bodies = _invoices(customer["id"], 130)
    outcomes = BulkV2(client).create("invoices", bodies)
    assert [o.error for o in outcomes] == [None] * 130
    assert [o.obj["invoiceNumber"] for o in outcomes] == [b["invoiceNumber"] for b in bodies]
    assert _numbers(sandbox) == Counter(b["invoiceNumber"] for b in bodies)
    records = [read_billcom("invoice", o.obj) for o in outcomes]
    assert records[5].values["lines"][0]["amount"] in ("30.00", "30")  # 2 x 15, as v3 shows it
    assert len(_posts(sandbox, BULK_INVOICES)) == 2                    # 100 + 30
    assert client.stats.requests["GET invoices"] == 2                  # read back by id, a page a call
    # its own sign-in: the v3 session is not offered to v2
    assert len([r for r in sandbox.request_log() if r.path == "/api/v2/Login.json"]) == 1


def test_a_v2_list_reads_what_changed_999_a_page_in_the_order_records_were_made(sandbox, client):  # noqa: F811
    customer = seed_customer(sandbox)
    bulk = BulkV2(client)
    made = [o.obj for o in bulk.create("invoices", _invoices(customer["id"], 1000))]
    sandbox.clock.advance(60)
    edited = sandbox.user_update("invoices", made[3]["id"], {"dueDate": "2027-02-01"})
    since = edited["updatedTime"]
    listed = list(bulk.list("invoices", filters=[("updatedTime", "gte", since)]))
    assert [o["id"] for o in listed] == [made[3]["id"]]          # only the edited one
    assert listed[0]["updatedTime"].endswith("+0000") and "invoiceLineItems" not in listed[0]
    everything = list(bulk.list("invoices", filters=[("createdTime", "gte", made[0]["createdTime"])]))
    assert [o["id"] for o in everything] == [o["id"] for o in made]  # creation order, none twice
    lists = _posts(sandbox, "/api/v2/List/Invoice.json")
    assert len(lists) == 3  # the edited one; then 999 + 1


def test_customers_in_bulk(sandbox, client):  # noqa: F811
    bodies = [{"name": f"Bulk Customer {i}", "accountType": "BUSINESS", "email": f"c{i}@example.com",
               "billingAddress": {"line1": "1 Main St", "city": "Springfield", "zipOrPostalCode": "01101"}}
              for i in range(3)]
    outcomes = BulkV2(client).create("customers", bodies)
    assert [o.obj["name"] for o in outcomes] == [b["name"] for b in bodies]
    assert outcomes[0].obj["billingAddress"]["city"] == "Springfield"
    assert to_v2("customers", bodies[0])["billAddressZip"] == "01101"


def test_item_17_refused_per_item_the_others_are_created_once(sandbox, client):  # noqa: F811
    customer = seed_customer(sandbox)
    sandbox.v2_bulk_mode = "per_item"
    outcomes = BulkV2(client).create("invoices", _invoices(customer["id"], 40, bad={17}))
    assert outcomes[17].obj is None and isinstance(outcomes[17].error, bce.BillComError)
    assert outcomes[17].error.scope == "record"
    assert all(o.obj is not None for i, o in enumerate(outcomes) if i != 17)
    assert set(_numbers(sandbox).values()) == {1} and len(_numbers(sandbox)) == 39  # no duplicate
    assert len(_posts(sandbox, BULK_INVOICES)) == 1
    assert client.stats.requests.get("POST invoices", 0) == 0  # each item's own result was enough


def test_item_17_refused_all_or_nothing_only_it_is_left_out(sandbox, client):  # noqa: F811
    customer = seed_customer(sandbox)
    sandbox.v2_bulk_mode = "all_or_nothing"
    outcomes = BulkV2(client).create("invoices", _invoices(customer["id"], 40, bad={17}))
    # the answer named no item: each was looked up (none made), then created on its own through v3
    assert outcomes[17].obj is None and isinstance(outcomes[17].error, bce.BillComValidationError)
    assert all(o.obj is not None for i, o in enumerate(outcomes) if i != 17)
    assert set(_numbers(sandbox).values()) == {1} and len(_numbers(sandbox)) == 39
    assert client.stats.requests["POST invoices"] == 40  # the 39 made and the refused one


def test_a_lost_answer_is_found_again_not_sent_again(sandbox, client):  # noqa: F811
    customer = seed_customer(sandbox)
    bodies = _invoices(customer["id"], 25)
    bulk = BulkV2(client)
    bulk._login()
    sandbox.inject("lost_response", method="POST", path=BULK_INVOICES)
    outcomes = bulk.create("invoices", bodies)
    assert [o.obj["invoiceNumber"] for o in outcomes] == [b["invoiceNumber"] for b in bodies]
    assert set(_numbers(sandbox).values()) == {1} and len(_numbers(sandbox)) == 25
    assert len(_posts(sandbox, BULK_INVOICES)) == 1
    assert client.stats.requests.get("POST invoices", 0) == 0  # nothing created twice


def test_an_expired_v2_session_signs_in_again_once(sandbox, client):  # noqa: F811
    customer = seed_customer(sandbox)
    bulk = BulkV2(client)
    bulk._login()
    sandbox.v2_sessions.clear()
    outcomes = bulk.create("invoices", _invoices(customer["id"], 2))
    assert all(o.obj for o in outcomes)
    assert len([r for r in sandbox.request_log() if r.path == "/api/v2/Login.json"]) == 2


# ------------------------------------------------------------ bills and vendors
def _vendor_body(i, name=None):
    """A vendor as the mapping writes it for Bill.com (v3 shape)."""
    return billcom_body("vendor", {"name": name or f"V2 Vendor {i:03d}", "email": f"ap{i}@vendor.example",
                                   "company_name": f"Vendor {i} LLC", "account_number": f"ACC-{i}",
                                   "address": {"line1": f"{i} Main St", "city": "Springfield", "state": "MA",
                                               "zip": "01101", "country": "US"}}, str)


def _bill_bodies(vendor_id, n, bad=(), account=None, cls=None, location=None):
    """Bills of two lines each (the second with cents); those in ``bad`` name a vendor that does not exist."""
    bodies = []
    for i in range(n):
        classes = {k: v for k, v in (("chartOfAccountId", account), ("accountingClassId", cls)) if v}
        body = {"vendorId": "00902NOSUCHVENDORxyz" if i in bad else vendor_id, "dueDate": "2025-03-31",
                "invoice": {"invoiceNumber": f"V2-{i:03d}", "invoiceDate": "2025-03-01"},
                "billLineItems": [{"amount": Decimal(10 + i), "description": "goods",
                                   **({"classifications": classes} if classes else {})},
                                  {"amount": Decimal("0.37"), "description": "freight"}]}
        if location:
            body["classifications"] = {"locationId": location}
        bodies.append(body)
    return bodies


def _bodies(sandbox, collection, n, bad=()):
    """``n`` create bodies of ``collection``; those in ``bad`` are refused by Bill.com."""
    if collection == "bills":
        return _bill_bodies(seed_vendor(sandbox)["id"], n, bad)
    return [_vendor_body(i, name="x" * 101 if i in bad else None) for i in range(n)]  # names are at most 100


def _made(sandbox, collection):
    """How many times each test record exists in Bill.com, by its natural key."""
    if collection == "bills":
        return Counter(o["invoice"]["invoiceNumber"] for o in sandbox.all("bills")
                       if o["invoice"]["invoiceNumber"].startswith("V2-"))
    return Counter(o["name"] for o in sandbox.all("vendors") if o["name"].startswith("V2 "))


def test_a_hundred_bills_a_call_read_back_as_v3_shows_them(sandbox, client):  # noqa: F811
    vendor = seed_vendor(sandbox)
    account = sandbox.add("classifications/chart-of-accounts", {"name": "Supplies"})
    cls = sandbox.add("classifications/accounting-classes", {"name": "Landscaping"})
    location = sandbox.add("classifications/locations", {"name": "Palo Alto"})
    bodies = _bill_bodies(vendor["id"], 130, account=account["id"], cls=cls["id"], location=location["id"])
    outcomes = BulkV2(client).create("bills", bodies)
    assert [o.error for o in outcomes] == [None] * 130
    assert [o.obj["invoice"]["invoiceNumber"] for o in outcomes] == [f"V2-{i:03d}" for i in range(130)]
    assert set(_made(sandbox, "bills").values()) == {1} and len(_made(sandbox, "bills")) == 130
    bill = outcomes[5].obj                                         # as v3 shows it
    assert Decimal(str(bill["amount"])) == Decimal("15.37")         # 15 + 0.37, to the cent
    assert bill["vendorId"] == vendor["id"] and bill["dueDate"] == "2025-03-31"
    assert bill["classifications"] == {"locationId": location["id"]}
    assert bill["billLineItems"][0]["classifications"] == {"chartOfAccountId": account["id"],
                                                           "accountingClassId": cls["id"]}
    assert read_billcom("bill", bill).values["number"] == "V2-005"
    assert len(_posts(sandbox, BULK_BILLS)) == 2                   # 100 + 30
    assert client.stats.requests["GET bills"] == 2                 # read back by id, a page a call
    assert not client.stats.requests.get("POST bills/bulk") and not client.stats.requests.get("POST bills")


def test_vendors_in_bulk(sandbox, client):  # noqa: F811
    bodies = [_vendor_body(i) for i in range(3)]
    outcomes = BulkV2(client).create("vendors", bodies)
    assert [o.obj["name"] for o in outcomes] == [b["name"] for b in bodies]
    vendor = outcomes[1].obj
    assert vendor["address"] == {"line1": "1 Main St", "city": "Springfield", "stateOrProvince": "MA",
                                 "zipOrPostalCode": "01101", "country": "US"}
    assert vendor["additionalInfo"]["companyName"] == "Vendor 1 LLC" and vendor["accountNumber"] == "ACC-1"
    assert vendor["email"] == "ap1@vendor.example"
    assert to_v2("vendors", bodies[1])["addressZip"] == "01101"
    assert len(_posts(sandbox, BULK_VENDORS)) == 1
    assert not client.stats.requests.get("POST vendors/bulk") and not client.stats.requests.get("POST vendors")


@pytest.mark.parametrize("collection", ["bills", "vendors"])
@pytest.mark.parametrize("mode", ["per_item", "all_or_nothing"])
def test_bills_or_vendors_item_17_refused_the_others_made_once(sandbox, client, collection, mode):  # noqa: F811
    sandbox.v2_bulk_mode = mode
    outcomes = BulkV2(client).create(collection, _bodies(sandbox, collection, 40, bad={17}))
    assert outcomes[17].obj is None and isinstance(outcomes[17].error, bce.BillComValidationError)
    assert outcomes[17].error.scope == "record"
    assert all(o.obj is not None for i, o in enumerate(outcomes) if i != 17)
    made = _made(sandbox, collection)
    assert set(made.values()) == {1} and len(made) == 39            # no duplicate
    assert len(_posts(sandbox, BULK[collection])) == 1
    singles = client.stats.requests.get(f"POST {collection}", 0)
    # per item: each item's own result was enough; all-or-nothing: the answer named no item, so each
    # was looked up (none made) and then created on its own through v3, the refused one included
    assert singles == (0 if mode == "per_item" else 40)


@pytest.mark.parametrize("collection", ["bills", "vendors"])
def test_bills_or_vendors_lost_answer_found_again_not_sent_again(sandbox, client, collection):  # noqa: F811
    bodies = _bodies(sandbox, collection, 25)
    bulk = BulkV2(client)
    bulk._login()
    sandbox.inject("lost_response", method="POST", path=BULK[collection])
    outcomes = bulk.create(collection, bodies)
    assert all(o.obj is not None for o in outcomes)
    made = _made(sandbox, collection)
    assert set(made.values()) == {1} and len(made) == 25
    assert len(_posts(sandbox, BULK[collection])) == 1
    assert client.stats.requests[f"GET {collection}"] == 25 + 1     # each looked up by its key, then read back
    assert client.stats.requests.get(f"POST {collection}", 0) == 0  # nothing created twice


def test_only_what_v2_bulk_creates(client):  # noqa: F811
    with pytest.raises(ValueError):
        BulkV2(client).create("vendor-credits", [])


# ------------------------------------------------------------ in a sync run
def _qbo_invoices(c, n):
    q = c.sb.qbo
    cool = next(o for o in q.all("Customer") if o.get("DisplayName") == "Cool Cars")
    design = next(o for o in q.all("Item") if o.get("Name") == "Design")
    for i in range(n):
        q.add("Invoice", {"CustomerRef": {"value": cool["Id"]}, "DocNumber": f"BULK-{i:03d}",
                          "TxnDate": "2026-11-20", "DueDate": "2026-12-20",
                          "Line": [{"Amount": 20 + i, "DetailType": "SalesItemLineDetail",
                                    "SalesItemLineDetail": {"ItemRef": {"value": design["Id"]},
                                                            "Qty": 1, "UnitPrice": 20 + i}}]})


def test_a_sync_with_v2_bulk_creates_invoices_a_hundred_a_call_and_links_each():
    from sync_engine.reconcile import tie_out
    from sync_engine.tests.sync_support import demo_company
    with demo_company() as c:
        _qbo_invoices(c, 130)
        c.config.settings.billcom_v2_bulk = True
        first = c.run(tie_out=False)
        assert first.state == "done", first.message
        created = c.lines(first, object_type="invoice", action="create", direction="qbo_to_billcom")
        assert len(created) >= 130 and all(l.state == "done" and l.billcom_id for l in created)
        log = c.sb.billcom.request_log()
        assert len([r for r in log if r.path == BULK_INVOICES]) == 2
        assert not [r for r in log if r.method == "POST" and r.path == "/v3/invoices"]
        numbers = Counter(o["invoiceNumber"] for o in c.sb.billcom.all("invoices"))
        assert max(numbers.values()) == 1
        second = c.run(tie_out=False)  # every record linked: nothing to create again
        assert [l for l in second.lines if l.action in ("create", "link")] == []
        report = tie_out(c.config, c.store, c.service().remote)
        assert report.agrees, report.render()  # every invoice arrived with its QuickBooks total


def test_off_unless_the_connection_asks_for_it():
    from sync_engine.tests.sync_support import demo_company
    with demo_company() as c:
        _qbo_invoices(c, 3)
        assert c.run(tie_out=False).state == "done"
        assert not [r for r in c.sb.billcom.request_log() if r.path.startswith("/api/v2/")]


def _qbo_vendors_and_bills(c, vendors, bills):
    q = c.sb.qbo
    expense = next(a for a in q.all("Account") if a.get("AccountType") == "Expense")
    made = [q.add("Vendor", {"DisplayName": f"Bulk Vendor {i:03d}", "CompanyName": f"Bulk Vendor {i:03d} LLC",
                             "PrimaryEmailAddr": {"Address": f"ap{i}@vendor.example"},
                             "BillAddr": {"Line1": f"{i} Main St", "City": "Springfield",
                                          "CountrySubDivisionCode": "MA", "PostalCode": "01101", "Country": "US"}})
            for i in range(vendors)]
    for i in range(bills):
        q.add("Bill", {"VendorRef": {"value": made[i % vendors]["Id"]}, "DocNumber": f"BULK-{i:03d}",
                       "TxnDate": "2026-11-20", "DueDate": "2026-12-20",
                       "Line": [{"Amount": round(20.37 + i, 2), "Description": "Supplies",
                                 "DetailType": "AccountBasedExpenseLineDetail",
                                 "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense["Id"]}}}]})


def test_a_sync_with_v2_bulk_creates_vendors_through_v2_and_bills_through_v3_a_hundred_a_call():
    """Vendors go through v2 (100 a call, where v3 takes 20); bills stay on v3's
    bulk endpoint, which takes 100 too and needs no read-back."""
    from sync_engine.reconcile import tie_out
    from sync_engine.tests.sync_support import demo_company
    with demo_company() as c:
        _qbo_vendors_and_bills(c, vendors=110, bills=130)
        c.config.settings.billcom_v2_bulk = True
        first = c.run(tie_out=False)
        assert first.state == "done", first.message
        for otype, at_least in (("vendor", 110), ("bill", 130)):
            created = c.lines(first, object_type=otype, action="create", direction="qbo_to_billcom")
            assert len(created) >= at_least and all(l.state == "done" and l.billcom_id for l in created)
        log = c.sb.billcom.request_log()
        # with the demo's own: 112 vendors and 133 bills made, two calls each
        assert len([r for r in log if r.path == BULK_VENDORS]) == 2
        assert len([r for r in log if r.method == "POST" and r.path == "/v3/bills/bulk"]) == 2
        assert not [r for r in log if r.path == BULK_BILLS]
        assert not [r for r in log if r.method == "POST" and r.path in ("/v3/vendors", "/v3/vendors/bulk",
                                                                        "/v3/bills")]
        billcom = c.sb.billcom
        assert max(Counter(o["name"] for o in billcom.all("vendors")).values()) == 1
        assert max(Counter((o["vendorId"], o["invoice"]["invoiceNumber"])
                           for o in billcom.all("bills")).values()) == 1
        bill = next(o for o in billcom.all("bills") if o["invoice"]["invoiceNumber"] == "BULK-007")
        assert Decimal(str(bill["amount"])) == Decimal("27.37")
        second = c.run(tie_out=False)  # every record linked: nothing to create again
        assert [l for l in second.lines if l.action in ("create", "link")] == []
        report = tie_out(c.config, c.store, c.service().remote)
        assert report.agrees, report.render()  # every bill arrived with its QuickBooks total
