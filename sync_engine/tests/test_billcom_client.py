"""Contract tests: every BillComClient method against a live Bill.com sandbox,
with each fault the client must survive (or report clearly)."""
import threading

from decimal import Decimal

import pytest

from sync_engine.billcom import errors as bce
from sync_engine.billcom.client import BillComClient, format_filters
from sync_engine.errors import MalformedResponse, RateLimited, ReconnectNeeded, RemoteUnavailable
from sync_engine.pacing import Clock
from sync_engine.sandbox.billcom import BillComSandbox
from sync_engine.tests.billcom_support import (bill_body, client, clock, fixture, invoice_body,  # noqa: F401
                                               logins, make_client, sandbox, seed_bill, seed_customer,
                                               seed_invoice, seed_vendor, shape_differences)


def secrets_of(sandbox, client=None):
    found = [sandbox.password, sandbox.dev_key]
    if client is not None and client._session_id:
        found.append(client._session_id)
    return found


# ---------------------------------------------------------------- session
def test_logs_in_once_and_reuses_the_session(sandbox, client):
    seed_vendor(sandbox)
    client.organization()
    list(client.list("vendors"))
    client.get("vendors", sandbox.all("vendors")[0]["id"])
    assert len(logins(sandbox)) == 1
    assert client.stats.logins == 1 and client.stats.total_requests == 4


def test_wrong_password_is_a_reconnect_error_without_secrets(sandbox):
    c = BillComClient(sandbox.base_url, sandbox.dev_key, sandbox.username, "hunter2-wrong",
                      sandbox.organization_id, clock=sandbox.clock)
    with pytest.raises(ReconnectNeeded) as caught:
        c.organization()
    error = caught.value
    assert isinstance(error, bce.BillComAuthError) and error.code == "BDC_1101"
    assert error.side == "Bill.com" and "reconnect" in str(error)
    for secret in ("hunter2-wrong", sandbox.dev_key):
        assert secret not in str(error) and secret not in repr(c)
    with pytest.raises(ReconnectNeeded):
        c.organization()  # remembered: no second sign-in burns the login quota
    assert len(logins(sandbox)) == 1


@pytest.mark.parametrize("field, code", [("dev_key", "BDC_1102"), ("organization_id", "BDC_1123")])
def test_wrong_dev_key_or_org(sandbox, field, code):
    credentials = {**sandbox.credentials(), field: "00802AAAAAAAAAAAAAAA"}
    with pytest.raises(bce.BillComAuthError) as caught:
        BillComClient(**credentials, clock=sandbox.clock).organization()
    assert caught.value.code == code


def test_session_expiry_mid_run_means_exactly_one_relogin(sandbox, client):
    for i in range(5):
        seed_vendor(sandbox, f"V{i}")
    pages = client.list("vendors", page_size=2)
    first = [next(pages), next(pages)]
    sandbox.expire_sessions()
    rest = list(pages)
    assert len(first + rest) == 5
    assert len(logins(sandbox)) == 2 and client.stats.relogins == 1
    assert [r.status for r in sandbox.request_log()].count(401) == 1


def test_session_expiry_under_threads_relogs_once(sandbox, client):
    vendors = [seed_vendor(sandbox, f"V{i}") for i in range(6)]
    client.organization()
    sandbox.latency = 0.01
    sandbox.expire_sessions()
    results = client.map_concurrently(lambda v: client.get("vendors", v["id"]), vendors)
    assert [r["id"] for r in results] == [v["id"] for v in vendors]
    assert client.stats.relogins == 1 and len(logins(sandbox)) == 2


def test_session_expired_fault_means_one_relogin(sandbox, client):
    client.organization()
    sandbox.inject("session_expired", count=1, path="/v3/vendors")
    assert list(client.list("vendors")) == []
    assert client.stats.relogins == 1 and len(logins(sandbox)) == 2


