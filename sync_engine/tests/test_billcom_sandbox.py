"""The Bill.com sandbox speaks the v3 wire formats: auth, limits, errors,
lists, writes and money, checked over plain HTTP."""
import threading
import time

import pytest

from sync_engine.sandbox.billcom import BillComSandbox, format_ms, parse_time_ms

from sync_engine.tests.billcom_support import (ID_RE, Raw, bill_body, clock, fixture, invoice_body, raw,  # noqa: F401
                              sandbox, seed_bill, seed_customer, seed_invoice, seed_vendor,
                              shape_differences)


def error_of(response):
    body = response.json()
    assert isinstance(body, list) and len(body) == 1
    assert set(body[0]) == {"timestamp", "code", "severity", "category", "message"}
    return body[0]


# ------------------------------------------------------------------ auth
def test_login_answer_has_the_reference_shape(sandbox, raw):
    response = raw.login()
    assert response.status_code == 200
    body = response.json()
    assert shape_differences(fixture("login_response.json"), body) == []
    assert body["organizationId"] == sandbox.organization_id and body["trusted"] is False
    assert sandbox.organization_id.startswith("008") and ID_RE.match(sandbox.organization_id)


@pytest.mark.parametrize("override, code", [
    ({"password": "wrong"}, "BDC_1101"),
    ({"username": "nobody@example.com"}, "BDC_1101"),
    ({"devKey": "not-the-key"}, "BDC_1102"),
    ({"organizationId": "00802AAAAAAAAAAAAAAA"}, "BDC_1123"),
])
def test_login_errors(raw, override, code):
    response = raw.login(**override)
    assert response.status_code in (400, 401)
    error = error_of(response)
    assert error["code"] == code and error["severity"] == "ERROR"
    assert "wrong" not in error["message"]


def test_login_missing_field_names_it(raw):
    response = raw.login(password="")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "BDC_1108" and error["message"].startswith("password:")


def test_calls_need_a_session_and_the_dev_key(sandbox, raw):
    raw.login()
    assert raw.get("/v3/vendors").status_code == 200
    no_session = raw.call("GET", "/v3/vendors", headers={"sessionId": "made-up"})
    assert no_session.status_code == 401
    expected = fixture("error_session_invalid.json")[0]
    assert {**error_of(no_session), "timestamp": None} == {**expected, "timestamp": None}
    wrong_key = raw.call("GET", "/v3/vendors", headers={"devKey": "other"})
    assert wrong_key.status_code == 401 and error_of(wrong_key)["code"] == "BDC_1102"


def test_session_expires_after_35_idle_minutes_sliding(sandbox, raw, clock):
    raw.login()
    for _ in range(3):  # each call resets the idle timer
        clock.advance(2000)
        assert raw.get("/v3/vendors").status_code == 200
    clock.advance(2101)
    response = raw.get("/v3/vendors")
    assert response.status_code == 401 and error_of(response)["code"] == "BDC_1109"


def test_logout_and_session_info(sandbox, raw):
    raw.login()
    info = raw.get("/v3/login/session").json()
    assert info["organization"]["id"] == sandbox.organization_id
    assert raw.post("/v3/logout", {}).status_code == 200
    assert raw.get("/v3/vendors").status_code == 401


def test_expire_sessions_from_python(sandbox, raw):
    raw.login()
    sandbox.expire_sessions()
    assert error_of(raw.get("/v3/vendors"))["code"] == "BDC_1109"


# ---------------------------------------------------------------- limits
def test_login_limit_per_hour_resets_at_the_top_of_the_hour(clock):
    with BillComSandbox(clock=clock, login_hourly_limit=2) as sb:
        r = Raw(sb)
        assert [r.login().status_code for _ in range(2)] == [200, 200]
        refused = r.login()
        assert refused.status_code == 429 and error_of(refused)["code"] == "BDC_1144"
        clock.advance(3600 - clock.now() % 3600)
        assert r.login().status_code == 200
        assert sb.refused["login_quota"] == 1