def test_still_invalid_after_relogin_raises(sandbox, client):
    client.organization()
    sandbox.inject("session_expired", count=2, path="/v3/vendors")
    with pytest.raises(bce.SessionInvalid):
        list(client.list("vendors"))
    assert len(logins(sandbox)) == 2


def test_an_odd_answer_to_the_login_is_not_taken_for_bad_credentials(sandbox, client):
    sandbox.inject("session_expired", count=1, path="/v3/login")
    with pytest.raises(bce.SessionInvalid):
        client.organization()
    assert client.organization()["id"] == sandbox.organization_id


def test_idle_session_is_renewed_before_use(sandbox, client, clock):
    client.organization()
    clock.advance(36 * 60)
    client.organization()
    assert len(logins(sandbox)) == 2
    assert 401 not in [r.status for r in sandbox.request_log()]


def test_login_limit_is_never_exceeded(clock):
    with BillComSandbox(clock=clock, login_hourly_limit=3) as sb:
        c = make_client(sb, logins_per_hour=3)
        for _ in range(7):
            sb.expire_sessions()
            c.organization()
        assert sb.refused["login_quota"] == 0
        assert c.stats.logins == len(logins(sb)) == 7
        assert c.login_limiter.waited > 0  # it waited instead of asking too often
        hours = {}
        for t in c.login_limiter._history:
            hours[int(t // 3600)] = hours.get(int(t // 3600), 0) + 1
        assert max(hours.values()) <= 3


def test_logout(sandbox, client):
    client.organization()
    client.logout()
    client.organization()
    assert len(logins(sandbox)) == 2


# ----------------------------------------------------------------- limits
def test_quota_waits_once_until_the_top_of_the_hour(clock):
    with BillComSandbox(clock=clock, hourly_limit=4) as sb:
        c = make_client(sb)
        for _ in range(5):  # login + 3 calls fit; the 5th call waits for the next hour
            c.organization()
        to_top = 3600 - (1_700_000_000 % 3600)
        assert clock.sleeps == [pytest.approx(to_top + c.quota_margin)]
        assert c.stats.retries["quota"] == 1


def test_quota_twice_in_one_call_raises(sandbox, client, clock):
    client.organization()
    sandbox.inject("quota", count=2, path="/v3/organizations")
    with pytest.raises(bce.QuotaExceeded) as caught:
        client.organization()
    assert isinstance(caught.value, RateLimited) and caught.value.code == "BDC_1144"
    assert len(clock.sleeps) == 1
    assert client.stats.relogins == 0 and len(logins(sandbox)) == 2  # the hour-long wait renewed the session


def test_a_refused_login_waits_for_the_next_hour_too(sandbox, client, clock):
    sandbox.inject("quota", count=1, path="/v3/login")
    assert client.organization()["id"] == sandbox.organization_id
    assert len(clock.sleeps) == 1 and client.stats.logins == 1


def test_concurrency_refusals_back_off_exponentially(sandbox, client, clock):
    client.organization()
    sandbox.inject("concurrency", count=3)
    assert client.organization()["id"] == sandbox.organization_id
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_generic_429_is_a_throttle(sandbox, client, clock):
    client.organization()
    sandbox.inject("429", count=1)
    client.organization()
    assert clock.sleeps == [0.5] and client.stats.retries["concurrency"] == 1


def test_eight_threads_never_put_more_than_three_in_flight(sandbox):
    for i in range(24):
        seed_vendor(sandbox, f"V{i}")
    c = make_client(sandbox)
    c.organization()
    sandbox.latency = 0.02
    barrier = threading.Barrier(8)
    vendors = sandbox.all("vendors")
    results = []

    def worker(chunk):
        barrier.wait()
        results.extend(c.get("vendors", v["id"])["id"] for v in chunk)

    threads = [threading.Thread(target=worker, args=(vendors[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(v["id"] for v in vendors)
    assert sandbox.peak_in_flight <= 3 and c.stats.peak_in_flight <= 3
    assert sandbox.refused["concurrency"] == 0


def test_two_workers_sharing_a_key_survive_real_concurrency_refusals():
    # two processes' clients (3 in flight each) against one organization: the
    # sandbox refuses the extra requests with BDC_1322 and both back off
    clock = Clock()
    with BillComSandbox(clock=clock) as sb:
        for i in range(16):
            seed_vendor(sb, f"V{i}")
        workers = [make_client(sb, clock=clock, backoff_base=0.01, backoff_cap=0.2) for _ in range(2)]
        for w in workers:
            w.organization()
        sb.latency = 0.03
        vendors = sb.all("vendors")
        barrier = threading.Barrier(8)
        results, failures = [], []

        def run(worker, chunk):
            barrier.wait()
            for v in chunk:
                try:
                    results.append(worker.get("vendors", v["id"])["id"])
                except Exception as exc:  # collected and asserted below
                    failures.append(exc)

        threads = [threading.Thread(target=run, args=(workers[i % 2], vendors[i::8])) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == [] and sorted(results) == sorted(v["id"] for v in vendors)
        assert sb.peak_in_flight <= 3
        assert sum(w.stats.retries["concurrency"] for w in workers) == sb.refused["concurrency"]


# ------------------------------------------------------------ 5xx & network
@pytest.mark.parametrize("kind", ["500", "502", "503", "server", "html"])
def test_server_error_burst_then_success(sandbox, client, clock, kind):
    client.organization()
    sandbox.inject(kind, count=3)
    assert client.organization()["id"] == sandbox.organization_id
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert client.stats.retries["server"] == 3


def test_server_errors_beyond_the_retries_raise(sandbox, client, clock):
    client.organization()
    sandbox.inject("server", count=10)
    with pytest.raises(bce.BillComServerError) as caught:
        client.organization()
    assert isinstance(caught.value, RemoteUnavailable) and caught.value.code == "BDC_1001"
    assert len(clock.sleeps) == client.max_retries == 5
    assert max(clock.sleeps) <= client.backoff_cap


def test_dropped_connections_are_retried_then_reported(sandbox, client, clock):
    client.organization()
    sandbox.inject("drop", count=2)
    assert client.organization()["id"] == sandbox.organization_id
    sandbox.inject("drop", count=10)
    with pytest.raises(bce.BillComUnavailable) as caught:
        client.organization()
    assert "dropped the connection" in str(caught.value) and "after 5 retries" in str(caught.value)
    assert client.stats.retries["connection"] == 7


def test_timeouts_are_retried_then_reported(sandbox, clock):
    c = make_client(sandbox, timeout=0.2, max_retries=1)
    c.organization()
    sandbox.inject("timeout", count=1)
    assert c.organization()["id"] == sandbox.organization_id
    sandbox.inject("timeout", count=2)
    with pytest.raises(bce.BillComUnavailable) as caught:
        c.organization()
    assert "did not answer within 0.2s" in str(caught.value)
    assert c.stats.retries["timeout"] == 2


def test_malformed_json_is_retried_then_reported(sandbox, client, clock):
    client.organization()
    sandbox.inject("malformed_json", count=1)
    assert client.organization()["id"] == sandbox.organization_id
    sandbox.inject("malformed_json", count=10)
    with pytest.raises(MalformedResponse):
        client.organization()
    assert client.stats.retries["malformed"] == 1 + 5


# ------------------------------------------------- writes whose answer is lost
def test_create_whose_answer_was_lost_is_found_not_repeated(sandbox, client):
    vendor = seed_vendor(sandbox)
    sandbox.inject("lost_response", path="/v3/bills$")
    bill = client.create("bills", bill_body(vendor["id"], number="NW-7"))
    assert bill["invoice"]["invoiceNumber"] == "NW-7"
    assert sandbox.count("bills") == 1 and client.stats.retries["lookup"] == 1


def test_create_dropped_before_arrival_is_sent_again_once(sandbox, client):
    sandbox.inject("drop", path="/v3/vendors$", method="POST")
    vendor = client.create("vendors", {"name": "Once Only"})
    assert vendor["name"] == "Once Only" and sandbox.count("vendors") == 1


def test_recorded_payment_whose_answer_was_lost_is_found(sandbox, client):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    body = {"vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
            "payments": [{"billId": bill["id"], "amount": 40}], "description": "QuickBooks BillPayment 17"}
    sandbox.inject("lost_response", path="record-payment")
    payment = client.record_ap_payment(body)
    assert payment["description"] == "QuickBooks BillPayment 17"
    assert sandbox.count("payments") == 1 and sandbox.get("bills", bill["id"])["dueAmount"] == 60


def test_payment_that_cannot_be_told_apart_is_not_sent_twice(sandbox, client):
    vendor = seed_vendor(sandbox)
    bill = seed_bill(sandbox, vendor["id"], amounts=(100,))
    sandbox.inject("lost_response", path="record-payment")
    with pytest.raises(bce.BillComUnavailable) as caught:
        client.record_ap_payment({"vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
                                  "payments": [{"billId": bill["id"], "amount": 40}]})
    assert caught.value.outcome_unknown is True
    assert sandbox.count("payments") == 1


# ------------------------------------------------------------------ reads
def test_list_pages_with_cursors_lazily(sandbox, client):
    for i in range(250):
        seed_vendor(sandbox, f"V{i:03d}")
    pages = client.list("vendors", page_size=100)
    next(pages)
    assert client.stats.requests["GET vendors"] == 1  # a generator: one page at a time
    names = ["V000"] + [v["name"] for v in pages]
    assert names == [f"V{i:03d}" for i in range(250)]
    assert client.stats.requests["GET vendors"] == 3
    assert [r.query for r in sandbox.request_log() if r.path == "/v3/vendors"][1].count("page=") == 1


def test_list_filters_and_sort(sandbox, client, clock):
    created = []
    for name in ("Acme", "Acme: West", "Beta, Inc", "Gamma"):
        created.append(seed_vendor(sandbox, name))
        clock.advance(60)
    sandbox.user_update("vendors", created[3]["id"], {"archived": True})
    since = created[1]["updatedTime"]
    assert [v["name"] for v in client.list("vendors", filters=[("updatedTime", "gt", since)])] == \
        ["Beta, Inc", "Gamma"]
    assert [v["name"] for v in client.list("vendors", filters=[("name", "eq", "Acme: West")])] == ["Acme: West"]
    assert [v["name"] for v in client.list("vendors", filters=[("archived", "eq", False)],
                                           sort=("name", "desc"))] == ["Beta, Inc", "Acme: West", "Acme"]
    ids = [created[0]["id"], created[2]["id"]]
    assert [v["id"] for v in client.list("vendors", filters=[("id", "in", ids)])] == ids
    with pytest.raises(bce.BillComValidationError) as caught:
        list(client.list("vendors", filters=[("email", "eq", "x")]))
    assert caught.value.code == "BDC_1130"


def test_filter_formatting():
    assert format_filters([("updatedTime", "gt", "2025-09-01T00:00:00.000Z")]) == \
        'updatedTime:gt:"2025-09-01T00:00:00.000Z"'
    assert format_filters([("archived", "eq", False), ("vendorId", "in", ["a", "b"])]) == \
        'archived:eq:false,vendorId:in:"a,b"'
    import datetime
    stamp = datetime.datetime(2025, 9, 1, 2, 3, 4, 567000, tzinfo=datetime.timezone.utc)
    assert format_filters([("createdTime", "gte", stamp)]) == 'createdTime:gte:"2025-09-01T02:03:04.567Z"'
    with pytest.raises(ValueError):
        format_filters([("name", "like", "x")])


def test_get_and_not_found(sandbox, client):
    vendor = seed_vendor(sandbox)
    assert client.get("vendors", vendor["id"]) == sandbox.get("vendors", vendor["id"])
    with pytest.raises(bce.NotFound) as caught:
        client.get("bills", "00n02AAAAAAAAAAAAAAA")
    assert caught.value.status == 404 and caught.value.code == "BDC_1120"


def test_payment_terms_and_classifications_paths(sandbox, client):
    term = client.create("payment-terms", {"name": "Net 30", "daysDue": 30})
    assert [t["id"] for t in client.list("payment-terms")] == [term["id"]]
    assert client.find_by_name("payment-terms", "Net 30")["id"] == term["id"]
    for collection in ("classifications/chart-of-accounts", "classifications/accounting-classes",
                       "classifications/departments", "classifications/locations", "classifications/items"):
        obj = client.create(collection, {"name": "Thing"})
        assert client.get(collection, obj["id"])["name"] == "Thing"
    assert any(f"/v3/organizations/{sandbox.organization_id}/payment-terms" == r.path
               for r in sandbox.request_log())


def test_find_helpers(sandbox, client):
    vendor, other = seed_vendor(sandbox), seed_vendor(sandbox, "Other")
    customer = seed_customer(sandbox)
    seed_bill(sandbox, other["id"], number="X-1")
    bill = seed_bill(sandbox, vendor["id"], number="X-1")
    invoice = seed_invoice(sandbox, customer["id"], number="INV-9")
    assert client.find_bill(vendor["id"], "X-1")["id"] == bill["id"]
    assert client.find_bill(vendor["id"], "X-2") is None
    assert client.find_invoice(customer["id"], "INV-9")["id"] == invoice["id"]
    assert client.find_by_name("vendors", "Other")["id"] == other["id"]
    assert client.find_by_name("vendors", "Othe") is None
    sandbox.user_update("vendors", other["id"], {"archived": True})
    again = seed_vendor(sandbox, "Other")
    assert client.find_by_name("vendors", "Other")["id"] == again["id"]  # active first


# ----------------------------------------------------------------- writes
def test_create_update_archive_restore(sandbox, client):
    vendor = client.create("vendors", {"name": "Northwind", "email": "ap@northwind.example"})
    changed = client.update("vendors", vendor["id"], {"phone": "4155550100"})
    assert changed["phone"] == "4155550100" and changed["email"] == "ap@northwind.example"
    assert client.archive("vendors", vendor["id"])["archived"] is True
    assert client.restore("vendors", vendor["id"])["archived"] is False
    customer = client.create("customers", {"name": "Band", "email": "b@example.com"})
    invoice = client.create("invoices", invoice_body(customer["id"]))
    replaced = client.update("invoices", invoice["id"], invoice_body(customer["id"], lines=((3, 10),)))
    assert replaced["totalAmount"] == 30
    methods = {(r.method, r.path.split("/")[2]) for r in sandbox.request_log() if r.method in ("PUT", "PATCH")}
    assert methods == {("PATCH", "vendors"), ("PUT", "invoices")}


def test_validation_error_names_the_field(sandbox, client):
    customer = seed_customer(sandbox)
    body = invoice_body(customer["id"])
    body["customerId"] = body.pop("customer")["id"]
    with pytest.raises(bce.BillComValidationError) as caught:
        client.create("invoices", body)
    error = caught.value
    assert (error.code, error.field, error.status) == ("BDC_1108", "customer", 400)
    assert str(error) == "Bill.com error BDC_1108: customer: The customer field is required [field: customer]"
    for secret in secrets_of(sandbox, client):
        assert secret not in str(error)


def test_bulk_create_chunks_and_keeps_order(sandbox, client):
    items = [{"name": f"V{i:02d}"} for i in range(45)]
    created = client.bulk_create("vendors", items)
    assert [v["name"] for v in created] == [i["name"] for i in items]
    assert client.stats.requests["POST vendors/bulk"] == 3
    limited = make_client(sandbox, bulk_limits={"vendors": 10})
    limited.bulk_create("vendors", [{"name": f"W{i}"} for i in range(25)])
    assert limited.stats.requests["POST vendors/bulk"] == 3 and limited.bulk_limit("vendors") == 10


def test_bulk_failure_names_the_item_and_creates_nothing_in_its_chunk(sandbox, client):
    items = [{"name": f"V{i:02d}"} for i in range(30)]
    items[27] = {"email": "nameless@example.com"}
    with pytest.raises(bce.BillComValidationError) as caught:
        client.bulk_create("vendors", items)
    error = caught.value
    assert error.index == 27 and error.field == "name" and "[27].name" in str(error)
    assert [v["name"] for v in error.created] == [f"V{i:02d}" for i in range(20)]
    assert sandbox.count("vendors") == 20


def test_bulk_create_whose_answer_was_lost_is_found_not_repeated(sandbox, client):
    sandbox.inject("lost_response", path="/v3/vendors/bulk")
    created = client.bulk_create("vendors", [{"name": f"L{i}"} for i in range(5)])
    assert [v["name"] for v in created] == [f"L{i}" for i in range(5)]
    assert sandbox.count("vendors") == 5 and client.stats.requests["POST vendors/bulk"] == 1


def test_bulk_without_endpoint_goes_three_at_a_time(sandbox, client):
    created = client.bulk_create("customers", [{"name": f"C{i}", "email": f"c{i}@x.example"} for i in range(7)])
    assert [c["name"] for c in created] == [f"C{i}" for i in range(7)]
    assert client.stats.requests["POST customers"] == 7 and client.stats.peak_in_flight <= 3


def test_bulk_update(sandbox, client):
    departments = client.bulk_create("classifications/departments", [{"name": "A"}, {"name": "B"}])
    updated = client.bulk_update("classifications/departments",
                                 [{"id": d["id"], "name": d["name"] + "2"} for d in departments])
    assert [d["name"] for d in updated] == ["A2", "B2"]
    assert client.stats.requests["PATCH classifications/departments/bulk"] == 1
    vendors = client.bulk_create("vendors", [{"name": "X"}, {"name": "Y"}])
    changed = client.bulk_update("vendors", [{"id": v["id"], "email": "v@x.example"} for v in vendors])
    assert [v["email"] for v in changed] == ["v@x.example"] * 2
    assert client.stats.requests["PATCH vendors/{id}"] == 2


def test_record_ap_payment_effects(sandbox, client):
    vendor = seed_vendor(sandbox)
    bill = client.create("bills", bill_body(vendor["id"], amounts=(1000, 250)))
    body = {"vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
            "payments": [{"billId": bill["id"], "amount": 250}]}
    payment = client.record_ap_payment(body)
    assert payment["id"].startswith("stp") and payment["billPayments"][0]["billId"] == bill["id"]
    partial = client.get("bills", bill["id"])
    assert (partial["paymentStatus"], partial["dueAmount"], partial["paidAmount"]) == ("PARTIALLY_PAID", 1000, 250)
    with pytest.raises(bce.BillComValidationError) as caught:
        client.record_ap_payment({**body, "payments": [{"billId": bill["id"], "amount": 1000.5}]})
    assert caught.value.field == "payments[0].amount"
    client.record_ap_payment({**body, "payments": [{"billId": bill["id"], "amount": 1000}]})
    paid = client.get("bills", bill["id"])
    assert (paid["paymentStatus"], paid["dueAmount"]) == ("PAID", 0)
    assert [p["amount"] for p in client.list("payments", filters=[("vendorId", "eq", vendor["id"])])] == [250, 1000]


def test_record_ar_payment_effects(sandbox, client):
    customer = seed_customer(sandbox)
    invoice = client.create("invoices", invoice_body(customer["id"], lines=((1, 500),)))
    payment = client.record_ar_payment({
        "customerId": customer["id"], "paymentDate": "2025-04-12", "paymentType": "CHECK", "amount": 200,
        "invoices": [{"id": invoice["id"], "amount": 200}]})
    assert payment["id"].startswith("0rp") and payment["unappliedAmount"] == 0
    after = client.get("invoices", invoice["id"])
    assert (after["status"], after["dueAmount"]) == ("PARTIAL_PAYMENT", 300)
    listed = list(client.list("receivable-payments", filters=[("customerId", "eq", customer["id"])]))
    assert [p["id"] for p in listed] == [payment["id"]]


def test_map_concurrently_keeps_order_and_returns_failures(client):
    def work(n):
        if n == 3:
            raise ValueError("three")
        return n * 2
    results = client.map_concurrently(work, range(6))
    assert results[:3] == [0, 2, 4] and isinstance(results[3], ValueError) and results[4:] == [8, 10]
    with pytest.raises(ValueError):
        client.map_concurrently(work, range(6), return_exceptions=False)


# ------------------------------------------------------------------ shapes
def test_sandbox_objects_have_the_reference_shapes(sandbox, client):
    coa = client.create("classifications/chart-of-accounts",
                        {"name": "Office Supplies", "accountNumber": "6100", "accountType": "EXPENSE"})
    cls = client.create("classifications/accounting-classes", {"name": "Touring"})
    dep = client.create("classifications/departments", {"name": "Marketing"})
    loc = client.create("classifications/locations", {"name": "San Jose"})
    item = client.create("classifications/items", {"name": "Rehearsal hour", "type": "SERVICE", "price": 50})
    term = client.create("payment-terms", {"name": "Net 60", "daysDue": 60})
    entries = fixture("list_entries.json")
    for name, obj in (("chart-of-accounts", coa), ("accounting-classes", cls), ("departments", dep),
                      ("locations", loc), ("items", item), ("payment-terms", term)):
        assert shape_differences(entries[name], obj) == [], name

    vendor_fixture = fixture("vendor.json")
    vendor = client.create("vendors", {k: v for k, v in vendor_fixture.items()
                                       if k not in ("id", "createdTime", "updatedTime")})
    assert shape_differences(vendor_fixture, client.get("vendors", vendor["id"])) == []
    customer_fixture = fixture("customer.json")
    customer = client.create("customers", {k: v for k, v in customer_fixture.items() if k != "id"})
    assert shape_differences(customer_fixture, client.get("customers", customer["id"])) == []

    coding = {"chartOfAccountId": coa["id"], "accountingClassId": cls["id"], "departmentId": dep["id"],
              "locationId": loc["id"]}
    bill = client.create("bills", {
        "vendorId": vendor["id"], "invoice": {"invoiceNumber": "NW-2025-0042", "invoiceDate": "2025-03-01"},
        "dueDate": "2025-03-31", "description": "March paper stock", "purchaseOrderNumber": "PO-118",
        "payFromChartOfAccountId": coa["id"], "paymentTermId": term["id"],
        "billLineItems": [
            {"description": "A4 paper, 40 cases", "quantity": 40, "price": 25.00, "classifications": coding},
            {"description": "Delivery", "amount": 250.00,
             "classifications": {"chartOfAccountId": coa["id"], "itemId": item["id"]}}]})
    got = client.get("bills", bill["id"])
    assert shape_differences(fixture("bill.json"), got) == []
    assert got["amount"] == fixture("bill.json")["amount"] == 1250

    invoice = client.create("invoices", {
        "customer": {"id": customer["id"]}, "invoiceNumber": "INV-1007", "invoiceDate": "2025-04-01",
        "dueDate": "2025-05-01", "payToChartOfAccountId": coa["id"],
        "classifications": {"accountingClassId": cls["id"], "locationId": loc["id"]},
        "invoiceLineItems": [{"itemId": item["id"], "description": "Rehearsal space, 10 h", "quantity": 10,
                              "price": 50.00, "classifications": {"accountingClassId": cls["id"]}}]})
    assert shape_differences(fixture("invoice.json"), client.get("invoices", invoice["id"])) == []

    credit = client.create("vendor-credits", {
        "vendorId": vendor["id"], "referenceNumber": "NW-CR-0009", "creditDate": "2025-03-10",
        "description": "Damaged cases", "applyToChartOfAccountId": coa["id"],
        "vendorCreditLineItems": [{"description": "2 damaged cases", "amount": 50.00,
                                   "classifications": {"chartOfAccountId": coa["id"]}}]})
    assert shape_differences(fixture("vendor_credit.json"), client.get("vendor-credits", credit["id"])) == []
    memo = client.create("credit-memos", {
        "customerId": customer["id"], "referenceNumber": "CM-2025-004", "creditDate": "2025-04-15",
        "creditMemoLineItems": [{"description": "Returned strings", "quantity": 2, "price": 39.99},
                                {"description": "10% goodwill discount", "ratePercent": -10}]})
    got = client.get("credit-memos", memo["id"])
    assert shape_differences(fixture("credit_memo.json"), got) == []
    assert got["totalAmount"] == Decimal(str(fixture("credit_memo.json")["totalAmount"]))

    ap = client.record_ap_payment({"vendorId": vendor["id"], "processDate": "2025-03-20", "toPrintCheck": False,
                                   "payments": [{"billId": bill["id"], "amount": 1250.00}]})
    assert shape_differences(fixture("ap_payment.json"), client.get("payments", ap["id"])) == []
    ar = client.record_ar_payment({"customerId": customer["id"], "paymentType": "CHECK", "paymentDate": "2025-04-12",
                                   "amount": 200.00, "description": "Check #735",
                                   "invoices": [{"id": invoice["id"], "amount": 200.00}]})
    assert shape_differences(fixture("receivable_payment.json"),
                             client.get("receivable-payments", ar["id"])) == []
    assert client.get("invoices", invoice["id"])["status"] == "PARTIAL_PAYMENT"


@pytest.mark.parametrize("name, status, klass", [
    ("error_session_invalid.json", 401, bce.SessionInvalid),
    ("error_quota.json", 429, bce.QuotaExceeded),
    ("error_concurrency.json", 400, bce.TooManyConcurrent),
    ("error_customer_required.json", 400, bce.BillComValidationError),
])
def test_reference_error_arrays_parse_into_typed_errors(name, status, klass):
    body = fixture(name)
    error = bce.BillComError.from_response(status, body)
    assert type(error) is klass
    assert (error.code, error.message) == (body[0]["code"], body[0]["message"])
    assert error.side == "Bill.com"


def test_sandbox_error_arrays_match_the_reference(sandbox, client):
    client.organization()
    sandbox.inject("session_expired", count=2, path="/v3/organizations")
    with pytest.raises(bce.SessionInvalid) as caught:
        client.organization()
    assert shape_differences(fixture("error_session_invalid.json"), caught.value.errors) == []
    assert caught.value.message == fixture("error_session_invalid.json")[0]["message"]


def test_list_envelope_matches_the_reference(sandbox, client):
    for i in range(3):
        seed_vendor(sandbox, f"V{i}")
    client.organization()
    path = "/v3/vendors"
    first = client._request("GET", path, params={"max": 1})
    second = client._request("GET", path, params={"max": 1, "page": first["nextPage"]})
    assert shape_differences(fixture("list_envelope.json"), second) == []
    assert "prevPage" not in first


def test_stats_for_benchmarks(sandbox, client):
    client.organization()
    stats = client.stats.as_dict()
    assert stats["requests"] == {"POST login": 1, "GET organization": 1}
    assert stats["logins"] == 1 and stats["peak_in_flight"] == 1