def test_hourly_request_quota(clock):
    with BillComSandbox(clock=clock, hourly_limit=3) as sb:
        r = Raw(sb)
        r.login()  # request 1
        assert r.get("/v3/vendors").status_code == 200
        assert r.get("/v3/vendors").status_code == 200
        refused = r.get("/v3/vendors")
        assert refused.status_code == 429
        assert error_of(refused)["message"] == "Max number of allowed requests per hour reached: 3."
        clock.advance(3600 - clock.now() % 3600)
        assert r.login().status_code == 200  # the session idled out meanwhile
        assert r.get("/v3/vendors").status_code == 200


def test_concurrency_limit_refuses_the_extra_request_without_doing_it(clock):
    with BillComSandbox(clock=clock, max_concurrent=1, throttle_status=400) as sb:
        vendor = seed_vendor(sb)
        slow, fast = Raw(sb), Raw(sb)
        slow.login()
        fast.login()
        sb.latency = 0.4  # slept inside the in-flight region
        results = {}
        thread = threading.Thread(target=lambda: results.setdefault("slow", slow.get("/v3/vendors")))
        thread.start()
        deadline = time.time() + 5
        while not any(sb._in_flight.values()) and time.time() < deadline:
            time.sleep(0.005)
        refused = fast.post("/v3/bills", bill_body(vendor["id"]))
        thread.join()
        assert refused.status_code == 400
        assert error_of(refused)["code"] == "BDC_1322"
        assert results["slow"].status_code == 200
        assert sb.count("bills") == 0  # the refused create did nothing
        assert sb.peak_in_flight == 1 and sb.refused["concurrency"] == 1


def test_real_concurrency_is_counted_up_to_the_limit(sandbox):
    sandbox.latency = 0.05
    clients = [Raw(sandbox) for _ in range(6)]
    for c in clients:
        c.login()
    statuses = []
    threads = [threading.Thread(target=lambda c=c: statuses.append(c.get("/v3/vendors").status_code))
               for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sandbox.peak_in_flight <= 3
    assert statuses.count(200) + sandbox.refused["concurrency"] == 6
    assert set(statuses) <= {200, 429}


@pytest.mark.parametrize("kind, status, code", [
    ("session_expired", 401, "BDC_1109"), ("quota", 429, "BDC_1144"), ("concurrency", 429, "BDC_1322"),
    ("429", 429, "BDC_1322"), ("server", 500, "BDC_1001"),
])
def test_fault_kinds_answer_in_the_v3_error_shape(sandbox, raw, kind, status, code):
    raw.login()
    sandbox.inject(kind, path="/v3/vendors")
    response = raw.get("/v3/vendors")
    assert response.status_code == status and error_of(response)["code"] == code
    assert raw.get("/v3/vendors").status_code == (401 if kind == "session_expired" else 200)


def test_lost_response_fault_does_the_work_then_drops(sandbox, raw):
    vendor = seed_vendor(sandbox)
    raw.login()
    sandbox.inject("lost_response", path="/v3/bills$")
    with pytest.raises(Exception):
        raw.post("/v3/bills", bill_body(vendor["id"]))
    assert sandbox.count("bills") == 1


# ---------------------------------------------------------------- errors
def test_validation_errors_name_the_field(sandbox, raw):
    vendor = seed_vendor(sandbox)
    body = bill_body(vendor["id"])
    del body["dueDate"]
    error = error_of(raw.post("/v3/bills", body))
    assert error["code"] == "BDC_1108" and error["message"].startswith("dueDate:")
    body = bill_body(vendor["id"])
    body["billLineItems"][0]["amount"] = "a lot"
    response = raw.post("/v3/bills", body)
    assert response.status_code == 400
    assert error_of(response)["code"] == "BDC_1124"
    assert error_of(response)["message"].startswith("billLineItems[0].amount:")
    body = bill_body(vendor["id"])
    del body["invoice"]["invoiceNumber"]
    assert error_of(raw.post("/v3/bills", body))["message"].startswith("invoice.invoiceNumber:")
    body = bill_body("00902AAAAAAAAAAAAAAA")
    assert error_of(raw.post("/v3/bills", body))["message"].startswith("vendorId:")
    bad_json = raw.call("POST", "/v3/bills", data=b"{not json", headers={"Content-Type": "application/json"})
    assert error_of(bad_json)["code"] == "BDC_1122"


def test_unknown_id_and_unknown_path(sandbox, raw):
    response = raw.get("/v3/vendors/00902AAAAAAAAAAAAAAA")
    assert response.status_code == 404 and error_of(response)["code"] == "BDC_1120"
    response = raw.get("/v3/no-such-thing")
    assert response.status_code == 404 and error_of(response)["code"] == "BDC_1121"


def test_invoice_needs_a_nested_customer(sandbox, raw):
    customer = seed_customer(sandbox)
    body = invoice_body(customer["id"])
    del body["customer"]
    body["customerId"] = customer["id"]
    response = raw.post("/v3/invoices", body)
    assert response.status_code == 400
    assert error_of(response)["message"] == "customer: The customer field is required"
    assert error_of(response) | {"timestamp": None} == fixture("error_customer_required.json")[0] | {"timestamp": None}
    body["customer"] = customer["id"]
    assert "Cannot construct instance" in error_of(raw.post("/v3/invoices", body))["message"]
    created = raw.post("/v3/invoices", invoice_body(customer["id"])).json()
    assert created["customerId"] == customer["id"] and "customer" not in created


# -------------------------------------------------------------- objects
def test_ids_and_times(sandbox, clock):
    vendor = seed_vendor(sandbox)
    assert ID_RE.match(vendor["id"]) and vendor["id"].startswith("009")
    assert vendor["createdTime"] == format_ms(int(clock.now() * 1000))
    assert vendor["createdTime"].endswith(".000+00:00")
    customer = seed_customer(sandbox)
    coa = sandbox.add("chart-of-accounts", {"name": "Office", "accountType": "EXPENSE"})
    assert customer["id"][:3] == "0cu" and coa["id"][:3] == "0ca"
    # the clock did not move: later writes still get later times
    assert parse_time_ms(customer["createdTime"]) > parse_time_ms(vendor["createdTime"])


def test_user_update_bumps_updated_time(sandbox, clock):
    vendor = seed_vendor(sandbox)
    clock.advance(60)
    changed = sandbox.user_update("vendors", vendor["id"], {"email": "new@northwind.example"})
    assert changed["email"] == "new@northwind.example"
    assert changed["createdTime"] == vendor["createdTime"]
    assert parse_time_ms(changed["updatedTime"]) == parse_time_ms(vendor["updatedTime"]) + 60000
    archived = sandbox.user_update("vendors", vendor["id"], {"archived": True})
    assert archived["archived"] is True


def test_bill_amounts_and_line_coding(sandbox, raw):
    vendor = seed_vendor(sandbox)
    coa = sandbox.add("chart-of-accounts", {"name": "Paper", "accountType": "EXPENSE"})
    cls = sandbox.add("accounting-classes", {"name": "Touring"})
    body = bill_body(vendor["id"])
    body["billLineItems"] = [
        {"quantity": 40, "price": 25, "classifications": {"chartOfAccountId": coa["id"], "accountingClassId": cls["id"]}},
        {"amount": 250, "chartOfAccountId": coa["id"]},  # flat v2-style coding is ignored
    ]
    bill = raw.post("/v3/bills", body).json()
    assert bill["amount"] == 1250 and bill["dueAmount"] == 1250 and bill["paidAmount"] == 0
    assert bill["paymentStatus"] == "UNPAID" and bill["approvalStatus"] == "APPROVED"
    assert bill["recordStatus"] == "ACTIVE" and bill["vendorName"] == vendor["name"]
    assert bill["billLineItems"][0]["amount"] == 1000
    assert bill["billLineItems"][0]["classifications"] == {"chartOfAccountId": coa["id"], "accountingClassId": cls["id"]}
    assert "classifications" not in bill["billLineItems"][1]
    assert sandbox.get("vendors", vendor["id"])["balance"]["amount"] == 1250


def test_patch_put_archive_restore(sandbox, raw):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100, 50))
    patched = raw.call("PATCH", f"/v3/bills/{bill['id']}", json={"description": "March"}).json()
    assert patched["description"] == "March" and patched["amount"] == 150
    assert [line["id"] for line in patched["billLineItems"]] == [line["id"] for line in bill["billLineItems"]]
    put = raw.call("PUT", f"/v3/bills/{bill['id']}", json=bill_body(vendor["id"], amounts=(70,))).json()
    assert put["amount"] == 70 and "description" not in put
    archived = raw.post(f"/v3/bills/{bill['id']}/archive", {}).json()
    assert archived["archived"] is True and archived["recordStatus"] == "INACTIVE"
    assert sandbox.get("vendors", vendor["id"])["balance"]["amount"] == 0
    restored = raw.post(f"/v3/bills/{bill['id']}/restore", {}).json()
    assert restored["archived"] is False and restored["recordStatus"] == "ACTIVE"
    customer = seed_customer(sandbox)
    invoice = seed_invoice(sandbox, customer["id"])
    replaced = raw.call("PUT", f"/v3/invoices/{invoice['id']}",
                        json=invoice_body(customer["id"], lines=((2, 30),))).json()
    assert replaced["totalAmount"] == 60 and replaced["status"] == "OPEN"


def test_vendor_credit_and_credit_memo_amounts(sandbox, raw):
    vendor, customer = seed_vendor(sandbox), seed_customer(sandbox)
    credit = raw.post("/v3/vendor-credits", {
        "vendorId": vendor["id"], "referenceNumber": "NW-CR-1", "creditDate": "2025-03-10",
        "vendorCreditLineItems": [{"amount": 50}]}).json()
    assert credit["id"].startswith("vcr") and credit["amount"] == 50 and credit["availableAmount"] == 50
    memo = raw.post("/v3/credit-memos", {
        "customerId": customer["id"], "referenceNumber": "CM-1", "creditDate": "2025-04-15",
        "creditMemoLineItems": [{"description": "Returned strings", "quantity": 2, "price": 39.99},
                                {"description": "10% goodwill discount", "ratePercent": -10}]}).json()
    assert memo["id"].startswith("0cm") and memo["totalAmount"] == 71.98
    assert [line["amount"] for line in memo["creditMemoLineItems"]] == [79.98, -8.0]
    invoice = raw.post("/v3/invoices", invoice_body(customer["id"], lines=((1, 100),), creditAmount=30)).json()
    assert invoice["creditAmount"] == 30 and invoice["dueAmount"] == 70 and invoice["status"] == "OPEN"
    assert sandbox.get("credit-memos", memo["id"])["availableAmount"] == 41.98
    too_much = raw.post("/v3/invoices", invoice_body(customer["id"], number="INV-2", creditAmount=50))
    assert too_much.status_code == 400 and error_of(too_much)["message"].startswith("creditAmount:")


def test_payment_terms_under_the_organization(sandbox, raw):
    base = f"/v3/organizations/{sandbox.organization_id}/payment-terms"
    term = raw.post(base, {"name": "Net 60", "daysDue": 60}).json()
    assert term["id"].startswith("00p") and term["daysDue"] == 60
    assert shape_differences(fixture("list_entries.json")["payment-terms"], term) == []
    assert raw.post(base, {"name": "Sixty", "daysDue": 60}).status_code == 400
    assert [t["name"] for t in raw.get(base).json()["results"]] == ["Net 60"]
    assert raw.post(f"{base}/{term['id']}/archive", {}).status_code == 404
    assert raw.get("/v3/organizations/00802AAAAAAAAAAAAAAA/payment-terms").status_code == 403


def test_organization_exposes_the_sandbox_facts(sandbox, raw):
    sandbox.signup_date = "2017-09-14"
    sandbox.created_under_accountant_console = True
    org = raw.get(f"/v3/organizations/{sandbox.organization_id}").json()
    assert org["id"] == sandbox.organization_id and org["name"] == "Sandbox Company"
    assert org["sandboxExtension"] == {"signupDate": "2017-09-14", "startDate": sandbox.start_date,
                                       "createdUnderAccountantConsole": True}


# ------------------------------------------------------------------ money
def test_record_ap_payment_partial_full_and_overpay(sandbox, raw, clock):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(1250,))
    clock.advance(5)
    pay = {"vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
           "payments": [{"billId": bill["id"], "amount": 250}]}
    payment = raw.post("/v3/bills/record-payment", pay).json()
    assert shape_differences(fixture("ap_payment.json"), payment) == []
    assert payment["status"] == "PAID" and payment["onlinePayment"] is False
    assert payment["disbursementType"] == "OFFLINE" and payment["amount"] == 250
    after = sandbox.get("bills", bill["id"])
    assert (after["paymentStatus"], after["paidAmount"], after["dueAmount"]) == ("PARTIALLY_PAID", 250, 1000)
    assert parse_time_ms(after["updatedTime"]) > parse_time_ms(bill["updatedTime"])
    over = raw.post("/v3/bills/record-payment", {**pay, "payments": [{"billId": bill["id"], "amount": 1000.01}]})
    assert over.status_code == 400 and error_of(over)["message"].startswith("payments[0].amount:")
    raw.post("/v3/bills/record-payment", {**pay, "payments": [{"billId": bill["id"], "amount": 1000}]})
    paid = sandbox.get("bills", bill["id"])
    assert (paid["paymentStatus"], paid["dueAmount"]) == ("PAID", 0)
    assert [p["amount"] for p in raw.get("/v3/payments").json()["results"]] == [250, 1000]
    missing = raw.post("/v3/bills/record-payment", {k: v for k, v in pay.items() if k != "toPrintCheck"})
    assert error_of(missing)["message"].startswith("toPrintCheck:")


def test_record_ap_payment_applies_vendor_credits(sandbox, raw):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    credit = sandbox.add("vendor-credits", {"vendorId": vendor["id"], "referenceNumber": "CR-1",
                                            "creditDate": "2025-03-01", "vendorCreditLineItems": [{"amount": 30}]})
    payment = raw.post("/v3/bills/record-payment", {
        "vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
        "payments": [{"billId": bill["id"], "amount": 70}],
        "vendorCredits": [{"id": credit["id"], "amount": 30}]}).json()
    assert payment["amount"] == 70
    assert payment["vendorCredits"] == [{"id": credit["id"], "billId": bill["id"], "amount": 30}]
    after = sandbox.get("bills", bill["id"])
    assert (after["paidAmount"], after["creditAmount"], after["dueAmount"], after["paymentStatus"]) == \
        (100, 30, 0, "PAID")
    assert sandbox.get("vendor-credits", credit["id"])["availableAmount"] == 0


def test_record_ar_payment(sandbox, raw):
    customer = seed_customer(sandbox)
    invoice = seed_invoice(sandbox, customer["id"], lines=((10, 50), (1, 30)))
    assert invoice["totalAmount"] == 530 and invoice["status"] == "OPEN"
    body = {"customerId": customer["id"], "paymentDate": "2025-04-12", "paymentType": "CHECK",
            "amount": 250, "description": "Check #735", "invoices": [{"id": invoice["id"], "amount": 200}]}
    payment = raw.post("/v3/invoices/record-payment", body).json()
    assert shape_differences(fixture("receivable_payment.json"), payment) == []
    assert payment["unappliedAmount"] == 50
    after = sandbox.get("invoices", invoice["id"])
    assert (after["status"], after["dueAmount"]) == ("PARTIAL_PAYMENT", 330)
    bad_type = raw.post("/v3/invoices/record-payment", {**body, "paymentType": "BARTER"})
    assert error_of(bad_type)["message"].startswith("paymentType:")
    over = raw.post("/v3/invoices/record-payment", {**body, "amount": 400, "invoices": [{"id": invoice["id"], "amount": 331}]})
    assert over.status_code == 400
    raw.post("/v3/invoices/record-payment", {**body, "amount": 330, "invoices": [{"id": invoice["id"], "amount": 330}]})
    assert sandbox.get("invoices", invoice["id"])["status"] == "PAID_IN_FULL"
    assert len(raw.get("/v3/receivable-payments").json()["results"]) == 2


def test_payments_made_in_billcom(sandbox):
    vendor, customer = seed_vendor(sandbox), seed_customer(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    payment = sandbox.pay_bill(bill["id"], 40, process_date="2025-03-15")
    assert payment["id"].startswith("stp") and payment["onlinePayment"] is True
    assert sandbox.get("bills", bill["id"])["paymentStatus"] == "PARTIALLY_PAID"
    with pytest.raises(ValueError):
        sandbox.pay_bill(bill["id"], 61)
    invoice = seed_invoice(sandbox, customer["id"])
    received = sandbox.receive_payment(customer["id"], [(invoice["id"], 100)], payment_type="ACH")
    assert received["id"].startswith("0rp") and received["invoicePayments"] == [{"invoiceId": invoice["id"], "amount": 100}]
    assert sandbox.get("invoices", invoice["id"])["status"] == "PAID_IN_FULL"
    approved = sandbox.approve_bill(bill["id"], "DENIED")
    assert approved["approvalStatus"] == "DENIED"
    with pytest.raises(ValueError):
        sandbox.approve_bill(bill["id"], "MAYBE")


# ------------------------------------------------------------------ lists
def test_list_envelope_paging_and_prev_page(sandbox, raw):
    for i in range(45):
        seed_vendor(sandbox, f"Vendor {i:02d}")
    first = raw.get("/v3/vendors").json()
    assert set(first) == {"results", "nextPage"} and len(first["results"]) == 20  # default max
    assert shape_differences(fixture("list_envelope.json"), {**first, "prevPage": "x"}) == []
    second = raw.get("/v3/vendors", max=20, page=first["nextPage"]).json()
    assert set(second) == {"results", "nextPage", "prevPage"}
    third = raw.get("/v3/vendors", max=20, page=second["nextPage"]).json()
    assert len(third["results"]) == 5 and "nextPage" not in third
    back = raw.get("/v3/vendors", max=20, page=third["prevPage"]).json()
    assert back["results"] == second["results"]
    names = [v["name"] for page in (first, second, third) for v in page["results"]]
    assert names == [f"Vendor {i:02d}" for i in range(45)]
    assert raw.get("/v3/vendors", max=101).status_code == 400
    assert raw.get("/v3/vendors", max=0).status_code == 400
    assert error_of(raw.get("/v3/vendors", page="garbage"))["code"] == "BDC_1129"


def test_filters_and_sort(sandbox, raw, clock):
    vendors = []
    for name in ("Acme", "Acme Two", "Beta", "Gamma"):
        vendors.append(seed_vendor(sandbox, name))
        clock.advance(60)
    sandbox.user_update("vendors", vendors[2]["id"], {"archived": True})

    def names(**params):
        response = raw.get("/v3/vendors", **params)
        assert response.status_code == 200, response.text
        return [v["name"] for v in response.json()["results"]]

    assert names(filters="name:sw:Acme") == ["Acme", "Acme Two"]
    assert names(filters='name:eq:"Acme Two"') == ["Acme Two"]
    assert names(filters="archived:eq:false") == ["Acme", "Acme Two", "Gamma"]
    since = vendors[1]["createdTime"]
    assert names(filters=f'createdTime:gt:"{since}"') == ["Beta", "Gamma"]
    assert names(filters=f'createdTime:gte:"{since}",archived:eq:false') == ["Acme Two", "Gamma"]
    # Beta was archived last, so it is the most recently updated
    assert names(filters=f'updatedTime:gt:"{since}"', sort="updatedTime:desc") == ["Beta", "Gamma"]
    assert names(filters=f'id:in:"{vendors[0]["id"]},{vendors[3]["id"]}"') == ["Acme", "Gamma"]
    assert names(filters="createdTime:lt:2000-01-01") == []
    assert names(sort="name:desc") == ["Gamma", "Beta", "Acme Two", "Acme"]
    unquoted = raw.get("/v3/vendors", filters=f"createdTime:gt:{since}")
    assert unquoted.status_code == 400 and error_of(unquoted)["code"] == "BDC_1129"
    not_filterable = raw.get("/v3/vendors", filters="email:eq:x")
    assert error_of(not_filterable)["code"] == "BDC_1130" and "email" in error_of(not_filterable)["message"]
    bad_op = raw.get("/v3/vendors", filters="name:gt:A")
    assert error_of(bad_op)["code"] == "BDC_1131"
    assert raw.get("/v3/vendors", sort="email:asc").status_code == 400
    assert names(unknownParam="x") == ["Acme", "Acme Two", "Beta", "Gamma"]  # ignored, like Bill.com


def test_sort_ties_break_by_id_and_pages_stay_stable_under_inserts(sandbox, raw):
    vendor = seed_vendor(sandbox)
    for i in range(30):
        seed_bill(sandbox, vendor["id"], number=f"B{i}", due="2025-04-01" if i % 2 else "2025-05-01")
    page = raw.get("/v3/bills", max=10, sort="dueDate:asc").json()
    seen = [b["id"] for b in page["results"]]
    seed_bill(sandbox, vendor["id"], number="late", due="2025-01-01")  # sorts before everything seen
    while "nextPage" in page:
        page = raw.get("/v3/bills", max=10, page=page["nextPage"]).json()
        seen += [b["id"] for b in page["results"]]
    assert len(seen) == len(set(seen)) == 30
    expected = sorted(sandbox.all("bills")[:30], key=lambda b: (b["dueDate"], b["id"]))
    assert seen == [b["id"] for b in expected]


def test_classification_filters_reach_line_coding(sandbox, raw):
    vendor = seed_vendor(sandbox)
    coa = sandbox.add("chart-of-accounts", {"name": "Paper"})
    seed_bill(sandbox, vendor["id"], number="plain")
    coded = bill_body(vendor["id"], number="coded")
    coded["billLineItems"][0]["classifications"] = {"chartOfAccountId": coa["id"]}
    sandbox.add("bills", coded)
    results = raw.get("/v3/bills", filters=f"classifications.chartOfAccountId:eq:{coa['id']}").json()["results"]
    assert [b["invoice"]["invoiceNumber"] for b in results] == ["coded"]


def test_thirty_thousand_objects_page_quickly_and_completely(sandbox, raw):
    vendor = seed_vendor(sandbox)
    for i in range(30000):
        sandbox.add("bills", {"vendorId": vendor["id"], "dueDate": "2025-03-31",
                              "invoice": {"invoiceNumber": f"N{i}", "invoiceDate": "2025-03-01"},
                              "billLineItems": [{"amount": 10}]})
    ids, page = [], raw.get("/v3/bills", max=100).json()
    ids += [b["id"] for b in page["results"]]
    while "nextPage" in page:
        page = raw.get("/v3/bills", max=100, page=page["nextPage"]).json()
        ids += [b["id"] for b in page["results"]]
    assert len(ids) == len(set(ids)) == 30000
    other = seed_vendor(sandbox, "Other")
    seed_bill(sandbox, other["id"], number="N5")
    found = raw.get("/v3/bills", filters=f"vendorId:eq:{other['id']}").json()["results"]
    assert [b["invoice"]["invoiceNumber"] for b in found] == ["N5"]


# ------------------------------------------------------------------- bulk
def test_bulk_is_all_or_nothing_and_limited(sandbox, raw):
    items = [{"name": f"V{i}"} for i in range(5)]
    items[3] = {"email": "no-name@example.com"}
    refused = raw.post("/v3/vendors/bulk", items)
    assert refused.status_code == 400
    assert error_of(refused)["message"].startswith("[3].name:")
    assert sandbox.count("vendors") == 0
    assert raw.get("/v3/vendors", filters="name:eq:V0").json()["results"] == []  # indexes rolled back too
    created = raw.post("/v3/vendors/bulk", [{"name": f"V{i}"} for i in range(20)]).json()
    assert [v["name"] for v in created] == [f"V{i}" for i in range(20)]
    too_many = raw.post("/v3/vendors/bulk", [{"name": f"W{i}"} for i in range(21)])
    assert too_many.status_code == 400 and sandbox.count("vendors") == 20
    sandbox.bulk_limits["vendors"] = 25
    assert raw.post("/v3/vendors/bulk", [{"name": f"W{i}"} for i in range(21)]).status_code == 200


def test_bulk_update_classifications(sandbox, raw):
    a = sandbox.add("departments", {"name": "Sales"})
    b = sandbox.add("departments", {"name": "Ops"})
    updated = raw.call("PATCH", "/v3/classifications/departments/bulk",
                       json=[{"id": a["id"], "name": "Sales East"}, {"id": b["id"], "description": "Operations"}]).json()
    assert [d["name"] for d in updated] == ["Sales East", "Ops"] and updated[1]["description"] == "Operations"
    refused = raw.call("PATCH", "/v3/classifications/departments/bulk",
                       json=[{"id": a["id"], "name": "X"}, {"id": "0de02AAAAAAAAAAAAAAA", "name": "Y"}])
    assert refused.status_code == 404 and error_of(refused)["message"].startswith("[1]")
    assert sandbox.get("departments", a["id"])["name"] == "Sales East"


# --------------------------------------------------------------- snapshot
def _story(sb):
    vendor = seed_vendor(sb)
    bill = seed_bill(sb, vendor["id"], amounts=(100, 20))
    sb.pay_bill(bill["id"], 50)
    customer = seed_customer(sb)
    invoice = seed_invoice(sb, customer["id"])
    sb.receive_payment(customer["id"], [(invoice["id"], 60)])
    sb.add("chart-of-accounts", {"name": "Office"})


def test_snapshot_compares_two_runs(clock):
    one, two = BillComSandbox(clock=clock, seed=1), BillComSandbox(clock=clock, seed=2)
    _story(one)
    clock.advance(3600)
    _story(two)
    snap = one.snapshot()
    assert snap == two.snapshot()
    bill = next(iter(snap["bills"].values()))
    assert bill["vendorId"] == "vendors:Northwind Paper Co" and "updatedTime" not in bill
    two.user_update("bills", two.all("bills")[0]["id"], {"description": "changed"})
    assert one.snapshot() != two.snapshot()


def test_state_control_endpoint(sandbox, raw):
    seed_vendor(sandbox)
    state = raw.http.get(sandbox.base_url + "/_sandbox/state").json()
    assert state["counts"]["vendors"] == 1 and state["organizationId"] == sandbox.organization_id
    assert sandbox.password not in str(state) and sandbox.dev_key not in str(state)


def test_add_keeps_seeded_times(sandbox):
    vendor = sandbox.add("vendors", {"name": "Old", "createdTime": "2024-01-02T03:04:05.000+00:00"})
    assert vendor["createdTime"] == vendor["updatedTime"] == "2024-01-02T03:04:05.000+00:00"
    assert parse_time_ms("2024-01-02T03:04:05.678Z") == parse_time_ms("2024-01-02T03:04:05.678+00:00")
    assert parse_time_ms("2024-01-02") == parse_time_ms("2024-01-02T00:00")
